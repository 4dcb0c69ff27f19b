'use strict'

const fs = require('node:fs')
const { writePrivateAtomically } = require('../shared/write-atomically')
const { newestFileIn } = require('../shared/newest-file')
const { SUFFIXES, isWatcherFile, reportPathOf } = require('../shared/file-names')
const { isOwnFile } = require('../shared/code-origin')
const { withSourcePositions } = require('../shared/source-positions')
const { ownHolderLabel, namedFrom, privateFieldsAsWritten } = require('./holder-label')
const { nativeVerdict } = require('./native-verdict')

/**
 * The report of a snapshot pair (a baseline and its follow-up, see capture.js): their diff
 * — suspects, grown collections (with the native bytes they hold), growth roots (the holder
 * of a chain or of many roots), new objects by class —,
 * how much each leaking kind of memory grew between the two, for a native leak whether JS
 * objects hold its memory (native-verdict.js), and the listener, timer and promise
 * sites that grew since the previous report (`growingHandles`, empty unless tracking is
 * on). Diffed in a child process at the lowest priority (diff-process.js), never in the
 * service's; written as JSON beside the snapshots (0600, complete or absent), then emitted as
 * `report`.
 *
 * The handle sites are counted against this watcher's own baseline, so that the app's
 * `topGrowingSites()` calls do not change what a report compares against. Suspects and
 * collections held by leakproof's own modules (the watcher's bounded bookkeeping, filling up
 * to its size between the snapshots) are left out: they are not the app's.
 */
class Reports {
  #top
  #emit
  #fields
  #published
  #growingHandles = null // a GrowingSites, made with the first report
  #diffing = null // the pair's diff under way (diff-process.js)
  #stopped = false

  /**
   * @param {number} top suspects and sites listed.
   * @param {(type: string, fields: object) => void} emit emits a watcher event.
   * @param {object} [fields] put in every report first (a worker's pair: `{ thread }`).
   * @param {() => object | null} [published] the newest report without a pair about the
   *   same thread (diagnosis.js), whose holder's label a pair that confirms it keeps.
   */
  constructor(top, emit, fields = {}, published = () => null) {
    this.#top = top
    this.#emit = emit
    this.#fields = fields
    this.#published = published
  }

  /** No more reports emitted; a diff under way is killed. */
  stop() {
    this.#stopped = true
    this.#diffing?.kill()
  }

  /**
   * Diffs the pair, writes the report beside `followUp` and emits it; failures are `error`
   * events. `leaking`: how much each kind of memory the pair follows grew between the two
   * (`[{ kind, sinceBytes, untilBytes, growthBytes }]`, capture.js); `native`: for a pair
   * that follows native memory, `{ start, end }`, `nativeStart()`'s readings (native-verdict.js)
   * once the baseline's native level settled and when the follow-up was decided; `diagnosed`,
   * the report without a pair whose census was taken after the baseline (diagnosis.js), whose
   * holders the pair confirms or not.
   */
  async write(baseline, followUp, leaking = [], native = null, diagnosed = null) {
    if (this.#stopped) return
    try {
      // Loaded when first needed: most processes never write a snapshot pair.
      const { diffInChild } = require('./diff-process')
      const { GrowingSites } = require('../track/live-sites')
      this.#growingHandles ??= new GrowingSites()
      this.#diffing = diffInChild(baseline, followUp, { top: this.#top })
      const diff = await this.#diffing.result.finally(() => (this.#diffing = null))
      if (this.#stopped) return
      const file = reportPathOf(followUp)
      const report = {
        ...this.#fields,
        kind: 'pair',
        baseline,
        followUp,
        leaking,
        matchedBy: diff.matchedBy,
        newCount: diff.newCount,
        newBytes: diff.newBytes,
        suspects: diff.suspects.filter((c) => !heldByOwnCode(c)),
        grownCollections: diff.grownCollections.filter((c) => !heldByOwnCode(c)),
        growthRoots: diff.growthRoots.filter((r) => !heldByOwnCode(r)),
        newByClass: diff.newByClass,
        // A worker's pair (`fields.thread`): the sites tracked are the main thread's.
        growingHandles: this.#fields.thread === undefined ? this.#growingHandles.top(this.#top) : [],
        native: await verdictOfPair(leaking, native, diff.grownCollections),
      }
      Object.assign(report, censusConfirmed(report, diagnosed))
      // diffSnapshots placed the diff's positions, and the census' report its holders: the sites tracked remain.
      await withSourcePositions(report.growingHandles)
      if (this.#stopped) return
      report.holderLabel = pairLabel(report, this.#published())
      writePrivateAtomically(file, JSON.stringify(report, null, 2))
      this.#emit('report', { path: file, ...report })
    } catch (err) {
      if (!this.#stopped) this.#emit('error', { error: err.message, code: err.code, during: 'report' })
    }
  }

}

/**
 * What named the pair's holder (`evidence`: `'pair'`, or `'pair and census'` when its first
 * holder is one the census named after the baseline), and the census' holders, each
 * `confirmed` when the pair names it or what holds it (`census`: `{ path, time, holders: [{
 * holder, confirmed }] }`, null without such a census). The census names a collection by its
 * path from a variable (`store.sessions`, `bus.latest`), the pair by the expression of its
 * holder (`store.sessions`, `bus`): a census path at or under a pair's holder is the same.
 * Many roots are the same when they hold one class: the census' open `Socket` handles, the
 * pair's growth root of new TCP roots holding `Socket`.
 */
function censusConfirmed(report, diagnosed) {
  if (diagnosed === null || diagnosed.suspects.length === 0) return { evidence: 'pair', census: null }
  const named = [...report.growthRoots, ...report.grownCollections, ...report.suspects].map(pairKey).filter((key) => key !== null)
  const confirms = (suspect, keys) => {
    const path = censusKey(suspect)
    return path !== null && keys.some((key) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`))
  }
  const holders = diagnosed.suspects.map((s) => ({ holder: s.holder?.description ?? s.readablePath ?? s.name, confirmed: confirms(s, named) }))
  const evidence = named.length > 0 && diagnosed.suspects.some((s) => confirms(s, named.slice(0, 1))) ? 'pair and census' : 'pair'
  return { evidence, census: { path: diagnosed.path, time: diagnosed.time, holders } }
}

/**
 * The label of a pair's report: the one the census' report published already where the pair
 * names the same collection (or what holds it) or names nothing as precisely (no file: a
 * property of an object no variable holds, as a chain's link; or Node's own code, a timer
 * list's table where the census named the app's timers), so that the series a fleet
 * groups by stays as it was when the evidence changes; else the pair's own, a new holder on
 * purpose. Labels compare by their words (holder-label.js), which both kinds of evidence
 * give from where the collection is declared.
 * @param {object} report the pair's report
 * @param {object | null} published the newest report without a pair
 */
function pairLabel(report, published) {
  const own = ownHolderLabel(report)
  const census = published?.kind === 'no-snapshot' ? published.holderLabel ?? null : null
  if (census === null || own === null) return own ?? census
  // Vaguer: no file, or Node's own code (`node:timers`) where the census named the app's.
  const vague = (label) => label.site === '' || label.site.startsWith('node:')
  if (vague(own) && !vague(census)) return census
  // The pair names what holds the census' collection (`container.audit` of `container.audit.trail`).
  const [pair, named] = [namedFrom(report), namedFrom(published)]
  const holds = pair !== null && named !== null && pair.path !== '' && pair.site === named.site && (named.path === pair.path || [`${pair.path}.`, `${pair.path}[`].some((start) => named.path.startsWith(start)))
  return holds ? census : own
}

/**
 * What a pair names, as a key: many roots as `roots|<the class they hold>`, else its holder as
 * `file|expression`, a private field written `.#name`; null without a name.
 */
function pairKey({ holder, manyRoots }) {
  if (typeof manyRoots?.holds === 'string') return `roots|${manyRoots.holds}`
  if (typeof holder?.name !== 'string' || holder.name === '') return null
  return `${holder.file ?? ''}|${privateFieldsAsWritten(holder.name)}`
}

/**
 * What a census suspect names, as a key: the active handles of one class as `roots|<class>`;
 * else its path from its variable as `file|path` (a global's with no file, as a pair writes
 * it: `|globalThis.leaks`), or null (not from a variable).
 */
function censusKey(suspect) {
  if (suspect.holder?.kind === 'handles') return `roots|${suspect.holder.className}`
  const file = suspect.holder?.kind === 'global' ? '' : suspect.holder?.file
  if (typeof suspect.readablePath !== 'string' || typeof file !== 'string') return null
  return `${file}|${suspect.readablePath}`
}

/**
 * For a pair that follows a native leak: whether a collection that grew holds the native
 * growth (the native memory under the entries it gained, the most any one gained: nested
 * collections hold the same bytes), else where it is (native-verdict.js). Null for other pairs.
 */
function verdictOfPair(leaking, readings, grownCollections) {
  const native = leaking.find((k) => k.kind === 'native')
  if (native === undefined || readings === null) return null
  const heldBytes = Math.max(0, ...grownCollections.map(nativeGained))
  return nativeVerdict({ growthBytes: native.growthBytes, heldBytes, ...readings })
}

/** The native kind of ArrayBuffers' contents, which the native series leaves out (it is `external`). */
const ARRAY_BUFFER_CONTENTS = 'system / JSArrayBufferData'

/**
 * The native memory a grown collection gained between the pair, ArrayBuffers' contents
 * left out as the native series leaves them out: exact when the snapshots were matched by
 * ids; matched by paths (snapshots of forked children), its entries' native memory in the
 * follow-up prorated to the entries it gained.
 */
function nativeGained(collection) {
  const now = collection.nativeBytes ?? 0
  if (now === 0) return 0
  const before = collection.nativeBytesBefore ?? (collection.after > 0 ? (now * collection.before) / collection.after : now)
  const contents = (collection.nativeKinds ?? []).find((k) => k.name === ARRAY_BUFFER_CONTENTS)?.bytes ?? 0
  return Math.max(0, now - before) * (1 - contents / now)
}

/** Whether a suspect's or a grown collection's holder is in leakproof's own files (code-origin.js). */
function heldByOwnCode(item) {
  const file = item.holder?.file
  return typeof file === 'string' && isOwnFile(file)
}

/**
 * The newest report file in `dir` (by modification time), parsed, whichever process wrote
 * it: after a restart, the report of the process that died. Null when there is none, or
 * when it cannot be read (deleted meanwhile, not JSON).
 */
function newestReportIn(dir) {
  try {
    const file = newestFileIn(dir, (name) => isWatcherFile(name, SUFFIXES.report))
    return file === null ? null : JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

module.exports = { Reports, newestReportIn, censusConfirmed, pairLabel }
