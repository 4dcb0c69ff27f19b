//! The step tests: a leak that would reach its limit soon, judged on fewer, larger steps
//! than the full test needs, so that it is reported while there is time to act. Two of
//! them, by how near the limit is: the urgent test ([`URGENT`]: within
//! [`URGENT_HORIZON_MS`], four minimum growths) and the fast test ([`FAST`]: within
//! [`FAST_HORIZON_MS`], one minimum growth, so that a leak of a few hundred KB a second is
//! reported within a minute of its start).
//!
//! On a big heap ([`big_heap`]) they judge the newest seven floors or more, not a run of
//! rising ones: growth by the heap's own wander ([`own_growth`]) at least, at a pace above
//! its breathing, steady, rising at both ends, and confirmed a floor earlier; growth at a
//! batch's pace must outlast a batch's rise.
//!
//! [`URGENT_HORIZON_MS`]: super::URGENT_HORIZON_MS
//! [`FAST_HORIZON_MS`]: super::FAST_HORIZON_MS

use super::full_rule::{assess_points, big_heap, own_growth, rises_steadily};
use super::types::{
    as_points, Assessment, DetectorConfig, Floor, LeakTest, Limits, FAST_HORIZON_MS,
    URGENT_HORIZON_MS,
};
use crate::core::detect::scales::no_flat_third;
use crate::core::detect::trend::theil_sen_slope;

/// Floors, each above the one before, the urgent test needs: four steps up in a row.
pub(super) const STEP_MIN_FLOORS: usize = 5;
/// Share of the minimum duration the floors of a step test must span (30 s at defaults: with
/// floors every 10 s, five floors span 40 s).
pub(super) const STEP_SPAN_SHARE: f64 = 0.5;
/// Growth over the floors must be this many times their spread around the line, and as many
/// times the spread the newest floors show from one to the next (see
/// [`NOISE_CONTEXT_FLOORS`]); the full test asks for twice the first, over many more floors.
const STEP_NOISE_MARGIN: f64 = 4.0;
/// Newest floors, held ones included, whose steps measure how far floors wander from one to
/// the next ([`step_spread`]) for the step tests. Five floors alone can line up by chance
/// and fit their own line closely, and right after a hold, or at the start, there are no
/// older floors to top: noisy floors (a busy service's incremental GCs keep what was
/// allocated while they marked) judged on those five alone raise urgent leaks (in the
/// model, 3 in 1,800 runs of floors wandering by ±60 MB after a hold: `urgent_tests.rs`).
///
/// [`step_spread`]: crate::core::detect::trend::step_spread
pub(super) const NOISE_CONTEXT_FLOORS: usize = 16;
/// Floors after the warm-up the floors must end with: one whole step taken after it, so that
/// start-up growth that stops with the warm-up does not pass. (The full test asks for three:
/// a floor more, ten seconds at defaults, when a minute counts.)
const STEP_FLOORS_AFTER_WARM_UP: usize = 2;
/// The newest half of the floors must rise at this share of their whole slope: growth that
/// is slowing down (a cache nearing its ceiling) does not pass.
const STEP_RECENT_SHARE: f64 = 0.5;
/// Every step must rise at this share of the whole slope: growth that has just stopped (a
/// cache that is full) and rises by chance do not pass, while a floor that holds some
/// garbage still does.
const STEP_SHARE: f64 = 0.25;

/// Floors a step test judges at least on a big heap ([`big_heap`]), where a floor may sit
/// below the one before (its incremental GC kept more): seven, about two minutes of floors
/// 20 s apart, and the window ending a floor earlier must pass too.
const BIG_HEAP_MIN_FLOORS: usize = 7;
/// Minimum durations a step test's floors may span at most on a big heap: a longer rise is
/// the trend test's, which judges whether it slows down (a cache warming for ten minutes).
const BIG_HEAP_MAX_DURATIONS: f64 = 5.0;
/// Share of its floor a second at which a big heap's own swings rise: batch work takes and
/// gives back a tenth of a heap or more within a couple of minutes (200 MB of a 1 GB heap in
/// 2 minutes is 0.17% a second). A rise this steep is judged once it spans
/// [`SWING_DURATIONS`] minimum durations, longer than such a swing rises.
const SWING_PACE: f64 = 0.001;
const SWING_DURATIONS: f64 = 3.0;
/// Confidence of an upward trend (1 − p of Mann–Kendall) a step test asks for on a big heap.
const BIG_HEAP_CONFIDENCE: f64 = 0.99;

/// On a big heap, the oldest and the newest third of a step test's floors (three at least)
/// must each rise at this share of the whole slope: flat floors before or after a batch's
/// rise do not.
const ENDS_SHARE: f64 = 0.33;

/// Whether the oldest and the newest third of `run` rise (see [`ENDS_SHARE`]).
fn ends_rise(run: &[Floor], a: &Assessment) -> bool {
    let end = (run.len() / 3).max(3);
    [&run[..end], &run[run.len() - end..]]
        .into_iter()
        .all(|part| {
            theil_sen_slope(&as_points(part))
                .is_some_and(|per_ms| per_ms * 1000.0 >= ENDS_SHARE * a.slope_bytes_per_sec)
        })
}

/// One step test: how much growth it asks for, toward a limit how near.
#[derive(Debug, Clone, Copy)]
pub(super) struct StepTest {
    /// Which test it is, as a leak it shows says.
    pub(super) test: LeakTest,
    /// Floors, each above the one before, it needs at least.
    min_floors: usize,
    /// Growth over the floors, in minimum growths.
    growth_multiple: f64,
    /// The nearest limit must be this close at the floors' rate, in milliseconds.
    horizon_ms: f64,
}

/// The urgent test: four minimum growths (32 MiB at defaults, four times what the full test
/// asks of a window twice as long), the limit within [`URGENT_HORIZON_MS`].
pub(super) const URGENT: StepTest = StepTest {
    test: LeakTest::Urgent,
    min_floors: STEP_MIN_FLOORS,
    growth_multiple: 4.0,
    horizon_ms: URGENT_HORIZON_MS,
};

/// The fast test: one minimum growth, the limit within [`FAST_HORIZON_MS`], and a step more
/// than the urgent test, since the growth asked is a quarter: a cache that halves its pace
/// every floor passes four steps of 30 MB, not five. A leak of 0.2 MB/s grows 8 MiB in 42 s,
/// so floors every 10 s from its start show it at the sixth either way.
pub(super) const FAST: StepTest = StepTest {
    test: LeakTest::Fast,
    min_floors: STEP_MIN_FLOORS + 1,
    growth_multiple: 1.0,
    horizon_ms: FAST_HORIZON_MS,
};

impl StepTest {
    /// The newest floors and their assessment, when they pass this test: the longest run of
    /// newest floors, each above the one before, that passes [`StepTest::passes`].
    pub(super) fn window<'a>(
        &self,
        floors: &'a [Floor],
        warm_at: f64,
        wander: f64,
        own_wander: f64,
        config: &DetectorConfig,
        limits: &Limits,
    ) -> Option<(&'a [Floor], Assessment)> {
        // A heap that grew into a big one within the floors judged is judged as it was.
        let judged = &floors[floors.len().saturating_sub(BIG_HEAP_MIN_FLOORS + 1)..];
        if big_heap(judged.iter().map(|f| f.bytes).fold(f64::INFINITY, f64::min)) {
            return self.big_heap_window(floors, warm_at, own_wander, config, limits);
        }
        let mut rising_from = floors.len().checked_sub(1)?;
        while rising_from > 0 && floors[rising_from - 1].bytes < floors[rising_from].bytes {
            rising_from -= 1;
        }
        // Its oldest steps may be too small (the floor just before a leak started, or noise
        // before a steep rise): the run is judged without them too.
        let last_start = floors.len().checked_sub(self.min_floors)?;
        (rising_from..=last_start).find_map(|start| {
            let a = self.passes(floors, start, warm_at, wander, config, limits)?;
            Some((&floors[start..], a))
        })
    }

    /// [`StepTest::window`] on a big heap, whose floors wander by more than the minimum
    /// growth on their own (see [`own_growth`]): the newest floors from some start, at least
    /// [`BIG_HEAP_MIN_FLOORS`] of them, pass [`StepTest::passes_on_big_heap`], and so do
    /// those from the same start that end a floor earlier.
    fn big_heap_window<'a>(
        &self,
        floors: &'a [Floor],
        warm_at: f64,
        wander: f64,
        config: &DetectorConfig,
        limits: &Limits,
    ) -> Option<(&'a [Floor], Assessment)> {
        let last_start = floors.len().checked_sub(BIG_HEAP_MIN_FLOORS + 1)?;
        (0..=last_start).find_map(|start| {
            let run = &floors[start..];
            if run[run.len() - STEP_FLOORS_AFTER_WARM_UP].at < warm_at {
                return None;
            }
            let a = self.passes_on_big_heap(floors, start, floors.len(), wander, config, limits)?;
            self.passes_on_big_heap(floors, start, floors.len() - 1, wander, config, limits)?;
            Some((run, a))
        })
    }

    /// The assessment of `floors[start..end]` on a big heap, when it passes: it rises by
    /// this test's multiple of the heap's own growth (or of the minimum growth, if larger) in
    /// all, and [`STEP_NOISE_MARGIN`] times the floors' spread around the line, above every
    /// older floor by as much; no floor falls below the one before by more than the heap's own
    /// growth; no third of it is flat; its newest half rises at [`STEP_RECENT_SHARE`] of its
    /// slope; Mann–Kendall is sure of it at [`BIG_HEAP_CONFIDENCE`]; and at that slope the
    /// nearest limit is within this test's horizon.
    fn passes_on_big_heap(
        &self,
        floors: &[Floor],
        start: usize,
        end: usize,
        wander: f64,
        config: &DetectorConfig,
        limits: &Limits,
    ) -> Option<Assessment> {
        let run = &floors[start..end];
        if run.len() < BIG_HEAP_MIN_FLOORS {
            return None;
        }
        let current = run[run.len() - 1].bytes;
        let own = own_growth(run[0].bytes, wander);
        let older_peak = floors[..start]
            .iter()
            .map(|f| f.bytes)
            .fold(f64::NEG_INFINITY, f64::max);
        let growth_asked = self.growth_multiple * config.min_growth_bytes.max(own);
        if current < older_peak + growth_asked {
            return None;
        }
        let highest = run
            .iter()
            .map(|f| f.bytes)
            .fold(f64::NEG_INFINITY, f64::max);
        let no_dip = run
            .windows(2)
            .all(|pair| pair[1].bytes >= pair[0].bytes - own)
            && current >= highest - own
            && run[run.len() - 1].at - run[0].at <= BIG_HEAP_MAX_DURATIONS * config.min_duration_ms;
        if !no_dip || !no_flat_third(&as_points(run)) {
            return None;
        }
        let a = assess_points(run, f64::NEG_INFINITY)?;
        let growth = a.slope_bytes_per_sec * a.span_ms / 1000.0;
        // The heap's own wander within a minimum duration, as a rate: its breathing.
        let own_rate = own / config.min_duration_ms * 1000.0;
        // Growth at a batch's pace must outlast a batch's rise.
        let span_asked = if a.slope_bytes_per_sec >= SWING_PACE * run[0].bytes {
            SWING_DURATIONS * config.min_duration_ms
        } else {
            STEP_SPAN_SHARE * config.min_duration_ms
        };
        let passed = a.span_ms >= span_asked
            && a.slope_bytes_per_sec >= config.min_rate_bytes_per_sec.max(own_rate)
            && growth >= growth_asked
            && rises_steadily(run, &a)
            && ends_rise(run, &a)
            && growth >= STEP_NOISE_MARGIN * a.noise_bytes
            && a.confidence >= BIG_HEAP_CONFIDENCE
            && a.recent_slope_bytes_per_sec >= STEP_RECENT_SHARE * a.slope_bytes_per_sec
            && limits.within(current, a.slope_bytes_per_sec / 1000.0, self.horizon_ms);
        passed.then_some(a)
    }

    /// The assessment of the rising floors of `floors` from `start`, when they pass: at
    /// least this test's minimum of floors spanning [`STEP_SPAN_SHARE`] of the minimum
    /// duration, rising this test's minimum growths in all and [`STEP_NOISE_MARGIN`] times
    /// their spread around the line and `wander` (how far the newest floors wander from one
    /// to the next, [`step_spread`]), the newest above every older floor kept by as much,
    /// every step at [`STEP_SHARE`] of the slope, the newest half at [`STEP_RECENT_SHARE`]
    /// of it, the newest [`STEP_FLOORS_AFTER_WARM_UP`] floors after the warm-up; and at that
    /// slope, the nearest limit within this test's horizon.
    ///
    /// Why it raises no false alarms: noise must climb four real steps in a row adding up to
    /// the growth asked, four times its own spread and four times how far the floors wander
    /// from one to the next (which five floors that line up by chance understate, and which
    /// needs no older floors to be known), and above every level the floors wandered to
    /// before; a single jump leaves flat floors after it (small steps) or a line that fits it
    /// badly (spread); a sawtooth or bump falls back before a new run and does not top its
    /// older peaks; growth that stops or slows fails the steps or the newest half; start-up
    /// growth fails the warm-up; and only growth that would reach a limit soon is judged at
    /// all.
    ///
    /// [`step_spread`]: crate::core::detect::trend::step_spread
    fn passes(
        &self,
        floors: &[Floor],
        start: usize,
        warm_at: f64,
        wander: f64,
        config: &DetectorConfig,
        limits: &Limits,
    ) -> Option<Assessment> {
        let run = &floors[start..];
        let current = run.last()?.bytes;
        let older_peak = floors[..start]
            .iter()
            .map(|f| f.bytes)
            .fold(f64::NEG_INFINITY, f64::max);
        let growth_asked = self.growth_multiple * config.min_growth_bytes;
        let warm_from = run[run.len().checked_sub(STEP_FLOORS_AFTER_WARM_UP)?].at;
        if current < older_peak + growth_asked || warm_from < warm_at {
            return None;
        }
        let a = assess_points(run, f64::NEG_INFINITY)?;
        let growth = a.slope_bytes_per_sec * a.span_ms / 1000.0;
        let least_step_per_ms = run
            .windows(2)
            .map(|pair| (pair[1].bytes - pair[0].bytes) / (pair[1].at - pair[0].at))
            .fold(f64::INFINITY, f64::min);
        let passed = a.span_ms >= STEP_SPAN_SHARE * config.min_duration_ms
            && a.slope_bytes_per_sec >= config.min_rate_bytes_per_sec
            && growth >= growth_asked
            && growth >= STEP_NOISE_MARGIN * a.noise_bytes.max(wander)
            && least_step_per_ms * 1000.0 >= STEP_SHARE * a.slope_bytes_per_sec
            && a.recent_slope_bytes_per_sec >= STEP_RECENT_SHARE * a.slope_bytes_per_sec
            && limits.within(current, a.slope_bytes_per_sec / 1000.0, self.horizon_ms);
        passed.then_some(a)
    }
}
