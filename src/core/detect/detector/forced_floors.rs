//! A model of when the watcher takes floors in a service where V8 runs no full GC of its own
//! (lib/detect/forced-gc.js and floors.js): the first two floors forced at once, an
//! incremental GC once none has run for `forceGcAfterMs` (its floor noted a little later and
//! taken at the next interval), and an atomic one whenever the detector's suspicion wants a
//! floor by now, paid for with suspicion credit. The forced GCs' time budget is left out:
//! the floors here come from GCs that take a small share of each interval.

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
    /// Floors taken, each with its reason.
    pub(super) floors: Vec<(f64, Reason)>,
}

impl QuietService {
    /// A service whose heap runs into `limit` bytes.
    pub(super) fn new(limit: f64) -> Self {
        let config = DetectorConfig::watch_defaults();
        let run = floors_to_judge(
            config.min_points,
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
        if let Some(at) = self.incremental_floor_at.take() {
            // Noted in the interval before: this interval already has its floor.
            self.last_floor_at = at;
            self.taken += 1;
            return Some((at, Reason::Quiet));
        }
        let spacing_s = self
            .series
            .suspicion(&self.config)
            .map_or(0.0, |s| s.floor_spacing_ms / 1000.0);
        let suspected = self.credit >= REFILL_INTERVALS
            && spacing_s > 0.0
            && t - self.last_floor_at >= spacing_s - FLOOR_SLACK_INTERVALS * INTERVAL_S;
        let reason = if suspected {
            self.credit -= REFILL_INTERVALS;
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
