'use strict'

/**
 * A suggested change for a collection that grows without bound, where leakproof can say one:
 * which collection, where the code fills it, and a bounded replacement for its constructor
 * call with a bound read from what was observed. Text for the agent to weigh and apply; the
 * server never touches the user's files.
 */
const { bytesText } = require('../shared/bytes-text')
const { placeText } = require('../shared/place-text')
const { parseWatcherName } = require('../shared/file-names')

/** The bound keeps the entries there are, and those of this many seconds more at the observed rate. */
const KEEP_SECONDS = 10 * 60
/** Past this share of the heap limit, a bound is lowered to it (but never below the entries there are). */
const MAX_HEAP_SHARE = 0.25
/** Two snapshots closer than this say nothing of a rate. */
const MIN_RATE_SPAN_MS = 1000

/** `n` rounded up to two significant digits, so a bound reads as chosen, not computed: 23,456 → 24,000. */
function roundUp(n) {
  const scale = 10 ** Math.max(0, Math.floor(Math.log10(Math.max(1, n))) - 1)
  return Math.ceil(n / scale) * scale
}

/** `n` as JavaScript writes a big integer legibly: 2_400_000. */
const numeral = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '_')

/**
 * Entries a second a collection gained, from `before` to `after` entries between two times
 * (ms); null when it did not grow or the times are too close to tell.
 */
function entriesPerSecond(before, after, fromMs, toMs) {
  if (!(after > before) || !(toMs - fromMs >= MIN_RATE_SPAN_MS)) return null
  return (after - before) / ((toMs - fromMs) / 1000)
}

/**
 * The times of two snapshots of one process and thread, from a watcher's file names; null for
 * other names (a file's modification time says when it was copied as readily as when it was
 * taken) or other processes.
 */
function watcherTimes(before, after) {
  const [from, to] = [before, after].map(parseWatcherName)
  if (!from?.time || !to?.time || from.pid !== to.pid || from.threadId !== to.threadId) return null
  return [from.time, to.time]
}

/**
 * The name a holder text gives (`sessions` of `sessions (Map), a module-level variable of
 * /srv/app.js`, `Store.cache`, `this.#seen`), its class, and the file it names; null when it
 * names none.
 */
function parseHolder(holder) {
  const named = /^(\S+) \(([^()]+)\)/.exec(holder ?? '')
  if (!named) return null
  // A source map's place is followed by the built one: `of /app/src/a.ts:3:7 (built: …)`.
  const file = / (?:of|at) ((?:\/|[A-Za-z]:\\|file:)[^ ]*?)(?::\d+(?::\d+)?)?(?:,| \(|$)/.exec(holder)
  return { name: named[1], className: named[2], file: file ? file[1] : null }
}

/** The growing allocation site in `file` (the holder's), directly or as the app's caller of a package; null when none is. */
function fillingSite(sites, file) {
  if (!file) return null
  const inFile = (place) => place?.url?.replace(/^file:\/\//, '') === file
  return sites.find((s) => inFile(s) || inFile(s.appFrame)) ?? null
}

/** The bounded type for a holder's class: what to construct in place of what. Null for a class none replaces. */
const REPLACEMENTS = {
  Map: { type: 'BoundedMap', was: 'new Map()', note: 'BoundedMap is a drop-in Map that evicts the least recently used entry past max.' },
  Object: { type: 'BoundedMap', was: '{}', note: 'An object used as a dictionary: obj[key] becomes .get(key), obj[key] = value .set(key, value).' },
  Array: { type: 'RingBuffer', was: '[]', note: 'RingBuffer keeps the newest entries and drops the oldest: push stays, reads go through its iterator.' },
}

/**
 * The suggested change for a collection, or null where there is none to suggest (a holder
 * without a name, a class no bounded type replaces).
 * @param {{ holder: string | null, entries: number | null, entriesPerSec: number | null, bytesPerEntry: number | null }} grown
 *   `entries`: how many it holds now
 * @param {{ sites: object[], heapLimit: number | null }} context the process' growing sites and heap limit
 */
function suggestedChange(grown, { sites, heapLimit }) {
  const holder = parseHolder(grown.holder)
  const replacement = holder && Object.hasOwn(REPLACEMENTS, holder.className) ? REPLACEMENTS[holder.className] : null
  if (replacement === null) return null
  const rate = grown.entriesPerSec > 0 ? grown.entriesPerSec : null
  const now = grown.entries > 0 ? grown.entries : 0
  let max = rate === null ? null : roundUp(now + rate * KEEP_SECONDS)
  if (max !== null && grown.bytesPerEntry > 0 && heapLimit > 0) max = Math.max(roundUp(now), Math.min(max, roundUp((MAX_HEAP_SHARE * heapLimit) / grown.bytesPerEntry)))
  const bound = max === null ? 'N /* the entries it must keep */' : numeral(max)
  const code = replacement.type === 'RingBuffer' ? `new RingBuffer(${bound})` : `new BoundedMap({ max: ${bound} })`
  const why = []
  if (max !== null) why.push(`it holds ${now.toLocaleString('en-US')} entries and gained ${rate < 10 ? rate.toPrecision(2) : Math.round(rate).toLocaleString('en-US')} a second: ${numeral(max)} keeps them and ${KEEP_SECONDS / 60} min more`)
  else why.push('the rate it grows at is not known here: N is the entries it must keep')
  if (grown.bytesPerEntry > 0 && max !== null) why.push(`at ${bytesText(grown.bytesPerEntry)} an entry, at most ${bytesText(max * grown.bytesPerEntry)}`)
  why.push('add ttl (ms) if entries expire (sessions, tokens), or delete each entry when its work ends if it must not be evicted')
  const site = fillingSite(sites, holder.file)
  return {
    collection: grown.holder,
    filledAt: site ? placeText(site) : null,
    replace: `${replacement.was} where ${holder.name} is made`,
    with: code,
    import: `const { ${replacement.type} } = require('leakproof')`,
    note: `${replacement.note} ${capitalized(why.join('; '))}.`,
  }
}

/**
 * The suggested changes for the `grown` collections (as `suggestedChange` takes them), in
 * their order, one for each collection: the first of its entries that has one.
 */
function suggestedChanges(grown, context) {
  const changes = []
  for (const collection of grown) {
    if (changes.some((c) => c.collection === collection.holder)) continue
    const change = suggestedChange(collection, context)
    if (change) changes.push(change)
  }
  return changes
}

/** `text` with its first letter in capitals. */
const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1)

module.exports = { suggestedChange, suggestedChanges, fillingSite, parseHolder, entriesPerSecond, watcherTimes }
