// Types of listener, timer and promise tracking, and `liveSites()`: live handles by creation site; index.d.ts exports them all.
import { EventEmitter } from 'node:events'

/** Anything whose listeners can be tracked. */
export type Emitter = EventEmitter | EventTarget

/** Options of `trackEmitter`. */
export interface TrackEmitterOptions {
  /** The emitter's name in `listener-leak` events and the watcher's reports. @default its constructor's name, with the address for sockets and servers */
  name?: string
  /**
   * A `listener-leak` event is emitted when one call site has more than this many listeners on
   * one event of the emitter, then each time that count grows by half again.
   * @default 10 (node's default max listeners)
   */
  threshold?: number
  /**
   * A listener is attributed to its call site (a stack capture: a few microseconds) only
   * when its event then holds at least this many listeners on the emitter; listeners below
   * are counted by node only, and are not in `listenerSites`, the live sites or reports.
   * `1` attributes every listener.
   * @default 1
   */
  captureFrom?: number
  /**
   * `'all'`: every listener from the `captureFrom`th on gets a stack. `'growth'`: only one
   * that raises its event to a new peak (the peak falls back once the count halves): a leak
   * is growth, and add/remove churn below the peak then costs no stack; listeners re-added
   * below the peak are not attributed.
   * @default 'all'
   */
  sites?: 'growth' | 'all'
}

/** Options of `trackListeners`. */
export interface TrackListenersOptions {
  /** As in `trackEmitter`. @default 10 */
  threshold?: number
  /**
   * As in `trackEmitter`; the default skips the stack of a listener alone on its event,
   * which cannot be a leak and is most of the listeners in a process.
   * @default 2
   */
  captureFrom?: number
  /** As in `trackEmitter`. @default 'growth' */
  sites?: 'growth' | 'all'
}

/** One `listener-leak` report. */
export interface ListenerLeak {
  /** The emitter's name (`name` option, else constructor and address, e.g. `'Socket 10.0.0.5:5432'`). */
  emitter: string
  /** The event name. */
  event: string | symbol
  /** `file:line:column` of the code that added the listeners. */
  site: string
  /** Listeners from this site still attached to this event of this emitter. */
  count: number
  /** Listeners added at this site since its previous report (all of them at the first). */
  growth: number
  /** The emitter itself. */
  target: Emitter
}

/** Events of `listenerLeaks`. */
export interface ListenerLeakEvents {
  'listener-leak': [leak: ListenerLeak]
}

/**
 * Where `listener-leak` reports are emitted, on the tick after the `on()` that made them
 * due. With no `'listener-leak'` handler, each report is a process warning with code
 * `LEAKPROOF_LISTENER_LEAK` instead.
 */
export declare const listenerLeaks: EventEmitter<ListenerLeakEvents>

/** A process-wide tracker. */
export interface Tracker {
  /** Stops tracking: puts back the very functions that were replaced and forgets what was recorded. */
  untrack(): void
}

/** The process-wide listener tracker, with the settings it runs with. */
export interface ListenerTracker extends Tracker {
  /** The `threshold` in use. */
  readonly threshold: number
  /** The `captureFrom` in use. */
  readonly captureFrom: number
  /** The `sites` in use. */
  readonly sites: 'growth' | 'all'
}

/**
 * Tracks the listeners of one EventEmitter or EventTarget by the call site that added them
 * (the first frame outside node internals and leakproof) and reports `listener-leak`s on
 * `listenerLeaks`. Every way of removing a listener uncounts it. Installs non-enumerable
 * stand-ins for the add/remove methods on the instance; `untrackEmitter` removes them.
 * Throws `ERR_LEAKPROOF_INVALID_ARGUMENT` for anything else than an emitter. Returns `emitter`.
 */
export declare function trackEmitter<T extends Emitter>(emitter: T, options?: TrackEmitterOptions): T

/** Stops tracking an emitter given to `trackEmitter`; its own properties are as before. */
export declare function untrackEmitter(emitter: Emitter): void

/** Listeners of one site on one event of a tracked emitter. */
export interface ListenerSite {
  /** The event name. */
  event: string | symbol
  /** `file:line:column`. */
  site: string
  /** Listeners from this site still attached. */
  count: number
}

/** The live listeners of a tracked emitter that have a site, by event and site, most first; `[]` if untracked. */
export declare function listenerSites(emitter: Emitter): ListenerSite[]

/**
 * Tracks every EventEmitter and EventTarget in the process by patching
 * `EventEmitter.prototype` (`on`, `addListener`, `prependListener`, `off`, `removeListener`,
 * `removeAllListeners`; `once` and `prependOnceListener` go through them) and
 * `EventTarget.prototype` (`addEventListener`, `removeEventListener`). While a tracker is
 * active, calling again returns it.
 */
export declare function trackListeners(options?: TrackListenersOptions): ListenerTracker

/**
 * For the register preload: `trackListeners()` when `LEAKPROOF_TRACK_LISTENERS` is `1` or
 * `true` in `env`, else null.
 * @param env @default process.env
 */
export declare function trackListenersFromEnv(env?: NodeJS.ProcessEnv): ListenerTracker | null

/**
 * Tracks `setTimeout` and `setInterval` timers made from now on (on `globalThis` and the
 * `timers` module) by creation site. A stack per timer: meant for diagnosis.
 */
export declare function trackTimers(): Tracker

/**
 * Tracks promises made from now on until they settle, through an async_hooks hook enabled
 * only while tracking. Costly (node's promise hooks and a stack per promise): for diagnosis.
 */
export declare function trackPromises(): Tracker

/** Live listeners from one site on one event, over every emitter that site added to. */
export interface ListenerGroup {
  kind: 'listener'
  /** `file:line:column`. */
  site: string
  /** The event name. */
  event: string | symbol
  /** Listeners alive. */
  count: number
  /** How many emitters hold them. */
  emitters: number
  /** Name of the emitter holding the most. */
  emitter: string
}

/** Live timers, or pending promises, from one site. */
export interface HandleGroup {
  /** `'interval'`: never cleared; `'timeout'`: not fired yet; `'promise'`: not settled. */
  kind: 'interval' | 'timeout' | 'promise'
  /** `file:line:column`. */
  site: string
  /** How many are alive. */
  count: number
}

/** What is alive, by creation site, each list most first. */
export interface LiveSites {
  /** `Date.now()` when it was taken. */
  time: number
  /** Listeners of tracked emitters whose site was captured. */
  listeners: ListenerGroup[]
  /** Intervals never cleared (`trackTimers`). */
  intervals: HandleGroup[]
  /** Timeouts not fired yet (`trackTimers`). */
  timeouts: HandleGroup[]
  /** Promises never settled (`trackPromises`). */
  promises: HandleGroup[]
}

/** Reads what is alive, by creation site, from what the active trackers recorded. */
export declare function liveSites(): LiveSites

/** One group that grew between two readings of `liveSites()`. */
export interface LiveSitesGrowth {
  kind: 'listener' | 'interval' | 'timeout' | 'promise'
  /** `file:line:column`. */
  site: string
  /** For listeners: the event name. */
  event?: string | symbol
  /** For listeners: the emitter holding the most. */
  emitter?: string
  /**
   * For listeners: how many emitters hold them in the later reading. One emitter holding
   * many is a listener leak; many emitters holding one each is emitters piling up (or not
   * yet collected: read them after a GC to tell).
   */
  emitters?: number
  /** Count in the earlier reading. */
  before: number
  /** Count in the later reading. */
  after: number
  /** `after - before`, always > 0. */
  growth: number
}

/** The groups that grew from `before` to `after`, most growth first. */
export declare function compareLiveSites(before: LiveSites, after: LiveSites): LiveSitesGrowth[]

/**
 * The `limit` sites that grew most since the previous call of this function (since tracking
 * started, on the first call). The watcher's reports keep a baseline of their own.
 * @param limit @default 10
 */
export declare function topGrowingSites(limit?: number): LiveSitesGrowth[]

/** @deprecated `liveSites()`'s former name (warns once, code `LEAKPROOF_DEPRECATED`): "census" is the diagnosis' count of reachable collections. */
export declare function census(): LiveSites
/** @deprecated `compareLiveSites()`'s former name (warns once, code `LEAKPROOF_DEPRECATED`). */
export declare function compareCensus(before: LiveSites, after: LiveSites): LiveSitesGrowth[]
/** @deprecated renamed `LiveSites`. */
export type Census = LiveSites
/** @deprecated renamed `LiveSitesGrowth`. */
export type CensusGrowth = LiveSitesGrowth
