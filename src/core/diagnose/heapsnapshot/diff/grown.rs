//! Grown collections as reported: their paths, what their entries are, and the native memory
//! they retain; and how many bytes their new entries hold, by which they are ranked.

use super::result::GrownCollection;
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::code_index::folded_path;
use crate::core::diagnose::heapsnapshot::collections::member_class;
use crate::core::diagnose::heapsnapshot::dominators::DominatorTree;
use crate::core::diagnose::heapsnapshot::native::native_retained;

/// Fills in the native memory of each of `grown`: what the nodes `members` (node, index in
/// `grown`) retain. With `existed_before` (by ids: whether a node's id is in the first
/// snapshot), also `native_bytes_before`.
pub(super) fn add_native(
    last: &Analysis,
    tree: &DominatorTree,
    grown: &mut [(GrownCollection, usize)],
    mut members: Vec<(usize, usize)>,
    existed_before: Option<&dyn Fn(usize) -> bool>,
) {
    members.sort_unstable();
    let group_of = |v: usize| {
        let i = members.binary_search_by_key(&v, |m| m.0).ok()?;
        Some(members[i].1)
    };
    let existed = |v: usize| existed_before.is_some_and(|f| f(v));
    let natives = native_retained(last, tree, grown.len(), group_of, existed);
    for ((g, _), native) in grown.iter_mut().zip(natives) {
        g.native_bytes = native.bytes as i64;
        g.native_bytes_before = existed_before.map(|_| native.owned_by_old as i64);
        g.native_kinds = native.kinds;
    }
}

/// The grown collection `v` as reported (its holder and native memory filled in later), and
/// `v`.
pub(super) fn grown(
    last: &Analysis,
    (v, before, after): (usize, u64, u64),
) -> (GrownCollection, usize) {
    let snap = &last.snapshot;
    let readable_path = match last.tree.edges_to(snap, v) {
        Some(edges) => folded_path(snap, &last.code, &edges),
        None => last.tree.describe(snap, v),
    };
    let collection = GrownCollection {
        name: snap.name(v).to_string(),
        id: i64::from(snap.node_id[v]),
        before: before as i64,
        after: after as i64,
        retained_size: last.retained.get(v) as i64,
        retainer_path: last.tree.describe(snap, v),
        readable_path,
        holder: None,
        member_class: member_class(snap, v),
        native_bytes: 0,
        native_bytes_before: None,
        native_kinds: Vec::new(),
        share: 0.0,
    };
    (collection, v)
}
