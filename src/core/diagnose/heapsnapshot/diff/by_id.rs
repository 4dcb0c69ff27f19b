//! Matching by node id, for snapshots of one process: nodes whose ids the first snapshot
//! lacks are new, and collections of one id compare their entries. The ids are checked first:
//! snapshots whose ids name other objects cannot be compared this way.

use super::findings::Findings;
use super::grown::{add_native, grown};
use super::growth::growth_roots;
use super::result::{new_bytes_of, thousands, GrownCollection, NewObjects};
use super::suspects::{by_bytes, rank_suspects};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::collections::collection_size;
use crate::core::diagnose::heapsnapshot::dominators::DominatorTree;
use crate::core::diagnose::heapsnapshot::error::{SnapshotError, SnapshotErrorKind};
use crate::core::diagnose::heapsnapshot::graph::Bits;
use crate::core::diagnose::heapsnapshot::native::new_as_their_owners;
use crate::core::diagnose::heapsnapshot::snapshot::Snapshot;
use crate::core::diagnose::heapsnapshot::summary::{top_by, ClassIndex};

/// Node ids and collection sizes of an earlier snapshot.
pub(super) struct IdIndex {
    /// (id, signature) of every node, sorted by id.
    nodes: Vec<(u32, u32)>,
    /// (id, entries) of every collection, sorted by id.
    collections: Vec<(u32, u64)>,
}

/// A hash of node `v`'s type and name: an object keeps both for its life, so one id with two
/// signatures in two snapshots means the ids were handed out afresh in between.
fn signature(snap: &Snapshot, v: usize) -> u32 {
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for b in std::iter::once(snap.node_type[v]).chain(snap.name(v).bytes()) {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h
}

impl IdIndex {
    pub(super) fn of(snap: &Snapshot) -> IdIndex {
        let mut nodes: Vec<(u32, u32)> = (0..snap.node_count())
            .map(|v| (snap.node_id[v], signature(snap, v)))
            .collect();
        nodes.sort_unstable();
        let mut collections: Vec<(u32, u64)> = (0..snap.node_count())
            .filter_map(|v| collection_size(snap, v).map(|s| (snap.node_id[v], s)))
            .collect();
        collections.sort_unstable();
        IdIndex { nodes, collections }
    }

    /// The signature of the node with `id`, if there is one.
    fn signature(&self, id: u32) -> Option<u32> {
        let i = self.nodes.binary_search_by_key(&id, |n| n.0).ok()?;
        Some(self.nodes[i].1)
    }

    fn collection(&self, id: u32) -> Option<u64> {
        let i = self.collections.binary_search_by_key(&id, |c| c.0).ok()?;
        Some(self.collections[i].1)
    }
}

/// Checks that `earlier` numbers its objects as `snap` does: of the ids both hold, the share
/// naming a node of another type or name must stay under `MAX_MISMATCH_PERCENT`.
pub(super) fn check_ids(
    earlier: &IdIndex,
    snap: &Snapshot,
    index: u32,
) -> Result<(), SnapshotError> {
    let (mut common, mut mismatched) = (0u64, 0u64);
    for v in 0..snap.node_count() {
        if let Some(sig) = earlier.signature(snap.node_id[v]) {
            common += 1;
            mismatched += (sig != signature(snap, v)) as u64;
        }
    }
    if mismatched * 100 > common * MAX_MISMATCH_PERCENT {
        return Err(SnapshotError::new(
            SnapshotErrorKind::IdsMismatch,
            0,
            format!(
                "{} of the {} node ids it shares with the {} snapshot name other objects: \
                 the snapshots are not of one process, or its heap profiler's object ids were \
                 cleared in between (closing an inspector session that used the HeapProfiler \
                 domain does that), so they cannot be compared by id",
                thousands(mismatched),
                thousands(common),
                ["first", "second"][index as usize],
            ),
        ));
    }
    Ok(())
}

/// Ids shared by two snapshots of one process that may name an object of another type or
/// name (strings flattened in between, code replaced), in percent.
const MAX_MISMATCH_PERCENT: u64 = 10;

/// What a diff by node id reads of the earlier snapshots, read off the last snapshot before
/// its analysis so that the earlier ids (8 bytes a node) are gone by then, in a bit a node
/// while the analysis runs: which nodes are new (`first` lacks their id; with a `middle`, which
/// has it), which `first` has, and the collections that grew since `first` (see [`growth`]).
pub(super) struct IdMatch {
    is_new: Bits,
    existed: Bits,
    growth: Vec<(usize, u64, u64)>,
}

impl IdMatch {
    pub(super) fn of(first: &IdIndex, middle: Option<&IdIndex>, snap: &Snapshot) -> IdMatch {
        let n = snap.node_count();
        let (mut is_new, mut existed) = (Bits::new(n), Bits::new(n));
        for v in 0..n {
            let id = snap.node_id[v];
            if first.signature(id).is_some() {
                existed.set(v);
            } else if middle.is_none_or(|m| m.signature(id).is_some()) {
                is_new.set(v);
            }
        }
        IdMatch {
            is_new,
            existed,
            growth: growth(first, snap),
        }
    }
}

/// The diff by node id (`matched`, read before the analysis): new nodes, and native nodes
/// when their owners are new (see [`new_as_their_owners`]); collections of one id compare
/// their entries.
pub(super) fn diff_by_ids(matched: IdMatch, last: &Analysis, top: usize) -> Findings {
    let snap = &last.snapshot;
    let IdMatch {
        is_new,
        existed,
        growth,
    } = matched;
    let mut is_new: Vec<bool> = (0..snap.node_count()).map(|v| is_new.get(v)).collect();
    new_as_their_owners(last, &mut is_new);
    let tree = DominatorTree::new(&last.idom, snap.root());
    let chosen = top_by(0..growth.len(), top, |i| {
        let (v, before, after) = growth[i];
        new_bytes_of(last.retained.get(v), before, after)
    });
    let mut grown: Vec<(GrownCollection, usize)> =
        chosen.into_iter().map(|i| grown(last, growth[i])).collect();
    let members = grown.iter().enumerate().map(|(i, g)| (g.1, i)).collect();
    add_native(
        last,
        &tree,
        &mut grown,
        members,
        Some(&|v: usize| existed.get(v)),
    );
    drop(existed);
    let (growth_roots, redirects) = growth_roots(last, &tree, &is_new, top);
    // Made after the growth roots, whose sums below each node are the peak of a diff's memory.
    let classes = ClassIndex::new(snap);
    let (suspects, totals) =
        rank_suspects(last, tree, &classes, &is_new, top, &redirects, |c, t| {
            NewObjects::new(classes.names[c].clone(), t)
        });
    let new_by_class = by_bytes(
        (0..classes.names.len())
            .filter(|&c| totals[c].0 > 0)
            .map(|c| NewObjects::new(classes.names[c].clone(), totals[c])),
    );
    Findings {
        new_count: totals.iter().map(|t| t.0).sum(),
        new_bytes: totals.iter().map(|t| t.1).sum(),
        new_by_class,
        suspects,
        grown,
        growth_roots,
    }
}

/// Collections of the last snapshot that hold more entries than in `first`:
/// (node, entries before, entries after).
fn growth(first: &IdIndex, snap: &Snapshot) -> Vec<(usize, u64, u64)> {
    let mut growth = Vec::new();
    for v in 0..snap.node_count() {
        if let Some(after) = collection_size(snap, v) {
            if let Some(before) = first.collection(snap.node_id[v]) {
                if after > before {
                    growth.push((v, before, after));
                }
            }
        }
    }
    growth
}
