//! `diffSnapshots`: the diff of two or three heap snapshots on the libuv thread pool. It
//! resolves with the core's own `SnapshotDiff`, or its `SnapshotError`, in the
//! `SnapshotOutcome` of `analyze.rs`, whose progress plumbing it shares.

use std::path::Path;

use napi::bindgen_prelude::{AsyncTask, Either, Env, Result, Task};
use napi_derive::napi;

use super::analyze::{with_progress, ProgressCallback, SnapshotOutcome};
use crate::core::diagnose::heapsnapshot::diff::{diff_files, Matching, SnapshotDiff};
use crate::core::diagnose::heapsnapshot::error::SnapshotError;

/// The work of `diffSnapshots`.
pub struct DiffTask {
    paths: Vec<String>,
    top: u32,
    matching: Matching,
    progress: Option<ProgressCallback>,
}

#[napi]
impl Task for DiffTask {
    type Output = std::result::Result<SnapshotDiff, SnapshotError>;
    type JsValue = SnapshotOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let paths: Vec<&Path> = self.paths.iter().map(Path::new).collect();
        let (top, matching) = (self.top as usize, self.matching);
        Ok(with_progress(self.progress.take(), |p| {
            diff_files(&paths, top, matching, p)
        }))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<SnapshotOutcome> {
        Ok(SnapshotOutcome::of(output, Either::B))
    }
}

/// Diffs two or three snapshot files on the thread pool, matching them by `matching`
/// (checked by `lib/diagnose/analyze.js`, which wraps it).
#[napi]
pub fn diff_snapshot_files(
    paths: Vec<String>,
    top: u32,
    matching: Matching,
    on_progress: Option<ProgressCallback>,
) -> AsyncTask<DiffTask> {
    AsyncTask::new(DiffTask {
        paths,
        top,
        matching,
        progress: on_progress,
    })
}
