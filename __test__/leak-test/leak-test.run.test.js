'use strict'

// `leakproof run -- COMMAND`: a real Express service under the watcher, driven by a load
// generator in a process of its own, stopped with SIGTERM as a CI job stops it; the verdict
// on stderr and the exit code. The watcher's timings are shortened through LEAKPROOF_*
// variables, which a caller may set (they win over the run's own settings); the run's own
// settings are used as they are in __test__/production/run.test.js.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { APP, LOAD, freePort, leakproofRun, loadCommand, loadThenStop, logged, portOf } = require('../support/run-helpers')
const { tempDir } = require('../support/temp-dir')
const { holderOfReport, holderOfReports, unheldNativeOf, verdictLines, RUN_EXIT } = require('../../lib/leak-test/run')

/** Floors every 250 ms, judged after 2 s of warm-up over 5 s: a leak is named within ~15 s. */
const SHORT_TIMINGS = {
  LEAKPROOF_INTERVAL_MS: '250',
  LEAKPROOF_WARMUP_MS: '2000',
  LEAKPROOF_MIN_DURATION_MS: '5000',
  LEAKPROOF_FORCE_GC_AFTER_MS: '500',
  LEAKPROOF_GC_BUDGET: '0.3',
}

// The two services run at once: each waits most of its time on the watcher's timings.
describe('an Express service under an external load test', { concurrency: 2 }, () => {
  test('leaking: exit code 1, and the Map and the file that hold the leak', async (t) => {
    const dir = tempDir(t, 'run-test')
    // Stopped once the pair's report is in (about 15 s here), or after 120 s on a slow machine.
    const { code, stderr } = await leakproofRun(['--dir', dir], [process.execPath, APP], {
      env: SHORT_TIMINGS,
      drive: loadThenStop(() => logged(dir, 'report', (e) => e.kind === 'pair'), 120_000),
    })
    assert.equal(code, 1, stderr)
    assert.match(stderr, /LEAK in pid \d+: heap grew/, stderr)
    assert.match(stderr, /grown collection: cache \(Map\), a module-level variable of \S*express-app\.js: [\d,]+ → [\d,]+ \w+/, stderr)
    assert.match(stderr, /report page: .*leakproof-report\.html/, stderr)
    assert.ok(fs.existsSync(path.join(dir, 'leakproof-report.html')))
  })

  test('with its cache bounded, the load test given as --load: the run ends with it, exit code 0', async (t) => {
    const port = await freePort()
    // Judged once watched for warm-up and the shortest trend (7 s): 15 s of load leaves room.
    const load = loadCommand(port, 15_000)
    const { code, stderr } = await leakproofRun(['--dir', tempDir(t, 'run-test'), '--load', load], [process.execPath, APP], {
      env: { ...SHORT_TIMINGS, APP_CACHE: 'bounded', PORT: String(port) },
    })
    assert.equal(code, 0, stderr)
    assert.match(stderr, /no leak in .*express-app\.js \(1 process, watched for \d+ s\)/, stderr)
    assert.doesNotMatch(stderr, /LEAK/)
  })
})

test('no verdict (exit code 4) for a service that fails, one stopped too soon, and a command that does not exist', async (t) => {
  const failed = await leakproofRun(['--dir', tempDir(t, 'run-test')], [process.execPath, '-e', 'process.exitCode = 3'])
  assert.equal(failed.code, 4, failed.stderr)
  assert.match(failed.stderr, /no verdict: the service exited with code 3/)

  const early = await leakproofRun(['--dir', tempDir(t, 'run-test')], [process.execPath, '-e', 'setTimeout(() => {}, 2000)'])
  assert.equal(early.code, 4, early.stderr)
  assert.match(early.stderr, /no verdict: .*(watched for \d+ s|no process of the service was watched)/)

  const missing = await leakproofRun(['--dir', tempDir(t, 'run-test')], ['leakproof-no-such-command'])
  assert.equal(missing.code, 4, missing.stderr)
  assert.match(missing.stderr, /could not be started: .*ENOENT/)
})

test('a service that ignores SIGTERM is killed after --grace-ms, and the run still ends with its verdict', async (t) => {
  const ignoring = 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000); console.log("{\\"type\\":\\"listening\\",\\"port\\":0}")'
  const { code, stderr } = await leakproofRun(['--dir', tempDir(t, 'run-test'), '--grace-ms', '300'], [process.execPath, '-e', ignoring], {
    drive: async (wrapper, lines) => {
      await portOf(lines, Date.now() + 30_000)
      wrapper.kill('SIGTERM')
    },
  })
  assert.equal(code, 4, stderr)
  assert.match(stderr, /no verdict/)
})

test('a load test that fails (here: nothing listens where it sends) gives no verdict, and the service is stopped', async (t) => {
  const port = await freePort()
  const load = `"${process.execPath}" "${LOAD}" '${JSON.stringify({ port, connections: 1, durationMs: 5000 })}'`
  const { code, stderr } = await leakproofRun(['--dir', tempDir(t, 'run-test'), '--load', load], [process.execPath, '-e', 'setInterval(() => {}, 1000)'])
  assert.equal(code, 4, stderr)
  assert.match(stderr, /no verdict: the load test exited with code 1/)
})

test('bad arguments: exit code 2, and a directory holding an earlier run is refused', async (t) => {
  const dir = tempDir(t, 'run-test')
  fs.writeFileSync(path.join(dir, 'leakproof-events.jsonl'), '')
  const reused = await leakproofRun(['--dir', dir], [process.execPath, '-e', ''])
  assert.equal(reused.code, 2)
  assert.match(reused.stderr, /is not empty/)
  const noCommand = await leakproofRun(['--grace-ms', 'soon'], [])
  assert.equal(noCommand.code, 2)
  assert.match(noCommand.stderr, /--grace-ms needs a whole number/)
})

// The verdict's text from reports as the report page's model has them, without a service.
const LEAK = { label: 'pid 42', kinds: ['native grew 2.0 MB/s'], holder: null, suspect: null, native: null, site: null }
const verdictOf = (leak) => ({ exit: RUN_EXIT.LEAK, leaks: [{ ...LEAK, ...leak }], failure: null })
const feeds = 'feeds (Map), a module-level variable of /app.js'

test("the verdict names a pair's grown collection with what it holds and its native memory", () => {
  const report = {
    grownCollections: [{ name: 'Map', holder: feeds, before: 50, after: 150, memberClass: 'Gzip', nativeBytes: 42_700_800, nativeBytesBefore: 14_233_600, nativeKinds: [{ name: 'Node / zlib_memory', count: 150, bytes: 42_700_800 }] }],
    suspects: [{ name: 'Gzip', count: 100, retainedSize: 30_330_400, holder: feeds }],
  }
  const { holder, suspect } = holderOfReport(report)
  assert.equal(holder, `${feeds}: 50 → 150 Gzip, +28.5 MB native (zlib)`)
  assert.equal(suspect, `100 new Gzip retaining 30.3 MB, held by ${feeds}`)
  // The report page's model: the kinds as short names, no memberClass nor bytes before.
  const model = { grownCollections: [{ name: 'Map', holder: feeds, before: 50, after: 150, nativeBytes: 42_700_800, nativeKinds: 'zlib' }], suspects: [] }
  assert.equal(holderOfReport(model).holder, `${feeds}: 50 → 150 entries, 42.7 MB native (zlib)`)
  assert.deepEqual(verdictLines([], verdictOf({ holder, suspect })).slice(1, 3), [`  grown collection: ${holder}`, `  new objects: ${suspect}`])
})

test("the verdict names a census suspect as the grown collection, with its native handles, and says when no JS object holds native memory", () => {
  const census = { name: 'Gzip', holder: feeds, path: 'feeds[*]', collections: 1, before: 295, after: 333, memberHandle: 'Zlib' }
  assert.deepEqual(holderOfReport({ grownCollections: [], suspects: [census] }), { holder: `${feeds}: 295 → 333 Gzip over Zlib handles`, suspect: null })
  assert.equal(holderOfReport({ grownCollections: [], suspects: [{ ...census, memberHandle: null }] }).holder, `${feeds}: 295 → 333 Gzip`)
  // A census taken after the pair (the leak grew worse) does not displace the pair's report.
  const pair = { kind: 'pair', grownCollections: [{ name: 'Map', holder: feeds, before: 50, after: 150 }], suspects: [{ name: 'Gzip', count: 100, retainedSize: 30_330_400, holder: feeds }] }
  const diagnosis = { kind: 'no-snapshot', grownCollections: [], suspects: [census] }
  assert.deepEqual(holderOfReports([diagnosis, pair, diagnosis]), holderOfReport(pair))
  assert.deepEqual(holderOfReports([diagnosis]), holderOfReport(diagnosis))
  assert.equal(holderOfReports([{ ...pair, grownCollections: [], suspects: [] }]), null)

  const next = [
    { what: 'restart under heaptrack', command: 'heaptrack -o /tmp/heaptrack.run node app.js' },
    { what: 'then print what was never freed', command: 'heaptrack_print /tmp/heaptrack.run.*' },
  ]
  const unheld = { verdict: 'no JS object holds it', explanation: 'Native memory grew by 64.0 MiB and no JS object holds it.', next, mappings: [], growthBytes: 67_108_864 }
  const held = { ...unheld, verdict: 'held by JS objects', explanation: null, next: [] }
  // The newest report with a native verdict decides.
  const native = unheldNativeOf({ reports: [{ native: held }, { native: unheld }, { native: null }] })
  assert.deepEqual(native, { verdict: unheld.verdict, explanation: unheld.explanation, next: next[0] })
  assert.equal(unheldNativeOf({ reports: [{ native: unheld }, { native: held }] }), null)
  assert.deepEqual(verdictLines([], verdictOf({ native })).slice(1), [
    '  native memory: no JS object holds it. Native memory grew by 64.0 MiB and no JS object holds it.',
    '  run next, restart under heaptrack:',
    '    heaptrack -o /tmp/heaptrack.run node app.js',
  ])
})
