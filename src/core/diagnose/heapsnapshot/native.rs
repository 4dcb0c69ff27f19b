//! Native memory that objects retain: the `native` nodes of a snapshot (Node's C++ objects,
//! such as the `Node / zlib_memory` behind every zlib stream, and the contents of ArrayBuffers,
//! `system / JSArrayBufferData`) in the dominator subtrees of chosen objects. Retained sizes
//! count these bytes already; this says which part of them lives outside the JavaScript heap,
//! and what it is.

use std::collections::HashMap;

use super::analysis::Analysis;
use super::dominators::{DominatorTree, Visit};
use super::snapshot::NodeKind;

/// Kinds of native node listed for one group, most bytes first.
pub const KINDS_LISTED: usize = 3;

/// Native memory of one kind (native nodes of one name) that a group of objects retains.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct NativeMemoryKind {
    /// The snapshot's name for it: `'Node / zlib_memory'`, `'system / JSArrayBufferData'`
    /// (ArrayBuffer contents), `'Node / ZlibStream'`.
    pub name: String,
    /// Objects of the kind.
    pub count: i64,
    /// Their bytes.
    pub bytes: i64,
}

/// The native nodes that one group of objects retains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NativeRetained {
    /// Their self sizes in all.
    pub bytes: u64,
    /// The part of `bytes` whose owners existed before (see [`native_retained`]).
    pub owned_by_old: u64,
    /// The [`KINDS_LISTED`] names holding the most bytes, most first (ties by name).
    pub kinds: Vec<NativeMemoryKind>,
}

/// For each of `groups` groups of nodes (`group_of(v)` names the group of `v`, if any), the
/// native nodes in the dominator subtree of one of its members, each counted once per group
/// however many members lie above it. A native node's owner is its nearest dominator that is
/// not native (for a zlib stream's memory, the stream's JavaScript handle; for ArrayBuffer
/// contents, the ArrayBuffer); the node counts in `owned_by_old` when `owner_existed(owner)`.
///
/// One walk of the dominator tree, and none where the snapshot has no native node; the
/// bookkeeping is a counter per group and a map of names per group.
pub fn native_retained(
    a: &Analysis,
    tree: &DominatorTree,
    groups: usize,
    group_of: impl Fn(usize) -> Option<usize>,
    owner_existed: impl Fn(usize) -> bool,
) -> Vec<NativeRetained> {
    let snap = &a.snapshot;
    let is_native = |v: usize| snap.node_kind(v) == NodeKind::Native;
    let mut out = vec![NativeRetained::default(); groups];
    if groups == 0 || !(0..snap.node_count()).any(is_native) {
        return out;
    }
    // (count, bytes) by name, per group.
    let mut kinds: Vec<HashMap<u32, (u64, u64)>> = vec![HashMap::new(); groups];
    // Members of each group open on the way down, and the groups with any, in the order they
    // opened (a group closes before any opened before it).
    let mut open = vec![0u32; groups];
    let mut opened: Vec<usize> = Vec::new();
    tree.walk(|step| match step {
        Visit::Enter(v) => {
            if let Some(g) = group_of(v) {
                if open[g] == 0 {
                    opened.push(g);
                }
                open[g] += 1;
            }
            if is_native(v) && !opened.is_empty() {
                let bytes = snap.self_size(v);
                let old = owner_existed(owner(a, v));
                for &g in &opened {
                    out[g].bytes += bytes;
                    out[g].owned_by_old += if old { bytes } else { 0 };
                    let kind = kinds[g].entry(snap.node_name[v]).or_default();
                    kind.0 += 1;
                    kind.1 += bytes;
                }
            }
        }
        Visit::Leave(v) => {
            if let Some(g) = group_of(v) {
                open[g] -= 1;
                if open[g] == 0 {
                    opened.pop();
                }
            }
        }
    });
    for (o, kinds) in out.iter_mut().zip(kinds) {
        let mut listed: Vec<NativeMemoryKind> = kinds
            .into_iter()
            .map(|(name, (count, bytes))| NativeMemoryKind {
                name: snap.strings.get(name).to_string(),
                count: count as i64,
                bytes: bytes as i64,
            })
            .collect();
        listed.sort_by(|x, y| y.bytes.cmp(&x.bytes).then_with(|| x.name.cmp(&y.name)));
        listed.truncate(KINDS_LISTED);
        o.kinds = listed;
    }
    out
}

/// Marks each native node as new exactly when its owner (see [`owner`]) is: `is_new` says, by
/// node id, which nodes of `a`'s snapshot are new. Node numbers its native nodes afresh in
/// every snapshot (`Node / zlib_memory`, `Node / ZlibStream`), so by id all of them look new;
/// the owner, a JavaScript object, keeps its id. ArrayBuffer contents keep their ids, and are
/// as new as their ArrayBuffer either way.
pub fn new_as_their_owners(a: &Analysis, is_new: &mut [bool]) {
    let snap = &a.snapshot;
    for v in 0..snap.node_count() {
        if snap.node_kind(v) == NodeKind::Native {
            // The owner is not native, so its mark is still the one its id gave it.
            is_new[v] = is_new[owner(a, v)];
        }
    }
}

/// The nearest dominator of `v` that is not native (`v` itself if it is not, or if only
/// native nodes lie above it: an unreachable one).
fn owner(a: &Analysis, v: usize) -> usize {
    let mut o = v;
    while a.snapshot.node_kind(o) == NodeKind::Native && a.idom[o] as usize != o {
        o = a.idom[o] as usize;
    }
    o
}

#[cfg(test)]
mod tests {
    use super::super::testing::{snapshot_of, Node};
    use super::*;
    use crate::core::test_rng::Rng;

    /// The naive model: each native node counts for every group with a member among its
    /// dominators (itself included).
    fn naive(
        a: &Analysis,
        groups: usize,
        group_of: impl Fn(usize) -> Option<usize>,
        owner_existed: impl Fn(usize) -> bool,
    ) -> Vec<NativeRetained> {
        let snap = &a.snapshot;
        let mut out = vec![NativeRetained::default(); groups];
        let mut kinds: Vec<Vec<NativeMemoryKind>> = vec![Vec::new(); groups];
        for v in (0..snap.node_count()).filter(|&v| snap.node_kind(v) == NodeKind::Native) {
            let mut above = Vec::new();
            let mut u = v;
            loop {
                above.extend(group_of(u));
                if a.idom[u] as usize == u {
                    break;
                }
                u = a.idom[u] as usize;
            }
            above.sort_unstable();
            above.dedup();
            let bytes = snap.self_size(v);
            for g in above {
                out[g].bytes += bytes;
                out[g].owned_by_old += if owner_existed(owner(a, v)) { bytes } else { 0 };
                let name = snap.name(v);
                match kinds[g].iter_mut().find(|k| k.name == name) {
                    Some(k) => (k.count, k.bytes) = (k.count + 1, k.bytes + bytes as i64),
                    None => kinds[g].push(NativeMemoryKind {
                        name: name.into(),
                        count: 1,
                        bytes: bytes as i64,
                    }),
                }
            }
        }
        for (o, mut k) in out.iter_mut().zip(kinds) {
            k.sort_by(|x, y| y.bytes.cmp(&x.bytes).then_with(|| x.name.cmp(&y.name)));
            k.truncate(KINDS_LISTED);
            o.kinds = k;
        }
        out
    }

    #[test]
    fn native_bytes_match_the_naive_model_on_random_graphs() {
        let strings = ["", "A", "B", "Node / x", "Node / y", "system / z", "e"];
        let mut rng = Rng(0xa71e_5eed);
        for case in 0..1000 {
            let n = 2 + rng.below(30) as usize;
            let mut nodes: Vec<Node> = vec![(9, 0, 0, Vec::new())];
            for _ in 1..n {
                let native = rng.below(2) == 0;
                let (kind, name) = if native {
                    (8, 3 + rng.below(3) as u32)
                } else {
                    (3, 1 + rng.below(2) as u32)
                };
                nodes.push((kind, name, rng.below(1_000) as u32, Vec::new()));
            }
            for _ in 0..rng.below(3 * n as u64) {
                let (from, to) = (rng.below(n as u64) as usize, rng.below(n as u64) as usize);
                let kind = if rng.below(6) == 0 { 6 } else { 2 };
                nodes[from].3.push((kind, 6, to));
            }
            let a = Analysis::new(snapshot_of(&nodes, |v| v as u32, &strings), 0, &mut |_| {});
            let groups = 1 + rng.below(3) as usize;
            let group: Vec<Option<usize>> = (0..n)
                .map(|_| (rng.below(3) == 0).then(|| rng.below(groups as u64) as usize))
                .collect();
            let existed: Vec<bool> = (0..n).map(|_| rng.below(2) == 0).collect();
            let tree = DominatorTree::new(&a.idom, a.snapshot.root());
            assert_eq!(
                native_retained(&a, &tree, groups, |v| group[v], |v| existed[v]),
                naive(&a, groups, |v| group[v], |v| existed[v]),
                "case {case}: {nodes:?} {group:?}"
            );
        }
    }
}
