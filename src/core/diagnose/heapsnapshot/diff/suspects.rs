//! Suspects: the program-level classes of new objects that retain the most, each with the
//! object that holds most of its instances and the path from the GC roots to them.

use std::collections::HashMap;

use super::backing_store::owner_of_store;
use super::growth::Redirect;
use super::result::{thousands, LeakSuspect, NewObjects, SuspectHolder};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::code_index::folded_path;
use crate::core::diagnose::heapsnapshot::dominators::DominatorTree;
use crate::core::diagnose::heapsnapshot::native::native_retained;
use crate::core::diagnose::heapsnapshot::paths::{
    describe_edges, describe_node, fold_repeats, readable, source_of_edge,
};
use crate::core::diagnose::heapsnapshot::snapshot::{EdgeKind, Snapshot};
use crate::core::diagnose::heapsnapshot::summary::{class_totals, top_by, ClassIndex};

/// `classes`, most bytes first (ties by name).
pub(super) fn by_bytes(classes: impl Iterator<Item = NewObjects>) -> Vec<NewObjects> {
    let mut classes: Vec<NewObjects> = classes.collect();
    classes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    classes
}

/// The `top` suspects among the nodes `is_new` marks: program-level classes by the retained
/// size of their marked instances, each with the holder of most of them. `class(c, totals)`
/// gives the reported totals of class `c` from its (count, self, retained) over the marked
/// nodes, which are returned too. `tree` is dropped once walked, before the holders take as
/// much memory again. `redirects` (node, named instead) gives the object to name for a holder
/// that is a chain's last old link: the chain's holder (see [`super::growth`]).
pub(super) fn rank_suspects(
    last: &Analysis,
    tree: DominatorTree,
    classes: &ClassIndex,
    is_new: &[bool],
    top: usize,
    redirects: &[Redirect],
    class: impl Fn(usize, (u64, u64, u64)) -> NewObjects,
) -> (Vec<(LeakSuspect, usize)>, Vec<ClassTotals>) {
    let snap = &last.snapshot;
    let n = snap.node_count();
    let totals = class_totals(last, &tree, classes, |v| is_new[v]);
    // The instance of each class that retains the most, and whether the class is the program's.
    let mut best: Vec<Option<usize>> = vec![None; classes.names.len()];
    let mut user_level = vec![false; classes.names.len()];
    for v in (0..n).filter(|&v| is_new[v]) {
        let c = classes.of_node[v] as usize;
        user_level[c] = snap.is_program_node(v);
        if best[c].is_none_or(|b| last.retained.get(v) > last.retained.get(b)) {
            best[c] = Some(v);
        }
    }
    let present = (0..classes.names.len()).filter(|&c| totals[c].0 > 0 && user_level[c]);
    let chosen = top_by(present, top, |c| totals[c].2);
    let natives = suspects_native(last, &tree, classes, is_new, &chosen);
    drop(tree);
    let holder = holders(last, is_new);
    let main_holder = main_holders(classes, is_new, &holder);
    let suspects = chosen
        .into_iter()
        .zip(natives)
        .map(|(c, native_bytes)| {
            let instances = Instances {
                class: c,
                classes,
                is_new,
                holder: &holder,
                redirects,
            };
            let best = best[c].expect("a present class has an instance");
            let (mut s, named) =
                suspect(last, instances, class(c, totals[c]), main_holder[c], best);
            s.native_bytes = native_bytes as i64;
            (s, named)
        })
        .collect();
    (suspects, totals)
}

/// Bytes of the native nodes that the instances `is_new` marks of each class of `chosen`
/// retain.
fn suspects_native(
    last: &Analysis,
    tree: &DominatorTree,
    classes: &ClassIndex,
    is_new: &[bool],
    chosen: &[usize],
) -> Vec<u64> {
    let mut group = vec![None; classes.names.len()];
    for (i, &c) in chosen.iter().enumerate() {
        group[c] = Some(i);
    }
    let group_of = |v: usize| group[classes.of_node[v] as usize].filter(|_| is_new[v]);
    native_retained(last, tree, chosen.len(), group_of, |_| false)
        .into_iter()
        .map(|n| n.bytes)
        .collect()
}

/// Count, self size and non-nested retained size of a class (see [`class_totals`]).
type ClassTotals = (u64, u64, u64);

/// Per class, the holder of the most marked instances and their count.
fn main_holders(classes: &ClassIndex, is_new: &[bool], holder: &[u32]) -> Vec<Option<(u32, u64)>> {
    let mut held: HashMap<(u32, u32), u64> = HashMap::new();
    for v in (0..is_new.len()).filter(|&v| is_new[v]) {
        *held.entry((classes.of_node[v], holder[v])).or_default() += 1;
    }
    let mut main_holder: Vec<Option<(u32, u64)>> = vec![None; classes.names.len()];
    for (&(c, h), &count) in &held {
        let slot = &mut main_holder[c as usize];
        if slot.is_none_or(|(bh, bc)| (count, std::cmp::Reverse(h)) > (bc, std::cmp::Reverse(bh))) {
            *slot = Some((h, count));
        }
    }
    main_holder
}

/// The new instances of one class, and what holds each new node.
struct Instances<'a> {
    class: usize,
    classes: &'a ClassIndex,
    is_new: &'a [bool],
    holder: &'a [u32],
    redirects: &'a [Redirect],
}

/// The suspect for a class of new objects with its paths (see [`Suspect`]), and the node whose
/// holder is to be named: `held_by`, else the instance shown. `main` is the holder of the most
/// instances and their count; `best` the instance retaining the most.
fn suspect(
    last: &Analysis,
    of: Instances<'_>,
    class: NewObjects,
    main: Option<(u32, u64)>,
    best: usize,
) -> (LeakSuspect, usize) {
    let snap = &last.snapshot;
    let held = main.filter(|&(h, _)| h as usize != snap.root());
    let shown = held.and_then(|(h, instances)| {
        let h = h as usize;
        let is_instance = |v: usize| {
            of.is_new[v] && of.classes.of_node[v] as usize == of.class && of.holder[v] as usize == h
        };
        let owner = owner_of_store(last, h);
        let owner = of
            .redirects
            .iter()
            .find(|r| r.0 == owner)
            .map_or(owner, |r| r.1);
        let (below, v, at_depth) = path_below(snap, owner, is_instance)?;
        let mut edges = last.tree.edges_to(snap, owner)?;
        edges.extend(below);
        let held_by = SuspectHolder {
            name: describe_node(snap, owner),
            id: i64::from(snap.node_id[owner]),
            instances: instances as i64,
        };
        let count = format!(" ×{}", thousands(at_depth));
        Some((v, owner, edges, Some(count), Some(held_by)))
    });
    let (v, named, edges, count, held_by) = shown.unwrap_or_else(|| {
        let edges = last.tree.edges_to(snap, best).unwrap_or_default();
        (best, best, edges, None, None)
    });
    let (mut retainer_path, mut readable_path) = match last.tree.distance[v] {
        u32::MAX => (last.tree.describe(snap, v), last.tree.describe(snap, v)),
        _ => (
            describe_edges(snap, &edges),
            folded_path(snap, &last.code, &edges),
        ),
    };
    for path in [&mut retainer_path, &mut readable_path] {
        if let (Some(end), Some(count)) = (path.last_mut(), count.as_ref()) {
            end.push_str(count);
        }
        *path = fold_repeats(std::mem::take(path));
    }
    let suspect = LeakSuspect {
        name: class.name,
        count: class.count,
        bytes: class.bytes,
        retained_size: class.retained_size,
        share: 0.0,
        id: i64::from(snap.node_id[v]),
        retainer_path,
        held_by,
        readable_path,
        holder: None,
        native_bytes: 0,
    };
    (suspect, named)
}

/// For each new node, the nearest dominator that is not new; for any other node, itself.
pub(super) fn holders(a: &Analysis, is_new: &[bool]) -> Vec<u32> {
    const UNSET: u32 = u32::MAX;
    let mut holder = vec![UNSET; is_new.len()];
    let mut chain: Vec<usize> = Vec::new();
    for v in 0..is_new.len() {
        let mut u = v;
        while holder[u] == UNSET && is_new[u] && a.idom[u] as usize != u {
            chain.push(u);
            u = a.idom[u] as usize;
        }
        if holder[u] == UNSET {
            holder[u] = u as u32;
        }
        let h = holder[u];
        for w in chain.drain(..) {
            holder[w] = h;
        }
    }
    holder
}

/// The shortest path from `from` to a node `target` accepts, readable edges first within a
/// depth, never through weak edges: its edges, the node it ends at, and how many accepted
/// nodes lie at that depth. `None` if none is reachable.
fn path_below(
    snap: &Snapshot,
    from: usize,
    target: impl Fn(usize) -> bool,
) -> Option<(Vec<usize>, usize, u64)> {
    // The edge that first reached each node.
    let mut reached: HashMap<u32, u32> = HashMap::new();
    let mut level = vec![from];
    while !level.is_empty() {
        let mut next = Vec::new();
        for pass_readable in [true, false] {
            for &v in &level {
                for e in snap.edges(v) {
                    let t = snap.edge_to[e] as usize;
                    if t == from
                        || snap.edge_kind(e) == EdgeKind::Weak
                        || readable(snap, e) != pass_readable
                        || reached.contains_key(&(t as u32))
                    {
                        continue;
                    }
                    reached.insert(t as u32, e as u32);
                    next.push(t);
                }
            }
        }
        let mut found = next.iter().copied().filter(|&t| target(t));
        if let Some(end) = found.next() {
            let count = 1 + found.count() as u64;
            let mut edges = Vec::new();
            let mut v = end;
            while v != from {
                let e = reached[&(v as u32)] as usize;
                edges.push(e);
                v = source_of_edge(snap, e);
            }
            edges.reverse();
            return Some((edges, end, count));
        }
        level = next;
    }
    None
}
