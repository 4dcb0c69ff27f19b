//! The verdict of a leak test (`leakproof/test`): floors taken after a full GC at the end of
//! each round of calls to the function under test, against the calls made so far. The same
//! statistics as the monitor's detector (Theil–Sen slope, Mann–Kendall confidence, growth
//! against the floors' spread), per call instead of per second, and one more test: growth
//! that stops (a bounded cache filling, code compiled once) is not a leak.

use crate::core::detect::detector::NOISE_MARGIN;
use crate::core::detect::trend::{mann_kendall, residual_spread, theil_sen_slope};

/// How steep the newest half of the rounds must still be, relative to all of them: a
/// function that stopped retaining (its cache is full) has a flat newest half.
const RECENT_SHARE: f64 = 0.5;

/// Rounds the judge needs at least: the newest half must hold three.
pub const MIN_ROUNDS: usize = 6;

/// What a leak test's rounds show for one kind of memory (heap or external).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct RoundsVerdict {
    /// Bytes retained per call (Theil–Sen slope of the floors).
    pub bytes_per_call: f64,
    /// The same over the newest half of the rounds.
    pub recent_bytes_per_call: f64,
    /// 1 − p of the one-sided Mann–Kendall test for an upward trend.
    pub confidence: f64,
    /// The floors' spread around the fitted line (10th to 90th percentile of residuals), in
    /// bytes.
    pub noise_bytes: f64,
    /// Bytes per call times the calls between the first and the last floor.
    pub growth_bytes: f64,
    /// Whether every test of a leak passed.
    pub leaking: bool,
}

/// Judges `floors` (`(calls made so far, bytes after a full GC)`, in order). A leak when:
/// - the Mann–Kendall confidence is at least `min_confidence`;
/// - at least `min_bytes_per_call` are retained per call;
/// - the growth is [`NOISE_MARGIN`] times the floors' spread around the line;
/// - the newest half still grows at [`RECENT_SHARE`] of the whole slope.
///
/// `None` with fewer than [`MIN_ROUNDS`] floors or fewer than two distinct call counts.
pub fn judge_rounds(
    floors: &[(f64, f64)],
    min_bytes_per_call: f64,
    min_confidence: f64,
) -> Option<RoundsVerdict> {
    if floors.len() < MIN_ROUNDS {
        return None;
    }
    let bytes_per_call = theil_sen_slope(floors)?;
    let recent_bytes_per_call = theil_sen_slope(&floors[floors.len() / 2..]).unwrap_or(0.0);
    let values: Vec<f64> = floors.iter().map(|&(_, v)| v).collect();
    let confidence = 1.0 - mann_kendall(&values).p_upward;
    let noise_bytes = residual_spread(floors, bytes_per_call);
    let growth_bytes = bytes_per_call * (floors[floors.len() - 1].0 - floors[0].0);
    let leaking = confidence >= min_confidence
        && bytes_per_call >= min_bytes_per_call
        && growth_bytes >= NOISE_MARGIN * noise_bytes
        && recent_bytes_per_call >= RECENT_SHARE * bytes_per_call;
    Some(RoundsVerdict {
        bytes_per_call,
        recent_bytes_per_call,
        confidence,
        noise_bytes,
        growth_bytes,
        leaking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_rng::Rng;

    const CALLS_PER_ROUND: f64 = 100.0;
    const BASE: f64 = 20e6;

    /// Twelve rounds: `bytes(round)` plus noise of ±`noise` bytes from `seed`.
    fn rounds(seed: u64, noise: f64, bytes: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
        let mut rng = Rng(seed + 1);
        (0..12)
            .map(|r| {
                (
                    (r + 1) as f64 * CALLS_PER_ROUND,
                    BASE + bytes(r) + rng.noise(noise),
                )
            })
            .collect()
    }

    fn judge(floors: &[(f64, f64)]) -> RoundsVerdict {
        judge_rounds(floors, 16.0, 0.99).expect("enough rounds")
    }

    #[test]
    fn a_steady_leak_is_caught_and_its_size_per_call_measured() {
        for seed in 0..20 {
            // 64 B per call, 6.4 KB a round, under ±2 KB of noise.
            let v = judge(&rounds(seed, 2_000.0, |r| {
                r as f64 * 64.0 * CALLS_PER_ROUND
            }));
            assert!(v.leaking, "seed {seed}: {v:?}");
            assert!((v.bytes_per_call - 64.0).abs() < 16.0, "seed {seed}: {v:?}");
        }
    }

    #[test]
    fn noise_alone_is_no_leak() {
        for seed in 0..200 {
            let v = judge(&rounds(seed, 50_000.0, |_| 0.0));
            assert!(!v.leaking, "seed {seed}: {v:?}");
        }
    }

    #[test]
    fn growth_that_stops_is_no_leak() {
        // A bounded cache filling over the first four rounds, then full.
        for seed in 0..50 {
            let v = judge(&rounds(seed, 1_000.0, |r| r.min(4) as f64 * 500_000.0));
            assert!(!v.leaking, "seed {seed}: {v:?}");
        }
    }

    #[test]
    fn one_step_anywhere_is_no_leak() {
        // Something allocated once (lazy initialisation) in any round.
        for step_at in 1..12 {
            for seed in 0..20 {
                let v = judge(&rounds(
                    seed,
                    1_000.0,
                    |r| if r >= step_at { 1e6 } else { 0.0 },
                ));
                assert!(!v.leaking, "step at {step_at}, seed {seed}: {v:?}");
            }
        }
    }

    #[test]
    fn a_leak_below_the_smallest_size_asked_for_is_not_reported() {
        let v = judge(&rounds(1, 10.0, |r| r as f64 * 8.0 * CALLS_PER_ROUND));
        assert!(v.confidence > 0.99 && !v.leaking, "{v:?}");
    }

    #[test]
    fn too_few_rounds_give_no_verdict() {
        let floors = rounds(1, 0.0, |r| r as f64 * 1e6);
        assert_eq!(judge_rounds(&floors[..MIN_ROUNDS - 1], 16.0, 0.99), None);
        assert!(judge_rounds(&floors[..MIN_ROUNDS], 16.0, 0.99).is_some());
        let same_calls: Vec<(f64, f64)> = floors.iter().map(|&(_, v)| (1.0, v)).collect();
        assert_eq!(judge_rounds(&same_calls, 16.0, 0.99), None);
    }
}
