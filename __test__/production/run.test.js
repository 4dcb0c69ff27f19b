'use strict'

// `leakproof run` at its own settings (floors every second, 10 s of warm-up, trends of at
// least 20 s), as a CI job runs it, around a real Express service. The leaking one, under a
// 35 s load test given as --load: the leak is found at about 25 s, its snapshot pair's report
// comes after the load test ends, and the run waits for it: the job fails with the Map and
// the file that hold the leak. The same service with its cache bounded, under a one-minute
// load and then SIGTERM, passes.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { APP, freePort, leakproofRun, loadCommand, loadThenStop, logged } = require('../support/run-helpers')
const { tempDir } = require('../support/temp-dir')

/** The caller's environment without LEAKPROOF_* variables: the run's own settings apply. */
const ENV_WITHOUT_SETTINGS = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LEAKPROOF_')))

describe('leakproof run at its own settings, around a one-minute load test', { concurrency: 2 }, () => {
  test('leaking: exit code 1 with the holder, the pair\'s report waited for after the load test', async (t) => {
    const dir = tempDir(t, 'run-test')
    const port = await freePort()
    const { code, stderr } = await leakproofRun(['--dir', dir, '--load', loadCommand(port, 35_000)], [process.execPath, APP], {
      env: { ...ENV_WITHOUT_SETTINGS, PORT: String(port) },
      replaceEnv: true,
    })
    assert.equal(code, 1, stderr)
    assert.ok(logged(dir, 'report'), stderr)
    assert.match(stderr, /grown collection: cache \(Map\), a module-level variable of \S*express-app\.js: [\d,]+ → [\d,]+ \w+/, stderr)
  })

  test('bounded: exit code 0', async (t) => {
    const { code, stderr } = await leakproofRun(['--dir', tempDir(t, 'run-test')], [process.execPath, APP], {
      env: { ...ENV_WITHOUT_SETTINGS, APP_CACHE: 'bounded' },
      replaceEnv: true,
      drive: loadThenStop(() => false, 60_000),
    })
    assert.equal(code, 0, stderr)
    assert.match(stderr, /no leak in .*express-app\.js/, stderr)
  })
})
