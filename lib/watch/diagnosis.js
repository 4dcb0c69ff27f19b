'use strict'

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { threadId } = require('node:worker_threads')
const { namedMapSizes } = require('../cache/registry')
const { writePrivateAtomically } = require('./reports')
const { withoutWarningsAbout } = require('../errors')

/** Bytes in a mebibyte. */
const MiB = 1024 * 1024

/**
 * Pause of one `v8.queryObjects` count per MiB of used heap, at least: the CPU time per MiB
 * bench/diagnosis.js measured on Node 20 to 26 for the costlier heap shape (big strings,
 * about 16 ms/MiB; small objects about 10 to 13). Each count collects all garbage, then walks
 * the whole heap. Once this process has counted, the rate it measured (wall time: a busy
 * machine makes it longer) is used when higher.
 */
const COUNT_MS_PER_MIB = 18

/**
 * Constructors counted, in this order while the pause budget allows: every object (whose
 * growth tells objects from big strings and arrays), then the containers a leak is usually
 * held in, then pending work.
 */
const COUNTED = [Object, Array, Map, Set, Promise]

/** Floors kept when the watcher's `window` is not given: enough to reach a leak's start. */
const DEFAULT_FLOORS_KEPT = 32

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

/**
 * The report of a leak that got no heap snapshot (declined for its pause, snapshots off, or
 * the write failed): what can be learned without serializing the heap, and what was not
 * looked at and why. No step of it pauses the event loop longer than `snapshotMaxPauseMs`.
 *
 * Made by the watcher when it starts; it is told each floor (`noteFloor`: V8's heap spaces
 * and the named BoundedMaps' sizes, about 3 µs plus 4 µs per named map) and keeps the last
 * `window` + 2, so
 * that a leak's report compares with the floor its window started from. `diagnose(leak, …)`
 * then builds the report, emits it as `report` (`kind: 'no-snapshot'`) and, with a `dir`,
 * writes it there as `leakproof-<time>-<pid>-<threadId>-diagnosis.report.json` (0600,
 * complete or absent). The report (every field always present):
 * - `kind: 'no-snapshot'`, `time`, `pid`, `threadId`, `path` (the file, or null);
 * - `leak`: the leak event's fields; `heapSnapshot: { taken: false, why, detail }`;
 * - `sites`: the ranked allocation sites `{ windowMs, sites }` (sites.js), or null;
 * - `heapSpaces: { since, until, grew: [{ space, beforeBytes, afterBytes, growthBytes, holds }] }`,
 *   the spaces that grew between the floor the leak started from and the newest floor;
 * - `collections: { boundedMaps, handles }`: named BoundedMaps (by name, summed over the maps
 *   of one name) that grew, `[{ name, maps, sizeBefore, size, bytesBefore, bytes, max,
 *   maxBytes }]`; tracked listener, timer and promise sites that grew since the previous
 *   diagnosis (since tracking began, at the first), as `compareCensus` entries;
 * - `objectCounts`: null, or `{ heapBytes, pauseMs, counts: [{ constructor, count, previous }] }`
 *   (`previous`: at the previous diagnosis, or null), from `v8.queryObjects`, counted only
 *   while the predicted pause (COUNT_MS_PER_MIB per MiB of used heap, or the rate this
 *   process measured when higher) fits `snapshotMaxPauseMs`. Node's ExperimentalWarning
 *   about it is left out: the user's code did not call it.
 * - `lookedAt: [string]`, `notLookedAt: [{ what, why }]`.
 *
 * One diagnosis at a time: `diagnose` while one runs resolves null. It never throws nor
 * rejects: failures are `error` events (`during: 'diagnosis'`); a report that could not be
 * written is still emitted, with `path: null`.
 */
class Diagnosis {
  #dir
  #top
  #maxPauseMs
  #emit
  #floorsKept
  #floors = [] // the last floors: { time, spaces: { name: usedBytes }, maps: Map name -> sizes }
  #growingHandles = null // a GrowingSites, made with the first diagnosis
  #countMsPerMiB = COUNT_MS_PER_MIB
  #previousCounts = new Map() // constructor name -> count at the previous diagnosis
  #busy = false
  #stopped = false

  /**
   * @param {{ dir?: string, top: number, snapshotMaxPauseMs: number, window?: number }} options
   *   the watcher's settings: `dir` where reports go (none: emitted only), `top` entries
   *   per list, `snapshotMaxPauseMs` the longest pause allowed, `window` floors in a leak's window.
   * @param {{ emit: (type: string, fields: object) => void }} parts `emit` emits a watcher event.
   */
  constructor({ dir, top, snapshotMaxPauseMs, window }, { emit }) {
    this.#dir = dir === undefined ? null : path.resolve(dir)
    this.#top = top
    this.#maxPauseMs = snapshotMaxPauseMs
    this.#floorsKept = (window ?? DEFAULT_FLOORS_KEPT - 2) + 2
    this.#emit = emit
    this.#floors.push(reading(Date.now()))
  }

  /** No more reports. */
  stop() {
    this.#stopped = true
  }

  /** Records a floor (`{ time }`, as the watcher's floors.js takes it); cheap, once per floor. */
  noteFloor(floor) {
    if (this.#floors.length === this.#floorsKept) this.#floors.shift()
    this.#floors.push(reading(floor.time))
  }

  /**
   * Diagnoses `leak` (the `leak` event's fields) without a snapshot; emits and writes the
   * report (see the class doc) and resolves with it, or null when stopped or already busy.
   * @param {object} leak
   * @param {{ snapshot: string, detail?: string, sites?: object | null }} context `snapshot`: why
   *   there is none, `'declined'` (the pause budget), `'off'`, `'failed'`, or another
   *   `snapshot-skipped` reason (`'disk-budget'`, `'memory'`, …); `detail` says more;
   *   `sites` is what `SiteRanking.rank()` resolved with.
   */
  async diagnose(leak, { snapshot, detail, sites = null }) {
    if (this.#busy || this.#stopped) return null
    this.#busy = true
    try {
      const report = await this.#build(leak, snapshot, detail ?? null, sites)
      if (this.#stopped) return null
      report.path = this.#write(report)
      this.#emit('report', report)
      return report
    } catch (err) {
      if (!this.#stopped) this.#emit('error', { error: err.message, during: 'diagnosis' })
      return null
    } finally {
      this.#busy = false
    }
  }

  /** The report of `leak`; every step notes in `seen` what it looked at, or did not and why. */
  async #build(leak, snapshot, detail, sites) {
    const seen = { lookedAt: [], notLookedAt: [] }
    seen.notLookedAt.push({ what: 'heap snapshot', why: snapshotWhy(snapshot, detail) })
    seen.notLookedAt.push({ what: 'retainers (what holds the growing objects)', why: 'known only from a heap snapshot' })
    if (sites !== null) seen.lookedAt.push('allocation sites whose live bytes grow (sampling heap profiler)')
    else seen.notLookedAt.push({ what: 'allocation sites', why: 'no ranking of sites was given (sites: false, or it failed)' })
    const objectCounts = await this.#countObjects(seen)
    const [since, until] = this.#comparedFloors(leak.since)
    return {
      kind: 'no-snapshot',
      time: Date.now(),
      pid: process.pid,
      threadId,
      path: null,
      leak: withoutEnvelope(leak),
      heapSnapshot: { taken: false, why: snapshot, detail },
      sites,
      heapSpaces: grownSpaces(since, until, seen),
      collections: { boundedMaps: grownMaps(since, until, this.#top, seen), handles: this.#grownHandles(seen) },
      objectCounts,
      ...seen,
    }
  }

  /**
   * The floors to compare: the newest at or before `since` (where the leak's window starts;
   * the oldest kept otherwise), and the newest, or a reading now when there is no later one.
   */
  #comparedFloors(since) {
    const floors = this.#floors
    let start = floors[0]
    for (const floor of floors) if (floor.time <= since) start = floor
    const newest = floors[floors.length - 1]
    return [start, newest === start ? reading(Date.now()) : newest]
  }

  /** The tracked listener, timer and promise sites that grew since the previous diagnosis. */
  #grownHandles(seen) {
    // Loaded when first needed, like reports.js does: most processes never diagnose.
    const { GrowingSites } = require('../track/census')
    this.#growingHandles ??= new GrowingSites()
    seen.lookedAt.push('tracked listener, timer and promise sites (trackListeners, trackEmitter, trackTimers, trackPromises)')
    seen.notLookedAt.push({ what: 'untracked listeners, timers and promises', why: 'only tracked ones are counted by call site' })
    return this.#growingHandles.top(this.#top)
  }

  /**
   * Live objects of the COUNTED constructors, as many as fit the pause budget: each count is
   * a pause of its own (the event loop runs between them), and together they must fit
   * `snapshotMaxPauseMs`. Null when none fits.
   */
  async #countObjects(seen) {
    const what = 'live objects by constructor (v8.queryObjects)'
    if (typeof v8.queryObjects !== 'function') {
      seen.notLookedAt.push({ what, why: `v8.queryObjects is not in Node ${process.version} (it is from 20.13 and 22)` })
      return null
    }
    const heapBytes = v8.getHeapStatistics().used_heap_size
    const counts = []
    let pauseMs = 0
    for (const ctor of COUNTED) {
      const predictedMs = this.#countMsPerMiB * (heapBytes / MiB)
      if (pauseMs + predictedMs > this.#maxPauseMs) {
        const left = COUNTED.slice(counts.length).map((c) => c.name).join(', ')
        const why = `each count would pause the event loop about ${Math.round(predictedMs)} ms at this heap ` +
          `(${Math.round(heapBytes / MiB)} MiB); snapshotMaxPauseMs is ${this.#maxPauseMs}`
        seen.notLookedAt.push({ what: `${what}: ${left}`, why })
        break
      }
      if (counts.length > 0) await new Promise(setImmediate)
      const started = performance.now()
      const count = withoutWarningsAbout('queryObjects', () => v8.queryObjects(ctor, { format: 'count' }))
      const ms = performance.now() - started
      this.#countMsPerMiB = Math.max(COUNT_MS_PER_MIB, ms / Math.max(1, heapBytes / MiB))
      pauseMs += ms
      counts.push({ constructor: ctor.name, count, previous: this.#previousCounts.get(ctor.name) ?? null })
      this.#previousCounts.set(ctor.name, count)
    }
    if (counts.length === 0) return null
    seen.lookedAt.push(`${what}: ${counts.map((c) => c.constructor).join(', ')}`)
    return { heapBytes, pauseMs: Math.round(pauseMs), counts }
  }

  /** Writes the report into the dir (made 0700 if missing); its path, or null with an `error` event. */
  #write(report) {
    if (this.#dir === null) return null
    const stamp = new Date(report.time).toISOString().replace(/[:.]/g, '-')
    const file = path.join(this.#dir, `leakproof-${stamp}-${process.pid}-${threadId}-diagnosis.report.json`)
    try {
      fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
      writePrivateAtomically(file, JSON.stringify({ ...report, path: file }, null, 2))
      return file
    } catch (err) {
      this.#emit('error', { error: err.message, during: 'diagnosis' })
      return null
    }
  }
}

/** An event's own fields, without those every watcher event has (the report has its own). */
function withoutEnvelope({ type: _type, pid: _pid, threadId: _threadId, ...fields }) {
  return fields
}

/** Why there is no snapshot, in words, by the `snapshot` given to `diagnose`. */
const SNAPSHOT_WHY = {
  declined: 'declined: its pause would exceed snapshotMaxPauseMs',
  off: "snapshots are off (snapshots: 'off', or no dir)",
  failed: 'writing it failed',
}

/** Why no snapshot, with its detail, for `notLookedAt`. */
function snapshotWhy(snapshot, detail) {
  const said = SNAPSHOT_WHY[snapshot] ?? `skipped (${snapshot})`
  return detail === null ? said : `${said}: ${detail}`
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
 * The heap spaces that grew from `since` to `until`, most growth first, the young
 * generation's after the rest: its growth depends on when the last scavenge ran, and
 * listed first it would hide the space a leak fills.
 */
function grownSpaces(since, until, seen) {
  seen.lookedAt.push('V8 heap spaces (v8.getHeapSpaceStatistics) at the floor the leak started from and at the newest')
  const grew = []
  for (const [space, afterBytes] of Object.entries(until.spaces)) {
    const beforeBytes = since.spaces[space] ?? 0
    if (afterBytes <= beforeBytes) continue
    const holds = SPACE_HOLDS[space] ?? "V8's own data"
    grew.push({ space, beforeBytes, afterBytes, growthBytes: afterBytes - beforeBytes, holds })
  }
  grew.sort((a, b) => Number(YOUNG_SPACES.has(a.space)) - Number(YOUNG_SPACES.has(b.space)) || b.growthBytes - a.growthBytes)
  return { since: since.time, until: until.time, grew }
}

/** The named BoundedMaps that grew (entries or bytes) from `since` to `until`, most entries gained first. */
function grownMaps(since, until, top, seen) {
  seen.lookedAt.push('named BoundedMaps (entries and bytes)')
  seen.notLookedAt.push({ what: 'plain Maps, Sets and arrays by variable', why: 'only named BoundedMaps are known by name without a snapshot' })
  const grew = []
  for (const [name, now] of until.maps) {
    const was = since.maps.get(name) ?? { size: 0, bytes: 0 }
    if (now.size <= was.size && now.bytes <= was.bytes) continue
    const { maps, size, bytes, max, maxBytes } = now
    grew.push({ name, maps, sizeBefore: was.size, size, bytesBefore: was.bytes, bytes, max, maxBytes })
  }
  grew.sort((a, b) => b.size - b.sizeBefore - (a.size - a.sizeBefore) || b.bytes - b.bytesBefore - (a.bytes - a.bytesBefore))
  return grew.slice(0, top)
}

module.exports = { Diagnosis, COUNTED }
