// Types of the watcher's reports (a snapshot pair's, a leak's without a snapshot) and `analyzeSnapshot()` / `diffSnapshots()`; index.d.ts exports them all.
import type { AllocationSite, BuiltPlace } from '../sites/types'
import type { LiveSitesGrowth } from '../track/types'
import type { LeakEvent, WatchEventBase } from '../watch/events'
// The shapes of analyzeSnapshot() and diffSnapshots() results are the binding's, generated from
// the Rust with their docs (binding.d.ts): exported here under their own names, not declared a
// second time. Where the JS layer reshapes one (CodeHolder, AnalyzeProgress), the type below
// says so.
import type * as Binding from '../../binding'
import type { SnapshotSummary, ClassSummary, LargestObject, SnapshotDiff, SnapshotTotals, NewObjects, LeakSuspect, SuspectHolder, GrownCollection, NativeMemoryKind, GrowthRoot, GrowthChain, GrowthManyRoots } from '../../binding'
export type { SnapshotSummary, ClassSummary, LargestObject, SnapshotDiff, SnapshotTotals, NewObjects, LeakSuspect, SuspectHolder, GrownCollection, NativeMemoryKind, GrowthRoot, GrowthChain, GrowthManyRoots }

/** A report: of a snapshot pair, or of a leak that got none. */
export type ReportEvent = PairReportEvent | NoSnapshotReportEvent

/** The diff of a snapshot pair (a baseline and its follow-up), also written as JSON at `path`. */
export interface PairReportEvent extends WatchEventBase {
  type: 'report'
  kind: 'pair'
  path: string
  baseline: string
  followUp: string
  /** How the two snapshots' objects were matched (see `SnapshotDiff`): by V8 node id, or by retainer path for two forked children's. */
  matchedBy: SnapshotDiff['matchedBy']
  newCount: number
  newBytes: number
  suspects: LeakSuspect[]
  grownCollections: GrownCollection[]
  /** The objects of both snapshots that hold the new ones, most new bytes first (see `SnapshotDiff`). */
  growthRoots: GrowthRoot[]
  newByClass: NewObjects[]
  /** Listener, timer and promise sites that grew since the last report (empty unless tracking is on). */
  growingHandles: LiveSitesGrowth[]
  /** How much each kind of memory the pair followed grew between its two snapshots, by their floors. */
  leaking: { kind: 'heap' | 'external' | 'native'; sinceBytes: number; untilBytes: number; growthBytes: number }[]
  /** For a pair that followed a native leak: whether JS objects hold it (else where it is); null otherwise. */
  native: NativeVerdict | null
  /** What named the holder: the pair, or the pair confirming the census taken at the leak (its first holder is one the census named). */
  evidence: 'pair' | 'pair and census'
  /** The census' report taken after the baseline (its file, time, and each holder with whether the pair names it too); null without one. */
  census: { path: string | null; time: number; holders: { holder: string; confirmed: boolean }[] } | null
  /**
   * Its first holder as a label that is the same on every instance running the same code (the
   * `leakproof_leak_holder_info` metric's, docs/metrics.md "The holder"): the holder's path and
   * class, and its file (relative to the main script's directory when under it); null when the
   * report names no holder.
   */
  holderLabel: { holder: string; site: string } | null
}

/** Resident bytes of one kind of mapping (`/proc/self/smaps`) that grew. */
export interface GrownMapping {
  /** `malloc-heap`, `anonymous`, `stack`, `addon-code`, `libraries`, `files` or `other`. */
  kind: string
  /** What the kind holds, in words. */
  label: string
  beforeBytes: number
  afterBytes: number
  growthBytes: number
}

/**
 * Whether JS objects hold a native leak's memory and, when none do, what can be known
 * cheaply and what to run next (docs/diagnose.md, "Leaks outside the heap: what each kind's report names").
 */
export interface NativeVerdict {
  /** Native growth compared: the pair's native floors, or the leak's rate over the census' passes. */
  growthBytes: number
  /** Native memory (ArrayBuffers' contents left out) the collection that grew most gained (a pair), or null (the census counts holders, not bytes). */
  heldByJsBytes: number | null
  /** `'not judged'`: nobody looked for holders (no census, `census: false`). */
  verdict: 'held by JS objects' | 'no JS object holds it' | 'not judged'
  /** Growth of what glibc's malloc hands out; null off glibc, under another allocator, or uncounted. */
  mallocGrowthBytes: number | null
  /** The kinds of mapping that grew, most first (empty off Linux). */
  mappings: GrownMapping[]
  /** The native addons (`.node` files) loaded. */
  addons: string[]
  /** When no JS object holds it: what grew, in words. */
  explanation?: string
  /** When no JS object holds it: what to run next, with the command to paste. */
  next?: { what: string; command: string }[]
}

/** A V8 heap space that grew between the floor a leak started from and the newest. */
export interface GrownHeapSpace {
  space: string
  beforeBytes: number
  afterBytes: number
  growthBytes: number
  /** What the space holds, in words. */
  holds: string
}

/** Named BoundedMaps (summed by name) that grew. */
export interface GrownBoundedMap {
  name: string
  /** Maps of this name. */
  maps: number
  sizeBefore: number
  size: number
  bytesBefore: number
  bytes: number
  max: number | null
  maxBytes: number | null
}

/** A collection the census saw grow between two passes, named in the code's words. */
export interface CensusSuspect {
  /** The most common class among its entries (or its own class when they are not objects). */
  name: string
  holder: {
    /** The variable, global or handle the path starts from (`store`, `timers of 1000 ms`, `Socket handles`). */
    name: string
    /**
     * The collection's class: `Map`, `Set`, `Array`, `Object` (a dictionary), `TimersList`; a
     * chain's `chain via .next` (objects of one class each holding the next); the handles'
     * class for the active handles of one class (`Socket`).
     */
    className: string
    kind: 'module' | 'closure' | 'global' | 'exports' | 'handle' | 'handles' | 'timers'
    /** The script, where V8 named it. */
    file: string | null
    /** For a variable, the function whose scope was read; for timers, the first callback. */
    line: number | null
    column: number | null
    /** One line: `store.sessions (Object), a module-level variable of /srv/app.js`. */
    description: string
    /** Where a source map placed it (`file`, `line`, `column` are then the source's): the built code's place. */
    generated?: { file: string; line: number | null; column: number | null }
    /** Why the source map its file names could not be read. */
    sourceMapError?: string
    /**
     * The app's class whose instance holds the collection in a field, where one does (the
     * pair's holders say it alike): where the collection is declared, which its label names.
     */
    owner?: { className: string; field: string; file: string; line: number; column: number; generated?: BuiltPlace }
  }
  /** The path from the holder's name: `store.sessions`, `bus._events.message`, `users[*]`. */
  readablePath: string
  /** Collections that share the path (the Sets inside one Map of users are one path). */
  collections: number
  /** Entries in the first pass compared (0 when it was under `minEntries`), and in the last. */
  before: number
  after: number
  entriesPerSec: number
  /** Bytes one entry holds: measured (Buffers, held directly or a property down), or the leak's rate over entries gained per second. */
  bytesPerEntry: number | null
  bytesPerEntrySource: 'measured' | 'slope' | null
  /** With bytes per entry measured: the bytes it gains a second over the leak's rate (at most 1), how much of the leak it explains; else null. */
  share: number | null
  /** The native handle the entries hold (`Zlib`, `TCP`, `Hash`), directly or a property down, if any: their memory is outside the heap. */
  memberHandle: string | null
  /**
   * For the active sockets of one class (`holder.kind: 'handles'`): the remote end at least
   * half of the first `of` (up to 1,000) share, as an address and port, else an address; else null.
   */
  remoteEnd: { end: string; count: number; of: number } | null
  /**
   * For many roots of one kind (`'handles'`, `'timers'`): the app's line whose growth went most
   * through their constructor, from the sites ranking; null when none did or the sites came later.
   */
  madeAt: { functionName: string; url: string; line: number; column: number; growthBytes: number; generated?: BuiltPlace } | null
}

/** What one census pass cost. */
export interface CensusCost {
  slices: number
  cpuMs: number
  longestSliceMs: number
  visited: number
  inspectorCalls: number
  /** The most keys or inspector properties one call listed in the pass (a dictionary's keys, which only a listing counts). */
  largestListing: number
}

/**
 * The report of a leak without a snapshot pair (declined for its pause, snapshots off, a
 * write that failed, a declined follow-up; or the pair is under way, `heapSnapshot.why:
 * 'pair-pending'`, and its report comes later): what was learned without one, and what was not
 * looked at and why.
 */
export interface NoSnapshotReportEvent extends WatchEventBase {
  type: 'report'
  kind: 'no-snapshot'
  /** The JSON file in `dir`, or null (no dir, or it could not be written). */
  path: string | null
  /** The leak event's fields. */
  leak: Omit<LeakEvent, 'type' | 'pid' | 'threadId'>
  /** Why no pair: `'pair-pending'` (its report follows), `'declined'`, `'off'`, `'failed'`, or a `snapshot-skipped` reason. */
  heapSnapshot: { taken: false; why: string; detail: string | null }
  sites: { windowMs: number; sites: AllocationSite[] } | null
  /** The V8 heap spaces that grew; null for a worker watched from the main thread, which reads only its heap's size. */
  heapSpaces: { since: number; until: number; grew: GrownHeapSpace[] } | null
  /** Named BoundedMaps and tracked sites that grew; null for a worker watched from the main thread (they are its own thread's). */
  collections: { boundedMaps: GrownBoundedMap[]; handles: LiveSitesGrowth[] } | null
  /** What names the holder: the census' grown collections, allocation sites only, or nothing. */
  evidence: 'census' | 'sites' | 'none'
  /** The census' grown collections, most entries gained first, like a pair report's suspects. */
  suspects: CensusSuspect[]
  /** The census passes compared (null with `census: false`), and what they did not reach. */
  census: {
    passes: { time: number; durationMs: number; cost: CensusCost }[]
    since: number
    until: number
    /** The stop taken to name the holders' scripts through the Debugger domain, in ms (0: none). */
    debuggerMs: number
    notReached: { what: string; why: string; count: number }[]
  } | null
  /** For a native leak: whether the census found collections over native handles (else where the memory is); null otherwise. */
  native: NativeVerdict | null
  lookedAt: string[]
  notLookedAt: { what: string; why: string }[]
  /**
   * Its first holder as a label that is the same on every instance running the same code (the
   * `leakproof_leak_holder_info` metric's, docs/metrics.md "The holder"): the holder's path and
   * class, and its file (relative to the main script's directory when under it); null when the
   * report names no holder.
   */
  holderLabel: { holder: string; site: string } | null
}

/** Where an `analyzeSnapshot` / `diffSnapshots` call is, as passed to `onProgress`. */
export interface AnalyzeProgress extends Omit<Binding.AnalyzeProgress, 'phase'> {
  /** `'parse'` (reading the file), `'dominators'`, `'paths'` or `'summary'`: the native `'done'` never reaches `onProgress`. */
  phase: Exclude<Binding.AnalyzeProgress['phase'], 'done'>
}

/** Options of `analyzeSnapshot`. */
export interface AnalyzeSnapshotOptions {
  /**
   * How many of the largest objects, or in a diff of the suspects and grown collections, to
   * report with their paths. @default 10
   */
  top?: number
  /**
   * Called on the main thread as the work advances (about a hundred times while a big file is
   * read, once per later phase). Must not throw.
   */
  onProgress?: (progress: AnalyzeProgress) => void
}

/** Options of `diffSnapshots`. */
export interface DiffSnapshotsOptions extends AnalyzeSnapshotOptions {
  /**
   * A third snapshot, taken after `after`: only objects allocated between `before` and `after`
   * that are still alive in this one count as new, and paths are taken from it.
   */
  stillAliveIn?: string
  /**
   * How objects are matched between the snapshots: `'ids'` by V8 node id (snapshots of one
   * process; refused with `ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH` when the ids name other
   * objects), `'paths'` by retainer path (snapshots of different processes of one program, such
   * as forked children), `'auto'` by id when the ids name the same objects, else by path.
   * By path, "new" objects are the net growth of each class. Anything else throws a TypeError
   * with `code` `ERR_LEAKPROOF_INVALID_OPTION`.
   * @default 'auto'
   */
  match?: Binding.Matching
}

/**
 * The variable or property that holds an object, named as a person would fix it: found from
 * the object's references (a variable of the program's own modules and closures first), not
 * from its shortest path, which often runs through Node's timers or a server's listeners.
 */
export interface CodeHolder extends Binding.CodeHolder {
  /**
   * Where a source map placed it (`file`, `line`, `column` and the description are then the
   * source's; docs/diagnose.md, "Built code"): the built code's place.
   */
  generated?: { file: string; line: number | null; column: number | null }
  /** Why the source map its file names could not be read. */
  sourceMapError?: string
}

/**
 * Reads a `.heapsnapshot` on a libuv worker thread (the event loop keeps running) and reports
 * its classes and largest objects. Rejects with `code` `ERR_LEAKPROOF_SNAPSHOT_IO`,
 * `_TRUNCATED`, `_MALFORMED` or `_UNSUPPORTED` and the byte `offset` for bad files, and with
 * `ERR_LEAKPROOF_INVALID_OPTION` / `ERR_LEAKPROOF_UNKNOWN_OPTION` for bad options, and
 * `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` where the native addon has no binary.
 * Output fields and errors: docs/analyze.md.
 */
export declare function analyzeSnapshot(
  file: string,
  options?: AnalyzeSnapshotOptions,
): Promise<SnapshotSummary>

/**
 * Diffs two snapshots off the main thread: objects in `after` that were not in `before`,
 * grouped by class, the likely leaks with the path that holds them, and the collections that
 * grew. Snapshots of one process are matched by node id; by default (`match: 'auto'`) those
 * whose ids name other objects (of two processes, or V8's object ids cleared in between) are
 * matched by retainer path instead, and `matchedBy` says which. Errors as `analyzeSnapshot`,
 * with `err.file` naming the file, and, with `match: 'ids'`,
 * `ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH` when the ids of the two snapshots name different
 * objects (closing an inspector session that enabled the HeapProfiler domain clears them).
 */
export declare function diffSnapshots(
  before: string,
  after: string,
  options?: DiffSnapshotsOptions,
): Promise<SnapshotDiff>
