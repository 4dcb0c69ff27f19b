// Types of growing allocation sites and the sampling profiles they were ranked from; index.d.ts exports them all.
import type { WatchEventBase } from '../watch/events'

/**
 * An allocation site whose live sampled bytes grew. `line` and `column` are where the
 * function starts: the sampling profile counts per function.
 */
export interface AllocationSite {
  functionName: string
  url: string
  line: number
  column: number
  liveBytes: number
  growthBytes: number
  /**
   * The classes whose constructors the site's growth went through (functions with a class's
   * name called below it: `Socket`, `Timeout`), up to 4, most growth first.
   */
  made: Array<{ name: string; growthBytes: number }>
  /**
   * Only on a site in a package (`node_modules`) or in Node's internals (`node:`): the
   * package's name (`express-session`, `@opentelemetry/sdk-metrics`), null for `node:`.
   */
  package?: string | null
  /**
   * Only where `package` is: the first frame of the app's own code on the way from the
   * allocation to the caller (not a package's, Node's or leakproof's), by the line its
   * function starts at; of several, the one whose bytes there grew most. Null when none
   * was on the stack (a package's own timer, say).
   */
  appFrame?: { functionName: string; url: string; line: number; column: number; generated?: BuiltPlace; sourceMapError?: string } | null
  /** Where a source map placed the site (`url`, `line`, `column` are then the source's): the built code's place. */
  generated?: BuiltPlace
  /** Why the source map the site's file names could not be read (the place is then the built code's). */
  sourceMapError?: string
}

/** A place in built code (a bundle, tsc's output) that a source map placed in its source. */
export interface BuiltPlace {
  url: string
  line: number
  column: number
}

/** Growing allocation sites, ranked. */
export interface SitesEvent extends WatchEventBase {
  type: 'sites'
  /** How long the sites were sampled: one to ten `sitesWindowMs` (more for a slower leak). */
  windowMs: number
  sites: AllocationSite[]
  /**
   * The sampling profile the sites were ranked from, with a `dir`: `heapprofile` opens in
   * Chrome DevTools (Memory → Load), `pprof` (gzipped profile.proto) in `go tool pprof` and
   * pprof-based profilers. Absent without a `dir`, or when writing failed (an `error` event).
   */
  profile?: { heapprofile: string; pprof: string }
}

/**
 * An allocation-sampling profile the watcher kept (`watcher.sitesProfile()`): code locations
 * and sizes, no values.
 */
export interface SitesProfile {
  /** When it was taken (ms since the epoch). */
  time: number
  /** `'leak'`: a `sites` ranking was made from it; `'threshold'`: kept when the heap passed `heapThreshold`. */
  reason: 'leak' | 'threshold'
  /** When sampling started (the first heap leak's ranking); the profile holds what was sampled since and still lived. */
  startedAt: number
  /** Mean bytes between samples (`sitesSamplingBytes`). */
  samplingIntervalBytes: number
  /** V8's sampling heap profile: the JSON of a DevTools `.heapprofile`. */
  profile: { head: SamplingProfileNode; samples?: Array<{ size: number; nodeId: number; ordinal: number }> }
  /** Its `.heapprofile` file, or null (no `dir`, or the write failed). */
  heapprofile: string | null
  /** Its gzipped pprof file, or null (no `dir`, or the write failed). */
  pprof: string | null
}

/** A node of a sampling heap profile: a call frame, the bytes sampled in it, its callees. */
export interface SamplingProfileNode {
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number }
  selfSize: number
  id: number
  children: SamplingProfileNode[]
}
