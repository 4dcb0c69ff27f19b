'use strict'

/**
 * The report page's script without a browser. Its modules (lib/page/browser/) are Node modules:
 * their formats and the logic that needs no DOM are checked here one by one. And the script as
 * the page gets it (page-script.js) runs in a `vm` over a fake DOM (fixtures/fake-dom.js) with
 * the page's MODELs, so a function the page lacks, or one that throws, fails here too, not only
 * in report.page.test.js's Chromium.
 */
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { fmtTime, fmtMs, fmtRate, shareText, fmtCount } = require('../../lib/page/browser/page-dom')
const { limitText } = require('../../lib/page/browser/fleet-view')
const page = require('../../lib/page/browser/page')
const chart = require('../../lib/page/browser/chart')
const { pageScript, pageModules } = require('../../lib/page/page-script')
const { fleetModel } = require('../../lib/page/fleet')
const { leakingModel, hostileModel, HOSTILE } = require('./fixtures/report-page-models')
const { runPageScript, all, text } = require('./fixtures/fake-dom')

const T = Date.UTC(2026, 10, 22, 18, 51, 2, 925)
const MB = 1024 * 1024

test('formats: times, pauses, rates, shares and counts; – where unknown', () => {
  assert.equal(fmtTime(T), '2026-11-22 18:51:02.925')
  assert.equal(fmtTime(null), '–')
  assert.deepEqual([fmtMs(849.6), fmtMs(2700), fmtMs(undefined)], ['850 ms', '2.7 s', '–'])
  // 1 MB a minute and more per minute; a slower leak per hour.
  assert.deepEqual([fmtRate((0.5 * MB) / 10), fmtRate(1000), fmtRate(NaN)], ['+3.1 MB/min', '+3.6 MB/h', '–'])
  assert.deepEqual([shareText(0.87), shareText(null)], ['87%', ''])
  assert.deepEqual([fmtCount(12345), fmtCount(undefined)], ['12,345', '–'])
  assert.equal(page.fmtScale({ scale: 'hours', scaleSpanMs: 15_360_000 }), 'hours (4.3 h window)')
  assert.equal(page.fmtScale({ scale: 'minutes', scaleSpanMs: 120_000 }), 'minutes (2 min window)')
  assert.deepEqual([page.fmtScale({ scale: 'days' }), page.fmtScale({})], ['days', '–'])
})

test('sites: file:line:column, the built file, a package\'s file within it and its caller in the app', () => {
  const app = { functionName: 'handle', url: '/srv/app/sessions.js', line: 32, column: 16 }
  assert.equal(page.siteText(app), 'handle at /srv/app/sessions.js:32:16')
  assert.equal(page.siteText({ ...app, functionName: '', built: 'dist/a.js:9:12' }), '/srv/app/sessions.js:32:16 (built: dist/a.js:9:12)')
  assert.deepEqual([page.siteText({ functionName: 'f' }), page.siteText('pool.js:88:12'), page.siteText(null)], ['f at (no file)', 'pool.js:88:12', ''])
  assert.equal(page.allocationSiteText(app), '/srv/app/sessions.js:32:16')
  const inPackage = { url: 'C:\\srv\\node_modules\\express-session\\session\\memory.js', line: 119, column: 5, package: 'express-session', appFrame: app }
  assert.equal(page.allocationSiteText(inPackage), 'express-session: session/memory.js:119 (called from handle at /srv/app/sessions.js:32:16)')
  assert.equal(page.allocationSiteText({ url: 'node:internal/streams', line: 3, column: 1, appFrame: null }), 'node:internal/streams:3:1 (no caller in the app)')
  assert.equal(page.allocationSiteText({ url: null }), '–')
})

test('restarts, files of several directories, profiles and the limit a leak reaches', () => {
  assert.equal(page.restartEvidenceText({ step: 'due', kept: 3, settled: true }), '3 files')
  assert.match(page.restartEvidenceText({ step: 'due', kept: 3, settled: false }), /^3 files, not settled/)
  assert.equal(page.restartEvidenceText({ step: 'exit', kept: 2, lost: 1 }), '2 files kept, 1 lost (rotated away meanwhile)')
  assert.equal(page.restartEvidenceText({ step: 'exit', kept: null }), '')
  const file = { name: 'events.jsonl', dir: '/b' }
  assert.equal(page.fileLabel({ dirs: [{ path: '/a', name: 'a' }] }, file), 'events.jsonl')
  assert.equal(page.fileLabel({ dirs: [{ path: '/a', name: 'a' }, { path: '/b', name: 'b' }] }, file), 'b/events.jsonl')
  assert.match(page.profileOpener({ kind: 'heapprofile' }), /Chrome DevTools/)
  assert.match(page.profileOpener({ kind: 'pprof', name: 'x.pb.gz' }), /go tool pprof -http=: x\.pb\.gz/)
  assert.equal(page.profileOpener({ kind: 'other' }), '')
  assert.equal(limitText({ time: T, projectedLimitAt: T + 38 * 60_000, limit: 4e9, urgent: true }), `in 38 min (${fmtTime(T + 38 * 60_000)}), limit 4.00 GB, urgent`)
  assert.deepEqual([limitText(null), limitText({ projectedLimitAt: null })], ['–', '–'])
})

test('the chart: its series and axes, and an x range widened to the events and kept when zoomed', () => {
  const floors = { time: [10, 20, 30], heap: [1, 2, 3], external: [1, 1, 1], native: [null, 1, 1], rss: [null, null, null] }
  const floorsOnly = chart.chartSeries({ floors })
  assert.deepEqual(floorsOnly.map((s) => s.label), ['heap', 'external', 'native'])
  assert.deepEqual(chart.chartAxes(floorsOnly).length, 2)
  assert.equal(floorsOnly[0].spec.value(null, 2e6), '2.0 MB')
  // The limit is listed but hidden while RSS stays under a quarter of it.
  const withRss = chart.chartSeries({ floors: { ...floors, rss: [4e6, 5e6, 6e6] }, containerLimit: 1e9 })
  assert.deepEqual(withRss.map((s) => [s.label, s.spec.scale, s.spec.show]), [['heap', undefined, undefined], ['external', undefined, undefined], ['native', undefined, undefined], ['rss', 'rss', undefined], ['container limit', 'rss', false]])
  assert.equal(chart.chartAxes(withRss).length, 3)
  const proc = { floors, firstAt: 5, lastAt: 40, snapshots: [{ time: 8, durationMs: 6 }] }
  assert.deepEqual(chart.xRange(proc, null, null), [2, 40])
  assert.deepEqual(chart.xRange(proc, 15, 25), [15, 25])
  assert.deepEqual(chart.xRange(proc, 10, 30), [2, 40])
})

test('the page\'s modules are browser/\'s files, whole, and the functions they take by name', () => {
  const modules = pageModules()
  const browserDir = path.join(__dirname, '..', '..', 'lib', 'page', 'browser')
  const browserFiles = fs.readdirSync(browserDir).filter((name) => name.endsWith('.js')).map((name) => `page/browser/${name}`)
  assert.deepEqual(modules.filter((m) => m.id.startsWith('page/browser/')).map((m) => m.id).sort(), browserFiles.sort(), 'every browser module is in the page, and no other of lib/page')
  for (const m of modules) {
    for (const id of Object.values(m.requires)) assert.ok(modules.some((other) => other.id === id), `${m.id} requires ${id}, which the page has`)
  }
  const holderLabel = modules.find((m) => m.id === 'diagnose/holder-label.js')
  assert.match(holderLabel.source, /^function rankReports\(/)
  assert.doesNotMatch(holderLabel.source, /require\(/)
})

test('the whole script runs over a leaking MODEL: header, verdicts, charts, markers, the pair\'s report first', () => {
  const model = leakingModel({ points: 120, processes: 2 })
  const { root, window } = runPageScript(pageScript(), model)
  assert.deepEqual(text(all(root, 'h1')), ['leakproof report'])
  assert.deepEqual(all(root, 'section', 'process').map((s) => s.attributes.get('id')), ['process-0', 'process-1'])
  assert.equal(window.leakproofCharts.length, 2)
  assert.deepEqual(window.leakproofCharts[0].container.dataset, { series: 'heap,external,native,rss,container limit', points: '120' })
  const markers = window.leakproofCharts.flatMap((u) => all(u.over, 'div', 'marker'))
  assert.deepEqual(['marker-snapshot', 'marker-skip', 'marker-leak'].map((cls) => markers.filter((m) => m.classList.has(cls)).length), [4, 2, 4])
  assert.deepEqual(all(root, 'section', 'process').map((s) => all(s, 'tr', 'suspect-first').length), [1, 1])
  const reports = text(all(root, 'h3')).filter((t) => t.startsWith('Report '))
  assert.match(reports[0], /\(snapshot pair, /)
  assert.match(reports[1], /\(no snapshot, holder from the census, /)
  assert.match(text(all(root, 'div', 'verdict'))[0], /^heap leak: \+3\.1 MB\/min on the minutes scale/)
  assert.equal(all(root, 'ul', 'profiles')[0].childNodes.length, 2)
  window.listeners.find((l) => l.type === 'resize').run()
  assert.deepEqual(window.leakproofCharts[0].size, { width: 900, height: 340 })
})

test('the whole script shows hostile names as text', () => {
  const { root } = runPageScript(pageScript(), hostileModel())
  assert.deepEqual([...all(root, 'script'), ...all(root, 'img')], [])
  assert.ok(root.textContent.includes(HOSTILE))
})

test('the whole script shows a fleet: instances grouped by holder, then the healthy ones', () => {
  const model = leakingModel({ points: 60, processes: 3 })
  model.processes.forEach((proc, i) => Object.assign(proc, { instance: `pod-${i}`, dir: `/var/log/pod-${i}` }))
  model.processes[0].heldBy = { holder: 'sessions (Map)', site: 'app/sessions.js', share: 0.9, report: model.processes[0].reports[0].name, reportKind: 'pair', reportTime: 1, snapshots: [] }
  Object.assign(model.processes[2], { leaks: [], reports: [] })
  model.fleet = fleetModel(model.processes, new Set())
  const { root } = runPageScript(pageScript(), model)
  const [fleet] = all(root, 'section', 'fleet')
  assert.deepEqual(all(fleet, 'table', 'fleet-group').map((t) => [t.dataset.holder, t.dataset.site]), [['sessions (Map)', 'app/sessions.js'], ['', '']])
  assert.deepEqual(all(fleet, 'table', 'fleet-healthy').flatMap((t) => all(t, 'tr').slice(1).map((row) => row.dataset.instance)), ['pod-2'])
  assert.match(text(all(fleet, 'div', 'verdict'))[0], /^2 of 3 instances leak, through 1 holder and some not named$/)
})
