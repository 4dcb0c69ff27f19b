// Types of `systemMemory()`: RSS and container memory, read by the native addon; index.d.ts exports them all.


/**
 * Memory of this process and its container, as the kernel reports it. A field is null
 * where the platform does not say (not Linux, no cgroup memory controller, no limit set, or
 * no glibc `malloc`).
 */
export interface SystemMemory {
  /** Resident set size of the process, in bytes. */
  rss: number | null
  /** The tightest cgroup memory limit over the process's cgroup and its ancestors, in bytes. */
  containerLimit: number | null
  /** Memory charged to the process's cgroup, in bytes. */
  containerUsage: number | null
  /**
   * Bytes in use from the C library's `malloc` (glibc 2.33 and later, when no other allocator
   * replaced it): native memory without V8's pooled heap pages, which RSS also counts. Also
   * null for a while after a count: glibc walks malloc's free lists under its lock, so the
   * next count waits a thousand times as long as the last one took.
   */
  mallocInUse: number | null
}

/**
 * Reads RSS, the container's memory limit and usage (cgroup v2, v1 fallback) and glibc's
 * `malloc` figures.
 * Throws `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` where the native addon has no binary.
 */
export declare function systemMemory(): SystemMemory
