'use strict'

/**
 * The report of a leak without a snapshot pair (the Diagnosis class below): its census
 * (census-passes.js), the thread's own readings (thread-readings.js), the allocation sites, the
 * native verdict, put together with the notes of what was and was not looked at
 * (report-notes.js), written and emitted.
 */
const fs = require('node:fs')
const path = require('node:path')
const { writePrivateAtomically } = require('../shared/write-atomically')
const { SUFFIXES, watcherFileName } = require('../shared/file-names')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { withSourcePositions } = require('../shared/source-positions')
const { ownHolderLabel } = require('./holder-label')
const { nativeStart, nativeVerdict } = require('./native-verdict')
const { looked, notLooked, notesInOrder } = require('./report-notes')
const { takeCensus, censusGapMs } = require('./census-passes')
const { reading, grownSpaces, grownMaps } = require('./thread-readings')
const { withWhereMade } = require('./where-made')
const { settledWithin, LATE } = require('../shared/settled-within')

/**
 * How long a pair's report waits for a diagnosis under way, whose holders it confirms: its
 * census' passes, a gap or two apart (at most 45 s each), and the sites ranking.
 */
const DIAGNOSIS_AWAITED_MS = 120_000

/**
 * How long a report waits for the sites' ranking once the census is done: the ranking samples
 * a slow leak for up to ten windows (minutes at the defaults), and the holder should not wait.
 */
const SITES_GRACE_MS = 5_000

/**
 * `heapSnapshot.why` of the report a leak gets while its snapshot pair is under way: the
 * census' holder comes first, the pair's report later (which restarts and `leakproof run`
 * wait for).
 */
const PAIR_PENDING = 'pair-pending'

/**
 * Why a report has no snapshot pair (see `Diagnosis#diagnose`): `why`, PAIR_PENDING or the
 * `snapshot-skipped` reason (`'declined'` for `'pause'`), `off`, `failed`; `detail` says more.
 * @typedef {{ why: string, detail: string | null }} NoPair
 */

/** @type {NoPair} A report's snapshot when its baseline is still being written as its census ends. */
const BASELINE_BEING_WRITTEN = Object.freeze({ why: PAIR_PENDING, detail: "the baseline is being written; the pair's report follows once its follow-up is" })

/** Floors kept when the watcher's `window` is not given: enough to reach a leak's start. */
const DEFAULT_FLOORS_KEPT = 32

/**
 * The report of a leak that got no heap snapshot (declined for its pause or for memory,
 * snapshots off, or the write failed): what can be learned without serializing the heap, and
 * what was not looked at and why. Its holder comes from the census (lib/diagnose/census): passes over
 * what the service's code can reach, `censusGapMs` apart, whose grown collections are the
 * suspects; no step stops the event loop for more than a slice of the census.
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
 *   diagnosis (since tracking began, at the first), as `compareLiveSites` entries;
 * - `evidence`: what names the holder: `'census'`, `'sites'` (allocation sites only) or `'none'`;
 * - `suspects`: the census' grown collections, most entries gained first (those over memory
 *   outside the heap first for an external or native leak), in the shape of a
 *   pair report's suspects (`name`, `holder`, `readablePath`) with `before`, `after`,
 *   `entriesPerSec`, `bytesPerEntry` and its source (see lib/diagnose/census/census.js), or [];
 * - `census`: null (`census: false`), or `{ passes: [{ time, durationMs, cost }], since,
 *   until, debuggerMs, notReached }`: the passes compared, the stop taken to name the
 *   holders' scripts through the Debugger domain (0 when they were named without), and what
 *   the passes did not reach;
 * - `native`: null but for a native leak: whether JS objects hold the memory (the census found
 *   collections over native handles), else where it is by kind of mapping, malloc's growth,
 *   the addons loaded and what to run next (native-verdict.js);
 * - `lookedAt: [string]`, `notLookedAt: [{ what, why }]`, by step in NOTES_ORDER.
 *
 * One diagnosis at a time: `diagnose` while one runs resolves null, and the newest such request
 * is taken once it is done. It never throws nor
 * rejects: failures are `error` events (`during: 'diagnosis'`); a report that could not be
 * written is still emitted, with `path: null`.
 */
class Diagnosis {
  #dir
  #top
  #emit
  #floorsKept
  #floors = [] // the last floors: { time, spaces: { name: usedBytes }, maps: Map name -> sizes }
  #growingHandles = null // a GrowingSites, made with the first diagnosis
  #census = null // the census (lib/diagnose/census), made with the first diagnosis; null when off
  #censusOn
  #censusGapMs
  #sitesGraceMs
  #busy = false
  #stopped = false
  #clock
  #latest = null // the newest report emitted
  #latestSitesLate = null // its sites ranking, when the report went without it: a promise
  #running = null // the diagnosis under way, a promise
  #queued = null // the newest diagnosis asked for while one was under way: { leak, context }
  #target // the thread whose leaks these are (lib/watch/leak-targets.js)

  /**
   * @param {{ dir?: string, top: number, window?: number, census?: boolean, intervalMs?: number, sitesGraceMs?: number }} options
   *   the watcher's settings: `dir` where reports go (none: emitted only), `top` entries
   *   per list, `window` floors in a leak's window, `census` whether to take a census (its
   *   passes are two `intervalMs` apart, within 1 to 45 s); `sitesGraceMs`, how long a report
   *   waits past its census for the sites (SITES_GRACE_MS; tests shorten it).
   * @param {{ emit: (type: string, fields: object) => void, clock?: import('../shared/clock').Clock, target: object }} parts
   *   `emit` emits a watcher event; `clock` says what time it is (the census' passes, which
   *   sleep between them, keep the system's); `target`, the thread whose leaks these are
   *   (lib/watch/leak-targets.js): who it is (`thread` in its reports), its census or why
   *   none can be taken (`noCensus`), and what of it is not read from here (`unread`: the
   *   heap spaces, BoundedMaps and tracked sites of a worker watched from the main thread).
   */
  constructor({ dir, top, window, census = true, intervalMs = 10_000, sitesGraceMs = SITES_GRACE_MS }, { emit, clock = SYSTEM_CLOCK, target }) {
    this.#target = target
    this.#sitesGraceMs = sitesGraceMs
    this.#clock = clock
    this.#dir = dir === undefined ? null : path.resolve(dir)
    this.#top = top
    this.#censusOn = census
    this.#censusGapMs = censusGapMs(intervalMs)
    this.#floorsKept = (window ?? DEFAULT_FLOORS_KEPT - 2) + 2
    this.#emit = emit
    this.#floors.push(reading(clock.now()))
  }

  /** No more reports. */
  stop() {
    this.#stopped = true
    this.#census?.stop()
  }

  /**
   * The newest report whose census began at or after `time` (a pair's baseline begun): the
   * holders a pair's report confirms, or null. A diagnosis under way is awaited first, for
   * `maxWaitMs` at most (a census' pass never ends in a process about to exit).
   */
  async latestSince(time, maxWaitMs = DIAGNOSIS_AWAITED_MS) {
    if (this.#running !== null) await settledWithin(this.#running, null, maxWaitMs)
    const report = this.#latest
    if (report === null || report.census === null || report.census.since < time) return null
    // The sites ranked since the report went out give its many roots their line.
    const sites = this.#latestSitesLate === null ? null : await settledWithin(this.#latestSitesLate, null, 0)
    return sites === null || sites === LATE ? report : { ...report, suspects: withWhereMade(report.suspects, sites.sites) }
  }

  /** The newest report emitted (a leak's without a pair: its holders from a census), or null. */
  get newestReport() {
    return this.#latest
  }

  /** Whether a diagnosis is under way (its census' passes hold what they walk in this heap). */
  get busy() {
    return this.#busy
  }

  /** Resolves once no diagnosis is under way, nor one queued behind it. */
  async idle() {
    while (this.#running !== null) await this.#running
  }

  /**
   * Has the target's census drop the passes it keeps (a census taken before a pair's
   * baseline, whose passes would otherwise be new in the follow-up); none made yet, nothing.
   */
  async releaseCensus() {
    await this.#census?.release()
  }

  /** Records a floor (`{ time }`, as the watcher's floors.js takes it); cheap, once per floor. */
  noteFloor(floor) {
    if (this.#floors.length === this.#floorsKept) this.#floors.shift()
    this.#floors.push(reading(floor.time))
  }

  /**
   * Diagnoses `leak` (the `leak` event's fields) without a snapshot; emits and writes the
   * report (see the class doc) and resolves with it, or null when stopped or already busy.
   * The census' first pass starts at once; the sites ranking, still under way, is awaited
   * meanwhile.
   * @param {object} leak
   * @param {{ snapshot: NoPair | Promise<NoPair>, sites?: object | null | Promise<object | null>, profile?: () => object | null }} context
   *   `snapshot`: why there is no pair, or its promise while a baseline is written (the census
   *   does not wait for it): `why` is PAIR_PENDING, `'declined'` (the pause budget), `'off'`,
   *   `'failed'`, or another `snapshot-skipped` reason (`'disk-budget'`, `'memory'`, …), and
   *   `detail` says more;
   *   `sites` is what `SiteRanking.rank()` resolves with (or its promise); `profile` gives the
   *   sampling profile it was ranked from, once it is, whose script URLs name the census'
   *   holders without a Debugger round.
   */
  async diagnose(leak, { snapshot, sites = null, profile = () => null }) {
    if (this.#stopped) return null
    if (this.#busy) {
      // Taken once the one under way is done: a declined follow-up's reason must not be lost
      // behind a census taken while its pair was pending.
      this.#queued = { leak, context: { snapshot, sites, profile } }
      return null
    }
    this.#busy = true
    this.#running = this.#report(leak, snapshot, sites, profile)
    try {
      return await this.#running
    } finally {
      this.#busy = false
      this.#running = null
      const queued = this.#queued
      this.#queued = null
      if (queued !== null) this.diagnose(queued.leak, queued.context)
    }
  }

  /** Builds, writes and emits the report of `leak` (see `diagnose`); null when stopped or failed. */
  async #report(leak, snapshot, sites, profile) {
    try {
      const built = await withSourcePositions(await this.#build(leak, snapshot, sites, profile))
      if (this.#stopped) return null
      const report = { ...built, holderLabel: ownHolderLabel(built) }
      report.path = this.#write(report)
      this.#latest = report
      this.#latestSitesLate = report.sites === null && sites !== null ? Promise.resolve(sites).catch(() => null) : null
      this.#emit('report', report)
      return report
    } catch (err) {
      if (!this.#stopped) this.#emit('error', { error: err.message, during: 'diagnosis' })
      return null
    }
  }

  /**
   * The report of `leak`. This method owns its `lookedAt` and `notLookedAt`: each step gives
   * back its notes with what it found, kept by step and listed in NOTES_ORDER.
   */
  async #build(leak, snapshotPending, sitesPending, profile) {
    const notes = {}
    const firstPass = this.#censusOn && this.#target.noCensus === null ? this.#censusOf().pass() : null
    const nativeStarted = leak.kind === 'native' ? nativeStart(this.#clock) : null
    // The census' passes go on beside the sites' ranking, which may sample for minutes; a
    // report whose census named a holder waits for the ranking SITES_GRACE_MS past it at most
    // (one whose census named none waits for the sites, its only evidence then).
    const noCensus = this.#target.noCensus ?? 'census: false'
    const censusTaken = takeCensus(() => this.#censusOf(), leak, { firstPass, noCensus, profile, gapMs: this.#censusGapMs, top: this.#top, clock: this.#clock })
    const holderNamed = censusTaken.then(({ suspects }) => (suspects.length > 0 ? null : Promise.resolve(sitesPending).catch(() => null)))
    const sites = await settledWithin(sitesPending, holderNamed, this.#sitesGraceMs)
    notes.sites = sitesNotes(sites)
    const { census, suspects: holders, notes: censusNotes } = await censusTaken
    notes.census = censusNotes
    const suspects = sites === LATE || sites === null ? holders : withWhereMade(holders, sites.sites)
    const native = nativeStarted === null ? { native: null, notes: null } : await nativeOfDiagnosis(leak, nativeStarted, census, suspects, this.#clock)
    notes.native = native.notes
    // A baseline written beside the census is done by now as a rule (a forked child takes
    // seconds); one still being written is reported as under way (a snapshot-skipped event
    // follows if it fails), the holder not waiting for it.
    const settled = await settledWithin(snapshotPending, null, 0)
    const { why, detail } = settled === LATE ? BASELINE_BEING_WRITTEN : settled
    notes.heapSnapshot = notLooked({ what: 'heap snapshot', why: snapshotWhy(why, detail) })
    const time = this.#clock.now()
    const own = this.#ownParts(leak)
    Object.assign(notes, own.notes)
    return {
      native: native.native,
      kind: 'no-snapshot',
      time,
      pid: process.pid,
      threadId: this.#target.threadId,
      ...(this.#target.thread === null ? {} : { thread: this.#target.thread }),
      path: null,
      leak: withoutEnvelope(leak),
      heapSnapshot: { taken: false, why, detail },
      evidence: suspects.length > 0 ? 'census' : sites?.sites?.length > 0 ? 'sites' : 'none',
      suspects,
      census,
      sites: sites === LATE ? null : sites,
      heapSpaces: own.heapSpaces,
      collections: own.collections,
      ...notesInOrder(notes),
    }
  }

  /**
   * `{ heapSpaces, collections, notes }`: the target's heap spaces and collections, as this
   * thread reads them; null where the target's are not read from here (its `unread`, which
   * the notes give); `notes` by step (`heapSpaces`, `boundedMaps`, `trackedSites`, or `unread`).
   */
  #ownParts(leak) {
    if (this.#target.unread !== null) return { heapSpaces: null, collections: null, notes: { unread: notLooked(this.#target.unread) } }
    const [since, until] = this.#comparedFloors(leak.since)
    const spaces = grownSpaces(since, until)
    const maps = grownMaps(since, until, this.#top)
    const tracked = this.#grownHandles()
    return {
      heapSpaces: spaces.heapSpaces,
      collections: { boundedMaps: maps.boundedMaps, handles: tracked.handles },
      notes: { heapSpaces: spaces.notes, boundedMaps: maps.notes, trackedSites: tracked.notes },
    }
  }

  /** The target's census, made with the first diagnosis that takes one. */
  #censusOf() {
    this.#census ??= this.#target.census()
    return this.#census
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
    return [start, newest === start ? reading(this.#clock.now()) : newest]
  }

  /** `{ handles, notes }`: the tracked listener, timer and promise sites that grew since the previous diagnosis. */
  #grownHandles() {
    // Loaded when first needed, like reports.js does: most processes never diagnose.
    const { GrowingSites } = require('../track/live-sites')
    this.#growingHandles ??= new GrowingSites()
    return {
      handles: this.#growingHandles.top(this.#top),
      notes: {
        lookedAt: ['tracked listener, timer and promise sites (trackListeners, trackEmitter, trackTimers, trackPromises)'],
        notLookedAt: [{ what: 'untracked listeners, timers and promises', why: 'only tracked ones are counted by call site' }],
      },
    }
  }

  /** Writes the report into the dir (made 0700 if missing); its path, or null with an `error` event. */
  #write(report) {
    if (this.#dir === null) return null
    const file = path.join(this.#dir, watcherFileName(report.time, { reason: 'diagnosis', suffix: SUFFIXES.report, thread: this.#target.thread?.threadId }))
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

/**
 * For a native leak, `{ native, notes }`: whether the census found collections over native
 * handles (holders of it), else where the memory is and what to run next (native-verdict.js);
 * `'not judged'` without a census. Its growth is the leak's rate over the time the diagnosis looked.
 */
async function nativeOfDiagnosis(leak, start, census, suspects, clock) {
  const seconds = (census === null ? clock.now() - start.at : census.until - census.since) / 1000
  const growthBytes = Math.round(Math.max(0, leak.slopeBytesPerSec ?? 0) * seconds)
  const holders = census === null ? null : suspects.filter((s) => s.memberHandle !== null).length
  return {
    native: await nativeVerdict({ growthBytes, heldBytes: null, holders, start, end: nativeStart(clock) }),
    notes: looked('native memory: resident bytes by kind of mapping (/proc/self/smaps), malloc in use, addons loaded'),
  }
}

/** The sites ranking's notes, by `sites` as the report waited for it (LATE: still ranking). */
function sitesNotes(sites) {
  if (sites === LATE) return notLooked({ what: 'allocation sites', why: 'still being ranked when the census was done; the sites event follows' })
  if (sites !== null) return looked('allocation sites whose live bytes grow (sampling heap profiler)')
  return notLooked({ what: 'allocation sites', why: 'no ranking of sites was given (sites: false, or it failed)' })
}

/** An event's own fields, without those every watcher event has (the report has its own). */
function withoutEnvelope({ type: _type, pid: _pid, threadId: _threadId, ...fields }) {
  return fields
}

/** Why there is no snapshot, in words, by the `snapshot` given to `diagnose`. */
const SNAPSHOT_WHY = {
  [PAIR_PENDING]: 'not yet: the pair under way is diffed once its follow-up is written',
  declined: 'declined: its pause would exceed snapshotMaxPauseMs',
  off: "snapshots are off (snapshots: 'off', or no dir)",
  failed: 'writing it failed',
}

/** Why no snapshot, with its detail, for `notLookedAt`. */
function snapshotWhy(snapshot, detail) {
  const said = SNAPSHOT_WHY[snapshot] ?? `skipped (${snapshot})`
  return detail === null ? said : `${said}: ${detail}`
}

module.exports = { Diagnosis, PAIR_PENDING }
