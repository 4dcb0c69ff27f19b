// Types of `leakproof/test` (lib/leak-test/index.js): leak tests for the code under test.

/** Options of `measureLeak()` and `assertNoLeak()` (docs/testing.md). */
export interface LeakTestOptions {
  /** Calls between two floors. Default 100. */
  callsPerRound?: number
  /** Floors judged, at least 6. Default 12. */
  rounds?: number
  /** Rounds run before the first floor judged (JIT, lazy initialisation, caches filling). Default 3. */
  warmUpRounds?: number
  /** The smallest retention reported, in bytes per call. Default 16. */
  minBytesPerCall?: number
  /** Mann–Kendall confidence of an upward trend a leak needs, in [0.5, 1). Default 0.99. */
  confidence?: number
  /** Whether a heap leak is followed by three heap snapshots that name its holder. Default true. */
  snapshots?: boolean
}

/** What the rounds show for one kind of memory, as the Rust verdict gives it (binding.d.ts). */
export type RoundsVerdict = import('../../binding').RoundsVerdict

/** What `measureLeak()` resolves to. */
export interface LeakMeasurement {
  /** Whether `fn` retains memory from call to call. */
  leaking: boolean
  /** The kind that leaks most per call, or null. */
  kind: 'heap' | 'external' | null
  /** Bytes retained per call of `kind`, as the second measure found; 0 when not leaking. */
  bytesPerCall: number
  /** Calls made in all. */
  calls: number
  /** One per round judged: calls made so far, then heap and ArrayBuffer bytes after a full GC. */
  floors: Array<{ calls: number; heap: number; external: number }>
  /** The JavaScript heap's verdict (objects' spaces, not compiled code). */
  heap: RoundsVerdict
  /** ArrayBuffer and Buffer memory's verdict. */
  external: RoundsVerdict
  /** The second measure of a suspected leak, with four times the calls per round; null when none was suspected. */
  confirmation: { callsPerRound: number; floors: Array<{ calls: number; heap: number; external: number }>; heap: RoundsVerdict; external: RoundsVerdict } | null
  /** On a heap leak with `snapshots`: the suspects of the three snapshots' diff (`diffSnapshots`), else null. */
  suspects: Array<{ name: string; count: number; bytes: number; retainedSize: number; readablePath: string[]; holder?: { description: string } }> | null
  /** Why the snapshots failed, or null. */
  snapshotError: string | null
  /** The options used, defaults filled in. */
  settings: Required<LeakTestOptions>
}

/** Rejection of `assertNoLeak()` on a leak; `code` is `'ERR_LEAKPROOF_LEAK'`. */
export declare class LeakError extends Error {
  readonly code: 'ERR_LEAKPROOF_LEAK'
  /** What `measureLeak()` resolved to. */
  readonly measurement: LeakMeasurement
}

/** Calls `fn` in rounds and measures whether it retains memory from call to call. */
export declare function measureLeak(fn: (call: number) => unknown, options?: LeakTestOptions): Promise<LeakMeasurement>

/** Resolves when `fn` does not leak; rejects with a `LeakError` naming bytes per call and the holder when it does. */
export declare function assertNoLeak(fn: (call: number) => unknown, options?: LeakTestOptions): Promise<LeakMeasurement>

/** Every option's default. */
export declare const DEFAULTS: Readonly<Required<LeakTestOptions>>
