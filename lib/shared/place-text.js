'use strict'

/** An allocation site (a `sites` event's) for people: `fn /app/x.js:3:7 in pkg called from handler /app/y.js:9:1`. */
function placeText(site) {
  const at = `${site.functionName ?? '(anonymous)'} ${whereText(site)}`
  const from = site.appFrame ? ` called from ${site.appFrame.functionName ?? '(anonymous)'} ${whereText(site.appFrame)}` : ''
  return `${at}${site.package ? ` in ${site.package}` : ''}${from}`
}

/**
 * `file:line:column` of a place, and the built code's where a source map placed it
 * (`/app/src/a.ts:3:7 (built: /app/dist/a.js:9:12)`, source-positions.js).
 */
function whereText(place) {
  const at = `${place.url}:${place.line}:${place.column}`
  const built = place.generated
  return built ? `${at} (built: ${built.url ?? built.file}:${built.line}:${built.column})` : at
}

module.exports = { placeText, whereText }
