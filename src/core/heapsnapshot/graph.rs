//! The retention graph: DevTools' rules for which edges keep a node alive.
//!
//! An edge counts for dominators unless it is weak; a shortcut from anything but the root; a
//! self-reference; the table's half of a WeakMap entry (the key's half is kept); or an edge from
//! outside the objects the global objects own into them (DevTools' page-object rule).

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
    /// Classifies every edge of `snap`.
    pub fn new(snap: &'a Snapshot) -> RetentionGraph<'a> {
        let page = page_owned(snap);
        let mut essential = Bits::new(snap.edge_count());
        for v in 0..snap.node_count() {
            for e in snap.edges(v) {
                if is_essential(snap, &page, v, e) {
                    essential.set(e);
                }
            }
        }
        RetentionGraph { snap, essential }
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

/// DevTools' page objects: what the root's shortcut edges (the global objects) and the
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
