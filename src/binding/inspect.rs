//! `LoadedSnapshot`: one snapshot read once and kept, for a reader with several questions about
//! it (the MCP server): its summary, the objects of a class or an id, an object's dominators.
//! Reading runs on the libuv thread pool; the questions run on the calling thread and take
//! milliseconds to a few hundred (a walk over every node) once the file is read.

use std::path::Path;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{AsyncTask, Env, Error, ObjectFinalize, Result, Task};
use napi::Status;
use napi_derive::napi;

use super::analyze::{with_progress, ProgressCallback};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::error::SnapshotError;
use crate::core::diagnose::heapsnapshot::inspect::{
    class_instances, dominator_chain, node_of_id, DominatorStep,
};
use crate::core::diagnose::heapsnapshot::summary::{
    described, summarize, LargestObject, SnapshotSummary,
};

/// What a `LoadedSnapshot` holds: the analysis once `load` ends, none after `release` (a load
/// still running when it is released drops its result), and the bytes of it V8 was told of.
#[derive(Default)]
struct State {
    analysis: Option<Arc<Analysis>>,
    released: bool,
    reported_bytes: i64,
}

impl State {
    /// Drops the analysis and tells V8 its memory is gone.
    fn release(&mut self, env: &Env) {
        self.analysis = None;
        self.released = true;
        let bytes = std::mem::take(&mut self.reported_bytes);
        if bytes > 0 {
            // Only a failing engine refuses; the memory is freed either way.
            let _ = env.adjust_external_memory(-bytes);
        }
    }
}

type Held = Arc<Mutex<State>>;

/// Which objects `objects` reports: the one with node id `id`, or those of class `className`.
#[napi(object)]
pub struct ObjectQuery {
    /// A heap snapshot node id.
    pub id: Option<f64>,
    /// DevTools' class name (`'Map'`, `'(closure)'`).
    pub class_name: Option<String>,
}

/// What `objects` found.
#[napi(object)]
pub struct ObjectsFound {
    /// Objects that match (of the class; 1 or 0 for an id).
    pub count: f64,
    /// The `top` of them by retained size, largest first, with paths and holders.
    pub objects: Vec<LargestObject>,
}

/// The work of `LoadedSnapshot.load`.
pub struct LoadTask {
    path: String,
    progress: Option<ProgressCallback>,
    held: Held,
}

#[napi]
impl Task for LoadTask {
    type Output = std::result::Result<(), SnapshotError>;
    type JsValue = Option<SnapshotError>;

    fn compute(&mut self) -> Result<Self::Output> {
        let path = Path::new(&self.path);
        let analysis = with_progress(self.progress.take(), |p| Analysis::of_file(path, 0, p));
        Ok(analysis.map(|a| {
            let mut state = lock(&self.held);
            if !state.released {
                state.analysis = Some(Arc::new(a));
            }
        }))
    }

    /// Tells V8 of the memory the analysis holds (gigabytes for a large snapshot), so that
    /// its garbage collector weighs the `LoadedSnapshot` that keeps it, as it weighs a Buffer.
    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Option<SnapshotError>> {
        let mut state = lock(&self.held);
        if let Some(analysis) = state.analysis.as_ref().filter(|_| !state.released) {
            // A second load replaced the first analysis: only the difference is news.
            let bytes = analysis.heap_bytes() as i64;
            env.adjust_external_memory(bytes - state.reported_bytes)?;
            state.reported_bytes = bytes;
        }
        Ok(output.err())
    }
}

/// A heap snapshot read once, asked several questions; `openSnapshot` (lib/diagnose/analyze.js) wraps it.
#[napi(custom_finalize)]
pub struct LoadedSnapshot {
    held: Held,
}

impl ObjectFinalize for LoadedSnapshot {
    /// Collected without `release()`: the analysis goes, and V8 is told.
    fn finalize(self, env: Env) -> Result<()> {
        lock(&self.held).release(&env);
        Ok(())
    }
}

impl Default for LoadedSnapshot {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl LoadedSnapshot {
    /// An empty holder: `load` reads the file into it.
    #[napi(constructor)]
    pub fn new() -> Self {
        LoadedSnapshot {
            held: Arc::new(Mutex::new(State::default())),
        }
    }

    /// Reads and analyzes the snapshot at `path` on the thread pool; resolves with null, or
    /// with why it could not be read.
    #[napi]
    pub fn load(&self, path: String, on_progress: Option<ProgressCallback>) -> AsyncTask<LoadTask> {
        AsyncTask::new(LoadTask {
            path,
            progress: on_progress,
            held: self.held.clone(),
        })
    }

    /// Classes by retained size and the `top` largest objects, as `analyzeSnapshot` reports them.
    #[napi]
    pub fn summary(&self, top: u32) -> Result<SnapshotSummary> {
        Ok(summarize(&*self.analysis()?, top as usize))
    }

    /// The objects `query` names, the `top` retaining most, with their paths and holders.
    #[napi]
    pub fn objects(&self, query: ObjectQuery, top: u32) -> Result<ObjectsFound> {
        let a = self.analysis()?;
        let (count, objects) = match (query.id, query.class_name) {
            (Some(id), None) => match node_id(id).and_then(|id| node_of_id(&a, id)) {
                Some(v) => (1, described(&a, &[v])),
                None => (0, Vec::new()),
            },
            (None, Some(class)) => class_instances(&a, &class, top as usize),
            _ => {
                return Err(Error::new(
                    Status::InvalidArg,
                    "give one of id and className",
                ))
            }
        };
        Ok(ObjectsFound {
            count: count as f64,
            objects,
        })
    }

    /// The objects that dominate the one with node id `id`, nearest first, at most `limit`;
    /// null when no object has that id.
    #[napi]
    pub fn dominators(&self, id: f64, limit: u32) -> Result<Option<Vec<DominatorStep>>> {
        let a = self.analysis()?;
        let Some(v) = node_id(id).and_then(|id| node_of_id(&a, id)) else {
            return Ok(None);
        };
        Ok(Some(dominator_chain(&a, v, limit as usize)))
    }

    /// The bytes of its analysis V8 was told of (with `napi_adjust_external_memory`, which
    /// weighs in V8's GC heuristics but is not in `process.memoryUsage()`); 0 once released.
    #[napi(getter)]
    pub fn reported_bytes(&self) -> f64 {
        lock(&self.held).reported_bytes as f64
    }

    /// Frees the analysis now rather than when the garbage collector finds this object; a load
    /// still running drops its result.
    #[napi]
    pub fn release(&self, env: Env) {
        lock(&self.held).release(&env);
    }

    fn analysis(&self) -> Result<Arc<Analysis>> {
        lock(&self.held)
            .analysis
            .clone()
            .ok_or_else(|| Error::new(Status::GenericFailure, "no snapshot is loaded"))
    }
}

/// The lock, whether or not a thread panicked while holding it (its fields are only ever replaced whole).
fn lock(held: &Held) -> std::sync::MutexGuard<'_, State> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `id` as a node id, if it is a whole number in range.
fn node_id(id: f64) -> Option<u64> {
    (id.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&id)).then_some(id as u64)
}
