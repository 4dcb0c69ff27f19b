//! `analyzeSnapshot` / `diffSnapshots`: the heap-snapshot analyzer, run on the libuv thread
//! pool so the event loop keeps serving while a big file is read.
//!
//! Both resolve with a `SnapshotOutcome`: failures as `{ error }` rather than rejecting, so
//! `lib/diagnose/analyze.js` can throw a real JS error with the stable `code` and the byte
//! `offset`.
//!
//! The shapes JS receives are the core's own types (`SnapshotSummary`, `SnapshotError`, `AnalyzeProgress`),
//! which carry napi attributes under the `napi` feature; the progress plumbing here serves
//! both calls, and `diffSnapshots`' task is in `diff.rs`.

use std::path::Path;

use napi::bindgen_prelude::{AsyncTask, Either, Env, Result, Task};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use crate::core::diagnose::heapsnapshot::analysis::{AnalyzePhase, AnalyzeProgress};
use crate::core::diagnose::heapsnapshot::diff::SnapshotDiff;
use crate::core::diagnose::heapsnapshot::error::SnapshotError;
use crate::core::diagnose::heapsnapshot::summary::{analyze_file, SnapshotSummary};

/// The `onProgress` function of an analysis, called from the thread pool without keeping the
/// event loop alive.
#[napi]
pub type ProgressCallback =
    ThreadsafeFunction<AnalyzeProgress, (), AnalyzeProgress, Status, false, true>;

/// What `analyzeSnapshotFile` and `diffSnapshotFiles` resolve with: `{ result }` or `{ error }`.
#[napi(object, object_from_js = false)]
pub struct SnapshotOutcome {
    /// The summary (`analyzeSnapshotFile`) or the diff (`diffSnapshotFiles`), on success.
    pub result: Option<Either<SnapshotSummary, SnapshotDiff>>,
    /// Why it failed.
    pub error: Option<SnapshotError>,
}

impl SnapshotOutcome {
    /// The outcome of a task whose success `found` makes a `result`.
    pub(super) fn of<T>(
        output: std::result::Result<T, SnapshotError>,
        found: impl FnOnce(T) -> Either<SnapshotSummary, SnapshotDiff>,
    ) -> SnapshotOutcome {
        match output {
            Ok(t) => SnapshotOutcome {
                result: Some(found(t)),
                error: None,
            },
            Err(e) => SnapshotOutcome {
                result: None,
                error: Some(e),
            },
        }
    }
}

/// Runs `work` with a progress function that forwards to JS, then sends a last `'done'` call
/// and releases the callback. Calls arrive in order, but the task's result may arrive before
/// them: `'done'` tells JS that every progress call has arrived.
pub(super) fn with_progress<T>(
    callback: Option<ProgressCallback>,
    work: impl FnOnce(&mut dyn FnMut(AnalyzeProgress)) -> T,
) -> T {
    let send = |progress: AnalyzeProgress| {
        if let Some(cb) = callback.as_ref() {
            cb.call(progress, ThreadsafeFunctionCallMode::NonBlocking);
        }
    };
    let output = work(&mut |p: AnalyzeProgress| send(p));
    send(AnalyzeProgress {
        phase: AnalyzePhase::Done,
        snapshot: 0,
        done: 0,
        total: 0,
    });
    output
}

/// The work of `analyzeSnapshot`.
pub struct AnalyzeTask {
    path: String,
    top: u32,
    progress: Option<ProgressCallback>,
}

#[napi]
impl Task for AnalyzeTask {
    type Output = std::result::Result<SnapshotSummary, SnapshotError>;
    type JsValue = SnapshotOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let (path, top) = (Path::new(&self.path), self.top as usize);
        Ok(with_progress(self.progress.take(), |p| {
            analyze_file(path, top, p)
        }))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<SnapshotOutcome> {
        Ok(SnapshotOutcome::of(output, Either::A))
    }
}

/// Reads and analyzes the snapshot at `path` on the thread pool; `lib/diagnose/analyze.js` wraps it.
#[napi]
pub fn analyze_snapshot_file(
    path: String,
    top: u32,
    on_progress: Option<ProgressCallback>,
) -> AsyncTask<AnalyzeTask> {
    AsyncTask::new(AnalyzeTask {
        path,
        top,
        progress: on_progress,
    })
}
