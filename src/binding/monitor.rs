//! `NativeMonitor`: the JS handle on the monitor thread of `core::detect::monitor`. Events come
//! back to JS as the core's own `Leak` and `RssThreshold` through weak threadsafe functions,
//! so the thread never keeps the event loop alive; the thread is stopped
//! by `stop()`, by the finalizer, or when the environment (the process, or a worker thread) is
//! torn down.

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::core::detect::detector::{Leak, MemoryKind, Suspicion, Trend};
use crate::core::detect::monitor::{
    HeapResident, Monitor, MonitorConfig, MonitorEvent, RssThreshold,
};
use crate::core::detect::scales::Load;
use crate::core::detect::threshold::Threshold;

type LeakCallback = ThreadsafeFunction<Leak, (), Leak, Status, false, true>;
type ThresholdCallback = ThreadsafeFunction<RssThreshold, (), RssThreshold, Status, false, true>;

/// The monitor thread. Its events reach `onLeak(leak)` and `onRssThreshold(threshold)` on the
/// JS thread.
#[napi]
pub struct NativeMonitor {
    inner: Arc<Mutex<Option<Monitor>>>,
    heap_threshold: Mutex<Threshold>,
}

#[napi]
impl NativeMonitor {
    /// Starts the thread.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        config: MonitorConfig,
        on_leak: Function<Leak, ()>,
        on_rss_threshold: Function<RssThreshold, ()>,
    ) -> Result<Self> {
        let on_leak: LeakCallback = on_leak
            .build_threadsafe_function::<Leak>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let on_rss_threshold: ThresholdCallback = on_rss_threshold
            .build_threadsafe_function::<RssThreshold>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let heap_threshold = config.heap_threshold;
        let sink = Box::new(move |event: MonitorEvent| {
            // Non-blocking into an unbounded queue: the thread never waits on JS, and a
            // call after the environment closed is simply dropped.
            let mode = ThreadsafeFunctionCallMode::NonBlocking;
            match event {
                MonitorEvent::Leak(leak) => on_leak.call(leak, mode),
                MonitorEvent::RssThreshold(threshold) => on_rss_threshold.call(threshold, mode),
            };
        });
        let monitor = Monitor::start(config, sink)
            .map_err(|e| Error::from_reason(format!("cannot start the monitor thread: {e}")))?;
        let inner = Arc::new(Mutex::new(Some(monitor)));
        let on_teardown = Arc::clone(&inner);
        env.add_env_cleanup_hook((), move |_| stop(&on_teardown))?;
        Ok(NativeMonitor {
            inner,
            heap_threshold: Mutex::new(Threshold::new(heap_threshold)),
        })
    }

    /// Records a floor taken after a full GC; `kind` is `'heap'` or `'external'`. `hold`:
    /// the growth is bounded caches filling up, so it is recorded but not judged yet.
    /// `load`: the work since the floor before, as far as it is known.
    #[napi]
    pub fn record_floor(
        &self,
        kind: MemoryKind,
        time: f64,
        bytes: f64,
        limit: Option<f64>,
        hold: Option<bool>,
        load: Option<Load>,
    ) -> Result<()> {
        if kind == MemoryKind::Native {
            return Err(Error::new(
                Status::InvalidArg,
                "floor kind must be 'heap' or 'external': the thread takes native floors itself",
            ));
        }
        let load = load.unwrap_or_default();
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

    /// Whether the heap floor `heap` crosses `heapThreshold` of `limit` upwards: the JS side then
    /// emits the heap's `threshold` event, by the rule the thread applies to RSS.
    #[napi]
    pub fn crossed_heap_threshold(&self, heap: f64, limit: f64) -> bool {
        self.heap_threshold
            .lock()
            .is_ok_and(|mut threshold| threshold.crossed(heap, limit))
    }

    /// Whether the newest heap floor was at or above `heapThreshold` of its limit.
    #[napi(getter)]
    pub fn heap_above_threshold(&self) -> bool {
        self.heap_threshold
            .lock()
            .is_ok_and(|threshold| threshold.is_above())
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
    pub fn trends(&self) -> Vec<Trend> {
        self.inner
            .lock()
            .ok()
            .and_then(|w| w.as_ref().map(Monitor::trends))
            .unwrap_or_default()
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
