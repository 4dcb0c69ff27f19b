'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { writeAtomically } = require('../shared/write-atomically')
const { newestFileIn } = require('../shared/newest-file')
const { leakproofFiles, budgetedHere, totalBytes, makeRoom } = require('../shared/dir-budget')
const { SUFFIXES, watcherFileName } = require('../shared/file-names')
const { samplingProfileAsPprof } = require('./pprof')
const { sitesOfProfile } = require('./profile-sites')
const { growingSites } = require('./growth')
const { withoutOwnWork } = require('./own-work')
const errors = require('../shared/errors')
const { SYSTEM_CLOCK } = require('../shared/clock')

/**
 * The sampling heap profiles the allocation sites were ranked from (sites.js' ranking): the newest
 * kept in memory (`newest()`, what `watcher.sitesProfile()` and `leakproof/http` give) and,
 * with a `dir`, each written twice, as the JSON DevTools loads (`.heapprofile`, Memory →
 * Load) and as gzipped pprof (`.pb.gz`) for `go tool pprof` and the continuous profilers,
 * both without leakproof's own work (own-work.js' `withoutOwnWork`). Like snapshots: private
 * (0600 in a 0700 directory), never half-written (temporary name, then rename), and within `maxDiskBytes` with the snapshots, the oldest profiles deleted
 * first; at most `maxSnapshots` of each format; per process, as the snapshots (`budgetedHere`). A profile holds code locations and sizes,
 * no values.
 */
class HeapProfiles {
  #dir
  #maxDiskBytes
  #maxProfiles
  #samplingIntervalBytes
  #clock
  #newest = null
  #sequence = 0

  /**
   * @param {{ dir?: string, maxDiskBytes: number, maxSnapshots: number, sitesSamplingBytes: number, clock?: import('../shared/clock').Clock }} options
   *   `clock`: what time it is (a profile's `time`, its files' names): a watcher's, or the system's.
   */
  constructor({ dir, maxDiskBytes, maxSnapshots, sitesSamplingBytes, clock = SYSTEM_CLOCK }) {
    this.#dir = dir === undefined ? null : path.resolve(dir)
    this.#maxDiskBytes = maxDiskBytes
    this.#maxProfiles = maxSnapshots
    this.#samplingIntervalBytes = sitesSamplingBytes
    this.#clock = clock
  }

  /**
   * The newest profile, or null: `{ time, reason, startedAt, samplingIntervalBytes,
   * profile, heapprofile, pprof }`, `profile` being the `.heapprofile`'s JSON and
   * `heapprofile` and `pprof` the files' paths (null without a `dir`, or when the write
   * failed).
   */
  newest() {
    return this.#newest
  }

  /**
   * Keeps `profile` (sampled since `startedAt`; null: not known yet, taken as `time`) as the
   * newest and, with a dir, writes it. Resolves with the kept entry; a failed write rejects,
   * after the entry is kept.
   * @param {object} profile `HeapProfiler.getSamplingProfile`'s `profile`.
   * @param {{ reason: string, startedAt: number | null, time?: number }} info `time`: now by the clock unless given.
   */
  async add(profile, { reason, startedAt, time = this.#clock.now() }) {
    const entry = { time, reason, startedAt: startedAt ?? time, samplingIntervalBytes: this.#samplingIntervalBytes, profile, heapprofile: null, pprof: null }
    this.#newest = entry
    if (this.#dir === null) return entry
    // Without leakproof's own work, as the pprof: what DevTools lists first is the service's.
    const json = JSON.stringify(withoutOwnWork(profile))
    const pprof = await pprofOf(entry)
    const sequence = this.#sequence++
    const files = [
      [path.join(this.#dir, watcherFileName(time, { sequence, reason, suffix: SUFFIXES.heapprofile })), json],
      [path.join(this.#dir, watcherFileName(time, { sequence, reason, suffix: SUFFIXES.pprof })), pprof],
    ]
    fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
    const bytes = Buffer.byteLength(json) + pprof.length
    if (!this.#makeRoom(bytes)) {
      throw new Error(`no room for a sampling profile of ${bytes} bytes under maxDiskBytes (${this.#maxDiskBytes}): the snapshots there take it`)
    }
    for (const [file, data] of files) writeAtomically(file, data, 0o600)
    entry.heapprofile = files[0][0]
    entry.pprof = files[1][0]
    return entry
  }

  /** Deletes the oldest profiles until two files (one profile) of `bytes` in all fit; false if they cannot. */
  #makeRoom(bytes) {
    const fits = (files) => files.filter((f) => f.kind === 'profile').length + 2 <= 2 * this.#maxProfiles && totalBytes(files) + bytes <= this.#maxDiskBytes
    return makeRoom(leakproofFiles(this.#dir).filter(budgetedHere), fits, (file) => file.kind === 'profile')
  }
}

/** A kept profile (`HeapProfiles#newest()`, `watcher.sitesProfile()`) as gzipped pprof. */
function pprofOf({ profile, samplingIntervalBytes, startedAt, time }) {
  return samplingProfileAsPprof(profile, { samplingIntervalBytes, timeMs: startedAt, durationMs: time - startedAt })
}

/** An `ERR_LEAKPROOF_PROFILE_UNREADABLE` error about `file`. */
function unreadable(file, why) {
  return errors.codedError(Error, errors.CODES.PROFILE_UNREADABLE, `${file}: ${why}`)
}

/**
 * Reads a sampling heap profile: `target` is a `.heapprofile` file (the watcher's, or one
 * DevTools saved), or a directory whose newest `.heapprofile` is read. Resolves with
 * `{ file, profile }`; rejects with a coded `PROFILE_UNREADABLE` error when there is none,
 * it cannot be read, or it is not V8's sampling heap profile JSON.
 */
async function readHeapProfile(target) {
  let file = target
  let text
  try {
    if ((await fs.promises.stat(target)).isDirectory()) {
      file = newestFileIn(target, (name) => name.endsWith(SUFFIXES.heapprofile))
      if (file === null) throw unreadable(target, `holds no ${SUFFIXES.heapprofile} file`)
    }
    text = await fs.promises.readFile(file, 'utf8')
  } catch (err) {
    if (err.code === errors.CODES.PROFILE_UNREADABLE) throw err
    throw unreadable(file, `cannot be read (${err.code ?? err.message})`)
  }
  let profile
  try {
    profile = JSON.parse(text)
  } catch (err) {
    throw unreadable(file, `not JSON (${err.message}); cut short?`)
  }
  const wrong = shapeProblem(profile)
  if (wrong !== null) throw unreadable(file, `not a sampling heap profile: ${wrong}`)
  return { file, profile }
}

/**
 * What makes `profile` no sampling heap profile (`{ head, samples? }`, nodes `{ callFrame:
 * { functionName, url, lineNumber, columnNumber }, selfSize, id, children }`), or null.
 * Every node is checked, iteratively (a deep tree must not overflow the stack).
 */
function shapeProblem(profile) {
  if (profile === null || typeof profile !== 'object' || profile.head === null || typeof profile.head !== 'object') return 'no head node'
  if (profile.samples !== undefined && !Array.isArray(profile.samples)) return 'samples is not an array'
  const stack = [profile.head]
  while (stack.length > 0) {
    const node = stack.pop()
    if (node === null || typeof node !== 'object') return 'a node is not an object'
    const which = node.id === undefined ? 'a node' : `node ${node.id}`
    const frame = node.callFrame
    if (frame === null || typeof frame !== 'object') return `${which} has no callFrame`
    if (typeof frame.functionName !== 'string' || typeof frame.url !== 'string') return `${which}'s callFrame has no functionName or url`
    if (!Number.isInteger(frame.lineNumber) || !Number.isInteger(frame.columnNumber)) return `${which}'s callFrame has no lineNumber or columnNumber`
    if (!(Number.isFinite(node.selfSize) && node.selfSize >= 0)) return `${which} has no selfSize`
    if (!Array.isArray(node.children)) return `${which} has no children array`
    for (const child of node.children) stack.push(child)
  }
  return null
}

/**
 * The allocation sites of one sampling profile by live sampled bytes, the application's and
 * its packages' first (as a `sites` ranking orders growth: in a profile the watcher wrote,
 * everything was sampled since the leak was found), at most `top`.
 */
function rankProfile(profile, top) {
  return growingSites(new Map(), sitesOfProfile(profile), top)
}

module.exports = { HeapProfiles, pprofOf, readHeapProfile, rankProfile }
