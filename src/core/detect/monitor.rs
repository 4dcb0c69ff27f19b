//! The monitor, the watcher's background thread: it owns the three detector series, reads RSS and
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
//!
//! - `events`: what goes in and out ([`MonitorConfig`], [`MonitorEvent`], [`HeapResident`]);
//! - `thread`: the thread's loop, and what it publishes for other threads to read;
//! - this module: [`Monitor`], the handle that starts, feeds and stops the thread.

use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::core::detect::detector::{MemoryKind, Suspicion, Trend};
use crate::core::detect::scales::Load;
use crate::core::system::sysmem;

mod events;
mod thread;

pub use events::{
    HeapResident, MemoryReader, MonitorConfig, MonitorEvent, RssThreshold, Sink,
    NATIVE_MIN_GROWTH_BYTES,
};
use thread::{run, Floor, Message, Shared, SharedSuspicion, SharedTrends};

/// A running monitor thread. Dropping it stops and joins the thread.
pub struct Monitor {
    tx: Sender<Message>,
    thread: Option<JoinHandle<()>>,
    suspicion: Arc<SharedSuspicion>,
    trends: Arc<SharedTrends>,
}

impl Monitor {
    /// Starts the thread with the real memory reader.
    pub fn start(config: MonitorConfig, sink: Sink) -> std::io::Result<Self> {
        Self::start_with_reader(config, sink, Box::new(sysmem::read_own_memory))
    }

    /// Starts the thread reading memory through `reader` (tests inject one).
    pub fn start_with_reader(
        config: MonitorConfig,
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
            .name("leakproof-monitor".into())
            .spawn(move || run(config, rx, sink, reader, shared))?;
        Ok(Monitor {
            tx,
            thread: Some(thread),
            suspicion,
            trends,
        })
    }

    /// Records a floor of `kind` (heap or external) taken after a full GC. With `hold`, the
    /// caller knows the growth has a ceiling for now (see [`Series::hold`]). `load`: the
    /// work since the floor before, as far as it is known (see [`Series::push_with_load`]).
    ///
    /// [`Series::hold`]: crate::core::detect::detector::Series::hold
    /// [`Series::push_with_load`]: crate::core::detect::detector::Series::push_with_load
    pub fn record_floor(
        &self,
        kind: MemoryKind,
        time: f64,
        bytes: f64,
        limit: Option<f64>,
        hold: bool,
        load: Load,
    ) {
        let _ = self.tx.send(Message::Floor(Floor {
            kind,
            time,
            bytes,
            limit,
            hold,
            load,
        }));
    }

    /// Tells the thread what the heap and the ArrayBuffers hold, to derive native memory.
    pub fn record_heap_resident(&self, resident: HeapResident) {
        let _ = self.tx.send(Message::HeapResident(resident));
    }

    /// Takes no native floors until [`Monitor::reset_native`]: the process is about to
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
    ///
    /// [`Series::suspicion`]: crate::core::detect::detector::Series::suspicion
    pub fn suspicion(&self) -> Option<Suspicion> {
        self.suspicion.load()
    }

    /// The newest trend of each kind that has floors: heap, external, native, in that order.
    pub fn trends(&self) -> Vec<Trend> {
        let trends = self.trends.lock().map(|t| *t).unwrap_or_default();
        trends.into_iter().flatten().collect()
    }

    /// Whether the thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
