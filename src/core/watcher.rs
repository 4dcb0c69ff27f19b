//! The watcher's background thread: it owns the three detector series, reads RSS and
//! the container's memory on its own schedule, and sends events out through a sink.
//!
//! The JS side sends it heap and `external` floors (taken after full GCs), the heap's
//! physical size and the bytes of ArrayBuffers; the thread derives the native series, runs
//! the statistics, and checks RSS against the container limit. Native memory is what
//! `malloc` holds beyond ArrayBuffers where glibc says (`mallinfo2`), otherwise RSS less the
//! heap's physical size and `external`: from V8 12 (Node 24) on, pages a full GC frees stay
//! resident in V8's pool outside the heap's physical size, so RSS rises in healthy services.
//! The thread never touches JS: events go to a `Sink`, which the binding turns into calls on
//! the JS thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::detector::{DetectorConfig, Leak, MemoryKind, Series, Suspicion, Trend};
use super::sysmem::{self, MallocCount, SystemMemory};

/// The least growth a native leak must show, whatever `min_growth_bytes` says: native memory
/// moves by a few MB in healthy services as they warm up and as their heap grows (measured in
/// docs/benchmarks.md, "Native memory: RSS outside the heap no longer works from Node 24 on"), and that drift is no leak.
pub const NATIVE_MIN_GROWTH_BYTES: f64 = 8.0 * 1024.0 * 1024.0;

/// The native memory V8 takes per byte of heap pages it adds (page metadata, slot sets,
/// its threads' worklists): native growth no larger than this share of the rise of the
/// heap's peak physical size over the same span is V8's, not a leak. A healthy http service
/// with a GC sawtooth on Node 24 took 2.0-2.6% (5-8 MB as its RSS, mostly heap pages, rose 250-330 MB
/// in 10 s); 1/16 leaves that a margin of 2.4.
const V8_NATIVE_SHARE_OF_HEAP_PAGES: f64 = 1.0 / 16.0;

/// Heap physical sizes as the JS side reported them, for how far the heap's peak rose over a
/// span (see [`V8_NATIVE_SHARE_OF_HEAP_PAGES`]).
#[derive(Debug, Default)]
struct HeapPeaks {
    /// `(epoch ms, heap physical bytes)`, oldest first; at most [`HEAP_PEAKS_KEPT`].
    recent: std::collections::VecDeque<(f64, f64)>,
    /// The largest size among those dropped from `recent`.
    dropped_peak: Option<f64>,
}

/// Sizes kept one by one: more than any window of floors spans (one per sample).
const HEAP_PEAKS_KEPT: usize = 4096;

impl HeapPeaks {
    fn record(&mut self, time: f64, bytes: f64) {
        if self.recent.len() == HEAP_PEAKS_KEPT {
            if let Some((_, old)) = self.recent.pop_front() {
                self.dropped_peak = Some(self.dropped_peak.map_or(old, |p| p.max(old)));
            }
        }
        self.recent.push_back((time, bytes));
    }

    /// How far the largest size after `since` exceeds the largest at or before it (the
    /// oldest one kept when none is that old); 0 when it does not, or nothing is known.
    fn rise_since(&self, since: f64) -> f64 {
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

/// Settings of the watcher thread.
#[derive(Debug, Clone, PartialEq)]
pub struct WatcherConfig {
    /// The detector's tuning, shared by the three series.
    pub detector: DetectorConfig,
    /// How often the thread reads RSS and the container's memory, in milliseconds.
    pub sample_interval_ms: u64,
    /// Fraction of the container limit at which RSS raises a threshold event.
    pub rss_threshold: f64,
    /// Epoch milliseconds at which warm-up starts.
    pub started_at: f64,
}

/// What the thread reports.
#[derive(Debug, Clone, PartialEq)]
pub enum WatcherEvent {
    /// A leak, new or worse.
    Leak(Leak),
    /// RSS crossed `rss_threshold` of the container limit (reported again only after it
    /// has dropped back below).
    RssThreshold {
        /// Epoch milliseconds.
        time: f64,
        /// Resident set size.
        rss: f64,
        /// The container limit.
        limit: f64,
    },
}

/// Where the thread sends events. Called on the watcher thread.
pub type Sink = Box<dyn Fn(WatcherEvent) + Send + 'static>;

/// Where the thread reads RSS from; the real `/proc` in production. The argument says whether
/// `malloc`'s figures are wanted (not while native floors are paused: counting them costs).
pub type MemoryReader = Box<dyn Fn(bool) -> SystemMemory + Send + 'static>;

/// What the JS heap and the ArrayBuffers hold, as the JS side last read it (bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeapResident {
    /// The heap's physical size (`total_physical_size`): its pages in RSS.
    pub heap_physical: f64,
    /// `external`: memory outside the heap that V8 was told JS objects hold.
    pub external: f64,
    /// `arrayBuffers`: the part of it that backs ArrayBuffers and Buffers, all from `malloc`.
    pub array_buffers: f64,
}

impl HeapResident {
    /// Native memory: what `malloc` holds beyond ArrayBuffers where glibc says, otherwise
    /// RSS less the heap's pages and `external`; `None` when glibc's count was deferred.
    fn native_bytes(&self, rss: f64, malloc_in_use: MallocCount) -> Option<f64> {
        match malloc_in_use {
            MallocCount::Bytes(in_use) => Some(in_use as f64 - self.array_buffers),
            MallocCount::Unknown => Some(rss - self.heap_physical - self.external),
            MallocCount::Deferred => None,
        }
    }
}

enum Message {
    Floor {
        kind: MemoryKind,
        time: f64,
        bytes: f64,
        limit: Option<f64>,
        hold: bool,
        load: Option<f64>,
    },
    HeapResident(HeapResident),
    PauseNative,
    ResetNative,
    Stop,
}

/// The thread's suspicion of heap or `external` growth, read from other threads.
#[derive(Default)]
struct SharedSuspicion {
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

    fn load(&self) -> Option<Suspicion> {
        let floor_spacing_ms = f64::from_bits(self.floor_spacing_ms.load(Ordering::Relaxed));
        (floor_spacing_ms > 0.0).then(|| Suspicion {
            floor_spacing_ms,
            urgent: self.urgent.load(Ordering::Relaxed),
        })
    }
}

/// The newest trend of each series (heap, external, native), read from other threads.
type SharedTrends = Mutex<[Option<Trend>; 3]>;

/// Publishes each series' trend; the native one with its own configuration.
fn publish_trends(
    trends: &SharedTrends,
    [heap, external, native]: [&Series; 3],
    config: &DetectorConfig,
    native_config: &DetectorConfig,
) {
    let now = [
        heap.trend(config),
        external.trend(config),
        native.trend(native_config),
    ];
    if let Ok(mut shared) = trends.lock() {
        *shared = now;
    }
}

/// A running watcher thread. Dropping it stops and joins the thread.
pub struct Watcher {
    tx: Sender<Message>,
    thread: Option<JoinHandle<()>>,
    suspicion: Arc<SharedSuspicion>,
    trends: Arc<SharedTrends>,
}

impl Watcher {
    /// Starts the thread with the real memory reader.
    pub fn start(config: WatcherConfig, sink: Sink) -> std::io::Result<Self> {
        Self::start_with_reader(config, sink, Box::new(sysmem::read_own_memory))
    }

    /// Starts the thread reading memory through `reader` (tests inject one).
    pub fn start_with_reader(
        config: WatcherConfig,
        sink: Sink,
        reader: MemoryReader,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let suspicion = Arc::new(SharedSuspicion::default());
        let trends = Arc::new(SharedTrends::default());
        let shared = Shared {
            suspicion: Arc::clone(&suspicion),
            trends: Arc::clone(&trends),
        };
        let thread = std::thread::Builder::new()
            .name("leakproof-watcher".into())
            .spawn(move || run(config, rx, sink, reader, &shared))?;
        Ok(Watcher {
            tx,
            thread: Some(thread),
            suspicion,
            trends,
        })
    }

    /// Records a floor of `kind` (heap or external) taken after a full GC. With `hold`, the
    /// caller knows the growth has a ceiling for now (see [`Series::hold`]). `load`: the
    /// CPU time the thread used a second since the floor before, when known (see
    /// [`Series::push_with_load`]).
    pub fn record_floor(
        &self,
        kind: MemoryKind,
        time: f64,
        bytes: f64,
        limit: Option<f64>,
        hold: bool,
        load: Option<f64>,
    ) {
        let _ = self.tx.send(Message::Floor {
            kind,
            time,
            bytes,
            limit,
            hold,
            load,
        });
    }

    /// Tells the thread what the heap and the ArrayBuffers hold, to derive native memory.
    pub fn record_heap_resident(&self, resident: HeapResident) {
        let _ = self.tx.send(Message::HeapResident(resident));
    }

    /// Takes no native floors until [`Watcher::reset_native`]: the process is about to
    /// move RSS on purpose (writing a heap snapshot needs several times the heap).
    pub fn pause_native(&self) {
        let _ = self.tx.send(Message::PauseNative);
    }

    /// Forgets the native series' floors and takes them again: after something the process
    /// did on purpose moved RSS (writing a heap snapshot needs several times the heap, and
    /// the allocator keeps much of it), the old floors no longer compare with the new ones.
    pub fn reset_native(&self) {
        let _ = self.tx.send(Message::ResetNative);
    }

    /// Stops the thread and waits for it. Safe to call more than once.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.tx.send(Message::Stop);
            let _ = thread.join();
        }
    }

    /// How often floors are wanted, and whether it is urgent, while the heap or `external`
    /// floors hint at growth not reported yet (see [`Series::suspicion`]); `None` when they
    /// do not.
    pub fn suspicion(&self) -> Option<Suspicion> {
        self.suspicion.load()
    }

    /// The newest trend of each kind that has floors: heap, external, native, in that order.
    pub fn trends(&self) -> Vec<(MemoryKind, Trend)> {
        let kinds = [MemoryKind::Heap, MemoryKind::External, MemoryKind::Native];
        let trends = self.trends.lock().map(|t| *t).unwrap_or_default();
        kinds
            .into_iter()
            .zip(trends)
            .filter_map(|(kind, trend)| Some((kind, trend?)))
            .collect()
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// What the thread publishes for other threads to read.
struct Shared {
    suspicion: Arc<SharedSuspicion>,
    trends: Arc<SharedTrends>,
}

fn run(
    config: WatcherConfig,
    rx: Receiver<Message>,
    sink: Sink,
    reader: MemoryReader,
    shared: &Shared,
) {
    let mut heap = Series::new(MemoryKind::Heap, config.started_at);
    let mut external = Series::new(MemoryKind::External, config.started_at);
    let mut native = Series::new(MemoryKind::Native, config.started_at);
    let mut heap_resident: Option<HeapResident> = None;
    let mut heap_peaks = HeapPeaks::default();
    let mut above_rss_threshold = false;
    let mut native_paused = false;
    // The load that came with the newest heap floor, for the native floors taken between.
    let mut latest_load: Option<f64> = None;
    let native_config = DetectorConfig {
        min_growth_bytes: config
            .detector
            .min_growth_bytes
            .max(NATIVE_MIN_GROWTH_BYTES),
        ..config.detector.clone()
    };
    let interval = Duration::from_millis(config.sample_interval_ms.max(1));
    let mut next_sample = std::time::Instant::now();
    loop {
        let wait = next_sample.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Message::Floor {
                kind,
                time,
                bytes,
                limit,
                hold,
                load,
            }) => {
                if load.is_some() {
                    latest_load = load;
                }
                let series = match kind {
                    MemoryKind::Heap => &mut heap,
                    MemoryKind::External => &mut external,
                    MemoryKind::Native => &mut native,
                };
                series.push_with_load(&config.detector, time, bytes, load);
                series.set_own_limit(limit);
                if hold {
                    series.hold();
                    // The heap growing into its known ceiling moves RSS too: native
                    // floors from meanwhile are set aside with it.
                    native.hold();
                } else if let Some(leak) = series.evaluate(&config.detector) {
                    sink(WatcherEvent::Leak(leak));
                }
                shared
                    .suspicion
                    .publish(&[&heap, &external], &config.detector);
                let all = [&heap, &external, &native];
                publish_trends(&shared.trends, all, &config.detector, &native_config);
            }
            Ok(Message::PauseNative) => native_paused = true,
            Ok(Message::ResetNative) => {
                native_paused = false;
                native = Series::new(MemoryKind::Native, config.started_at);
            }
            Ok(Message::HeapResident(resident)) => {
                heap_peaks.record(now_ms(), resident.heap_physical);
                heap_resident = Some(resident);
            }
            Err(RecvTimeoutError::Timeout) => {
                next_sample += interval;
                let memory = reader(heap_resident.is_some() && !native_paused);
                let time = now_ms();
                let (Some(rss), limit) = (memory.rss, memory.container_limit) else {
                    continue;
                };
                let rss = rss as f64;
                let limit = limit.map(|l| l as f64);
                let rss_headroom = limit.map(|l| l - rss);
                for series in [&mut heap, &mut external, &mut native] {
                    series.set_rss_headroom(rss_headroom);
                }
                native.set_own_limit(limit);
                let native_bytes = heap_resident
                    .filter(|_| !native_paused)
                    .and_then(|resident| resident.native_bytes(rss, memory.malloc_in_use));
                if let Some(native_bytes) = native_bytes {
                    native.push_with_load(&native_config, time, native_bytes, latest_load);
                    // A growing heap makes V8 grow memory of its own outside the heap's
                    // pages (remembered sets, marking worklists, allocator arenas of its
                    // threads): native growth beside heap or external growth that is
                    // suspected and not judged yet, or significant and no slower, is theirs,
                    // not a native leak of its own. (Native is read every interval, the heap
                    // only after full GCs, so native growth is often significant first; a
                    // suspicion is judged within the minimum duration, one way or the other.)
                    // Nor is native growth that is a small share of the heap's pages added
                    // meanwhile, whatever its floors do: V8's bookkeeping of those pages.
                    let explained = native.assess(&native_config).is_some_and(|n| {
                        let grown = n.slope_bytes_per_sec * n.span_ms / 1000.0;
                        let pages_added = heap_peaks.rise_since(time - n.span_ms);
                        grown <= pages_added * V8_NATIVE_SHARE_OF_HEAP_PAGES
                            || [&heap, &external].iter().any(|s| {
                                s.suspicion(&config.detector).is_some()
                                    || s.assess(&config.detector).is_some_and(|a| {
                                        a.confidence >= config.detector.confidence
                                            && a.slope_bytes_per_sec >= n.slope_bytes_per_sec
                                    })
                            })
                    });
                    if !explained {
                        if let Some(leak) = native.evaluate(&native_config) {
                            sink(WatcherEvent::Leak(leak));
                        }
                    }
                    let all = [&heap, &external, &native];
                    publish_trends(&shared.trends, all, &config.detector, &native_config);
                }
                if let Some(limit) = limit {
                    let above = rss >= config.rss_threshold * limit;
                    if above && !above_rss_threshold {
                        sink(WatcherEvent::RssThreshold { time, rss, limit });
                    }
                    above_rss_threshold = above;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn config() -> WatcherConfig {
        WatcherConfig {
            detector: DetectorConfig {
                warmup_ms: 0.0,
                min_duration_ms: 1_000.0,
                min_growth_bytes: 1e6,
                ..DetectorConfig::test_values()
            },
            sample_interval_ms: 5,
            rss_threshold: 0.9,
            started_at: 0.0,
        }
    }

    fn collect() -> (Sink, Arc<Mutex<Vec<WatcherEvent>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink_events = Arc::clone(&events);
        (
            Box::new(move |e| sink_events.lock().unwrap().push(e)),
            events,
        )
    }

    /// Waits (bounded) until the thread's suspicion is `expected`; returns what it last was.
    fn suspicion_becomes(watcher: &Watcher, expected: bool) -> bool {
        for _ in 0..200 {
            if watcher.suspicion().is_some() == expected {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        watcher.suspicion().is_some()
    }

    #[test]
    fn rising_floors_are_suspected_until_held() {
        let (sink, _) = collect();
        let reader: MemoryReader = Box::new(|_| SystemMemory::default());
        let mut watcher = Watcher::start_with_reader(config(), sink, reader).unwrap();
        assert_eq!(watcher.suspicion(), None);
        for i in 0..3 {
            let bytes = 1e7 + 5e5 * i as f64; // a quarter of the 1 MB minimum growth, and more
            watcher.record_floor(
                MemoryKind::External,
                1000.0 * i as f64,
                bytes,
                None,
                false,
                None,
            );
        }
        assert!(suspicion_becomes(&watcher, true));
        watcher.record_floor(MemoryKind::External, 3000.0, 1.2e7, None, true, None);
        assert!(
            !suspicion_becomes(&watcher, false),
            "held growth is set aside"
        );
        watcher.stop();
    }

    #[test]
    fn heap_floors_sent_from_js_raise_a_leak_on_the_thread() {
        let (sink, events) = collect();
        let reader: MemoryReader = Box::new(|_| SystemMemory::default());
        let mut watcher = Watcher::start_with_reader(config(), sink, reader).unwrap();
        for i in 0..20 {
            watcher.record_floor(
                MemoryKind::Heap,
                1000.0 * i as f64,
                1e7 + 5e5 * i as f64,
                Some(1e9),
                false,
                None,
            );
        }
        watcher.stop();
        let events = events.lock().unwrap();
        assert!(matches!(&events[0], WatcherEvent::Leak(l) if l.kind == MemoryKind::Heap));
        // Published for other threads: the newest floor, its slope, the leak still growing.
        let trends = watcher.trends();
        let (kind, heap) = trends[0];
        assert_eq!(kind, MemoryKind::Heap);
        assert_eq!(heap.floor_bytes, 1e7 + 5e5 * 19.0);
        assert!((heap.slope_bytes_per_sec - 5e5).abs() < 1.0);
        assert!(heap.leaking);
    }

    /// A watcher whose reader gives `memory(n)` at its `n`th read, every 50 ms (30 reads span
    /// the test config's 1 s minimum duration).
    fn watcher_reading(
        memory: impl Fn(u64) -> SystemMemory + Send + 'static,
        sink: Sink,
    ) -> Watcher {
        let reads = Mutex::new(0u64);
        let reader: MemoryReader = Box::new(move |_| {
            let mut n = reads.lock().unwrap();
            *n += 1;
            memory(*n)
        });
        let config = WatcherConfig {
            sample_interval_ms: 50,
            ..config()
        };
        Watcher::start_with_reader(config, sink, reader).unwrap()
    }

    /// An RSS of 100 MB growing by `per_read` bytes per read; no `malloc` figures.
    fn rss_growing_by(per_read: u64) -> impl Fn(u64) -> SystemMemory + Send + 'static {
        move |n| SystemMemory {
            rss: Some(100_000_000 + n * per_read),
            ..SystemMemory::default()
        }
    }

    /// The events of a watcher reading `memory`, with a steady heap size, `external` and
    /// ArrayBuffers, while `drive` runs.
    fn native_events(
        memory: impl Fn(u64) -> SystemMemory + Send + 'static,
        drive: impl FnOnce(&Watcher),
    ) -> Vec<WatcherEvent> {
        let (sink, events) = collect();
        let mut watcher = watcher_reading(memory, sink);
        watcher.record_heap_resident(HeapResident {
            heap_physical: 50e6,
            external: 1e6,
            array_buffers: 5e5,
        });
        drive(&watcher);
        watcher.stop();
        let events = events.lock().unwrap();
        events.clone()
    }

    /// The events of a watcher whose RSS grows by `per_read` bytes per 50 ms read, with a
    /// steady heap size and `external`, while `drive` runs.
    fn native_watcher_events(per_read: u64, drive: impl FnOnce(&Watcher)) -> Vec<WatcherEvent> {
        native_events(rss_growing_by(per_read), drive)
    }

    /// The events of 2.5 s of a watcher whose RSS grows by `per_read` bytes per read while
    /// the heap stays put.
    fn events_with_steady_heap(per_read: u64) -> Vec<WatcherEvent> {
        native_watcher_events(per_read, |_| {
            std::thread::sleep(Duration::from_millis(2500))
        })
    }

    #[test]
    fn native_drift_of_a_few_mb_is_no_leak_whatever_the_minimum_growth() {
        // 60 kB per 50 ms read: ~3 MB over 2.5 s, three times the test config's minimum
        // growth, and below NATIVE_MIN_GROWTH_BYTES.
        let events = events_with_steady_heap(60_000);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn native_memory_is_rss_less_heap_and_external() {
        // RSS grows by 1 MB per read while the heap is steady: a native leak.
        let events = events_with_steady_heap(1_000_000);
        assert!(has_native_leak(&events), "{events:?}");
    }

    /// 2.5 s of a watcher reading `memory` while the heap stays put.
    fn events_of_steady_heap_reading(
        memory: impl Fn(u64) -> SystemMemory + Send + 'static,
    ) -> Vec<WatcherEvent> {
        native_events(memory, |_| std::thread::sleep(Duration::from_millis(2500)))
    }

    fn has_native_leak(events: &[WatcherEvent]) -> bool {
        events
            .iter()
            .any(|e| matches!(e, WatcherEvent::Leak(l) if l.kind == MemoryKind::Native))
    }

    #[test]
    fn where_glibc_says_native_memory_is_what_malloc_holds_beyond_array_buffers() {
        // RSS grows by 1 MB per read, as V8's pool of freed heap pages makes it do, while
        // malloc holds a steady 80 MB: no native leak.
        let events = events_of_steady_heap_reading(|n| SystemMemory {
            malloc_in_use: MallocCount::Bytes(80_000_000),
            ..rss_growing_by(1_000_000)(n)
        });
        assert!(!has_native_leak(&events), "{events:?}");
        // malloc's figure grows by 1 MB per read under a steady RSS: a native leak.
        let events = events_of_steady_heap_reading(|n| SystemMemory {
            rss: Some(300_000_000),
            malloc_in_use: MallocCount::Bytes(80_000_000 + n * 1_000_000),
            ..SystemMemory::default()
        });
        assert!(has_native_leak(&events), "{events:?}");
    }

    #[test]
    fn the_heap_peak_rise_compares_the_peaks_after_and_up_to_a_time() {
        let mut peaks = HeapPeaks::default();
        assert_eq!(peaks.rise_since(0.0), 0.0);
        for (time, mb) in [
            (0.0, 100.0),
            (1.0, 250.0),
            (2.0, 120.0),
            (3.0, 300.0),
            (4.0, 90.0),
        ] {
            peaks.record(time, mb * 1e6);
        }
        // The sawtooth's troughs are not a rise: only a new peak is.
        assert_eq!(peaks.rise_since(1.0), 50e6);
        assert_eq!(peaks.rise_since(3.0), 0.0);
        // Older than anything kept: the oldest is the baseline.
        assert_eq!(peaks.rise_since(-5.0), 200e6);
        // What is dropped still counts toward the peak before.
        for i in 0..HEAP_PEAKS_KEPT {
            peaks.record(5.0 + i as f64, 200e6);
        }
        assert_eq!(peaks.rise_since(5.0), 0.0);
    }

    /// The events of 2.5 s of a watcher reading malloc's figure rising by 1 MB per 50 ms read
    /// while the heap's physical size rises by `heap_pages_per_read`.
    fn native_events_beside_heap_pages(heap_pages_per_read: f64) -> Vec<WatcherEvent> {
        let malloc_rising = |n| SystemMemory {
            rss: Some(300_000_000),
            malloc_in_use: MallocCount::Bytes(80_000_000 + n * 1_000_000),
            ..SystemMemory::default()
        };
        native_events(malloc_rising, |w| {
            for i in 0..50 {
                w.record_heap_resident(HeapResident {
                    heap_physical: 50e6 + heap_pages_per_read * i as f64,
                    external: 1e6,
                    array_buffers: 5e5,
                });
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    }

    #[test]
    fn native_growth_a_small_share_of_the_heap_pages_added_is_v8s_own() {
        // 50 MB of native growth beside 1 GB of heap pages added: V8's bookkeeping.
        let events = native_events_beside_heap_pages(20e6);
        assert!(!has_native_leak(&events), "{events:?}");
        // Beside 200 MB of heap pages, 50 MB is more than V8 takes: a leak.
        let events = native_events_beside_heap_pages(4e6);
        assert!(has_native_leak(&events), "{events:?}");
    }

    /// Records `n` heap floors `every_ms` apart, each `step` bytes above the last, with `hold`.
    fn record_rising_heap_floors(
        watcher: &Watcher,
        n: usize,
        every_ms: u64,
        step: f64,
        hold: bool,
    ) {
        let start = now_ms();
        for i in 0..n {
            let time = start + (every_ms * i as u64) as f64;
            watcher.record_floor(
                MemoryKind::Heap,
                time,
                1e7 + step * i as f64,
                None,
                hold,
                None,
            );
            std::thread::sleep(Duration::from_millis(every_ms));
        }
    }

    #[test]
    fn native_growth_no_faster_than_the_heap_is_not_a_native_leak() {
        // RSS grows 1 MB per 50 ms read (~20 MB/s) while the heap floors rise 25 MB/s: no
        // native leak.
        let events = native_watcher_events(1_000_000, |w| {
            record_rising_heap_floors(w, 30, 100, 2.5e6, false)
        });
        assert!(!has_native_leak(&events), "{events:?}");
        assert!(events
            .iter()
            .any(|e| matches!(e, WatcherEvent::Leak(l) if l.kind == MemoryKind::Heap)));
    }

    #[test]
    fn native_growth_beside_a_heap_growth_not_judged_yet_waits_for_it() {
        // Heap floors 500 ms apart, each 1 MB above the last: too few to judge, enough to
        // suspect. RSS grows 1 MB per 50 ms read meanwhile: not reported while it waits.
        let events = native_watcher_events(1_000_000, |w| {
            record_rising_heap_floors(w, 5, 500, 1e6, false)
        });
        assert!(!has_native_leak(&events), "{events:?}");
    }

    #[test]
    fn native_growth_while_the_heap_is_held_is_set_aside_too() {
        // RSS grows while every heap floor comes with `hold` (caches filling): no leak at all.
        let events = native_watcher_events(1_000_000, |w| {
            record_rising_heap_floors(w, 25, 100, 2.5e6, true)
        });
        assert!(
            !events.iter().any(|e| matches!(e, WatcherEvent::Leak(_))),
            "{events:?}"
        );
    }

    #[test]
    fn rss_threshold_fires_once_per_crossing() {
        let reads = Arc::new(Mutex::new(0u64));
        let reader_reads = Arc::clone(&reads);
        // Above 90% of the limit for the first 20 reads, then below, then above again.
        let reader: MemoryReader = Box::new(move |_| {
            let mut n = reader_reads.lock().unwrap();
            *n += 1;
            let rss = if *n <= 20 || *n > 40 { 95 } else { 50 };
            SystemMemory {
                rss: Some(rss),
                container_limit: Some(100),
                ..SystemMemory::default()
            }
        });
        let (sink, events) = collect();
        let mut watcher = Watcher::start_with_reader(config(), sink, reader).unwrap();
        while *reads.lock().unwrap() < 60 {
            std::thread::sleep(Duration::from_millis(5));
        }
        watcher.stop();
        let crossings = events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, WatcherEvent::RssThreshold { .. }))
            .count();
        assert_eq!(crossings, 2);
    }

    #[test]
    fn stop_joins_the_thread_and_is_idempotent() {
        let (sink, _) = collect();
        let mut watcher = Watcher::start(config(), sink).unwrap();
        assert!(watcher.is_running());
        watcher.stop();
        watcher.stop();
        assert!(!watcher.is_running());
        watcher.record_floor(MemoryKind::Heap, 1.0, 1.0, None, false, None); // after stop: ignored, no panic
    }
}
