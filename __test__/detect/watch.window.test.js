'use strict'

// What a floor of external memory counts, and a window of floors that spans time, on the
// real watcher in a child process.

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')

/** Runs `code` in a child with `gc` exposed; resolves with the JSON lines it prints. */
function runChild(code) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '-e', code], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`))
      resolve(stdout.trim().split('\n').map((line) => JSON.parse(line)))
    })
  })
}

test('Buffers a full GC found dead are not counted in the external floor', async () => {
  // 2,000 Buffers of 16 KB (33 MB) held, then dropped and collected: `external` keeps
  // counting them until the next full GC, `arrayBuffers` only until V8's sweeper is done.
  const [held, dropped] = await runChild(`
    const { watch } = require('.')
    const w = watch({ intervalMs: 300, warmupMs: 0, snapshots: 'off', sites: false, nearHeapLimit: false, forceGc: false })
    // The next sample, with full GCs until it comes (the watcher sees full GCs from its
    // first interval on).
    const sampleAfterGc = async () => {
      const forcing = setInterval(gc, 100)
      const sample = await new Promise((resolve) => w.once('sample', resolve))
      clearInterval(forcing)
      return sample
    }
    // The watcher keeps nothing alive on its own: this timer does, until the end.
    const alive = setInterval(() => {}, 1000)
    ;(async () => {
      let buffers = Array.from({ length: 2000 }, () => Buffer.alloc(16384, 1))
      const held = await sampleAfterGc()
      // One full GC: a second would bring V8's count up to date.
      buffers = null
      const next = new Promise((resolve) => w.once('sample', resolve))
      gc()
      const dropped = await next
      const stale = process.memoryUsage().external
      console.log(JSON.stringify({ external: held.external }))
      console.log(JSON.stringify({ external: dropped.external, stale }))
      w.stop()
      clearInterval(alive)
    })()`)
  assert.ok(held.external >= 32e6, JSON.stringify(held))
  assert.ok(dropped.stale >= 32e6, `V8's external count no longer lags, so this test checks nothing: ${JSON.stringify(dropped)}`)
  assert.ok(dropped.external < 8e6, JSON.stringify(dropped))
})
