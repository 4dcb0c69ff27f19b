//! The detector's tests on floors a second apart at test values: leaks found with their rate,
//! noise and start-up growth never reported, holds, suspicion; and floors that come much faster
//! or slower than the interval.

use super::full_rule::MIN_RECENT_FLOORS;
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
    let expected_at = 1000.0 * (first.current - 50e6) / 200_000.0 + (1e12 - first.current) / 200.0;
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
fn the_trend_projects_the_nearest_limit_own_or_the_containers() {
    let config = DetectorConfig::test_values();
    let mut series = Series::new(MemoryKind::Heap, 0.0);
    series.set_own_limit(Some(1e9));
    for i in 0..10 {
        series.push(&config, i as f64 * 1000.0, 50e6 + 1e6 * i as f64);
        series.evaluate(&config);
    }
    assert!(series.trend(&config).unwrap().leaking);
    // 59 MB at 9 s, 1 MB/s: the heap's limit 941 s later.
    let at = series.trend(&config).unwrap().limit_at.unwrap();
    assert!((at - (9_000.0 + 941_000.0)).abs() < 1.0, "{at}");
    // 100 MB left before the container's limit comes first.
    series.set_rss_headroom(Some(100e6));
    let at = series.trend(&config).unwrap().limit_at.unwrap();
    assert!((at - (9_000.0 + 100_000.0)).abs() < 1.0, "{at}");
    // Once the growth is over, no projection.
    for i in 10..30 {
        series.push(&config, i as f64 * 1000.0, 59e6);
    }
    assert_eq!(series.trend(&config).unwrap().limit_at, None);
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
    let fast: Vec<f64> = (0..3).map(|i| 50e6 + 400e3 * i as f64).collect();
    let spacing = wanted_spacing_after(&fast).unwrap();
    assert!((spacing - 5000.0 / 7.0).abs() < 1e-6, "{spacing}");
    // Once they have grown by the minimum growth, as often as the step tests take them:
    // half the minimum duration over four steps.
    let grown: Vec<f64> = (0..4).map(|i| 50e6 + 500e3 * i as f64).collect();
    let spacing = wanted_spacing_after(&grown).unwrap();
    assert!((spacing - 2500.0 / 4.0).abs() < 1e-6, "{spacing}");
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
fn reported_every(every_s: f64, seconds: f64, floor: impl Fn(f64) -> f64) -> (Vec<f64>, Series) {
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
        assert!(series.floors.len() <= config.window as usize);
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
    let span = series.floors.back().unwrap().at - series.floors.front().unwrap().at;
    assert!(
        (120_000.0..=125_000.0).contains(&span),
        "window spans {span} ms"
    );
    // Spread over the span: no hole of more than twice the mean spacing.
    let gaps: Vec<f64> = series
        .floors
        .iter()
        .zip(series.floors.iter().skip(1))
        .map(|(a, b)| b.at - a.at)
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
        series.floors.front().unwrap().at,
        (3600.0 - 29.0 * 30.0) * 1000.0
    );
    let (at, _) = reported_every(30.0, 3600.0, |_| 50e6);
    assert!(at.is_empty());
}

#[test]
fn floors_every_interval_at_the_defaults_are_the_newest_window_unthinned() {
    let (_, series) = reported_every(10.0, 1000.0, |_| 50e6);
    let times: Vec<f64> = series.floors.iter().map(|f| f.at / 1000.0).collect();
    let expected: Vec<f64> = (71..=100).map(|i| 10.0 * i as f64).collect();
    assert_eq!(times, expected);
}

#[test]
fn a_window_is_judged_from_min_points_floors_spanning_the_minimum_duration() {
    // At watch()'s defaults, 8 floors 10 s apart span 70 s: min_points decides.
    assert_eq!(floors_to_judge(8, 60_000.0, 10_000.0), 8);
    // 5 s apart, 13 floors span the 60 s; 7 s apart, 10 floors span 63 s (9 only 56 s).
    assert_eq!(floors_to_judge(8, 60_000.0, 5_000.0), 13);
    assert_eq!(floors_to_judge(8, 60_000.0, 7_000.0), 10);
    // Never fewer than the 3 points the statistics need.
    assert_eq!(floors_to_judge(1, 1_000.0, 60_000.0), 3);
    assert_eq!(floors_to_judge(8, 60_000.0, 0.0), usize::MAX);
}

#[test]
fn a_warm_up_longer_than_the_slow_scales_need_is_judged_without_panicking() {
    // 30 minutes of warm-up: the quarter-hour scale has its 16 buckets long before it ends,
    // and when it ends every closed bucket is still in it (no window after the warm-up).
    let config = DetectorConfig {
        warmup_ms: 30.0 * 60_000.0,
        ..DetectorConfig::watch_defaults()
    };
    let mut series = Series::new(MemoryKind::Heap, 0.0);
    let mut first = None;
    for i in 0..=360 {
        let t = 10_000.0 * i as f64;
        series.push(&config, t, 60e6 + 20.0 * t);
        if let Some(leak) = series.evaluate(&config) {
            first.get_or_insert((t, leak));
        }
    }
    let (at, _) = first.expect("the leak is reported after the warm-up");
    assert!(at >= config.warmup_ms, "at {at} ms");
}
