'use strict'

// The restart policy under PM2, docs/mitigate.md's setup as written: `-r leakproof/register`
// in `node_args`, the variables in the app's `env`. In cluster mode PM2 hands its workers that
// `env` as one JSON variable, unpacked only after the preloads ran: the preload reads it there.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Pm2 } = require('../support/pm2')
const { tempDir } = require('../support/temp-dir')

const APP = path.join(__dirname, 'fixtures', 'pm2-app.js')
const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const INSTANCES = 2

/** The status files of `dir` once there are `count`, parsed (at most 60 s). */
async function statuses(dir, count) {
  const until = Date.now() + 60_000
  for (;;) {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'))
    if (files.length >= count) return files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
    if (Date.now() > until) throw new Error(`${files.length} of ${count} instances wrote their status within 60 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test("PM2 in cluster and fork mode: the preload takes the app's LEAKPROOF_ variables and turns the restart policy on", async (t) => {
  const dir = tempDir(t, 'pm2')
  const pm2 = new Pm2(path.join(dir, 'home'))
  try {
    await pm2.connect()
    for (const mode of ['cluster', 'fork']) {
      const statusDir = path.join(dir, mode)
      fs.mkdirSync(statusDir)
      await pm2.start({
        name: `app-${mode}`,
        script: APP,
        exec_mode: mode,
        instances: mode === 'cluster' ? INSTANCES : 1,
        node_args: ['-r', REGISTER],
        env: { STATUS_DIR: statusDir, PORT: '0', LEAKPROOF_RESTART: '1', LEAKPROOF_RESTART_MIN_INTERVAL_MS: '60000', LEAKPROOF_INTERVAL_MS: '7000', LEAKPROOF_DIR: path.join(dir, 'evidence') },
      })
      const seen = await statuses(statusDir, mode === 'cluster' ? INSTANCES : 1)
      for (const status of seen) {
        assert.equal(status.intervalMs, 7000, `${mode}: ${JSON.stringify(status)}`)
        assert.equal(status.restart?.minIntervalMs, 60000, `${mode}: the restart policy is on, with the app's minimum interval`)
      }
      await pm2.delete(`app-${mode}`)
    }
  } finally {
    pm2.kill()
  }
})
