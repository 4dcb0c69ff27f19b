//! One snapshot, read and analyzed: dominators, retained sizes and the retainer tree.

use std::fs::File;
use std::path::Path;

use super::code_index::CodeIndex;
use super::dominators::{dominators, RetainedSizes};
use super::error::{SnapshotError, SnapshotErrorKind};
use super::graph::RetentionGraph;
use super::parser::parse;
use super::paths::RetainerTree;
use super::snapshot::Snapshot;

/// The phases of an analysis, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum AnalyzePhase {
    /// Reading the file.
    Parse,
    /// The dominator tree and retained sizes.
    Dominators,
    /// The retainer paths.
    Paths,
    /// The summary or the diff.
    Summary,
    /// Sent last, after every other call, by the binding: `lib/diagnose/analyze.js` keeps it
    /// from users.
    Done,
}

/// Where a long analysis is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct AnalyzeProgress {
    /// The phase it is in.
    pub phase: AnalyzePhase,
    /// Which snapshot, from 0, when a diff reads several.
    pub snapshot: u32,
    /// Work done in this phase: bytes read for `'parse'`, 0 for the others.
    pub done: i64,
    /// Work in this phase: the file size for `'parse'`, 1 for the others.
    pub total: i64,
}

impl AnalyzeProgress {
    /// The start of `phase` (other than `Parse`, which counts bytes) in snapshot `index`.
    pub fn start(phase: AnalyzePhase, index: u32) -> AnalyzeProgress {
        AnalyzeProgress {
            phase,
            snapshot: index,
            done: 0,
            total: 1,
        }
    }
}

/// Receives progress reports; called from the thread doing the work.
pub type ProgressFn<'a> = &'a mut dyn FnMut(AnalyzeProgress);

/// A parsed snapshot with its dominator tree, retained sizes and retainer paths.
pub struct Analysis {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Immediate dominator of each node.
    pub idom: Vec<u32>,
    /// Retained size of each node (DevTools' semantics).
    pub retained: RetainedSizes,
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
            SnapshotErrorKind::Io,
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
            progress(AnalyzeProgress {
                phase: AnalyzePhase::Parse,
                snapshot: index,
                done: done as i64,
                total: size as i64,
            });
        }
    });
    parse(file, Some(size), Some(hook))
}

impl Analysis {
    /// About the bytes it holds: its per-node and per-edge arrays and the string table (the
    /// code index's maps, small beside them, left out). What a holder of one for long tells
    /// the JS engine, so that the garbage collector weighs the object that keeps it.
    pub fn heap_bytes(&self) -> usize {
        let s = &self.snapshot;
        let nodes = s.node_count();
        // Per node: type, name, id, size, first edge; the dominator, retained size, and the
        // retainer tree's distance and parent edge.
        let per_node = 1 + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4;
        // Per edge: type, name, target.
        let per_edge = 1 + 4 + 4;
        nodes * per_node + s.edge_count() * per_edge + s.strings.heap_bytes()
    }

    /// Computes dominators, retained sizes and the retainer tree of `snapshot`.
    pub fn new(snapshot: Snapshot, index: u32, progress: ProgressFn<'_>) -> Analysis {
        progress(AnalyzeProgress::start(AnalyzePhase::Dominators, index));
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
        progress(AnalyzeProgress::start(AnalyzePhase::Paths, index));
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
