//! The longer time scales on which slow leaks show: each kind's floors decimated into
//! buckets of a fixed duration, keeping the lowest floor of each (a floor of floors), so
//! that a window of [`BUCKETS`] points spans a quarter of an hour, an hour, hours or a day
//! in bounded memory, and the rules that tell a slow leak on those scales from what hours of
//! production look like (load that rises through the morning, a cache that fills and levels
//! off, a step after lazy loading).
//!
//! The window of every floor kept (`Series`' own, minutes long at the defaults) judges fast
//! leaks; these judge leaks too slow to grow `min_growth_bytes` within it.

use std::collections::VecDeque;

use super::trend::median;

/// The time scales, as events name them: `'minutes'` for the window of every floor (a few
/// minutes at the defaults), else a slow scale, a floor of floors per bucket (see
/// docs/watch.md, "Slow leaks").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "kebab-case"))]
pub enum ScaleName {
    /// The window of every floor kept.
    Minutes,
    /// A window of 16 minutes at the defaults.
    QuarterHour,
    /// 64 minutes.
    Hour,
    /// 4.3 hours.
    Hours,
    /// 24 hours.
    Day,
}

/// A time scale: its name in events and how long its buckets are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The name events give it.
    pub name: ScaleName,
    /// A bucket's duration, in minimum durations (`min_duration_ms`): so that a test
    /// compressing time by shortening `min_duration_ms` compresses every scale alike.
    bucket_durations: f64,
}

/// The window of every floor kept: no buckets.
pub const MINUTES: Scale = Scale {
    name: ScaleName::Minutes,
    bucket_durations: 0.0,
};

/// The slow scales, shortest first. At the defaults (a 60 s minimum duration) their buckets
/// are 30 s, 2 min, 8 min and 45 min, and their windows span 16 min, 64 min, 4.3 h and 24 h:
/// with `min_growth_bytes` of 8 MiB judged over each, they reach about 9 KB/s, 2.2 KB/s and
/// 550 B/s, each four times slower than the one before; the day's would reach 100 B/s, under
/// the default `min_rate_bytes_per_sec` (512): it adds a day's evidence on leaks near that
/// rate, and judges a rise against a whole day of load.
pub const SLOW_SCALES: [Scale; 4] = [
    Scale {
        name: ScaleName::QuarterHour,
        bucket_durations: 0.5,
    },
    Scale {
        name: ScaleName::Hour,
        bucket_durations: 2.0,
    },
    Scale {
        name: ScaleName::Hours,
        bucket_durations: 8.0,
    },
    Scale {
        name: ScaleName::Day,
        bucket_durations: 45.0,
    },
];

/// Buckets kept per slow scale. Memory: 40 bytes a bucket, 1.3 KB a scale, about 5 KB for a
/// kind of memory's four scales.
pub const BUCKETS: usize = 32;

/// Buckets a slow scale needs before it is judged, and that the shortest window it judges
/// (its newest half) holds: enough for Mann–Kendall to reach a confidence of 0.999 on a rise
/// that noise does not line up.
pub const MIN_BUCKETS: usize = 16;

impl Scale {
    /// How long a bucket of this scale lasts, given the minimum duration.
    pub fn bucket_ms(&self, min_duration_ms: f64) -> f64 {
        self.bucket_durations * min_duration_ms
    }

    /// The span a full window of this scale covers, given the minimum duration (for the
    /// window of every floor, the two minimum durations it keeps at least).
    pub fn span_ms(&self, min_duration_ms: f64) -> f64 {
        if self.bucket_durations == 0.0 {
            2.0 * min_duration_ms
        } else {
            BUCKETS as f64 * self.bucket_ms(min_duration_ms)
        }
    }
}

/// The work the process did since the floor before, which its floors may rise with (requests
/// in flight, sessions of users active lately): what the detector's level-load rule weighs
/// on its slow scales. Null parts are unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct Load {
    /// CPU seconds the thread used a second, the watcher's own forced GCs left out.
    #[cfg_attr(feature = "napi", napi(js_name = "cpuSecondsPerSecond"))]
    pub cpu: Option<f64>,
    /// HTTP requests the thread's servers finished a second; null where it serves none.
    #[cfg_attr(feature = "napi", napi(js_name = "requestsPerSecond"))]
    pub requests: Option<f64>,
}

impl Load {
    /// A load known by its CPU time alone.
    pub fn cpu(cpu: f64) -> Load {
        Load {
            cpu: Some(cpu),
            requests: None,
        }
    }

    /// Whether anything about the load is known.
    pub fn is_known(&self) -> bool {
        self.cpu.is_some() || self.requests.is_some()
    }
}

/// The mean of the finite values given, of which there may be none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Mean {
    sum: f64,
    count: u32,
}

impl Mean {
    fn of(value: Option<f64>) -> Mean {
        let mut mean = Mean::default();
        mean.add(value);
        mean
    }

    fn add(&mut self, value: Option<f64>) {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            self.sum += value;
            self.count += 1;
        }
    }

    fn get(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / f64::from(self.count))
    }
}

/// The lowest floor of a bucket, when it was taken, and the load over the bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// When the bucket began.
    start: f64,
    /// When its lowest floor was taken.
    pub time: f64,
    /// Its lowest floor.
    pub floor: f64,
    cpu: Mean,
    requests: Mean,
}

impl Bucket {
    /// The mean load of the floors in the bucket, each part over the floors that came with it.
    pub fn load(&self) -> Load {
        Load {
            cpu: self.cpu.get(),
            requests: self.requests.get(),
        }
    }
}

/// One kind's floors on one slow scale: the closed buckets, newest last, and the open one.
#[derive(Debug, Clone)]
pub struct Decimated {
    scale: Scale,
    bucket_ms: f64,
    closed: VecDeque<Bucket>,
    open: Option<Bucket>,
    /// Buckets closed since the series began: the window changes only when this does.
    closed_total: u64,
}

impl Decimated {
    /// An empty series on `scale`, with buckets of its duration at `min_duration_ms`.
    pub fn new(scale: Scale, min_duration_ms: f64) -> Self {
        Decimated {
            scale,
            bucket_ms: scale.bucket_ms(min_duration_ms).max(1.0),
            closed: VecDeque::with_capacity(BUCKETS),
            open: None,
            closed_total: 0,
        }
    }

    /// The scale.
    pub fn scale(&self) -> Scale {
        self.scale
    }

    /// Adds a floor (in time order; the caller checks). The open bucket closes when a floor
    /// comes after its end; a bucket that got no floor (no full GC for that long) is simply
    /// missing, so the window's span stays in real time.
    pub fn push(&mut self, time: f64, bytes: f64, load: Load) {
        match &mut self.open {
            Some(open) if time < open.start + self.bucket_ms => {
                if bytes < open.floor {
                    open.time = time;
                    open.floor = bytes;
                }
                open.cpu.add(load.cpu);
                open.requests.add(load.requests);
                return;
            }
            Some(open) => {
                if self.closed.len() == BUCKETS {
                    self.closed.pop_front();
                }
                self.closed.push_back(*open);
                self.closed_total += 1;
            }
            None => {}
        }
        let start = match self.open {
            // Buckets stay aligned to the first: a floor after a gap opens the bucket it
            // falls in.
            Some(open) => {
                open.start + ((time - open.start) / self.bucket_ms).floor() * self.bucket_ms
            }
            None => time,
        };
        self.open = Some(Bucket {
            start,
            time,
            floor: bytes,
            cpu: Mean::of(load.cpu),
            requests: Mean::of(load.requests),
        });
    }

    /// How many buckets have closed since the series began.
    pub fn closed_total(&self) -> u64 {
        self.closed_total
    }

    /// The closed buckets, oldest first.
    pub fn buckets(&self) -> impl ExactSizeIterator<Item = &Bucket> {
        self.closed.iter()
    }
}

/// Share of a window's rise (the median of its newest third over that of its oldest) that
/// its first two thirds and its last two thirds must each show: a step (lazy loading after a
/// deploy) leaves one of them flat, a linear leak gives each half of it.
const STEADY_SHARE: f64 = 0.2;
/// How steep the end of a window's rise must be, relative to its start (the slopes of a
/// parabola fitted to it): growth that slows down (a cache approaching its size, which fills
/// by fewer new keys as it holds more) fails, while a leak keeps its pace. A cache filling
/// as `1 - e^(-t/τ)` fails on windows longer than half of τ.
const NOT_SLOWING_SHARE: f64 = 0.8;

/// Whether the floors of `window` truly rose by `growth`: its newest point above the lowest
/// of its oldest third by that much. The slope times the span extrapolates: a window
/// holding flat floors on either side of a rise that stopped would count more growth than
/// there was.
pub fn rose_by(window: &[(f64, f64)], growth: f64) -> bool {
    let oldest_third = &window[..(window.len() / 3).max(1)];
    let lowest = oldest_third
        .iter()
        .map(|&(_, v)| v)
        .fold(f64::INFINITY, f64::min);
    window
        .last()
        .is_some_and(|&(_, newest)| newest - lowest >= growth)
}

/// Whether every third of `window` rises (compared by the medians of its thirds, so that
/// a noisy floor or two do not decide; see [`STEADY_SHARE`]): a step leaves one flat.
pub fn no_flat_third(window: &[(f64, f64)]) -> bool {
    let Some([oldest, middle, newest]) = thirds(window, |&(_, v)| Some(v)) else {
        return false;
    };
    let rise = newest - oldest;
    rise > 0.0 && middle - oldest >= STEADY_SHARE * rise && newest - middle >= STEADY_SHARE * rise
}

/// Whether the rise of `window` does not slow down: at its end, the slope of a parabola
/// fitted by least squares is at least [`NOT_SLOWING_SHARE`] of its slope at the start, in
/// the whole window, its newest two thirds and its newest half (a cache that began to fill
/// within the window shows how it slows only in its newest part, after flat floors). The
/// points are a slow scale's buckets, lowest floors whose outliers the bucketing removed, so
/// least squares uses every point's evidence where the slopes of a part's thirds would not.
pub fn not_slowing(window: &[(f64, f64)]) -> bool {
    let n = window.len();
    [window, &window[n / 3..], &window[n / 2..]]
        .into_iter()
        .all(|part| match start_and_end_slopes(part) {
            Some((start, end)) => start <= 0.0 || end >= NOT_SLOWING_SHARE * start,
            None => false,
        })
}

/// The slopes at the first and the last time of `points` of the parabola fitted to them by
/// least squares; `None` with fewer than four points or all at one time.
fn start_and_end_slopes(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 4 {
        return None;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|&(t, _)| t).sum::<f64>() / n;
    let mean_v = points.iter().map(|&(_, v)| v).sum::<f64>() / n;
    // Centred times, and their squares centred, keep the normal equations small and stable.
    let xs: Vec<f64> = points.iter().map(|&(t, _)| t - mean_t).collect();
    let mean_sq = xs.iter().map(|x| x * x).sum::<f64>() / n;
    let (mut sxx, mut sxq, mut sqq, mut sxv, mut sqv) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&x, &(_, v)) in xs.iter().zip(points) {
        let q = x * x - mean_sq;
        let dv = v - mean_v;
        sxx += x * x;
        sxq += x * q;
        sqq += q * q;
        sxv += x * dv;
        sqv += q * dv;
    }
    let det = sxx * sqq - sxq * sxq;
    if sxx == 0.0 || det.abs() <= f64::EPSILON * sxx * sqq {
        return None;
    }
    let b = (sxv * sqq - sqv * sxq) / det;
    let c = (sqv * sxx - sxv * sxq) / det;
    let slope_at = |x: f64| b + 2.0 * c * x;
    Some((slope_at(xs[0]), slope_at(xs[xs.len() - 1])))
}

/// Relative rise in load across a window beyond which its floors may be rising with the
/// load, not by a leak.
const LOAD_RISE_SHARE: f64 = 0.02;
/// Absolute rise in CPU load (CPU seconds a second) that never counts as a rise: an idle
/// service's use wanders by about this much.
const CPU_RISE_FLOOR: f64 = 0.003;
/// Absolute rise in requests a second that never counts as a rise.
const REQUESTS_RISE_FLOOR: f64 = 0.1;
/// Requests a second every point of a window must average for requests to be its load: a
/// thread whose requests are fewer (liveness and readiness probes, an admin call, a night
/// with no users) does its work elsewhere, and its CPU time is the load.
pub const MIN_REQUESTS_PER_SEC: f64 = 1.0;

/// Whether the load stayed level or fell across a window (its newest third's mean load
/// at most [`LOAD_RISE_SHARE`] and a small floor above its oldest third's); true when the
/// load is not known. Floors rise with load (requests in flight, sessions of users active
/// lately): on a slow scale, a rise that comes with more load is judged only once the load
/// levels off, when a leak's floors go on rising and load's do not.
///
/// The load is the requests a second where every point of the window served at least
/// [`MIN_REQUESTS_PER_SEC`], else CPU time. Requests first: they are what a service's memory
/// follows, they cost next to no CPU in many services beside fixed work, and a neighbour
/// taking the machine's CPU does not change their count, while it makes the same work take
/// more CPU time (a hyperthread's sibling, a shared cache) and would read as more load.
pub fn load_level(loads: &[Load]) -> bool {
    let by_requests = !loads.is_empty()
        && loads
            .iter()
            .all(|l| l.requests.is_some_and(|r| r >= MIN_REQUESTS_PER_SEC));
    let (value, rise_floor): (fn(&Load) -> Option<f64>, f64) = if by_requests {
        (|l| l.requests, REQUESTS_RISE_FLOOR)
    } else {
        (|l| l.cpu, CPU_RISE_FLOOR)
    };
    let Some([oldest, _, newest]) = thirds(loads, value) else {
        return true;
    };
    newest <= oldest * (1.0 + LOAD_RISE_SHARE) + rise_floor
}

/// Newest floors whose requests a second must be level for a service's warm-up to end
/// before `warmupMs` (see [`serving_level`]).
pub const LEVEL_SERVING_FLOORS: usize = 3;
/// How far the requests a second of those floors may spread, as a share of the least.
const LEVEL_SERVING_SHARE: f64 = 0.15;

/// Whether `loads` (the newest [`LEVEL_SERVING_FLOORS`] floors' loads) show a service
/// serving HTTP at a level rate: each served [`MIN_REQUESTS_PER_SEC`] or more, and the most
/// is within [`LEVEL_SERVING_SHARE`] (and [`REQUESTS_RISE_FLOOR`]) of the least. A service
/// at its load is past its start-up: its modules are loaded and its routes were hit, so
/// growth that goes on from there is the service's own. Requests only: CPU time is level
/// too while a service loads its data at start, with no one served yet.
pub fn serving_level(loads: &[Load]) -> bool {
    let rates: Vec<f64> = loads.iter().filter_map(|l| l.requests).collect();
    let (least, most) = rates.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), &r| {
        (lo.min(r), hi.max(r))
    });
    loads.len() >= LEVEL_SERVING_FLOORS
        && rates.len() == loads.len()
        && least >= MIN_REQUESTS_PER_SEC
        && most <= least * (1.0 + LEVEL_SERVING_SHARE) + REQUESTS_RISE_FLOOR
}

/// The median of each third of `items` (oldest first) by `value`, skipping unknown values;
/// `None` when a third has no known value or there are fewer than three items.
fn thirds<T>(items: &[T], value: impl Fn(&T) -> Option<f64> + Copy) -> Option<[f64; 3]>
where
    T: Copy,
{
    let n = items.len();
    if n < 3 {
        return None;
    }
    let third = |from: usize, to: usize| {
        let mut values: Vec<f64> = items[from..to].iter().filter_map(value).collect();
        median(&mut values)
    };
    Some([
        third(0, n / 3)?,
        third(n / 3, n - n / 3)?,
        third(n - n / 3, n)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_the_lowest_floor_and_the_mean_load() {
        let mut d = Decimated::new(SLOW_SCALES[0], 2_000.0);
        for (t, v, l) in [
            (0.0, 5.0, 0.1),
            (400.0, 3.0, 0.3),
            (900.0, 4.0, 0.2),
            (1000.0, 9.0, 0.4),
        ] {
            d.push(t, v, Load::cpu(l));
        }
        let closed: Vec<Bucket> = d.buckets().copied().collect();
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].time, closed[0].floor), (400.0, 3.0));
        assert!((closed[0].load().cpu.unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(closed[0].load().requests, None);
    }

    #[test]
    fn buckets_are_bounded_and_a_gap_leaves_them_missing() {
        let mut d = Decimated::new(SLOW_SCALES[0], 2_000.0);
        for i in 0..1000 {
            d.push(f64::from(i) * 100.0, 1.0, Load::default());
        }
        assert_eq!(d.buckets().len(), BUCKETS);
        let mut d = Decimated::new(SLOW_SCALES[0], 2_000.0);
        d.push(0.0, 1.0, Load::default());
        d.push(5_500.0, 1.0, Load::default());
        d.push(6_100.0, 1.0, Load::default());
        let starts: Vec<f64> = d.buckets().map(|b| b.start).collect();
        assert_eq!(starts, vec![0.0, 5_000.0]);
        assert_eq!(d.buckets().next().unwrap().load(), Load::default());
        // A load that is not a number is left out of the bucket's mean.
        let mut d = Decimated::new(SLOW_SCALES[0], 2_000.0);
        for (t, load) in [
            (0.0, f64::NAN),
            (10.0, f64::INFINITY),
            (20.0, 0.4),
            (1_000.0, 0.1),
        ] {
            d.push(t, 1.0, Load::cpu(load));
        }
        assert_eq!(d.buckets().next().unwrap().load(), Load::cpu(0.4));
    }

    #[test]
    fn a_line_rises_steadily_and_a_step_or_a_levelling_off_does_not() {
        let line: Vec<(f64, f64)> = (0..30).map(|i| (f64::from(i), f64::from(i))).collect();
        assert!(no_flat_third(&line) && not_slowing(&line) && rose_by(&line, 29.0));
        assert!(!rose_by(&line, 30.0));
        let step: Vec<(f64, f64)> = (0..30)
            .map(|i| (f64::from(i), if i < 12 { 0.0 } else { 10.0 }))
            .collect();
        assert!(!no_flat_third(&step));
        let filling: Vec<(f64, f64)> = (0..30)
            .map(|i| (f64::from(i), 1.0 - (-f64::from(i) / 10.0).exp()))
            .collect();
        assert!(no_flat_third(&filling) && !not_slowing(&filling));
        let flat: Vec<(f64, f64)> = (0..30).map(|i| (f64::from(i), 1.0)).collect();
        assert!(!no_flat_third(&flat));
    }

    #[test]
    fn load_is_level_unless_its_newest_third_is_clearly_above_its_oldest() {
        let cpu = |values: Vec<f64>| -> Vec<Load> { values.into_iter().map(Load::cpu).collect() };
        assert!(load_level(&cpu(vec![0.30; 12])));
        let rising: Vec<f64> = (0..12).map(|i| 0.1 + 0.05 * f64::from(i)).collect();
        assert!(!load_level(&cpu(rising.clone())));
        assert!(load_level(&cpu(rising.into_iter().rev().collect())));
        assert!(load_level(&[Load::default(); 12]));
        let quiet: Vec<f64> = (0..12).map(|i| 0.01 + 0.0002 * f64::from(i)).collect();
        assert!(load_level(&cpu(quiet)));
    }

    #[test]
    fn requests_are_the_load_where_every_point_serves_them_and_cpu_time_elsewhere() {
        let load = |cpu: f64, requests: f64| Load {
            cpu: Some(cpu),
            requests: Some(requests),
        };
        // Requests rise through the morning at next to no CPU: not level.
        let morning: Vec<Load> = (0..12)
            .map(|i| load(0.20, 20.0 + 10.0 * f64::from(i)))
            .collect();
        assert!(!load_level(&morning));
        // A neighbour makes the same requests take 40% more CPU time: level.
        let neighbour: Vec<Load> = (0..12)
            .map(|i| load(if i < 6 { 0.20 } else { 0.28 }, 50.0))
            .collect();
        assert!(load_level(&neighbour));
        // A worker answering probes (0.2 a second) whose CPU work rises: CPU decides.
        let worker: Vec<Load> = (0..12)
            .map(|i| load(0.1 + 0.05 * f64::from(i), 0.2))
            .collect();
        assert!(!load_level(&worker));
        // One point under the minimum (a quiet night) and CPU decides for the whole window.
        let mut night = neighbour.clone();
        night[3].requests = Some(0.5);
        assert!(!load_level(&night));
    }
}
