'use strict'

// `leakproof run` at its own settings (floors every second, 10 s of warm-up, trends of at
// least 20 s), as a CI job runs it: a real Express service under an external load test that
// lasts a minute, then SIGTERM. The leaking service fails the job with the Map and the file
// that hold the leak; the same service with its cache bounded passes.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { APP, leakproofRun, loadThenStop, logged, tempDir } = require('../run-helpers')

/** The caller's environment without LEAKPROOF_* variables: the run's own settings apply. */
const ENV_WITHOUT_SETTINGS = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LEAKPROOF_')))

describe('leakproof run at its own settings, around a one-minute load test', { concurrency: 2 }, () => {
  test('leaking: exit code 1 with the holder, the pair\'s report in before the load ends', async () => {
    const dir = tempDir()
    const { code, stderr } = await leakproofRun(['--dir', dir], [process.execPath, APP], {
      env: ENV_WITHOUT_SETTINGS,
      replaceEnv: true,
      drive: loadThenStop(() => false, 60_000),
    })
    assert.equal(code, 1, stderr)
    assert.ok(logged(dir, 'report'), stderr)
    assert.match(stderr, /grown collection: Map, [\d,]+ → [\d,]+ entries: cache \(Map\), a module-level variable of \S*express-app\.js/, stderr)
  })

  test('bounded: exit code 0', async () => {
    const { code, stderr } = await leakproofRun(['--dir', tempDir()], [process.execPath, APP], {
      env: { ...ENV_WITHOUT_SETTINGS, APP_CACHE: 'bounded' },
      replaceEnv: true,
      drive: loadThenStop(() => false, 60_000),
    })
    assert.equal(code, 0, stderr)
    assert.match(stderr, /no leak in .*express-app\.js/, stderr)
  })
})
