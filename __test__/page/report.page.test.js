'use strict'

/* global window, document */ // in page.evaluate callbacks, which run in the browser

/**
 * The report page in a real browser (Debian's chromium, headless, installed by
 * scripts/debian-tool.sh): a real leaking run's page shows the three floors with the MODEL's
 * points, the leak marker where uPlot's own scale puts the leak's time and the first
 * suspect's holder; a no-snapshot report's census suspects and the directory's heap profiles;
 * hostile names show as text and run nothing; the page requests nothing.
 * And the `leakproof report` command's exit codes, and `writeReport()`, the former name of
 * `writeReportPage()`.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { writeReportPage } = require('../../lib/page')
const { collect } = require('../../lib/page/collect')
const { renderPage } = require('../../lib/page/render')
const { leakingModel, hostileModel, HOSTILE } = require('./fixtures/report-page-models')
const { launchChromium, missingTool } = require('../support/debian-tools')
const { openReportPage, assertRanNothing } = require('../support/report-page')
const { LEAKING_SERVICE, LEAKING_RUN } = require('./fixtures/leaking-run')
const { eventLine, sampleLine } = require('./fixtures/report-logs')

const ROOT = path.join(__dirname, '..', '..')
const BIN = path.join(ROOT, 'bin', 'leakproof.js')

let browser = null
let noBrowser = null // why there is no browser, when there is none
let dir

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-report-page-'))
  const launched = await launchChromium()
  browser = launched.browser ?? null
  noBrowser = launched.missing ?? null
})

after(async () => {
  await browser?.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

/**
 * Runs the heap-leak service (support/fixtures/leaking-service.js: one snapshot pair, then it stops
 * once the watcher's report and sites are in, or after `ms`), its events as the log;
 * resolves with the events.
 */
async function leakingRun(ms) {
  const log = fs.openSync(path.join(dir, 'events.jsonl'), 'w')
  const child = spawn(process.execPath, [LEAKING_SERVICE, JSON.stringify({ ...LEAKING_RUN, dir, durationMs: ms })], { stdio: ['ignore', log, 'inherit'] })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  fs.closeSync(log)
  assert.equal(code, 0)
  return fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line))
}

test('a real leaking run: the floors, the leak marker at its time, the holder, no requests', { timeout: 240_000 }, async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  // It ends once the pair's report and the sites are in (about 12 s); the rest is for a loaded machine.
  const events = await leakingRun(60_000)
  const leak = events.find((e) => e.type === 'leak')
  assert.ok(leak, `the run reported a leak; it logged ${[...new Set(events.map((e) => e.type))].join(', ')}`)
  const report = events.find((e) => e.type === 'report' && e.kind === 'pair')
  assert.ok(report, `the run wrote its pair's report; it logged ${[...new Set(events.map((e) => e.type))].join(', ')}`)
  const written = await writeReportPage(dir)
  const model = await collect(dir)
  const { page, seen } = await openReportPage(browser, written.path)
  // LEAKPROOF_REPORT_SCREENSHOT=FILE keeps the screenshot (to look at it, or for docs/report.png):
  // the top of the page, down to the first suspects.
  const shot = process.env.LEAKPROOF_REPORT_SCREENSHOT || path.join(dir, 'report.png')
  await page.screenshot({ path: shot, fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1240 } })
  t.diagnostic(`page ${written.bytes} bytes, ${model.processes[0].floors.time.length} floors; screenshot ${shot}`)

  const shown = await page.evaluate(() => {
    const u = window.leakproofCharts[0]
    const chart = document.querySelector('.chart')
    const marker = chart.querySelector('.marker-leak')
    const over = u.over.getBoundingClientRect()
    const x = u.scales.x
    return {
      series: chart.dataset.series.split(','), points: Number(chart.dataset.points),
      labels: u.series.slice(1, 4).map((s) => s.label), data: u.data.slice(0, 4),
      markerTime: Number(marker.dataset.time), markerLeft: marker.getBoundingClientRect().left - over.left,
      scaleLeft: ((Number(marker.dataset.time) - x.min) / (x.max - x.min)) * over.width,
      holder: document.querySelector('tr.suspect-first .holder').textContent,
    }
  })
  const floors = model.processes[0].floors
  assert.deepEqual(floors.time, events.filter((e) => e.type === 'sample').map((e) => e.time))
  assert.deepEqual(shown.series.slice(0, 3), ['heap', 'external', 'native'])
  assert.deepEqual(shown.labels, ['heap', 'external', 'native'])
  assert.equal(shown.points, floors.time.length)
  assert.deepEqual(shown.data, [floors.time, floors.heap, floors.external, floors.native])
  assert.equal(shown.markerTime, leak.time)
  assert.ok(Math.abs(shown.markerLeft - shown.scaleLeft) <= 1.5, `marker at ${shown.markerLeft}px, the scale puts the leak at ${shown.scaleLeft}px`)
  assert.equal(shown.holder, report.suspects[0].holder.description)
  assert.match(shown.holder, /sessions \(Map\)/)
  assert.deepEqual(seen.requests, [`file://${written.path}`])
  assert.deepEqual(seen.errors, [])
})

test('names with <script> show as text and run nothing', async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  const file = path.join(dir, 'hostile.html')
  fs.writeFileSync(file, renderPage(hostileModel()))
  const { page, seen } = await openReportPage(browser, file)
  const shown = await page.evaluate(() => ({
    holder: document.querySelector('tr.suspect-first .holder').textContent,
    notes: document.querySelector('.notes').textContent,
    // The allocation sites' "where" column: the app's site, then the package's.
    sites: [...[...document.querySelectorAll('h3')].find((h3) => h3.textContent.startsWith('Allocation sites')).nextElementSibling.querySelectorAll('tbody tr')]
      .map((row) => row.cells[1].textContent),
    scripts: document.scripts.length,
    images: document.images.length,
  }))
  assert.ok(shown.holder.startsWith(HOSTILE), shown.holder)
  assert.equal(shown.notes, HOSTILE)
  assert.deepEqual(shown.sites, ['/srv/app/sessions.js:32:16', `${HOSTILE}: session/memory.js:119 (called from ${HOSTILE} at /srv/app/sessions.js:32:16)`])
  assertRanNothing(shown, seen)
})

test("a no-snapshot report shows the census' holder like a pair's suspects; the profiles say where they open", async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  const file = path.join(dir, 'census.html')
  fs.writeFileSync(file, renderPage(leakingModel({ points: 200 })))
  const { page, seen } = await openReportPage(browser, file)
  const shown = await page.evaluate(() => {
    const reports = [...document.querySelectorAll('h3')].filter((h3) => h3.textContent.startsWith('Report '))
    const suspectsOf = (heading) => {
      let node = heading.nextElementSibling
      while (node.tagName !== 'TABLE') node = node.nextElementSibling
      const cells = (row) => [...row.cells].map((cell) => cell.textContent)
      return { head: cells(node.tHead.rows[0]), first: cells(node.tBodies[0].rows[0]), second: cells(node.tBodies[0].rows[1] ?? node.tBodies[0].rows[0]) }
    }
    return {
      headings: reports.map((h3) => h3.textContent.replace(/, 2026.*/, '')),
      pair: suspectsOf(reports[0]),
      census: suspectsOf(reports[1]),
      firstHolder: document.querySelector('tr.suspect-first .holder').textContent,
      profiles: [...document.querySelectorAll('ul.profiles li')].map((li) => li.textContent),
      native: [...document.querySelectorAll('h3')].filter((h3) => h3.textContent.startsWith('Native memory')).map((h3) => h3.textContent),
      nextCommand: document.querySelector('ol li code')?.textContent,
      leakRows: [...[...document.querySelectorAll('h3')].find((h3) => h3.textContent.startsWith('Leak reports')).nextElementSibling.querySelectorAll('tbody tr')]
        .map((row) => [row.cells[1].textContent, row.cells[2].textContent, row.cells[3].textContent, row.cells[4].textContent]),
      verdict: document.querySelector('.verdict').textContent,
      restartRows: [...[...document.querySelectorAll('h3')].find((h3) => h3.textContent === 'Restart').nextElementSibling.querySelectorAll('tbody tr')]
        .map((row) => [...row.cells].slice(1).map((cell) => cell.textContent)),
    }
  })
  assert.deepEqual(shown.headings, [
    'Report leakproof-2026-11-22T12-20-00-000Z-4200-0-1-follow-up.report.json (snapshot pair',
    'Report leakproof-2026-11-22T12-40-00-000Z-4200-0-diagnosis.report.json (no snapshot, holder from the census',
  ])
  assert.deepEqual(shown.pair.head, ['#', 'class', 'new objects', 'retained', 'share of the growth', 'held by', 'path'])
  // A suspect's share where the report has one; none where it has not (an older report).
  assert.deepEqual([shown.pair.first[4], shown.pair.second[4]], ['87%', ''])
  assert.deepEqual(shown.census.head, ['#', 'class', 'entries', 'bytes per entry', 'share of the growth', 'held by', 'path'])
  assert.deepEqual(shown.census.first, ['1', 'Object', '1,200 → 4,800', '2.4 KB (est.)', '', 'store.sessions (Object), a module-level variable of /srv/app/store.js', 'store.sessions'])
  assert.match(shown.firstHolder, /^sessions \(Map\), a module-level variable/, 'the pair\'s first suspect stays first')
  assert.deepEqual(shown.native, ['Native memory: no JS object holds it (+96.0 MB)'])
  assert.equal(shown.nextCommand, 'heaptrack -o /tmp/heaptrack.run node app.js')
  // Each leak with the time scale and the test that showed it (none named by an older log); a slow one's rate per hour.
  assert.deepEqual(shown.leakRows, [['heap', '+3.1 MB/min', 'minutes (2 min window)', 'the fast test'], ['external', '+3.6 MB/h', 'hours (4.3 h window)', '–']])
  assert.match(shown.verdict, /external leak: \+3\.6 MB\/h on the hours scale/)
  assert.deepEqual(shown.restartRows, [
    ['due (heap, before minIntervalMs: the limit was near)', '120.0 s', '', '3 files'],
    ['exit', '55.0 s', '25.2 MB', '2 files kept, 1 lost (rotated away meanwhile)'],
  ])
  assert.equal(shown.profiles.length, 2)
  assert.match(shown.profiles[0], /^leakproof-.*-sites\.heapprofile \(412\.0 KB, .*\): open in Chrome DevTools → Memory → Load profile$/)
  assert.match(shown.profiles[1], /^(leakproof-.*-sites\.pb\.gz) \(38\.0 KB, .*\): open with go tool pprof -http=: \1, or in Pyroscope, Grafana or Datadog$/)
  assert.deepEqual(seen.errors, [])
})

test('a healthy process says "no leak found" and has no leak marker', async (t) => {
  if (!browser) return missingTool(t, noBrowser)
  const model = leakingModel({ points: 300 })
  Object.assign(model.processes[0], { leaks: [], reports: [], snapshots: [], skips: [], downsampled: true, floorsTotal: 250_000 })
  const file = path.join(dir, 'healthy.html')
  fs.writeFileSync(file, renderPage(model))
  const { page, seen } = await openReportPage(browser, file)
  const shown = await page.evaluate(() => ({
    verdict: document.querySelector('.verdict').textContent,
    leakMarkers: document.querySelectorAll('.marker-leak').length,
    points: Number(document.querySelector('.chart').dataset.points),
    sampling: document.querySelector('.process .muted').textContent.split(' · ')[1],
  }))
  assert.deepEqual(shown, { verdict: 'no leak found', leakMarkers: 0, points: 300, sampling: 'showing 300 of 250,000 floors (downsampled)' })
  assert.deepEqual(seen.errors, [])
})

test('leakproof report: usage error without DIR, exit 1 for a missing DIR, the path printed', async () => {
  const run = (...args) => spawnSync(process.execPath, [BIN, 'report', ...args], { encoding: 'utf8' })
  const usage = run()
  assert.equal(usage.status, 2)
  assert.match(usage.stderr, /report takes one directory/)
  const missing = run(path.join(dir, 'no-such-dir'))
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /no-such-dir/)
  const out = path.join(dir, 'by-cli.html')
  const ok = run(dir, '-o', out)
  assert.equal(ok.status, 0, ok.stderr)
  assert.equal(ok.stdout, `${out}\n`)
  assert.match(fs.readFileSync(out, 'utf8'), /^<!DOCTYPE html>/)
})

test('writeReport(), the former name, writes the page writeReportPage() writes and warns once', async (t) => {
  const { writeReport, writeReportPage: published } = require('../..')
  const logs = fs.mkdtempSync(path.join(dir, 'former-name-'))
  const T0 = 1_795_000_000_000
  let log = ''
  for (let i = 0; i < 30; i++) log += sampleLine(T0 + i * 1000, 4242, 0, { heap: 50_000_000 + i * 100_000, forcedGc: true })
  fs.writeFileSync(path.join(logs, 'events.jsonl'), log + eventLine('stop', T0 + 30_000, 4242, 0))
  t.mock.method(Date, 'now', () => T0 + 60_000) // the page's "generated at"
  const warnings = []
  const onWarning = (warning) => warnings.push(warning)
  process.on('warning', onWarning)
  let pages
  try {
    const former = await writeReport(logs, { out: path.join(logs, 'former.html') })
    const again = await writeReport(logs, { out: path.join(logs, 'again.html') })
    const current = await published(logs, { out: path.join(logs, 'current.html') })
    assert.deepEqual([former.processes, again.processes], [current.processes, current.processes])
    assert.equal(current.processes, 1)
    pages = [former, again, current].map((w) => fs.readFileSync(w.path, 'utf8'))
    await assert.rejects(writeReport([logs, dir]), { code: 'ERR_LEAKPROOF_INVALID_OPTION', message: /^writeReportPage\(\): options\.out is required/ })
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  assert.equal(pages[0], pages[2])
  assert.equal(pages[1], pages[2])
  const ours = warnings.filter((w) => w.code === 'LEAKPROOF_DEPRECATED').map((w) => [w.name, w.message])
  assert.deepEqual(ours, [['DeprecationWarning', 'leakproof: writeReport() is deprecated: it is writeReportPage() now, and does the same']])
})

test('the page of 3 processes × 2000 floors (the most collect.js keeps) stays under 600 KB', () => {
  const bytes = Buffer.byteLength(renderPage(leakingModel({ points: 2000, processes: 3 })))
  assert.ok(bytes < 600 * 1024, `${bytes} bytes`)
})
