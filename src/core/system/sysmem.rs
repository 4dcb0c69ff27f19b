//! Process and container memory as the kernel reports it: resident set size from
//! `/proc/self/statm`, and the memory limit and usage of the process's cgroup
//! (v2 `memory.max` / `memory.current`, v1 `memory.limit_in_bytes` /
//! `memory.usage_in_bytes`); and, where the C library is glibc, the bytes `malloc` has
//! handed out and not had back (`mallinfo2`), paced by what each count costs.
//!
//! Everything reads through a [`Fs`] so the parsing is tested against real file
//! layouts without touching the machine's own `/proc` and `/sys`.

use std::path::{Path, PathBuf};

/// Memory of this process and its container, as the kernel reports it: what `systemMemory()`
/// gives JS. A field is null where the platform does not say (not Linux, no cgroup
/// memory controller, no limit set, or no glibc `malloc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "napi",
    napi_derive::napi(object, object_from_js = false, use_nullable = true)
)]
pub struct SystemMemory {
    /// Resident set size of the process, in bytes.
    pub rss: Option<i64>,
    /// The tightest cgroup memory limit over the process's cgroup and its ancestors, in bytes.
    pub container_limit: Option<i64>,
    /// Memory charged to the process's cgroup (page cache included, as the kernel counts it),
    /// in bytes.
    pub container_usage: Option<i64>,
    /// Bytes in use from the C library's `malloc` (glibc 2.33 and later, when no other allocator
    /// replaced it): native memory without V8's pooled heap pages, which RSS also counts. Also
    /// null for a while after a count: glibc walks malloc's free lists under its lock, so the
    /// next count waits a thousand times as long as the last one took; and null when not asked
    /// for ([`count_malloc`]).
    #[cfg_attr(feature = "napi", napi(ts_type = "number | null"))]
    pub malloc_in_use: MallocCount,
}

/// What a read of `malloc`'s figures gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MallocCount {
    /// No figures here: not glibc, glibc older than 2.33, another allocator, or not asked for.
    #[default]
    Unknown,
    /// Not counted this time: the last count held `malloc`'s locks long (see [`MallocPacer`]).
    Deferred,
    /// Bytes handed out and not had back.
    Bytes(u64),
}

impl MallocCount {
    /// The byte count, if there is one.
    pub fn bytes(self) -> Option<u64> {
        match self {
            MallocCount::Bytes(b) => Some(b),
            MallocCount::Unknown | MallocCount::Deferred => None,
        }
    }
}

/// A byte count as it crosses to JS (`i64`, which napi gives as a number): one past `i64::MAX`
/// no machine has.
fn as_bytes(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Read access to the few kernel files this module needs.
pub trait Fs {
    /// The whole file as text, or `None` when it does not exist or cannot be read.
    fn read(&self, path: &Path) -> Option<String>;
}

/// The real file system, rooted at `/`.
pub struct RealFs;

impl Fs for RealFs {
    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// v1 reports "no limit" as a page-rounded `i64::MAX`; anything at or above this is unlimited.
const V1_UNLIMITED_FLOOR: u64 = 1 << 62;

/// Reads RSS and the cgroup memory figures. `page_size` converts statm's pages to bytes.
pub fn read_system_memory(fs: &dyn Fs, page_size: u64) -> SystemMemory {
    let rss = fs
        .read(Path::new("/proc/self/statm"))
        .and_then(|text| parse_statm_rss_pages(&text))
        .map(|pages| as_bytes(pages.saturating_mul(page_size)));
    let (container_limit, container_usage) = fs
        .read(Path::new("/proc/self/cgroup"))
        .map(|text| read_cgroup(fs, &text))
        .unwrap_or((None, None));
    SystemMemory {
        rss,
        container_limit: container_limit.map(as_bytes),
        container_usage: container_usage.map(as_bytes),
        malloc_in_use: MallocCount::Unknown,
    }
}

/// [`read_system_memory`] for this process on this machine; with [`count_malloc`] when
/// `with_malloc` (its figures cost a walk of `malloc`'s free lists; RSS and the cgroup do not).
pub fn read_own_memory(with_malloc: bool) -> SystemMemory {
    SystemMemory {
        malloc_in_use: if with_malloc {
            count_malloc()
        } else {
            MallocCount::Unknown
        },
        ..read_system_memory(&RealFs, page_size())
    }
}

/// How many times its own duration a count of `malloc`'s memory waits before the next: the
/// counts hold `malloc`'s locks at most 1/1000 of the time.
const MALLOC_COUNT_SPACING: u32 = 1000;

/// Spaces out counts of `malloc`'s memory by what the last one cost. glibc's `mallinfo2`
/// walks every free chunk of every arena while holding that arena's lock, and every thread
/// that allocates meanwhile waits for it; a count costs as many free chunks as there are
/// (a heap snapshot frees millions, and one count then takes a fifth of a second), so counts
/// at a fixed period would hold the locks most of the time and stop the threads that
/// allocate, a snapshot's writer among them (docs/benchmarks/detect.md, "After pacing
/// malloc's counts"). Shared by every thread of the process, as the locks are.
#[derive(Debug, Default)]
pub struct MallocPacer {
    /// Nanoseconds since `epoch` before which no count starts.
    next_count_ns: std::sync::atomic::AtomicU64,
}

impl MallocPacer {
    /// Whether a count may start at `now` (nanoseconds on the pacer's clock).
    pub fn may_count(&self, now_ns: u64) -> bool {
        now_ns
            >= self
                .next_count_ns
                .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records a count that ran from `started_ns` to `ended_ns`.
    pub fn counted(&self, started_ns: u64, ended_ns: u64) {
        let cost = ended_ns.saturating_sub(started_ns);
        let next = ended_ns.saturating_add(cost.saturating_mul(u64::from(MALLOC_COUNT_SPACING)));
        self.next_count_ns
            .store(next, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Bytes glibc's `malloc` has handed out and not had back: in use in its arenas plus the
/// chunks it mapped on its own (`mallinfo2`: `uordblks + hblkhd`). Unlike RSS, this does not
/// move when V8 keeps freed heap pages resident in a pool (V8 12 and later), so native memory
/// grows here only when something allocated through `malloc` and kept it.
///
/// `Unknown` off glibc, on glibc older than 2.33 (no `mallinfo2`, found at run time so that
/// the binary still loads there), and when another allocator replaced `malloc` (jemalloc,
/// tcmalloc and mimalloc are recognised), whose memory glibc's figures would not count.
/// `Deferred` while the process-wide [`MallocPacer`] spaces counts out.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn count_malloc() -> MallocCount {
    use std::sync::OnceLock;
    use std::time::Instant;
    type Mallinfo2 = unsafe extern "C" fn() -> libc::mallinfo2;
    static MALLINFO2: OnceLock<Option<Mallinfo2>> = OnceLock::new();
    static PACER: OnceLock<(Instant, MallocPacer)> = OnceLock::new();
    let mallinfo2 = MALLINFO2.get_or_init(|| {
        let found = |name: &std::ffi::CStr| {
            // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT searches the process's objects.
            let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            (!symbol.is_null()).then_some(symbol)
        };
        if [c"mallctl", c"tc_malloc", c"mi_malloc"]
            .into_iter()
            .any(|n| found(n).is_some())
        {
            return None;
        }
        // SAFETY: glibc's `mallinfo2` takes nothing and returns `struct mallinfo2` by value.
        found(c"mallinfo2")
            .map(|f| unsafe { std::mem::transmute::<*mut libc::c_void, Mallinfo2>(f) })
    });
    let Some(mallinfo2) = mallinfo2 else {
        return MallocCount::Unknown;
    };
    let (epoch, pacer) = PACER.get_or_init(|| (Instant::now(), MallocPacer::default()));
    let nanos = || u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let started = nanos();
    if !pacer.may_count(started) {
        return MallocCount::Deferred;
    }
    // SAFETY: glibc's mallinfo2 may be called from any thread; it locks each arena in turn.
    let info = unsafe { mallinfo2() };
    pacer.counted(started, nanos());
    MallocCount::Bytes((info.uordblks + info.hblkhd) as u64)
}

/// `Unknown`: only glibc's figures are read.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn count_malloc() -> MallocCount {
    MallocCount::Unknown
}

/// Bytes per memory page (statm counts pages).
#[cfg(unix)]
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions and only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

/// Bytes per memory page; 4 KiB where the platform cannot say.
#[cfg(not(unix))]
pub fn page_size() -> u64 {
    4096
}

/// The second field of `/proc/self/statm`: resident pages.
pub fn parse_statm_rss_pages(statm: &str) -> Option<u64> {
    statm.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Where this process sits in the cgroup hierarchies, from `/proc/self/cgroup`.
#[derive(Debug, PartialEq, Eq)]
pub enum CgroupPath {
    /// The unified (v2) hierarchy: `0::/path`.
    V2(String),
    /// The v1 memory controller's hierarchy: `N:memory[,…]:/path`.
    V1Memory(String),
}

/// Picks the v1 memory controller when there is one (hybrid systems mount both,
/// and only v1 enforces memory there), otherwise the v2 path.
pub fn parse_proc_cgroup(text: &str) -> Option<CgroupPath> {
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.split(',').any(|c| c == "memory") {
            return Some(CgroupPath::V1Memory(path.to_string()));
        }
        if id == "0" && controllers.is_empty() {
            v2 = Some(CgroupPath::V2(path.to_string()));
        }
    }
    v2
}

/// Parses a limit file: a byte count, or `max` (v2) / a huge number (v1) for "no limit".
pub fn parse_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().filter(|&n| n < V1_UNLIMITED_FLOOR)
}

fn parse_bytes(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Limit (tightest over the cgroup and its ancestors) and usage (of the cgroup itself).
fn read_cgroup(fs: &dyn Fs, proc_cgroup: &str) -> (Option<u64>, Option<u64>) {
    let (mount, rel, limit_file, usage_file) = match parse_proc_cgroup(proc_cgroup) {
        Some(CgroupPath::V2(p)) => ("/sys/fs/cgroup", p, "memory.max", "memory.current"),
        Some(CgroupPath::V1Memory(p)) => (
            "/sys/fs/cgroup/memory",
            p,
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
        ),
        None => return (None, None),
    };
    // In a container with a private cgroup namespace the path is "/" and the
    // mount point is the container's own cgroup; elsewhere walk up from the leaf.
    let leaf: PathBuf = Path::new(mount).join(rel.trim_start_matches('/'));
    let usage = fs
        .read(&leaf.join(usage_file))
        .and_then(|t| parse_bytes(&t));
    let mut limit: Option<u64> = None;
    let mut dir = Some(leaf.as_path());
    while let Some(d) = dir {
        if !d.starts_with(mount) {
            break;
        }
        if let Some(l) = fs.read(&d.join(limit_file)).and_then(|t| parse_limit(&t)) {
            limit = Some(limit.map_or(l, |cur| cur.min(l)));
        }
        dir = d.parent();
    }
    (limit, usage)
}

#[cfg(test)]
mod tests;
