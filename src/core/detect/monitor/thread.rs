//! The monitor thread's loop: floors from the JS side go to their series, memory is read
//! every reading interval for the native series and the RSS threshold, and what the series
//! show is published for other threads to read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::events::{
    HeapResident, MemoryReader, MonitorConfig, MonitorEvent, RssThreshold, Sink,
    NATIVE_MIN_GROWTH_BYTES,
};
use crate::core::detect::detector::{
    Assessment, DetectorConfig, MemoryKind, Series, Suspicion, Trend,
};
use crate::core::detect::scales::Load;
use crate::core::detect::threshold::Threshold;

/// The native memory V8 takes per byte of heap pages it adds (page metadata, slot sets,
/// its threads' worklists): native growth no larger than this share of the rise of the
/// heap's peak physical size over the same span is V8's, not a leak. A healthy http service
/// with a GC sawtooth on Node 24 took 2.0-2.6% (5-8 MB as its RSS, mostly heap pages, rose 250-330 MB
/// in 10 s); 1/16 leaves that a margin of 2.4.
const V8_NATIVE_SHARE_OF_HEAP_PAGES: f64 = 1.0 / 16.0;

/// Heap physical sizes as the JS side reported them, for how far the heap's peak rose over a
/// span (see [`V8_NATIVE_SHARE_OF_HEAP_PAGES`]).
#[derive(Debug, Default)]
pub(super) struct HeapPeaks {
    /// `(epoch ms, heap physical bytes)`, oldest first; at most [`HEAP_PEAKS_KEPT`].
    recent: VecDeque<(f64, f64)>,
    /// The largest size among those dropped from `recent`.
    dropped_peak: Option<f64>,
}

/// Sizes kept one by one: more than any window of floors spans (one per reading).
pub(super) const HEAP_PEAKS_KEPT: usize = 4096;

impl HeapPeaks {
    /// Records the heap's physical size at `time`.
    pub(super) fn record(&mut self, time: f64, bytes: f64) {
        if self.recent.len() == HEAP_PEAKS_KEPT {
            if let Some((_, old)) = self.recent.pop_front() {
                self.dropped_peak = Some(self.dropped_peak.map_or(old, |p| p.max(old)));
            }
        }
        self.recent.push_back((time, bytes));
    }

    /// How far the largest size after `since` exceeds the largest at or before it (the
    /// oldest one kept when none is that old); 0 when it does not, or nothing is known.
    pub(super) fn rise_since(&self, since: f64) -> f64 {
        let mut before = self.dropped_peak;
        let mut after: Option<f64> = None;
        for &(time, bytes) in &self.recent {
            let side = if time <= since {
                &mut before
            } else {
                &mut after
            };
            *side = Some(side.map_or(bytes, |p| p.max(bytes)));
        }
        let before = before.or_else(|| self.recent.front().map(|&(_, b)| b));
        match (before, after) {
            (Some(before), Some(after)) => (after - before).max(0.0),
            _ => 0.0,
        }
    }
}

/// A floor the JS side took (see [`super::Monitor::record_floor`]).
pub(super) struct Floor {
    pub(super) kind: MemoryKind,
    pub(super) time: f64,
    pub(super) bytes: f64,
    pub(super) limit: Option<f64>,
    pub(super) hold: bool,
    pub(super) load: Load,
}

/// What the handle sends the thread.
pub(super) enum Message {
    Floor(Floor),
    HeapResident(HeapResident),
    PauseNative,
    ResetNative,
    Stop,
}

/// The thread's suspicion of heap or `external` growth, read from other threads.
#[derive(Default)]
pub(super) struct SharedSuspicion {
    /// Bits of the f64 floor spacing wanted while growth is suspected; 0.0 when it is not.
    floor_spacing_ms: AtomicU64,
    /// Whether the suspected growth would reach a limit within the urgent horizon.
    urgent: AtomicBool,
}

impl SharedSuspicion {
    /// Publishes the suspicion of the series: the shortest spacing any wants, urgent if any is.
    fn publish(&self, series: &[&Series], config: &DetectorConfig) {
        let suspicions: Vec<Suspicion> =
            series.iter().filter_map(|s| s.suspicion(config)).collect();
        let spacing = suspicions
            .iter()
            .map(|s| s.floor_spacing_ms)
            .reduce(f64::min)
            .unwrap_or(0.0);
        self.floor_spacing_ms
            .store(spacing.to_bits(), Ordering::Relaxed);
        self.urgent
            .store(suspicions.iter().any(|s| s.urgent), Ordering::Relaxed);
    }

    /// The suspicion last published; `None` when there is none.
    pub(super) fn load(&self) -> Option<Suspicion> {
        let floor_spacing_ms = f64::from_bits(self.floor_spacing_ms.load(Ordering::Relaxed));
        (floor_spacing_ms > 0.0).then(|| Suspicion {
            floor_spacing_ms,
            urgent: self.urgent.load(Ordering::Relaxed),
        })
    }
}

/// The newest trend of each series (heap, external, native), read from other threads.
pub(super) type SharedTrends = Mutex<[Option<Trend>; 3]>;

/// What the thread publishes for other threads to read.
pub(super) struct Shared {
    pub(super) suspicion: Arc<SharedSuspicion>,
    pub(super) trends: Arc<SharedTrends>,
}

/// Epoch milliseconds now.
pub(super) fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The monitor's time, for the readings it takes itself (native floors, heap peaks, RSS
/// threshold events): the system's, moved by how far the watcher's clock was from it at the
/// newest floor the watcher sent (0 until one comes), so that a watcher on an injected clock
/// gets native readings on that clock's time line. It never goes back.
#[derive(Default)]
struct WatcherTime {
    offset_ms: f64,
    last_ms: f64,
}

impl WatcherTime {
    /// The watcher's time now, as the monitor reckons it.
    fn now(&mut self) -> f64 {
        self.last_ms = (now_ms() + self.offset_ms).max(self.last_ms);
        self.last_ms
    }

    /// The watcher's clock read `reading_ms` just now.
    fn follow(&mut self, reading_ms: f64) {
        self.offset_ms = reading_ms - now_ms();
    }
}

/// The thread: handles messages until `Stop` (or the handle is gone), and reads memory every
/// reading interval in between.
pub(super) fn run(
    config: MonitorConfig,
    rx: Receiver<Message>,
    sink: Sink,
    reader: MemoryReader,
    shared: Shared,
) {
    let interval = config.reading_interval();
    let mut state = State::new(config, sink, reader, shared);
    let mut next_reading = Instant::now();
    loop {
        let wait = next_reading.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Message::Floor(floor)) => state.floor(floor),
            Ok(Message::PauseNative) => state.native_paused = true,
            Ok(Message::ResetNative) => {
                state.native_paused = false;
                state.native = Series::new(MemoryKind::Native, state.config.started_at);
            }
            Ok(Message::HeapResident(resident)) => {
                let now = state.time.now();
                state.heap_peaks.record(now, resident.heap_physical);
                state.heap_resident = Some(resident);
            }
            Err(RecvTimeoutError::Timeout) => {
                next_reading += interval;
                state.read_memory();
            }
        }
    }
}

/// All the thread keeps.
struct State {
    config: MonitorConfig,
    /// The detector's tuning for native memory: at least [`NATIVE_MIN_GROWTH_BYTES`] of growth.
    native_config: DetectorConfig,
    sink: Sink,
    reader: MemoryReader,
    shared: Shared,
    heap: Series,
    external: Series,
    native: Series,
    heap_resident: Option<HeapResident>,
    heap_peaks: HeapPeaks,
    rss_threshold: Threshold,
    native_paused: bool,
    /// The load that came with the newest heap floor, for the native floors taken between.
    latest_load: Load,
    time: WatcherTime,
}

impl State {
    fn new(config: MonitorConfig, sink: Sink, reader: MemoryReader, shared: Shared) -> State {
        let native_config = DetectorConfig {
            min_growth_bytes: config
                .detector
                .min_growth_bytes
                .max(NATIVE_MIN_GROWTH_BYTES),
            ..config.detector.clone()
        };
        State {
            rss_threshold: Threshold::new(config.rss_threshold),
            heap: Series::new(MemoryKind::Heap, config.started_at),
            external: Series::new(MemoryKind::External, config.started_at),
            native: Series::new(MemoryKind::Native, config.started_at),
            config,
            native_config,
            sink,
            reader,
            shared,
            heap_resident: None,
            heap_peaks: HeapPeaks::default(),
            native_paused: false,
            latest_load: Load::default(),
            time: WatcherTime::default(),
        }
    }

    /// A floor from the JS side: into its series, judged unless held, then published.
    fn floor(&mut self, floor: Floor) {
        self.time.follow(floor.time);
        if floor.load.is_known() {
            self.latest_load = floor.load;
        }
        let detector = &self.config.detector;
        let series = match floor.kind {
            MemoryKind::Heap => &mut self.heap,
            MemoryKind::External => &mut self.external,
            MemoryKind::Native => &mut self.native,
        };
        series.push_with_load(detector, floor.time, floor.bytes, floor.load);
        series.set_own_limit(floor.limit);
        if floor.hold {
            series.hold();
            // The heap growing into its known ceiling moves RSS too: native
            // floors from meanwhile are set aside with it.
            self.native.hold();
        } else if let Some(leak) = series.evaluate(detector) {
            (self.sink)(MonitorEvent::Leak(leak));
        }
        self.shared
            .suspicion
            .publish(&[&self.heap, &self.external], detector);
        self.publish_trends();
    }

    /// A reading of memory: the limits every series runs into, a native floor, and the RSS
    /// threshold.
    fn read_memory(&mut self) {
        let memory = (self.reader)(self.heap_resident.is_some() && !self.native_paused);
        let time = self.time.now();
        let (Some(rss), limit) = (memory.rss, memory.container_limit) else {
            return;
        };
        let rss = rss as f64;
        let limit = limit.map(|l| l as f64);
        let rss_headroom = limit.map(|l| l - rss);
        for series in [&mut self.heap, &mut self.external, &mut self.native] {
            series.set_rss_headroom(rss_headroom);
        }
        self.native.set_own_limit(limit);
        let native_bytes = self
            .heap_resident
            .filter(|_| !self.native_paused)
            .and_then(|resident| resident.native_bytes(rss, memory.malloc_in_use));
        if let Some(native_bytes) = native_bytes {
            self.native_floor(time, native_bytes);
        }
        if let Some(limit) = limit.filter(|&limit| self.rss_threshold.crossed(rss, limit)) {
            (self.sink)(MonitorEvent::RssThreshold(RssThreshold {
                time,
                current: rss,
                limit,
            }));
        }
    }

    /// A native floor: judged unless the heap's growth explains it, then published.
    fn native_floor(&mut self, time: f64, native_bytes: f64) {
        self.native
            .push_with_load(&self.native_config, time, native_bytes, self.latest_load);
        let explained = self
            .native
            .assess(&self.native_config)
            .is_some_and(|n| self.heap_explains(&n, time));
        if !explained {
            if let Some(leak) = self.native.evaluate(&self.native_config) {
                (self.sink)(MonitorEvent::Leak(leak));
            }
        }
        self.publish_trends();
    }

    /// Whether native growth `n`, up to `time`, is the heap's rather than a native leak.
    ///
    /// A growing heap makes V8 grow memory of its own outside the heap's pages (remembered
    /// sets, marking worklists, allocator arenas of its threads): native growth beside heap or
    /// external growth that is suspected and not judged yet, or significant and no slower, is
    /// theirs, not a native leak of its own. (Native is read every interval, the heap only
    /// after full GCs, so native growth is often significant first; a suspicion is judged
    /// within the minimum duration, one way or the other.) Nor is native growth that is a
    /// small share of the heap's pages added meanwhile, whatever its floors do: V8's
    /// bookkeeping of those pages.
    fn heap_explains(&self, n: &Assessment, time: f64) -> bool {
        let detector = &self.config.detector;
        let grown = n.slope_bytes_per_sec * n.span_ms / 1000.0;
        let pages_added = self.heap_peaks.rise_since(time - n.span_ms);
        grown <= pages_added * V8_NATIVE_SHARE_OF_HEAP_PAGES
            || [&self.heap, &self.external].iter().any(|s| {
                s.suspicion(detector).is_some()
                    || s.assess(detector).is_some_and(|a| {
                        a.confidence >= detector.confidence
                            && a.slope_bytes_per_sec >= n.slope_bytes_per_sec
                    })
            })
    }

    /// Publishes each series' trend; the native one with its own configuration.
    fn publish_trends(&self) {
        let now = [
            self.heap.trend(&self.config.detector),
            self.external.trend(&self.config.detector),
            self.native.trend(&self.native_config),
        ];
        if let Ok(mut shared) = self.shared.trends.lock() {
            *shared = now;
        }
    }
}
