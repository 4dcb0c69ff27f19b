//! `NativeMonitor`: the JS handle on the monitor thread of `core::detect::monitor`. Events come
//! back to JS as JSON strings through a weak threadsafe function, so the thread never
//! keeps the event loop alive; the thread is stopped by `stop()`, by the finalizer, or
//! when the environment (the process, or a worker thread) is torn down.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::json;

use crate::core::detect::detector::{DetectorConfig, MemoryKind, Suspicion};
use crate::core::detect::monitor::{HeapResident, Monitor, MonitorConfig, MonitorEvent};

/// Settings of the native monitor thread (validated by the JS `watch()`).
#[napi(object)]
pub struct NativeMonitorOptions {
    /// Floors kept per series.
    pub window: u32,
    /// Floors needed before judging.
    pub min_points: u32,
    /// Floors before `startedAt + warmupMs` are ignored.
    pub warmup_ms: f64,
    /// The window must span at least this many milliseconds.
    pub min_duration_ms: f64,
    /// Growth over the window must reach this many bytes.
    pub min_growth_bytes: f64,
    /// The slope must reach this many bytes per second.
    pub min_rate_bytes_per_sec: f64,
    /// Required confidence in an upward trend, in (0, 1).
    pub confidence: f64,
    /// How often the thread reads RSS and the container's memory.
    pub sample_interval_ms: f64,
    /// Fraction of the container limit at which RSS raises a threshold event.
    pub rss_threshold: f64,
    /// Epoch milliseconds at which the warm-up starts.
    pub started_at: f64,
}

/// One kind's trend, as `NativeMonitor.trends()` gives it.
#[napi(object)]
pub struct NativeTrend {
    /// `heap`, `external` or `native`.
    pub kind: String,
    /// The newest floor, in bytes.
    pub floor_bytes: f64,
    /// When it was taken, in epoch milliseconds.
    pub floor_at: f64,
    /// The Theil–Sen slope, in bytes per second, on `scale`.
    pub slope_bytes_per_sec: f64,
    /// The time scale the slope is measured on: that of the leak reported (see the `leak`
    /// event's `scale`), else `minutes`, the window of every floor kept.
    pub scale: String,
    /// A leak was reported and the newest floors still rise at the minimum rate.
    pub leaking: bool,
    /// When, at this slope, the newest floor reaches the nearest limit (its own, or the
    /// container's through RSS), in epoch ms, while `leaking`; null otherwise, or when no limit
    /// is known.
    pub limit_at: Option<f64>,
}

type EventCallback = ThreadsafeFunction<String, (), String, Status, false, true>;

/// The monitor thread. Events reach `onEvent(json)` on the JS thread.
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
        on_event: Function<String, ()>,
    ) -> Result<Self> {
        let callback: EventCallback = on_event
            .build_threadsafe_function::<String>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let config = MonitorConfig {
            detector: DetectorConfig {
                window: options.window as usize,
                min_points: options.min_points as usize,
                warmup_ms: options.warmup_ms,
                min_duration_ms: options.min_duration_ms,
                min_growth_bytes: options.min_growth_bytes,
                min_rate_bytes_per_sec: options.min_rate_bytes_per_sec,
                confidence: options.confidence,
            },
            sample_interval_ms: options.sample_interval_ms.max(1.0) as u64,
            rss_threshold: options.rss_threshold,
            started_at: options.started_at,
        };
        let sink = Box::new(move |event: MonitorEvent| {
            // Non-blocking into an unbounded queue: the thread never waits on JS, and a
            // call after the environment closed is simply dropped.
            callback.call(event_json(&event), ThreadsafeFunctionCallMode::NonBlocking);
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
    /// `load`: the CPU time the thread used a second since the floor before.
    #[napi]
    pub fn record_floor(
        &self,
        kind: String,
        time: f64,
        bytes: f64,
        limit: Option<f64>,
        hold: Option<bool>,
        load: Option<f64>,
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

fn event_json(event: &MonitorEvent) -> String {
    match event {
        MonitorEvent::Leak(leak) => json!({
            "type": "leak",
            "kind": leak.kind.name(),
            "slopeBytesPerSec": leak.slope_bytes_per_sec,
            "confidence": leak.confidence,
            "since": leak.since,
            "current": leak.current,
            "limit": leak.limit,
            "projectedLimitAt": leak.projected_limit_at,
            "urgent": leak.urgent,
            "scale": leak.scale.name,
            "scaleSpanMs": leak.scale_span_ms,
        }),
        MonitorEvent::RssThreshold { time, rss, limit } => json!({
            "type": "threshold",
            "kind": "rss",
            "time": time,
            "current": rss,
            "limit": limit,
        }),
    }
    .to_string()
}
