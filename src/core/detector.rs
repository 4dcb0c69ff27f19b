//! Leak detection over memory floors: one [`Series`] per kind of memory, each a sliding
//! window of `(time, bytes)` floors judged with a robust slope and a significance test.
//!
//! A leak is reported when, once a warm-up is over, the floors of one kind rise
//! - significantly (Mann–Kendall, one-sided, at the configured confidence),
//! - fast enough (Theil–Sen slope above a minimum rate),
//! - far enough (slope times the window's span above a minimum growth, and above twice
//!   the spread of the floors around the fitted line, so that noise alone cannot pass),
//! - for long enough (the window spans a minimum duration),
//! - and still now (the newest half of the window, counting only floors after the warm-up,
//!   rises at a good part of the whole window's rate), which tells a leak from start-up
//!   growth and from a cache that warmed up and levelled off;
//! - steadily (no third of the window flat beside the others: a step after lazy loading
//!   is not a leak);
//! - all of it in the windows ending at the newest three floors: a window slid one floor
//!   at a time tests the same noise over and over, and a chance alignment rarely survives
//!   three slides.
//!
//! A leak that would reach its limit soon (the heap's limit, or the container's memory
//! limit for RSS) within [`URGENT_HORIZON_MS`] is also judged on fewer, larger steps, so
//! that it is reported while there is time to act: see [`urgent_window`].
//!
//! Leaks too slow to grow the minimum growth within that window are judged on longer time
//! scales: the floors decimated into buckets of a floor of floors ([`super::scales`]), by
//! the same tests with the minimum growth judged over the scale's window, and three more:
//! the rise does not slow down (a cache as it fills), it is real growth rather than a slope
//! extrapolated over flat floors, and it came without a rise in load.
//!
//! It is reported again only when it gets worse: a clearly steeper slope, or as much
//! growth again as had been seen when it was last reported.

use std::collections::VecDeque;

use super::scales::{
    load_level, no_flat_third, not_slowing, rose_by, Decimated, Scale, BUCKETS, MINUTES,
    MIN_BUCKETS, SLOW_SCALES,
};
use super::trend::{mann_kendall, residual_spread, step_spread, theil_sen_slope};

/// Which memory a series follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryKind {
    /// The JS heap's used bytes after a full GC.
    Heap,
    /// Memory held outside the heap by JS objects (Buffers, ArrayBuffers): `external`.
    External,
    /// Resident memory explained by neither: RSS minus the heap's physical size and `external`.
    Native,
}

impl MemoryKind {
    /// The name used in events: `heap`, `external`, `native`.
    pub fn name(self) -> &'static str {
        match self {
            MemoryKind::Heap => "heap",
            MemoryKind::External => "external",
            MemoryKind::Native => "native",
        }
    }
}

/// Tuning of the detector. Times in milliseconds, sizes in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Floors kept per series. When floors come so often that this many would span less
    /// than [`WINDOW_SPAN_DURATIONS`] minimum durations, the window is thinned rather than
    /// shortened (see [`Series::push`]).
    pub window: usize,
    /// Floors needed before judging.
    pub min_points: usize,
    /// Nothing is reported before `start + warmup_ms`, and the growth must go on after it.
    pub warmup_ms: f64,
    /// The window must span at least this long.
    pub min_duration_ms: f64,
    /// Growth over the window (slope × span) must reach this.
    pub min_growth_bytes: f64,
    /// The slope must reach this, in bytes per second.
    pub min_rate_bytes_per_sec: f64,
    /// Required confidence that the trend is upward (1 − p of Mann–Kendall).
    pub confidence: f64,
}

// No `Default`: the defaults exist once, as `DEFAULTS` in `lib/watch/watcher.js`, and
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
            min_duration_ms: 5_000.0,
            min_growth_bytes: 1_000_000.0,
            min_rate_bytes_per_sec: 1_000.0,
            confidence: 0.999,
        }
    }

    /// The settings of `watch()` at its defaults (`DEFAULTS` in lib/watch/watcher.js).
    pub(crate) fn watch_defaults() -> Self {
        DetectorConfig {
            window: 30,
            min_points: 8,
            warmup_ms: 60_000.0,
            min_duration_ms: 60_000.0,
            min_growth_bytes: 8.0 * 1024.0 * 1024.0,
            min_rate_bytes_per_sec: 512.0,
            confidence: 0.999,
        }
    }
}

/// A leak as reported: times are in the caller's clock (epoch milliseconds in practice).
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// The kind of memory that grows.
    pub kind: MemoryKind,
    /// Robust growth rate.
    pub slope_bytes_per_sec: f64,
    /// 1 − p of the one-sided Mann–Kendall test.
    pub confidence: f64,
    /// Time of the oldest floor in the window that shows the growth.
    pub since: f64,
    /// The newest floor.
    pub current: f64,
    /// The limit this memory runs into, when known.
    pub limit: Option<f64>,
    /// When the floor would reach `limit` at this rate.
    pub projected_limit_at: Option<f64>,
    /// Whether, at this rate, the nearest limit (`limit`, or the container's for RSS) is
    /// within [`URGENT_HORIZON_MS`].
    pub urgent: bool,
    /// The time scale whose window showed it: [`MINUTES`] or one of [`SLOW_SCALES`].
    pub scale: Scale,
    /// How long the points that scale keeps span, in milliseconds: its nominal window, or
    /// longer where floors came rarely or buckets got none.
    pub scale_span_ms: f64,
}

/// What the memory of a series may still grow into before the process dies, as last known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    /// The limit this memory runs into: the heap's `heap_size_limit`; for native memory,
    /// the container's memory limit.
    pub own: Option<f64>,
    /// Bytes left before RSS reaches the container's memory limit: growth of any kind of
    /// memory grows RSS as much.
    pub rss_headroom: Option<f64>,
}

impl Limits {
    /// Milliseconds until memory at `current`, growing `per_ms` bytes a millisecond, reaches
    /// the nearest limit; `None` when no limit is known or it does not grow.
    fn time_left_ms(&self, current: f64, per_ms: f64) -> Option<f64> {
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

    /// Whether growth of `per_ms` from `current` reaches the nearest limit within the horizon.
    fn urgent(&self, current: f64, per_ms: f64) -> bool {
        self.time_left_ms(current, per_ms)
            .is_some_and(|ms| ms <= URGENT_HORIZON_MS)
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
pub struct Trend {
    /// The newest floor, in bytes.
    pub floor_bytes: f64,
    /// When it was taken, in epoch milliseconds.
    pub floor_at: f64,
    /// The Theil–Sen slope (0 with fewer than two points), in bytes per second, of the
    /// points of `scale`: the scale of the leak reported, else every floor kept.
    pub slope_bytes_per_sec: f64,
    /// The scale the slope is measured on.
    pub scale: Scale,
    /// A leak was reported and the newest `min_points` points of its scale still rise at the
    /// minimum rate.
    pub leaking: bool,
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

/// The time the floors kept must span, in minimum durations, however often they come: the
/// full test needs a window of at least one, and the newest half of the window (a leak that
/// began in its middle) one more. Floors every interval at the defaults (30 floors, 10 s,
/// a 60 s minimum) span 290 s and are never thinned; full GCs every 1.5 s (a Buffer leak's
/// external pressure) would span 45 s without thinning, and no leak could ever be reported.
const WINDOW_SPAN_DURATIONS: f64 = 2.0;
/// How steep the newest half must still be, relative to the whole window.
const RECENT_SHARE: f64 = 0.3;
/// Floors after the warm-up the newest half must hold to show that growth goes on.
const MIN_RECENT_FLOORS: usize = 3;
/// How much steeper a leak must get to be reported again.
const WORSE_SLOPE: f64 = 1.5;
/// Growth over the window must be this many times the floors' spread around the line
/// (with 1, uniform noise alone raised ~5 alarms per 100,000 evaluations; with 2, none in
/// 180,000).
pub(crate) const NOISE_MARGIN: f64 = 2.0;
/// Windows that must all show the leak: the current one and the ones ending one and two
/// floors earlier. A window slid one floor at a time tests the same noise over and over,
/// and a chance alignment rarely survives three slides.
const CONFIRMATIONS: usize = 3;

/// A leak is urgent when, at its rate, the nearest limit is this close (15 minutes): the time
/// for someone paged to look, decide and act (restart, roll back, shed load) before the
/// process dies, plus a heap snapshot's pause on a large heap. A leak of 5 MB/s from a
/// small heap reaches the common 4 GB heap limit in about 13 minutes, so it is urgent from
/// its first minute; one of 1 MB/s (over an hour) is not, and waits for the full test.
pub const URGENT_HORIZON_MS: f64 = 15.0 * 60_000.0;
/// Floors, each above the one before, an urgent leak needs: four steps up in a row.
const URGENT_MIN_FLOORS: usize = 5;
/// Share of the minimum duration the urgent floors must span (30 s at defaults: with floors
/// every 10 s, five floors span 40 s).
const URGENT_SPAN_SHARE: f64 = 0.5;
/// Growth over the urgent floors, in minimum growths (32 MiB at defaults): four times what
/// the full test asks of a window twice as long.
const URGENT_GROWTH_MULTIPLE: f64 = 4.0;
/// Growth over the urgent floors must be this many times their spread around the line, and
/// as many times the spread the newest floors show from one to the next (see
/// [`NOISE_CONTEXT_FLOORS`]); the full test asks for twice the first, over many more floors.
const URGENT_NOISE_MARGIN: f64 = 4.0;
/// Newest floors, held ones included, whose steps measure how far floors wander from one to
/// the next ([`step_spread`]) for the urgent test. Five floors alone can line up by chance
/// and fit their own line closely, and right after a hold, or at the start, there are no
/// older floors to top: noisy floors (a busy service's incremental GCs keep what was
/// allocated while they marked) then raised urgent leaks, 3 in 1,800 runs of floors
/// wandering by ±60 MB after a hold, and once a test service's in CI.
const NOISE_CONTEXT_FLOORS: usize = 16;
/// Floors after the warm-up the urgent floors must end with: one whole step taken after it,
/// so that start-up growth that stops with the warm-up is not urgent. (The full test asks
/// for three: a floor more, ten seconds at defaults, when a minute counts.)
const URGENT_FLOORS_AFTER_WARM_UP: usize = 2;
/// The newest half of the urgent floors must rise at this share of their whole slope: growth
/// that is slowing down (a cache nearing its ceiling) is not urgent.
const URGENT_RECENT_SHARE: f64 = 0.5;
/// Every step of the urgent floors must rise at this share of their whole slope: growth that
/// has just stopped (a cache that is full) and rises by chance are not urgent, while a floor
/// that holds some garbage still passes.
const URGENT_STEP_SHARE: f64 = 0.25;

/// Confidence in an upward trend (1 − p of Mann–Kendall) at which growth among three or
/// more floors is suspected: three rising floors reach 0.85.
const SUSPECT_CONFIDENCE: f64 = 0.8;
/// Share of the minimum growth by which the newest floor must top the lowest kept to be suspected.
const SUSPECT_GROWTH_SHARE: f64 = 0.25;

/// Floors of one kind of memory, and what was last reported about them.
#[derive(Debug, Clone)]
pub struct Series {
    kind: MemoryKind,
    started_at: f64,
    floors: VecDeque<(f64, f64)>,
    /// The newest [`NOISE_CONTEXT_FLOORS`] floors, which a hold does not clear.
    context: VecDeque<(f64, f64)>,
    /// The floors on each of [`SLOW_SCALES`], from the first floor on.
    slow: Vec<Decimated>,
    /// Buckets closed on the slow scales when they were last judged.
    slow_judged_at: u64,
    limits: Limits,
    reported: Option<Reported>,
}

#[derive(Debug, Clone, Copy)]
struct Reported {
    slope: f64,
    current: f64,
    baseline: f64,
    /// Which of [`SLOW_SCALES`] showed it; `None`: the window of every floor.
    slow_scale: Option<usize>,
}

/// A window that shows a leak, on whichever scale.
struct Shown {
    since: f64,
    baseline: f64,
    now: f64,
    current: f64,
    assessment: Assessment,
    slow_scale: Option<usize>,
}

impl Shown {
    fn of(window: &[(f64, f64)], assessment: Assessment, slow_scale: Option<usize>) -> Self {
        let (since, baseline) = window[0];
        let (now, current) = window[window.len() - 1];
        Shown {
            since,
            baseline,
            now,
            current,
            assessment,
            slow_scale,
        }
    }
}

impl Series {
    /// An empty series for `kind`, whose warm-up starts at `started_at`.
    pub fn new(kind: MemoryKind, started_at: f64) -> Self {
        Series {
            kind,
            started_at,
            floors: VecDeque::new(),
            context: VecDeque::new(),
            slow: Vec::new(),
            slow_judged_at: 0,
            limits: Limits::default(),
            reported: None,
        }
    }

    /// Records a floor. Floors out of time order or not finite are ignored. Floors taken
    /// during warm-up are kept: a leak that runs from the start shows in them, and growth
    /// that stopped with the warm-up fails the test that the newest floors still rise.
    ///
    /// At most `window` floors are kept. Past that, the oldest is dropped while the others
    /// still span [`WINDOW_SPAN_DURATIONS`] minimum durations; otherwise floors come faster
    /// than the window can hold that long, and the window is thinned instead: the floor
    /// whose removal leaves the shortest gap goes (never the oldest or the newest), which
    /// keeps the floors evenly spread over time whatever their rate, and chooses by time
    /// alone, so the values kept are not biased.
    pub fn push(&mut self, config: &DetectorConfig, time: f64, bytes: f64) {
        self.push_with_load(config, time, bytes, None);
    }

    /// Records a floor with the load the process was under since the floor before (the
    /// CPU time the thread used a second), which tells floors that rise with load from a
    /// slow leak (see [`load_level`]); see [`Series::push`].
    pub fn push_with_load(
        &mut self,
        config: &DetectorConfig,
        time: f64,
        bytes: f64,
        load: Option<f64>,
    ) {
        if !time.is_finite() || !bytes.is_finite() {
            return;
        }
        if self.floors.back().is_some_and(|&(t, _)| time <= t) {
            return;
        }
        if self.slow.is_empty() {
            self.slow = SLOW_SCALES
                .iter()
                .map(|&scale| Decimated::new(scale, config.min_duration_ms))
                .collect();
        }
        for scale in &mut self.slow {
            scale.push(time, bytes, load);
        }
        self.floors.push_back((time, bytes));
        if self.context.len() == NOISE_CONTEXT_FLOORS {
            self.context.pop_front();
        }
        self.context.push_back((time, bytes));
        let wanted_span_ms = WINDOW_SPAN_DURATIONS * config.min_duration_ms;
        while self.floors.len() > config.window.max(2) {
            let span_without_oldest = time - self.floors[1].0;
            if self.floors.len() < 3 || span_without_oldest >= wanted_span_ms {
                self.floors.pop_front();
            } else {
                let densest = densest_interior_floor(&self.floors);
                self.floors.remove(densest);
            }
        }
    }

    /// Sets the growth so far aside: the caller knows it has a ceiling (bounded caches
    /// still filling up). The window starts again from the next floor; how far floors
    /// wander ([`NOISE_CONTEXT_FLOORS`]) is still known from the floors before.
    ///
    /// The slow scales keep their buckets. A bounded cache whose size goes up and down
    /// below its bound (entries that expire) is "filling" every other interval: clearing
    /// hours of buckets each time would leave a slow leak beside it never judged. Its
    /// filling is bounded growth, which those scales see level off (see
    /// [`super::scales::not_slowing`]) or as a step.
    pub fn hold(&mut self) {
        self.floors.clear();
    }

    /// The statistics of the current window, once it has enough floors.
    pub fn assess(&self, config: &DetectorConfig) -> Option<Assessment> {
        let points: Vec<(f64, f64)> = self.floors.iter().copied().collect();
        assess_window(&points, self.warm_at(config), config)
    }

    /// Sets the limit this memory runs into (`None`: not known); see [`Limits::own`].
    pub fn set_own_limit(&mut self, limit: Option<f64>) {
        self.limits.own = limit;
    }

    /// Sets the bytes left before RSS reaches the container's limit (`None`: no limit known).
    pub fn set_rss_headroom(&mut self, rss_headroom: Option<f64>) {
        self.limits.rss_headroom = rss_headroom;
    }

    /// Whether, and how, the newest floors hint at growth not reported yet; `None` when they
    /// do not. Suspected: the newest `min_points` (two at least) rise at the minimum rate and,
    /// from three floors on, with a Mann–Kendall confidence of [`SUSPECT_CONFIDENCE`], the
    /// newest a quarter of the minimum growth above the lowest floor kept. The spacing puts
    /// `min_points` floors over the time the detector needs at that rate: the minimum
    /// duration, or longer when growing by the minimum growth takes longer (denser floors
    /// would not show a slow leak any sooner); when the rate would reach the nearest limit
    /// within [`URGENT_HORIZON_MS`], at most the spacing the urgent test needs. It says
    /// nothing about a leak by itself (two floors are no trend: the caller bounds what a
    /// suspicion may cost). Growth already reported is not suspected again.
    pub fn suspicion(&self, config: &DetectorConfig) -> Option<Suspicion> {
        if self.reported.is_some() {
            return None;
        }
        let newest: Vec<(f64, f64)> = self
            .floors
            .iter()
            .skip(self.floors.len().saturating_sub(config.min_points.max(3)))
            .copied()
            .collect();
        let &(_, current) = newest.last().filter(|_| newest.len() >= 2)?;
        // Against every floor kept: once floors come every interval, a slow leak rises little
        // between the newest few, and it is the window's growth the detector will judge.
        let lowest = self
            .floors
            .iter()
            .map(|&(_, v)| v)
            .fold(f64::INFINITY, f64::min);
        let values: Vec<f64> = newest.iter().map(|&(_, v)| v).collect();
        let per_ms = theil_sen_slope(&newest)?;
        let suspected = current - lowest >= SUSPECT_GROWTH_SHARE * config.min_growth_bytes
            && per_ms * 1000.0 >= config.min_rate_bytes_per_sec
            && (values.len() < 3 || 1.0 - mann_kendall(&values).p_upward >= SUSPECT_CONFIDENCE);
        if !suspected {
            return None;
        }
        let needed_span_ms = config.min_duration_ms.max(config.min_growth_bytes / per_ms);
        let spacing_ms = needed_span_ms / (config.min_points.max(2) - 1) as f64;
        let urgent = self.limits.urgent(current, per_ms);
        let urgent_spacing_ms =
            URGENT_SPAN_SHARE * config.min_duration_ms / (URGENT_MIN_FLOORS - 1) as f64;
        Some(Suspicion {
            floor_spacing_ms: if urgent {
                spacing_ms.min(urgent_spacing_ms)
            } else {
                spacing_ms
            },
            urgent,
        })
    }

    /// The series now (see [`Trend`]); `None` before its first floor.
    pub fn trend(&self, config: &DetectorConfig) -> Option<Trend> {
        let &(floor_at, floor_bytes) = self.floors.back()?;
        let slow_scale = self.reported.and_then(|r| r.slow_scale);
        let (scale, points) = match slow_scale {
            Some(i) => (SLOW_SCALES[i], self.slow_points(i)),
            None => (MINUTES, self.floors.iter().copied().collect()),
        };
        let newest = &points[points.len().saturating_sub(config.min_points)..];
        let still_rising = theil_sen_slope(newest)
            .is_some_and(|per_ms| per_ms * 1000.0 >= config.min_rate_bytes_per_sec);
        Some(Trend {
            floor_bytes,
            floor_at,
            slope_bytes_per_sec: theil_sen_slope(&points).unwrap_or(0.0) * 1000.0,
            scale,
            leaking: self.reported.is_some() && still_rising,
        })
    }

    /// The closed buckets of slow scale `i`, as `(time, floor)`.
    fn slow_points(&self, i: usize) -> Vec<(f64, f64)> {
        self.slow
            .get(i)
            .map(|d| d.buckets().map(|b| (b.time, b.floor)).collect())
            .unwrap_or_default()
    }

    fn warm_at(&self, config: &DetectorConfig) -> f64 {
        self.started_at + config.warmup_ms
    }

    /// A leak to report now, if the window shows one that is new or worse than the last.
    ///
    /// Nothing is reported before the warm-up ends. The newest floors are judged first by the
    /// urgent test ([`urgent_window`]): their slope is the rate now, which older, flatter
    /// floors would understate. Then windows judged by the full test: all the floors kept,
    /// warm-up ones included (a leak running from the start is reported as soon as the
    /// floors after the warm-up confirm it), the floors after the warm-up alone (growth
    /// during start-up steep enough to hide a slower leak after it), and the newest half.
    pub fn evaluate(&mut self, config: &DetectorConfig) -> Option<Leak> {
        let warm_at = self.warm_at(config);
        let points: Vec<(f64, f64)> = self.floors.iter().copied().collect();
        if points.last().is_none_or(|&(t, _)| t < warm_at) {
            return None;
        }
        let after_warm_up = points.partition_point(|&(t, _)| t < warm_at);
        let context: Vec<(f64, f64)> = self.context.iter().copied().collect();
        let wander = step_spread(&context);
        // The slow scales' windows change only when one of their buckets closes.
        let closed: u64 = self.slow.iter().map(Decimated::closed_total).sum();
        let judge_slow = closed != self.slow_judged_at;
        self.slow_judged_at = closed;
        let shown = urgent_window(&points, warm_at, wander, config, &self.limits)
            .or_else(|| {
                candidate_starts(points.len(), after_warm_up)
                    .into_iter()
                    .find_map(|start| {
                        shows_leak(&points, start, warm_at, config).filter(|(window, _)| {
                            !judged_as_slow(window, config) || slow_rules_hold(window, config)
                        })
                    })
            })
            .map(|(window, a)| Shown::of(window, a, None))
            .or_else(|| {
                judge_slow
                    .then(|| self.slow_leak(config, warm_at))
                    .flatten()
            })?;
        let a = shown.assessment;
        let (since, baseline, now, current) =
            (shown.since, shown.baseline, shown.now, shown.current);
        if let Some(last) = self.reported {
            let steeper = a.slope_bytes_per_sec >= WORSE_SLOPE * last.slope;
            let grown = current - last.current
                >= (last.current - last.baseline).max(config.min_growth_bytes);
            if !steeper && !grown {
                return None;
            }
        }
        self.reported = Some(Reported {
            slope: a.slope_bytes_per_sec,
            current,
            baseline,
            slow_scale: shown.slow_scale,
        });
        let scale = shown.slow_scale.map_or(MINUTES, |i| SLOW_SCALES[i]);
        let oldest_kept = match shown.slow_scale {
            Some(i) => self.slow_points(i).first().map_or(now, |&(t, _)| t),
            None => self.floors.front().map_or(now, |&(t, _)| t),
        };
        let limit = self.limits.own;
        let projected_limit_at = limit
            .filter(|&l| l > current)
            .map(|l| now + (l - current) / a.slope_bytes_per_sec * 1000.0);
        Some(Leak {
            kind: self.kind,
            slope_bytes_per_sec: a.slope_bytes_per_sec,
            confidence: a.confidence,
            since,
            current,
            limit,
            projected_limit_at,
            urgent: self.limits.urgent(current, a.slope_bytes_per_sec / 1000.0),
            scale,
            // Floors that come rarely (a quiet service: one forced GC a minute) make a
            // scale's points span longer than its nominal window.
            scale_span_ms: scale.span_ms(config.min_duration_ms).max(now - oldest_kept),
        })
    }

    /// The shortest slow scale whose window shows a leak. Each is judged once it has
    /// [`MIN_BUCKETS`] buckets, on the windows the full test judges (see
    /// [`candidate_starts`]) with its buckets for floors and the minimum duration of
    /// [`MIN_BUCKETS`] of them, and must also not slow down ([`not_slowing`]), rise by the
    /// minimum growth in fact ([`rose_by`]), with the load level ([`load_level`]).
    fn slow_leak(&self, config: &DetectorConfig, warm_at: f64) -> Option<Shown> {
        self.slow.iter().enumerate().find_map(|(i, decimated)| {
            if decimated.buckets().len() < MIN_BUCKETS {
                return None;
            }
            let points = self.slow_points(i);
            let loads: Vec<Option<f64>> = decimated.buckets().map(|b| b.load()).collect();
            let bucket_ms = decimated.scale().bucket_ms(config.min_duration_ms);
            let scale_config = DetectorConfig {
                window: BUCKETS,
                min_points: MIN_BUCKETS,
                // The lowest floor of a bucket may come anywhere in it.
                min_duration_ms: (MIN_BUCKETS - 2) as f64 * bucket_ms,
                ..config.clone()
            };
            let after_warm_up = points.partition_point(|&(t, _)| t < warm_at);
            candidate_starts(points.len(), after_warm_up)
                .into_iter()
                .find_map(|start| {
                    let (window, a) = shows_leak(&points, start, warm_at, &scale_config)?;
                    let steady = slow_rules_hold(window, config) && load_level(&loads[start..]);
                    steady.then(|| Shown::of(window, a, Some(i)))
                })
        })
    }
}

/// Minimum durations beyond which a window of every floor is judged by the slow scales'
/// rules too: floors that come once a minute (a quiet service's forced GCs) stretch its 30
/// floors over half an hour, where a cache filling or a step looks as it does on the slow
/// scales.
const SLOW_WINDOW_DURATIONS: f64 = 5.0;

/// Whether a window of every floor spans so long that the slow scales' rules apply to it
/// (see [`SLOW_WINDOW_DURATIONS`]).
fn judged_as_slow(window: &[(f64, f64)], config: &DetectorConfig) -> bool {
    window[window.len() - 1].0 - window[0].0 > SLOW_WINDOW_DURATIONS * config.min_duration_ms
}

/// The slow scales' rules on the rise itself: it does not slow down and truly grew by the
/// minimum growth (see [`not_slowing`] and [`rose_by`]).
fn slow_rules_hold(window: &[(f64, f64)], config: &DetectorConfig) -> bool {
    not_slowing(window) && rose_by(window, config.min_growth_bytes)
}

/// The floor, neither the oldest nor the newest, whose removal leaves the shortest gap
/// between its neighbours (the oldest such on a tie). `floors` holds three at least.
fn densest_interior_floor(floors: &VecDeque<(f64, f64)>) -> usize {
    let gap_without = |i: usize| floors[i + 1].0 - floors[i - 1].0;
    (1..floors.len() - 1)
        .min_by(|&a, &b| gap_without(a).total_cmp(&gap_without(b)))
        .unwrap_or(1)
}

/// The statistics of `points`; the newest half's slope counts only floors from
/// `recent_from` on, and is 0 when fewer than [`MIN_RECENT_FLOORS`] are.
fn assess_window(
    points: &[(f64, f64)],
    recent_from: f64,
    config: &DetectorConfig,
) -> Option<Assessment> {
    if points.len() < config.min_points.max(3) {
        return None;
    }
    assess_points(points, recent_from)
}

/// The statistics of `points`, however few (see [`assess_window`]).
fn assess_points(points: &[(f64, f64)], recent_from: f64) -> Option<Assessment> {
    let slope_per_ms = theil_sen_slope(points)?;
    let newest_half = &points[points.len() / 2..];
    let recent = &newest_half[newest_half.partition_point(|&(t, _)| t < recent_from)..];
    let recent_per_ms = if recent.len() >= MIN_RECENT_FLOORS {
        theil_sen_slope(recent).unwrap_or(0.0)
    } else {
        0.0
    };
    let values: Vec<f64> = points.iter().map(|&(_, v)| v).collect();
    let mk = mann_kendall(&values);
    let noise_bytes = residual_spread(points, slope_per_ms);
    Some(Assessment {
        slope_bytes_per_sec: slope_per_ms * 1000.0,
        recent_slope_bytes_per_sec: recent_per_ms * 1000.0,
        confidence: 1.0 - mk.p_upward,
        span_ms: points[points.len() - 1].0 - points[0].0,
        noise_bytes,
    })
}

/// Whether an assessed window passes every test of a leak (see the module's doc).
fn passes(a: &Assessment, config: &DetectorConfig) -> bool {
    let growth = a.slope_bytes_per_sec * a.span_ms / 1000.0;
    a.confidence >= config.confidence
        && a.span_ms >= config.min_duration_ms
        && a.slope_bytes_per_sec >= config.min_rate_bytes_per_sec
        && growth >= config.min_growth_bytes
        && growth >= NOISE_MARGIN * a.noise_bytes
        && a.recent_slope_bytes_per_sec >= RECENT_SHARE * a.slope_bytes_per_sec
}

/// Where the windows judged start, oldest first: every floor kept (warm-up ones
/// included: a leak running from the start), the floors after the warm-up (start-up growth
/// steep enough to hide a slower leak after it), and the newest half (a leak that began in
/// the middle of the window, whose slope the older flat floors would flatten).
fn candidate_starts(len: usize, after_warm_up: usize) -> Vec<usize> {
    let mut starts = vec![0, after_warm_up, len / 2];
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// The window of `points` from `start` and its assessment, when it shows a leak: its
/// newest floor is above every older floor by the minimum growth (a level the floors wander
/// to and back from is not new), it passes, with its newest half rising after `warm_at`,
/// no third of it is flat beside the others (a step: see [`no_flat_third`]), and so do the
/// windows of the same length ending one and two floors earlier (shorter when they would start before the
/// oldest floor). Those are judged as they were, warm-up floors included: they confirm the
/// statistics, not that the growth goes on.
fn shows_leak<'a>(
    points: &'a [(f64, f64)],
    start: usize,
    warm_at: f64,
    config: &DetectorConfig,
) -> Option<(&'a [(f64, f64)], Assessment)> {
    let window = &points[start..];
    let older_peak = points[..start]
        .iter()
        .map(|&(_, v)| v)
        .fold(f64::NEG_INFINITY, f64::max);
    if window[window.len() - 1].1 < older_peak + config.min_growth_bytes {
        return None;
    }
    if !no_flat_third(window) {
        return None;
    }
    let a = assess_window(window, warm_at, config).filter(|a| passes(a, config))?;
    let len = window.len();
    let confirmed = (1..CONFIRMATIONS).all(|back| {
        let end = points.len().saturating_sub(back);
        let earlier = &points[end.saturating_sub(len)..end];
        assess_window(earlier, f64::NEG_INFINITY, config).is_some_and(|a| passes(&a, config))
    });
    confirmed.then_some((window, a))
}

/// The newest floors and their assessment, when they show a leak that will reach its nearest
/// limit within [`URGENT_HORIZON_MS`], on fewer and larger steps than the full test needs:
/// the longest run of newest floors, each above the one before, that passes
/// [`passes_urgent`].
fn urgent_window<'a>(
    points: &'a [(f64, f64)],
    warm_at: f64,
    wander: f64,
    config: &DetectorConfig,
    limits: &Limits,
) -> Option<(&'a [(f64, f64)], Assessment)> {
    let mut rising_from = points.len().checked_sub(1)?;
    while rising_from > 0 && points[rising_from - 1].1 < points[rising_from].1 {
        rising_from -= 1;
    }
    // Its oldest steps may be too small (the floor just before a leak started, or noise
    // before a steep rise): the run is judged without them too.
    let last_start = points.len().checked_sub(URGENT_MIN_FLOORS)?;
    (rising_from..=last_start).find_map(|start| {
        let a = passes_urgent(points, start, warm_at, wander, config, limits)?;
        Some((&points[start..], a))
    })
}

/// The assessment of the rising floors of `points` from `start`, when they show an urgent
/// leak: at least [`URGENT_MIN_FLOORS`] floors spanning [`URGENT_SPAN_SHARE`] of the minimum
/// duration, rising [`URGENT_GROWTH_MULTIPLE`] minimum growths in all and
/// [`URGENT_NOISE_MARGIN`] times their spread around the line and `wander` (how far the
/// newest floors wander from one to the next, [`step_spread`]), the newest above every older
/// floor kept by as much, every step at [`URGENT_STEP_SHARE`] of the slope, the newest half
/// at [`URGENT_RECENT_SHARE`] of it, the newest [`URGENT_FLOORS_AFTER_WARM_UP`] floors after
/// the warm-up; and at that slope, the nearest limit within the horizon.
///
/// Why it raises no false alarms: noise must climb four real steps in a row adding up to
/// four minimum growths, four times its own spread and four times how far the floors wander
/// from one to the next (which five floors that line up by chance understate, and which
/// needs no older floors to be known), and above every level the floors wandered to
/// before; a single jump leaves flat floors after it (small steps) or a line
/// that fits it badly (spread); a sawtooth or bump falls back before a new run and does not
/// top its older peaks; growth that stops or slows fails the steps or the newest half;
/// start-up growth fails the warm-up; and only growth that would reach a limit soon is
/// judged at all.
fn passes_urgent(
    points: &[(f64, f64)],
    start: usize,
    warm_at: f64,
    wander: f64,
    config: &DetectorConfig,
    limits: &Limits,
) -> Option<Assessment> {
    let run = &points[start..];
    let (_, current) = *run.last()?;
    let older_peak = points[..start]
        .iter()
        .map(|&(_, v)| v)
        .fold(f64::NEG_INFINITY, f64::max);
    let urgent_growth = URGENT_GROWTH_MULTIPLE * config.min_growth_bytes;
    let (warm_from, _) = run[run.len().checked_sub(URGENT_FLOORS_AFTER_WARM_UP)?];
    if current < older_peak + urgent_growth || warm_from < warm_at {
        return None;
    }
    let a = assess_points(run, f64::NEG_INFINITY)?;
    let growth = a.slope_bytes_per_sec * a.span_ms / 1000.0;
    let least_step_per_ms = run
        .windows(2)
        .map(|pair| (pair[1].1 - pair[0].1) / (pair[1].0 - pair[0].0))
        .fold(f64::INFINITY, f64::min);
    let urgent = a.span_ms >= URGENT_SPAN_SHARE * config.min_duration_ms
        && a.slope_bytes_per_sec >= config.min_rate_bytes_per_sec
        && growth >= urgent_growth
        && growth >= URGENT_NOISE_MARGIN * a.noise_bytes.max(wander)
        && least_step_per_ms * 1000.0 >= URGENT_STEP_SHARE * a.slope_bytes_per_sec
        && a.recent_slope_bytes_per_sec >= URGENT_RECENT_SHARE * a.slope_bytes_per_sec
        && limits.urgent(current, a.slope_bytes_per_sec / 1000.0);
    urgent.then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_rng::Rng;

    /// Feeds `floors(i)` every second for `n` seconds; returns every leak reported.
    fn run(n: usize, floors: impl Fn(usize) -> f64) -> Vec<Leak> {
        run_at(n, floors)
            .into_iter()
            .map(|(_, leak)| leak)
            .collect()
    }

    /// Like `run`, with the second at which each leak was reported.
    fn run_at(n: usize, floors: impl Fn(usize) -> f64) -> Vec<(usize, Leak)> {
        let config = DetectorConfig::test_values();
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        series.set_own_limit(Some(1e12));
        let mut leaks = Vec::new();
        for i in 0..n {
            series.push(&config, i as f64 * 1000.0, floors(i));
            leaks.extend(series.evaluate(&config).map(|leak| (i, leak)));
        }
        leaks
    }

    #[test]
    fn a_steady_leak_is_found_with_its_rate_and_projection() {
        let leaks = run(30, |i| 50e6 + 200_000.0 * i as f64);
        let first = &leaks[0];
        assert_eq!(first.kind, MemoryKind::Heap);
        assert!((first.slope_bytes_per_sec - 200_000.0).abs() < 1.0);
        assert!(first.confidence > 0.999);
        let expected_at =
            1000.0 * (first.current - 50e6) / 200_000.0 + (1e12 - first.current) / 200.0;
        assert!((first.projected_limit_at.unwrap() - expected_at).abs() < 1.0);
    }

    #[test]
    fn the_trend_says_leaking_while_a_reported_leak_still_grows() {
        let config = DetectorConfig::test_values();
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        series.set_own_limit(Some(1e12));
        assert_eq!(series.trend(&config), None);
        let mut leaked_at = None;
        for i in 0..30 {
            series.push(&config, i as f64 * 1000.0, 50e6 + 200_000.0 * i as f64);
            if series.evaluate(&config).is_some() {
                leaked_at.get_or_insert(i);
            }
            let trend = series.trend(&config).unwrap();
            assert_eq!(trend.leaking, leaked_at.is_some(), "second {i}");
        }
        let trend = series.trend(&config).unwrap();
        assert_eq!(trend.floor_bytes, 50e6 + 200_000.0 * 29.0);
        assert_eq!(trend.floor_at, 29_000.0);
        assert!((trend.slope_bytes_per_sec - 200_000.0).abs() < 1.0);
        // The growth stops: the leak is over once the newest floors no longer rise.
        for i in 30..30 + config.min_points {
            series.push(&config, i as f64 * 1000.0, 56e6);
        }
        assert!(!series.trend(&config).unwrap().leaking);
    }

    #[test]
    fn a_noisy_leak_is_found_and_noise_alone_is_not() {
        let mut rng = Rng(3);
        let noise: Vec<f64> = (0..120).map(|_| rng.noise(2e6)).collect();
        assert!(!run(120, |i| 50e6 + 150_000.0 * i as f64 + noise[i]).is_empty());
        assert!(run(120, |i| 50e6 + noise[i]).is_empty());
    }

    #[test]
    fn noise_never_leaks_over_many_seeds_and_long_runs() {
        // Sliding windows judged at every floor test the same noise many times over: the
        // noise margin keeps those repeated chances from adding up to a false alarm.
        for seed in 1..=60 {
            let mut rng = Rng(seed);
            let noise: Vec<f64> = (0..600).map(|_| rng.noise(3e6)).collect();
            let leaks = run(600, |i| 60e6 + noise[i]);
            assert!(leaks.is_empty(), "seed {seed}: {leaks:?}");
        }
    }

    #[test]
    fn a_flat_series_and_a_falling_one_never_leak() {
        assert!(run(200, |_| 80e6).is_empty());
        assert!(run(200, |i| 80e6 - 10_000.0 * i as f64).is_empty());
    }

    #[test]
    fn a_cache_that_warms_up_and_levels_off_is_not_a_leak_once_flat() {
        // Grows fast for 10 s then stays flat: the newest half of the window is flat.
        // While it grows it is reported like any growth (in practice the warm-up period
        // covers this); once the newest half of the window is flat it never is.
        let leaks = run_at(200, |i| 50e6 + 1e6 * (i.min(10) as f64));
        let late: Vec<_> = leaks.iter().filter(|(at, _)| *at >= 16).collect();
        assert!(late.is_empty(), "{late:?}");
    }

    #[test]
    fn held_growth_is_not_judged_until_released() {
        let config = DetectorConfig::test_values();
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        let mut reports = Vec::new();
        for i in 0..60 {
            // Grows for 20 s while held (a cache filling), then flat.
            series.push(&config, i as f64 * 1000.0, 50e6 + 1e6 * (i.min(20) as f64));
            if i < 20 {
                series.hold();
            } else {
                reports.extend(series.evaluate(&config));
            }
        }
        assert!(reports.is_empty(), "{reports:?}");
        // The same growth, unheld, is reported; and growth that goes on after the hold ends
        // (a leak beside the cache) is reported once a new window shows it.
        assert!(!run(20, |i| 50e6 + 1e6 * i as f64).is_empty());
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        let mut late = Vec::new();
        for i in 0..60 {
            series.push(&config, i as f64 * 1000.0, 50e6 + 1e6 * i as f64);
            if i < 20 {
                series.hold();
            } else {
                late.extend(series.evaluate(&config));
            }
        }
        assert!(!late.is_empty());
    }

    #[test]
    fn growth_below_the_minimum_is_ignored() {
        // 100 bytes/s: significant, but far below min rate and growth.
        assert!(run(100, |i| 50e6 + 100.0 * i as f64).is_empty());
    }

    #[test]
    fn reports_repeat_only_when_the_leak_gets_worse() {
        let steady = run(200, |i| 50e6 + 200_000.0 * i as f64);
        // Growth doubling triggers repeats, far fewer than one per floor.
        assert!(steady.len() >= 2 && steady.len() < 10, "{}", steady.len());
        for pair in steady.windows(2) {
            assert!(pair[1].current > pair[0].current);
        }
        // A leak that triples its rate is reported again at once.
        let faster = run(60, |i| {
            if i < 30 {
                50e6 + 200_000.0 * i as f64
            } else {
                56e6 + 600_000.0 * (i - 30) as f64
            }
        });
        assert!(faster.iter().any(|l| l.slope_bytes_per_sec > 400_000.0));
    }

    /// Feeds `floors(i)` every second with a warm-up of `warmup_s`; returns the seconds at
    /// which leaks were reported.
    fn reported_at(warmup_s: f64, n: usize, floors: impl Fn(usize) -> f64) -> Vec<usize> {
        let config = DetectorConfig {
            warmup_ms: warmup_s * 1000.0,
            ..DetectorConfig::test_values()
        };
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        (0..n)
            .filter(|&i| {
                series.push(&config, i as f64 * 1000.0, floors(i));
                series.evaluate(&config).is_some()
            })
            .collect()
    }

    #[test]
    fn a_leak_from_the_start_is_reported_once_growth_goes_on_after_warm_up() {
        let at = reported_at(10.0, 60, |i| 50e6 + 500_000.0 * i as f64);
        // Floors at 10, 11 and 12 s are the newest half's floors after the warm-up.
        assert_eq!(at.first(), Some(&(10 + MIN_RECENT_FLOORS - 1)), "{at:?}");
    }

    #[test]
    fn start_up_growth_that_stops_with_the_warm_up_is_not_a_leak() {
        for end in [5, 9, 10] {
            let at = reported_at(10.0, 120, |i| 50e6 + 2e6 * i.min(end) as f64);
            assert!(at.is_empty(), "growth until {end} s: {at:?}");
        }
    }

    #[test]
    fn a_slow_leak_after_steep_start_up_growth_is_found_in_the_floors_after_warm_up() {
        // 20 MB of start-up growth in 10 s, then a leak 40 times slower: the whole window's
        // slope is the start-up's, the newest floors rise far slower; the floors after the
        // warm-up alone show the leak, while the start-up's floors are still in the window.
        let at = reported_at(10.0, 36, |i| {
            50e6 + 2e6 * i.min(10) as f64 + 50_000.0 * i.saturating_sub(10) as f64
        });
        assert!(!at.is_empty());
    }

    /// Whether a heap series fed `floors`, one a second, suspects growth after the last.
    fn suspects_after(floors: &[f64]) -> bool {
        wanted_spacing_after(floors).is_some()
    }

    /// The floor spacing a heap series fed `floors`, one a second, asks for after the last.
    fn wanted_spacing_after(floors: &[f64]) -> Option<f64> {
        let config = DetectorConfig::test_values();
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        for (i, &floor) in floors.iter().enumerate() {
            series.push(&config, i as f64 * 1000.0, floor);
        }
        series.suspicion(&config).map(|s| s.floor_spacing_ms)
    }

    #[test]
    fn rising_floors_are_suspected_long_before_they_are_a_leak() {
        // test_values(): minimum growth 1 MB; a quarter of it is 250 kB.
        assert!(suspects_after(&[50e6, 50.2e6, 50.4e6]));
        assert!(
            suspects_after(&[50e6, 50.4e6]),
            "two floors far enough apart"
        );
        assert!(!suspects_after(&[50.4e6]), "one floor");
        assert!(
            !suspects_after(&[50e6, 50.4e6, 50.1e6]),
            "up, then most of the way down"
        );
        assert!(
            !suspects_after(&[50e6, 50.1e6, 50.2e6]),
            "below a quarter of the minimum growth"
        );
        assert!(!suspects_after(&[50.4e6, 50.2e6, 50e6]), "falling");
        assert!(
            !suspects_after(&[50e6, 50.4e6, 50.0e6, 50.4e6, 50e6]),
            "up and down"
        );
        // Only the newest min_points floors count: old growth that stopped is not suspected.
        let mut levelled: Vec<f64> = (0..10).map(|i| 50e6 + 1e6 * i as f64).collect();
        levelled.extend([
            59e6, 58.9e6, 59.05e6, 58.95e6, 59e6, 59.02e6, 58.97e6, 59.01e6,
        ]);
        assert!(!suspects_after(&levelled));
        // A slow rise: 30 kB a floor is 210 kB over the newest 8 floors, 570 kB over all 20.
        let slow: Vec<f64> = (0..20).map(|i| 50e6 + 30e3 * i as f64).collect();
        assert!(suspects_after(&slow));
    }

    #[test]
    fn floors_are_wanted_as_often_as_the_detector_can_use_them() {
        // test_values(): 8 floors over at least 5 s, and 1 MB of growth. At 500 kB/s the
        // minimum duration bounds: 5 s / 7 gaps. At 30 kB/s, 1 MB takes 33.3 s: / 7.
        let fast: Vec<f64> = (0..4).map(|i| 50e6 + 500e3 * i as f64).collect();
        let spacing = wanted_spacing_after(&fast).unwrap();
        assert!((spacing - 5000.0 / 7.0).abs() < 1e-6, "{spacing}");
        let slow: Vec<f64> = (0..20).map(|i| 50e6 + 30e3 * i as f64).collect();
        let spacing = wanted_spacing_after(&slow).unwrap();
        assert!((spacing - 1e6 / 30.0 / 7.0).abs() < 1e-3, "{spacing}");
    }

    #[test]
    fn small_noise_is_never_suspected_and_a_reported_leak_no_longer_is() {
        // Floors wandering by ±100 kB (a quarter of the minimum growth is 250 kB): rising
        // runs happen by chance all the time, but never rise far enough. (Noise as large as
        // a quarter of the minimum growth is suspected now and then: the caller bounds what
        // a suspicion may cost.)
        let config = DetectorConfig::test_values();
        let mut rng = Rng(11);
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        for i in 0..2000 {
            series.push(&config, i as f64 * 1000.0, 60e6 + rng.noise(1e5));
            assert_eq!(
                series.suspicion(&config).map(|s| s.floor_spacing_ms),
                None,
                "after floor {i}"
            );
        }
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        let mut reported = false;
        for i in 0..30 {
            series.push(&config, i as f64 * 1000.0, 50e6 + 500_000.0 * i as f64);
            reported |= series.evaluate(&config).is_some();
        }
        assert!(
            reported
                && series
                    .suspicion(&config)
                    .map(|s| s.floor_spacing_ms)
                    .is_none()
        );
    }

    #[test]
    fn bad_floors_are_ignored() {
        let config = DetectorConfig::test_values();
        let mut series = Series::new(MemoryKind::External, 0.0);
        series.push(&config, 20_000.0, f64::NAN);
        series.push(&config, f64::INFINITY, 1.0);
        series.push(&config, f64::NEG_INFINITY, 1.0);
        assert!(series.floors.is_empty());
        series.push(&config, 20_000.0, 5.0);
        series.push(&config, 19_000.0, 5.0); // out of order
        series.push(&config, 20_000.0, 6.0); // same time
        assert_eq!(series.floors.len(), 1);
    }

    #[test]
    fn a_leak_that_begins_mid_window_is_judged_on_the_newest_floors() {
        // Flat for 20 s, then a steady leak: the whole window's slope is flattened by the
        // old floors, its newest half is not.
        let mut rng = Rng(7);
        let noise: Vec<f64> = (0..60).map(|_| rng.noise(3e5)).collect();
        let at = reported_at(6.0, 60, |i| {
            50e6 + 1.5e6 * i.saturating_sub(20) as f64 + noise[i]
        });
        assert!(at.first().is_some_and(|&at| at <= 30), "{at:?}");
    }

    const MIB: f64 = 1024.0 * 1024.0;
    const GIB: f64 = 1024.0 * MIB;
    /// Floors every interval at `watch()`'s default, 10 s.
    const FLOOR_EVERY_S: f64 = 10.0;

    /// Feeds `floors` one every 10 s from the start, at `watch()`'s defaults, with a heap limit
    /// of `limit`; returns every leak reported, with the second at which it was.
    fn leaks_at_defaults(limit: f64, floors: &[f64]) -> Vec<(f64, Leak)> {
        let config = DetectorConfig::watch_defaults();
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        series.set_own_limit(Some(limit));
        let mut leaks = Vec::new();
        for (i, &floor) in floors.iter().enumerate() {
            let at = FLOOR_EVERY_S * i as f64;
            series.push(&config, at * 1000.0, floor);
            leaks.extend(series.evaluate(&config).map(|leak| (at, leak)));
        }
        leaks
    }

    /// Floors for `seconds`: 60 MB plus `growth(t)` at second `t`, plus uniform noise of
    /// `noise` bytes either way.
    fn floors_of(seconds: f64, seed: u64, noise: f64, growth: impl Fn(f64) -> f64) -> Vec<f64> {
        let mut rng = Rng(seed);
        let n = (seconds / FLOOR_EVERY_S) as usize + 1;
        (0..n)
            .map(|i| 60e6 + growth(FLOOR_EVERY_S * i as f64) + rng.noise(noise))
            .collect()
    }

    /// Whether any leak reported was urgent.
    fn any_urgent(leaks: &[(f64, Leak)]) -> bool {
        leaks.iter().any(|(_, leak)| leak.urgent)
    }

    /// The seconds at which the urgent test alone passes, fed like `leaks_at_defaults`.
    fn urgent_test_passes_at(limit: f64, floors: &[f64]) -> Vec<f64> {
        let config = DetectorConfig::watch_defaults();
        let limits = Limits {
            own: Some(limit),
            rss_headroom: None,
        };
        let points: Vec<(f64, f64)> = floors
            .iter()
            .enumerate()
            .map(|(i, &floor)| (FLOOR_EVERY_S * 1000.0 * i as f64, floor))
            .collect();
        (1..=points.len())
            .filter(|&n| {
                let window = &points[n.saturating_sub(config.window)..n];
                let context = &points[n.saturating_sub(NOISE_CONTEXT_FLOORS)..n];
                let wander = step_spread(context);
                urgent_window(window, config.warmup_ms, wander, &config, &limits).is_some()
            })
            .map(|n| FLOOR_EVERY_S * (n - 1) as f64)
            .collect()
    }

    #[test]
    fn a_fast_leak_toward_the_limit_is_reported_urgently_within_a_minute_of_its_start() {
        // 5 to 10 MB/s toward a 2 or 4 GiB heap limit, starting after the warm-up, with
        // floors wandering by ±4 MB: four rising steps after the start, so 40 to 50 s.
        for (rate, limit) in [
            (5e6, 4.0 * GIB),
            (8e6, 4.0 * GIB),
            (10e6, 2.0 * GIB),
            (5e6, 2.0 * GIB),
        ] {
            for seed in 1..=50 {
                let start = 95.0;
                let floors = floors_of(400.0, seed, 4e6, |t| rate * (t - start).max(0.0));
                let leaks = leaks_at_defaults(limit, &floors);
                let (at, first) = &leaks[0];
                assert!(first.urgent, "{rate} B/s, seed {seed}: {first:?}");
                assert!(*at - start <= 60.0, "{rate} B/s, seed {seed}: at {at} s");
                let expected_at =
                    1000.0 * (at + (limit - first.current) / first.slope_bytes_per_sec);
                let projected = first.projected_limit_at.unwrap();
                assert!(
                    (projected - expected_at).abs() < 1.0,
                    "{projected} vs {expected_at}"
                );
            }
        }
    }

    #[test]
    fn a_fast_leak_from_the_start_is_reported_urgently_once_a_step_follows_the_warm_up() {
        let floors = floors_of(300.0, 5, 4e6, |t| 8e6 * t);
        let leaks = leaks_at_defaults(4.0 * GIB, &floors);
        assert!(leaks[0].1.urgent, "{leaks:?}");
        assert_eq!(leaks[0].0, 70.0, "floors at 60 and 70 s follow the warm-up");
    }

    #[test]
    fn a_leak_with_an_hour_to_go_is_not_urgent() {
        // 1 MB/s toward 4 GiB: found by the full test, later, and not urgent.
        let leaks = leaks_at_defaults(4.0 * GIB, &floors_of(600.0, 3, 1e6, |t| 1e6 * t));
        assert!(!leaks.is_empty() && !any_urgent(&leaks), "{leaks:?}");
    }

    #[test]
    fn the_container_limit_makes_a_leak_urgent_when_it_is_nearer_than_the_heap_limit() {
        let config = DetectorConfig::watch_defaults();
        let floors = floors_of(300.0, 9, 1e6, |t| 2e6 * t.max(0.0));
        let reported = |rss_headroom: Option<f64>| {
            let mut series = Series::new(MemoryKind::Heap, 0.0);
            series.set_own_limit(Some(4.0 * GIB));
            series.set_rss_headroom(rss_headroom);
            floors.iter().enumerate().find_map(|(i, &floor)| {
                series.push(&config, 10_000.0 * i as f64, floor);
                series.evaluate(&config)
            })
        };
        // 2 MB/s: half an hour to the heap limit, five minutes to a container 600 MB away.
        assert!(!reported(None).unwrap().urgent);
        assert!(reported(Some(600e6)).unwrap().urgent);
    }

    #[test]
    fn noise_never_raises_an_urgent_leak_over_many_seeds() {
        // Floors wandering by up to ±60 MB a heap limit of 1 GiB away (any growth the noise
        // seems to show is urgent): rising runs of five come by chance, never steep and
        // straight enough.
        for noise in [4e6, 20e6, 60e6] {
            for seed in 1..=200 {
                let floors = floors_of(3_000.0, seed, noise, |_| 0.0);
                let leaks = leaks_at_defaults(1.0 * GIB, &floors);
                assert!(leaks.is_empty(), "±{noise}, seed {seed}: {leaks:?}");
            }
        }
    }

    #[test]
    fn gc_sawtooth_floors_never_raise_an_urgent_leak() {
        // Floors that climb steeply for `teeth` floors (incremental GCs' floors holding what
        // was allocated while they marked) and fall back, over and over, from the start.
        for teeth in [3, 5, 7] {
            for seed in 1..=50 {
                let floors = floors_of(3_000.0, seed, 2e6, |t| {
                    let step = (t / FLOOR_EVERY_S) as usize % teeth;
                    80e6 * step as f64
                });
                let leaks = leaks_at_defaults(2.0 * GIB, &floors);
                assert!(leaks.is_empty(), "{teeth} teeth, seed {seed}: {leaks:?}");
            }
        }
    }

    #[test]
    fn start_up_growth_that_levels_off_is_never_urgent() {
        // 10 MB/s until 40, 50 or 60 s (the warm-up's end), then flat.
        for until in [40.0, 50.0, 60.0] {
            for seed in 1..=50 {
                let floors = floors_of(900.0, seed, 3e6, |t| 10e6 * t.min(until));
                let leaks = leaks_at_defaults(2.0 * GIB, &floors);
                assert!(leaks.is_empty(), "until {until} s, seed {seed}: {leaks:?}");
            }
        }
    }

    #[test]
    fn a_cache_filling_to_its_ceiling_is_not_urgent() {
        // After the warm-up, at 10 MB/s: a cache full within 30 s (three rising steps), and
        // one that slows as it fills (hits make misses rarer), halving its pace every 10 s.
        for seed in 1..=50 {
            let quick = floors_of(900.0, seed, 3e6, |t| 10e6 * (t - 100.0).clamp(0.0, 30.0));
            let slowing = floors_of(900.0, seed, 3e6, |t| {
                let filled_for = (t - 100.0).max(0.0);
                200e6 * (1.0 - 0.5f64.powf(filled_for / FLOOR_EVERY_S))
            });
            for floors in [quick, slowing] {
                let at = urgent_test_passes_at(2.0 * GIB, &floors);
                assert!(at.is_empty(), "seed {seed}: {at:?}");
            }
        }
    }

    #[test]
    fn noise_right_after_a_hold_never_raises_an_urgent_leak() {
        // Caches fill (held floors) until just past the warm-up, then the floors wander by
        // ±20 or ±60 MB around a flat line (floating garbage of a busy service's incremental
        // GCs), a heap limit of 1 GiB away: the window starts again at the hold, so a rising
        // run of five has no older floors to top and few to measure the noise by.
        let config = DetectorConfig::watch_defaults();
        let mut raised = Vec::new();
        for noise in [20e6, 60e6] {
            for held_until in [60.0, 70.0, 80.0] {
                for seed in 1..=300 {
                    let mut rng = Rng(seed);
                    let mut series = Series::new(MemoryKind::Heap, 0.0);
                    series.set_own_limit(Some(1.0 * GIB));
                    let mut leaks = Vec::new();
                    for i in 0..120 {
                        let at = FLOOR_EVERY_S * i as f64;
                        let filled = 100e6 * (at / held_until).min(1.0);
                        series.push(&config, at * 1000.0, 60e6 + filled + rng.noise(noise));
                        if at <= held_until {
                            series.hold();
                        } else {
                            leaks.extend(series.evaluate(&config).map(|leak| (at, leak)));
                        }
                    }
                    if let Some((at, leak)) = leaks.first() {
                        raised.push(format!(
                            "±{noise}, held until {held_until} s, seed {seed}: at {at} s, {leak:?}"
                        ));
                    }
                }
            }
        }
        assert!(
            raised.is_empty(),
            "{} of 1800 runs: {raised:#?}",
            raised.len()
        );
    }

    #[test]
    fn a_single_big_step_is_never_urgent() {
        // 500 MB in one floor, or over two, after the warm-up; flat (with noise) before and after.
        for over in [1.0, 2.0] {
            for seed in 1..=100 {
                let floors = floors_of(900.0, seed, 3e6, |t| {
                    500e6 * ((t - 200.0) / (over * FLOOR_EVERY_S)).clamp(0.0, 1.0)
                });
                let leaks = leaks_at_defaults(2.0 * GIB, &floors);
                assert!(
                    !any_urgent(&leaks),
                    "over {over} floors, seed {seed}: {leaks:?}"
                );
            }
        }
    }

    #[test]
    fn growth_toward_a_near_limit_is_suspected_urgently_and_asks_for_every_floor() {
        let config = DetectorConfig::watch_defaults();
        let suspicion_with_limit = |limit: f64| {
            let mut series = Series::new(MemoryKind::Heap, 0.0);
            series.set_own_limit(Some(limit));
            for i in 0..3 {
                series.push(&config, 10_000.0 * i as f64, 60e6 + 60e6 * i as f64);
            }
            series.suspicion(&config).unwrap()
        };
        // 6 MB/s: ten minutes to 4 GiB, hours to 40 GiB.
        let near = suspicion_with_limit(4.0 * GIB);
        assert!(near.urgent);
        assert_eq!(near.floor_spacing_ms, 7_500.0, "five floors over 30 s");
        assert!(!suspicion_with_limit(40.0 * GIB).urgent);
    }

    #[test]
    fn bumps_that_come_and_go_never_leak() {
        // Floors that now and then jump by 5 MB and fall back over five floors: short
        // windows ending on a bump rise steeply, but never to a level above older floors.
        for seed in 1..=60 {
            let mut rng = Rng(seed);
            let mut floors: Vec<f64> = (0..600).map(|_| 60e6 + rng.noise(1e6)).collect();
            for i in 0..600 {
                if rng.unit() < 0.05 {
                    for (k, floor) in floors[i..].iter_mut().take(5).enumerate() {
                        *floor += 1e6 * (5 - k) as f64;
                    }
                }
            }
            let at = reported_at(6.0, 600, |i| floors[i]);
            assert!(at.is_empty(), "seed {seed}: {at:?}");
        }
    }

    /// Feeds floors every `every_s` seconds for `seconds` at `watch()`'s defaults but a 10 s
    /// warm-up, each `floor(t)` at second `t`; returns the seconds at which leaks were
    /// reported, and the series.
    fn reported_every(
        every_s: f64,
        seconds: f64,
        floor: impl Fn(f64) -> f64,
    ) -> (Vec<f64>, Series) {
        let config = DetectorConfig {
            warmup_ms: 10_000.0,
            ..DetectorConfig::watch_defaults()
        };
        let mut series = Series::new(MemoryKind::External, 0.0);
        let mut at = Vec::new();
        let n = (seconds / every_s) as usize;
        for i in 0..=n {
            let t = every_s * i as f64;
            series.push(&config, t * 1000.0, floor(t));
            assert!(series.floors.len() <= config.window);
            if series.evaluate(&config).is_some() {
                at.push(t);
            }
        }
        (at, series)
    }

    #[test]
    fn floors_every_100_ms_are_thinned_to_span_two_minimum_durations_and_show_a_leak() {
        // 500 KB/s from second 20 with 1 MB of noise, floors every 100 ms: 30 floors would
        // span 3 s and the 60 s minimum duration could never be reached.
        let mut rng = Rng(5);
        let noise: Vec<f64> = (0..=3000).map(|_| rng.noise(1e6)).collect();
        // Reported within 90 s of its start, and not before it.
        let (at, series) = reported_every(0.1, 300.0, |t| {
            50e6 + 500_000.0 * (t - 20.0).max(0.0) + noise[(t * 10.0).round() as usize]
        });
        assert!(!at.is_empty(), "never reported");
        assert!(
            at[0] > 20.0 && at[0] <= 110.0,
            "first reported at {}",
            at[0]
        );
        let span = series.floors.back().unwrap().0 - series.floors.front().unwrap().0;
        assert!(
            (120_000.0..=125_000.0).contains(&span),
            "window spans {span} ms"
        );
        // Spread over the span: no hole of more than twice the mean spacing.
        let gaps: Vec<f64> = series
            .floors
            .iter()
            .zip(series.floors.iter().skip(1))
            .map(|(a, b)| b.0 - a.0)
            .collect();
        let mean = span / gaps.len() as f64;
        assert!(gaps.iter().all(|&g| g <= 2.0 * mean), "gaps {gaps:?}");
    }

    #[test]
    fn floors_every_100_ms_of_noise_or_a_sawtooth_never_leak() {
        for seed in 1..=8 {
            let mut rng = Rng(seed);
            let noise: Vec<f64> = (0..=6000).map(|_| rng.noise(4e6)).collect();
            let (at, _) = reported_every(0.1, 600.0, |t| 60e6 + noise[(t * 10.0).round() as usize]);
            assert!(at.is_empty(), "noise, seed {seed}: {at:?}");
        }
        // Floors that climb 6 MB over 20 s and drop back, again and again (a cache's TTL).
        let (at, _) = reported_every(0.1, 600.0, |t| 60e6 + 300_000.0 * (t % 20.0));
        assert!(at.is_empty(), "sawtooth: {at:?}");
    }

    #[test]
    fn floors_every_30_s_keep_the_last_window_of_floors_and_show_a_leak() {
        let (at, series) = reported_every(30.0, 3600.0, |t| 50e6 + 100_000.0 * t);
        assert!(!at.is_empty() && at[0] <= 300.0, "reported at {at:?}");
        assert_eq!(series.floors.len(), 30);
        assert_eq!(
            series.floors.front().unwrap().0,
            (3600.0 - 29.0 * 30.0) * 1000.0
        );
        let (at, _) = reported_every(30.0, 3600.0, |_| 50e6);
        assert!(at.is_empty());
    }

    #[test]
    fn floors_every_interval_at_the_defaults_are_the_newest_window_unthinned() {
        let (_, series) = reported_every(10.0, 1000.0, |_| 50e6);
        let times: Vec<f64> = series.floors.iter().map(|&(t, _)| t / 1000.0).collect();
        let expected: Vec<f64> = (71..=100).map(|i| 10.0 * i as f64).collect();
        assert_eq!(times, expected);
    }
}

#[cfg(test)]
#[path = "slow_leak_tests.rs"]
mod slow_leak_tests;
