//! Capture: heap snapshots written without stopping the service. Linux only: [`fork`]
//! forks a copy-on-write child that writes the snapshot while the parent serves. The JS side
//! (the capture part of `lib/`) decides when to take one and names the file.

pub mod fork;
