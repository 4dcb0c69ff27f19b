//! The fast test at `watch()`'s defaults: leaks of 0.2–2 MB/s that start with a service's
//! first request are reported within a minute of it, once the service serves at a level
//! rate; start-up growth, caches, steps and noise under that load are not; and where the
//! load is not known to be level, or `warmupMs` was set, the warm-up is `warmupMs`.

use super::*;
use crate::core::detect::scales::Load;
use crate::core::test_rng::Rng;

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;
/// Floors every interval at `watch()`'s default, 10 s; the first one interval in.
const FLOOR_EVERY_S: f64 = 10.0;
/// Requests a second of the services here, level from their first floor.
const SERVING: f64 = 3000.0;

/// A service watched at `watch()`'s defaults (`config`), with a heap limit of 4 GiB.
struct Service {
    config: DetectorConfig,
    series: Series,
    rng: Rng,
}

impl Service {
    fn new(seed: u64, config: DetectorConfig) -> Self {
        let mut series = Series::new(MemoryKind::Heap, 0.0);
        series.set_own_limit(Some(4.0 * GIB));
        Service {
            config,
            series,
            rng: Rng(seed),
        }
    }

    /// The seconds at which leaks were reported over `seconds`: a floor every 10 s from the
    /// first interval on, 60 MB plus `heap(t)` plus uniform noise of `noise` bytes either
    /// way, each with `load(t)`.
    fn leaks(
        &mut self,
        seconds: f64,
        noise: f64,
        heap: impl Fn(f64) -> f64,
        mut load: impl FnMut(f64) -> Load,
    ) -> Vec<(f64, Leak)> {
        let mut leaks = Vec::new();
        let mut at = FLOOR_EVERY_S;
        while at <= seconds {
            let floor = 60e6 + heap(at) + self.rng.noise(noise);
            self.series
                .push_with_load(&self.config, at * 1000.0, floor, load(at));
            leaks.extend(self.series.evaluate(&self.config).map(|leak| (at, leak)));
            at += FLOOR_EVERY_S;
        }
        leaks
    }
}

/// Serving [`SERVING`] requests a second (±2%) with the CPU time that costs.
fn serving(rng: &mut Rng) -> Load {
    let requests = SERVING * (1.0 + rng.noise(0.02));
    Load {
        cpu: Some(0.6),
        requests: Some(requests),
    }
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn a_fast_leak_from_the_first_request_is_reported_within_a_minute() {
    // 0.2 to 2 MB/s from the first request (second 0), floors wandering by ±1 MB (a busy
    // service's forced floors hold its requests in flight), the load level from the start.
    for rate in [0.2e6, 0.5e6, 1e6, 2e6] {
        let mut first = Vec::new();
        let mut by_fast_test = 0;
        for seed in 1..=50 {
            let mut load_rng = Rng(seed + 1000);
            let mut service = Service::new(seed, DetectorConfig::watch_defaults());
            let leaks = service.leaks(300.0, 1e6, |t| rate * t, |_| serving(&mut load_rng));
            let (at, leak) = leaks
                .first()
                .unwrap_or_else(|| panic!("{rate} B/s, seed {seed}: none"));
            assert!(
                !leak.urgent,
                "{rate} B/s reaches 4 GiB in more than 15 minutes"
            );
            // A step lost in the floors' noise defers it to the next run, or to the full test.
            assert!(*at <= 120.0, "{rate} B/s, seed {seed}: at {at} s");
            let slope = leak.slope_bytes_per_sec;
            assert!(
                (slope / rate - 1.0).abs() < 0.3,
                "{rate} B/s measured {slope}"
            );
            first.push(*at);
            by_fast_test += usize::from(leak.test == LeakTest::Fast);
        }
        assert!(median(first.clone()) <= 60.0, "{rate} B/s: {first:?}");
        // Which test spoke: the fast one, bar a run the noise cut short (1 in 200 seeds).
        assert!(
            by_fast_test >= 45,
            "{rate} B/s: {by_fast_test} of 50 by the fast test"
        );
    }
}

#[test]
fn without_a_level_request_rate_or_with_warmup_set_the_warm_up_is_warmup_ms() {
    // The same 1 MB/s leak: by CPU time alone (a worker with no HTTP), with requests still
    // climbing, and with `warmupMs` set by the user (its 60 s, not the load's level).
    let cpu_only = |_: f64| Load::cpu(0.6);
    let ramping = |t: f64| Load {
        cpu: Some(0.6),
        requests: Some(100.0 * t),
    };
    let set = DetectorConfig {
        warmup_ends_when_serving: false,
        ..DetectorConfig::watch_defaults()
    };
    let mut level_rng = Rng(7);
    type LoadAt = Box<dyn FnMut(f64) -> Load>;
    let cases: Vec<(&str, DetectorConfig, LoadAt)> = vec![
        (
            "CPU time only",
            DetectorConfig::watch_defaults(),
            Box::new(cpu_only),
        ),
        (
            "requests climbing",
            DetectorConfig::watch_defaults(),
            Box::new(ramping),
        ),
        (
            "warmupMs set",
            set,
            Box::new(move |_| serving(&mut level_rng)),
        ),
    ];
    for (what, config, load) in cases {
        let mut service = Service::new(3, config);
        let leaks = service.leaks(300.0, 1e6, |t| 1e6 * t, load);
        let (at, _) = leaks.first().unwrap_or_else(|| panic!("{what}: none"));
        assert!(*at >= 70.0, "{what}: at {at} s, inside the 60 s warm-up");
    }
}

#[test]
fn start_up_growth_under_level_load_that_stops_within_forty_seconds_is_not_reported() {
    // 1 or 3 MB/s of start-up growth (modules, routes hit for the first time, a cache of
    // fixed size), until second 20, 30 or 40, then flat with noise: 15 minutes each.
    for rate in [1e6, 3e6] {
        for until in [20.0, 30.0, 40.0] {
            for seed in 1..=50 {
                let mut load_rng = Rng(seed + 500);
                let mut service = Service::new(seed, DetectorConfig::watch_defaults());
                let leaks = service.leaks(
                    900.0,
                    1e6,
                    |t| rate * t.min(until),
                    |_| serving(&mut load_rng),
                );
                assert!(
                    leaks.is_empty(),
                    "{rate} B/s until {until} s, seed {seed}: {leaks:?}"
                );
            }
        }
    }
}

#[test]
fn caches_steps_and_noise_under_level_load_are_not_fast_leaks() {
    // Under level load from the first floor, 15 minutes each, 100 seeds:
    // - noise of ±4 or ±20 MB;
    // - a cache full within 30 s (three rising steps) at 2 MB/s;
    // - a cache that slows as it fills, 30 MB halving its pace every 10 s;
    // - a 40 MB step over one or two floors at minute 3.
    type Heap = fn(f64) -> f64;
    let shapes: [(&str, f64, Heap); 6] = [
        ("noise ±4 MB", 4e6, |_| 0.0),
        ("noise ±20 MB", 20e6, |_| 0.0),
        ("cache full in 30 s", 1e6, |t| 2e6 * t.min(30.0)),
        ("cache slowing", 1e6, |t| {
            30e6 * (1.0 - 0.5f64.powf(t / FLOOR_EVERY_S))
        }),
        (
            "step of 40 MB",
            1e6,
            |t| if t >= 180.0 { 40e6 } else { 0.0 },
        ),
        ("step of 40 MB over two floors", 1e6, |t| {
            40e6 * ((t - 170.0) / 20.0).clamp(0.0, 1.0)
        }),
    ];
    for (what, noise, heap) in shapes {
        for seed in 1..=100 {
            let mut load_rng = Rng(seed + 300);
            let mut service = Service::new(seed, DetectorConfig::watch_defaults());
            let leaks = service.leaks(900.0, noise, heap, |_| serving(&mut load_rng));
            assert!(leaks.is_empty(), "{what}, seed {seed}: {leaks:?}");
        }
    }
}

#[test]
fn a_leak_too_slow_to_end_the_process_within_hours_waits_for_the_full_test() {
    // 0.1 MB/s reaches 4 GiB in about 12 hours: past the fast test's horizon, it is
    // reported by the full test (8 MiB of growth over a window of a minute or more, three
    // floors after the 60 s warm-up), not within the first minute.
    let mut load_rng = Rng(11);
    let mut service = Service::new(11, DetectorConfig::watch_defaults());
    let leaks = service.leaks(600.0, 0.2e6, |t| 0.1e6 * t, |_| serving(&mut load_rng));
    let (at, leak) = leaks.first().expect("reported by the full test");
    assert!(*at >= 90.0, "at {at} s");
    assert_eq!(leak.test, LeakTest::Trend);
}
