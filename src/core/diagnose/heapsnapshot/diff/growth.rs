//! Growth roots: the objects of both snapshots that hold what was allocated since the first,
//! for the leaks no growing collection explains.
//!
//! On the last snapshot's dominator tree, each node's new bytes (the self sizes of the new
//! objects it dominates, itself included) are summed bottom-up. The tree is then descended from
//! the root through the children present in the first snapshot that still hold at least
//! [`MIN_SHARE`] of all new bytes; a node whose new bytes do not pass on to such a child holds
//! them itself: a growth root, reported with the bytes it alone holds.
//!
//! Two shapes are named as a person knows them:
//! - **a chain**, each new object held by the one before (a linked list, a queue): its last old
//!   link dominates the new links. That root is folded back up the links of its class to the
//!   object holding the chain's head (the list, the emitter), and the chain is counted, links
//!   present in the first snapshot (`before`) and in all (`after`). A chain that grows from its
//!   head (`this.latest = { previous: this.latest }`) is found below its holder the same way.
//! - **many roots**, each new object hanging from the GC roots by a handle of its own (an open
//!   socket's `TCPSocketWrap`, a timer): the root is synthetic; what it reports is the kind of
//!   handle, how many are new, and the class of the program's objects they hold.

use std::collections::HashMap;

use super::backing_store::owner_of_store;
use super::result::{GrowthChain, GrowthManyRoots, GrowthRoot};
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::code_index::{folded_path, is_scope};
use crate::core::diagnose::heapsnapshot::collections::member_class;
use crate::core::diagnose::heapsnapshot::dominators::{DominatorTree, Visit};
use crate::core::diagnose::heapsnapshot::holder::is_global_object;
use crate::core::diagnose::heapsnapshot::paths::{describe_node, edge_label};
use crate::core::diagnose::heapsnapshot::snapshot::{NodeKind, Snapshot};

/// A growth root holds at least this share of all new bytes; so does an old child the descent
/// passes through. Below it, growth is a service's ordinary churn, not a leak's holder.
pub(super) const MIN_SHARE: f64 = 0.05;
/// Links a chain has at least to be reported as one: fewer is an object holding another of its
/// class (a request and its parent), not a list.
pub(super) const MIN_CHAIN_LINKS: u64 = 16;
/// New roots of one kind there are at least to be reported as many roots.
pub(super) const MIN_ROOTS: u64 = 16;
/// How far below a handle the program's object it holds is looked for (`TCPSocketWrap` →
/// `TCP` → `Socket`).
const HANDLE_DEPTH: usize = 3;

/// The name of the snapshot's root, which V8 leaves empty, as DevTools shows it.
const ROOT_NAME: &str = "(GC roots)";

/// New bytes and new objects each node dominates, itself included.
pub(super) struct NewBelow {
    pub(super) bytes: Vec<u64>,
    pub(super) count: Vec<u32>,
}

impl NewBelow {
    /// Sums the new nodes' self sizes and counts up `tree` (`idom`: each node's immediate
    /// dominator).
    pub(super) fn of(snap: &Snapshot, idom: &[u32], tree: &DominatorTree, is_new: &[bool]) -> Self {
        let n = is_new.len();
        let mut bytes = vec![0u64; n];
        let mut count = vec![0u32; n];
        tree.walk(|step| {
            if let Visit::Leave(v) = step {
                if is_new[v] {
                    bytes[v] += snap.self_size(v);
                    count[v] += 1;
                }
                let d = idom[v] as usize;
                if d != v {
                    bytes[d] += bytes[v];
                    count[d] = count[d].saturating_add(count[v]);
                }
            }
        });
        NewBelow { bytes, count }
    }
}

/// A chain's last old link, and the object named for it: the chain's holder.
pub(super) type Redirect = (usize, usize);

/// The growth roots of the last snapshot (see the module doc), most new bytes first, each with
/// the node whose holder is to be named; and, for each chain folded back to its holder, its
/// last old link with that node (a suspect held by the link is named by the chain's holder).
pub(super) fn growth_roots(
    last: &Analysis,
    tree: &DominatorTree,
    is_new: &[bool],
    top: usize,
) -> (Vec<(GrowthRoot, usize)>, Vec<Redirect>) {
    let snap = &last.snapshot;
    let below = NewBelow::of(snap, &last.idom, tree, is_new);
    let mut found = descend(snap.root(), tree, is_new, &below);
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut redirects = Vec::new();
    let mut roots = Vec::new();
    for (v, bytes, count) in found {
        let Some(shape) = Shape::of(last, tree, is_new, &below, v) else {
            continue;
        };
        if shape.chain.is_some() && shape.named != v {
            redirects.push((v, shape.named));
        }
        let named = shape.named;
        roots.push((shape.report(last, bytes, count), named));
        if roots.len() == top {
            break;
        }
    }
    (roots, redirects)
}

/// The growth roots below `root`: (node, new bytes it alone holds, new objects it alone holds).
pub(super) fn descend(
    root: usize,
    tree: &DominatorTree,
    is_new: &[bool],
    below: &NewBelow,
) -> Vec<(usize, u64, u64)> {
    let total = below.bytes[root];
    if total == 0 {
        return Vec::new();
    }
    let threshold = ((total as f64 * MIN_SHARE) as u64).max(1);
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(v) = stack.pop() {
        let (mut passed_bytes, mut passed_count) = (0u64, 0u64);
        for &c in tree.children(v) {
            let c = c as usize;
            if !is_new[c] && below.bytes[c] >= threshold {
                stack.push(c);
                passed_bytes += below.bytes[c];
                passed_count += below.count[c] as u64;
            }
        }
        let own = below.bytes[v] - passed_bytes;
        if own >= threshold {
            found.push((v, own, below.count[v] as u64 - passed_count));
        }
    }
    found
}

/// What a growth root is, as a person would name it.
struct Shape {
    /// The object to name: the root, or the holder of the chain it ends.
    named: usize,
    chain: Option<GrowthChain>,
    many_roots: Option<GrowthManyRoots>,
    /// For a holder that is no collection, the class of the program's object it holds the
    /// most new bytes in (a timer list's `Timeout`).
    holds: Option<String>,
}

pub(super) mod by_path;

impl Shape {
    /// The shape of growth root `v`; `None` for VM machinery that holds neither a chain nor many
    /// new roots of one kind (Node's own bookkeeping, a code cache: no holder a person can act
    /// on).
    fn of(
        last: &Analysis,
        tree: &DominatorTree,
        is_new: &[bool],
        below: &NewBelow,
        v: usize,
    ) -> Option<Shape> {
        let snap = &last.snapshot;
        if v == snap.root() || snap.node_kind(v) == NodeKind::Synthetic {
            let many_roots = many_roots(snap, tree, is_new, below, v)?;
            return Some(Shape {
                named: v,
                chain: None,
                many_roots: Some(many_roots),
                holds: None,
            });
        }
        // A chain's last old link, folded back to its head (links of one class, each held by
        // the one before through the same property), is named by what holds the head; a chain
        // that grows from its head hangs below the root's heaviest child.
        let head = chain_head(snap, &last.idom, v);
        let folded = (head != v)
            .then(|| chain_from(snap, tree, is_new, below, head))
            .flatten();
        let (named, start, chain) = match folded {
            Some(chain) => (last.idom[head] as usize, head, Some(chain)),
            None => {
                let heaviest = tree
                    .children(v)
                    .iter()
                    .map(|&c| c as usize)
                    .max_by_key(|&c| (below.bytes[c], std::cmp::Reverse(c)));
                let chain = heaviest.and_then(|h| chain_from(snap, tree, is_new, below, h));
                (owner_of_store(last, v), heaviest.unwrap_or(v), chain)
            }
        };
        // What holds a chain's head may be VM machinery (a module's scope holding `let head`):
        // the head is named then, by its variable; so is the heaviest new object a scope holds.
        let named = match chain {
            _ if is_nameable(snap, named) => named,
            Some(_) => start,
            None if is_scope(snap, named) && start != v => start,
            None => return None,
        };
        let holds = tree
            .children(v)
            .iter()
            .map(|&c| c as usize)
            .filter(|&c| is_new[c] && snap.is_program_node(c))
            .max_by_key(|&c| (below.bytes[c], std::cmp::Reverse(c)))
            .map(|c| snap.class_name(c).into_owned());
        Some(Shape {
            named,
            chain,
            many_roots: None,
            holds,
        })
    }

    /// The growth root as reported, holding `new_bytes` in `new_count` new objects.
    fn report(self, last: &Analysis, new_bytes: u64, new_count: u64) -> GrowthRoot {
        let snap = &last.snapshot;
        let v = self.named;
        let (retainer_path, readable_path) = match last.tree.edges_to(snap, v) {
            Some(edges) => (
                last.tree.describe(snap, v),
                folded_path(snap, &last.code, &edges),
            ),
            None => (last.tree.describe(snap, v), last.tree.describe(snap, v)),
        };
        GrowthRoot {
            name: match snap.node_kind(v) {
                NodeKind::Synthetic if snap.name(v).is_empty() => ROOT_NAME.to_string(),
                NodeKind::Synthetic => snap.name(v).to_string(),
                _ => describe_node(snap, v),
            },
            id: i64::from(snap.node_id[v]),
            new_bytes: new_bytes as i64,
            new_count: new_count as i64,
            share: 0.0,
            retained_size: last.retained.get(v) as i64,
            member_class: self
                .chain
                .as_ref()
                .map(|c| c.class.clone())
                .or_else(|| member_class(snap, v))
                .or(self.holds),
            chain: self.chain,
            many_roots: self.many_roots,
            retainer_path,
            readable_path,
            holder: None,
        }
    }
}

/// What tells DevTools' classes apart, as [`ClassIndex`](crate::core::diagnose::heapsnapshot::summary::ClassIndex)
/// groups nodes, read off the node itself (no index of every node's class is held while the
/// growth roots are found): an object's or a native's name, any other node's type.
fn class_key(snap: &Snapshot, v: usize) -> (bool, u32) {
    match snap.node_kind(v) {
        NodeKind::Object | NodeKind::Native => (true, snap.node_name[v]),
        _ => (false, snap.node_type[v] as u32),
    }
}

/// The first link of the chain that `v` ends, up the dominator tree (`idom`): while each is
/// held by one of its class through the same property; `v` itself when none holds it so.
fn chain_head(snap: &Snapshot, idom: &[u32], v: usize) -> usize {
    let via = |from: usize, to: usize| {
        snap.edges(from)
            .find(|&e| snap.edge_to[e] as usize == to)
            .map(|e| snap.edge_name[e])
    };
    let mut head = v;
    let mut property = None;
    loop {
        let up = idom[head] as usize;
        if up == snap.root() || up == head || class_key(snap, up) != class_key(snap, v) {
            return head;
        }
        let step = via(up, head);
        if step.is_none() || (property.is_some() && step != property) {
            return head;
        }
        property = step;
        head = up;
    }
}

/// Whether `v` can be named as what holds growth: an object of the program's, not the root nor
/// the global object (Node 24 loads its lazy globals' code under it as a service runs). What
/// holds a chain's head may be VM machinery instead (a module's scope holding `let head`): the
/// head is named then, by its variable; machinery holding no chain is no holder.
fn is_nameable(snap: &Snapshot, v: usize) -> bool {
    v != snap.root() && snap.is_program_node(v) && !is_global_object(snap, v)
}

/// The chain starting at `start`: each link's heaviest dominated child of its own class is
/// the next. `None` when it has fewer than [`MIN_CHAIN_LINKS`] links or no program class.
fn chain_from(
    snap: &Snapshot,
    tree: &DominatorTree,
    is_new: &[bool],
    below: &NewBelow,
    start: usize,
) -> Option<GrowthChain> {
    let class = class_key(snap, start);
    if !snap.is_program_node(start) {
        return None;
    }
    let next_of = |link: usize| {
        tree.children(link)
            .iter()
            .map(|&c| c as usize)
            .filter(|&c| class_key(snap, c) == class)
            .max_by_key(|&c| (below.bytes[c], std::cmp::Reverse(c)))
    };
    let via = next_of(start).and_then(|next| {
        snap.edges(start)
            .find(|&e| snap.edge_to[e] as usize == next)
            .map(|e| edge_label(snap, e))
    })?;
    let (mut links, mut old) = (0u64, 0u64);
    let mut link = Some(start);
    while let Some(l) = link {
        links += 1;
        old += !is_new[l] as u64;
        link = next_of(l);
    }
    (links >= MIN_CHAIN_LINKS).then(|| GrowthChain {
        class: snap.class_name(start).into_owned(),
        via,
        before: old as i64,
        after: links as i64,
    })
}

/// The new handles hanging from the synthetic node `v`, by kind: of the kinds with at least
/// [`MIN_ROOTS`] new, the one holding the most new bytes, how many of it are new, and the most
/// common class of program object under them.
fn many_roots(
    snap: &Snapshot,
    tree: &DominatorTree,
    is_new: &[bool],
    below: &NewBelow,
    v: usize,
) -> Option<GrowthManyRoots> {
    let mut kinds: HashMap<u32, (u64, u64)> = HashMap::new();
    for &c in tree.children(v) {
        let c = c as usize;
        if is_new[c] {
            let kind = kinds.entry(snap.node_name[c]).or_default();
            kind.0 += below.bytes[c];
            kind.1 += 1;
        }
    }
    let (&kind, &(_, count)) = kinds
        .iter()
        .filter(|(_, &(_, count))| count >= MIN_ROOTS)
        .max_by_key(|(&name, &(bytes, _))| (bytes, std::cmp::Reverse(name)))?;
    let mut held: HashMap<String, u64> = HashMap::new();
    for &c in tree.children(v) {
        let c = c as usize;
        if is_new[c] && snap.node_name[c] == kind {
            if let Some(object) = program_object_below(snap, tree, &|u| below.bytes[u], c) {
                *held
                    .entry(snap.class_name(object).into_owned())
                    .or_default() += 1;
            }
        }
    }
    let holds = held
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(class, _)| class);
    Some(GrowthManyRoots {
        kind: snap.strings.get(kind).to_string(),
        count: count as i64,
        holds,
    })
}

/// The program's object a handle holds: going down from `handle` to the heaviest child it
/// dominates by `weight` while that child keeps half the handle's, up to [`HANDLE_DEPTH`]
/// levels, the last object of a class of the program's met (a `TCPSocketWrap`'s `TCP`, then
/// the `Socket` it owns). A plain `Object` below is passed over for the class above it: the
/// `_events` of a socket whose listeners keep its `http.Agent` can outweigh half of the
/// socket, and "roots holding Object" names nothing; a plain `Object` is named only when no
/// class is met.
fn program_object_below(
    snap: &Snapshot,
    tree: &DominatorTree,
    weight: &dyn Fn(usize) -> u64,
    handle: usize,
) -> Option<usize> {
    let is_object = |u: usize| {
        snap.node_kind(u) == NodeKind::Object
            && snap.is_program_node(u)
            && snap.node_name[u] != snap.node_name[handle]
    };
    let (mut found, mut plain) = (None, None);
    let mut at = handle;
    for _ in 0..HANDLE_DEPTH {
        let heaviest = tree
            .children(at)
            .iter()
            .map(|&c| c as usize)
            .max_by_key(|&c| (weight(c), std::cmp::Reverse(c)));
        match heaviest {
            Some(c) if weight(c) * 2 >= weight(handle) => at = c,
            _ => break,
        }
        if is_object(at) && snap.name(at) == "Object" {
            plain = plain.or(Some(at));
        } else if is_object(at) {
            found = Some(at);
        }
    }
    found.or(plain)
}

#[cfg(test)]
mod tests;
