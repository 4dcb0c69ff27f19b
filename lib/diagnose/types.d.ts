// Types of the watcher's reports (a snapshot pair's, a leak's without a snapshot) and `analyzeSnapshot()` / `diffSnapshots()`; index.d.ts exports them all.
import type { AllocationSite } from '../sites/types'
import type { CensusGrowth } from '../track/types'
import type { LeakEvent, WatchEventBase } from '../watch/events'

/** A report: of a snapshot pair, or of a leak that got none. */
export type ReportEvent = PairReportEvent | NoSnapshotReportEvent

/** The diff of a snapshot pair (a baseline and its follow-up), also written as JSON at `path`. */
export interface PairReportEvent extends WatchEventBase {
  type: 'report'
  kind: 'pair'
  path: string
  baseline: string
  followUp: string
  newCount: number
  newBytes: number
  suspects: LeakSuspect[]
  grownCollections: GrownCollection[]
  /** The objects of both snapshots that hold the new ones, most new bytes first (see `SnapshotDiff`). */
  growthRoots: GrowthRoot[]
  newByClass: NewObjects[]
  /** Listener, timer and promise sites that grew since the last report (empty unless tracking is on). */
  growingHandles: CensusGrowth[]
  /** How much each kind of memory the pair followed grew between its two snapshots, by their floors. */
  leaking: { kind: 'heap' | 'external' | 'native'; sinceBytes: number; untilBytes: number; growthBytes: number }[]
  /** For a pair that followed a native leak: whether JS objects hold it (else where it is); null otherwise. */
  native: NativeVerdict | null
  /** What named the holder: the pair, or the pair confirming the census taken at the leak (its first holder is one the census named). */
  evidence: 'pair' | 'pair and census'
  /** The census' report taken after the baseline (its file, time, and each holder with whether the pair names it too); null without one. */
  census: { path: string | null; time: number; holders: { holder: string; confirmed: boolean }[] } | null
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
  madeAt: { functionName: string; url: string; line: number; column: number; growthBytes: number } | null
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
  heapSpaces: { since: number; until: number; grew: GrownHeapSpace[] }
  collections: { boundedMaps: GrownBoundedMap[]; handles: CensusGrowth[] }
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
}

/** Where an `analyzeSnapshot` / `diffSnapshots` call is, as passed to `onProgress`. */
export interface AnalyzeProgress {
  /** `'parse'` (reading the file), `'dominators'`, `'paths'` or `'summary'`. */
  phase: 'parse' | 'dominators' | 'paths' | 'summary'
  /** Which snapshot, from 0, when a diff reads several. */
  snapshot: number
  /** Work done in this phase: bytes read for `'parse'`, 0 for the others. */
  done: number
  /** Work in this phase: the file size for `'parse'`, 1 for the others. */
  total: number
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
  match?: 'ids' | 'paths' | 'auto'
}

/** Totals of one class of objects (DevTools' Summary view). */
export interface ClassSummary {
  /** DevTools' class name: the constructor for objects; `(closure)`, `(string)`, `(array)`, `(system)`... otherwise. */
  name: string
  /** Objects of the class. */
  count: number
  /** Sum of their own sizes, in bytes. */
  selfSize: number
  /** Sum of their retained sizes, in bytes; an instance inside another of its class counts once. */
  retainedSize: number
}

/**
 * The variable or property that holds an object, named as a person would fix it: found from
 * the object's references (a variable of the program's own modules and closures first), not
 * from its shortest path, which often runs through Node's timers or a server's listeners.
 */
export interface CodeHolder {
  /**
   * What reaches the object in code: `'cache'`, `'stats.requests'`, `'globalThis.leaks'`;
   * `''` when V8 gives the variable no name (the description then says whose scope holds it).
   */
  name: string
  /** The held object's class (`'Map'`), or `function NAME at FILE:LINE:COL`. */
  className: string
  /**
   * `'module'`: a module-level variable; `'closure'`: a variable of a function's scope;
   * `'global'`: a property of the global object; `'property'`: a property of an object whose
   * own holder could not be named.
   */
  kind: 'module' | 'closure' | 'global' | 'property'
  /**
   * For `kind: 'closure'`: the function whose scope holds the variable (`'makeTracker'`), when
   * the snapshot still has the function (V8 frees it once no closure of it is alive and no live
   * code refers to it, as for a factory called once at startup); `'(anonymous)'` for a function
   * without a name. Absent for the other kinds and for a block's scope.
   */
  function?: string
  /**
   * For `kind: 'closure'`: the closure that `line` and `column` locate: a closure of
   * `function` when one is alive, else one created inside the variable's scope (one created
   * directly in it first, then the first in the source). Absent for the other kinds: every
   * function of a module keeps the module's scope alive, and a heap snapshot does not say which
   * of them uses a variable.
   */
  closure?: string
  /** The script of the scope's code: the module's file, or the function's. */
  file?: string
  /** 1-based line of `closure`. */
  line?: number
  /** 1-based column of `closure` (V8 places a function at its parameter list). */
  column?: number
  /**
   * One line: `cache (Map), a module-level variable of /srv/app.js`, or `seen (Map), a
   * variable of makeTracker at /srv/app.js:37:21`.
   */
  description: string
}

/** An object that keeps much memory alive. */
export interface LargestObject {
  /** Class name, or `function NAME at FILE:LINE:COLUMN` for a function. */
  name: string
  /** Heap snapshot node id. */
  id: number
  /** Own size, in bytes. */
  selfSize: number
  /** Bytes that would be freed with it (DevTools' retained size). */
  retainedSize: number
  /** References from the GC roots. */
  distance: number
  /** Shortest path from the GC roots, e.g. `['(GC roots)', 'global', 'cache (Map)', 'table', 'Session']`. */
  retainerPath: string[]
  /**
   * The same path with Node's own machinery (timer lists, listeners, the module loader, the
   * global object) folded into its first step: `(Node internals: timers) → _idleNext (Timeout)
   * → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache (Map)`.
   */
  readablePath: string[]
  /** The variable or property that holds it, and where in the code; absent if none names it. */
  holder?: CodeHolder
}

/** What `analyzeSnapshot` reports. */
export interface SnapshotSummary {
  /** Heap objects. */
  nodes: number
  /** References. */
  edges: number
  /** Sum of all own sizes, in bytes. */
  totalSize: number
  /** Every class, most retained first. */
  classes: ClassSummary[]
  /** The `top` largest program objects by retained size. */
  largest: LargestObject[]
}

/** Size of one snapshot of a diff. */
export interface SnapshotTotals {
  /** Heap objects. */
  nodes: number
  /** References. */
  edges: number
  /** Sum of all own sizes, in bytes. */
  totalSize: number
}

/** New objects of one class. */
export interface NewObjects {
  /** Class name. */
  name: string
  /** New objects. */
  count: number
  /** Their own sizes, in bytes. */
  bytes: number
  /** Their retained size, in bytes. */
  retainedSize: number
}

/**
 * The object that keeps most of a suspect's new instances alive: the nearest dominator of each
 * instance that is not new itself (for entries of a grown Map, the Map, not its reallocated
 * table).
 */
export interface SuspectHolder {
  /** Its class, or `function NAME at FILE:LINE:COL`. */
  name: string
  /** Its node id. */
  id: number
  /** New instances of the suspect class it holds. */
  instances: number
}

/** A class of new objects that probably leaks, and what holds most of them. */
export interface LeakSuspect extends NewObjects {
  /** Node id of the instance whose path is shown. */
  id: number
  /**
   * Shortest path from the GC roots to `heldBy`, through program variables where possible,
   * then on to the instances it reaches first, the last step counting those at that depth:
   * `… → sessions (Map) → table → Object ×21,000`. Without `heldBy`: the path to the instance
   * retaining the most.
   */
  retainerPath: string[]
  /** What holds the most new instances; absent when they hang from the GC roots directly. */
  heldBy?: SuspectHolder
  /**
   * The same path with Node's own machinery (timer lists, listeners, the module loader, the
   * global object) folded into its first step: `(Node internals: timers) → _idleNext (Timeout)
   * → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache (Map)`.
   */
  readablePath: string[]
  /** The variable or property holding `heldBy` (else the instance shown), and where in the code; absent if none names it. */
  holder?: CodeHolder
  /**
   * Bytes of native memory the new instances retain: the snapshot's `native` objects (Node's
   * C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer contents). Part
   * of `retainedSize`.
   */
  nativeBytes: number
  /** `retainedSize` over the diff's `newBytes`, at most 1: how much of the growth the new instances explain. */
  share: number
}

/** Native memory of one kind that a grown collection retains. */
export interface NativeMemoryKind {
  /** The snapshot's name for it: `'Node / zlib_memory'`, `'system / JSArrayBufferData'` (ArrayBuffer contents), `'Node / ZlibStream'`. */
  name: string
  /** Objects of the kind. */
  count: number
  /** Their bytes. */
  bytes: number
}

/** A `Map`, `Set`, `Array` or plain object holding more entries than in the first snapshot. */
export interface GrownCollection {
  /** `'Map'`, `'Set'`, `'Array'` or `'Object'`. */
  name: string
  /** Node id, the same in both snapshots. */
  id: number
  /** Entries in the first snapshot (references to heap values; a Map entry counts once). */
  before: number
  /** Entries in the last snapshot. */
  after: number
  /** Retained size in the last snapshot, in bytes. */
  retainedSize: number
  /** Shortest path from the GC roots in the last snapshot. */
  retainerPath: string[]
  /**
   * The same path with Node's own machinery (timer lists, listeners, the module loader, the
   * global object) folded into its first step: `(Node internals: timers) → _idleNext (Timeout)
   * → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache (Map)`.
   */
  readablePath: string[]
  /** The variable or property that holds it, and where in the code; absent if none names it. */
  holder?: CodeHolder
  /**
   * The most common class of what its entries hold in the last snapshot (of a Map's, the
   * values): `'Gzip'`, `'Buffer'`, `'Session'`, `'(string)'`; null when it holds none.
   */
  memberClass: string | null
  /**
   * Bytes of native memory it retains in the last snapshot: the snapshot's `native` objects
   * (Node's C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer
   * contents). Part of `retainedSize`.
   */
  nativeBytes: number
  /**
   * Matched by ids: the part of `nativeBytes` owned by objects (the nearest JavaScript object
   * above the native memory, such as a stream's handle or an ArrayBuffer) that existed in the
   * first snapshot, so `nativeBytes - nativeBytesBefore` is the native memory of new entries.
   * Matched by paths: null.
   */
  nativeBytesBefore: number | null
  /** The (up to 3) kinds of native memory holding the most of `nativeBytes`, most bytes first. */
  nativeKinds: NativeMemoryKind[]
  /**
   * The bytes its new entries hold (`retainedSize` times the share of its entries that are
   * new) over the diff's `newBytes`, at most 1: how much of the growth it explains.
   */
  share: number
}

/** A chain of objects each holding the next (a linked list, a queue) that a growth root holds. */
export interface GrowthChain {
  /** The class of its links: `'LinkNode'`. */
  class: string
  /** The property from one link to the next: `'next'`. */
  via: string
  /** Links in the first snapshot. */
  before: number
  /** Links in the last snapshot. */
  after: number
}

/** New objects each kept by a GC root of its own: open sockets' handles, timers. */
export interface GrowthManyRoots {
  /** The kind of root holding the most new bytes (matched by paths: that gained the most): `'TCP'`. */
  kind: string
  /** New roots of that kind. */
  count: number
  /** The most common class of the program's objects they hold (`'Socket'`); null when none. */
  holds: string | null
}

/**
 * An object present in both snapshots that holds new objects no deeper such object holds: a
 * leak's holder in whatever shape it keeps the leak (a collection, a chain, many roots).
 */
export interface GrowthRoot {
  /** Its class (`'Queue'`), or `'(GC roots)'` and the like for many roots. */
  name: string
  /** Node id in the last snapshot. */
  id: number
  /** Self bytes of the new objects it holds that no other growth root holds (matched by paths, an estimate). */
  newBytes: number
  /** Those new objects. */
  newCount: number
  /** `newBytes` as a share of all new bytes (0 to 1): how much of the growth it explains. */
  share: number
  /** Retained size in the last snapshot, in bytes. */
  retainedSize: number
  /** The class of what it holds: a chain's links, a collection's most common entries; null when not known. */
  memberClass: string | null
  /** The chain it holds, when the new objects are the links of one (16 links at least); else null. */
  chain: GrowthChain | null
  /** When the new objects hang from GC roots of their own, those roots; else null. */
  manyRoots: GrowthManyRoots | null
  /** Shortest path from the GC roots in the last snapshot. */
  retainerPath: string[]
  /** The same path with Node's own machinery folded into its first step. */
  readablePath: string[]
  /** The variable or property that holds it, and where in the code; absent if none names it. */
  holder?: CodeHolder
}

/** What `diffSnapshots` reports. */
export interface SnapshotDiff {
  /** Size of each snapshot, in the order given. */
  snapshots: SnapshotTotals[]
  /** New objects (see `diffSnapshots`). */
  newCount: number
  /** Their own sizes, in bytes. */
  newBytes: number
  /** New objects by class, most bytes first. */
  newByClass: NewObjects[]
  /** The `top` program-level classes of new objects by retained size. */
  suspects: LeakSuspect[]
  /**
   * The `top` collections by the bytes their new entries hold (retained size times the share
   * of entries that are new), most first.
   */
  grownCollections: GrownCollection[]
  /**
   * The `top` objects present in both snapshots that hold the new ones, most
   * new bytes first; they name a chain's holder and many roots, which no growing collection
   * shows. Matched by paths: chains and many roots only, counted by path key (docs/analyze.md).
   */
  growthRoots: GrowthRoot[]
  /**
   * How the snapshots were matched. `'paths'`: `newCount`, `newBytes` and `newByClass` are the
   * net growth of each class, not new objects, and a grown collection's `before`, `after` and
   * `retainedSize` cover every collection with its retainer path (docs/analyze.md).
   */
  matchedBy: 'ids' | 'paths'
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
