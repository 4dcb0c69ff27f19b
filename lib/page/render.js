'use strict'

/**
 * The report page: one self-contained HTML string from the MODEL that collect.js builds.
 *
 * Everything is inline (uPlot's script and style, read from the installed package at render
 * time, and this page's own script), and a Content-Security-Policy forbids every request: the
 * page opens offline from file:// and can be mailed around. The MODEL travels as JSON in a
 * `<script type="application/json">` with `<`, `>`, `&`, U+2028 and U+2029 escaped, so that
 * no string in it can close the tag; the page's script shows every string from it with
 * `textContent`, never as HTML. Only the scripts whose hashes the policy lists run.
 *
 * The page's script is page-script.js's, built from the browser modules in browser/; the MODEL's
 * shape is collect.js's (and fleet.js's, for its `fleet`).
 */
const fs = require('node:fs')
const crypto = require('node:crypto')
const { pageScript } = require('./page-script')

/** `<`, `>`, `&`, U+2028 and U+2029 as JSON escapes: JSON that cannot close a `<script>` element. */
function jsonForScript(value) {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The CSP source for an inline script or style: `'sha256-…'` of its exact text. */
function sha256Source(text) {
  return `'sha256-${crypto.createHash('sha256').update(text, 'utf8').digest('base64')}'`
}

/** uPlot's minified script and style, from the installed `uplot` package. */
function readUplot() {
  const js = fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8')
  const css = fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8')
  if (/<\/(script|style)/i.test(js + css)) throw new Error('uPlot\'s files contain a closing script or style tag')
  return { js, css }
}

/** What the page names as its generator in its head: how a directory's reader knows the page when it meets it again. */
const GENERATOR = 'leakproof report'

/** Bytes of a file's start that hold a page's head up to its generator and title. */
const PAGE_HEAD_BYTES = 4096

/**
 * Whether `head`, the start of a file (`PAGE_HEAD_BYTES` of it, or all of a shorter one), is a
 * report page: an HTML document whose head names this page as its generator, or (a page written
 * before it did) has the page's title. Whatever the file is called: `-o` writes it anywhere.
 * @param {string} head
 */
function isReportPage(head) {
  const start = head.replace(/^\uFEFF/, '').trimStart()
  if (!/^<!DOCTYPE html>/i.test(start)) return false
  const headEnd = start.search(/<\/head>|<body/i)
  const inHead = headEnd === -1 ? start : start.slice(0, headEnd)
  return inHead.includes(`<meta name="generator" content="${GENERATOR}">`) || inHead.includes(`<title>${GENERATOR}</title>`)
}

/** The page's own style. System fonts only: the page loads nothing. */
const PAGE_CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212529; margin: 0 auto; padding: 16px 24px; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 6px; border-top: 1px solid #dee2e6; padding-top: 14px; }
h3 { font-size: 15px; margin: 18px 0 6px; } .muted { color: #6c757d; } .notes li { color: #7a5b00; }
.verdict { font-weight: 600; padding: 6px 10px; border-radius: 4px; display: inline-block; margin: 4px 0 8px; }
.verdict.leak { background: #fff0f0; color: #a61e1e; } .verdict.healthy { background: #ebfbee; color: #2b8a3e; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e9ecef; vertical-align: top; }
th { color: #495057; font-weight: 600; } td.num, th.num { text-align: right; white-space: nowrap; }
td.code, span.code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; overflow-wrap: break-word; }
tr.suspect-first td { background: #fff9db; } .next { background: #f1f3f5; padding: 8px 12px; border-radius: 4px; }
.chart { position: relative; margin: 8px 0; } .marker { position: absolute; top: 0; bottom: 0; pointer-events: none; }
.marker-leak { border-left: 2px solid #c92a2a; } .marker-snapshot { background: rgba(25,113,194,.18); border-left: 1px dashed #1971c2; min-width: 2px; }
.marker-skip { border-left: 2px dotted #868e96; }
.marker span { position: absolute; left: 3px; font-size: 11px; white-space: nowrap; background: rgba(255,255,255,.85); padding: 0 2px; }
.marker-right span { left: auto; right: 3px; }
.marker-leak span { color: #c92a2a; font-weight: 600; } .marker-snapshot span { color: #1971c2; } .marker-skip span { color: #495057; }
.fleet h3.fleet-holder .holder, .fleet h3.fleet-holder .code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 14px; }
.fleet h3.fleet-holder .holder { color: #a61e1e; } a { color: #1864ab; } ul.dirs { margin: 4px 0; }
`

/**
 * The report page for `model` (see collect.js): one HTML string with everything inline, which
 * requests nothing when opened.
 * @param {object} model what collect.js returns.
 * @returns {string}
 */
function renderPage(model) {
  const uplot = readUplot()
  const script = pageScript()
  const csp = [
    "default-src 'none'",
    `script-src ${sha256Source(uplot.js)} ${sha256Source(script)}`,
    "style-src 'unsafe-inline'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ')
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="${GENERATOR}">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${GENERATOR}</title>
<style>${uplot.css}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<div id="root"></div>
<script type="application/json" id="leakproof-model">${jsonForScript(model)}</script>
<script>${uplot.js}</script>
<script>${script}</script>
</body>
</html>
`
}

module.exports = { renderPage, jsonForScript, isReportPage, PAGE_HEAD_BYTES }
