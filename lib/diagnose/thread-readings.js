'use strict'

/**
 * What a diagnosis (diagnosis.js) reads of the watcher's own thread at each floor, and what
 * grew between two such readings: V8's heap spaces (`v8.getHeapSpaceStatistics`, about 3 µs)
 * and the named BoundedMaps' sizes (about 4 µs a map), summed by name.
 */
const v8 = require('node:v8')
const { namedMapSizes } = require('../cache/registry')
const { looked } = require('./report-notes')

/** What each V8 heap space holds, to read a space's growth (spaces not listed: V8's own). */
const SPACE_HOLDS = {
  old_space: 'objects that survived GCs: plain objects, arrays, Maps, Sets, closures, small strings',
  large_object_space: 'single objects over about 128 KiB: big strings, big arrays, the tables of big Maps and Sets',
  new_space: 'young objects, not yet kept through a GC',
  new_large_object_space: 'young objects over about 128 KiB',
  code_space: 'compiled code: functions made by eval, new Function or vm, or modules loaded again and again',
  code_large_object_space: 'big compiled code',
  map_space: 'hidden classes: objects given ever new property names',
  trusted_space: 'bytecode and other V8 metadata of functions: code made again and again',
  trusted_large_object_space: 'big bytecode arrays',
}

/** What a floor keeps: used bytes per V8 heap space, and the named BoundedMaps' sizes by name. */
function reading(time) {
  const spaces = {}
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = s.space_used_size
  const maps = new Map()
  for (const m of namedMapSizes()) {
    const sum = maps.get(m.name)
    if (sum === undefined) maps.set(m.name, { ...m, maps: 1 })
    else {
      sum.maps++
      sum.size += m.size
      sum.bytes += m.bytes
      sum.max = sum.max === null || m.max === null ? null : sum.max + m.max
      sum.maxBytes = sum.maxBytes === null || m.maxBytes === null ? null : sum.maxBytes + m.maxBytes
    }
  }
  return { time, spaces, maps }
}

/**
 * The young generation's spaces: what they hold between two scavenges is mostly garbage of
 * the moment (tens of MB of a busy service's requests), not what a leak keeps.
 */
const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space'])

/**
 * `{ heapSpaces, notes }`: the heap spaces that grew from `since` to `until`, most growth
 * first, the young generation's after the rest: its growth depends on when the last scavenge
 * ran, and listed first it would hide the space a leak fills.
 */
function grownSpaces(since, until) {
  const grew = []
  for (const [space, afterBytes] of Object.entries(until.spaces)) {
    const beforeBytes = since.spaces[space] ?? 0
    if (afterBytes <= beforeBytes) continue
    const holds = SPACE_HOLDS[space] ?? "V8's own data"
    grew.push({ space, beforeBytes, afterBytes, growthBytes: afterBytes - beforeBytes, holds })
  }
  grew.sort((a, b) => Number(YOUNG_SPACES.has(a.space)) - Number(YOUNG_SPACES.has(b.space)) || b.growthBytes - a.growthBytes)
  return {
    heapSpaces: { since: since.time, until: until.time, grew },
    notes: looked('V8 heap spaces (v8.getHeapSpaceStatistics) at the floor the leak started from and at the newest'),
  }
}

/**
 * `{ boundedMaps, notes }`: the named BoundedMaps that grew (entries or bytes) from `since` to
 * `until`, most entries gained first, `top` at most.
 */
function grownMaps(since, until, top) {
  const grew = []
  for (const [name, now] of until.maps) {
    const was = since.maps.get(name) ?? { size: 0, bytes: 0 }
    if (now.size <= was.size && now.bytes <= was.bytes) continue
    const { maps, size, bytes, max, maxBytes } = now
    grew.push({ name, maps, sizeBefore: was.size, size, bytesBefore: was.bytes, bytes, max, maxBytes })
  }
  grew.sort((a, b) => b.size - b.sizeBefore - (a.size - a.sizeBefore) || b.bytes - b.bytesBefore - (a.bytes - a.bytesBefore))
  return { boundedMaps: grew.slice(0, top), notes: looked('named BoundedMaps (entries and bytes)') }
}

module.exports = { reading, grownSpaces, grownMaps }
