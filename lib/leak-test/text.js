'use strict'

/** Bytes for people: `1,024 B`, `64.0 KB`, `3.2 MB`. */
function bytesText(bytes) {
  if (Math.abs(bytes) < 10 * 1024) return `${Math.round(bytes).toLocaleString('en-US')} B`
  if (Math.abs(bytes) < 10 * 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

/** An allocation site (a `sites` event's) for people: `fn /app/x.js:3:7 in pkg called from handler /app/y.js:9:1`. */
function placeText(site) {
  const at = `${site.functionName ?? '(anonymous)'} ${site.url}:${site.line}:${site.column}`
  const from = site.appFrame ? ` called from ${site.appFrame.functionName ?? '(anonymous)'} ${site.appFrame.url}:${site.appFrame.line}:${site.appFrame.column}` : ''
  return `${at}${site.package ? ` in ${site.package}` : ''}${from}`
}

module.exports = { bytesText, placeText }
