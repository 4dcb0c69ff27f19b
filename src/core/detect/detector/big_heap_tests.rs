//! A heap of about 1 GB at `watch()`'s defaults (a 4.2 GB limit), over many seeds: leaks of
//! 0.5 MB/s and 130 KB/s from the load's start, and healthy big heaps for hours. Floors come
//! as in a quiet service ([`super::forced_floors`]): each off the live size by 0 to +1.5%
//! (an incremental GC keeps what was allocated while it marked), and the heap breathes by
//! tens of MB on its own.

use super::forced_floors::{median_and_worst, QuietService};
use super::slow_leak_tests::seeded;
use crate::core::test_rng::Rng;

const MB: f64 = 1e6;
const GB: f64 = 1e9;
const LIMIT: f64 = 4.2 * GB;
const SEEDS: u64 = 40;

/// How a big busy heap's floor sits above `live`: up to 1.5% of it, and a breathing of
/// ±20 MB over about seven minutes, whose phase `phase` the seed picks.
fn big_floor(rng: &mut Rng, live: f64, t: f64, phase: f64) -> f64 {
    let breathing = 20.0 * MB * (2.0 * std::f64::consts::PI * t / 420.0 + phase).sin();
    live + breathing + rng.unit() * 0.015 * live
}

/// The first leak of a big heap whose live size is `live(t)`, over `seconds`, and its second.
fn first_leak(seed: u64, seconds: f64, live: impl Fn(f64) -> f64) -> Option<f64> {
    let mut rng = seeded(seed);
    let phase = rng.unit() * 2.0 * std::f64::consts::PI;
    let mut service = QuietService::new(LIMIT);
    service
        .run(seconds, &mut rng, |rng, t, _| {
            big_floor(rng, live(t), t, phase)
        })
        .map(|(at, _)| at)
}

fn leak_figures(rate: f64, within: f64) -> (f64, f64, usize) {
    let times: Vec<Option<f64>> = (1..=SEEDS)
        .map(|seed| first_leak(seed, within, |t| GB + rate * t))
        .collect();
    median_and_worst(&times)
}

fn alarms(runs: u64, hours: f64, live: impl Fn(f64) -> f64 + Copy) -> usize {
    (1..=runs)
        .filter(|&seed| first_leak(seed, hours * 3600.0, live).is_some())
        .count()
}

/// The targets (0.5 MB/s within 3 minutes, 130 KB/s within 10, no alarm for hours)
/// are not met by the rules yet: the figures, for docs/benchmarks/detect.md
/// (`cargo test big_heap -- --ignored --nocapture`).
#[test]
#[ignore = "figures only: the big-heap targets are not met yet"]
fn big_heap_figures() {
    let (median, worst, missing) = leak_figures(0.5 * MB, 600.0);
    eprintln!(
        "1 GB, 0.5 MB/s: median {median} s, worst {worst} s, {missing} of {SEEDS} not within 600 s"
    );
    let (median, worst, missing) = leak_figures(130e3, 1200.0);
    eprintln!("1 GB, 130 KB/s: median {median} s, worst {worst} s, {missing} of {SEEDS} not within 1200 s");
    // A cache filled to 1 GB within two minutes of the start, then steady.
    let filled = alarms(SEEDS, 3.0, |t| {
        0.1 * GB + 0.9 * GB * (1.0 - (-t / 40.0).exp())
    });
    // Batch work every 30 minutes: 200 MB taken over 2 minutes, held 8, given back over 2.
    let batches = alarms(SEEDS, 3.0, |t| {
        let into = t % 1800.0;
        let held = (into / 120.0)
            .min(1.0)
            .min(((720.0 - into) / 120.0).max(0.0));
        0.9 * GB + 200.0 * MB * held
    });
    // A warm-up of 10 minutes: 300 MB more, 95% of it by then.
    let warm_up = alarms(SEEDS, 3.0, |t| {
        0.7 * GB + 0.3 * GB * (1.0 - (-t / 200.0).exp())
    });
    eprintln!("1 GB healthy, {SEEDS} runs of 3 h: filled then steady {filled}, batches of ±100 MB {batches}, 10-minute warm-up {warm_up}");
}
