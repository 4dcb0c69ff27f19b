//! The full test of a leak: a window of floors rises significantly, fast, far beyond its
//! noise, for long enough, still now and steadily, in three windows in a row (see the
//! [detector's doc](super)).

use super::types::{as_points, Assessment, DetectorConfig, Floor};
use crate::core::detect::scales::{no_flat_third, not_slowing, rose_by};
use crate::core::detect::trend::{mann_kendall, residual_spread, step_spread, theil_sen_slope};

/// How steep the newest half must still be, relative to the whole window.
const RECENT_SHARE: f64 = 0.3;
/// Floors after the warm-up the newest half must hold to show that growth goes on.
pub(super) const MIN_RECENT_FLOORS: usize = 3;
/// Growth over the window must be this many times the floors' spread around the line
/// (with 1, uniform noise alone raised ~5 alarms per 100,000 evaluations; with 2, none in
/// 180,000).
pub(crate) const NOISE_MARGIN: f64 = 2.0;
/// Windows that must all show the leak: the current one and the ones ending one and two
/// floors earlier. A window slid one floor at a time tests the same noise over and over,
/// and a chance alignment rarely survives three slides.
const CONFIRMATIONS: usize = 3;

/// Floors from this size on are a big heap's (768 MiB): the watcher's forced GCs of it are
/// incremental at V8's pace (an atomic one would stop the service over 250 ms), each floor
/// keeps what was allocated while it marked, and the heap breathes by tens of MB with its
/// work. Its growth is asked for relative to that ([`own_growth`]).
const BIG_HEAP_BYTES: f64 = 768.0 * 1024.0 * 1024.0;

/// Share of a big heap's floor it is taken to wander by at least, however calm its floors
/// look: an incremental GC's floor keeps what was allocated while it marked (0 to 1.5% of a
/// 1.4 GB heap, measured), which may not show in the few floors measured.
const MIN_OWN_SHARE: f64 = 0.01;

/// Whether floors of `floor` bytes are a big heap's (see [`BIG_HEAP_BYTES`]).
pub(super) fn big_heap(floor: f64) -> bool {
    floor >= BIG_HEAP_BYTES
}

/// How far a big heap of `floor` bytes wanders on its own: `measured` ([`measured_wander`]
/// of its newest floors), and [`MIN_OWN_SHARE`] of its floor at least. A calm heap (floors
/// 1-3 MB beside their line on a 1 GB heap, as measured under load) is judged on its calm, a
/// breathing one on its breathing.
pub(super) fn own_growth(floor: f64, measured: f64) -> f64 {
    (MIN_OWN_SHARE * floor).max(measured)
}

/// How far `floors` (the newest [`NOISE_CONTEXT_FLOORS`], held ones included) wander either
/// side of their line: half the larger of their spread around their Theil–Sen line (a
/// breathing over minutes) and of their spread from one floor to the next ([`step_spread`],
/// which a trend that bends, as at a leak's start, does not widen). Both spreads are the
/// 10th–90th percentile distance, so half is the amplitude: ±20 MB of breathing and a floor
/// 0-15 MB above the live size give about 20 MB, 2% of a 1 GB heap.
///
/// [`step_spread`]: crate::core::detect::trend::step_spread
/// [`NOISE_CONTEXT_FLOORS`]: super::step_rule::NOISE_CONTEXT_FLOORS
pub(super) fn measured_wander(floors: &[Floor]) -> f64 {
    let points = as_points(floors);
    let around_line = theil_sen_slope(&points).map_or(0.0, |s| residual_spread(&points, s));
    0.5 * around_line.max(step_spread(&points))
}

/// On a big heap, the floors' line (their Theil–Sen slope over their span) and how far they
/// rose from the oldest to the newest must each be at least this share of the other: a leak
/// rises steadily, while a rise that came mostly at once (a batch's, a catalog's) and then
/// the heap's breathing or flat floors make the line miss the rise, one way or the other.
pub(super) const STEADY_SHARE: f64 = 0.75;

/// Whether `window`, assessed as `a`, rises steadily (see [`STEADY_SHARE`]).
pub(super) fn rises_steadily(window: &[Floor], a: &Assessment) -> bool {
    let line = a.slope_bytes_per_sec * a.span_ms / 1000.0;
    let risen = window[window.len() - 1].bytes - window[0].bytes;
    line >= STEADY_SHARE * risen && risen >= STEADY_SHARE * line
}

/// Whether no part of `window`, assessed as `a`, spanning a quarter of it or less, rose by
/// more than the line says by `wander` or more: a leak's rise is spread over the window,
/// while a batch's or a catalog's comes within minutes, however long the window around it.
pub(super) fn no_jump(window: &[Floor], a: &Assessment, wander: f64) -> bool {
    let per_ms = a.slope_bytes_per_sec / 1000.0;
    let quarter_ms = a.span_ms / 4.0;
    window.iter().enumerate().all(|(i, older)| {
        window[i + 1..]
            .iter()
            .take_while(|newer| newer.at - older.at <= quarter_ms)
            .all(|newer| newer.bytes - older.bytes - per_ms * (newer.at - older.at) < wander)
    })
}

/// Confidence of an upward trend a big heap's window needs at most: its floors wander too
/// far for the confidence a small heap's are asked for, and the growth asked
/// ([`TREND_OWN_MULTIPLE`]) and the slow rules, over five minimum durations at least, rule
/// their wander out.
pub(super) const BIG_HEAP_CONFIDENCE: f64 = 0.99;

/// Times [`own_growth`] a big heap's window must grow by: its breathing rises by that much
/// and more within minutes (±20 MB of a 1 GB heap, and what incremental GCs keep).
const TREND_OWN_MULTIPLE: f64 = 3.0;

/// Minimum durations beyond which a window of every floor is judged by the slow scales'
/// rules too: floors that come once a minute (a quiet service's forced GCs) stretch its 30
/// floors over half an hour, where a cache filling or a step looks as it does on the slow
/// scales.
const SLOW_WINDOW_DURATIONS: f64 = 5.0;

/// How many floors, taken every `interval_ms`, a window needs before the full test can judge
/// it: the `min_points` of [`assess_window`] (3 at least), and one more than the intervals in
/// `min_duration_ms`, the span [`passes`] wants. The JS side sizes its run of GCs forced on
/// suspicion by it (`floorsToJudge` of the binding, read by lib/detect/forced-gc.js).
pub fn floors_to_judge(min_points: usize, min_duration_ms: f64, interval_ms: f64) -> usize {
    let spanning = ((min_duration_ms / interval_ms).ceil() as usize).saturating_add(1);
    min_points.max(3).max(spanning)
}

/// Whether a window of every floor spans so long that the slow scales' rules apply to it
/// (see [`SLOW_WINDOW_DURATIONS`]).
pub(super) fn judged_as_slow(window: &[Floor], config: &DetectorConfig) -> bool {
    window[window.len() - 1].at - window[0].at > SLOW_WINDOW_DURATIONS * config.min_duration_ms
}

/// The slow scales' rules on the rise itself: it does not slow down and truly grew by the
/// minimum growth (see [`not_slowing`] and [`rose_by`]).
pub(super) fn slow_rules_hold(window: &[Floor], config: &DetectorConfig) -> bool {
    let points = as_points(window);
    not_slowing(&points) && rose_by(&points, config.min_growth_bytes)
}

/// [`slow_rules_hold`] on a window of every floor: whether it slows down is judged on its
/// floors' lower envelope (each floor no higher than its neighbours), as a slow scale's
/// buckets judge their lowest floors. A floor's noise is upward only (what a GC kept), and
/// one burst in the middle of a window of sparse floors bent the fitted parabola down: it
/// held back a quiet service's slow leak for as long as it stayed in the window.
pub(super) fn slow_rules_hold_on_floors(
    window: &[Floor],
    config: &DetectorConfig,
    wander: f64,
) -> bool {
    let points = as_points(window);
    let envelope: Vec<(f64, f64)> = (0..points.len())
        .map(|i| {
            let around = &points[i.saturating_sub(1)..(i + 2).min(points.len())];
            let lowest = around.iter().map(|&(_, v)| v).fold(f64::INFINITY, f64::min);
            (points[i].0, lowest)
        })
        .collect();
    not_slowing(&envelope) && rose_by(&points, growth_asked(config, points[0].1, wander))
}

/// The statistics of `floors`; the newest half's slope counts only floors from
/// `recent_from` on, and is 0 when fewer than [`MIN_RECENT_FLOORS`] are.
pub(super) fn assess_window(
    floors: &[Floor],
    recent_from: f64,
    config: &DetectorConfig,
) -> Option<Assessment> {
    if floors.len() < config.min_points.max(3) as usize {
        return None;
    }
    assess_points(floors, recent_from)
}

/// The statistics of `floors`, however few (see [`assess_window`]).
pub(super) fn assess_points(floors: &[Floor], recent_from: f64) -> Option<Assessment> {
    let points = as_points(floors);
    let slope_per_ms = theil_sen_slope(&points)?;
    let newest_half = floors.len() / 2;
    let recent_start = newest_half + floors[newest_half..].partition_point(|f| f.at < recent_from);
    let recent = &points[recent_start..];
    let recent_per_ms = if recent.len() >= MIN_RECENT_FLOORS {
        theil_sen_slope(recent).unwrap_or(0.0)
    } else {
        0.0
    };
    let values: Vec<f64> = floors.iter().map(|f| f.bytes).collect();
    let mk = mann_kendall(&values);
    let noise_bytes = residual_spread(&points, slope_per_ms);
    Some(Assessment {
        slope_bytes_per_sec: slope_per_ms * 1000.0,
        recent_slope_bytes_per_sec: recent_per_ms * 1000.0,
        confidence: 1.0 - mk.p_upward,
        span_ms: floors[floors.len() - 1].at - floors[0].at,
        noise_bytes,
    })
}

/// The growth a window whose oldest floor is `oldest` bytes must show: the minimum growth,
/// and on a big heap at least [`TREND_OWN_MULTIPLE`] times how far it wanders on its own
/// ([`own_growth`], `wander` measured).
pub(super) fn growth_asked(config: &DetectorConfig, oldest: f64, wander: f64) -> f64 {
    if big_heap(oldest) {
        config
            .min_growth_bytes
            .max(TREND_OWN_MULTIPLE * own_growth(oldest, wander))
    } else {
        config.min_growth_bytes
    }
}

/// Whether an assessed window passes every test of a leak (see the module's doc), asked to
/// grow by `growth_asked`; on a `big` heap, at [`BIG_HEAP_CONFIDENCE`] at most, and with the
/// growth asked in place of the noise margin.
fn passes(a: &Assessment, config: &DetectorConfig, growth_asked: f64, big: bool) -> bool {
    let growth = a.slope_bytes_per_sec * a.span_ms / 1000.0;
    let confidence = if big {
        config.confidence.min(BIG_HEAP_CONFIDENCE)
    } else {
        config.confidence
    };
    a.confidence >= confidence
        && a.span_ms >= config.min_duration_ms
        && a.slope_bytes_per_sec >= config.min_rate_bytes_per_sec
        && growth >= growth_asked
        && (big || growth >= NOISE_MARGIN * a.noise_bytes)
        && a.recent_slope_bytes_per_sec >= RECENT_SHARE * a.slope_bytes_per_sec
}

/// Where the windows judged start, oldest first: every floor kept (warm-up ones
/// included: a leak running from the start), the floors after the warm-up (start-up growth
/// steep enough to hide a slower leak after it), and the newest half (a leak that began in
/// the middle of the window, whose slope the older flat floors would flatten). None that
/// would leave a window empty: while every floor is in the warm-up, `after_warm_up` is `len`.
pub(super) fn candidate_starts(len: usize, after_warm_up: usize) -> Vec<usize> {
    let mut starts = vec![0, after_warm_up, len / 2];
    starts.retain(|&start| start < len);
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// On a big heap, where the full test judges windows spanning [`SLOW_WINDOW_DURATIONS`]
/// minimum durations at least, the newest start of such a window: a leak that began within
/// the floors kept is judged on its own floors as soon as they span that long, not only once
/// the newest half of the floors (whose oldest may be far older, taken a minute apart before
/// suspicion ran) holds nothing else. `None` on a smaller heap, or before the floors span so
/// long.
pub(super) fn big_heap_start(floors: &[Floor], config: &DetectorConfig) -> Option<usize> {
    let newest = floors.last()?;
    if !big_heap(newest.bytes) {
        return None;
    }
    let spanning = SLOW_WINDOW_DURATIONS * config.min_duration_ms;
    floors.iter().rposition(|f| newest.at - f.at > spanning)
}

/// The window of `floors` from `start` and its assessment, when it shows a leak: its
/// newest floor is above every older floor by the minimum growth (a level the floors wander
/// to and back from is not new), it passes, with its newest half rising after `warm_at`,
/// no third of it is flat beside the others (a step: see [`no_flat_third`]), and so do the
/// windows of the same length ending one and two floors earlier (shorter when they would start before the
/// oldest floor). Those are judged as they were, warm-up floors included: they confirm the
/// statistics, not that the growth goes on.
pub(super) fn shows_leak<'a>(
    floors: &'a [Floor],
    start: usize,
    warm_at: f64,
    wander: f64,
    config: &DetectorConfig,
) -> Option<(&'a [Floor], Assessment)> {
    let window = &floors[start..];
    let older_peak = floors[..start]
        .iter()
        .map(|f| f.bytes)
        .fold(f64::NEG_INFINITY, f64::max);
    let asked = growth_asked(config, window[0].bytes, wander);
    let big = big_heap(window[0].bytes);
    if window[window.len() - 1].bytes < older_peak + asked {
        return None;
    }
    if !no_flat_third(&as_points(window)) {
        return None;
    }
    let a = assess_window(window, warm_at, config).filter(|a| passes(a, config, asked, big))?;
    if big && !(rises_steadily(window, &a) && no_jump(window, &a, asked)) {
        return None;
    }
    let len = window.len();
    let confirmed = (1..CONFIRMATIONS).all(|back| {
        let end = floors.len().saturating_sub(back);
        let earlier = &floors[end.saturating_sub(len)..end];
        assess_window(earlier, f64::NEG_INFINITY, config)
            .is_some_and(|a| passes(&a, config, asked, big))
    });
    confirmed.then_some((window, a))
}
