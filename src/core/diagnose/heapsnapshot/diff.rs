//! Diff of snapshots: what was allocated after the first snapshot and is still alive in the
//! last, which collections grew, and what holds the suspects.
//!
//! Snapshots of one process are matched by node id ([`Matching::Ids`]). Snapshots whose ids
//! name other objects (written by different processes, such as forked children) are matched
//! by retainer path ([`Matching::Paths`], see [`super::pathkey`]): collections by path key,
//! and "new" objects become the classes whose counts grew, held by the grown collections.
//!
//! With three snapshots A, B, C, "new" means allocated between A and B and still alive in C:
//! objects a request burst creates and then frees drop out; what stays is a leak. By paths: a
//! collection that grew from A to B and is no smaller in C.
//!
//! The parts, in the order they depend on each other: `result` (what a diff reports),
//! `grown` (grown collections), `backing_store` (the collection that owns a store), `growth`
//! (growth roots: chains, many roots), `suspects`, `findings` (what is worth listing), `by_id`
//! and `by_path` (the two matchings); this module reads the files and chooses between them.

use std::path::Path;

use crate::core::diagnose::heapsnapshot::analysis::{
    read_file, Analysis, AnalyzePhase, AnalyzeProgress, ProgressFn,
};
use crate::core::diagnose::heapsnapshot::error::{SnapshotError, SnapshotErrorKind};
use crate::core::diagnose::heapsnapshot::pathkey::PathCounts;
use crate::core::diagnose::heapsnapshot::snapshot::Snapshot;

mod backing_store;
mod by_id;
mod by_path;
mod findings;
mod grown;
mod growth;
mod result;
mod suspects;

use by_id::{check_ids, diff_by_ids, IdIndex, IdMatch};
use by_path::diff_by_paths;
pub use result::{
    GrownCollection, GrowthChain, GrowthManyRoots, GrowthRoot, LeakSuspect, MatchedBy, Matching,
    NewObjects, SnapshotDiff, SnapshotTotals, SuspectHolder,
};

/// All a diff keeps of an earlier snapshot: its ids, its path counts, or both (for
/// [`Matching::Auto`], which chooses once the last snapshot is read).
struct Earlier {
    ids: Option<IdIndex>,
    paths: Option<PathCounts>,
    totals: SnapshotTotals,
}

impl Earlier {
    fn of(snap: &Snapshot, matching: Matching) -> Earlier {
        Earlier {
            ids: (matching != Matching::Paths).then(|| IdIndex::of(snap)),
            paths: (matching != Matching::Ids).then(|| PathCounts::of(snap)),
            totals: totals(snap),
        }
    }

    /// Drops what a diff matched by `matched_by` does not read: the path counts of a diff by
    /// ids, the ids of a diff by paths (8 bytes a node of the earlier snapshot).
    fn keep_only(&mut self, matched_by: MatchedBy) {
        match matched_by {
            MatchedBy::Ids => self.paths = None,
            MatchedBy::Paths => self.ids = None,
        }
    }
}

fn totals(snap: &Snapshot) -> SnapshotTotals {
    SnapshotTotals {
        nodes: snap.node_count() as i64,
        edges: snap.edge_count() as i64,
        total_size: snap.total_size() as i64,
    }
}

/// Diffs two or three snapshot files (see the module doc), matching them as `matching` says
/// and reporting the `top` suspects and grown collections. Reads one file at a time; of the
/// earlier ones only ids or path counts are kept, and once the last is read and the matching
/// chosen, only the one it reads: the last's analysis is the diff's peak of memory.
pub fn diff_files(
    paths: &[&Path],
    top: usize,
    matching: Matching,
    progress: ProgressFn<'_>,
) -> Result<SnapshotDiff, SnapshotError> {
    if !(2..=3).contains(&paths.len()) {
        return Err(SnapshotError::new(
            SnapshotErrorKind::Unsupported,
            0,
            format!("a diff takes 2 or 3 snapshots, not {}", paths.len()),
        ));
    }
    let mut earlier = Vec::new();
    for (i, path) in paths[..paths.len() - 1].iter().enumerate() {
        let i = i as u32;
        let snap = read_file(path, i, progress).map_err(|e| e.in_snapshot(i))?;
        if matching != Matching::Ids {
            progress(AnalyzeProgress::start(AnalyzePhase::Paths, i));
        }
        earlier.push(Earlier::of(&snap, matching));
    }
    let last_index = paths.len() as u32 - 1;
    let last = read_file(paths[paths.len() - 1], last_index, progress)
        .map_err(|e| e.in_snapshot(last_index))?;
    diff_read(&mut earlier, last, top, matching, progress)
}

/// The diff of the `earlier` snapshots' summaries (taken for `matching`) with `last`, read
/// after them: the matching chosen, what it does not read of the earlier ones dropped, then
/// the last analyzed.
fn diff_read(
    earlier: &mut [Earlier],
    last: Snapshot,
    top: usize,
    matching: Matching,
    progress: ProgressFn<'_>,
) -> Result<SnapshotDiff, SnapshotError> {
    let last_index = earlier.len() as u32;
    let matched_by = match_by(earlier, &last, matching).map_err(|e| e.in_snapshot(last_index))?;
    for e in earlier.iter_mut() {
        e.keep_only(matched_by);
    }
    // By ids, what the diff reads of the earlier ids is read now, and they go.
    let by_ids = (matched_by == MatchedBy::Ids).then(|| {
        let ids: Vec<IdIndex> = earlier.iter_mut().filter_map(|e| e.ids.take()).collect();
        IdMatch::of(&ids[0], ids.get(1), &last)
    });
    let last = Analysis::new(last, last_index, progress);
    progress(AnalyzeProgress::start(AnalyzePhase::Summary, last_index));
    Ok(diff_parsed(earlier, by_ids, &last, top, matched_by))
}

/// How the `earlier` snapshots (taken for `matching`) are matched with `last`: by ids when
/// `matching` says so (an error unless they agree) or when they agree (`Auto`), else by paths.
fn match_by(
    earlier: &[Earlier],
    last: &Snapshot,
    matching: Matching,
) -> Result<MatchedBy, SnapshotError> {
    Ok(match matching {
        Matching::Paths => MatchedBy::Paths,
        Matching::Ids => {
            check_all_ids(earlier, last)?;
            MatchedBy::Ids
        }
        Matching::Auto => match check_all_ids(earlier, last) {
            Ok(()) => MatchedBy::Ids,
            Err(_) => MatchedBy::Paths,
        },
    })
}

/// The diff of the `earlier` snapshots' summaries with `last`, matched by `matched_by`: by
/// ids with `by_ids` (what it read of the earlier ids), else by paths.
fn diff_parsed(
    earlier: &[Earlier],
    by_ids: Option<IdMatch>,
    last: &Analysis,
    top: usize,
    matched_by: MatchedBy,
) -> SnapshotDiff {
    let mut snapshots: Vec<SnapshotTotals> = earlier.iter().map(|e| e.totals.clone()).collect();
    snapshots.push(totals(&last.snapshot));
    let findings = match by_ids {
        Some(matched) => diff_by_ids(matched, last, top),
        None => {
            let counts: Vec<&PathCounts> =
                earlier.iter().filter_map(|e| e.paths.as_ref()).collect();
            diff_by_paths(counts[0], counts.get(1).copied(), last, top)
        }
    };
    findings.report(last, snapshots, matched_by)
}

/// Checks the ids of every earlier snapshot against the last (see [`check_ids`]).
fn check_all_ids(earlier: &[Earlier], last: &Snapshot) -> Result<(), SnapshotError> {
    for (i, e) in earlier.iter().enumerate() {
        if let Some(ids) = e.ids.as_ref() {
            check_ids(ids, last, i as u32)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
