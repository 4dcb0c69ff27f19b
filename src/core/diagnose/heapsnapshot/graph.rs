//! The retention graph: DevTools' rules for which edges keep a node alive.
//!
//! An edge counts for dominators unless it is weak; a shortcut from anything but the root; a
//! self-reference; the table's half of a WeakMap entry (the key's half is kept); or an edge from
//! outside the objects the user roots own into them (DevTools' page-object rule). The user roots
//! are the targets of the root's shortcut edges: the global objects up to V8 13, their native
//! contexts from V8 14 (Node 26) on. Whatever they are, the rule follows the shortcuts.

use std::ops::Range;

use super::dominators::FlowGraph;
use super::snapshot::{EdgeKind, NodeKind, Snapshot};

/// A fixed-size bit set.
#[derive(Debug, Clone)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// `n` zero bits.
    pub fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    /// Bit `i`.
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.0[i >> 6] & (1 << (i & 63)) != 0
    }

    /// Sets bit `i`.
    #[inline]
    pub fn set(&mut self, i: usize) {
        self.0[i >> 6] |= 1 << (i & 63);
    }
}

/// A snapshot's edges that keep their targets alive.
pub struct RetentionGraph<'a> {
    snap: &'a Snapshot,
    essential: Bits,
}

impl<'a> RetentionGraph<'a> {
    /// Classifies every edge of `snap`, the first and second halves of the edges on two cores
    /// (split at a word of the bit set, so each thread writes its own words).
    pub fn new(snap: &'a Snapshot) -> RetentionGraph<'a> {
        let page = page_owned(snap);
        let mut essential = Bits::new(snap.edge_count());
        let edges = snap.edge_count();
        let split = (edges / 2).next_multiple_of(64).min(edges);
        let (low, high) = essential.0.split_at_mut(split.div_ceil(64));
        std::thread::scope(|scope| {
            scope.spawn(|| mark_essential(snap, &page, split..edges, high));
            mark_essential(snap, &page, 0..split, low);
        });
        RetentionGraph { snap, essential }
    }
}

/// Sets in `words` (the bits of `edges`, which start at a multiple of 64) those of the
/// essential edges.
fn mark_essential(snap: &Snapshot, page: &Bits, edges: Range<usize>, words: &mut [u64]) {
    if edges.is_empty() {
        return;
    }
    // The node whose edges include `edges.start`: the last one starting at or before it.
    let first_node = snap.first_edge[..snap.node_count()]
        .partition_point(|&f| f as usize <= edges.start)
        .saturating_sub(1);
    for v in first_node..snap.node_count() {
        let own = snap.edges(v);
        if own.start >= edges.end {
            break;
        }
        for e in own.start.max(edges.start)..own.end.min(edges.end) {
            if is_essential(snap, page, v, e) {
                let i = e - edges.start;
                words[i >> 6] |= 1 << (i & 63);
            }
        }
    }
}

impl FlowGraph for RetentionGraph<'_> {
    fn node_count(&self) -> usize {
        self.snap.node_count()
    }

    #[inline]
    fn edge_range(&self, v: usize) -> Range<usize> {
        self.snap.edges(v)
    }

    #[inline]
    fn target(&self, e: usize) -> Option<usize> {
        self.essential.get(e).then(|| self.snap.edge_to[e] as usize)
    }
}

/// DevTools' page objects: what the root's shortcut edges (the user roots) and the
/// `(Document DOM trees)` root reach through non-weak edges.
fn page_owned(snap: &Snapshot) -> Bits {
    let mut page = Bits::new(snap.node_count());
    let root = snap.root();
    let mut stack: Vec<u32> = Vec::new();
    for e in snap.edges(root) {
        let t = snap.edge_to[e] as usize;
        let entry = match snap.edge_kind(e) {
            EdgeKind::Shortcut => true,
            EdgeKind::Element => {
                snap.node_kind(t) == NodeKind::Synthetic && snap.name(t) == "(Document DOM trees)"
            }
            _ => false,
        };
        if entry && !page.get(t) {
            page.set(t);
            stack.push(t as u32);
        }
    }
    while let Some(v) = stack.pop() {
        for e in snap.edges(v as usize) {
            let t = snap.edge_to[e] as usize;
            if !page.get(t) && snap.edge_kind(e) != EdgeKind::Weak {
                page.set(t);
                stack.push(t as u32);
            }
        }
    }
    page
}

fn is_essential(snap: &Snapshot, page: &Bits, v: usize, e: usize) -> bool {
    let kind = snap.edge_kind(e);
    let t = snap.edge_to[e] as usize;
    if kind == EdgeKind::Weak || t == v {
        return false;
    }
    if kind == EdgeKind::Internal {
        if let Some(table) = weak_map_table_id(snap.strings.get(snap.edge_name[e])) {
            if table == snap.node_id[v] as u64 {
                return false;
            }
        }
    }
    if v != snap.root() {
        if kind == EdgeKind::Shortcut {
            return false;
        }
        if page.get(t) && !page.get(v) {
            return false;
        }
    }
    true
}

/// The table id in the name V8 gives a WeakMap entry's edges:
/// `N / part of key (K @k) -> value (V @v) pair in WeakMap (table @ID)`.
fn weak_map_table_id(name: &str) -> Option<u64> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !name[digits..].starts_with(" / part of key (") {
        return None;
    }
    let (_, tail) = name.rsplit_once("pair in WeakMap (table @")?;
    let id = tail.strip_suffix(')')?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_rng::Rng;

    /// A random snapshot of `n` nodes: objects and synthetic roots, edges of every kind,
    /// WeakMap entry names among the internal ones.
    fn random_snapshot(rng: &mut Rng, n: usize) -> Snapshot {
        let mut snap = Snapshot {
            node_kinds: vec![NodeKind::Object, NodeKind::Synthetic],
            node_type_names: vec!["object".into(), "synthetic".into()],
            edge_kinds: [
                "context", "element", "property", "internal", "hidden", "shortcut",
            ]
            .into_iter()
            .chain(["weak"])
            .map(EdgeKind::from_name)
            .collect(),
            ..Snapshot::default()
        };
        for name in [
            "",
            "(Document DOM trees)",
            "1 / part of key (a @1) -> value (b @2) pair in WeakMap (table @7)",
        ] {
            snap.strings.buffer().extend_from_slice(name.as_bytes());
            snap.strings.finish();
        }
        for v in 0..n {
            snap.node_type.push(rng.below(2) as u8);
            snap.node_name.push(rng.below(2) as u32);
            snap.node_id
                .push(if v % 5 == 0 { 7 } else { v as u32 * 2 + 1 });
            snap.push_self_size(1);
            snap.first_edge.push(snap.edge_to.len() as u32);
            for _ in 0..rng.below(7) {
                snap.edge_type.push(rng.below(7) as u8);
                snap.edge_name.push(rng.below(3) as u32);
                snap.edge_to.push(rng.below(n as u64) as u32);
            }
        }
        snap.first_edge.push(snap.edge_to.len() as u32);
        snap
    }

    #[test]
    fn both_halves_classify_every_edge_as_one_pass_does() {
        let mut rng = Rng(0x9a7e_0bed);
        for case in 0..40 {
            let n = 1 + rng.below(if case % 4 == 0 { 20 } else { 3000 }) as usize;
            let snap = random_snapshot(&mut rng, n);
            let page = page_owned(&snap);
            let g = RetentionGraph::new(&snap);
            for v in 0..n {
                for e in snap.edges(v) {
                    let expected = is_essential(&snap, &page, v, e);
                    assert_eq!(g.target(e).is_some(), expected, "case {case}, edge {e}");
                }
            }
        }
    }

    #[test]
    fn weak_map_edge_names() {
        let name = "12 / part of key (Object @5) -> value (Session @7) pair in WeakMap (table @99)";
        assert_eq!(weak_map_table_id(name), Some(99));
        assert_eq!(weak_map_table_id("12"), None);
        assert_eq!(weak_map_table_id("table"), None);
        assert_eq!(
            weak_map_table_id("1 / part of key (a @1) -> value (b @2) pair in WeakMap (table @x)"),
            None
        );
    }
}
