//! `NativeMonitor`: the JS handle on the monitor thread of `core::detect::monitor`. Events come
//! back to JS as objects (`NativeLeakEvent`, `NativeThresholdEvent`) through a weak
//! threadsafe function, so the thread never keeps the event loop alive; the thread is stopped
//! by `stop()`, by the finalizer, or when the environment (the process, or a worker thread) is
//! torn down.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::core::detect::detector::{DetectorConfig, Leak, MemoryKind, Suspicion};
use crate::core::detect::monitor::{HeapResident, Monitor, MonitorConfig, MonitorEvent};
use crate::core::detect::scales::Load;

/// Settings of the native monitor thread: `watch()`'s options of the same names, checked by
/// it, and when the warm-up starts.
#[napi(object)]
pub struct NativeMonitorOptions {
    /// Floors kept per series.
    pub window: u32,
    /// Floors needed before judging.
    pub min_points: u32,
    /// Floors before `startedAt + warmupMs` are ignored.
    pub warmup_ms: f64,
    /// Whether the warm-up of growth that would reach a limit within hours ends sooner, once
    /// the service serves HTTP at a level rate: `warmupMs` was left at its default.
    pub warmup_ends_when_serving: bool,
    /// The window must span at least this many milliseconds.
    pub min_duration_ms: f64,
    /// Growth over the window must reach this many bytes.
    pub min_growth_bytes: f64,
    /// The slope must reach this many bytes per second.
    pub min_rate_bytes_per_sec: f64,
    /// Required confidence in an upward trend, in (0, 1).
    pub confidence: f64,
    /// How often the thread reads RSS and the container's memory, in milliseconds; the thread
    /// counts whole milliseconds: truncated, and 1 at least.
    pub interval_ms: f64,
    /// Fraction of the container limit at which RSS raises a threshold event.
    pub rss_threshold: f64,
    /// Epoch milliseconds at which the warm-up starts.
    pub started_at: f64,
}

/// The work since the floor before, which floors may rise with: what the detector's
/// level-load rule weighs on its slow scales (`Load` in the core). Null parts are unknown.
#[napi(object, use_nullable = true)]
pub struct NativeFloorLoad {
    /// CPU seconds the thread used a second, the watcher's own forced GCs left out.
    pub cpu_seconds_per_second: Option<f64>,
    /// HTTP requests the thread's servers finished a second; null where it serves none.
    pub requests_per_second: Option<f64>,
}

impl From<NativeFloorLoad> for Load {
    fn from(load: NativeFloorLoad) -> Load {
        Load {
            cpu: load.cpu_seconds_per_second,
            requests: load.requests_per_second,
        }
    }
}

/// A JS duration in milliseconds as the thread's whole milliseconds: truncated toward zero,
/// and at least 1 (NaN too), so that the thread never spins. `watch()` refuses an
/// `intervalMs` that is not above 0, so only fractions are cut.
fn whole_ms(ms: f64) -> u64 {
    ms.max(1.0) as u64
}

/// One kind's trend, as `NativeMonitor.trends()` gives it.
#[napi(object, use_nullable = true)]
pub struct NativeTrend {
    /// Which memory.
    #[napi(ts_type = "'heap' | 'external' | 'native'")]
    pub kind: String,
    /// The newest floor, in bytes.
    pub floor_bytes: f64,
    /// When it was taken, in epoch ms.
    pub floor_at: f64,
    /// The Theil–Sen slope, in bytes per second, on `scale`.
    pub slope_bytes_per_sec: f64,
    /// The time scale of the leak reported (see the `leak` event's `scale`), else `'minutes'`
    /// (the window of every floor kept).
    #[napi(ts_type = "'minutes' | 'quarter-hour' | 'hour' | 'hours' | 'day'")]
    pub scale: String,
    /// A leak was reported and the newest floors (of its scale) still rise at the minimum rate.
    pub leaking: bool,
    /// While `leaking`: when, at this slope, the floor reaches the nearest limit (its own, or
    /// the container's through RSS), in epoch ms; null otherwise or with no limit known.
    pub limit_at: Option<f64>,
}

/// A leak the thread found, new or worse than last reported: the fields of the watcher's
/// `leak` event but `time`, `pid` and `threadId`, which the watcher adds.
#[napi(object, use_nullable = true)]
pub struct NativeLeakEvent {
    /// The event's name.
    #[napi(ts_type = "'leak'")]
    pub r#type: String,
    /// Which memory grows.
    #[napi(ts_type = "'heap' | 'external' | 'native'")]
    pub kind: String,
    /// The growth rate (Theil–Sen slope of the window that shows it), in bytes per second.
    pub slope_bytes_per_sec: f64,
    /// 1 − p of the one-sided Mann–Kendall test for an upward trend.
    pub confidence: f64,
    /// Epoch ms of the oldest floor in the window that shows the growth.
    pub since: f64,
    /// The newest floor, in bytes.
    pub current: f64,
    /// The limit this memory runs into, when known.
    pub limit: Option<f64>,
    /// Epoch ms at which the floor would reach `limit` at this rate.
    pub projected_limit_at: Option<f64>,
    /// At this rate the heap limit, or the container's memory limit for RSS, is 15 minutes
    /// away or less: such a leak is reported within about a minute of its start.
    pub urgent: bool,
    /// The time scale whose window showed it: `'minutes'` (every floor kept, a few minutes at
    /// the defaults) or a slow scale, a floor of floors per bucket (see docs/watch.md, "Slow
    /// leaks"). The rate, projection and urgency are those of that window.
    #[napi(ts_type = "'minutes' | 'quarter-hour' | 'hour' | 'hours' | 'day'")]
    pub scale: String,
    /// How long that scale's kept points span, in ms: its nominal window (at the defaults
    /// 2 min, 16 min, 64 min, 4.3 h, 24 h), or longer where floors came rarely.
    pub scale_span_ms: f64,
    /// Which test showed it (see docs/watch.md): `'urgent'` or `'fast'`, a step test on the
    /// newest floors where the limit is near (15 minutes, 8 hours), or `'trend'`, the trend
    /// test on the window of `scale`.
    #[napi(ts_type = "'urgent' | 'fast' | 'trend'")]
    pub test: String,
}

/// RSS passed `rssThreshold` of the container's memory limit (reported again only once it
/// dropped back below): the fields of the watcher's `threshold` event of kind `rss` but `pid`
/// and `threadId`, which the watcher adds.
#[napi(object)]
pub struct NativeThresholdEvent {
    /// The event's name.
    #[napi(ts_type = "'threshold'")]
    pub r#type: String,
    /// What passed its threshold.
    #[napi(ts_type = "'rss'")]
    pub kind: String,
    /// When the thread read RSS, in epoch ms: the event's `time`.
    pub time: f64,
    /// RSS, in bytes.
    pub current: f64,
    /// The container's memory limit, in bytes.
    pub limit: f64,
}

/// What the thread reports, as `onEvent` receives it.
#[napi]
pub type NativeEvent = Either<NativeLeakEvent, NativeThresholdEvent>;

type EventCallback = ThreadsafeFunction<NativeEvent, (), NativeEvent, Status, false, true>;

/// The monitor thread. Events reach `onEvent(event)` on the JS thread.
#[napi]
pub struct NativeMonitor {
    inner: Arc<Mutex<Option<Monitor>>>,
}

#[napi]
impl NativeMonitor {
    /// Starts the thread.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        options: NativeMonitorOptions,
        on_event: Function<NativeEvent, ()>,
    ) -> Result<Self> {
        let callback: EventCallback = on_event
            .build_threadsafe_function::<NativeEvent>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let config = MonitorConfig {
            detector: DetectorConfig {
                window: options.window as usize,
                min_points: options.min_points as usize,
                warmup_ms: options.warmup_ms,
                warmup_ends_when_serving: options.warmup_ends_when_serving,
                min_duration_ms: options.min_duration_ms,
                min_growth_bytes: options.min_growth_bytes,
                min_rate_bytes_per_sec: options.min_rate_bytes_per_sec,
                confidence: options.confidence,
            },
            sample_interval_ms: whole_ms(options.interval_ms),
            rss_threshold: options.rss_threshold,
            started_at: options.started_at,
        };
        let sink = Box::new(move |event: MonitorEvent| {
            // Non-blocking into an unbounded queue: the thread never waits on JS, and a
            // call after the environment closed is simply dropped.
            callback.call(event_js(event), ThreadsafeFunctionCallMode::NonBlocking);
        });
        let monitor = Monitor::start(config, sink)
            .map_err(|e| Error::from_reason(format!("cannot start the monitor thread: {e}")))?;
        let inner = Arc::new(Mutex::new(Some(monitor)));
        let on_teardown = Arc::clone(&inner);
        env.add_env_cleanup_hook((), move |_| stop(&on_teardown))?;
        Ok(NativeMonitor { inner })
    }

    /// Records a floor taken after a full GC; `kind` is `"heap"` or `"external"`. `hold`:
    /// the growth is bounded caches filling up, so it is recorded but not judged yet.
    /// `load`: the work since the floor before, as far as it is known.
    #[napi]
    pub fn record_floor(
        &self,
        kind: String,
        time: f64,
        bytes: f64,
        limit: Option<f64>,
        hold: Option<bool>,
        load: Option<NativeFloorLoad>,
    ) -> Result<()> {
        let kind = match kind.as_str() {
            "heap" => MemoryKind::Heap,
            "external" => MemoryKind::External,
            other => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("floor kind must be 'heap' or 'external'; got {other:?}"),
                ))
            }
        };
        let load = load.map(Load::from).unwrap_or_default();
        self.with_running(|w| w.record_floor(kind, time, bytes, limit, hold.unwrap_or(false), load))
    }

    /// Records the heap's physical size, `external` and `arrayBuffers`, from which native
    /// memory is derived.
    #[napi]
    pub fn record_heap_resident(
        &self,
        heap_physical: f64,
        external: f64,
        array_buffers: f64,
    ) -> Result<()> {
        let resident = HeapResident {
            heap_physical,
            external,
            array_buffers,
        };
        self.with_running(|w| w.record_heap_resident(resident))
    }

    /// Takes no native floors until `resetNative()` (the process is about to move RSS
    /// itself, e.g. by writing a heap snapshot).
    #[napi]
    pub fn pause_native(&self) -> Result<()> {
        self.with_running(|w| w.pause_native())
    }

    /// Starts the native series afresh (after the process itself moved RSS, e.g. by
    /// writing a heap snapshot).
    #[napi]
    pub fn reset_native(&self) -> Result<()> {
        self.with_running(|w| w.reset_native())
    }

    /// Stops and joins the thread. Idempotent.
    #[napi]
    pub fn stop(&self) {
        stop(&self.inner);
    }

    /// How often, in milliseconds, floors are wanted while the heap or `external` floors hint
    /// at growth not reported yet; 0 when they do not. The JS side then forces full GCs
    /// that often (within its budget) to settle it.
    #[napi(getter)]
    pub fn wanted_floor_spacing_ms(&self) -> f64 {
        self.suspicion().map_or(0.0, |s| s.floor_spacing_ms)
    }

    /// Whether the growth suspected would reach the heap's or the container's limit within
    /// the urgent horizon (15 minutes): the JS side then spends more of its GC budget on
    /// the floors that settle it.
    #[napi(getter)]
    pub fn urgent_growth(&self) -> bool {
        self.suspicion().is_some_and(|s| s.urgent)
    }

    /// Each kind's newest floor, slope and whether a leak it reported still grows; kinds
    /// without floors yet are left out, and all of them after `stop()`.
    #[napi]
    pub fn trends(&self) -> Vec<NativeTrend> {
        let trends = self
            .inner
            .lock()
            .ok()
            .and_then(|w| w.as_ref().map(Monitor::trends))
            .unwrap_or_default();
        trends
            .into_iter()
            .map(|(kind, t)| NativeTrend {
                kind: kind.name().to_string(),
                floor_bytes: t.floor_bytes,
                floor_at: t.floor_at,
                slope_bytes_per_sec: t.slope_bytes_per_sec,
                scale: t.scale.name.to_string(),
                leaking: t.leaking,
                limit_at: t.limit_at,
            })
            .collect()
    }

    /// Whether the thread is running.
    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.inner.lock().map(|w| w.is_some()).unwrap_or(false)
    }
}

impl NativeMonitor {
    /// The thread's suspicion of growth, while it runs.
    fn suspicion(&self) -> Option<Suspicion> {
        self.inner
            .lock()
            .ok()
            .and_then(|w| w.as_ref().and_then(Monitor::suspicion))
    }

    /// Calls `f` on the thread's handle while it runs; after `stop()`, does nothing.
    fn with_running(&self, f: impl FnOnce(&Monitor)) -> Result<()> {
        if let Some(w) = self.inner.lock().map_err(|_| poisoned())?.as_ref() {
            f(w);
        }
        Ok(())
    }
}

fn stop(inner: &Mutex<Option<Monitor>>) {
    let monitor = inner.lock().ok().and_then(|mut w| w.take());
    if let Some(mut monitor) = monitor {
        monitor.stop();
    }
}

fn poisoned() -> Error {
    Error::from_reason("monitor state is poisoned by an earlier panic")
}

fn event_js(event: MonitorEvent) -> NativeEvent {
    match event {
        MonitorEvent::Leak(leak) => Either::A(leak_js(leak)),
        MonitorEvent::RssThreshold { time, rss, limit } => Either::B(NativeThresholdEvent {
            r#type: "threshold".to_string(),
            kind: "rss".to_string(),
            time,
            current: rss,
            limit,
        }),
    }
}

fn leak_js(leak: Leak) -> NativeLeakEvent {
    NativeLeakEvent {
        r#type: "leak".to_string(),
        kind: leak.kind.name().to_string(),
        slope_bytes_per_sec: leak.slope_bytes_per_sec,
        confidence: leak.confidence,
        since: leak.since,
        current: leak.current,
        limit: leak.limit,
        projected_limit_at: leak.projected_limit_at,
        urgent: leak.urgent,
        scale: leak.scale.name.to_string(),
        scale_span_ms: leak.scale_span_ms,
        test: leak.test.name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::core::detect::detector::MemoryKind;
    use crate::core::detect::scales::{MINUTES, SLOW_SCALES};

    /// The unions of `ts_type` above, as the generated binding.d.ts has them: each `kind` and
    /// `scale` field's, checked in and rebuilt by `npm run build`.
    fn declared_unions(field: &str) -> Vec<Vec<String>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/binding.d.ts");
        let dts = std::fs::read_to_string(path).expect("binding.d.ts: run npm run build");
        dts.lines()
            .filter_map(|line| line.trim().strip_prefix(&format!("{field}: '")))
            .map(|union| {
                let mut names: Vec<String> = format!("'{union}")
                    .split(" | ")
                    .map(|n| n.trim_matches('\'').to_string())
                    .collect();
                names.sort();
                names
            })
            .collect()
    }

    #[test]
    fn the_generated_scale_and_kind_types_name_what_the_core_has() {
        let mut scales: Vec<String> = std::iter::once(MINUTES)
            .chain(SLOW_SCALES)
            .map(|s| s.name.to_string())
            .collect();
        scales.sort();
        let scale_unions = declared_unions("scale");
        assert_eq!(scale_unions.len(), 2, "NativeTrend's and NativeLeakEvent's");
        for union in scale_unions {
            assert_eq!(union, scales, "edit the ts_type of `scale` in monitor.rs");
        }
        let kind = |k: MemoryKind| match k {
            MemoryKind::Heap | MemoryKind::External | MemoryKind::Native => k.name().to_string(),
        };
        let mut kinds: Vec<String> = [MemoryKind::Heap, MemoryKind::External, MemoryKind::Native]
            .map(kind)
            .to_vec();
        kinds.sort();
        let memory_kinds = declared_unions("kind")
            .into_iter()
            .filter(|u| u.len() > 1 && u.contains(&kinds[0]));
        assert_eq!(
            memory_kinds.clone().count(),
            2,
            "NativeTrend's and NativeLeakEvent's"
        );
        for union in memory_kinds {
            assert_eq!(union, kinds, "edit the ts_type of `kind` in monitor.rs");
        }
    }
}
