//! [`Series`]: the floors of one kind of memory, kept in a window thinned to span the time
//! the tests need, decimated onto the slow scales, and judged by the urgent and the full
//! test each time a floor comes.

use std::collections::VecDeque;

use super::full_rule::{
    assess_window, big_heap, big_heap_start, candidate_starts, judged_as_slow, measured_wander,
    shows_leak, slow_rules_hold, slow_rules_hold_on_floors,
};
use super::step_rule::{
    StepTest, FAST, NOISE_CONTEXT_FLOORS, STEP_MIN_FLOORS, STEP_SPAN_SHARE, URGENT,
};
use super::types::{
    as_points, Assessment, DetectorConfig, Floor, Leak, LeakTest, Limits, MemoryKind, Suspicion,
    Trend, FAST_HORIZON_MS,
};
use crate::core::detect::scales::{
    load_level, serving_level, Decimated, Load, BUCKETS, LEVEL_SERVING_FLOORS, MINUTES,
    MIN_BUCKETS, SLOW_SCALES,
};
use crate::core::detect::trend::{mann_kendall, step_spread, theil_sen_slope};

/// The time the floors kept must span, in minimum durations, however often they come: the
/// full test needs a window of at least one, and the newest half of the window (a leak that
/// began in its middle) one more. Floors every interval at the defaults (30 floors, 10 s,
/// a 60 s minimum) span 290 s and are never thinned; full GCs every 1.5 s (a Buffer leak's
/// external pressure) would span 45 s without thinning, and no leak could ever be reported.
const WINDOW_SPAN_DURATIONS: f64 = 2.0;
/// How much steeper a leak must get to be reported again.
const WORSE_SLOPE: f64 = 1.5;
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
    pub(super) floors: VecDeque<Floor>,
    /// The newest [`NOISE_CONTEXT_FLOORS`] floors, which a hold does not clear.
    context: VecDeque<Floor>,
    /// The loads of the newest [`LEVEL_SERVING_FLOORS`] floors, until the service serves at
    /// a level rate.
    loads: VecDeque<Load>,
    /// When the service was first seen serving at a level rate ([`serving_level`]): the end
    /// of the step tests' warm-up, if before `warmup_ms`.
    serving_level_at: Option<f64>,
    /// The floors on each of [`SLOW_SCALES`], from the first floor on.
    pub(super) slow: Vec<Decimated>,
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
    test: LeakTest,
}

impl Shown {
    fn of(
        window: &[Floor],
        assessment: Assessment,
        slow_scale: Option<usize>,
        test: LeakTest,
    ) -> Self {
        let (oldest, newest) = (window[0], window[window.len() - 1]);
        Shown {
            since: oldest.at,
            baseline: oldest.bytes,
            now: newest.at,
            current: newest.bytes,
            assessment,
            slow_scale,
            test,
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
            loads: VecDeque::new(),
            serving_level_at: None,
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
        self.push_with_load(config, time, bytes, Load::default());
    }

    /// Records a floor with the load the process was under since the floor before (the
    /// requests it served and the CPU time it used, a second), which tells floors that rise
    /// with load from a slow leak (see [`load_level`]); see [`Series::push`].
    pub fn push_with_load(&mut self, config: &DetectorConfig, time: f64, bytes: f64, load: Load) {
        if !time.is_finite() || !bytes.is_finite() {
            return;
        }
        if self.floors.back().is_some_and(|newest| time <= newest.at) {
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
        let floor = Floor { at: time, bytes };
        self.floors.push_back(floor);
        if self.context.len() == NOISE_CONTEXT_FLOORS {
            self.context.pop_front();
        }
        self.context.push_back(floor);
        if self.serving_level_at.is_none() {
            if self.loads.len() == LEVEL_SERVING_FLOORS {
                self.loads.pop_front();
            }
            self.loads.push_back(load);
            if serving_level(self.loads.make_contiguous()) {
                self.serving_level_at = Some(time);
            }
        }
        let wanted_span_ms = WINDOW_SPAN_DURATIONS * config.min_duration_ms;
        while self.floors.len() > (config.window as usize).max(2) {
            let span_without_oldest = time - self.floors[1].at;
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
    /// [`not_slowing`]) or as a step.
    ///
    /// [`not_slowing`]: crate::core::detect::scales::not_slowing
    pub fn hold(&mut self) {
        self.floors.clear();
    }

    /// The statistics of the current window, once it has enough floors.
    pub fn assess(&self, config: &DetectorConfig) -> Option<Assessment> {
        let floors: Vec<Floor> = self.floors.iter().copied().collect();
        assess_window(&floors, self.warm_at(config), config)
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
    /// within [`URGENT_HORIZON_MS`], or once the newest floor is the minimum growth above the
    /// lowest kept, at most the spacing the step tests need. It says nothing about a leak by
    /// itself (two floors are no trend: the caller bounds what a
    /// suspicion may cost). Growth already reported is not suspected again.
    ///
    /// [`URGENT_HORIZON_MS`]: super::URGENT_HORIZON_MS
    pub fn suspicion(&self, config: &DetectorConfig) -> Option<Suspicion> {
        if self.reported.is_some() {
            return None;
        }
        let newest: Vec<Floor> = self
            .floors
            .iter()
            .skip(
                self.floors
                    .len()
                    .saturating_sub(config.min_points.max(3) as usize),
            )
            .copied()
            .collect();
        let current = newest.last().filter(|_| newest.len() >= 2)?.bytes;
        // Against every floor kept: once floors come every interval, a slow leak rises little
        // between the newest few, and it is the window's growth the detector will judge.
        let lowest = self
            .floors
            .iter()
            .map(|f| f.bytes)
            .fold(f64::INFINITY, f64::min);
        let values: Vec<f64> = newest.iter().map(|f| f.bytes).collect();
        let per_ms = theil_sen_slope(&as_points(&newest))?;
        let suspected = current - lowest >= SUSPECT_GROWTH_SHARE * config.min_growth_bytes
            && per_ms * 1000.0 >= config.min_rate_bytes_per_sec
            && (values.len() < 3 || 1.0 - mann_kendall(&values).p_upward >= SUSPECT_CONFIDENCE);
        if !suspected {
            return None;
        }
        let needed_span_ms = config.min_duration_ms.max(config.min_growth_bytes / per_ms);
        let spacing_ms = needed_span_ms / (config.min_points.max(2) - 1) as f64;
        let fast = self.limits.within(current, per_ms, FAST_HORIZON_MS);
        let step_spacing_ms =
            STEP_SPAN_SHARE * config.min_duration_ms / (STEP_MIN_FLOORS - 1) as f64;
        // Once the floors kept have grown by the minimum growth, the window's confirmations
        // and its confidence are what is left to show: floors as often as the step tests
        // take them. Before that, denser floors would spend the run the caller pays for
        // on growth the window cannot show yet.
        let near = current - lowest >= config.min_growth_bytes;
        Some(Suspicion {
            floor_spacing_ms: if fast || near {
                spacing_ms.min(step_spacing_ms)
            } else {
                spacing_ms
            },
            urgent: self.limits.urgent(current, per_ms) || self.urgent_onset(&newest, config),
        })
    }

    /// Whether the newest step alone, the minimum growth or more, would reach the nearest
    /// limit within [`URGENT_HORIZON_MS`]: at a fast leak's onset the newest three floors
    /// straddle its start, and their median slope is a fraction of its rate. Without this a
    /// fast leak is suspected at a fraction of its rate (a 6 MB/s one at 3.4 MB/s: 17 MB,
    /// then 181 MB 20 s later), not urgently, and its floors are then held back as bursts on
    /// a heap too big for an atomic GC (lib/detect/forced-gc.js) until V8 runs a full GC of
    /// its own (past 600 MB for that one). Not on a big heap ([`big_heap`]), where one step
    /// may be a batch's.
    ///
    /// [`URGENT_HORIZON_MS`]: super::URGENT_HORIZON_MS
    fn urgent_onset(&self, newest: &[Floor], config: &DetectorConfig) -> bool {
        let [.., before, last] = newest else {
            return false;
        };
        let step = last.bytes - before.bytes;
        step >= config.min_growth_bytes
            && !big_heap(last.bytes)
            && self
                .limits
                .urgent(last.bytes, step / (last.at - before.at).max(1.0))
    }

    /// The series now (see [`Trend`]); `None` before its first floor.
    pub fn trend(&self, config: &DetectorConfig) -> Option<Trend> {
        let &Floor {
            at: floor_at,
            bytes: floor_bytes,
        } = self.floors.back()?;
        let slow_scale = self.reported.and_then(|r| r.slow_scale);
        let (scale, points) = match slow_scale {
            Some(i) => (SLOW_SCALES[i], as_points(&self.slow_floors(i))),
            None => (MINUTES, as_points(&self.floors)),
        };
        let newest = &points[points.len().saturating_sub(config.min_points as usize)..];
        let still_rising = theil_sen_slope(newest)
            .is_some_and(|per_ms| per_ms * 1000.0 >= config.min_rate_bytes_per_sec);
        let slope_per_ms = theil_sen_slope(&points).unwrap_or(0.0);
        let leaking = self.reported.is_some() && still_rising;
        Some(Trend {
            kind: self.kind,
            floor_bytes,
            floor_at,
            slope_bytes_per_sec: slope_per_ms * 1000.0,
            scale: scale.name,
            leaking,
            limit_at: leaking
                .then(|| self.limits.time_left_ms(floor_bytes, slope_per_ms))
                .flatten()
                .map(|ms| floor_at + ms),
        })
    }

    /// The floors of slow scale `i`: the lowest floor of each of its closed buckets.
    fn slow_floors(&self, i: usize) -> Vec<Floor> {
        self.slow
            .get(i)
            .map(|d| {
                d.buckets()
                    .map(|b| Floor {
                        at: b.time,
                        bytes: b.floor,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// When the warm-up of the full test and the slow scales ends: `warmup_ms` after the start.
    fn warm_at(&self, config: &DetectorConfig) -> f64 {
        self.started_at + config.warmup_ms
    }

    /// When the warm-up of the step tests ends: once the service serves at a level rate
    /// ([`serving_level`]), if that came before `warmup_ms` and the config lets it. They
    /// judge only growth that would reach a limit within hours, on every floor, where a
    /// minute counts.
    fn step_warm_at(&self, config: &DetectorConfig) -> f64 {
        match self.serving_level_at {
            Some(at) if config.warmup_ends_when_serving => at.min(self.warm_at(config)),
            _ => self.warm_at(config),
        }
    }

    /// A leak to report now, if the window shows one that is new or worse than the last.
    ///
    /// Nothing is reported before the warm-up ends (for the step tests, once the service
    /// serves at a level rate, if that comes sooner). The newest floors are judged first by
    /// the step tests, urgent then fast ([`URGENT`], [`FAST`]): their slope is the rate now,
    /// which older, flatter floors would understate. Then windows judged by the full test:
    /// all the floors kept, warm-up ones included (a leak running from the start is reported
    /// as soon as the floors after the warm-up confirm it), the floors after the warm-up
    /// alone (growth during start-up steep enough to hide a slower leak after it), and the
    /// newest half.
    pub fn evaluate(&mut self, config: &DetectorConfig) -> Option<Leak> {
        let shown = self.shown_now(config)?;
        if !self.new_or_worse(&shown, config) {
            return None;
        }
        self.reported = Some(Reported {
            slope: shown.assessment.slope_bytes_per_sec,
            current: shown.current,
            baseline: shown.baseline,
            slow_scale: shown.slow_scale,
        });
        Some(self.leak_of(&shown, config))
    }

    /// The window that shows a leak now, if one does: the urgent test's, else the fast
    /// test's, else the full test's on the minutes scale, else (when one of their buckets
    /// closed) a slow scale's.
    fn shown_now(&mut self, config: &DetectorConfig) -> Option<Shown> {
        let warm_at = self.warm_at(config);
        let step_warm_at = self.step_warm_at(config);
        let floors: Vec<Floor> = self.floors.iter().copied().collect();
        if floors.last().is_none_or(|newest| newest.at < step_warm_at) {
            return None;
        }
        let after_warm_up = floors.partition_point(|f| f.at < warm_at);
        let wander = step_spread(&as_points(&self.context));
        let context: Vec<Floor> = self.context.iter().copied().collect();
        // How the heap wandered over its newest floors, and over the floors kept: those before
        // the newest five minimum durations (which a leak that began within them would bend)
        // once they are as many as the newest.
        let before = big_heap_start(&floors, config)
            .map(|start| start + 1)
            .filter(|&older| older >= NOISE_CONTEXT_FLOORS)
            .unwrap_or(floors.len());
        let own_wander = measured_wander(&context).max(measured_wander(&floors[..before]));
        // The slow scales' windows change only when one of their buckets closes.
        let closed: u64 = self.slow.iter().map(Decimated::closed_total).sum();
        let judge_slow = closed != self.slow_judged_at;
        self.slow_judged_at = closed;
        let step_window = |step: &StepTest| {
            step.window(
                &floors,
                step_warm_at,
                wander,
                own_wander,
                config,
                &self.limits,
            )
            .map(|(window, a)| Shown::of(window, a, None, step.test))
        };
        step_window(&URGENT)
            .or_else(|| step_window(&FAST))
            .or_else(|| {
                let mut starts = candidate_starts(floors.len(), after_warm_up);
                starts.extend(big_heap_start(&floors, config));
                starts
                    .into_iter()
                    .find_map(|start| {
                        shows_leak(&floors, start, warm_at, own_wander, config).filter(
                            |(window, _)| {
                                let big = big_heap(window[0].bytes);
                                let slow = judged_as_slow(window, config);
                                if big {
                                    slow && slow_rules_hold_on_floors(window, config, own_wander)
                                } else if slow {
                                    slow_rules_hold_on_floors(window, config, own_wander)
                                } else {
                                    true
                                }
                            },
                        )
                    })
                    .map(|(window, a)| Shown::of(window, a, None, LeakTest::Trend))
            })
            .or_else(|| {
                judge_slow
                    .then(|| self.slow_leak(config, warm_at, own_wander))
                    .flatten()
            })
    }

    /// Whether `shown` is worth reporting: nothing was, or it is clearly steeper
    /// ([`WORSE_SLOPE`]) or grew as much again as had been seen when it last was.
    fn new_or_worse(&self, shown: &Shown, config: &DetectorConfig) -> bool {
        self.reported.is_none_or(|last| {
            let steeper = shown.assessment.slope_bytes_per_sec >= WORSE_SLOPE * last.slope;
            let grown = shown.current - last.current
                >= (last.current - last.baseline).max(config.min_growth_bytes);
            steeper || grown
        })
    }

    /// The leak `shown` reports, with its projection to the limit and its scale's span.
    fn leak_of(&self, shown: &Shown, config: &DetectorConfig) -> Leak {
        let a = shown.assessment;
        let (now, current) = (shown.now, shown.current);
        let scale = shown.slow_scale.map_or(MINUTES, |i| SLOW_SCALES[i]);
        let oldest_kept = match shown.slow_scale {
            Some(i) => self.slow_floors(i).first().map_or(now, |oldest| oldest.at),
            None => self.floors.front().map_or(now, |oldest| oldest.at),
        };
        let limit = self.limits.own;
        let projected_limit_at = limit
            .filter(|&l| l > current)
            .map(|l| now + (l - current) / a.slope_bytes_per_sec * 1000.0);
        Leak {
            kind: self.kind,
            slope_bytes_per_sec: a.slope_bytes_per_sec,
            confidence: a.confidence,
            since: shown.since,
            current,
            limit,
            projected_limit_at,
            urgent: self.limits.urgent(current, a.slope_bytes_per_sec / 1000.0),
            scale: scale.name,
            // Floors that come rarely (a quiet service: one forced GC a minute) make a
            // scale's points span longer than its nominal window.
            scale_span_ms: scale.span_ms(config.min_duration_ms).max(now - oldest_kept),
            test: shown.test,
        }
    }

    /// The shortest slow scale whose window shows a leak. Each is judged once it has
    /// [`MIN_BUCKETS`] buckets, on the windows the full test judges (see
    /// [`candidate_starts`]) with its buckets for floors and the minimum duration of
    /// [`MIN_BUCKETS`] of them, and must also not slow down ([`not_slowing`]), rise
    /// by the minimum growth in fact ([`rose_by`]), with the load level ([`load_level`]).
    ///
    /// [`not_slowing`]: crate::core::detect::scales::not_slowing
    /// [`rose_by`]: crate::core::detect::scales::rose_by
    fn slow_leak(&self, config: &DetectorConfig, warm_at: f64, wander: f64) -> Option<Shown> {
        self.slow.iter().enumerate().find_map(|(i, decimated)| {
            if decimated.buckets().len() < MIN_BUCKETS {
                return None;
            }
            let floors = self.slow_floors(i);
            let loads: Vec<Load> = decimated.buckets().map(|b| b.load()).collect();
            let bucket_ms = decimated.scale().bucket_ms(config.min_duration_ms);
            let scale_config = DetectorConfig {
                window: BUCKETS as u32,
                min_points: MIN_BUCKETS as u32,
                // The lowest floor of a bucket may come anywhere in it.
                min_duration_ms: (MIN_BUCKETS - 2) as f64 * bucket_ms,
                ..config.clone()
            };
            let after_warm_up = floors.partition_point(|f| f.at < warm_at);
            candidate_starts(floors.len(), after_warm_up)
                .into_iter()
                .find_map(|start| {
                    let (window, a) = shows_leak(&floors, start, warm_at, wander, &scale_config)?;
                    let steady = slow_rules_hold(window, config) && load_level(&loads[start..]);
                    steady.then(|| Shown::of(window, a, Some(i), LeakTest::Trend))
                })
        })
    }
}

/// The floor, neither the oldest nor the newest, whose removal leaves the shortest gap
/// between its neighbours (the oldest such on a tie). `floors` holds three at least.
fn densest_interior_floor(floors: &VecDeque<Floor>) -> usize {
    let gap_without = |i: usize| floors[i + 1].at - floors[i - 1].at;
    (1..floors.len() - 1)
        .min_by(|&a, &b| gap_without(a).total_cmp(&gap_without(b)))
        .unwrap_or(1)
}
