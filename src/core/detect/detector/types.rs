//! What the detector is given and what it tells: the kinds of memory, their floors, its
//! settings, the leaks it reports, what a series shows now, and the limits memory runs into.

use crate::core::detect::scales::ScaleName;

/// Which memory a series follows: `'heap'`, `'external'` or `'native'` in JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum MemoryKind {
    /// The JS heap's used bytes after a full GC.
    Heap,
    /// Memory held outside the heap by JS objects (Buffers, ArrayBuffers): `external`.
    External,
    /// Resident memory explained by neither: RSS minus the heap's physical size and `external`.
    Native,
}

/// A floor: the bytes of one kind of memory right after a full GC, and when it was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Floor {
    /// When it was taken, in the caller's clock (epoch milliseconds in practice).
    pub(super) at: f64,
    /// The bytes of memory left.
    pub(super) bytes: f64,
}

/// `floors` as the `(time, bytes)` points the statistics of [`trend`] and the rules of
/// [`scales`] take.
///
/// [`trend`]: crate::core::detect::trend
/// [`scales`]: crate::core::detect::scales
pub(super) fn as_points<'a>(floors: impl IntoIterator<Item = &'a Floor>) -> Vec<(f64, f64)> {
    floors.into_iter().map(|f| (f.at, f.bytes)).collect()
}

/// Tuning of the detector: `watch()`'s options of the same names, checked by it, and whether
/// the warm-up may end sooner. Times in milliseconds, sizes in bytes.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, object_to_js = false))]
pub struct DetectorConfig {
    /// Floors kept per series. When floors come so often that this many would span less
    /// than `WINDOW_SPAN_DURATIONS` minimum durations, the window is thinned rather than
    /// shortened (the detector's `Series::push`).
    pub window: u32,
    /// Floors needed before judging.
    pub min_points: u32,
    /// Nothing is reported before the warm-up's start plus this, and the growth must go on
    /// after it.
    pub warmup_ms: f64,
    /// Whether the step tests' warm-up ends sooner, once the service serves at a level rate
    /// (`watch()` left `warmupMs` at its default): see `Series::push_with_load`.
    pub warmup_ends_when_serving: bool,
    /// The window must span at least this long.
    pub min_duration_ms: f64,
    /// Growth over the window (slope × span) must reach this.
    pub min_growth_bytes: f64,
    /// The slope must reach this, in bytes per second.
    pub min_rate_bytes_per_sec: f64,
    /// Required confidence that the trend is upward (1 − p of Mann–Kendall).
    pub confidence: f64,
}

// No `Default`: the defaults exist once, as `DEFAULTS` in `lib/watch/options.js`, and
// `watch()` passes every field to the binding.
#[cfg(test)]
impl DetectorConfig {
    /// Test values, not defaults: no warm-up, and a window of at least five seconds and 1 MB
    /// of growth, so that a few seconds of floors can show a leak.
    pub(crate) fn test_values() -> Self {
        DetectorConfig {
            window: 30,
            min_points: 8,
            warmup_ms: 0.0,
            warmup_ends_when_serving: false,
            min_duration_ms: 5_000.0,
            min_growth_bytes: 1_000_000.0,
            min_rate_bytes_per_sec: 1_000.0,
            confidence: 0.999,
        }
    }

    /// The settings of `watch()` at its defaults (`DEFAULTS` in lib/watch/options.js).
    pub(crate) fn watch_defaults() -> Self {
        DetectorConfig {
            window: 30,
            min_points: 8,
            warmup_ms: 60_000.0,
            warmup_ends_when_serving: true,
            min_duration_ms: 60_000.0,
            min_growth_bytes: 8.0 * 1024.0 * 1024.0,
            min_rate_bytes_per_sec: 512.0,
            confidence: 0.999,
        }
    }
}

/// A leak the detector found, new or worse than last reported: the fields of the watcher's
/// `leak` event but `type`, `time`, `pid` and `threadId`, which the watcher adds. Times are in
/// the caller's clock (epoch milliseconds in practice).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct Leak {
    /// Which memory grows.
    pub kind: MemoryKind,
    /// The growth rate (Theil–Sen slope of the window that shows it), in bytes per second.
    pub slope_bytes_per_sec: f64,
    /// 1 − p of the one-sided Mann–Kendall test for an upward trend.
    pub confidence: f64,
    /// Epoch ms of the oldest floor in the window that shows the growth.
    pub since: f64,
    /// The newest floor, in bytes.
    pub current: f64,
    /// The limit this memory runs into, when known.
    pub limit: Option<f64>,
    /// Epoch ms at which the floor would reach `limit` at this rate.
    pub projected_limit_at: Option<f64>,
    /// At this rate the heap limit, or the container's memory limit for RSS, is 15 minutes
    /// away or less: such a leak is reported within about a minute of its start.
    pub urgent: bool,
    /// The time scale whose window showed it. The rate, projection and urgency are those of
    /// that window.
    pub scale: ScaleName,
    /// How long that scale's kept points span, in ms: its nominal window (at the defaults
    /// 2 min, 16 min, 64 min, 4.3 h, 24 h), or longer where floors came rarely.
    pub scale_span_ms: f64,
    /// Which test showed it.
    pub test: LeakTest,
}

/// The detector's test that showed a leak (docs/watch.md): `'urgent'` or `'fast'`, a step test
/// on the newest floors where the limit is near (15 minutes, 8 hours), or `'trend'`, the trend
/// test on the window of a time scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum LeakTest {
    /// Four minimum growths on five rising floors, the limit within [`URGENT_HORIZON_MS`].
    Urgent,
    /// One minimum growth on six rising floors, the limit within [`FAST_HORIZON_MS`].
    Fast,
    /// The full rule: Theil–Sen and Mann–Kendall over a scale's window.
    Trend,
}

/// What the memory of a series may still grow into before the process dies, as last known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// The limit this memory runs into: the heap's (the old generation's where set, else
    /// `heap_size_limit`: lib/shared/heap-limit.js); for native memory,
    /// the container's memory limit.
    pub own: Option<f64>,
    /// Bytes left before RSS reaches the container's memory limit: growth of any kind of
    /// memory grows RSS as much.
    pub rss_headroom: Option<f64>,
}

impl Limits {
    /// Milliseconds until memory at `current`, growing `per_ms` bytes a millisecond, reaches
    /// the nearest limit; `None` when no limit is known or it does not grow.
    pub(super) fn time_left_ms(&self, current: f64, per_ms: f64) -> Option<f64> {
        if per_ms <= 0.0 {
            return None;
        }
        let own_left = self.own.map(|limit| limit - current);
        [own_left, self.rss_headroom]
            .into_iter()
            .flatten()
            .map(|left| left.max(0.0) / per_ms)
            .reduce(f64::min)
    }

    /// Whether growth of `per_ms` from `current` reaches the nearest limit within
    /// `horizon_ms`.
    pub(super) fn within(&self, current: f64, per_ms: f64, horizon_ms: f64) -> bool {
        self.time_left_ms(current, per_ms)
            .is_some_and(|ms| ms <= horizon_ms)
    }

    /// Whether growth of `per_ms` from `current` reaches the nearest limit within
    /// [`URGENT_HORIZON_MS`].
    pub(super) fn urgent(&self, current: f64, per_ms: f64) -> bool {
        self.within(current, per_ms, URGENT_HORIZON_MS)
    }
}

/// Why the detector wants floors sooner than every interval brings them, while growth not
/// reported yet is suspected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Suspicion {
    /// How often floors are wanted, in milliseconds.
    pub floor_spacing_ms: f64,
    /// The suspected rate would reach the nearest limit within [`URGENT_HORIZON_MS`]: the
    /// caller may spend more to settle it.
    pub urgent: bool,
}

/// What a series shows now, for metrics and status pages: its newest floor, the slope of the
/// floors kept, and whether a leak it reported is still growing.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct Trend {
    /// Which memory.
    pub kind: MemoryKind,
    /// The newest floor, in bytes.
    pub floor_bytes: f64,
    /// When it was taken, in epoch milliseconds.
    pub floor_at: f64,
    /// The Theil–Sen slope (0 with fewer than two points), in bytes per second, of the
    /// points of `scale`: the scale of the leak reported, else every floor kept.
    pub slope_bytes_per_sec: f64,
    /// The time scale of the leak reported (see the `leak` event's `scale`), else `'minutes'`
    /// (the window of every floor kept): the one the slope is measured on.
    pub scale: ScaleName,
    /// A leak was reported and the newest `min_points` points of its scale still rise at the
    /// minimum rate.
    pub leaking: bool,
    /// When, at `slope_bytes_per_sec` from the newest floor, the nearest limit is reached: this
    /// memory's own, or the container's through RSS (epoch ms), while `leaking`; `None`
    /// otherwise, or when no limit is known. What a restart policy weighs.
    pub limit_at: Option<f64>,
}

/// What the statistics say about a window, reported or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// Theil–Sen slope in bytes per second.
    pub slope_bytes_per_sec: f64,
    /// Theil–Sen slope of the newest half of the window, in bytes per second.
    pub recent_slope_bytes_per_sec: f64,
    /// 1 − p of the one-sided Mann–Kendall test.
    pub confidence: f64,
    /// Milliseconds between the oldest and newest floor.
    pub span_ms: f64,
    /// Spread of the floors around the fitted line: the distance between the 10th and
    /// 90th percentiles of the residuals (robust to a few outliers).
    pub noise_bytes: f64,
}

/// A leak is urgent when, at its rate, the nearest limit is this close (15 minutes): the time
/// for someone paged to look, decide and act (restart, roll back, shed load) before the
/// process dies, plus a heap snapshot's pause on a large heap. A leak of 5 MB/s from a
/// small heap reaches the common 4 GB heap limit in about 13 minutes, so it is urgent from
/// its first minute; one of 1 MB/s (over an hour) is not, and waits for the full test.
pub const URGENT_HORIZON_MS: f64 = 15.0 * 60_000.0;

/// A leak is fast when, at its rate, the nearest limit is this close (8 hours): it would end
/// the process within a working day, so it is worth reporting within a minute of its start,
/// on fewer floors than the full test asks for (see `step_rule`). A leak of 0.2 MB/s from a
/// small heap reaches the common 4 GB heap limit in under 6 hours; one of 100 KB/s (11 hours)
/// waits for the full test.
pub const FAST_HORIZON_MS: f64 = 8.0 * 3_600_000.0;
