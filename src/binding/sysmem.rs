//! `systemMemory()`: RSS and container memory, read by Rust from procfs and cgroupfs, as the
//! core's own `SystemMemory`.

use napi::bindgen_prelude::{Null, Result, ToNapiValue};
use napi::sys;
use napi_derive::napi;

use crate::core::system::sysmem::{self, MallocCount, SystemMemory};

/// Reads RSS (`/proc/self/statm`), the cgroup v2 (or v1) memory limit and usage, and,
/// unless `with_malloc` is false, glibc's `mallinfo2`. Three small file reads and a walk of
/// malloc's free lists, which holds its locks: usually some µs, and a count that took long
/// defers the next by a thousand times as long. Does not touch the JS heap.
#[napi]
pub fn system_memory(with_malloc: Option<bool>) -> SystemMemory {
    sysmem::read_own_memory(with_malloc.unwrap_or(true))
}

/// `SystemMemory`'s `mallocInUse` in JS: the bytes counted, or null when none were (not glibc,
/// deferred, or not asked for).
impl ToNapiValue for MallocCount {
    unsafe fn to_napi_value(env: sys::napi_env, count: Self) -> Result<sys::napi_value> {
        match count.bytes() {
            Some(bytes) => f64::to_napi_value(env, bytes as f64),
            None => Null::to_napi_value(env, Null),
        }
    }
}
