//! The urgent test at `watch()`'s defaults: fast leaks toward a near limit reported within a
//! minute, and noise, sawtooths, caches, steps and start-up growth never urgent.

use super::step_rule::{NOISE_CONTEXT_FLOORS, URGENT};
use super::types::{as_points, Floor};
use super::*;
use crate::core::detect::trend::step_spread;
use crate::core::test_rng::Rng;

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
fn urgent_test_passes_at(limit: f64, floor_bytes: &[f64]) -> Vec<f64> {
    let config = DetectorConfig::watch_defaults();
    let limits = Limits {
        own: Some(limit),
        rss_headroom: None,
    };
    let floors: Vec<Floor> = floor_bytes
        .iter()
        .enumerate()
        .map(|(i, &bytes)| Floor {
            at: FLOOR_EVERY_S * 1000.0 * i as f64,
            bytes,
        })
        .collect();
    (1..=floors.len())
        .filter(|&n| {
            let window = &floors[n.saturating_sub(config.window as usize)..n];
            let context = &floors[n.saturating_sub(NOISE_CONTEXT_FLOORS)..n];
            let wander = step_spread(&as_points(context));
            URGENT
                .window(window, config.warmup_ms, wander, wander, &config, &limits)
                .is_some()
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
            let expected_at = 1000.0 * (at + (limit - first.current) / first.slope_bytes_per_sec);
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
    // 2 MB/s: half an hour to the heap limit (the fast test's), five minutes to a
    // container 600 MB away (the urgent test's).
    let far = reported(None).unwrap();
    assert_eq!((far.urgent, far.test), (false, LeakTest::Fast));
    let near = reported(Some(600e6)).unwrap();
    assert_eq!((near.urgent, near.test), (true, LeakTest::Urgent));
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
fn a_fast_leak_is_suspected_urgently_at_its_onset_but_a_big_heap_step_is_not() {
    let config = DetectorConfig::watch_defaults();
    let suspicion_of = |floors: &[(f64, f64)]| {
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        series.set_own_limit(Some(4.0 * GIB));
        for &(at_s, bytes) in floors {
            series.push(&config, at_s * 1000.0, bytes);
        }
        series.suspicion(&config).unwrap()
    };
    // Measured at a 6 MB/s leak's start: the median slope of the newest three is 3.4 MB/s,
    // twenty minutes from 4 GiB; the newest step, 8.2 MB/s, eight.
    let onset = [(0.0, 12e6), (30.0, 12e6), (60.0, 17e6), (80.0, 181e6)];
    assert!(suspicion_of(&onset).urgent);
    // The same step from a 900 MB floor may be a batch's: it waits for the newest three.
    let big = onset.map(|(at, bytes)| (at, bytes + 900e6));
    assert!(!suspicion_of(&big).urgent);
    // A step below the minimum growth tells nothing alone.
    assert!(!suspicion_of(&[(0.0, 12e6), (30.0, 12e6), (60.0, 13e6), (61.0, 20e6)]).urgent);
}
