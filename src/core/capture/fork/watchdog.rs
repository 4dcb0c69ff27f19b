//! Follows a forked snapshot child from a parent thread until it ends: reaps it, reads what
//! it wrote, records its peak memory, keeps the file it writes out of the page cache
//! ([`WrittenFile`]), and kills it when it hangs (asleep with no CPU time spent for `stall`)
//! or runs past its `deadline`. The parent is never blocked.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::page_cache::WrittenFile;

/// How often the child is looked at.
const POLL: Duration = Duration::from_millis(20);
/// The child's private memory is read at most this often, and at most a fifth of the time:
/// `smaps_rollup` walks its page tables (0.1–0.3 s for some GB).
const PRIVATE_EVERY: Duration = Duration::from_secs(1);
/// The most of the child's result kept.
const MAX_RESULT_BYTES: usize = 64 * 1024;

/// When the watchdog gives up on a child (`forkSnapshot`'s `limits`, validated by its JS caller).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct ForkLimits {
    /// Killed when still running this many milliseconds after the fork.
    pub deadline_ms: f64,
    /// Killed when asleep this many milliseconds without spending CPU time: waiting for
    /// something that will not come.
    pub stall_ms: f64,
}

impl ForkLimits {
    fn deadline(&self) -> Duration {
        millis(self.deadline_ms)
    }

    fn stall(&self) -> Duration {
        millis(self.stall_ms)
    }
}

/// Milliseconds as a `Duration`: none below zero (nor NaN), and no limit for a value past
/// what a `Duration` holds (infinity), where `from_secs_f64` would panic.
fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms.max(0.0) / 1e3).unwrap_or(Duration::MAX)
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// It exited with this code.
    Exited(i32),
    /// A signal other than ours ended it (a crash, or the OOM killer's SIGKILL).
    Signaled(i32),
    /// The watchdog killed it: it slept without progress for `stall`.
    KilledHung,
    /// The watchdog killed it: the deadline passed.
    KilledDeadline,
    /// It was killed because the parent asked (`cancel`).
    Cancelled,
}

/// How a child ended, as JS reads it in `Outcome` (`End` without its numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum EndKind {
    /// It exited: `code` says with what.
    Exited,
    /// A signal other than the watchdog's ended it: `signal` says which.
    Signaled,
    /// The watchdog killed it: it slept without progress for the stall limit.
    Hung,
    /// The watchdog killed it: the deadline passed.
    Deadline,
    /// It was killed because the parent asked (`cancel()`).
    Cancelled,
}

/// What the watchdog saw: what `forkSnapshot`'s `onEnd` receives.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct Outcome {
    /// How the child ended.
    pub end: EndKind,
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did (not the watchdog's).
    pub signal: Option<i32>,
    /// What the child wrote to its result pipe: its result's JSON, or why it failed.
    pub result_text: String,
    /// From fork to reaping, in milliseconds.
    pub duration_ms: f64,
    /// The child's peak resident memory (`VmHWM`), the pages it shares with the parent
    /// included, in bytes; 0 if never read.
    pub peak_rss_bytes: i64,
    /// The child's peak private memory (`Private_Dirty` + `Private_Clean` of `smaps_rollup`,
    /// read about every second): what it wrote itself (V8's snapshot graph, its GC's copies)
    /// and the originals of the pages the parent wrote meanwhile, i.e. what the machine lost
    /// to it, in bytes; 0 if never read.
    pub peak_private_bytes: i64,
}

impl End {
    /// The outcome of a child that ended so.
    fn outcome(self, result_text: String, duration: Duration, peak: Peak) -> Outcome {
        let (end, code, signal) = match self {
            End::Exited(code) => (EndKind::Exited, Some(code), None),
            End::Signaled(signal) => (EndKind::Signaled, None, Some(signal)),
            End::KilledHung => (EndKind::Hung, None, None),
            End::KilledDeadline => (EndKind::Deadline, None, None),
            End::Cancelled => (EndKind::Cancelled, None, None),
        };
        Outcome {
            end,
            code,
            signal,
            result_text,
            duration_ms: duration.as_secs_f64() * 1e3,
            peak_rss_bytes: peak.rss as i64,
            peak_private_bytes: peak.private as i64,
        }
    }
}

/// The child's peak memory so far, in bytes.
#[derive(Debug, Default, Clone, Copy)]
struct Peak {
    rss: u64,
    private: u64,
}

/// Watches `pid` until it ends (see the module doc); `cancel` kills it early. Closes
/// `result_fd`. `written`, the file the child writes, is kept out of the page cache. Blocks
/// the calling thread: run it on one of its own.
pub fn supervise(
    pid: i32,
    result_fd: RawFd,
    limits: ForkLimits,
    cancel: &AtomicBool,
    mut written: Option<WrittenFile>,
) -> Outcome {
    let started = Instant::now();
    let mut result = Vec::new();
    let mut peak = Peak::default();
    let mut private_due = Duration::ZERO;
    let mut progress = CpuProgress::default();
    let mut killed: Option<End> = None;
    let end = loop {
        drain(result_fd, &mut result);
        if let Some(end) = reap(pid, false) {
            break end;
        }
        if let Some(stat) = read_stat(pid) {
            peak.rss = peak.rss.max(read_peak_rss(pid).unwrap_or(0));
            if started.elapsed() >= private_due {
                let reading = Instant::now();
                peak.private = peak.private.max(read_private(pid).unwrap_or(0));
                private_due = started.elapsed() + PRIVATE_EVERY.max(reading.elapsed() * 5);
            }
            if let Some(file) = written.as_mut() {
                file.step();
            }
            if killed.is_none() {
                killed = verdict(&mut progress, stat, started.elapsed(), limits, cancel);
                if killed.is_some() {
                    // SAFETY: signalling our own child, not yet reaped, so its pid is still its own.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    let _ = reap(pid, true);
                    break killed.clone().unwrap();
                }
            }
        }
        std::thread::sleep(POLL);
    };
    drain(result_fd, &mut result);
    // SAFETY: the descriptor is ours and closed once.
    unsafe { libc::close(result_fd) };
    let duration = started.elapsed();
    if let Some(file) = written.as_mut() {
        file.finish();
    }
    let result_text = String::from_utf8_lossy(&result).into_owned();
    end.outcome(result_text, duration, peak)
}

/// Whether to kill now, and as what.
fn verdict(
    progress: &mut CpuProgress,
    stat: Stat,
    elapsed: Duration,
    limits: ForkLimits,
    cancel: &AtomicBool,
) -> Option<End> {
    if cancel.load(Ordering::Relaxed) {
        return Some(End::Cancelled);
    }
    if elapsed >= limits.deadline() {
        return Some(End::KilledDeadline);
    }
    (progress.asleep_without_cpu(stat, elapsed) >= limits.stall()).then_some(End::KilledHung)
}

/// A child's scheduling state and CPU time so far, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, …
    pub state: u8,
    /// User and system time, in clock ticks.
    pub cpu_ticks: u64,
}

/// How long a child has been asleep without spending CPU time.
#[derive(Debug, Default)]
pub struct CpuProgress {
    last_ticks: u64,
    idle_since: Option<Duration>,
}

impl CpuProgress {
    /// Given the newest reading at `now` (since the fork), how long the child has slept
    /// interruptibly without any CPU time; zero while it runs, waits for the disk, or gains
    /// CPU time.
    pub fn asleep_without_cpu(&mut self, stat: Stat, now: Duration) -> Duration {
        let progressed = stat.cpu_ticks != self.last_ticks;
        self.last_ticks = stat.cpu_ticks;
        if progressed || stat.state != b'S' {
            self.idle_since = None;
            return Duration::ZERO;
        }
        now - *self.idle_since.get_or_insert(now)
    }
}

/// Parses the state and CPU time out of a `/proc/PID/stat` line (the command name may hold
/// spaces and parentheses: fields are counted from the last `)`).
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of the line, utime 14 and stime 15.
    let state = *fields.first()?.as_bytes().first()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Stat {
        state,
        cpu_ticks: utime + stime,
    })
}

fn read_stat(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `VmHWM` of `/proc/PID/status`, in bytes.
fn read_peak_rss(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `Private_Dirty` + `Private_Clean` of `/proc/PID/smaps_rollup`, in bytes.
fn read_private(pid: i32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb = |name: &str| -> Option<u64> {
        let line = rollup.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((kb("Private_Dirty:")? + kb("Private_Clean:")?) * 1024)
}

/// Reaps the child if it has ended (or waits for it, with `block`).
fn reap(pid: i32, block: bool) -> Option<End> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    // SAFETY: waits for our own child; `status` is written by waitpid.
    let r = unsafe { libc::waitpid(pid, &mut status, flags) };
    if r != pid {
        // Not ended yet; or someone else reaped it (an ECHILD): nothing more to learn.
        return (r < 0).then_some(End::Signaled(0));
    }
    Some(if libc::WIFEXITED(status) {
        End::Exited(libc::WEXITSTATUS(status))
    } else {
        End::Signaled(libc::WTERMSIG(status))
    })
}

/// Reads what is in the pipe now, up to the cap.
fn drain(fd: RawFd, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: `buf` is a valid buffer of its length; the descriptor is non-blocking.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n <= 0 {
            return;
        }
        let room = MAX_RESULT_BYTES.saturating_sub(into.len());
        into.extend_from_slice(&buf[..(n as usize).min(room)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_milliseconds_never_panic() {
        let limits = |deadline_ms, stall_ms| ForkLimits {
            deadline_ms,
            stall_ms,
        };
        assert_eq!(limits(1500.0, 0.0).deadline(), Duration::from_millis(1500));
        assert_eq!(limits(-5.0, f64::NAN).deadline(), Duration::ZERO);
        assert_eq!(limits(-5.0, f64::NAN).stall(), Duration::ZERO);
        assert_eq!(limits(f64::INFINITY, 1e300).deadline(), Duration::MAX);
        assert_eq!(limits(f64::INFINITY, 1e300).stall(), Duration::MAX);
    }

    #[test]
    fn stat_lines_with_odd_command_names() {
        let line = "1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                state: b'S',
                cpu_ticks: 281
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn only_interruptible_sleep_without_cpu_time_counts_as_hung() {
        let mut p = CpuProgress::default();
        let at = |ms| Duration::from_millis(ms);
        let s = |state, cpu_ticks| Stat { state, cpu_ticks };
        assert_eq!(p.asleep_without_cpu(s(b'R', 5), at(0)), Duration::ZERO);
        assert_eq!(p.asleep_without_cpu(s(b'S', 5), at(100)), Duration::ZERO);
        assert_eq!(p.asleep_without_cpu(s(b'S', 5), at(900)), at(800));
        // Waiting for the disk is progress of a kind.
        assert_eq!(p.asleep_without_cpu(s(b'D', 5), at(1000)), Duration::ZERO);
        assert_eq!(p.asleep_without_cpu(s(b'S', 5), at(1100)), Duration::ZERO);
        assert_eq!(p.asleep_without_cpu(s(b'S', 6), at(2000)), Duration::ZERO);
        assert_eq!(p.asleep_without_cpu(s(b'S', 6), at(2500)), Duration::ZERO);
        assert_eq!(p.asleep_without_cpu(s(b'S', 6), at(3000)), at(500));
    }

    fn fork_child(body: impl FnOnce()) -> i32 {
        // SAFETY: the child runs `body` and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            body();
            // SAFETY: as above.
            unsafe { libc::_exit(0) }
        }
        pid
    }

    fn pipe() -> (RawFd, RawFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        (fds[0], fds[1])
    }

    const LIMITS: ForkLimits = ForkLimits {
        deadline_ms: 10_000.0,
        stall_ms: 300.0,
    };

    #[test]
    fn a_child_that_writes_its_result_and_exits_is_reaped_with_it() {
        let _forks = crate::core::capture::forking();
        let (r, w) = pipe();
        let pid = fork_child(|| {
            // SAFETY: writing a static buffer to our pipe.
            unsafe { libc::write(w, b"done".as_ptr() as *const libc::c_void, 4) };
        });
        // SAFETY: the parent's copy of the write end.
        unsafe { libc::close(w) };
        let out = supervise(pid, r, LIMITS, &AtomicBool::new(false), None);
        assert_eq!((out.end, out.code), (EndKind::Exited, Some(0)));
        assert_eq!(out.result_text, "done");
    }

    #[test]
    fn a_sleeping_child_is_killed_as_hung() {
        let _forks = crate::core::capture::forking();
        let (r, w) = pipe();
        let pid = fork_child(|| loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        });
        // SAFETY: as above.
        unsafe { libc::close(w) };
        let out = supervise(pid, r, LIMITS, &AtomicBool::new(false), None);
        assert_eq!(out.end, EndKind::Hung);
        assert!(out.duration_ms >= LIMITS.stall_ms);
    }

    #[test]
    fn a_busy_child_is_killed_at_its_deadline_and_a_cancel_kills_at_once() {
        let _forks = crate::core::capture::forking();
        let busy = || loop {
            std::hint::spin_loop();
        };
        let (r, w) = pipe();
        let pid = fork_child(busy);
        // SAFETY: as above.
        unsafe { libc::close(w) };
        let limits = ForkLimits {
            deadline_ms: 400.0,
            stall_ms: 100.0,
        };
        assert_eq!(
            supervise(pid, r, limits, &AtomicBool::new(false), None).end,
            EndKind::Deadline
        );
        let (r, w) = pipe();
        let pid = fork_child(busy);
        // SAFETY: as above.
        unsafe { libc::close(w) };
        assert_eq!(
            supervise(pid, r, LIMITS, &AtomicBool::new(true), None).end,
            EndKind::Cancelled
        );
    }
}
