/// <reference lib="dom" />
'use strict'

/* global document */

/**
 * The report page's script: what runs in the browser and builds the page from the MODEL
 * (collect.js's). A CommonJS module like any other, so that Node's tests require it; the page
 * gets this folder's modules as they are, whole, and of the package's other modules the
 * functions they require by name (page-script.js builds the script). So it may require only
 * with `const { … } = require('…')`, and what it requires from outside this folder must be
 * functions that use nothing outside themselves.
 *
 * Hooks for tests: the first suspect row has the class `suspect-first`; the profiles' list has
 * the class `profiles`; each process's section has the id `process-N` (N: its index in the
 * MODEL's processes); the charts' hooks are chart.js'.
 */
const { bytesText } = require('../../shared/bytes-text')
const { rankReports } = require('../../diagnose/holder-label')
const { fmtTime, fmtMs, fmtRate, shareText, fmtCount, h, table, section } = require('./page-dom')
const { renderFleet } = require('./fleet-view')
const { renderChart, makeCharts } = require('./chart')

/** What the person on call should look at next, per leak kind. */
const NEXT_STEPS = {
  heap: 'The JavaScript heap grows. Start with the first suspect below: "held by" names the variable or property that keeps the new objects alive, in your code\'s words. Then the growing allocation sites (file:line): the code that adds to it. Bound it (a BoundedMap with max, maxBytes or ttl), or delete entries once they are done with.',
  external: 'External memory grows: Buffers, ArrayBuffers or typed arrays that JavaScript still holds (their bytes live outside the heap). Look for Buffer, Uint8Array or ArrayBuffer among the suspects and what holds them, for streams nobody reads to the end, and for small slices of big Buffers (a slice keeps the whole Buffer alive).',
  native: 'Native memory grows outside V8: a native addon, zlib or crypto contexts that are never closed, worker threads never terminated, or the allocator keeping freed memory (glibc arenas: try MALLOC_ARENA_MAX=2, or jemalloc). Heap snapshots do not show it: compare RSS with the heap and external floors, and update or remove native addons one at a time.',
}

/** The time scale that showed a leak and its window: `hours (4.3 h window)`; `–` from older logs. */
function fmtScale(leak) {
  if (!leak.scale) return '–'
  if (!Number.isFinite(leak.scaleSpanMs)) return leak.scale
  const hours = leak.scaleSpanMs / 3_600_000
  return `${leak.scale} (${hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(hours * 60)} min`} window)`
}

/** A restart event's evidence: `3 files, settled`, `3 files kept, 1 lost`. */
function restartEvidenceText(r) {
  if (r.kept === null) return ''
  if (r.step === 'due') return `${r.kept} files${r.settled ? '' : ', not settled: the limit came too near to wait for a report'}`
  return `${r.kept} files kept${r.lost > 0 ? `, ${r.lost} lost (rotated away meanwhile)` : ''}`
}

/** `file:line:column`, or the function's name when it has no file. */
function siteText(site) {
  if (!site) return ''
  if (typeof site === 'string') return site
  const where = site.url ? `${site.url}:${site.line}:${site.column}${builtText(site)}` : '(no file)'
  return site.functionName ? `${site.functionName} at ${where}` : where
}

/** ` (built: dist/a.js:9:12)` where a source map placed a site, else ''. */
function builtText(site) {
  return site.built ? ` (built: ${site.built})` : ''
}

/**
 * Where an allocation site is: `file:line:column`, or for a package's site its name and file
 * within it, `express-session: session/memory.js:119`. A package's or Node's site (`node:…`)
 * then says which function of the app called into it, or that none did.
 */
function allocationSiteText(site) {
  if (!site.url) return '–'
  const file = site.url.replace(/\\/g, '/')
  const where = site.package
    ? `${site.package}: ${file.slice(file.lastIndexOf(`/${site.package}/`) + site.package.length + 2)}:${site.line}`
    : `${site.url}:${site.line}:${site.column}${builtText(site)}`
  if (!site.package && !site.url.startsWith('node:')) return where
  return `${where} (${site.appFrame ? `called from ${siteText(site.appFrame)}` : 'no caller in the app'})`
}

/** A file's name as the page shows it: of several directories, after its directory's name. */
function fileLabel(model, file) {
  const dirs = model.dirs || []
  if (dirs.length < 2) return file.name
  return `${(dirs.find((d) => d.path === file.dir) || { name: '?' }).name}/${file.name}`
}

/** The page's header: what was read (each directory by its name, of several), when, and the MODEL's notes. */
function renderHeader(model) {
  const files = model.files || {}
  const dirs = model.dirs || []
  const several = dirs.length > 1
  const list = (kind, items) => (items && items.length
    ? h('li', null, `${kind}: `, items.map((f, i) => [i ? ', ' : '', h('span', { class: 'code' }, fileLabel(model, f)), ` (${bytesText(f.bytes)})`]))
    : null)
  const notes = (model.notes || []).map((note) => h('li', null, note))
  return [
    h('h1', null, 'leakproof report'),
    h('div', { class: 'muted' }, `${several ? `${dirs.length} directories` : model.dir || ''} · generated ${fmtTime(model.generatedAt)} UTC · all times UTC`),
    several ? h('ul', { class: 'dirs' }, dirs.map((d) => h('li', null, h('strong', null, d.name), ': ', h('span', { class: 'code' }, d.path)))) : null,
    h('ul', null, list('logs', files.logs), list('reports', files.reports), list('heap snapshots', files.snapshots)),
    notes.length ? h('ul', { class: 'notes' }, notes) : null,
  ]
}

/** One line on whether the process leaks: the kinds, their newest slope and when first reported. */
function renderVerdict(proc) {
  const leaks = proc.leaks || []
  if (leaks.length === 0) return h('div', { class: 'verdict healthy' }, 'no leak found')
  const kinds = [...new Set(leaks.map((l) => l.kind))]
  const parts = kinds.map((kind) => {
    const ofKind = leaks.filter((l) => l.kind === kind)
    const newest = ofKind[ofKind.length - 1]
    const urgent = ofKind.some((l) => l.urgent) ? ', urgent' : ''
    const scale = newest.scale ? ` on the ${newest.scale} scale` : ''
    return `${kind} leak: ${fmtRate(newest.slopeBytesPerSec)}${scale} since ${fmtTime(newest.since)}, first reported ${fmtTime(ofKind[0].time)}${urgent}`
  })
  return h('div', { class: 'verdict leak' }, parts.join(' · '))
}

/** The leak reports of one process, with their fitted slopes. */
function renderLeaks(proc) {
  return section('Leak reports', table([
    ['time', (l) => fmtTime(l.time)],
    ['kind', (l) => l.kind],
    ['growth', (l) => fmtRate(l.slopeBytesPerSec), 'num'],
    ['time scale', fmtScale],
    ['shown by', (l) => (l.test ? `the ${l.test} test` : '–')],
    ['floor', (l) => bytesText(l.current), 'num'],
    ['growing since', (l) => fmtTime(l.since)],
    ['reaches the limit', (l) => (Number.isFinite(l.projectedLimitAt) ? fmtTime(l.projectedLimitAt) : '–')],
    ['urgent', (l) => (l.urgent ? 'yes' : 'no')],
  ], proc.leaks))
}

/** What to do next, for each leak kind this process has. */
function renderNextSteps(proc) {
  const kinds = [...new Set((proc.leaks || []).map((l) => l.kind))]
  const steps = kinds.filter((k) => NEXT_STEPS[k]).map((k) => h('p', null, h('strong', null, `${k}: `), NEXT_STEPS[k]))
  return steps.length ? section('What to do next', h('div', { class: 'next' }, steps)) : []
}

/**
 * One report (a snapshot pair's diff, or a diagnosis without a snapshot): suspects, collections,
 * handles. A pair's suspects are new objects by what they retain; a diagnosis's are the census'
 * collections that grew, by their entries and the bytes one holds.
 */
function renderReport(report, index) {
  const pair = report.kind === 'pair'
  const sizes = pair
    ? [['new objects', (s) => fmtCount(s.count), 'num'], ['retained', (s) => bytesText(s.retainedSize), 'num']]
    : [
        ['entries', (s) => `${fmtCount(s.before)} → ${fmtCount(s.after)}`, 'num'],
        ['bytes per entry', (s) => `${bytesText(s.bytesPerEntry)}${s.bytesPerEntrySource === 'slope' ? ' (est.)' : ''}`, 'num'],
      ]
  const suspects = table([
    ['#', (_s, i) => i + 1],
    ['class', (s) => (s.memberHandle ? `${s.name} (${s.memberHandle} handle)` : s.name), 'code'],
    ...sizes,
    ['share of the growth', (s) => shareText(s.share), 'num'],
    ['held by', (s) => s.holder || '(no named holder)', 'holder'],
    ['path', (s) => s.path || '', 'code'],
  ], report.suspects, (_s, i) => (index === 0 && i === 0 ? 'suspect-first' : null))
  const evidence = { census: ', holder from the census', sites: ', allocation sites only', none: ', no holder found', 'pair and census': ', confirms the census' }[report.evidence] || ''
  const roots = table([
    ['held by', (r) => r.holder || '', 'holder'],
    ['share of the growth', (r) => shareText(r.share), 'num'],
    ['new', (r) => (r.newBytes === null ? '' : bytesText(r.newBytes)), 'num'],
    ['what', (r) => r.what || '', 'code'],
  ], report.growthRoots || [])
  const collections = table([
    ['collection', (c) => c.name, 'code'],
    ['entries', (c) => `${fmtCount(c.before)} → ${fmtCount(c.after)}`, 'num'],
    ['retained', (c) => bytesText(c.retainedSize), 'num'],
    ['share of the growth', (c) => shareText(c.share), 'num'],
    ['native', (c) => (c.nativeBytes > 0 ? `${bytesText(c.nativeBytes)} ${c.nativeKinds}` : ''), 'num'],
    ['held by', (c) => c.holder || c.path || ''],
  ], report.grownCollections)
  const handles = table([
    ['kind', (g) => g.kind],
    ['site', (g) => siteText(g.site), 'code'],
    ['event', (g) => g.event || ''],
    ['count', (g) => `${fmtCount(g.before)} → ${fmtCount(g.after)}`, 'num'],
  ], report.growingHandles)
  const notLooked = (report.notLookedAt || []).map((n) => h('li', null, `${n.what}: ${n.why}`))
  return [
    h('h3', null, `Report${report.name ? ` ${report.name}` : ''} (${pair ? `snapshot pair${evidence}` : `no snapshot${evidence}`}, ${fmtTime(report.time)})`),
    ...section('What holds the growth', roots),
    ...section(pair ? 'Suspects: new objects by what they retain' : 'Suspects: collections that grew between the census passes', suspects || h('p', { class: 'muted' }, 'no suspects')),
    ...section('Collections that grew', collections),
    ...section('Listener, timer and promise sites that grew', handles),
    ...renderNative(report.native),
    (report.lookedAt || []).length ? h('p', { class: 'muted' }, `looked at: ${report.lookedAt.join('; ')}`) : null,
    notLooked.length ? h('ul', { class: 'muted' }, notLooked) : null,
  ]
}

/** A native leak's verdict: whether JS objects hold it, else what grew and what to run next. */
function renderNative(native) {
  if (!native) return []
  const grown = table([
    ['mapping', (m) => m.label || ''],
    ['growth', (m) => bytesText(m.growthBytes), 'num'],
  ], native.mappings)
  const next = native.next.map((n) => h('li', null, [n.what ? `${n.what}: ` : '', h('code', null, n.command)]))
  return [
    h('h3', null, `Native memory: ${native.verdict}${native.growthBytes === null ? '' : ` (+${bytesText(native.growthBytes)})`}`),
    native.explanation ? h('p', null, native.explanation) : null,
    grown,
    next.length ? h('ol', null, next) : null,
  ]
}

/** Allocation sites, listener leaks, snapshots, skips, thresholds, restarts and errors of one process. */
function renderDetails(proc) {
  return [
    ...section('Allocation sites whose live bytes grow', table([
      ['function', (s) => s.functionName || '(anonymous)', 'code'],
      ['where', allocationSiteText, 'code'],
      ['growth', (s) => bytesText(s.growthBytes), 'num'],
      ['live', (s) => bytesText(s.liveBytes), 'num'],
    ], (proc.sites || []).slice(0, 15))),
    ...section('Listener leaks', table([
      ['emitter', (l) => l.emitter, 'code'], ['event', (l) => l.event, 'code'],
      ['added at', (l) => siteText(l.site), 'code'], ['listeners', (l) => fmtCount(l.count), 'num'],
    ], proc.listenerLeaks)),
    ...section('Heap snapshots', table([
      ['time', (s) => fmtTime(s.time)], ['file', (s) => s.name, 'code'], ['size', (s) => bytesText(s.bytes), 'num'],
      ['pause', (s) => fmtMs(s.durationMs), 'num'], ['role', (s) => s.role], ['reason', (s) => s.reason],
    ], proc.snapshots)),
    ...section('Snapshots skipped', table([
      ['time', (s) => fmtTime(s.time)], ['skipped', (s) => s.skipped], ['reason', (s) => s.reason], ['detail', (s) => s.detail],
    ], proc.skips)),
    ...section('Thresholds crossed', table([
      ['time', (t) => fmtTime(t.time)], ['kind', (t) => t.kind], ['floor', (t) => bytesText(t.current), 'num'], ['limit', (t) => bytesText(t.limit), 'num'],
    ], proc.thresholds)),
    ...section('Restart', table([
      ['time', (r) => fmtTime(r.time)],
      ['step', (r) => (r.step === 'due' ? `due (${r.kind}${r.beforeMinInterval ? ', before minIntervalMs: the limit was near' : ''})` : 'exit')],
      ['time left to the limit', (r) => (r.timeLeftMs === null ? '–' : fmtMs(r.timeLeftMs)), 'num'],
      ['bytes left', (r) => (r.bytesLeft === null ? '' : bytesText(r.bytesLeft)), 'num'],
      ['evidence', (r) => restartEvidenceText(r)],
    ], proc.restarts)),
    ...section('Errors', table([['time', (e) => fmtTime(e.time)], ['during', (e) => e.during], ['error', (e) => e.error, 'code']], proc.errors)),
  ]
}

/**
 * The section of one process: verdict, timeline, leaks, next steps, reports, details. The
 * reports of snapshot pairs come first (they name what holds the leak), each kind newest first.
 */
function renderProcess(proc, index, charts) {
  const shown = proc.floors.time.length
  const sampling = proc.downsampled
    ? `showing ${fmtCount(shown)} of ${fmtCount(proc.floorsTotal)} floors (downsampled)`
    : `${fmtCount(shown)} floors`
  const limits = [proc.heapLimit ? `heap limit ${bytesText(proc.heapLimit)}` : null, proc.containerLimit ? `container limit ${bytesText(proc.containerLimit)}` : null].filter(Boolean)
  const reports = rankReports(proc.reports || [])
  return h('section', { class: 'process', id: `process-${index}` },
    h('h2', null, proc.instance || proc.label),
    h('div', { class: 'muted' }, [`${fmtTime(proc.firstAt)} – ${fmtTime(proc.lastAt)}`, sampling, ...limits].join(' · ')),
    renderVerdict(proc),
    shown > 0 ? renderChart(proc, charts) : h('p', { class: 'muted' }, 'no floors in the log for this process'),
    h('div', { class: 'muted' }, 'Dashed: each leak\'s fitted trend. Red lines: leak reports. Blue bands: heap snapshots (as wide as their pause). Dotted: skipped snapshots. Ticks at the bottom: forced GCs.'),
    ...renderLeaks(proc), ...renderNextSteps(proc),
    reports.map((r, i) => renderReport(r, i)),
    ...renderDetails(proc))
}

/** Where a heap profile opens, by its kind. */
function profileOpener(profile) {
  if (profile.kind === 'heapprofile') return 'open in Chrome DevTools → Memory → Load profile'
  if (profile.kind === 'pprof') return `open with go tool pprof -http=: ${profile.name}, or in Pyroscope, Grafana or Datadog`
  return ''
}

/** The directory's heap profiles, one line each with where to open it; nothing when it has none. */
function renderProfiles(model) {
  const profiles = model.profiles || []
  if (profiles.length === 0) return []
  const line = (p) => h('li', null, h('span', { class: 'code' }, fileLabel(model, p)), ` (${bytesText(p.bytes)}, ${fmtTime(p.mtime)}): `, profileOpener(p))
  return [h('h2', null, 'Profiles'), h('ul', { class: 'profiles' }, profiles.map(line))]
}

/** Reads the MODEL from the page, builds the DOM, then the charts once their width is known. */
function main() {
  const model = JSON.parse(document.getElementById('leakproof-model').textContent)
  const root = document.getElementById('root')
  const charts = []
  root.append(...renderHeader(model).filter(Boolean))
  if (model.fleet) root.append(renderFleet(model))
  if ((model.processes || []).length === 0) root.append(h('p', { class: 'verdict healthy' }, 'no leakproof events found in this directory'))
  ;(model.processes || []).forEach((proc, i) => root.append(renderProcess(proc, i, charts)))
  root.append(...renderProfiles(model))
  makeCharts(charts)
}

module.exports = { fmtScale, restartEvidenceText, siteText, allocationSiteText, fileLabel, profileOpener, main }
