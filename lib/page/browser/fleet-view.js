/// <reference lib="dom" />
'use strict'

/**
 * The report page's fleet view (a browser module, as page.js says): at the top of a page of more
 * than one instance, the instances that leak grouped by what holds their leak (the MODEL's
 * `fleet`, fleet.js), each with since when, its rate, when it reaches its limit and its newest
 * evidence; then those with no leak found.
 *
 * Hooks for tests: the view is `section.fleet`; each group's table is `table.fleet-group` with
 * `data-holder` and `data-site` (both empty for the group whose reports name no holder), the
 * healthy instances' `table.fleet-healthy`; each row has `data-instance` (the instance's name).
 */
const { bytesText } = require('../../shared/bytes-text')
const { durationText } = require('../../shared/duration-text')
const { fmtTime, fmtRate, shareText, h, table } = require('./page-dom')

/** When the newest leak reaches its limit, as of its report: `in 38 min (2026-…), limit 4.0 GB`. */
function limitText(leak) {
  if (!leak || !Number.isFinite(leak.projectedLimitAt)) return '–'
  const limit = Number.isFinite(leak.limit) ? `, limit ${bytesText(leak.limit)}` : ''
  return `in ${durationText(leak.projectedLimitAt - leak.time)} (${fmtTime(leak.projectedLimitAt)})${limit}${leak.urgent ? ', urgent' : ''}`
}

/** An instance's name, a link to its section further down. */
function instanceLink(instance) {
  return h('a', { href: `#process-${instance.process}` }, instance.name)
}

/**
 * An instance's newest evidence: its report's file, then its snapshots', each with its path as a
 * tooltip, or said to be missing where its event named a file the directory does not hold.
 */
function evidenceCell(instance) {
  const file = (item) => h('div', { class: 'code', title: item.path }, item.name, item.path ? null : h('span', { class: 'muted' }, ' (not in the directory)'))
  const report = instance.report && instance.report.name ? file(instance.report) : null
  const snapshots = (instance.snapshots || []).map(file)
  return report || snapshots.length ? h('div', null, report, snapshots) : '–'
}

/** The heading and table of one holder's instances (or of those whose reports name no holder). */
function renderFleetGroup(fleet, group) {
  const rows = group.instances.map((i) => fleet.instances[i])
  const named = group.holder !== null
  const heading = h('h3', { class: 'fleet-holder' },
    named ? h('span', { class: 'holder' }, group.holder) : 'Holder not named',
    named && group.site ? [' at ', h('span', { class: 'code' }, group.site)] : null,
    ` — ${rows.length} of ${fleet.instances.length} instances, leaking since ${fmtTime(group.firstLeakAt)}`)
  const rowsTable = table([
    ['instance', instanceLink],
    ['leaking since', (r) => fmtTime(r.firstLeakAt)],
    ['kind', (r) => r.kinds.join(', ') || '–'],
    ['growth', (r) => fmtRate(r.newestLeak && r.newestLeak.slopeBytesPerSec), 'num'],
    ['reaches the limit', (r) => limitText(r.newestLeak)],
    ...(named ? [['share of the growth', (r) => shareText(r.share), 'num']] : []),
    ['newest evidence', evidenceCell],
  ], rows, (r) => ({ 'data-instance': r.name }))
  rowsTable.classList.add('fleet-group')
  rowsTable.dataset.holder = named ? group.holder : ''
  rowsTable.dataset.site = named ? group.site : ''
  const why = named ? null : h('p', { class: 'muted' }, 'Their reports name no holder: no report yet, only allocation sites, or memory that no JS object holds (native). See each one\'s section.')
  return [heading, why, rowsTable]
}

/** The instances with no leak found: when each was seen, and its newest heap floor. */
function renderFleetHealthy(model) {
  const fleet = model.fleet
  const rows = fleet.healthy.map((i) => fleet.instances[i])
  const heapNow = (r) => {
    const heap = (model.processes[r.process].floors || {}).heap || []
    return bytesText(heap.filter(Number.isFinite).at(-1))
  }
  const rowsTable = table([
    ['instance', instanceLink],
    ['seen from', (r) => fmtTime(r.firstAt)],
    ['to', (r) => fmtTime(r.lastAt)],
    ['heap floor, newest', heapNow, 'num'],
  ], rows, (r) => ({ 'data-instance': r.name }))
  if (rowsTable === null) return []
  rowsTable.classList.add('fleet-healthy')
  return [h('h3', null, `No leak found — ${rows.length} of ${fleet.instances.length} instances`), rowsTable]
}

/** The fleet view: a summary line, each holder's instances, then the instances with no leak found. */
function renderFleet(model) {
  const fleet = model.fleet
  const holders = fleet.groups.filter((g) => g.holder !== null).length
  const summary = fleet.leaking === 0
    ? 'no leak found in any instance'
    : `${fleet.leaking} of ${fleet.instances.length} instances leak, through ${holders} holder${holders === 1 ? '' : 's'}${holders < fleet.groups.length ? ' and some not named' : ''}`
  return h('section', { class: 'fleet' },
    h('h2', null, 'Fleet'),
    h('div', { class: `verdict ${fleet.leaking === 0 ? 'healthy' : 'leak'}` }, summary),
    h('div', { class: 'muted' }, 'An instance is one process (or worker thread) of one directory. Grouped by what holds the leak, as its newest report names it (a snapshot pair\'s before a census\'); growth and limit from its newest leak report.'),
    fleet.groups.map((group) => renderFleetGroup(fleet, group)),
    renderFleetHealthy(model))
}

module.exports = { limitText, renderFleet }
