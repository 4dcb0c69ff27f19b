//! The monitor thread on floors sent as JS sends them and memory read through a stand-in
//! reader: leaks, suspicion, native memory told from V8's own, the RSS threshold, stopping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::thread::{now_ms, HeapPeaks, HEAP_PEAKS_KEPT};
use super::*;
use crate::core::detect::detector::DetectorConfig;
use crate::core::detect::scales::Load;
use crate::core::system::sysmem::{MallocCount, SystemMemory};

fn config() -> MonitorConfig {
    MonitorConfig {
        detector: DetectorConfig {
            warmup_ms: 0.0,
            min_duration_ms: 1_000.0,
            min_growth_bytes: 1e6,
            ..DetectorConfig::test_values()
        },
        interval_ms: 5.0,
        rss_threshold: 0.9,
        heap_threshold: 0.85,
        started_at: 0.0,
    }
}

fn collect() -> (Sink, Arc<Mutex<Vec<MonitorEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink_events = Arc::clone(&events);
    (
        Box::new(move |e| sink_events.lock().unwrap().push(e)),
        events,
    )
}

/// Waits (bounded) until the thread's suspicion is `expected`; returns what it last was.
fn suspicion_becomes(monitor: &Monitor, expected: bool) -> bool {
    for _ in 0..200 {
        if monitor.suspicion().is_some() == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    monitor.suspicion().is_some()
}

#[test]
fn rising_floors_are_suspected_until_held() {
    let (sink, _) = collect();
    let reader: MemoryReader = Box::new(|_| SystemMemory::default());
    let mut monitor = Monitor::start_with_reader(config(), sink, reader).unwrap();
    assert_eq!(monitor.suspicion(), None);
    for i in 0..3 {
        let bytes = 1e7 + 5e5 * i as f64; // a quarter of the 1 MB minimum growth, and more
        monitor.record_floor(
            MemoryKind::External,
            1000.0 * i as f64,
            bytes,
            None,
            false,
            Load::default(),
        );
    }
    assert!(suspicion_becomes(&monitor, true));
    monitor.record_floor(
        MemoryKind::External,
        3000.0,
        1.2e7,
        None,
        true,
        Load::default(),
    );
    assert!(
        !suspicion_becomes(&monitor, false),
        "held growth is set aside"
    );
    monitor.stop();
}

#[test]
fn heap_floors_sent_from_js_raise_a_leak_on_the_thread() {
    let (sink, events) = collect();
    let reader: MemoryReader = Box::new(|_| SystemMemory::default());
    let mut monitor = Monitor::start_with_reader(config(), sink, reader).unwrap();
    for i in 0..20 {
        monitor.record_floor(
            MemoryKind::Heap,
            1000.0 * i as f64,
            1e7 + 5e5 * i as f64,
            Some(1e9),
            false,
            Load::default(),
        );
    }
    monitor.stop();
    let events = events.lock().unwrap();
    assert!(matches!(&events[0], MonitorEvent::Leak(l) if l.kind == MemoryKind::Heap));
    // Published for other threads: the newest floor, its slope, the leak still growing.
    let trends = monitor.trends();
    let heap = trends[0];
    assert_eq!(heap.kind, MemoryKind::Heap);
    assert_eq!(heap.floor_bytes, 1e7 + 5e5 * 19.0);
    assert!((heap.slope_bytes_per_sec - 5e5).abs() < 1.0);
    assert!(heap.leaking);
}

/// A monitor whose reader gives `memory(n)` at its `n`th read, every 50 ms (30 reads span
/// the test config's 1 s minimum duration).
fn monitor_reading(memory: impl Fn(u64) -> SystemMemory + Send + 'static, sink: Sink) -> Monitor {
    let reads = Mutex::new(0u64);
    let reader: MemoryReader = Box::new(move |_| {
        let mut n = reads.lock().unwrap();
        *n += 1;
        memory(*n)
    });
    let config = MonitorConfig {
        interval_ms: 50.0,
        ..config()
    };
    Monitor::start_with_reader(config, sink, reader).unwrap()
}

/// An RSS of 100 MB growing by `per_read` bytes per read; no `malloc` figures.
fn rss_growing_by(per_read: u64) -> impl Fn(u64) -> SystemMemory + Send + 'static {
    move |n| SystemMemory {
        rss: Some(100_000_000 + (n * per_read) as i64),
        ..SystemMemory::default()
    }
}

/// The events of a monitor reading `memory`, with a steady heap size, `external` and
/// ArrayBuffers, while `drive` runs.
fn native_events(
    memory: impl Fn(u64) -> SystemMemory + Send + 'static,
    drive: impl FnOnce(&Monitor),
) -> Vec<MonitorEvent> {
    let (sink, events) = collect();
    let mut monitor = monitor_reading(memory, sink);
    monitor.record_heap_resident(HeapResident {
        heap_physical: 50e6,
        external: 1e6,
        array_buffers: 5e5,
    });
    drive(&monitor);
    monitor.stop();
    let events = events.lock().unwrap();
    events.clone()
}

/// The events of a monitor whose RSS grows by `per_read` bytes per 50 ms read, with a
/// steady heap size and `external`, while `drive` runs.
fn native_monitor_events(per_read: u64, drive: impl FnOnce(&Monitor)) -> Vec<MonitorEvent> {
    native_events(rss_growing_by(per_read), drive)
}

/// The events of 2.5 s of a monitor whose RSS grows by `per_read` bytes per read while
/// the heap stays put.
fn events_with_steady_heap(per_read: u64) -> Vec<MonitorEvent> {
    native_monitor_events(per_read, |_| {
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

/// 2.5 s of a monitor reading `memory` while the heap stays put.
fn events_of_steady_heap_reading(
    memory: impl Fn(u64) -> SystemMemory + Send + 'static,
) -> Vec<MonitorEvent> {
    native_events(memory, |_| std::thread::sleep(Duration::from_millis(2500)))
}

fn has_native_leak(events: &[MonitorEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, MonitorEvent::Leak(l) if l.kind == MemoryKind::Native))
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

/// The events of a monitor reading malloc's figure 1 MB higher for each of 50 heap readings
/// recorded 50 ms apart, whose physical size rises by `heap_pages_per_read` each: malloc's
/// figure follows the heap readings made, not the monitor's reads, so that a busy machine
/// that delays the readings does not turn V8's growth into native growth.
fn native_events_beside_heap_pages(heap_pages_per_read: f64) -> Vec<MonitorEvent> {
    let heap_readings = Arc::new(AtomicU64::new(0));
    let readings = Arc::clone(&heap_readings);
    let malloc_rising = move |_| SystemMemory {
        rss: Some(300_000_000),
        malloc_in_use: MallocCount::Bytes(80_000_000 + readings.load(Ordering::SeqCst) * 1_000_000),
        ..SystemMemory::default()
    };
    native_events(malloc_rising, |w| {
        for i in 0..50 {
            w.record_heap_resident(HeapResident {
                heap_physical: 50e6 + heap_pages_per_read * i as f64,
                external: 1e6,
                array_buffers: 5e5,
            });
            heap_readings.store(i, Ordering::SeqCst);
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
fn record_rising_heap_floors(monitor: &Monitor, n: usize, every_ms: u64, step: f64, hold: bool) {
    let start = now_ms();
    for i in 0..n {
        let time = start + (every_ms * i as u64) as f64;
        monitor.record_floor(
            MemoryKind::Heap,
            time,
            1e7 + step * i as f64,
            None,
            hold,
            Load::default(),
        );
        std::thread::sleep(Duration::from_millis(every_ms));
    }
}

#[test]
fn native_growth_no_faster_than_the_heap_is_not_a_native_leak() {
    // RSS grows 1 MB per 50 ms read (~20 MB/s) while the heap floors rise 25 MB/s: no
    // native leak.
    let events = native_monitor_events(1_000_000, |w| {
        record_rising_heap_floors(w, 30, 100, 2.5e6, false)
    });
    assert!(!has_native_leak(&events), "{events:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, MonitorEvent::Leak(l) if l.kind == MemoryKind::Heap)));
}

#[test]
fn native_growth_beside_a_heap_growth_not_judged_yet_waits_for_it() {
    // Heap floors 500 ms apart, each 1 MB above the last: too few to judge, enough to
    // suspect. RSS grows 1 MB per 50 ms read meanwhile: not reported while it waits.
    let events = native_monitor_events(1_000_000, |w| {
        record_rising_heap_floors(w, 5, 500, 1e6, false)
    });
    assert!(!has_native_leak(&events), "{events:?}");
}

#[test]
fn native_growth_while_the_heap_is_held_is_set_aside_too() {
    // RSS grows while every heap floor comes with `hold` (caches filling): no leak at all.
    let events = native_monitor_events(1_000_000, |w| {
        record_rising_heap_floors(w, 25, 100, 2.5e6, true)
    });
    assert!(
        !events.iter().any(|e| matches!(e, MonitorEvent::Leak(_))),
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
    let mut monitor = Monitor::start_with_reader(config(), sink, reader).unwrap();
    while *reads.lock().unwrap() < 60 {
        std::thread::sleep(Duration::from_millis(5));
    }
    monitor.stop();
    let crossings = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, MonitorEvent::RssThreshold(_)))
        .count();
    assert_eq!(crossings, 2);
}

/// The monitor's own readings are stamped on the watcher's clock: a watcher whose clock runs a
/// year ahead of the system's gets its RSS threshold event at that clock's time.
#[test]
fn readings_the_monitor_takes_follow_the_watchers_clock() {
    const YEAR_MS: f64 = 365.0 * 24.0 * 3600e3;
    let reads = Arc::new(Mutex::new(0u64));
    let counted = Arc::clone(&reads);
    // Over the threshold from the tenth read on (50 ms in), after the floor below has come.
    let reader: MemoryReader = Box::new(move |_| {
        let mut n = counted.lock().unwrap();
        *n += 1;
        SystemMemory {
            rss: Some(if *n >= 10 { 95 } else { 10 }),
            container_limit: Some(100),
            ..SystemMemory::default()
        }
    });
    let (sink, events) = collect();
    let mut monitor = Monitor::start_with_reader(config(), sink, reader).unwrap();
    let ahead = now_ms() + YEAR_MS;
    monitor.record_floor(MemoryKind::Heap, ahead, 1e7, None, false, Load::default());
    while *reads.lock().unwrap() < 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    monitor.stop();
    let events = events.lock().unwrap();
    let time = events
        .iter()
        .find_map(|e| match e {
            MonitorEvent::RssThreshold(threshold) => Some(threshold.time),
            _ => None,
        })
        .expect("a threshold event");
    assert!(
        time >= ahead && time < ahead + 60_000.0,
        "stamped {time}, the watcher's clock read {ahead}"
    );
}

#[test]
fn stop_joins_the_thread_and_is_idempotent() {
    let (sink, _) = collect();
    let mut monitor = Monitor::start(config(), sink).unwrap();
    assert!(monitor.is_running());
    monitor.stop();
    monitor.stop();
    assert!(!monitor.is_running());
    monitor.record_floor(MemoryKind::Heap, 1.0, 1.0, None, false, Load::default());
    // after stop: ignored, no panic
}
