//! Path keys: where a collection sits in the heap, in terms that two snapshots of one program
//! agree on without sharing node ids (forked children number their objects afresh). The idea
//! is BLeak's (PLDI 2018): match the heap paths of collections between snapshots and rank the
//! ones that keep growing.
//!
//! A node's key is a 64-bit FNV-1a hash of the last step of its shortest retainer path (the
//! [`RetainerTree`]): what holds it, and how. The step is the edge's type, its name and the
//! class of the node it leads to (a function's class includes its name and source position);
//! the holder is named by its class, or, when it is a function or module scope, by its script
//! and its variables. Element indexes and numeric names (hash-table slots) are left out, since
//! they differ between snapshots: all the entries of one Map share a key, and are counted
//! together ([`KeyStat`]). Only the last step: the way the search first reached the holder
//! depends on what else is alive (a request in flight that points at a session store, a timer,
//! the module cache), what holds the collection does not. Node ids are never part of a key.

use std::collections::HashMap;

use super::code_index::{is_scope, CodeIndex};
use super::collections::collection_size;
use super::paths::{source_of_edge, RetainerTree};
use super::snapshot::{EdgeKind, NodeKind, Snapshot};
use super::summary::ClassIndex;

/// A hashed path: see the module doc.
pub type PathKey = u64;

/// Hashes a [`PathKey`], already a hash, as itself.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// A map by path key.
pub type KeyMap<V> = HashMap<PathKey, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// 64-bit FNV-1a over the parts of a path.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const START: Fnv = Fnv(0xcbf2_9ce4_8422_2325);

    fn bytes(mut self, bytes: &[u8]) -> Fnv {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    fn u32(self, x: u32) -> Fnv {
        self.bytes(&x.to_le_bytes())
    }

    /// A string and its length, so that `("ab", "c")` and `("a", "bc")` differ.
    fn str(self, s: &str) -> Fnv {
        self.u32(s.len() as u32).bytes(s.as_bytes())
    }

    /// The hash.
    fn finish(self) -> PathKey {
        self.0
    }
}

/// Edge names that stand for a position rather than a name: element indexes, hash-table slots.
const INDEX: &str = "[]";

/// The path keys of a snapshot's nodes.
pub struct PathKeys<'a> {
    snap: &'a Snapshot,
    tree: &'a RetainerTree,
    code: &'a CodeIndex,
}

impl<'a> PathKeys<'a> {
    /// Keys of `snap`'s nodes, by its retainer tree and code index.
    pub fn new(snap: &'a Snapshot, tree: &'a RetainerTree, code: &'a CodeIndex) -> PathKeys<'a> {
        PathKeys { snap, tree, code }
    }

    /// The key of node `v`; `None` when nothing reaches it from the roots.
    pub fn of(&self, v: usize) -> Option<PathKey> {
        if self.tree.distance[v] == u32::MAX {
            return None;
        }
        let Some(e) = self.tree.parent_edge(v) else {
            return Some(Fnv::START.finish());
        };
        let holder = source_of_edge(self.snap, e);
        Some(step(self.snap, self.holder(holder), e).finish())
    }

    /// What a holder is, as the start of a key: a scope by its script and variables, any other
    /// node by its class.
    fn holder(&self, u: usize) -> Fnv {
        let snap = self.snap;
        if is_scope(snap, u) {
            let script = self.code.scope_script(snap, u).unwrap_or("");
            let mut h = Fnv::START.str("scope").str(script);
            for e in snap.edges(u) {
                if snap.edge_kind(e) == EdgeKind::Context {
                    h = h.str(snap.edge_name_str(e).unwrap_or(""));
                }
            }
            return h;
        }
        class_of(snap, Fnv::START.str("held by"), u)
    }
}

/// `h` followed by the class of node `t` (a function also by its position; a string not by
/// its text).
fn class_of(snap: &Snapshot, h: Fnv, t: usize) -> Fnv {
    let kind = snap.node_kind(t);
    let h = h.u32(kind as u32);
    match kind {
        NodeKind::String | NodeKind::ConcatString | NodeKind::SlicedString => h,
        NodeKind::Closure => {
            let at = snap.location(t).map_or((0, 0), |l| (l.line, l.column));
            h.str(snap.name(t)).u32(at.0).u32(at.1)
        }
        _ => h.str(snap.name(t)),
    }
}

/// `h` followed by the step along edge `e`: its type, its name (an index reads as [`INDEX`]),
/// and the class of its target.
fn step(snap: &Snapshot, h: Fnv, e: usize) -> Fnv {
    let name = match snap.edge_name_str(e) {
        Some(name) if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => INDEX,
    };
    class_of(
        snap,
        h.u32(snap.edge_kind(e) as u32).str(name),
        snap.edge_to[e] as usize,
    )
}

/// The collections of one snapshot that share a key.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyStat {
    /// Collections with the key.
    pub count: u64,
    /// Their entries in all (see [`collection_size`]).
    pub entries: u64,
}

impl KeyStat {
    /// The entries `count` collections would hold at this key's average per collection.
    pub fn scaled_to(self, count: u64) -> u64 {
        (self.entries as u128 * count as u128 / self.count.max(1) as u128) as u64
    }

    /// Entries `after` holds beyond what as many collections held on average in `self`: the
    /// growth of the collections, not the arrival of more of them (a Map of sessions grows;
    /// its sessions, each with the same few properties, do not).
    pub fn growth_to(self, after: KeyStat) -> u64 {
        after.entries.saturating_sub(self.scaled_to(after.count))
    }
}

/// Calls `each(node, key, entries)` for every collection of `snap` reachable from the roots.
pub fn for_each_collection(
    snap: &Snapshot,
    tree: &RetainerTree,
    code: &CodeIndex,
    mut each: impl FnMut(usize, PathKey, u64),
) {
    let keys = PathKeys::new(snap, tree, code);
    for v in 0..snap.node_count() {
        if let Some(entries) = collection_size(snap, v) {
            if let Some(key) = keys.of(v) {
                each(v, key, entries);
            }
        }
    }
}

/// A node whose count by path key tells a shape of growth no collection shows (see
/// [`for_each_shape_node`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeNode {
    /// A link of a chain: an object its shortest path reaches from an object of its own class.
    Link,
    /// An object (not itself synthetic) hanging from a synthetic node: a GC root, or the
    /// wrapper Node writes for a handle of its own (a socket's `TCPSocketWrap`, a timer's).
    Root,
}

/// Calls `each(node, key, shape)` for every node of `snap` that is a link of a chain or hangs
/// from a synthetic root (see [`ShapeNode`]): counted by key, they say how long a chain grew
/// and how many objects each kept by a root of its own came, without node ids.
pub fn for_each_shape_node(
    snap: &Snapshot,
    tree: &RetainerTree,
    code: &CodeIndex,
    mut each: impl FnMut(usize, PathKey, ShapeNode),
) {
    let keys = PathKeys::new(snap, tree, code);
    for v in 0..snap.node_count() {
        let Some(e) = tree.parent_edge(v) else {
            continue;
        };
        let u = source_of_edge(snap, e);
        let shape = if snap.node_kind(u) == NodeKind::Synthetic {
            if snap.node_kind(v) == NodeKind::Synthetic {
                continue;
            }
            ShapeNode::Root
        } else if snap.node_kind(v) == NodeKind::Object
            && snap.node_name[u] == snap.node_name[v]
            && snap.node_type[u] == snap.node_type[v]
        {
            ShapeNode::Link
        } else {
            continue;
        };
        if let Some(key) = keys.of(v) {
            each(v, key, shape);
        }
    }
}

/// Objects by class: count and self size, by class name.
pub type ClassCounts = HashMap<String, (u64, u64)>;

/// Count and self size of each class of `classes`.
pub fn class_counts(snap: &Snapshot, classes: &ClassIndex) -> Vec<(u64, u64)> {
    let mut counts = vec![(0u64, 0u64); classes.names.len()];
    for v in 0..snap.node_count() {
        let c = &mut counts[classes.of_node[v] as usize];
        c.0 += 1;
        c.1 += snap.self_size(v);
    }
    counts
}

/// All a diff by paths keeps of an earlier snapshot: its collections by key, its objects by
/// class, its chains' links and root-held objects by key. Not its graph.
pub struct PathCounts {
    /// Collections by path key.
    pub keys: KeyMap<KeyStat>,
    /// Objects by class name.
    pub classes: ClassCounts,
    /// Links of chains and objects held by synthetic roots, counted by key (see [`ShapeNode`]).
    pub shapes: KeyMap<u64>,
}

impl PathCounts {
    /// Counts the objects of `snap` by path, computing its retainer tree and code index meanwhile.
    pub fn of(snap: &Snapshot) -> PathCounts {
        let (tree, (code, classes)) = std::thread::scope(|scope| {
            let side = scope.spawn(|| {
                let classes = ClassIndex::new(snap);
                let counts = class_counts(snap, &classes);
                let by_name = classes.names.into_iter().zip(counts).collect();
                (CodeIndex::new(snap), by_name)
            });
            let tree = RetainerTree::new(snap);
            (
                tree,
                side.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            )
        });
        let mut keys: KeyMap<KeyStat> = KeyMap::default();
        for_each_collection(snap, &tree, &code, |_, key, entries| {
            let stat = keys.entry(key).or_default();
            stat.count += 1;
            stat.entries += entries;
        });
        let mut shapes: KeyMap<u64> = KeyMap::default();
        for_each_shape_node(snap, &tree, &code, |_, key, _| {
            *shapes.entry(key).or_default() += 1
        });
        PathCounts {
            keys,
            classes,
            shapes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_counts_entries_beyond_the_average_of_as_many_collections() {
        let stat = |count, entries| KeyStat { count, entries };
        // One Map from 1,000 to 3,000 entries.
        assert_eq!(stat(1, 1000).growth_to(stat(1, 3000)), 2000);
        // 1,000 sessions of 3 properties become 3,000 of 3: more of them, none grew.
        assert_eq!(stat(1000, 3000).growth_to(stat(3000, 9000)), 0);
        // Two arrays of 10 become three of 20 and 20 and 35.
        assert_eq!(stat(2, 20).growth_to(stat(3, 75)), 45);
        assert_eq!(stat(1, 10).growth_to(stat(1, 4)), 0);
    }
}
