//! `tryLockFile()`: the exclusive lock a snapshot's writer holds on its temporary file, and
//! that a store sweeping the directory tries to take. See `core::capture::file_lock`.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core::capture::file_lock;

/// Takes an exclusive `flock` on the file open as descriptor `fd` (from `fs.openSync`), without
/// waiting: true when taken, false when another open of the file holds it (a live writer, in
/// any process and pid namespace of this machine). Throws where the file system has no such
/// locks. Closing the descriptor releases the lock.
#[napi]
pub fn try_lock_file(fd: i32) -> Result<bool> {
    file_lock::try_lock(fd)
        .map_err(|e| Error::new(Status::GenericFailure, format!("flock failed: {e}")))
}
