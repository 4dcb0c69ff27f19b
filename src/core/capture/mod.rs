//! Capture: heap snapshots written without stopping the service. Linux only: [`fork`]
//! forks a copy-on-write child that writes the snapshot while the parent serves. The JS side
//! (the capture part of `lib/`) decides when to take one and names the file; [`file_lock`]
//! marks the file as being written, for every process that shares its directory.

pub mod file_lock;
pub mod fork;
