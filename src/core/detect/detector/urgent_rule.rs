//! The urgent test: a leak that would reach its limit within [`URGENT_HORIZON_MS`] judged on
//! fewer, larger steps than the full test needs, so that it is reported while there is time
//! to act.
//!
//! [`URGENT_HORIZON_MS`]: super::URGENT_HORIZON_MS

use super::full_rule::assess_points;
use super::types::{Assessment, DetectorConfig, Limits};

/// Floors, each above the one before, an urgent leak needs: four steps up in a row.
pub(super) const URGENT_MIN_FLOORS: usize = 5;
/// Share of the minimum duration the urgent floors must span (30 s at defaults: with floors
/// every 10 s, five floors span 40 s).
pub(super) const URGENT_SPAN_SHARE: f64 = 0.5;
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
///
/// [`step_spread`]: crate::core::detect::trend::step_spread
pub(super) const NOISE_CONTEXT_FLOORS: usize = 16;
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

/// The newest floors and their assessment, when they show a leak that will reach its nearest
/// limit within [`URGENT_HORIZON_MS`], on fewer and larger steps than the full test needs:
/// the longest run of newest floors, each above the one before, that passes
/// [`passes_urgent`].
///
/// [`URGENT_HORIZON_MS`]: super::URGENT_HORIZON_MS
pub(super) fn urgent_window<'a>(
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
///
/// [`step_spread`]: crate::core::detect::trend::step_spread
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
