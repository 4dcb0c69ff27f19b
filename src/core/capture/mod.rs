//! Capture: heap snapshots written without stopping the service. Linux only: [`fork`]
//! forks a copy-on-write child that writes the snapshot while the parent serves. The JS side
//! (the capture part of `lib/`) decides when to take one and names the file; [`file_lock`]
//! marks the file as being written, for every process that shares its directory.

pub mod file_lock;
pub mod fork;

/// Held by every test that forks, or that needs a file lock released when it closes the
/// file: a child forked by one test inherits every descriptor the others have open, and
/// holds their locks (and pipes) for as long as it lives. A test that panicked leaves it
/// usable.
#[cfg(test)]
pub(crate) fn forking() -> std::sync::MutexGuard<'static, ()> {
    static FORKS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    FORKS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
