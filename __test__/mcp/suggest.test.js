'use strict'

/** The MCP server's suggested changes (lib/mcp/suggest.js) for the holders a report can name. */
const test = require('node:test')
const assert = require('node:assert/strict')
const { suggestedChange, entriesPerSecond, watcherTimes } = require('../../lib/mcp/suggest')

const NO_CONTEXT = { sites: [], heapLimit: null }
const maxOf = (change) => Number(/max: ([\d_]+)/.exec(change.with)[1].replace(/_/g, ''))

test('a module-level Map: the entries it holds and ten minutes more at its rate, where the code fills it', () => {
  const sites = [
    { functionName: 'other', url: '/srv/lib.js', line: 1, column: 1, package: null, appFrame: null },
    { functionName: 'login', url: '/srv/app.js', line: 42, column: 16, package: null, appFrame: null },
  ]
  const change = suggestedChange({ holder: 'sessions (Map), a module-level variable of /srv/app.js', entries: 20_000, entriesPerSec: 50, bytesPerEntry: null }, { sites, heapLimit: null })
  assert.equal(change.replace, 'new Map() where sessions is made')
  assert.equal(change.with, 'new BoundedMap({ max: 50_000 })') // 20,000 + 50/s x 600 s
  assert.equal(change.import, "const { BoundedMap } = require('leakproof')")
  assert.equal(change.filledAt, 'login /srv/app.js:42:16')
})

test('a slow rate never bounds a collection below the entries it holds', () => {
  const change = suggestedChange({ holder: 'Store.sessions (Map), a property of Store at /srv/store.js:3:1', entries: 9000, entriesPerSec: 0.001, bytesPerEntry: null }, NO_CONTEXT)
  assert.ok(maxOf(change) >= 9000, change.with)
  assert.equal(change.replace, 'new Map() where Store.sessions is made')
  assert.match(change.note, /holds 9,000 entries and gained 0\.0010 a second/)
  // Nor does a quarter of the heap.
  const big = suggestedChange({ holder: 'cache (Map), a module-level variable of /srv/app.js', entries: 1_600_000, entriesPerSec: 1000, bytesPerEntry: 1000 }, { sites: [], heapLimit: 1e9 })
  assert.ok(maxOf(big) >= 1_600_000, big.with)
})

test('a quarter of the heap limit caps the bound when the bytes an entry holds are known', () => {
  const change = suggestedChange({ holder: 'cache (Map), a module-level variable of /srv/app.js', entries: 1000, entriesPerSec: 10_000, bytesPerEntry: 1000 }, { sites: [], heapLimit: 4e9 })
  assert.equal(maxOf(change), 1_000_000) // 6,001,000 at the rate; 1e9 bytes / 1000 bytes an entry
  assert.match(change.note, /at most 1\.00 GB/)
})

test('private fields, objects, arrays, an unknown rate; nothing for a class no bounded type replaces', () => {
  const field = suggestedChange({ holder: 'this.#seen (Map), a property of Tracker', entries: 10, entriesPerSec: 1, bytesPerEntry: null }, NO_CONTEXT)
  assert.equal(field.replace, 'new Map() where this.#seen is made')
  const dict = suggestedChange({ holder: 'byToken (Object), a module-level variable of /srv/app.js', entries: 10, entriesPerSec: null, bytesPerEntry: null }, NO_CONTEXT)
  assert.equal(dict.with, 'new BoundedMap({ max: N /* the entries it must keep */ })')
  assert.match(dict.note, /dictionary/)
  const list = suggestedChange({ holder: 'log (Array), a module-level variable of /srv/app.js', entries: 100, entriesPerSec: 1, bytesPerEntry: null }, NO_CONTEXT)
  assert.equal(list.with, 'new RingBuffer(700)')
  assert.equal(list.import, "const { RingBuffer } = require('leakproof')")
  assert.equal(suggestedChange({ holder: 'ids (Set), a module-level variable of /srv/app.js', entries: 1, entriesPerSec: 1, bytesPerEntry: null }, NO_CONTEXT), null)
  assert.equal(suggestedChange({ holder: null, entries: 1, entriesPerSec: 1, bytesPerEntry: null }, NO_CONTEXT), null)
  assert.equal(suggestedChange({ holder: '(GC roots)', entries: 1, entriesPerSec: 1, bytesPerEntry: null }, NO_CONTEXT), null)
})

test('a rate needs growth and a second between the snapshots, and times from one process and thread', () => {
  assert.equal(entriesPerSecond(100, 700, 0, 60_000), 10)
  assert.equal(entriesPerSecond(100, 700, 0, 999), null)
  assert.equal(entriesPerSecond(700, 700, 0, 60_000), null)
  const a = 'leakproof-2026-11-26T09-15-19-033Z-24400-0-0-leak.heapsnapshot'
  const b = 'leakproof-2026-11-26T09-15-23-946Z-24400-0-1-follow-up.heapsnapshot'
  assert.deepEqual(watcherTimes(a, b), [Date.parse('2026-11-26T09:15:19.033Z'), Date.parse('2026-11-26T09:15:23.946Z')])
  assert.equal(watcherTimes(a, b.replace('-24400-0-', '-24401-0-')), null)
  assert.equal(watcherTimes(a, b.replace('-24400-0-', '-24400-1-')), null)
  assert.equal(watcherTimes('before.heapsnapshot', b), null)
})
