/// <reference lib="dom" />
'use strict'

/* global document */

/**
 * The report page's browser helpers that page.js and fleet-view.js share: the formats of times,
 * rates and shares, and the DOM builders. A browser module, as page.js says: the page gets it
 * whole, and Node's tests require it.
 */
const { bytesText } = require('../../shared/bytes-text')

/** `2026-11-22 18:51:02.925` (UTC); `–` when unknown. */
function fmtTime(ms) {
  if (!Number.isFinite(ms)) return '–'
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** `850 ms`, `2.7 s`. */
function fmtMs(ms) {
  if (!Number.isFinite(ms)) return '–'
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`
}

/** A growth rate: `+1.2 MB/min`, or per hour under 1 MB a minute (a slow leak). */
function fmtRate(bytesPerSec) {
  if (!Number.isFinite(bytesPerSec)) return '–'
  return Math.abs(bytesPerSec) * 60 >= 1e6 ? `+${bytesText(bytesPerSec * 60)}/min` : `+${bytesText(bytesPerSec * 3600)}/h`
}

/** A share of the growth: `87%`; empty where not known. */
function shareText(share) {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : ''
}

/** `12,345`. */
function fmtCount(n) {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : '–'
}

/**
 * A new element: `attrs` keys are `class` or attribute names; `children` are nodes or
 * strings (set as text, never parsed as HTML), null and undefined left out.
 */
function h(tag, attrs, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value))
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue
    node.append(typeof child === 'string' ? document.createTextNode(child) : child)
  }
  return node
}

/**
 * A table: `columns` are `[heading, cellOf(row, index), className?]`, a cell a string (shown as
 * text) or an element; `rowAttrs(row, i)` gives a row's class, or an object of its attributes.
 * Null when there are no rows.
 */
function table(columns, rows, rowAttrs) {
  if (!rows || rows.length === 0) return null
  const head = h('tr', null, columns.map(([heading, , cls]) => h('th', { class: cls }, heading)))
  const cell = (value) => (value !== null && typeof value === 'object' ? value : String(value ?? '–'))
  const attrsOf = (row, i) => {
    const attrs = rowAttrs ? rowAttrs(row, i) : null
    return typeof attrs === 'string' ? { class: attrs } : attrs
  }
  const body = rows.map((row, i) =>
    h('tr', attrsOf(row, i), columns.map(([, cellOf, cls]) => h('td', { class: cls }, cell(cellOf(row, i))))))
  return h('table', null, h('thead', null, head), h('tbody', null, body))
}

/** A heading and its content, or nothing when the content is empty. */
function section(title, content) {
  return content ? [h('h3', null, title), content] : []
}

module.exports = { fmtTime, fmtMs, fmtRate, shareText, fmtCount, h, table, section }
