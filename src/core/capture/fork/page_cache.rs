//! Keeps the snapshot a child writes out of the page cache, from the parent's watchdog
//! thread: what the child wrote is sent to the disk in steps, and each step, once on the
//! disk, is dropped from the cache. Left there, the file's pages are charged to the
//! service's memory cgroup (its `memory.usage_in_bytes` and its peak) for as long as the
//! kernel keeps them: 1.4–2 × the live heap, measured (docs/benchmarks/capture.md, "What a
//! child costs a service's cgroup"). The child itself is not touched.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Written bytes are sent to the disk once this many have gathered.
const STEP_BYTES: u64 = 32 * 1024 * 1024;

/// A file being written by another process, whose written pages this drops from the cache.
#[derive(Debug)]
pub struct WrittenFile {
    path: PathBuf,
    file: Option<File>,
    /// Writeback was started up to here.
    started_to: u64,
    /// Dropped from the cache up to here.
    dropped_to: u64,
}

impl WrittenFile {
    /// The file at `path` (opened at the first step that finds it).
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            started_to: 0,
            dropped_to: 0,
        }
    }

    /// One step: what the previous step sent to the disk is waited for and dropped; what was
    /// written since is sent, once `STEP_BYTES` have gathered. The previous step's write has
    /// had a poll's time and more to finish, so the wait is mostly none.
    pub fn step(&mut self) {
        let Some(size) = self.size() else { return };
        if size < self.started_to + STEP_BYTES {
            return;
        }
        self.drop_started();
        self.start(size);
    }

    /// The child has ended: everything it wrote is waited for and dropped.
    pub fn finish(&mut self) {
        let Some(size) = self.size() else { return };
        self.start(size);
        self.drop_started();
    }

    /// The file's size now, opening it first if need be; None when it cannot be read.
    fn size(&mut self) -> Option<u64> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        Some(self.file.as_ref()?.metadata().ok()?.len())
    }

    /// Starts writeback of the bytes from `started_to` up to `to`.
    fn start(&mut self, to: u64) {
        let Some(file) = &self.file else { return };
        if to > self.started_to {
            // SAFETY: a valid descriptor; the call only schedules writeback of its pages.
            unsafe {
                libc::sync_file_range(
                    file.as_raw_fd(),
                    self.started_to as libc::off64_t,
                    (to - self.started_to) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
            self.started_to = to;
        }
    }

    /// Waits for the writeback started so far and drops those pages from the cache.
    fn drop_started(&mut self) {
        let Some(file) = &self.file else { return };
        let (from, len) = (self.dropped_to, self.started_to - self.dropped_to);
        if len == 0 {
            return;
        }
        let fd = file.as_raw_fd();
        // SAFETY: a valid descriptor; the calls only wait for writeback and drop clean pages.
        unsafe {
            libc::sync_file_range(
                fd,
                from as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER,
            );
            libc::posix_fadvise(
                fd,
                from as libc::off_t,
                len as libc::off_t,
                libc::POSIX_FADV_DONTNEED,
            );
        }
        self.dropped_to = self.started_to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Pages of `file` in the page cache, by mincore over a mapping of it.
    fn cached_pages(file: &File, len: usize) -> usize {
        // SAFETY: a read-only shared mapping of a file of at least `len` bytes, unmapped below.
        unsafe {
            let map = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(map, libc::MAP_FAILED);
            let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
            let mut vec = vec![0u8; len.div_ceil(page)];
            assert_eq!(libc::mincore(map, len, vec.as_mut_ptr()), 0);
            libc::munmap(map, len);
            vec.iter().filter(|&&b| b & 1 == 1).count()
        }
    }

    #[test]
    fn written_pages_leave_the_cache_step_by_step_and_at_the_end() {
        let dir = std::env::temp_dir().join(format!("leakproof-page-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("snapshot");
        let mut writer = File::create(&path).unwrap();
        let mut watched = WrittenFile::new(path.clone());
        let chunk = vec![b'x'; 1 << 20];
        let total = STEP_BYTES as usize * 2 + (5 << 20);
        for _ in 0..total / chunk.len() {
            writer.write_all(&chunk).unwrap();
            watched.step();
        }
        // Two full steps were started; the first is dropped by now.
        let page = 4096;
        assert!(
            cached_pages(&File::open(&path).unwrap(), total)
                <= (total - STEP_BYTES as usize) / page
        );
        watched.finish();
        let cached = cached_pages(&File::open(&path).unwrap(), total);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(cached, 0, "every written page is dropped at the end");
    }

    #[test]
    fn a_file_that_is_not_there_is_no_error() {
        let mut watched = WrittenFile::new(PathBuf::from("/nonexistent/leakproof/snapshot"));
        watched.step();
        watched.finish();
    }
}
