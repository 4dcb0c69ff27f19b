//! An exclusive lock on a snapshot's temporary file while it is written, that every process
//! sharing the file's directory sees, whatever pid namespace it runs in: `flock(2)`. The lock
//! belongs to the open file description, so it lasts while any copy of the descriptor is open
//! (a forked child's too) and is gone once its holders all died: a temporary file whose lock
//! can be taken has no writer left.

use std::io;
use std::os::fd::RawFd;

/// Takes an exclusive lock on the file open as `fd`, without waiting: `Ok(true)` when taken,
/// `Ok(false)` when another open of the file holds one; an error where locks cannot be taken
/// (a file system without them, a bad descriptor). Closing the descriptor releases it.
pub fn try_lock(fd: RawFd) -> io::Result<bool> {
    // SAFETY: flock has no memory preconditions; a bad descriptor is an error, not UB.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{File, OpenOptions};
    use std::os::fd::AsRawFd;

    fn temp_file(name: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("leakproof-lock-{}-{name}", std::process::id()));
        File::create(&path).unwrap();
        path
    }

    #[test]
    fn a_second_open_of_a_locked_file_cannot_lock_it_until_the_first_is_closed() {
        let _forks = crate::core::capture::forking();
        let path = temp_file("second");
        let writer = OpenOptions::new().write(true).open(&path).unwrap();
        assert!(try_lock(writer.as_raw_fd()).unwrap());
        let sweeper = File::open(&path).unwrap();
        assert!(
            !try_lock(sweeper.as_raw_fd()).unwrap(),
            "held by the writer's open"
        );
        drop(writer);
        assert!(
            try_lock(sweeper.as_raw_fd()).unwrap(),
            "free once the writer's open is closed"
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_forked_child_holds_the_lock_it_inherited_until_it_exits() {
        let _forks = crate::core::capture::forking();
        let path = temp_file("forked");
        let writer = OpenOptions::new().write(true).open(&path).unwrap();
        assert!(try_lock(writer.as_raw_fd()).unwrap());
        let (mut ready, mut go) = ([0 as RawFd; 2], [0 as RawFd; 2]);
        // SAFETY: each array has room for the two descriptors pipe writes.
        unsafe {
            assert_eq!(libc::pipe(ready.as_mut_ptr()), 0);
            assert_eq!(libc::pipe(go.as_mut_ptr()), 0);
        }
        // SAFETY: the child only writes and reads a byte and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut byte = 0u8;
            // SAFETY: one byte from/to our own pipes, then _exit.
            unsafe {
                libc::write(ready[1], &byte as *const u8 as *const libc::c_void, 1);
                libc::read(go[0], &mut byte as *mut u8 as *mut libc::c_void, 1);
                libc::_exit(0)
            }
        }
        let mut byte = 0u8;
        // SAFETY: reads one byte from our own pipe.
        unsafe { libc::read(ready[0], &mut byte as *mut u8 as *mut libc::c_void, 1) };
        drop(writer);
        let sweeper = File::open(&path).unwrap();
        assert!(
            !try_lock(sweeper.as_raw_fd()).unwrap(),
            "the child's copy still holds it"
        );
        // SAFETY: tells our child to leave, and reaps it.
        unsafe {
            libc::write(go[1], &byte as *const u8 as *const libc::c_void, 1);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        assert!(
            try_lock(sweeper.as_raw_fd()).unwrap(),
            "free once the child exited"
        );
        std::fs::remove_file(path).unwrap();
    }
}
