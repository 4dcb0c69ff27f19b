//! What a forked snapshot child does before it runs anything else, and how it leaves.
//!
//! `fork()` copies one thread: the child's V8 and libuv still believe in the parent's other
//! threads (the platform's worker pool, compiler and GC helpers). Their locks may be held,
//! their condition variables have waiters that do not exist here, and jobs may count on
//! workers that will never finish. So the child:
//! - makes signalling a condition variable a no-op: nobody can be waiting for it, and
//!   glibc's `pthread_cond_signal` would otherwise wait for the copied waiters to leave;
//! - turns every wait that could only end by another thread (an untimed condition wait, a
//!   lock some other thread held at the fork, a semaphore at zero, an untimed futex wait made
//!   through `syscall()`, as Abseil's locks in Node 24's V8 make them) into an immediate exit
//!   with a code that says so, rather than a hang: the parent then retries at another moment;
//! - dies with its parent, yields the CPU to it (nice 19), is the first the kernel's OOM killer picks, takes the default
//!   action for every signal, and lets go of the parent's sockets and pipes (so that a
//!   connection the parent closes is closed, and a port it frees is free);
//! - given the file it writes, removes it when it dies of its parent's death or of a signal
//!   that ends processes (SIGTERM, SIGINT, SIGHUP): an unfinished snapshot holds the heap's
//!   secrets, and nobody else would remove it on the way out.

use std::ffi::{c_char, c_int, c_long, c_void, CStr};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};

use super::got::{redirect_imports, Redirect};

/// The child finished: the snapshot is written.
pub const EXIT_DONE: i32 = 0;
/// The child's work failed (a JS exception: the disk full, say); its message says why.
pub const EXIT_FAILED: i32 = 1;
/// The child would have waited for a thread that fork did not copy.
pub const EXIT_WOULD_WAIT: i32 = 70;
/// The child needed a lock that a thread fork did not copy was holding.
pub const EXIT_LOCK_HELD: i32 = 71;
/// The child could not set itself up (its imports could not be redirected).
pub const EXIT_SETUP: i32 = 72;

/// The signals after which the child removes its unfinished file ([`prepare`]'s `unfinished`)
/// and dies of them: the first is the one its parent's death sends it.
const ENDING_SIGNALS: [c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The file the child removes as it dies of one of [`ENDING_SIGNALS`], or null.
static UNFINISHED: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());

/// Sets up a freshly forked child (see the module doc). `keep` is the descriptor the child
/// writes its result through; `parent`, the pid of the process that forked it; `unfinished`,
/// the file it writes, removed if it dies of its parent's death or of an ending signal (made
/// before the fork: nothing may be allocated here). Returns how many import slots were
/// redirected, or an exit code.
pub fn prepare(keep: RawFd, parent: i32, unfinished: Option<&'static CStr>) -> Result<usize, i32> {
    default_signal_actions();
    let death_signal = match unfinished {
        Some(path) => {
            UNFINISHED.store(path.as_ptr() as *mut c_char, Ordering::Relaxed);
            // SAFETY: the handler only makes async-signal-safe calls; `action` and `mask` are
            // set before they are read. The mask the forking thread had is unblocked too.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = remove_unfinished_and_die as extern "C" fn(c_int) as usize;
                libc::sigemptyset(&mut action.sa_mask);
                let mut mask: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut mask);
                for signal in ENDING_SIGNALS {
                    libc::sigaction(signal, &action, std::ptr::null_mut());
                    libc::sigaddset(&mut mask, signal);
                }
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &mask, std::ptr::null_mut());
            }
            ENDING_SIGNALS[0]
        }
        None => libc::SIGKILL,
    };
    // SAFETY: prctl and getppid have no memory preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong);
        // A parent that died before the line above sends nothing: the child is an orphan already.
        if libc::getppid() != parent {
            libc::raise(death_signal);
        }
    }
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    // SAFETY: nice has no memory preconditions; a failure leaves the priority as it was.
    unsafe { libc::nice(19) };
    release_connections(keep);
    // The C library's own syscall(), found before any slot points elsewhere.
    // SAFETY: dlsym with a NUL-terminated name has no other preconditions.
    let real = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"syscall".as_ptr()) } as usize;
    if real == 0 {
        return Err(EXIT_SETUP);
    }
    REAL_SYSCALL.store(real, Ordering::Relaxed);
    let patched = redirect_imports(&redirects());
    if patched == 0 {
        return Err(EXIT_SETUP);
    }
    Ok(patched)
}

/// Writes `message` to `fd` and ends the child at once: no exit handlers, no stdio flush,
/// nothing of the parent's state touched on the way out.
pub fn exit(fd: RawFd, code: i32, message: &str) -> ! {
    let mut rest = message.as_bytes();
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid buffer of its length.
        let n = unsafe { libc::write(fd, rest.as_ptr() as *const c_void, rest.len()) };
        if n <= 0 {
            break;
        }
        rest = &rest[n as usize..];
    }
    // SAFETY: _exit never returns and runs nothing of the process's.
    unsafe { libc::_exit(code) }
}

/// Each import the child replaces, and its replacement.
fn redirects() -> Vec<Redirect> {
    let table: [(&'static CStr, *const ()); 8] = [
        (c"pthread_cond_signal", cond_signal_alone as *const ()),
        (c"pthread_cond_broadcast", cond_signal_alone as *const ()),
        (c"pthread_cond_wait", cond_wait_alone as *const ()),
        (c"pthread_mutex_lock", mutex_lock_alone as *const ()),
        (c"pthread_rwlock_rdlock", rwlock_read_alone as *const ()),
        (c"pthread_rwlock_wrlock", rwlock_write_alone as *const ()),
        (c"sem_wait", sem_wait_alone as *const ()),
        (c"syscall", syscall_alone as *const ()),
    ];
    table
        .into_iter()
        .map(|(symbol, to)| Redirect {
            symbol,
            to: to as usize,
        })
        .collect()
}

/// Removes the unfinished file, then dies of `signal` as its default action would have it (the
/// parent's watchdog sees the signal). Only async-signal-safe calls.
extern "C" fn remove_unfinished_and_die(signal: c_int) {
    let path = UNFINISHED.load(Ordering::Relaxed);
    // SAFETY: `path` is null or a NUL-terminated string that lives as long as the process;
    // unlink, signal and raise are async-signal-safe.
    unsafe {
        if !path.is_null() {
            libc::unlink(path);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Ends the child without a message: the exit code says it all.
fn leave(code: i32) -> ! {
    // SAFETY: _exit never returns and runs nothing of the process's.
    unsafe { libc::_exit(code) }
}

extern "C" fn cond_signal_alone(_cond: *mut libc::pthread_cond_t) -> c_int {
    0
}

extern "C" fn cond_wait_alone(
    _cond: *mut libc::pthread_cond_t,
    _mutex: *mut libc::pthread_mutex_t,
) -> c_int {
    leave(EXIT_WOULD_WAIT)
}

/// The result of a try-lock, unless the lock was held: then a thread fork did not copy holds
/// it, and waiting for it would never end.
fn unless_held(result: c_int) -> c_int {
    if result == libc::EBUSY {
        leave(EXIT_LOCK_HELD)
    }
    result
}

extern "C" fn mutex_lock_alone(mutex: *mut libc::pthread_mutex_t) -> c_int {
    // SAFETY: the caller passes the mutex it meant to lock.
    unless_held(unsafe { libc::pthread_mutex_trylock(mutex) })
}

extern "C" fn rwlock_read_alone(lock: *mut libc::pthread_rwlock_t) -> c_int {
    // SAFETY: the caller passes the lock it meant to take.
    unless_held(unsafe { libc::pthread_rwlock_tryrdlock(lock) })
}

extern "C" fn rwlock_write_alone(lock: *mut libc::pthread_rwlock_t) -> c_int {
    // SAFETY: the caller passes the lock it meant to take.
    unless_held(unsafe { libc::pthread_rwlock_trywrlock(lock) })
}

extern "C" fn sem_wait_alone(sem: *mut libc::sem_t) -> c_int {
    // SAFETY: the caller passes the semaphore it meant to wait on.
    if unsafe { libc::sem_trywait(sem) } == 0 {
        return 0;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => leave(EXIT_WOULD_WAIT),
        _ => -1,
    }
}

/// The C library's `syscall`, which [`syscall_alone`] forwards to.
static REAL_SYSCALL: AtomicUsize = AtomicUsize::new(0);

type SyscallFn = unsafe extern "C" fn(c_long, ...) -> c_long;

/// `syscall()` as the child has it: a futex wait that nothing could end is an exit; every
/// other call goes to the C library's. Takes the six arguments a system call can have,
/// passed as a variadic call passes them on x86-64 and AArch64 Linux (unused ones are
/// whatever the registers held, and the kernel ignores them).
extern "C" fn syscall_alone(
    number: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    if number == libc::SYS_futex && waits_forever(a1, a2, a3, a4) {
        leave(EXIT_WOULD_WAIT)
    }
    // SAFETY: REAL_SYSCALL holds the C library's syscall, set before any slot was redirected.
    let real: SyscallFn =
        unsafe { std::mem::transmute::<usize, SyscallFn>(REAL_SYSCALL.load(Ordering::Relaxed)) };
    // SAFETY: forwards the caller's arguments unchanged.
    unsafe { real(number, a1, a2, a3, a4, a5, a6) }
}

/// Whether `futex(uaddr, op, val, timeout)` would sleep with no timeout: a wait whose word
/// still holds `val`, which only another thread could change.
fn waits_forever(uaddr: c_long, op: c_long, val: c_long, timeout: c_long) -> bool {
    let command = (op as c_int) & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    let waits = command == libc::FUTEX_WAIT || command == libc::FUTEX_WAIT_BITSET;
    // SAFETY: the caller passed the futex word it waits on; it is read atomically, as the kernel would.
    waits
        && timeout == 0
        && uaddr != 0
        && unsafe { (*(uaddr as *const AtomicI32)).load(Ordering::SeqCst) } == val as c_int
}

/// Every catchable signal to its default action: the parent's handlers forward signals to
/// an event loop this child never runs.
fn default_signal_actions() {
    for signal in 1..32 {
        if signal != libc::SIGKILL && signal != libc::SIGSTOP {
            // SAFETY: setting a default disposition has no memory preconditions.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}

/// Points every socket and pipe the child inherited (but stdio and `keep`) at /dev/null: the
/// descriptors stay taken, so that nothing the child opens gets their numbers and a stray
/// write goes nowhere, but the parent's connections and listening ports are the parent's
/// alone again.
fn release_connections(keep: RawFd) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2 && fd != keep)
        .collect();
    // SAFETY: opening /dev/null has no memory preconditions.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if null < 0 {
        return;
    }
    for fd in fds {
        // SAFETY: `st` is written by fstat before it is read; dup2 only replaces descriptors.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let kind = if libc::fstat(fd, &mut st) == 0 {
                st.st_mode & libc::S_IFMT
            } else {
                0
            };
            if fd != null && (kind == libc::S_IFSOCK || kind == libc::S_IFIFO) {
                libc::dup2(null, fd);
            }
        }
    }
    // SAFETY: `null` is ours.
    unsafe { libc::close(null) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    /// Forks; the child runs `body` after `prepare` and exits 0 if it returns. The exit code.
    fn in_child(body: impl FnOnce()) -> i32 {
        let _forks = crate::core::capture::forking();
        // SAFETY: the child only runs `body` and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            match prepare(-1, unsafe { libc::getppid() }, None) {
                Ok(_) => {
                    body();
                    leave(EXIT_DONE)
                }
                Err(code) => leave(code),
            }
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status),
            "the child did not exit: status {status}"
        );
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn a_lock_held_by_a_thread_fork_did_not_copy_ends_the_child_at_once() {
        let mutex = Box::leak(Box::new(libc::PTHREAD_MUTEX_INITIALIZER)) as *mut _ as usize;
        let locked = Arc::new(Barrier::new(2));
        let signal = locked.clone();
        std::thread::spawn(move || {
            // SAFETY: the mutex is leaked, so it lives for the whole test.
            unsafe { libc::pthread_mutex_lock(mutex as *mut libc::pthread_mutex_t) };
            signal.wait();
            std::thread::park();
        });
        locked.wait();
        let code = in_child(|| {
            // SAFETY: as above.
            unsafe { libc::pthread_mutex_lock(mutex as *mut libc::pthread_mutex_t) };
        });
        assert_eq!(code, EXIT_LOCK_HELD);
    }

    #[test]
    fn a_free_lock_is_taken_and_signals_reach_nobody_without_waiting() {
        let code = in_child(|| {
            let mut mutex = libc::PTHREAD_MUTEX_INITIALIZER;
            let mut cond = libc::PTHREAD_COND_INITIALIZER;
            // SAFETY: both are initialised and live on this stack.
            unsafe {
                assert_eq!(libc::pthread_mutex_lock(&mut mutex), 0);
                assert_eq!(libc::pthread_cond_signal(&mut cond), 0);
                assert_eq!(libc::pthread_cond_broadcast(&mut cond), 0);
                assert_eq!(libc::pthread_mutex_unlock(&mut mutex), 0);
            }
        });
        assert_eq!(code, EXIT_DONE);
    }

    #[test]
    fn a_futex_wait_nothing_could_end_ends_the_child_and_one_that_cannot_sleep_returns() {
        let futex_wait = |word: &AtomicI32, expected: i32| {
            // SAFETY: a FUTEX_WAIT on a live word, with no timeout.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    expected,
                    std::ptr::null::<libc::timespec>(),
                )
            }
        };
        let word = AtomicI32::new(1);
        assert_eq!(in_child(|| assert_eq!(futex_wait(&word, 0), -1)), EXIT_DONE);
        assert_eq!(
            in_child(|| {
                futex_wait(&word, 1);
            }),
            EXIT_WOULD_WAIT
        );
        // Other system calls still go through.
        assert_eq!(
            in_child(|| assert!(unsafe { libc::syscall(libc::SYS_getpid) } > 0)),
            EXIT_DONE
        );
    }

    /// A file of this test's, made now, named as a `&'static CStr` for [`prepare`].
    fn unfinished_file(name: &str) -> (std::path::PathBuf, &'static CStr) {
        let path =
            std::env::temp_dir().join(format!("leakproof-child-{}-{name}", std::process::id()));
        std::fs::write(&path, b"{").unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        (path, Box::leak(c.into_boxed_c_str()))
    }

    #[test]
    fn a_child_ended_by_sigterm_removes_its_unfinished_file_and_dies_of_the_signal() {
        let _forks = crate::core::capture::forking();
        let (path, c_path) = unfinished_file("sigterm");
        // SAFETY: the child prepares, signals itself, and never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: as above.
            let parent = unsafe { libc::getppid() };
            if prepare(-1, parent, Some(c_path)).is_err() {
                leave(EXIT_SETUP);
            }
            // SAFETY: raise has no memory preconditions.
            unsafe { libc::raise(libc::SIGTERM) };
            leave(EXIT_DONE);
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM,
            "status {status}"
        );
        assert!(!path.exists(), "the unfinished file is removed");
    }

    #[test]
    fn a_child_whose_parent_dies_removes_its_unfinished_file() {
        let _forks = crate::core::capture::forking();
        let (path, c_path) = unfinished_file("orphan");
        let mut ready = [0 as RawFd; 2];
        // SAFETY: `ready` has room for the two descriptors pipe writes.
        assert_eq!(unsafe { libc::pipe(ready.as_mut_ptr()) }, 0);
        // SAFETY: the middle process forks the child, waits for it to be set up and exits; the
        // child sleeps until its parent's death ends it. Neither returns.
        let middle = unsafe { libc::fork() };
        assert!(middle >= 0, "fork failed");
        if middle == 0 {
            // SAFETY: as above.
            unsafe {
                let me = libc::getpid();
                if libc::fork() == 0 {
                    if prepare(ready[1], me, Some(c_path)).is_err() {
                        leave(EXIT_SETUP);
                    }
                    libc::write(ready[1], b"r".as_ptr() as *const c_void, 1);
                    libc::sleep(30);
                    leave(EXIT_DONE);
                }
                let mut byte = 0u8;
                libc::read(ready[0], &mut byte as *mut u8 as *mut c_void, 1);
                libc::_exit(0)
            }
        }
        // SAFETY: reaps the middle process, our own child.
        unsafe { libc::waitpid(middle, std::ptr::null_mut(), 0) };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while path.exists() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            !path.exists(),
            "the orphaned child removed its unfinished file"
        );
    }

    #[test]
    fn an_untimed_wait_ends_the_child_instead_of_hanging() {
        let code = in_child(|| {
            let mut mutex = libc::PTHREAD_MUTEX_INITIALIZER;
            let mut cond = libc::PTHREAD_COND_INITIALIZER;
            // SAFETY: both are initialised and live on this stack.
            unsafe {
                libc::pthread_mutex_lock(&mut mutex);
                libc::pthread_cond_wait(&mut cond, &mut mutex);
            }
        });
        assert_eq!(code, EXIT_WOULD_WAIT);
    }
}
