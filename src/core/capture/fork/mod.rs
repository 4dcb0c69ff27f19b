//! Heap snapshots written by a forked child (Linux): the parent stops only for `fork()`,
//! and a copy-on-write child with one thread writes the file while the parent serves.
//!
//! - [`fork_for_snapshot`] forks, with V8's `MADV_DONTFORK` ranges copied for once (see
//!   [`smaps`]; a [`plan`] read before the stop keeps the slow read of smaps out of it), and a
//!   pipe the child writes its result through.
//! - [`child`] sets the child up so that a wait for a thread fork did not copy ends it with
//!   a telling exit code instead of hanging, and is how it leaves.
//! - [`watchdog`] follows the child from a parent thread: its exit, its peak memory, and a
//!   kill when it hangs or runs past its deadline; [`page_cache`] keeps the file it writes
//!   out of the page cache meanwhile.

pub mod child;
mod got;
pub mod page_cache;
pub mod plan;
pub mod smaps;
pub mod watchdog;

use std::fmt;
use std::os::fd::RawFd;
use std::time::Instant;

use plan::ForkPlan;

/// Why no child was forked.
#[derive(Debug)]
pub struct ForkError {
    /// What failed: `smaps`, `maps`, `pipe` or `fork`.
    pub step: &'static str,
    /// The OS error.
    pub error: std::io::Error,
}

impl fmt::Display for ForkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.step, self.error)
    }
}

/// The parent's side of a fork.
#[derive(Debug)]
pub struct Parent {
    /// The child's pid.
    pub pid: i32,
    /// The read end of the child's result pipe (non-blocking), for [`watchdog::supervise`].
    pub result_fd: RawFd,
    /// How long the parent was stopped: reading the mappings, advising them, forking, advising back.
    pub stop_ms: f64,
    /// Of which `fork()` itself.
    pub fork_ms: f64,
    /// Bytes of the mappings advised `MADV_DOFORK` for the child: V8's `MADV_DONTFORK` ones, and
    /// with a plan those mapped since it was read.
    pub copied_bytes: u64,
}

/// Which side of the fork this is.
#[derive(Debug)]
pub enum Forked {
    /// The process that called.
    Parent(Parent),
    /// The child: it must end with [`child::exit`], writing its result through `result_fd`.
    Child {
        /// The write end of the result pipe.
        result_fd: RawFd,
        /// The pid of the process that forked it.
        parent: i32,
    },
}

/// Forks this process for a snapshot (see the module doc). With a `plan` read before, the stop
/// reads `/proc/self/maps` only; without, it reads `/proc/self/smaps` (tens of ms per GB of
/// heap). In the child, nothing is set up yet: call [`child::prepare`] first.
pub fn fork_for_snapshot(plan: Option<&ForkPlan>) -> Result<Forked, ForkError> {
    let started = Instant::now();
    let advice = match plan {
        Some(plan) => {
            let maps = std::fs::read_to_string("/proc/self/maps").map_err(|error| ForkError {
                step: "maps",
                error,
            })?;
            plan.advice(&smaps::mapped_ranges(&maps))
        }
        None => {
            let plan = ForkPlan::read().map_err(|error| ForkError {
                step: "smaps",
                error,
            })?;
            plan.advice(plan.mapped())
        }
    };
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(ForkError {
            step: "pipe",
            error: std::io::Error::last_os_error(),
        });
    }
    let [read_fd, write_fd] = fds;
    let copied_bytes = advice.give_to_child();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    let fork_started = Instant::now();
    // SAFETY: the child runs only async-signal-safe setup (child::prepare) before V8's
    // snapshot writer, and never returns to the event loop: it leaves through child::exit.
    let pid = unsafe { libc::fork() };
    let fork_ms = fork_started.elapsed().as_secs_f64() * 1e3;
    if pid == 0 {
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(read_fd) };
        return Ok(Forked::Child {
            result_fd: write_fd,
            parent,
        });
    }
    let error = std::io::Error::last_os_error();
    advice.keep_back();
    // SAFETY: the write end is the child's; fcntl only sets a flag on our read end.
    unsafe {
        libc::close(write_fd);
        if pid < 0 {
            libc::close(read_fd);
        } else {
            libc::fcntl(read_fd, libc::F_SETFL, libc::O_NONBLOCK);
        }
    }
    if pid < 0 {
        return Err(ForkError {
            step: "fork",
            error,
        });
    }
    Ok(Forked::Parent(Parent {
        pid,
        result_fd: read_fd,
        stop_ms: started.elapsed().as_secs_f64() * 1e3,
        fork_ms,
        copied_bytes,
    }))
}
