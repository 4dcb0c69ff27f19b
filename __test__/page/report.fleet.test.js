'use strict'

/* global document */ // in page.evaluate callbacks, which run in the browser

/**
 * The report page of several directories (issue 57, "one page for many instances"), on real
 * watcher runs: the same service (fixtures/fleet-app.js) started from two temporary copies, so
 * that its paths differ, leaks through the same Map in two pods' directories; a third instance
 * of it, beside the first in one directory, does not leak. The MODEL groups the two by their
 * holder and lists the third apart; a directory whose evidence names no holder forms its own
 * group; the page shows the fleet at the top in Chromium, every string from the files as text;
 * `leakproof report DIR DIR -o FILE` writes it, with usage errors for what it cannot do.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { collect, collectAll } = require('../../lib/page/collect')
const { heldByOf, dirNames } = require('../../lib/page/fleet')
const { renderPage } = require('../../lib/page/render')
const { writeReportPage } = require('../../lib/page')
const { holderLabel } = require('../../lib/diagnose/holder-label')
const { CODES } = require('../../lib/shared/errors')
const { launchChromium, missingTool } = require('../support/debian-tools')
const { openReportPage, assertRanNothing } = require('../support/report-page')

const ROOT = path.join(__dirname, '..', '..')
const BIN = path.join(ROOT, 'bin', 'leakproof.js')
const APP = path.join(__dirname, 'fixtures', 'fleet-app.js')
/** A holder text that would run if the page parsed it as HTML. */
const HOSTILE = '</script><img src=x onerror=alert(1)><script>alert(2)</script>'

let base // holds the pods' directories and the pages
let pods // { a, b, c }: the pods' directories
let runs // each instance's run: { pid, dir, code, stderr, events }
let browser = null
let noBrowser = null
const copies = []

/**
 * Starts one instance: fleet-app.js copied to a temporary directory of its own (as a host puts
 * the same code under another prefix: its label's site is `fleet-app.js`, beside its main script), its
 * events to `log` in `dir`. Resolves with its pid, exit code, stderr and events.
 */
function startInstance(dir, log, leak, durationMs) {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-fleet-app-'))
  copies.push(copy)
  const script = path.join(copy, 'srv', 'app', 'fleet-app.js')
  fs.mkdirSync(path.dirname(script), { recursive: true })
  fs.copyFileSync(APP, script)
  const out = fs.openSync(path.join(dir, log), 'w')
  const child = spawn(process.execPath, [script, JSON.stringify({ root: ROOT, dir, leak, durationMs })], { stdio: ['ignore', out, 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((resolve) => child.on('exit', (code) => {
    fs.closeSync(out)
    const events = fs.readFileSync(path.join(dir, log), 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line))
    resolve({ pid: child.pid, dir, code, stderr, events, script })
  }))
}

before(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-report-fleet-'))
  pods = { a: path.join(base, 'pod-a'), b: path.join(base, 'pod-b'), c: path.join(base, 'pod-c') }
  for (const dir of Object.values(pods)) fs.mkdirSync(dir)
  const launching = launchChromium()
  // Each leaking run ends once its snapshot pair's report is in (about 15 s alone, 20-30 s side by
  // side on two busy cores); 50 s is the limit of a loaded machine. The healthy one runs 8 s.
  const [leakingA, healthyA, leakingB] = await Promise.all([
    startInstance(pods.a, 'app-1.log', true, 50_000),
    startInstance(pods.a, 'app-2.log', false, 8_000),
    startInstance(pods.b, 'app.log', true, 50_000),
  ])
  runs = { leakingA, healthyA, leakingB }
  // pod-c: a copy of pod-b's log without its reports (evidence whose reports were lost): it leaks, and names no holder.
  const lines = fs.readFileSync(path.join(pods.b, 'app.log'), 'utf8').split('\n').filter((line) => line !== '' && JSON.parse(line).type !== 'report')
  fs.writeFileSync(path.join(pods.c, 'app.log'), `${lines.join('\n')}\n`)
  const launched = await launching
  browser = launched.browser ?? null
  noBrowser = launched.missing ?? null
})

after(async () => {
  await browser?.close()
  for (const dir of [base, ...copies]) if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** A run's newest snapshot pair's `report` event; fails with what the run logged when it has none. */
function pairReport(run) {
  assert.equal(run.code, 0, run.stderr)
  const report = run.events.findLast((e) => e.type === 'report' && e.kind === 'pair')
  assert.ok(report, `pid ${run.pid} wrote its pair's report; it logged ${[...new Set(run.events.map((e) => e.type))].join(', ')}`)
  return report
}

/** What the fleet's instance of a leaking run must say: from its own events, read here without the page's code. */
function expectedInstance(run, name) {
  const pair = pairReport(run)
  const leaks = run.events.filter((e) => e.type === 'leak')
  const newest = leaks.at(-1)
  const label = holderLabel(pair)
  const name_ = path.basename(pair.path)
  // The census before the pair named the same holder by the same label.
  const census = run.events.map((e) => (e.type === 'report' && e.kind !== 'pair' ? holderLabel(e) : null)).findLast(Boolean)
  assert.deepEqual([census?.holder, census?.site], [label.holder, label.site], `pid ${run.pid}: the census before the pair`)
  return {
    name,
    leaking: true,
    kinds: ['heap'],
    firstLeakAt: leaks[0].time,
    newestLeak: { time: newest.time, kind: 'heap', slopeBytesPerSec: newest.slopeBytesPerSec, projectedLimitAt: newest.projectedLimitAt, limit: newest.limit, urgent: newest.urgent },
    holder: label.holder,
    site: label.site,
    share: label.share,
    report: { name: name_, kind: 'pair', time: pair.time, path: path.join(run.dir, name_) },
    snapshots: [pair.baseline, pair.followUp].map((file) => ({ name: path.basename(file), path: path.join(run.dir, path.basename(file)) })),
  }
}

test('the MODEL of two pods: the two leaking instances under one holder, the healthy one apart', async () => {
  const { leakingA, healthyA, leakingB } = runs
  // Two copies at different paths, so the reports' holders differ in their text, not in their label.
  const [pairA, pairB] = [pairReport(leakingA), pairReport(leakingB)]
  assert.notEqual(leakingA.script, leakingB.script)
  assert.notEqual(pairA.growthRoots[0].holder.description, pairB.growthRoots[0].holder.description)
  const sameCode = (label) => ({ holder: label.holder, site: label.site }) // the share is each instance's own
  assert.deepEqual(sameCode(holderLabel(pairA)), sameCode(holderLabel(pairB)))
  assert.equal(healthyA.code, 0, healthyA.stderr)
  assert.deepEqual(healthyA.events.filter((e) => e.type === 'leak' || e.type === 'report'), [], 'the healthy instance reported no leak')

  // pod-a given twice (once with a trailing slash): read once.
  const model = await collectAll([pods.a, pods.b, `${pods.a}${path.sep}`])
  assert.deepEqual(model.dirs, [{ path: pods.a, name: 'pod-a' }, { path: pods.b, name: 'pod-b' }])
  const names = { a: `pod-a · pid ${leakingA.pid}`, healthy: `pod-a · pid ${healthyA.pid}`, b: `pod-b · pid ${leakingB.pid}` }
  assert.deepEqual(model.processes.map((p) => p.instance).sort(), Object.values(names).sort())
  assert.ok(model.processes.every((p) => p.dir === (p.pid === leakingB.pid ? pods.b : pods.a)))
  assert.ok(model.files.logs.every((f) => f.dir === pods.a || f.dir === pods.b))

  const { fleet } = model
  const byName = (name) => fleet.instances.findIndex((i) => i.name === name)
  assert.equal(fleet.instances.length, 3)
  assert.equal(fleet.leaking, 2)
  assert.equal(fleet.groups.length, 1, JSON.stringify(fleet.groups))
  const [group] = fleet.groups
  const label = holderLabel(pairA)
  assert.match(label.holder, /^sessions \(Map\)$/)
  assert.equal(label.site, 'fleet-app.js')
  assert.equal(group.site, label.site, "the pair's label, the census' before it too")
  assert.equal(group.holder, label.holder)
  const leakingNames = [names.a, names.b].sort((x, y) => fleet.instances[byName(x)].firstLeakAt - fleet.instances[byName(y)].firstLeakAt)
  assert.deepEqual(group.instances, leakingNames.map(byName))
  assert.equal(group.firstLeakAt, Math.min(...[leakingA, leakingB].map((r) => r.events.find((e) => e.type === 'leak').time)))
  assert.deepEqual(fleet.healthy, [byName(names.healthy)])
  for (const [run, name] of [[leakingA, names.a], [leakingB, names.b]]) {
    const instance = fleet.instances[byName(name)]
    const expected = expectedInstance(run, name)
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((key) => [key, instance[key]])), expected)
    assert.deepEqual([instance.pid, instance.threadId, instance.dir, model.processes[instance.process].instance], [run.pid, 0, run.dir, name])
  }
  const healthy = fleet.instances[byName(names.healthy)]
  assert.deepEqual([healthy.leaking, healthy.holder, healthy.report, healthy.newestLeak, healthy.firstLeakAt], [false, null, null, null, null])
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(model)))
})

test('a pod whose evidence names no holder forms its own group; one directory of one process has no fleet', async () => {
  const model = await collectAll([pods.a, pods.b, pods.c])
  assert.deepEqual(model.fleet.groups.map((g) => [g.holder === null ? null : g.holder.slice(0, 14), g.instances.length]), [['sessions (Map)', 2], [null, 1]])
  const unnamed = model.fleet.instances[model.fleet.groups[1].instances[0]]
  assert.equal(unnamed.name, `pod-c · pid ${runs.leakingB.pid}`)
  assert.equal(unnamed.report, null)
  // Its log names the snapshots pod-b holds: listed, without a path, as pod-c does not hold them.
  assert.deepEqual(unnamed.snapshots.map((s) => s.path), [null, null])
  assert.equal(unnamed.newestLeak.slopeBytesPerSec, runs.leakingB.events.findLast((e) => e.type === 'leak').slopeBytesPerSec)
  assert.equal((await collect(pods.b)).fleet, null)
  // pod-a alone: two processes in one directory are two instances, named by their pids.
  const podA = await collect(pods.a)
  assert.deepEqual(podA.fleet.instances.map((i) => i.name).sort(), [`pid ${runs.leakingA.pid}`, `pid ${runs.healthyA.pid}`].sort())
  assert.deepEqual(podA.fleet.groups.map((g) => g.instances.length), [1])
})

test("a snapshot pair's holder outranks a newer census'; directories are named by their last differing segments", () => {
  const census = { kind: 'no-snapshot', name: 'c.report.json', time: 3, label: { holder: 'cache (Map)', site: 'b.js', share: null } }
  const pair = { kind: 'pair', name: 'p.report.json', time: 2, label: { holder: 'sessions (Map)', site: 'a.js', share: 0.8 }, snapshots: ['x.heapsnapshot', 'y.heapsnapshot'] }
  const unnamedPair = { kind: 'pair', name: 'q.report.json', time: 4, label: null, snapshots: [] }
  assert.deepEqual(heldByOf([pair, census, unnamedPair]), {
    holder: 'sessions (Map)', site: 'a.js', share: 0.8, report: 'p.report.json', reportKind: 'pair', reportTime: 2, snapshots: ['x.heapsnapshot', 'y.heapsnapshot'],
  })
  assert.equal(heldByOf([census]).report, 'c.report.json')
  assert.equal(heldByOf([unnamedPair]), null)
  assert.deepEqual(dirNames(['/v/pod-a', '/v/pod-b']), ['pod-a', 'pod-b'])
  assert.deepEqual(dirNames(['/x/logs', '/y/logs', '/y/other']), ['x/logs', 'y/logs', 'y/other'])
})

test('evidence without its event log (LEAKPROOF_DIR alone): the reports say the instance leaks, since when and how fast', async () => {
  // pod-b's report files only, as a service run without LEAKPROOF_LOG leaves them.
  const reportsOnly = path.join(base, 'reports-only')
  fs.mkdirSync(reportsOnly)
  for (const name of fs.readdirSync(pods.b).filter((n) => n.endsWith('.report.json'))) fs.copyFileSync(path.join(pods.b, name), path.join(reportsOnly, name))
  const model = await collectAll([reportsOnly, pods.a])
  const instance = model.fleet.instances.find((i) => i.pid === runs.leakingB.pid)
  const censuses = runs.leakingB.events.filter((e) => e.type === 'report' && e.kind === 'no-snapshot')
  assert.ok(censuses.length > 0, 'the run wrote a census report')
  assert.equal(instance.leaking, true)
  assert.equal(instance.firstLeakAt, censuses[0].leak.time)
  assert.equal(instance.newestLeak.slopeBytesPerSec, censuses.at(-1).leak.slopeBytesPerSec)
  assert.equal(instance.newestLeak.projectedLimitAt, censuses.at(-1).leak.projectedLimitAt)
  assert.equal(instance.holder, holderLabel(pairReport(runs.leakingB)).holder)
  const group = model.fleet.groups.find((g) => g.instances.includes(model.fleet.instances.indexOf(instance)))
  assert.equal(group.instances.length, 2, 'with pod-a\'s leaking instance, through the same holder')
})

test('leakproof report DIR DIR: -o required, a missing DIR named, the same DIR twice read once', async () => {
  const run = (...args) => spawnSync(process.execPath, [BIN, 'report', ...args], { encoding: 'utf8' })
  const noOut = run(pods.a, pods.b)
  assert.equal(noOut.status, 2)
  assert.match(noOut.stderr, /report of 2 directories needs -o FILE/)
  const missing = run(pods.a, path.join(base, 'pod-z'), '-o', path.join(base, 'never.html'))
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /pod-z.*does not exist \[ERR_LEAKPROOF_REPORT_DIR\]/)
  assert.equal(fs.existsSync(path.join(base, 'never.html')), false)
  const same = run(pods.b, `${pods.b}/`)
  assert.equal(same.status, 0, same.stderr)
  assert.equal(same.stdout, `${path.join(pods.b, 'leakproof-report.html')}\n`)
  await assert.rejects(writeReportPage([pods.a, pods.b]), { name: 'TypeError', code: CODES.INVALID_OPTION, message: /options\.out is required with several directories/ })
  await assert.rejects(collectAll([]), { code: CODES.INVALID_ARGUMENT })
})

/** What the fleet view shows: its groups' tables (holder, site, rows) and the healthy rows. */
function fleetShown() {
  const rowsOf = (table) => [...table.tBodies[0].rows].map((row) => ({ instance: row.dataset.instance, cells: [...row.cells].map((cell) => cell.textContent) }))
  const fleet = document.querySelector('section.fleet')
  const firstProcess = document.querySelector('section.process')
  return {
    atTop: fleet !== null && firstProcess !== null && (fleet.compareDocumentPosition(firstProcess) & 4) !== 0,
    verdict: fleet?.querySelector('.verdict').textContent,
    headings: [...(fleet?.querySelectorAll('h3') ?? [])].map((h3) => h3.textContent),
    groups: [...document.querySelectorAll('table.fleet-group')].map((t) => ({ holder: t.dataset.holder, site: t.dataset.site, head: [...t.tHead.rows[0].cells].map((c) => c.textContent), rows: rowsOf(t) })),
    healthy: [...document.querySelectorAll('table.fleet-healthy')].map(rowsOf),
    links: [...(fleet?.querySelectorAll('a') ?? [])].map((a) => [a.textContent, document.querySelector(/** @type {HTMLAnchorElement} */ (a).hash)?.querySelector('h2').textContent]),
    scripts: document.scripts.length,
    images: document.images.length,
  }
}

test('the page of three pods in Chromium: the fleet at the top, grouped by holder, each instance linked to its section', { timeout: 60_000 }, async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  const out = path.join(base, 'fleet.html')
  const cli = spawnSync(process.execPath, [BIN, 'report', pods.a, pods.b, pods.c, pods.a, '-o', out], { encoding: 'utf8' })
  assert.equal(cli.status, 0, cli.stderr)
  assert.equal(cli.stdout, `${out}\n`)
  const model = await collectAll([pods.a, pods.b, pods.c])
  const { page, seen } = await openReportPage(browser, out)
  const shot = process.env.LEAKPROOF_FLEET_SCREENSHOT || path.join(base, 'fleet.png')
  await page.locator('section.fleet').screenshot({ path: shot })
  t.diagnostic(`screenshot of the fleet view: ${shot}`)
  assert.ok(await page.locator('table.fleet-group').first().isVisible())
  const shown = await page.evaluate(fleetShown)
  const names = (indices) => indices.map((i) => model.fleet.instances[i].name)
  const [named, unnamed] = model.fleet.groups
  assert.equal(shown.atTop, true)
  assert.equal(shown.verdict, '3 of 4 instances leak, through 1 holder and some not named')
  assert.deepEqual(shown.groups.map((g) => [g.holder, g.site, g.rows.map((r) => r.instance)]), [
    [named.holder, named.site, names(named.instances)],
    ['', '', names(unnamed.instances)],
  ])
  assert.match(shown.headings[0], /^sessions \(Map\) at fleet-app\.js — 2 of 4 instances, leaking since 20\d\d-/)
  assert.match(shown.headings[1], /^Holder not named — 1 of 4 instances/)
  assert.deepEqual(shown.groups[0].head, ['instance', 'leaking since', 'kind', 'growth', 'reaches the limit', 'share of the growth', 'newest evidence'])
  for (const row of shown.groups[0].rows) {
    const instance = model.fleet.instances.find((i) => i.name === row.instance)
    assert.match(row.cells[3], /^\+[\d.]+ MB\/min$/)
    assert.match(row.cells[4], /^in [\d.]+ (s|min|h|days) \(20\d\d-.*\), limit [\d.]+ GB/)
    assert.equal(row.cells[5], `${Math.round(instance.share * 100)}%`)
    assert.equal(row.cells[6], [instance.report.name, ...instance.snapshots.map((s) => s.name)].join(''))
  }
  assert.match(shown.groups[1].rows[0].cells[5], /\.heapsnapshot \(not in the directory\)$/)
  assert.deepEqual(shown.healthy.map((rows) => rows.map((r) => r.instance)), [names(model.fleet.healthy)])
  // Each instance's name links to its section, whose heading is that name.
  assert.equal(shown.links.length, 4)
  for (const [text, target] of shown.links) assert.equal(target, text)
  assert.deepEqual(seen.requests, [`file://${out}`])
  assert.deepEqual(seen.errors, [])
})

test('holder, site and instance names from the files show as text on the fleet view, and run nothing', async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  const model = await collectAll([pods.a, pods.b, pods.c])
  const [group] = model.fleet.groups
  Object.assign(group, { holder: HOSTILE, site: HOSTILE })
  model.fleet.instances[group.instances[0]].name = HOSTILE
  model.fleet.instances[group.instances[0]].report.name = HOSTILE
  model.dirs[0].name = HOSTILE
  const file = path.join(base, 'hostile-fleet.html')
  fs.writeFileSync(file, renderPage(model))
  const { page, seen } = await openReportPage(browser, file)
  const shown = await page.evaluate(fleetShown)
  assert.equal(shown.groups[0].holder, HOSTILE)
  assert.equal(shown.groups[0].site, HOSTILE)
  assert.ok(shown.headings[0].startsWith(`${HOSTILE} at ${HOSTILE} — `), shown.headings[0])
  assert.equal(shown.groups[0].rows[0].instance, HOSTILE)
  assert.equal(shown.groups[0].rows[0].cells[0], HOSTILE)
  assert.ok(shown.groups[0].rows[0].cells[6].startsWith(HOSTILE))
  assertRanNothing(shown, seen)
})

test('one directory of one process: the page has no fleet view, as before', async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  const written = await writeReportPage(pods.b)
  const { page, seen } = await openReportPage(browser, written.path)
  const shown = await page.evaluate(() => ({ fleet: document.querySelectorAll('section.fleet').length, heading: document.querySelector('section.process h2').textContent }))
  assert.deepEqual(shown, { fleet: 0, heading: `pid ${runs.leakingB.pid}` })
  assert.deepEqual(seen.errors, [])
})
