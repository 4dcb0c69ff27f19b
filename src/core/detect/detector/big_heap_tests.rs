//! A heap of about 1 GB at `watch()`'s defaults (a 4.2 GB limit), over many seeds: leaks of
//! 0.5 MB/s and 130 KB/s from the load's start, and healthy big heaps for hours. Floors come
//! as forced GCs bring them on such a heap ([`super::forced_floors`], [`Pace::V8`]): each
//! off the live size by 0 to +1.5% (an incremental GC keeps what was allocated while it
//! marked), and the heap breathes by ±20 MB over about seven minutes on its own.

use super::forced_floors::{median_and_worst, Pace, QuietService};
use super::slow_leak_tests::seeded;
use super::Leak;
use crate::core::test_rng::Rng;

const MB: f64 = 1e6;
const GB: f64 = 1e9;
const LIMIT: f64 = 4.2 * GB;
const SEEDS: u64 = 40;
const HOUR: f64 = 3600.0;

/// How a big busy heap's floor sits above `live`: up to 1.5% of it, and a breathing of
/// ±20 MB over about seven minutes, whose phase `phase` the seed picks.
fn big_floor(rng: &mut Rng, live: f64, t: f64, phase: f64) -> f64 {
    let breathing = 20.0 * MB * (2.0 * std::f64::consts::PI * t / 420.0 + phase).sin();
    live + breathing + rng.unit() * 0.015 * live
}

/// The first leak of a big heap whose live size is `live(t)`, over `seconds`, and its second.
fn first_leak(seed: u64, seconds: f64, live: impl Fn(f64) -> f64) -> Option<(f64, Leak)> {
    first_leak_after(None, seed, seconds, live)
}

/// [`first_leak`], with `warmupMs` set to `warmup_s` where given.
fn first_leak_after(
    warmup_s: Option<f64>,
    seed: u64,
    seconds: f64,
    live: impl Fn(f64) -> f64,
) -> Option<(f64, Leak)> {
    let mut rng = seeded(seed);
    let phase = rng.unit() * 2.0 * std::f64::consts::PI;
    let mut service = QuietService::at_pace(LIMIT, Pace::V8);
    if let Some(warmup_s) = warmup_s {
        service.config.warmup_ms = warmup_s * 1000.0;
        service.config.warmup_ends_when_serving = false;
    }
    service.run(seconds, &mut rng, |rng, t, _| {
        big_floor(rng, live(t), t, phase)
    })
}

/// How a calm big heap's floor sits above `live`, as measured on 1 GB services under
/// loopback load (Node 24, three at once on 2 cores): what the incremental GCs keep wanders
/// within 0 to 1.5% of the heap, by up to ±1.5 MB a floor (`kept` carries it from one floor
/// to the next), and each floor adds up to 2 MB more. Floors of a 130 KB/s leak then sit
/// 1-3 MB from one to the next beside the leak's line, as they did there.
fn calm_floor(rng: &mut Rng, live: f64, kept: &mut f64) -> f64 {
    let most = 0.015 * live;
    *kept += rng.noise(1.5 * MB);
    if *kept < 0.0 {
        *kept = -*kept;
    }
    if *kept > most {
        *kept = 2.0 * most - *kept;
    }
    live + *kept + rng.unit() * 2.0 * MB
}

/// [`first_leak`] on a calm heap ([`calm_floor`]).
fn first_calm_leak(seed: u64, seconds: f64, live: impl Fn(f64) -> f64) -> Option<(f64, Leak)> {
    let mut rng = seeded(seed);
    let mut kept = rng.unit() * 0.015 * live(0.0);
    let mut service = QuietService::at_pace(LIMIT, Pace::V8);
    service.run(seconds, &mut rng, |rng, t, _| {
        calm_floor(rng, live(t), &mut kept)
    })
}

/// [`leak_times`] on a calm heap.
fn calm_leak_times(
    rate: f64,
    onset: f64,
    within: f64,
    live: impl Fn(f64) -> f64,
) -> Vec<Option<f64>> {
    (1..=SEEDS)
        .map(|seed| {
            let leaking = |t: f64| live(t) + rate * (t - onset).max(0.0);
            let (at, _) = first_calm_leak(seed, onset + within, leaking)?;
            (at >= onset).then_some(at - onset)
        })
        .collect()
}

/// [`alarms`] on a calm heap.
fn calm_alarms(
    runs: u64,
    hours: f64,
    live: impl Fn(u64) -> Box<dyn Fn(f64) -> f64>,
) -> Vec<(u64, f64, String)> {
    (1..=runs)
        .filter_map(|seed| {
            let f = live(seed);
            first_calm_leak(seed, hours * HOUR, &f)
                .map(|(at, leak)| (seed, at, format!("{:?}", leak.test)))
        })
        .collect()
}

/// (d) The measured healthy service: 868 MB, a result cache filling slowly (30 MB more as
/// `1 − e^(−t/10 min)`, 0.05 MB/s at first), and batch work of 70 MB built within a second,
/// held 60 s and dropped at once, every 15 minutes, the first `offset` s in.
fn cache_and_batches(offset: f64) -> impl Fn(f64) -> f64 + Copy {
    move |t| {
        let cache = 30.0 * MB * (1.0 - (-t / 600.0).exp());
        let into = (t - offset).rem_euclid(900.0);
        let batch = if t >= offset && into < 60.0 {
            70.0 * MB
        } else {
            0.0
        };
        868.0 * MB + cache + batch
    }
}

/// The seconds, after `onset`, at which a leak of `rate` on top of `live(t)` was first
/// reported, over the seeds (`None`: not within `within` of its onset, or reported before it).
fn leak_times(rate: f64, onset: f64, within: f64, live: impl Fn(f64) -> f64) -> Vec<Option<f64>> {
    (1..=SEEDS)
        .map(|seed| {
            let leaking = |t: f64| live(t) + rate * (t - onset).max(0.0);
            let (at, _) = first_leak(seed, onset + within, leaking)?;
            (at >= onset).then_some(at - onset)
        })
        .collect()
}

/// (a) A catalog of 1 GB: 300 MB at the watcher's start, the rest loaded within the first
/// minute (an exponential approach, τ = 20 s: 95% of it by 60 s), then steady.
fn catalog(t: f64) -> f64 {
    0.3 * GB + 0.7 * GB * (1.0 - (-t / 20.0).exp())
}

/// (b) Batch work on a 900 MB heap: every 30 minutes, the first `offset` s in, 200 MB
/// taken over 2 minutes, held 8, given back over 2.
fn batches(offset: f64) -> impl Fn(f64) -> f64 + Copy {
    move |t| {
        let into = (t - offset).rem_euclid(1800.0);
        let held = if t < offset {
            0.0
        } else {
            (into / 120.0)
                .min(1.0)
                .min(((720.0 - into) / 120.0).max(0.0))
        };
        0.9 * GB + 200.0 * MB * held
    }
}

/// (c) A slow warm-up: 700 MB at the start and 310 MB more, a cache warming as
/// `1 − e^(−t/τ)` with τ = 3 min: 300 MB within 10 minutes, its pace falling from 1.7 MB/s.
fn warm_up(t: f64) -> f64 {
    0.7 * GB + 310.0 * MB * (1.0 - (-t / 180.0).exp())
}

/// Runs of `hours` whose live size is `live(t)` that raised a leak, over `runs` seeds, with
/// the first such leak's second and test.
fn alarms(
    runs: u64,
    hours: f64,
    live: impl Fn(u64) -> Box<dyn Fn(f64) -> f64>,
) -> Vec<(u64, f64, String)> {
    alarms_after(None, runs, hours, live)
}

/// [`alarms`], with `warmupMs` set to `warmup_s` where given.
fn alarms_after(
    warmup_s: Option<f64>,
    runs: u64,
    hours: f64,
    live: impl Fn(u64) -> Box<dyn Fn(f64) -> f64>,
) -> Vec<(u64, f64, String)> {
    (1..=runs)
        .filter_map(|seed| {
            let f = live(seed);
            first_leak_after(warmup_s, seed, hours * HOUR, &f)
                .map(|(at, leak)| (seed, at, format!("{:?}", leak.test)))
        })
        .collect()
}

fn print_leak(name: &str, times: &[Option<f64>], within: f64) -> (f64, f64, usize) {
    let (median, worst, missing) = median_and_worst(times);
    eprintln!(
        "{name}: median {median} s, worst {worst} s, {missing} of {SEEDS} not within {within} s"
    );
    (median, worst, missing)
}

/// The big-heap cases over 40 seeds (6 hours each for the healthy ones, in a fraction of a
/// second), for docs/benchmarks/detect.md (`cargo test big_heap -- --nocapture`). What is met
/// is held; what is not is printed:
/// - 0.5 MB/s within 3 minutes: the median, not every seed (a seed whose breathing falls
///   while the leak starts waits up to 6 minutes);
/// - 130 KB/s within 10 minutes: not the median (its 78 MB by then are twice the heap's
///   breathing);
/// - (c) at the defaults: a warm-up that grows faster than the leak for its first minutes
///   cannot be told from a leak within them; with `warmupMs` at its 10 minutes, 3 runs of 40.
#[test]
fn big_heap_figures() {
    let times = leak_times(0.5 * MB, 0.0, 600.0, |_| GB);
    let (median, worst, _) = print_leak("1 GB, 0.5 MB/s from the start", &times, 600.0);
    assert!(
        median <= 180.0 && worst <= 360.0,
        "0.5 MB/s: {median} s, worst {worst} s"
    );
    let (_, worst, _) = print_leak(
        "1 GB, 130 KB/s from the start",
        &leak_times(130e3, 0.0, 1200.0, |_| GB),
        1200.0,
    );
    assert!(worst <= 1200.0, "130 KB/s: worst {worst} s");
    print_leak(
        "catalog, 0.5 MB/s from 60 s",
        &leak_times(0.5 * MB, 60.0, 600.0, catalog),
        600.0,
    );
    print_leak(
        "catalog, 130 KB/s from 60 s",
        &leak_times(130e3, 60.0, 1200.0, catalog),
        1200.0,
    );
    let hours = 6.0;
    let report = |name: &str, found: Vec<(u64, f64, String)>| {
        eprintln!(
            "{name}: {} of {SEEDS} runs of {hours} h: {:?}",
            found.len(),
            &found[..found.len().min(6)]
        );
        found.len()
    };
    let steady = report("steady 1 GB", alarms(SEEDS, hours, |_| Box::new(|_| GB)));
    let filled = report("(a) catalog", alarms(SEEDS, hours, |_| Box::new(catalog)));
    let from_start = report(
        "(b) batches from the start",
        alarms(SEEDS, hours, |_| Box::new(batches(0.0))),
    );
    let later = report(
        "(b) batches, first 0-30 min in",
        alarms(SEEDS, hours, |seed| {
            Box::new(batches((seed as f64 * 137.0) % 1800.0))
        }),
    );
    report("(c) warm-up", alarms(SEEDS, hours, |_| Box::new(warm_up)));
    let warm_up_set = report(
        "(c) warm-up, warmupMs 10 min",
        alarms_after(Some(600.0), SEEDS, hours, |_| Box::new(warm_up)),
    );
    // No alarm on a steady heap or batches from the start; a few where a seed's breathing
    // lines up with a rise (docs/benchmarks/detect.md, "Big heaps in the detector's model").
    assert!(steady == 0 && filled <= 1 && from_start == 0 && later <= 3 && warm_up_set <= 3);
}

/// The same cases on a calm heap ([`calm_floor`]), as measured on 1 GB services, and the
/// measured service's own healthy work ([`cache_and_batches`]).
#[test]
fn calm_big_heap_figures() {
    let (median, worst, _) = print_leak(
        "calm 1 GB, 0.5 MB/s from the start",
        &calm_leak_times(0.5 * MB, 0.0, 600.0, |_| GB),
        600.0,
    );
    assert!(
        median <= 180.0 && worst <= 180.0,
        "0.5 MB/s: {median} s, worst {worst} s"
    );
    let (median, worst, _) = print_leak(
        "calm 1 GB, 130 KB/s from the start",
        &calm_leak_times(130e3, 0.0, 1200.0, |_| GB),
        1200.0,
    );
    assert!(
        median <= 600.0 && worst <= 600.0,
        "130 KB/s: {median} s, worst {worst} s"
    );
    let (_, worst, _) = print_leak(
        "calm 1 GB, 130 KB/s from 30 min",
        &calm_leak_times(130e3, 1800.0, 1200.0, |_| GB),
        1200.0,
    );
    assert!(worst <= 600.0, "130 KB/s from 30 min: worst {worst} s");
    print_leak(
        "calm catalog, 130 KB/s from 60 s",
        &calm_leak_times(130e3, 60.0, 1200.0, catalog),
        1200.0,
    );
    print_leak(
        "calm cache and batches, 130 KB/s from 30 min",
        &calm_leak_times(130e3, 1800.0, 1200.0, cache_and_batches(300.0)),
        1200.0,
    );
    let hours = 6.0;
    let report = |name: &str, found: Vec<(u64, f64, String)>| {
        eprintln!(
            "{name}: {} of {SEEDS} runs of {hours} h: {:?}",
            found.len(),
            &found[..found.len().min(6)]
        );
        found.len()
    };
    let steady = report(
        "calm steady 1 GB",
        calm_alarms(SEEDS, hours, |_| Box::new(|_| GB)),
    );
    let filled = report(
        "calm (a) catalog",
        calm_alarms(SEEDS, hours, |_| Box::new(catalog)),
    );
    let from_start = report(
        "calm (b) batches from the start",
        calm_alarms(SEEDS, hours, |_| Box::new(batches(0.0))),
    );
    let later = report(
        "calm (b) batches, first 0-30 min in",
        calm_alarms(SEEDS, hours, |seed| {
            Box::new(batches((seed as f64 * 137.0) % 1800.0))
        }),
    );
    let measured = report(
        "calm (d) cache and 70 MB batches",
        calm_alarms(SEEDS, hours, |seed| {
            Box::new(cache_and_batches((seed as f64 * 97.0) % 900.0))
        }),
    );
    assert!(steady == 0 && filled <= 1 && from_start == 0 && later <= 1 && measured == 0);
}
