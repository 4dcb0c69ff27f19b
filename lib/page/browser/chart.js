/// <reference lib="dom" />
'use strict'

/* global window */

/**
 * The report page's timeline of one process (a browser module, as page.js says): uPlot with
 * the three floors, RSS and the container limit, each leak's fitted trend, forced GCs as
 * ticks, and markers for leak reports, snapshots and skipped snapshots. `renderChart` makes
 * its container while the page is built; `makeCharts` draws every chart once the page is in
 * place (a chart's width is its container's).
 *
 * Hooks for tests: each chart's container has `data-series` (the series' labels, comma-separated)
 * and `data-points` (points per series); each marker has `data-time` (epoch ms) and a class
 * `marker-leak`, `marker-snapshot` or `marker-skip`; the uPlot instances are
 * `window.leakproofCharts` in order of the processes.
 */
const { bytesText } = require('../../shared/bytes-text')
const { fmtTime, fmtMs, h } = require('./page-dom')

/** Series colours: the three floors, RSS and the container limit. */
const COLORS = { heap: '#d9480f', external: '#1971c2', native: '#2f9e44', rss: '#868e96', limit: '#c92a2a' }

/**
 * The chart's series: the three floors always (left axis), RSS and the container limit where
 * known (right axis, scale `rss`: RSS is often many times the floors and would flatten them).
 */
function chartSeries(proc) {
  const f = proc.floors
  const line = (label, color, values, extra) => ({ label, values, spec: { label, stroke: color, width: 1.5, spanGaps: true, value: (_u, v) => bytesText(v), ...extra } })
  const series = [
    line('heap', COLORS.heap, f.heap),
    line('external', COLORS.external, f.external),
    line('native', COLORS.native, f.native),
  ]
  const rss = f.rss || []
  if (rss.some((v) => v !== null)) series.push(line('rss', COLORS.rss, rss, { scale: 'rss' }))
  if (Number.isFinite(proc.containerLimit)) {
    const peak = Math.max(0, ...rss.filter(Number.isFinite))
    // A limit far above RSS would flatten it: listed, hidden until clicked.
    series.push(line('container limit', COLORS.limit, f.time.map(() => proc.containerLimit), { scale: 'rss', dash: [6, 4], show: peak >= proc.containerLimit / 4 }))
  }
  return series
}

/** The y axes: the floors on the left, RSS and the container limit (when shown) on the right. */
function chartAxes(series) {
  const values = (_u, ticks) => ticks.map(bytesText)
  /** @type {object[]} */
  const axes = [{}, { size: 72, values, label: 'floors (after a full GC)' }]
  if (series.some((s) => s.spec.scale === 'rss')) axes.push({ scale: 'rss', side: 1, size: 72, values, grid: { show: false }, label: 'RSS, container limit' })
  return axes
}

/** Each leak's fitted trend (dashed, from `since` to the report) and forced GCs as ticks at the bottom. */
function drawTrendsAndGcs(u, proc) {
  const ctx = u.ctx
  const { left, top, width, height } = u.bbox
  ctx.save()
  ctx.beginPath()
  ctx.rect(left, top, width, height)
  ctx.clip()
  ctx.lineWidth = 2 * window.devicePixelRatio
  ctx.setLineDash([8, 5])
  for (const leak of proc.leaks || []) {
    const start = leak.current - (leak.slopeBytesPerSec * (leak.time - leak.since)) / 1000
    ctx.strokeStyle = COLORS[leak.kind] || COLORS.limit
    ctx.beginPath()
    ctx.moveTo(u.valToPos(leak.since, 'x', true), u.valToPos(start, 'y', true))
    ctx.lineTo(u.valToPos(leak.time, 'x', true), u.valToPos(leak.current, 'y', true))
    ctx.stroke()
  }
  ctx.setLineDash([])
  ctx.strokeStyle = '#495057'
  ctx.lineWidth = window.devicePixelRatio
  for (const gc of proc.forcedGcs || []) {
    const x = u.valToPos(gc.time, 'x', true)
    ctx.beginPath()
    ctx.moveTo(x, top + height)
    ctx.lineTo(x, top + height - 5 * window.devicePixelRatio)
    ctx.stroke()
  }
  ctx.restore()
}

/** The marker elements over the plot: leak reports, snapshots (as wide as their pause), skips. */
function markerElements(proc) {
  const marker = (cls, time, label, from) => {
    const node = h('div', { class: `marker ${cls}`, 'data-time': time, title: label }, h('span', null, label))
    node.leakproofFrom = from ?? time
    node.leakproofTime = time
    return node
  }
  return [
    ...(proc.snapshots || []).map((s) => marker('marker-snapshot', s.time, `snapshot${s.role ? ` (${s.role})` : ''}, ${fmtMs(s.durationMs)} pause`, s.time - (s.durationMs || 0))),
    ...(proc.skips || []).map((s) => marker('marker-skip', s.time, `snapshot skipped: ${s.reason || s.skipped || ''}`)),
    ...(proc.leaks || []).map((l) => marker('marker-leak', l.time, `${l.kind} leak${l.urgent ? ' (urgent)' : ''}`)),
  ]
}

/** Places the markers at their times on the chart's current x scale; hides those outside it. */
function placeMarkers(u, markers) {
  const width = u.over.clientWidth
  markers.forEach((node, i) => {
    const from = u.valToPos(node.leakproofFrom, 'x')
    const to = u.valToPos(node.leakproofTime, 'x')
    node.style.display = to < 0 || from > width ? 'none' : ''
    node.style.left = `${from}px`
    node.style.width = `${Math.max(0, to - from)}px`
    node.firstChild.style.top = `${2 + (i % 4) * 14}px`
    // Near the right edge, the label goes to the line's left.
    node.classList.toggle('marker-right', from > width - 160)
  })
}

/**
 * The x range: the floors' own, widened to the process's first and last event (a snapshot
 * or a report after the last floor stays in view); a zoom inside it is kept as it is.
 */
function xRange(proc, min, max) {
  const times = proc.floors.time
  const starts = (proc.snapshots || []).map((s) => s.time - (s.durationMs || 0))
  const lo = Math.min(proc.firstAt, times[0], ...starts)
  const hi = Math.max(proc.lastAt, times[times.length - 1])
  if (min === null || max === null) return [lo, hi]
  return min <= times[0] && max >= times[times.length - 1] ? [Math.min(min, lo), Math.max(max, hi)] : [min, max]
}

/** The page's window, untyped: where uPlot's script puts `uPlot` and this page `leakproofCharts`. */
function pageWindow() {
  return /** @type {any} */ (window)
}

/** The timeline of one process: uPlot with the floors, markers and trends; returns the container. */
function renderChart(proc, charts) {
  const series = chartSeries(proc)
  const container = h('div', { class: 'chart', 'data-series': series.map((s) => s.label).join(','), 'data-points': proc.floors.time.length })
  const markers = markerElements(proc)
  const opts = {
    width: 900,
    height: 340,
    ms: 1,
    tzDate: (ms) => pageWindow().uPlot.tzDate(new Date(ms), 'Etc/UTC'),
    scales: { x: { time: true, range: (_u, min, max) => xRange(proc, min, max) } },
    series: [{ label: 'time (UTC)', value: (_u, v) => fmtTime(v) }, ...series.map((s) => s.spec)],
    axes: chartAxes(series),
    hooks: {
      ready: [(u) => { u.over.append(...markers); placeMarkers(u, markers) }],
      setScale: [(u) => placeMarkers(u, markers)],
      setSize: [(u) => placeMarkers(u, markers)],
      draw: [(u) => drawTrendsAndGcs(u, proc)],
    },
  }
  const data = [proc.floors.time, ...series.map((s) => s.values)]
  // Sized once the container is in the page (its width is known then).
  charts.push({ container, make: () => new (pageWindow().uPlot)({ ...opts, width: Math.max(320, container.clientWidth) }, data, container) })
  return container
}

/**
 * Draws the charts `renderChart` queued, once their containers are in the page, as
 * `window.leakproofCharts`; they follow the window's width.
 * @param {Array<{ container: HTMLElement, make: () => any }>} charts
 */
function makeCharts(charts) {
  const made = charts.map((c) => c.make())
  pageWindow().leakproofCharts = made
  window.addEventListener('resize', () => {
    made.forEach((u, i) => u.setSize({ width: Math.max(320, charts[i].container.clientWidth), height: 340 }))
  })
}

module.exports = { chartSeries, chartAxes, xRange, renderChart, makeCharts }
