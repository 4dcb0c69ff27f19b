//! What goes into the monitor thread and what comes out: its settings, the events it sends,
//! where it reads memory from, and what the JS side tells it of the heap.

use std::time::Duration;

use crate::core::detect::detector::{DetectorConfig, Leak};
use crate::core::system::sysmem::{MallocCount, SystemMemory};

/// The least growth a native leak must show, whatever `min_growth_bytes` says: native memory
/// moves by a few MB in healthy services as they warm up and as their heap grows (measured in
/// docs/benchmarks/detect.md, "Native memory: RSS outside the heap no longer works from Node 24
/// on"), and that drift is no leak.
pub const NATIVE_MIN_GROWTH_BYTES: f64 = 8.0 * 1024.0 * 1024.0;

/// Settings of the monitor: `watch()`'s options of the same names, checked by it, and when the
/// warm-up starts.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct MonitorConfig {
    /// The detector's tuning, shared by the three series.
    pub detector: DetectorConfig,
    /// How often the thread reads RSS and the container's memory, in milliseconds; the thread
    /// counts whole milliseconds: truncated, and 1 at least (NaN too), so that it never spins.
    pub interval_ms: f64,
    /// Fraction of the container limit at which RSS raises a threshold event.
    pub rss_threshold: f64,
    /// Fraction of the heap's limit at which the heap raises one. The heap's floors are the JS
    /// thread's, so it is judged there, by the monitor's handle, not by the thread.
    pub heap_threshold: f64,
    /// Epoch milliseconds at which the warm-up starts.
    pub started_at: f64,
}

impl MonitorConfig {
    /// `interval_ms` in the thread's whole milliseconds.
    pub(super) fn reading_interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.max(1.0) as u64)
    }
}

/// What the thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorEvent {
    /// A leak, new or worse.
    Leak(Leak),
    /// RSS passed `rss_threshold` of the container limit.
    RssThreshold(RssThreshold),
}

/// RSS passed `rssThreshold` of the container's memory limit (reported again only once it
/// dropped back below): the fields of the watcher's `threshold` event of kind `'rss'` but
/// `type`, `kind`, `pid` and `threadId`, which the JS side adds.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct RssThreshold {
    /// When the thread read RSS, in epoch ms: the event's `time`.
    pub time: f64,
    /// RSS, in bytes.
    pub current: f64,
    /// The container's memory limit, in bytes.
    pub limit: f64,
}

/// Where the thread sends events. Called on the monitor thread.
pub type Sink = Box<dyn Fn(MonitorEvent) + Send + 'static>;

/// Where the thread reads RSS from; the real `/proc` in production. The argument says whether
/// `malloc`'s figures are wanted (not while native floors are paused: counting them costs).
pub type MemoryReader = Box<dyn Fn(bool) -> SystemMemory + Send + 'static>;

/// What the JS heap and the ArrayBuffers hold, as the JS side last read it (bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeapResident {
    /// The heap's physical size (`total_physical_size`): its pages in RSS.
    pub heap_physical: f64,
    /// `external`: memory outside the heap that V8 was told JS objects hold.
    pub external: f64,
    /// `arrayBuffers`: the part of it that backs ArrayBuffers and Buffers, all from `malloc`.
    pub array_buffers: f64,
}

impl HeapResident {
    /// Native memory: what `malloc` holds beyond ArrayBuffers where glibc says, otherwise
    /// RSS less the heap's pages and `external`; `None` when glibc's count was deferred.
    pub(super) fn native_bytes(&self, rss: f64, malloc_in_use: MallocCount) -> Option<f64> {
        match malloc_in_use {
            MallocCount::Bytes(in_use) => Some(in_use as f64 - self.array_buffers),
            MallocCount::Unknown => Some(rss - self.heap_physical - self.external),
            MallocCount::Deferred => None,
        }
    }
}
