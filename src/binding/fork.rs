//! `forkSnapshot()`: runs a function in a forked child of this process (Linux), which then
//! leaves, while a Rust thread watches it and tells how it ended; `prepareFork()` reads its plan
//! beforehand, out of the stop. See `core::capture::fork`.

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::core::capture::fork::page_cache::WrittenFile;
use crate::core::capture::fork::plan;
use crate::core::capture::fork::watchdog::{self, ForkLimits, Outcome};
use crate::core::capture::fork::{child, fork_for_snapshot, Forked};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::JsDeferred;
use napi_derive::napi;

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
    /// Bytes of memory this child got a copy of that V8 keeps from children, and with a plan
    /// the mappings made since it was read.
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

/// This process's mappings and V8's `MADV_DONTFORK` ones, read by `prepareFork()` before a
/// fork so that `forkSnapshot` stops the process for less (`core::capture::fork::plan`).
#[napi(custom_finalize)]
pub struct ForkPlan {
    inner: plan::ForkPlan,
    reported_bytes: i64,
}

impl ObjectFinalize for ForkPlan {
    /// Tells V8 the plan's memory is gone.
    fn finalize(self, env: Env) -> Result<()> {
        // Only a failing engine refuses; the memory is freed either way.
        let _ = env.adjust_external_memory(-self.reported_bytes);
        Ok(())
    }
}

/// Reads `/proc/self/smaps` on a thread of its own (tens of milliseconds per GB of heap): the
/// plan of the next `forkSnapshot`, whose stop then reads only `/proc/self/maps`. Ask for it just
/// before the fork: the mappings made since are given to the child whole and stay forkable in
/// this process. Not on libuv's pool: a process that may not start threads (its `RLIMIT_NPROC`
/// reached, when fork() fails too) would abort starting the pool; here it throws.
#[napi(ts_return_type = "Promise<ForkPlan>")]
pub fn prepare_fork(env: &Env) -> Result<Object<'_>> {
    // The thread starts first and is handed the promise's settler after: a settler dropped
    // unsettled would keep the event loop alive.
    let (send_settler, settler) = std::sync::mpsc::channel::<PlanSettler>();
    std::thread::Builder::new()
        .name("leakproof-fork-plan".into())
        .spawn(move || {
            let read = plan::ForkPlan::read();
            let Ok(settler) = settler.recv() else { return };
            match read {
                Ok(inner) => settler.resolve(Box::new(move |env| {
                    // V8 is told of the plan's memory: 16 bytes a mapping, thousands of mappings.
                    let reported_bytes = inner.heap_bytes() as i64;
                    env.adjust_external_memory(reported_bytes)?;
                    Ok(ForkPlan {
                        inner,
                        reported_bytes,
                    })
                })),
                Err(e) => settler.reject(Error::new(
                    Status::GenericFailure,
                    format!("smaps failed: {e}"),
                )),
            }
        })
        .map_err(|e| Error::new(Status::GenericFailure, format!("fork plan thread: {e}")))?;
    let (settler, promise) = env.create_deferred()?;
    let _ = send_settler.send(settler);
    Ok(promise)
}

/// Settles `prepareFork`'s promise from its thread.
type PlanSettler = JsDeferred<ForkPlan, Box<dyn FnOnce(Env) -> Result<ForkPlan> + Send>>;

type EndCallback = ThreadsafeFunction<Outcome, (), Outcome, Status, false, false>;

/// Forks. In the child, `work()` runs at once, with every thread but this one gone: the
/// child exits 0 with what `work` returned as its result, or 1 with the message of what it
/// threw, and never returns to JavaScript's event loop. In the parent, returns the child's
/// handle; `onEnd(outcome)` is called once the child has ended (`core::capture::fork::watchdog`).
/// Until then the event loop is kept alive (at most until the child's deadline), so that a
/// process with nothing else to do does not exit, killing its child, before the snapshot is
/// written. `writtenFile`, the file the child writes, is kept out of the page cache meanwhile
/// (`core::capture::fork::page_cache`). `plan`, from `prepareFork()`, keeps the read of
/// `/proc/self/smaps` out of the stop; without it, it is read here. `unfinishedFile`, the file
/// the child writes until it is complete, is removed by the child if it dies of this process's
/// death or of SIGTERM, SIGINT or SIGHUP (`core::capture::fork::child`).
#[napi]
pub fn fork_snapshot(
    work: Function<(), String>,
    limits: ForkLimits,
    on_end: Function<Outcome, ()>,
    written_file: Option<String>,
    plan: Option<&ForkPlan>,
    unfinished_file: Option<String>,
) -> Result<ForkedChild> {
    let callback: EndCallback = on_end
        .build_threadsafe_function::<Outcome>()
        .callee_handled::<false>()
        .weak::<false>()
        .build()?;
    // Made before the fork: the child may allocate nothing before it is set up.
    let unfinished = unfinished_file
        .map(CString::new)
        .transpose()
        .map_err(|e| Error::new(Status::InvalidArg, format!("unfinishedFile: {e}")))?;
    let parent = match fork_for_snapshot(plan.map(|p| &p.inner)) {
        Ok(Forked::Child { result_fd, parent }) => {
            // The child never returns: its copy of the name lives as long as it does.
            let unfinished = unfinished.map(|c| &*Box::leak(c.into_boxed_c_str()));
            run_child(result_fd, parent, unfinished, &work)
        }
        Ok(Forked::Parent(parent)) => parent,
        Err(e) => return Err(Error::new(Status::GenericFailure, e.to_string())),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let watched = cancel.clone();
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
fn run_child(
    result_fd: i32,
    parent: i32,
    unfinished: Option<&'static CStr>,
    work: &Function<(), String>,
) -> ! {
    if let Err(code) = child::prepare(result_fd, parent, unfinished) {
        child::exit(result_fd, code, "the child could not redirect its imports");
    }
    match work.call(()) {
        Ok(result) => child::exit(result_fd, child::EXIT_DONE, &result),
        Err(e) => child::exit(result_fd, child::EXIT_FAILED, &e.reason),
    }
}
