'use strict'

// One label per leaking collection whatever evidence named it (lib/diagnose/holder-label.js,
// reports.js' pairLabel): a TypeScript service whose leak is a Map in a field of a class,
// reached through an object another module exports (`import { container } from
// './container'`), built as users ship it (tsc file by file, where the importer reaches it as
// tsc's `container_1`; an esbuild bundle), run with the preload at short timings. The census'
// report at the leak and the snapshot pair's after it give the same label, where the Map is
// declared: `AuditService.trail (Map)` of src/audit.service.ts; and the pair's own words are
// the user's: `container.audit.trail`, not `container_1.container.audit.trail`.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { once } = require('node:events')
const { firstHolder } = require('../../lib/diagnose/report-text')
const { SHORT_TIMINGS, loggedSoFar } = require('../support/event-log')

const ROOT = path.join(__dirname, '..', '..')
const SERVICE = path.join(__dirname, 'fixtures', 'imported-holder')
/** The longest a run waits for its pair's report. */
const RUN_MS = 120_000

let built
const runs = {}
before(() => {
  built = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-imported-holder-'))
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(SERVICE, 'tsconfig.json'), '--outDir', path.join(built, 'dist')])
  require('esbuild').buildSync({ entryPoints: [path.join(SERVICE, 'src', 'main.ts')], bundle: true, platform: 'node', sourcemap: true, outfile: path.join(built, 'bundle', 'main.js'), logLevel: 'error' })
  // Both at once: each ends once its pair's report is in.
  runs.tsc = run(path.join(built, 'dist', 'main.js'), 'tsc')
  runs.bundle = run(path.join(built, 'bundle', 'main.js'), 'bundle')
})
after(() => fs.rmSync(built, { recursive: true, force: true }))

/** Runs `main` with the preload until its pair's report is logged; resolves with its events. */
async function run(main, name) {
  const dir = path.join(built, `dir-${name}`)
  fs.mkdirSync(dir)
  const log = path.join(dir, 'events.jsonl')
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'register.js'), main], {
    env: { ...process.env, ...SHORT_TIMINGS, LEAKPROOF_DIR: dir, LEAKPROOF_LOG: log, RUN_MS: String(RUN_MS) },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const poll = setInterval(() => {
    if (loggedSoFar(log).some((e) => e.type === 'report' && e.kind === 'pair')) child.kill('SIGTERM')
  }, 500)
  const [code, signal] = await once(child, 'exit')
  clearInterval(poll)
  assert.ok(code === 0 || signal === 'SIGTERM', `exit ${code} ${signal}: ${stderr}`)
  return loggedSoFar(log)
}

for (const name of ['tsc', 'bundle']) {
  test(`${name}: the census' report and the pair's name the Map with one label, in the user's words`, async () => {
    const events = await runs[name]
    const reports = events.filter((e) => e.type === 'report').map((e) => [e.kind, e.holderLabel, firstHolder(e)])
    const census = events.find((e) => e.type === 'report' && e.kind === 'no-snapshot')
    const pair = events.find((e) => e.type === 'report' && e.kind === 'pair')
    assert.ok(census && pair, JSON.stringify(events.filter((e) => e.type !== 'sample').map((e) => [e.type, e.kind ?? e.skipped ?? e.role])))
    // Where the Map is declared: a field of the class, in the class's file.
    assert.equal(census.holderLabel.holder, 'AuditService.trail (Map)', JSON.stringify(reports))
    assert.match(census.holderLabel.site, /(^|\/)src\/audit\.service\.ts$/, JSON.stringify(reports))
    assert.deepEqual(pair.holderLabel, census.holderLabel, JSON.stringify(reports))
    // The pair's own words: the import's alias is not the user's (tsc's `container_1`).
    assert.doesNotMatch(firstHolder(pair), /container_1|import_container/, JSON.stringify(reports))
    assert.match(firstHolder(pair), /container\.audit\.trail \(Map\)/, JSON.stringify(reports))
  })
}
