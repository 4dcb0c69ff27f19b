'use strict'

/**
 * A suggested change for a collection that grows without bound, where leakproof can say one:
 * which collection, where the code fills it, and a bounded replacement with a bound read from
 * the rate at which it gained entries. Text for the agent to weigh and apply; the server never
 * touches the user's files.
 */
const { bytesText } = require('../shared/bytes-text')
const { placeText } = require('../shared/place-text')

/** The replacement keeps the entries of this many seconds at the observed rate. */
const KEEP_SECONDS = 10 * 60
/** The replacement's entries may hold at most this share of the heap limit. */
const MAX_HEAP_SHARE = 0.25

/** `n` rounded up to two significant digits, so a bound reads as chosen, not computed: 23,456 → 24,000. */
function roundUp(n) {
  const scale = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1)
  return Math.ceil(n / scale) * scale
}

/**
 * The variable or property a holder text names (`sessions` of `sessions (Map), a module-level
 * variable of /srv/app.js`), its class, and the file it names; null when it names none.
 */
function parseHolder(holder) {
  const named = /^([\w$.#[\]'"]+) \(([^)]+)\)/.exec(holder ?? '')
  if (!named) return null
  const file = / (?:of|at) ((?:\/|[A-Za-z]:\\|file:)[^ ]*?)(?::\d+:\d+)?(?:,|$)/.exec(holder)
  return { name: named[1], className: named[2], file: file ? file[1] : null }
}

/** The growing allocation site most likely to fill a collection held in `file`: one in that file, else the app's first. */
function fillingSite(sites, file) {
  const inFile = (place) => place && file && place.url?.replace(/^file:\/\//, '') === file
  return sites.find((s) => inFile(s) || inFile(s.appFrame)) ?? sites.find((s) => !s.package && s.url && !s.url.startsWith('node:')) ?? null
}

/**
 * The suggested change for a collection, or null where there is none to suggest (a holder
 * without a name, a class no bounded type replaces).
 * @param {{ holder: string | null, entriesPerSec: number | null, bytesPerEntry: number | null }} grown
 * @param {{ sites: object[], heapLimit: number | null }} context the process' growing sites and heap limit
 */
function suggestedChange(grown, { sites, heapLimit }) {
  const holder = parseHolder(grown.holder)
  if (holder === null) return null
  const site = fillingSite(sites, holder.file)
  const rate = grown.entriesPerSec > 0 ? grown.entriesPerSec : null
  let max = rate === null ? null : roundUp(rate * KEEP_SECONDS)
  if (max !== null && grown.bytesPerEntry > 0 && heapLimit > 0) max = Math.min(max, roundUp((MAX_HEAP_SHARE * heapLimit) / grown.bytesPerEntry))
  const bound = max === null ? 'max: N /* the entries it must keep */' : `max: ${max.toLocaleString('en-US').replace(/,/g, '_')}`
  const replacement = replacementFor(holder, bound)
  if (replacement === null) return null
  const why = []
  if (rate !== null) why.push(`it gained ${Math.round(rate).toLocaleString('en-US')} entries a second; max keeps about ${Math.round(max / rate / 60)} min of them`)
  if (grown.bytesPerEntry > 0 && max !== null) why.push(`at ${bytesText(grown.bytesPerEntry)} an entry that is at most ${bytesText(max * grown.bytesPerEntry)}`)
  why.push('add ttl (ms) if entries expire (sessions, tokens), or delete each entry when its work ends if it must not be evicted')
  return {
    collection: grown.holder,
    filledAt: site ? placeText(site) : null,
    replacement: replacement.code,
    note: `${replacement.note} ${capitalized(why.join('; '))}.`,
  }
}

/** `text` with its first letter in capitals. */
const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1)

/** The bounded type that replaces `holder`'s class, as code and a note; null for a class none replaces. */
function replacementFor(holder, bound) {
  const declared = holder.name.includes('.') || holder.name.includes('[') ? holder.name : `const ${holder.name}`
  if (holder.className === 'Map') {
    return { code: `const { BoundedMap } = require('leakproof')\n${declared} = new BoundedMap({ ${bound} })`, note: 'BoundedMap is a drop-in Map that evicts the least recently used entry past max.' }
  }
  if (holder.className === 'Object') {
    return { code: `const { BoundedMap } = require('leakproof')\n${declared} = new BoundedMap({ ${bound} })`, note: `An object used as a dictionary: ${holder.name}[key] becomes .get(key) and .set(key, value).` }
  }
  if (holder.className === 'Array') {
    const capacity = bound.replace(/^max: /, '')
    return { code: `const { RingBuffer } = require('leakproof')\n${declared} = new RingBuffer(${capacity})`, note: 'RingBuffer keeps the newest entries and drops the oldest: push stays, reads go through its iterator.' }
  }
  return null
}

module.exports = { suggestedChange, parseHolder, fillingSite }
