'use strict'

/** An allocation site (a `sites` event's) for people: `fn /app/x.js:3:7 in pkg called from handler /app/y.js:9:1`. */
function placeText(site) {
  const at = `${site.functionName ?? '(anonymous)'} ${site.url}:${site.line}:${site.column}`
  const from = site.appFrame ? ` called from ${site.appFrame.functionName ?? '(anonymous)'} ${site.appFrame.url}:${site.appFrame.line}:${site.appFrame.column}` : ''
  return `${at}${site.package ? ` in ${site.package}` : ''}${from}`
}

module.exports = { placeText }
