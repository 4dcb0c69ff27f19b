//! One snapshot, read and analyzed: dominators, retained sizes and the retainer tree.

use std::fs::File;
use std::path::Path;

use super::code_index::CodeIndex;
use super::dominators::dominators;
use super::error::{ErrorKind, SnapshotError};
use super::graph::RetentionGraph;
use super::parser::parse;
use super::paths::RetainerTree;
use super::snapshot::Snapshot;

/// Where a long computation is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// `"parse"`, `"dominators"`, `"paths"` or `"summary"`.
    pub phase: &'static str,
    /// Which snapshot, counting from 0, when several are read.
    pub snapshot: u32,
    /// Work done in this phase (bytes for `parse`).
    pub done: u64,
    /// Work in this phase (the file size for `parse`).
    pub total: u64,
}

/// Receives progress reports; called from the thread doing the work.
pub type ProgressFn<'a> = &'a mut dyn FnMut(Progress);

/// A parsed snapshot with its dominator tree, retained sizes and retainer paths.
pub struct Analysis {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Immediate dominator of each node.
    pub idom: Vec<u32>,
    /// Retained size of each node (DevTools' semantics).
    pub retained: Vec<u64>,
    /// Distances and shortest retainer paths.
    pub tree: RetainerTree,
    /// Closures' scripts and the closures that hold each scope, to name holders.
    pub code: CodeIndex,
}

/// Opens and parses the snapshot at `path`, reporting bytes read as `parse` progress.
pub fn read_file(
    path: &Path,
    index: u32,
    progress: ProgressFn<'_>,
) -> Result<Snapshot, SnapshotError> {
    let io = |e: std::io::Error| {
        SnapshotError::new(
            ErrorKind::Io,
            0,
            format!("cannot read {}: {e}", path.display()),
        )
    };
    let file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut last = 0u64;
    let hook = Box::new(|done: u64| {
        // About a hundred reports for a big file, one for a small one.
        if done > last + size / 100 || done == size {
            last = done;
            progress(Progress {
                phase: "parse",
                snapshot: index,
                done,
                total: size,
            });
        }
    });
    parse(file, Some(size), Some(hook))
}

impl Analysis {
    /// Computes dominators, retained sizes and the retainer tree of `snapshot`.
    pub fn new(snapshot: Snapshot, index: u32, progress: ProgressFn<'_>) -> Analysis {
        let mut report = |phase| {
            progress(Progress {
                phase,
                snapshot: index,
                done: 0,
                total: 1,
            })
        };
        report("dominators");
        let graph = RetentionGraph::new(&snapshot);
        let d = dominators(&graph, snapshot.root());
        drop(graph);
        // The retainer tree needs only the snapshot: build it on a second core meanwhile (not
        // during the dominators, whose arrays are the peak of memory).
        let (retained, tree) = std::thread::scope(|scope| {
            let tree = scope.spawn(|| (RetainerTree::new(&snapshot), CodeIndex::new(&snapshot)));
            let retained = d.retained_sizes(|v| snapshot.self_size(v));
            let tree = tree.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (retained, tree)
        });
        let idom = d.idom;
        report("paths");
        let (tree, code) = tree;
        Analysis {
            snapshot,
            idom,
            retained,
            tree,
            code,
        }
    }

    /// Reads and analyzes the snapshot at `path`.
    pub fn of_file(
        path: &Path,
        index: u32,
        progress: ProgressFn<'_>,
    ) -> Result<Analysis, SnapshotError> {
        let snapshot = read_file(path, index, progress)?;
        Ok(Analysis::new(snapshot, index, progress))
    }
}
