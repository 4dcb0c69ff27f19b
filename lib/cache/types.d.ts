// Types of `BoundedMap`, `RingBuffer` and `namedMaps()`: the caches that cannot grow without bound; index.d.ts exports them all.

/** Why an entry left a `BoundedMap`, as passed to `onEvict`. */
export type EvictionReason =
  /** Removed by the policy to stay within `max` / `maxBytes`. */
  | 'evict'
  /** Its TTL passed. */
  | 'expire'
  /** Removed by `delete`. */
  | 'delete'
  /** Its value was replaced by `set` (the old value is passed). */
  | 'set'
  /** Removed by `clear`. */
  | 'clear'
  /** Larger than `maxBytes`, so never stored (the rejected value is passed). */
  | 'too-large'

/** Options of `new BoundedMap(options)`. At least one of `max`, `maxBytes`, `ttl` is required. */
export interface BoundedMapOptions<K, V> {
  /** Most entries held; a positive integer. @default unbounded in count */
  max?: number
  /**
   * Most bytes held, as measured by `sizeOf`; a positive number.
   * @default unbounded in bytes
   */
  maxBytes?: number
  /**
   * Size of one entry in bytes; needs `maxBytes`. Must return a finite number >= 0.
   * @default exact `byteLength` for Buffers, typed arrays, DataViews and ArrayBuffers;
   * `16 + 2 * length` for strings; other values need a `sizeOf`.
   */
  sizeOf?: (value: V, key: K) => number
  /**
   * Milliseconds an entry lives after it was last set; `set(k, v, { ttl })` overrides it
   * per entry. A map bounded only by `ttl` warns once (`LEAKPROOF_TTL_ONLY`).
   * @default no expiry
   */
  ttl?: number
  /**
   * `'lru'` evicts the least recently used entry. `'s3-fifo'` is scan-resistant and keeps a
   * higher hit ratio on skewed traffic; reads are cheaper too. `'tinylfu'` is S3-FIFO with a
   * frequency sketch instead of ghosts: it also holds part of a loop larger than the map, at
   * 8 bytes more an entry and a hash of each new key.
   * @default 'lru'
   */
  policy?: 'lru' | 's3-fifo' | 'tinylfu'
  /**
   * Called once for every value that leaves the map, after the map is consistent again.
   * It may use the map. If it throws, the other calls still happen and the first error is
   * rethrown from the operation that caused them.
   */
  onEvict?: (value: V, key: K, reason: EvictionReason) => void
  /**
   * Lists the map in `namedMaps()`, with its counters. The registry holds maps weakly, so a
   * name never keeps a map alive. See docs/cache.md#namedmaps.
   */
  name?: string
  /**
   * Under memory pressure (the watcher's, or without one the heap and RSS against their
   * limits), shrink by the map's own policy to a share of its bounds, and grow back once the
   * pressure is gone: `true` keeps half, a number in (0, 1) that share, `false` never. See
   * docs/cache.md#memory-pressure.
   * @default the process's default: off, unless the watcher's `shrinkMaps` is set
   */
  shrinkUnderPressure?: boolean | number
  /**
   * Clock for TTLs, in milliseconds; inject one in tests.
   * @default a monotonic clock read at most about once per millisecond
   */
  now?: () => number
}

/** Per-entry options of `BoundedMap#set`. */
export interface BoundedMapSetOptions {
  /** This entry's TTL in ms, overriding the map's; `Infinity`: never expires. */
  ttl?: number
}

/** Counters of a `BoundedMap` since it was made. */
export interface BoundedMapStats {
  /** Entries held. */
  size: number
  /** Bytes held, as measured by `sizeOf` (0 without `maxBytes`). */
  bytes: number
  /** `get` calls that found a value. */
  hits: number
  /** `get` calls that found none. */
  misses: number
  /** Entries removed to respect `max` / `maxBytes`. */
  evictions: number
  /** Entries freed after their TTL. */
  expirations: number
  /** Values not stored because they were larger than `maxBytes`. */
  rejected: number
  /** `hits / (hits + misses)`, 0 before any `get`. */
  hitRatio: number
  /** The share of its bounds the map may hold now: 1, or less while it has shrunk under memory pressure. */
  boundShare: number
}

/**
 * A `Map` that cannot grow without bound. Within its bounds it behaves exactly as `Map`
 * (SameValueZero keys of any type, `undefined` values, live iterators).
 *
 * Iteration is in insertion order like `Map`'s, not in recency order, and skips entries
 * whose TTL has passed. `size` counts such entries until they are freed (by the map's one
 * unref'd timer, shortly after they expire, or by any access); `purgeStale()` frees them now.
 */
export declare class BoundedMap<K = unknown, V = unknown> implements Map<K, V> {
  /**
   * @param options bounds and behaviour; throws `TypeError` (`ERR_LEAKPROOF_UNBOUNDED`) when
   *   no bound is given, and `TypeError`/`RangeError` (`ERR_LEAKPROOF_INVALID_OPTION`,
   *   `ERR_LEAKPROOF_UNKNOWN_OPTION`) naming a bad option.
   * @param entries initial entries, set in order (later ones may evict earlier ones).
   */
  constructor(options: BoundedMapOptions<K, V>, entries?: Iterable<readonly [K, V]> | null)
  /** The class it is read from, as `Map[Symbol.species]` is `Map`. */
  static get [Symbol.species](): typeof BoundedMap
  /** The name given in the options. */
  readonly name: string | undefined
  /** The most entries held (`Infinity` without a count bound). */
  readonly max: number
  /** The most bytes held (`Infinity` without a byte bound). */
  readonly maxBytes: number
  /** Entries held. */
  readonly size: number
  /** `'BoundedMap'`. */
  readonly [Symbol.toStringTag]: string
  /** The value for `key`; counts a hit or a miss and refreshes the entry for the policy. */
  get(key: K): V | undefined
  /** The value for `key` without counting or refreshing. */
  peek(key: K): V | undefined
  /** Whether `key` is held and not expired. Does not refresh it. */
  has(key: K): boolean
  /**
   * Sets `key`, evicting by policy to stay within bounds. Throws
   * `ERR_LEAKPROOF_SIZEOF_REQUIRED` / `ERR_LEAKPROOF_INVALID_SIZE` when the value cannot be
   * sized; the map is unchanged then.
   */
  set(key: K, value: V, options?: BoundedMapSetOptions): this
  /**
   * The value for `key` (counted and refreshed as by `get`); when none is held, sets `key` to
   * `value` as `set` does and returns `value`. As `Map.prototype.getOrInsert` (Node 26).
   */
  getOrInsert(key: K, value: V): V
  /**
   * The value for `key` (counted and refreshed as by `get`); when none is held, sets `key` to
   * `callback(key)` as `set` does and returns it. As `Map.prototype.getOrInsertComputed` (Node 26).
   */
  getOrInsertComputed(key: K, callback: (key: K) => V): V
  /** Removes `key`; true if it was held and not expired. */
  delete(key: K): boolean
  /** Removes every entry. */
  clear(): void
  /** Calls `callback` for each live entry in insertion order. */
  forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void
  /** Live `[key, value]` pairs in insertion order. */
  entries(): MapIterator<[K, V]>
  /** Live keys in insertion order. */
  keys(): MapIterator<K>
  /** Live values in insertion order. */
  values(): MapIterator<V>
  /** The same function as `entries`, as in `Map`. */
  [Symbol.iterator](): MapIterator<[K, V]>
  /** Milliseconds until `key` expires: `Infinity` without a TTL, 0 when not held. */
  getRemainingTTL(key: K): number
  /** Frees every expired entry now; returns how many. */
  purgeStale(): number
  /** Counters since the map was made. */
  stats(): BoundedMapStats
}

/** Options of `new RingBuffer(capacity, options)`. */
export interface RingBufferOptions<T> {
  /** Called with each item that `push` overwrites. */
  onDrop?: (item: T) => void
}

/**
 * A fixed-capacity FIFO: `push` past `capacity` overwrites the oldest item. Index 0 and
 * iteration start at the oldest item. Nothing is allocated up front.
 */
export declare class RingBuffer<T = unknown> implements Iterable<T> {
  /** @param capacity a positive integer, else `ERR_LEAKPROOF_INVALID_OPTION`. */
  constructor(capacity: number, options?: RingBufferOptions<T>)
  /** Items held. */
  readonly size: number
  /** Same as `size`, for code written against an array. */
  readonly length: number
  /** The most items held. */
  readonly capacity: number
  /** Items overwritten by `push` since construction. */
  readonly dropped: number
  /** `'RingBuffer'`. */
  readonly [Symbol.toStringTag]: string
  /** Appends items as the newest, overwriting the oldest when full; returns the new size. */
  push(...items: T[]): number
  /** Removes and returns the oldest item. */
  shift(): T | undefined
  /** Removes and returns the newest item. */
  pop(): T | undefined
  /** The oldest item, without removing it. */
  peek(): T | undefined
  /** The item at `index` from the oldest, or from the newest when negative (-1 is the newest). */
  at(index: number): T | undefined
  /** The items, oldest first, as a new array. */
  toArray(): T[]
  /** Removes every item (not counted as dropped). */
  clear(): void
  /** Items oldest first. */
  [Symbol.iterator](): IterableIterator<T>
}

/** A named `BoundedMap` that is still alive, with its counters. */
export interface NamedMapStats extends BoundedMapStats {
  /** The map's `name` option. */
  name: string
}

/**
 * The named `BoundedMap`s still alive, each with its `stats()` (the registry holds them
 * weakly). It reports the counters; it does not judge them.
 */
export declare function namedMaps(): NamedMapStats[]
