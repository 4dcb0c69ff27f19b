//! `systemMemory()`: RSS and container memory, read by Rust from procfs and cgroupfs.

use napi_derive::napi;

use crate::core::system::sysmem;

/// Memory of this process and its container, as the kernel reports it. A field is null
/// where the platform does not say (not Linux, no cgroup memory controller, no limit set, or
/// no glibc `malloc`).
#[napi(object, use_nullable = true)]
pub struct SystemMemory {
    /// Resident set size of the process, in bytes.
    pub rss: Option<f64>,
    /// The tightest cgroup memory limit over the process's cgroup and its ancestors, in bytes.
    pub container_limit: Option<f64>,
    /// Memory charged to the process's cgroup, in bytes.
    pub container_usage: Option<f64>,
    /// Bytes in use from the C library's `malloc` (glibc 2.33 and later, when no other allocator
    /// replaced it): native memory without V8's pooled heap pages, which RSS also counts. Also
    /// null for a while after a count: glibc walks malloc's free lists under its lock, so the
    /// next count waits a thousand times as long as the last one took; and null when not asked
    /// for.
    pub malloc_in_use: Option<f64>,
}

/// Reads RSS (`/proc/self/statm`), the cgroup v2 (or v1) memory limit and usage, and,
/// unless `with_malloc` is false, glibc's `mallinfo2`. Three small file reads and a walk of
/// malloc's free lists, which holds its locks: usually some µs, and a count that took long
/// defers the next by a thousand times as long. Does not touch the JS heap.
#[napi]
pub fn system_memory(with_malloc: Option<bool>) -> SystemMemory {
    let m = sysmem::read_own_memory(with_malloc.unwrap_or(true));
    SystemMemory {
        rss: m.rss.map(|v| v as f64),
        container_limit: m.container_limit.map(|v| v as f64),
        container_usage: m.container_usage.map(|v| v as f64),
        malloc_in_use: m.malloc_in_use.bytes().map(|v| v as f64),
    }
}
