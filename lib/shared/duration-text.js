'use strict'

/**
 * Durations for people, one way everywhere (the MCP server's answers, the report page). The
 * function uses nothing outside itself: the report page inlines its source.
 */

/** `45 s`, `38 min`, `2.5 h`, `3.2 d` (a negative duration as 0 s); `–` when not a finite number. */
function durationText(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–'
  const s = Math.max(0, ms) / 1000
  if (s < 90) return `${Math.round(s)} s`
  if (s < 90 * 60) return `${Math.round(s / 60)} min`
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`
  return `${(s / 86400).toFixed(1)} d`
}

module.exports = { durationText }
