// Types of `systemMemory()`: RSS and container memory, read by the native addon; index.d.ts exports them all.
// Its shape is the binding's, generated from the Rust (binding.d.ts).
import type * as Binding from '../../binding'

/**
 * Memory of this process and its container, as the kernel reports it. A field is null
 * where the platform does not say (not Linux, no cgroup memory controller, no limit set, or
 * no glibc `malloc`).
 */
export type SystemMemory = Binding.SystemMemory

/**
 * Reads RSS, the container's memory limit and usage (cgroup v2, v1 fallback) and glibc's
 * `malloc` figures.
 * Throws `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` where the native addon has no binary.
 */
export declare function systemMemory(): SystemMemory
