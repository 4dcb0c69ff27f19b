//! Growth roots of snapshots of two processes (forked children: the default writer on Linux),
//! which share no node ids, so no object is known to be in both. What a path key counts
//! instead (see [`for_each_shape_node`]): the links of chains, each reached from an object of
//! its own class (`LinkNode` held by `LinkNode` through `next`), and the objects hanging from a
//! synthetic root. A key whose count grew is a chain that grew, named by what holds its head,
//! or many new roots of one kind.

use std::collections::HashMap;

use super::super::result::{GrowthChain, GrowthManyRoots, GrowthRoot};
use super::{is_nameable, program_object_below, Shape, MIN_CHAIN_LINKS, MIN_ROOTS, MIN_SHARE};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::dominators::DominatorTree;
use crate::core::diagnose::heapsnapshot::pathkey::{
    for_each_shape_node, KeyMap, PathCounts, ShapeNode,
};
use crate::core::diagnose::heapsnapshot::paths::{edge_label, source_of_edge};

/// The nodes of one key in the last snapshot.
struct KeyNodes {
    shape: ShapeNode,
    count: u64,
    /// Their retained sizes in all.
    retained: u64,
    /// Their own sizes in all.
    own: u64,
    /// The one shown: a chain's deepest link.
    shown: usize,
    /// All of them when they hang from synthetic roots: what they hold is sampled from them.
    nodes: Vec<u32>,
}

/// Nodes of a key of many roots looked at, evenly spread, for the class of the program's
/// objects they hold: the most common among them is named (a server's listening handle and
/// its sockets share a key, and the first node met may be the server's).
const ROOTS_SAMPLED: usize = 64;

/// What the nodes of one key gained: how many, about how many bytes (their retained size in
/// the share of them that is new), and the node shown.
struct Gained<'a> {
    shown: usize,
    /// For many roots, the nodes of the key (see [`KeyNodes::nodes`]).
    sample: &'a [u32],
    count: u64,
    bytes: u64,
}

/// The growth roots of `last` against `first` by path keys, most new bytes first (at most
/// `top`), each with the node to name; those under MIN_SHARE of `grown_bytes` (the classes'
/// growth) are left out, as by ids (strings the VM keeps under a root of its own came and went).
pub(in crate::core::diagnose::heapsnapshot::diff) fn growth_roots_by_paths(
    first: &PathCounts,
    last: &Analysis,
    tree: &DominatorTree,
    top: usize,
    grown_bytes: u64,
) -> Vec<(GrowthRoot, usize)> {
    let snap = &last.snapshot;
    let mut now: KeyMap<KeyNodes> = KeyMap::default();
    for_each_shape_node(snap, &last.tree, &last.code, |v, key, shape| {
        let k = now.entry(key).or_insert(KeyNodes {
            shape,
            count: 0,
            retained: 0,
            own: 0,
            shown: v,
            nodes: Vec::new(),
        });
        if shape == ShapeNode::Root {
            k.nodes.push(v as u32);
        }
        k.count += 1;
        k.retained += last.retained.get(v);
        k.own += snap.self_size(v);
        if last.tree.distance[v] > last.tree.distance[k.shown] {
            k.shown = v;
        }
    });
    let mut roots: Vec<(GrowthRoot, usize)> = Vec::new();
    let mut many: Vec<Gained> = Vec::new();
    for (key, k) in &now {
        let before = first.shapes.get(key).copied().unwrap_or(0);
        let gained = Gained {
            shown: k.shown,
            sample: &k.nodes,
            count: k.count.saturating_sub(before),
            bytes: (k.retained as u128 * k.count.saturating_sub(before) as u128
                / k.count.max(1) as u128) as u64,
        };
        match k.shape {
            ShapeNode::Link if gained.count >= MIN_CHAIN_LINKS => {
                roots.extend(chain_root(last, k, before, gained));
            }
            ShapeNode::Root if gained.count >= MIN_ROOTS => many.push(gained),
            _ => {}
        }
    }
    if !many.is_empty() {
        roots.push(many_roots(last, tree, &many));
    }
    let mut roots = merged_chains(roots);
    let least = (grown_bytes as f64 * MIN_SHARE) as i64;
    roots.retain(|r| r.0.new_bytes >= least);
    roots.sort_by(|a, b| b.0.new_bytes.cmp(&a.0.new_bytes).then(a.1.cmp(&b.1)));
    roots.truncate(top);
    roots
}

/// `roots` with the chains of one holder and class as one: a doubly linked ring (Node's timer
/// lists) is reached half through `_idleNext` and half through `_idlePrev` by the shortest
/// paths, and reads as two chains of half its length.
fn merged_chains(roots: Vec<(GrowthRoot, usize)>) -> Vec<(GrowthRoot, usize)> {
    let mut merged: Vec<(GrowthRoot, usize)> = Vec::with_capacity(roots.len());
    for (root, named) in roots {
        let same = merged.iter_mut().find(|(r, n)| {
            *n == named
                && matches!((&r.chain, &root.chain), (Some(a), Some(b)) if a.class == b.class)
        });
        match (same, root.chain.as_ref()) {
            (Some((into, _)), Some(chain)) => {
                let to = into.chain.as_mut().expect("a chain");
                to.via = format!("{} / {}", to.via, chain.via);
                to.before += chain.before;
                to.after += chain.after;
                into.new_bytes += root.new_bytes;
                into.new_count += root.new_count;
            }
            _ => merged.push((root, named)),
        }
    }
    merged
}

/// The growth root of a chain whose links' key `k` gained links (`before` in the first
/// snapshot): its deepest link followed up the shortest path while the links keep their class
/// and property, to the head, whose holder is named (or the head, where machinery holds it);
/// none when that chain is shorter than MIN_CHAIN_LINKS.
fn chain_root(
    last: &Analysis,
    k: &KeyNodes,
    before: u64,
    gained: Gained<'_>,
) -> Option<(GrowthRoot, usize)> {
    let snap = &last.snapshot;
    let same_class = |u: usize, v: usize| {
        snap.node_name[u] == snap.node_name[v] && snap.node_type[u] == snap.node_type[v]
    };
    // Up from the deepest link while each is reached from one of its class by the same
    // property: a chain, as long as the steps taken (a tree of one class, such as profile nodes
    // each with a `callFrame` object, counts many links under one key but no long chain).
    let via_edge = last.tree.parent_edge(k.shown)?;
    let via_name = snap.edge_name[via_edge];
    let mut head = k.shown;
    let mut links = 1u64;
    while let Some(e) = last.tree.parent_edge(head) {
        let up = source_of_edge(snap, e);
        if !same_class(up, head) || snap.edge_name[e] != via_name {
            break;
        }
        head = up;
        links += 1;
    }
    if links < MIN_CHAIN_LINKS {
        return None;
    }
    let via = edge_label(snap, via_edge);
    if !snap.is_program_node(head) {
        return None;
    }
    let holder = source_of_edge(snap, last.tree.parent_edge(head)?);
    let named = if is_nameable(snap, holder) {
        holder
    } else {
        head
    };
    // What the new links hold: the head's retained size in their share of the chain, where
    // the chain dominates its links; at least their own sizes (a doubly linked list's holder
    // dominates every link itself).
    let share_of_head =
        (last.retained.get(head) as u128 * gained.count.min(links) as u128 / links as u128) as u64;
    let own = (k.own as u128 * gained.count as u128 / k.count.max(1) as u128) as u64;
    let new_bytes = share_of_head.max(own);
    let chain = GrowthChain {
        class: snap.class_name(head).into_owned(),
        via,
        // The head's key is its holder's, not a link's: one more than the key counted, unless
        // the chain was not there at all.
        before: match before {
            0 => 0,
            _ => links.saturating_sub(gained.count).min(before + 1) as i64,
        },
        after: links as i64,
    };
    let shape = Shape {
        named,
        chain: Some(chain),
        many_roots: None,
        holds: None,
    };
    Some((shape.report(last, new_bytes, gained.count), named))
}

/// The growth root of the objects hanging from synthetic nodes by keys that each gained
/// MIN_ROOTS or more (`kinds`), named as the GC roots: the kind that gained the most, and the
/// most common class of the program's objects held by a sample of its nodes.
fn many_roots(last: &Analysis, tree: &DominatorTree, kinds: &[Gained<'_>]) -> (GrowthRoot, usize) {
    let snap = &last.snapshot;
    let most = kinds
        .iter()
        .max_by_key(|k| (k.count, std::cmp::Reverse(k.shown)))
        .expect("many roots have a kind");
    let mut held: HashMap<String, u64> = HashMap::new();
    let step = most.sample.len().div_ceil(ROOTS_SAMPLED).max(1);
    for &v in most.sample.iter().step_by(step) {
        if let Some(o) = program_object_below(snap, tree, &|u| last.retained.get(u), v as usize) {
            *held.entry(snap.class_name(o).into_owned()).or_default() += 1;
        }
    }
    let holds = held
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(class, _)| class);
    let shape = Shape {
        named: snap.root(),
        chain: None,
        many_roots: Some(GrowthManyRoots {
            kind: snap.class_name(most.shown).into_owned(),
            count: most.count as i64,
            holds,
        }),
        holds: None,
    };
    let (bytes, count) = kinds
        .iter()
        .fold((0, 0), |(b, c), k| (b + k.bytes, c + k.count));
    (shape.report(last, bytes, count), snap.root())
}
