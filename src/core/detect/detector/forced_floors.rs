//! A model of when the watcher takes floors in a service where V8 runs no full GC of its own
//! (lib/detect/forced-gc.js and floors.js), at two paces ([`Pace`]):
//! - a small heap ([`Pace::Atomic`]): the first two floors forced at once, an incremental GC
//!   once none has run for `forceGcAfterMs` (its floor noted a little later and taken at the
//!   next interval), and an atomic one whenever the detector's suspicion wants a floor by
//!   now, paid for with suspicion credit;
//! - a big heap ([`Pace::V8`]), where no atomic GC fits the pause allowed: every forced GC is
//!   incremental at V8's own pace, its floor noted 11-18 s after the request and taken at the
//!   tick after that, and none is asked for while one is under way. So floors come about every
//!   20-30 s while suspicion runs, and every 60-70 s otherwise: the spacing measured on a
//!   1.4 GB heap (docs/benchmarks/detect.md, "Big heaps in the detector's model").
//!
//! The forced GCs' time budget is left out: the floors here come from GCs whose felt pause
//! is a small share of each interval.

use super::*;
use crate::core::detect::scales::Load;
use crate::core::test_rng::Rng;

/// The watcher's interval at its defaults, in seconds.
pub(super) const INTERVAL_S: f64 = 10.0;
/// `forceGcAfterMs` at its default, in seconds.
const FORCE_GC_AFTER_S: f64 = 60.0;
/// SUSPICION_REFILL_INTERVALS of forced-gc.js.
const REFILL_INTERVALS: f64 = 10.0;
/// SPARE_FLOORS of forced-gc.js.
const SPARE_FLOORS: usize = 4;
/// FIRST_FLOORS of forced-gc.js.
const FIRST_FLOORS: usize = 2;
/// FLOOR_SLACK_INTERVALS of floors.js.
const FLOOR_SLACK_INTERVALS: f64 = 0.5;
/// How long after its request the watcher sees a full GC end (its sentinel's finalizer): an
/// atomic GC's, and the longest an incremental one's marking takes here.
const ATOMIC_SEEN_AFTER_S: f64 = 0.05;
const INCREMENTAL_UP_TO_S: f64 = 3.0;
/// On a big heap, a forced GC's floor is noted this long after its request, and up to
/// [`V8_PACE_SPREAD_S`] more (marking starts about 10 s after a `'default'` request).
const V8_PACE_AFTER_S: f64 = 11.0;
const V8_PACE_SPREAD_S: f64 = 7.0;
/// On a big heap, a quiet GC is asked for once the newest floor is this old, so that its
/// floor comes 60-70 s after it, as measured. (`forceGcAfterMs` counts from the last GC's
/// end, which would put floors about 80 s apart; the measured spacing is what is modelled.)
const V8_PACE_QUIET_AFTER_S: f64 = 50.0;

/// How forced GCs bring their floors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pace {
    /// A heap whose atomic GC fits the pause allowed (up to about 125 MB).
    Atomic,
    /// A heap of a GB or so: incremental GCs at V8's pace only.
    V8,
}

/// Why a floor was taken, as `forcedGcReason` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    FirstFloors,
    Quiet,
    SuspectedGrowth,
}

/// A quiet service watched at the defaults, its heap series judged as the monitor thread does.
pub(super) struct QuietService {
    pub(super) config: DetectorConfig,
    pub(super) series: Series,
    credit: f64,
    max_credit: f64,
    last_full_gc_at: f64,
    last_floor_at: f64,
    taken: usize,
    /// The incremental GC forced at the tick before, and when its floor was noted.
    incremental_floor_at: Option<f64>,
    pace: Pace,
    /// At V8's pace: the forced GC under way, its floor's second and reason.
    under_way: Option<(f64, Reason)>,
    /// Floors taken, each with its reason.
    pub(super) floors: Vec<(f64, Reason)>,
}

impl QuietService {
    /// A service whose heap runs into `limit` bytes.
    pub(super) fn new(limit: f64) -> Self {
        Self::at_pace(limit, Pace::Atomic)
    }

    /// A service whose heap runs into `limit` bytes, its forced GCs at `pace`.
    pub(super) fn at_pace(limit: f64, pace: Pace) -> Self {
        let config = DetectorConfig::watch_defaults();
        let run = floors_to_judge(
            config.min_points as usize,
            config.min_duration_ms,
            INTERVAL_S * 1000.0,
        ) + SPARE_FLOORS;
        let max_credit = run as f64 * REFILL_INTERVALS;
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        series.set_own_limit(Some(limit));
        QuietService {
            config,
            series,
            credit: max_credit,
            max_credit,
            last_full_gc_at: 0.0,
            last_floor_at: f64::NEG_INFINITY,
            taken: 0,
            incremental_floor_at: None,
            pace,
            under_way: None,
            floors: Vec::new(),
        }
    }

    /// Runs a tick every interval, the first one interval in, up to `seconds`; `floor(rng, t, reason)` is the heap
    /// after a full GC at second `t`. Returns the first leak reported, with its second.
    pub(super) fn run(
        &mut self,
        seconds: f64,
        rng: &mut Rng,
        mut floor: impl FnMut(&mut Rng, f64, Reason) -> f64,
    ) -> Option<(f64, Leak)> {
        let mut t = INTERVAL_S;
        while t <= seconds {
            if let Some((at, reason)) = self.tick(t, rng) {
                let bytes = floor(rng, at, reason);
                let load = Load::cpu((0.3 + rng.noise(0.02)).clamp(0.0, 1.0));
                self.series
                    .push_with_load(&self.config, at * 1000.0, bytes, load);
                self.floors.push((at, reason));
                if let Some(leak) = self.series.evaluate(&self.config) {
                    return Some((t, leak));
                }
            }
            t += INTERVAL_S;
        }
        None
    }

    /// One interval's tick at second `t`: a full GC forced if one is due, then the
    /// interval's floor, if any: when it was taken, and why.
    fn tick(&mut self, t: f64, rng: &mut Rng) -> Option<(f64, Reason)> {
        self.credit = (self.credit + 1.0).min(self.max_credit);
        if self.pace == Pace::V8 {
            return self.tick_at_v8_pace(t, rng);
        }
        if let Some(at) = self.incremental_floor_at.take() {
            // Noted in the interval before: this interval already has its floor.
            self.last_floor_at = at;
            self.taken += 1;
            return Some((at, Reason::Quiet));
        }
        let reason = if self.spend_on_suspicion(t) {
            Reason::SuspectedGrowth
        } else if self.taken < FIRST_FLOORS {
            Reason::FirstFloors
        } else if t - self.last_full_gc_at >= FORCE_GC_AFTER_S {
            let marked_for = rng.unit() * INCREMENTAL_UP_TO_S;
            self.last_full_gc_at = t + marked_for;
            self.incremental_floor_at = Some(t + marked_for);
            return None;
        } else {
            return None;
        };
        self.last_full_gc_at = t + ATOMIC_SEEN_AFTER_S;
        self.last_floor_at = t;
        self.taken += 1;
        Some((t, reason))
    }
}

impl QuietService {
    /// Whether suspicion wants a floor by `t` and the credit pays for it (spent if so), as
    /// forced-gc.js' `suspected-growth` rule decides.
    fn spend_on_suspicion(&mut self, t: f64) -> bool {
        let spacing_s = self
            .series
            .suspicion(&self.config)
            .map_or(0.0, |s| s.floor_spacing_ms / 1000.0);
        let suspected = self.credit >= REFILL_INTERVALS
            && spacing_s > 0.0
            && t - self.last_floor_at >= spacing_s - FLOOR_SLACK_INTERVALS * INTERVAL_S;
        if suspected {
            self.credit -= REFILL_INTERVALS;
        }
        suspected
    }

    /// [`QuietService::tick`] at V8's pace: the GC under way, if its floor was noted before
    /// `t`, is done, and its floor is taken now, after the tick has asked for the next GC if
    /// one is due (forced-gc.js ticks before the interval's floor is taken, so the
    /// detector's wish and the floors' count are those of the floor before).
    fn tick_at_v8_pace(&mut self, t: f64, rng: &mut Rng) -> Option<(f64, Reason)> {
        let noted = match self.under_way {
            Some((at, reason)) if at <= t => {
                self.under_way = None;
                Some((at, reason))
            }
            Some(_) => return None,
            None => None,
        };
        let reason = if self.spend_on_suspicion(t) {
            Some(Reason::SuspectedGrowth)
        } else if self.taken < FIRST_FLOORS {
            Some(Reason::FirstFloors)
        } else if noted.is_none() && t - self.last_floor_at >= V8_PACE_QUIET_AFTER_S {
            Some(Reason::Quiet)
        } else {
            None
        };
        if let Some(reason) = reason {
            let at = t + V8_PACE_AFTER_S + rng.unit() * V8_PACE_SPREAD_S;
            self.under_way = Some((at, reason));
        }
        let (at, reason) = noted?;
        self.last_floor_at = at;
        self.taken += 1;
        Some((at, reason))
    }
}

/// Median and largest of `times`, or `None` where any is missing.
pub(super) fn median_and_worst(times: &[Option<f64>]) -> (f64, f64, usize) {
    let mut known: Vec<f64> = times.iter().flatten().copied().collect();
    known.sort_by(f64::total_cmp);
    let missing = times.len() - known.len();
    let median = known.get(known.len() / 2).copied().unwrap_or(f64::NAN);
    let worst = if missing > 0 {
        f64::INFINITY
    } else {
        known.last().copied().unwrap_or(f64::NAN)
    };
    (median, worst, missing)
}
