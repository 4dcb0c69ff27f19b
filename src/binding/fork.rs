//! `forkSnapshot()`: runs a function in a forked child of this process (Linux), which then
//! leaves, while a Rust thread watches it and tells how it ended. See `core::capture::fork`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::core::capture::fork::page_cache::WrittenFile;
use crate::core::capture::fork::watchdog::{self, Limits, Outcome};
use crate::core::capture::fork::{child, fork_for_snapshot, Forked};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

/// When the child is given up on (validated by the JS caller).
#[napi(object)]
pub struct ForkLimits {
    /// Killed when still running this many milliseconds after the fork.
    pub deadline_ms: f64,
    /// Killed when asleep this many milliseconds without spending CPU time.
    pub stall_ms: f64,
}

/// The parent's handle on a forked child.
#[napi]
pub struct ForkedChild {
    cancel: Arc<AtomicBool>,
    /// The child's pid.
    #[napi(readonly)]
    pub pid: i32,
    /// How long this process was stopped to fork it, in milliseconds.
    #[napi(readonly)]
    pub stop_ms: f64,
    /// Of which `fork()` itself.
    #[napi(readonly)]
    pub fork_ms: f64,
    /// Bytes of memory V8 had kept from children that this one got a copy of.
    #[napi(readonly)]
    pub copied_bytes: f64,
}

#[napi]
impl ForkedChild {
    /// Kills the child; its `onEnd` says `cancelled`.
    #[napi]
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

type EndCallback = ThreadsafeFunction<Outcome, (), Outcome, Status, false, false>;

/// Forks. In the child, `work()` runs at once, with every thread but this one gone: the
/// child exits 0 with what `work` returned as its result, or 1 with the message of what it
/// threw, and never returns to JavaScript's event loop. In the parent, returns the child's
/// handle; `onEnd(outcome)` is called once the child has ended (`core::capture::fork::watchdog`).
/// Until then the event loop is kept alive (at most until the child's deadline), so that a
/// process with nothing else to do does not exit, killing its child, before the snapshot is
/// written. `writtenFile`, the file the child writes, is kept out of the page cache meanwhile
/// (`core::capture::fork::page_cache`).
#[napi]
pub fn fork_snapshot(
    work: Function<(), String>,
    limits: ForkLimits,
    on_end: Function<Outcome, ()>,
    written_file: Option<String>,
) -> Result<ForkedChild> {
    let callback: EndCallback = on_end
        .build_threadsafe_function::<Outcome>()
        .callee_handled::<false>()
        .weak::<false>()
        .build()?;
    let parent = match fork_for_snapshot() {
        Ok(Forked::Child { result_fd }) => run_child(result_fd, &work),
        Ok(Forked::Parent(parent)) => parent,
        Err(e) => return Err(Error::new(Status::GenericFailure, e.to_string())),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let watched = cancel.clone();
    let limits = Limits {
        deadline: Duration::from_secs_f64(limits.deadline_ms.max(0.0) / 1e3),
        stall: Duration::from_secs_f64(limits.stall_ms.max(0.0) / 1e3),
    };
    let (pid, result_fd) = (parent.pid, parent.result_fd);
    std::thread::Builder::new()
        .name("leakproof-fork".into())
        .spawn(move || {
            let written = written_file.map(|path| WrittenFile::new(path.into()));
            let outcome = watchdog::supervise(pid, result_fd, limits, &watched, written);
            callback.call(outcome, ThreadsafeFunctionCallMode::NonBlocking);
        })
        .map_err(|e| {
            // Unwatched, the child could hang unseen: it goes, and no snapshot is written.
            // SAFETY: our own child, not yet reaped; its result pipe is ours to close.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
                libc::close(result_fd);
            }
            Error::new(Status::GenericFailure, format!("watchdog thread: {e}"))
        })?;
    Ok(ForkedChild {
        cancel,
        pid,
        stop_ms: parent.stop_ms,
        fork_ms: parent.fork_ms,
        copied_bytes: parent.copied_bytes as f64,
    })
}

/// The child's whole life: set up, run `work`, leave.
fn run_child(result_fd: i32, work: &Function<(), String>) -> ! {
    if let Err(code) = child::prepare(result_fd) {
        child::exit(result_fd, code, "the child could not redirect its imports");
    }
    match work.call(()) {
        Ok(result) => child::exit(result_fd, child::EXIT_DONE, &result),
        Err(e) => child::exit(result_fd, child::EXIT_FAILED, &e.reason),
    }
}
