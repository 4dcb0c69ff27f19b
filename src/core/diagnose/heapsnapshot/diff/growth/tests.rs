//! Growth roots on hand-built snapshots (a chain from its head, one from its end, many roots,
//! a collection), and the descent against the definition on random graphs.

use super::by_path::growth_roots_by_paths;
use super::*;
use crate::core::diagnose::heapsnapshot::pathkey::PathCounts;
use crate::core::diagnose::heapsnapshot::testing::{snapshot_of, Node};
use crate::core::test_rng::Rng;

/// Node types and edge types as `snapshot_of` numbers them.
const OBJECT: u32 = 3;
const NATIVE: u32 = 8;
const SYNTHETIC: u32 = 9;
const PROPERTY: u32 = 2;
const INTERNAL: u32 = 3;
const ELEMENT: u32 = 1;
const ARRAY: u32 = 1;

const STRINGS: [&str; 10] = [
    "", "global", "Queue", "LinkNode", "Item", "next", "head", "value", "Bus", "latest",
];

/// The growth roots of `nodes`, of which those `is_new` marks are new.
fn roots_of(nodes: &[Node], is_new: &[bool], strings: &[&str]) -> Vec<GrowthRoot> {
    let last = Analysis::new(
        snapshot_of(nodes, |v| v as u32 * 2 + 1, strings),
        1,
        &mut |_| {},
    );
    let tree = DominatorTree::new(&last.idom, last.snapshot.root());
    let (roots, _) = growth_roots(&last, &tree, is_new, 5);
    roots.into_iter().map(|r| r.0).collect()
}

#[test]
fn a_nodes_class_key_groups_nodes_as_the_class_index_does() {
    let mut rng = Rng(0x0c1a_55e5);
    let types = [OBJECT, NATIVE, SYNTHETIC, ARRAY, 2, 5, 7];
    for case in 0..200 {
        let n = 1 + rng.below(30) as usize;
        let nodes: Vec<Node> = (0..n)
            .map(|_| {
                let kind = types[rng.below(types.len() as u64) as usize];
                (kind, rng.below(STRINGS.len() as u64) as u32, 8, Vec::new())
            })
            .collect();
        let snap = snapshot_of(&nodes, |v| v as u32 * 2 + 1, &STRINGS);
        let classes = crate::core::diagnose::heapsnapshot::summary::ClassIndex::new(&snap);
        for u in 0..n {
            let name = &classes.names[classes.of_node[u] as usize];
            assert_eq!(&snap.class_name(u), name, "case {case}: node {u}");
            for v in 0..n {
                let same = classes.of_node[u] == classes.of_node[v];
                assert_eq!(
                    class_key(&snap, u) == class_key(&snap, v),
                    same,
                    "case {case}: {u}, {v}"
                );
            }
        }
    }
}

/// root → global → a `Queue` (node 2) whose `head` starts a chain of `links` LinkNodes, each
/// with an Item as `value`; the links from `old` on and their Items are new.
fn queue(links: usize, old: usize) -> (Vec<Node>, Vec<bool>) {
    let mut nodes: Vec<Node> = vec![
        (SYNTHETIC, 0, 0, vec![(ELEMENT, 1, 1)]),
        (OBJECT, 1, 10, vec![(PROPERTY, 2, 2)]),
        (OBJECT, 2, 20, vec![(PROPERTY, 6, 3)]),
    ];
    let mut is_new = vec![false; 3];
    for i in 0..links {
        let link = nodes.len();
        let mut edges = vec![(PROPERTY, 7, link + 1)];
        if i + 1 < links {
            edges.push((PROPERTY, 5, link + 2));
        }
        nodes.push((OBJECT, 3, 24, edges));
        nodes.push((OBJECT, 4, 40, Vec::new()));
        is_new.extend([i >= old, i >= old]);
    }
    (nodes, is_new)
}

/// Asserts that `root` holds a chain of (class, via, before, after).
fn assert_chain(root: &GrowthRoot, expected: (&str, &str, i64, i64)) {
    let chain = root.chain.as_ref().expect("a chain");
    let found = (
        chain.class.as_str(),
        chain.via.as_str(),
        chain.before,
        chain.after,
    );
    assert_eq!(found, expected, "{root:?}");
}

#[test]
fn a_chain_grown_at_its_end_is_named_by_what_holds_its_head() {
    let (nodes, is_new) = queue(60, 20);
    let roots = roots_of(&nodes, &is_new, &STRINGS);
    assert_eq!(roots.len(), 1, "{roots:?}");
    let root = &roots[0];
    assert_eq!(root.name, "Queue");
    assert_eq!(root.new_count, 80);
    assert_eq!(root.new_bytes, 40 * 64);
    assert_chain(root, ("LinkNode", "next", 20, 60));
    assert_eq!(root.member_class.as_deref(), Some("LinkNode"));
}

#[test]
fn by_paths_a_chain_is_counted_by_its_links_key_and_named_by_its_holder() {
    // Two processes: the ids differ, the path keys agree.
    let (first, _) = queue(20, 20);
    let (last, _) = queue(60, 60);
    let counts = PathCounts::of(&snapshot_of(&first, |v| v as u32 + 1, &STRINGS));
    let last = Analysis::new(
        snapshot_of(&last, |v| 9000 - v as u32, &STRINGS),
        1,
        &mut |_| {},
    );
    let tree = DominatorTree::new(&last.idom, last.snapshot.root());
    let roots = growth_roots_by_paths(&counts, &last, &tree, 5, 40 * 64);
    assert_eq!(roots.len(), 1, "{roots:?}");
    let (root, named) = &roots[0];
    assert_eq!((root.name.as_str(), *named), ("Queue", 2));
    assert_eq!(root.new_count, 40);
    assert_chain(root, ("LinkNode", "next", 20, 60));
}

#[test]
fn a_map_whose_table_was_not_reallocated_is_named_not_its_table() {
    // root → global → cache (Map) → table → 60 Sessions, the last 40 new; the table is old.
    let strings = ["", "global", "cache", "Map", "table", "(table)", "Session"];
    let mut nodes: Vec<Node> = vec![
        (SYNTHETIC, 0, 0, vec![(ELEMENT, 1, 1)]),
        (OBJECT, 1, 10, vec![(PROPERTY, 2, 2)]),
        (OBJECT, 3, 20, vec![(INTERNAL, 4, 3)]),
        (ARRAY, 5, 64, Vec::new()),
    ];
    for i in 0..60 {
        let session = nodes.len();
        nodes[3].3.push((ELEMENT, i, session));
        nodes.push((OBJECT, 6, 40, Vec::new()));
    }
    let is_new: Vec<bool> = (0..nodes.len()).map(|v| v >= 4 + 20).collect();
    let roots = roots_of(&nodes, &is_new, &strings);
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!(
        (roots[0].name.as_str(), roots[0].chain.as_ref()),
        ("Map", None)
    );
    assert_eq!(roots[0].member_class.as_deref(), Some("Session"));
}

#[test]
fn nested_plain_objects_are_no_chain() {
    // root → global → app → state → sessions: Objects each, holding 45 Sessions, 40 new.
    let strings = [
        "", "global", "app", "state", "sessions", "Object", "Session", "k",
    ];
    let mut nodes: Vec<Node> = vec![
        (SYNTHETIC, 0, 0, vec![(ELEMENT, 1, 1)]),
        (OBJECT, 1, 10, vec![(PROPERTY, 2, 2)]),
        (OBJECT, 5, 20, vec![(PROPERTY, 3, 3)]),
        (OBJECT, 5, 20, vec![(PROPERTY, 4, 4)]),
        (OBJECT, 5, 20, Vec::new()),
    ];
    for _ in 0..45 {
        let session = nodes.len();
        nodes[4].3.push((PROPERTY, 7, session));
        nodes.push((OBJECT, 6, 40, Vec::new()));
    }
    let is_new: Vec<bool> = (0..nodes.len()).map(|v| v >= 5 + 5).collect();
    let roots = roots_of(&nodes, &is_new, &strings);
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!((roots[0].id, roots[0].chain.as_ref()), (4 * 2 + 1, None));
}

#[test]
fn a_short_chain_is_no_chain() {
    let (nodes, is_new) = queue(10, 2);
    let roots = roots_of(&nodes, &is_new, &STRINGS);
    assert_eq!(roots[0].chain, None);
}

#[test]
fn a_chain_grown_at_its_head_is_named_by_its_holder() {
    // root → global → bus (Bus) → latest: the newest Item of a chain through `next`, its
    // oldest 10 links old.
    let links = 40;
    let mut nodes: Vec<Node> = vec![
        (SYNTHETIC, 0, 0, vec![(ELEMENT, 1, 1)]),
        (OBJECT, 1, 10, vec![(PROPERTY, 8, 2)]),
        (OBJECT, 8, 20, vec![(PROPERTY, 9, 3)]),
    ];
    let mut is_new = vec![false; 3];
    for i in 0..links {
        let edges = if i + 1 < links {
            vec![(PROPERTY, 5, nodes.len() + 1)]
        } else {
            Vec::new()
        };
        nodes.push((OBJECT, 4, 32, edges));
        is_new.push(i < links - 10);
    }
    let roots = roots_of(&nodes, &is_new, &STRINGS);
    assert_eq!(roots.len(), 1, "{roots:?}");
    assert_eq!(roots[0].name, "Bus");
    let chain = roots[0].chain.as_ref().expect("a chain");
    assert_eq!(
        (chain.class.as_str(), chain.before, chain.after),
        ("Item", 10, 40)
    );
}

#[test]
fn objects_each_held_by_a_root_of_their_own_are_many_roots() {
    // root → (GC roots) → 50 old and 200 new handles, each → TCP → Socket.
    let strings = [
        "",
        "(GC roots)",
        "Node / TCPSocketWrap",
        "TCP",
        "Socket",
        "owner",
    ];
    let mut nodes: Vec<Node> = vec![
        (SYNTHETIC, 0, 0, vec![(ELEMENT, 1, 1)]),
        (SYNTHETIC, 1, 0, Vec::new()),
    ];
    let mut is_new = vec![false, false];
    for i in 0..250 {
        let handle = nodes.len();
        nodes[1].3.push((ELEMENT, i, handle));
        nodes.push((NATIVE, 2, 100, vec![(PROPERTY, 5, handle + 1)]));
        nodes.push((OBJECT, 3, 30, vec![(PROPERTY, 5, handle + 2)]));
        nodes.push((OBJECT, 4, 200, Vec::new()));
        is_new.extend([i >= 50; 3]);
    }
    let roots = roots_of(&nodes, &is_new, &strings);
    assert_eq!(roots.len(), 1, "{roots:?}");
    let many = roots[0].many_roots.as_ref().expect("many roots");
    assert_eq!(roots[0].name, "(GC roots)");
    assert_eq!(
        (many.kind.as_str(), many.count, many.holds.as_deref()),
        ("Node / TCPSocketWrap", 200, Some("Socket"))
    );
    assert_eq!(roots[0].new_count, 600);
}

#[test]
fn many_roots_hold_the_class_above_a_plain_object() {
    // An http.Agent made per call: root → (GC roots) → 100 new handles, each → TCP → Socket →
    // `_events` (a plain Object, whose listeners keep the Agent: most of the socket's weight).
    let strings = [
        "",
        "(GC roots)",
        "Node / TCPSocketWrap",
        "TCP",
        "Socket",
        "owner",
        "Object",
        "Agent",
    ];
    let mut nodes: Vec<Node> = vec![
        (SYNTHETIC, 0, 0, vec![(ELEMENT, 1, 1)]),
        (SYNTHETIC, 1, 0, Vec::new()),
    ];
    for i in 0..100 {
        let handle = nodes.len();
        nodes[1].3.push((ELEMENT, i, handle));
        nodes.push((NATIVE, 2, 100, vec![(PROPERTY, 5, handle + 1)]));
        nodes.push((OBJECT, 3, 30, vec![(PROPERTY, 5, handle + 2)]));
        nodes.push((OBJECT, 4, 200, vec![(PROPERTY, 5, handle + 3)]));
        nodes.push((OBJECT, 6, 80, vec![(PROPERTY, 5, handle + 4)]));
        nodes.push((OBJECT, 7, 400, Vec::new()));
    }
    let mut is_new = vec![true; nodes.len()];
    is_new[..2].fill(false);
    let roots = roots_of(&nodes, &is_new, &strings);
    let many = roots[0].many_roots.as_ref().expect("many roots");
    assert_eq!(many.holds.as_deref(), Some("Socket"));
    // Named by their class and count, as the census names the active handles of one class.
    let holder = many.holder();
    assert_eq!(
        (holder.name.as_str(), holder.kind.as_str(), holder.description.as_str()),
        (
            "Socket handles",
            "handles",
            "100 new Socket handles (Node / TCPSocketWrap roots, each a root of its own: no collection holds them)"
        )
    );
}

#[test]
fn nothing_new_has_no_growth_root() {
    let (nodes, _) = queue(30, 30);
    assert!(roots_of(&nodes, &[false; 63], &STRINGS).is_empty());
}

/// Whether `d` dominates `u` from `root` (everything reachable): `u` is `d`, or cannot be
/// reached once `d` is taken out.
fn dominates(succ: &[Vec<usize>], root: usize, d: usize, u: usize) -> bool {
    if d == u || d == root {
        return true;
    }
    let mut seen = vec![false; succ.len()];
    let mut stack = vec![root];
    seen[root] = true;
    while let Some(v) = stack.pop() {
        for &t in &succ[v] {
            if t != d && !seen[t] {
                seen[t] = true;
                stack.push(t);
            }
        }
    }
    !seen[u]
}

/// The growth roots by their definition: nodes whose ancestors on the dominator tree (from the
/// root) are all old and hold at least the threshold, and whose new bytes less those of their
/// old children over the threshold are at least the threshold.
fn naive_roots(succ: &[Vec<usize>], size: &[u64], is_new: &[bool]) -> Vec<(usize, u64)> {
    let n = succ.len();
    let matrix: Vec<Vec<bool>> = (0..n)
        .map(|d| (0..n).map(|u| dominates(succ, 0, d, u)).collect())
        .collect();
    let dom = |d: usize, u: usize| matrix[d][u];
    let new_below: Vec<u64> = (0..n)
        .map(|v| {
            (0..n)
                .filter(|&u| is_new[u] && dom(v, u))
                .map(|u| size[u])
                .sum()
        })
        .collect();
    let total = new_below[0];
    if total == 0 {
        return Vec::new();
    }
    let threshold = ((total as f64 * MIN_SHARE) as u64).max(1);
    // Immediate dominator: the strict dominator that every other strict dominator dominates.
    let idom = |u: usize| {
        (0..n)
            .filter(|&d| d != u && dom(d, u))
            .find(|&d| (0..n).all(|o| o == u || o == d || !dom(o, u) || dom(o, d)))
    };
    let heavy_old = |c: usize| !is_new[c] && new_below[c] >= threshold;
    let descended = |v: usize| {
        let mut u = v;
        while let Some(d) = idom(u) {
            if !heavy_old(u) {
                return false;
            }
            u = d;
        }
        true
    };
    let mut roots: Vec<(usize, u64)> = (0..n)
        .filter(|&v| descended(v))
        .map(|v| {
            let passed: u64 = (0..n)
                .filter(|&c| c != v && idom(c) == Some(v) && heavy_old(c))
                .map(|c| new_below[c])
                .sum();
            (v, new_below[v] - passed)
        })
        .filter(|&(_, own)| own >= threshold)
        .collect();
    roots.sort_unstable();
    roots
}

#[test]
fn the_descent_finds_the_growth_roots_of_random_graphs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..300 {
        let n = 2 + rng.below(24) as usize;
        // Node v > 0 is reached from an earlier node, plus a few edges anywhere.
        let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
        for v in 1..n {
            succ[rng.below(v as u64) as usize].push(v);
        }
        for _ in 0..rng.below(2 * n as u64) {
            let (s, t) = (
                rng.below(n as u64) as usize,
                1 + rng.below(n as u64 - 1) as usize,
            );
            if s != t && !succ[s].contains(&t) {
                succ[s].push(t);
            }
        }
        let size: Vec<u64> = (0..n)
            .map(|v| if v == 0 { 0 } else { 1 + rng.below(50) })
            .collect();
        let is_new: Vec<bool> = (0..n).map(|v| v > 0 && rng.below(3) == 0).collect();
        let nodes: Vec<Node> = (0..n)
            .map(|v| {
                let edges = succ[v].iter().map(|&t| (PROPERTY, 1, t)).collect();
                (
                    if v == 0 { SYNTHETIC } else { OBJECT },
                    2,
                    size[v] as u32,
                    edges,
                )
            })
            .collect();
        let last = Analysis::new(
            snapshot_of(&nodes, |v| v as u32 + 1, &STRINGS),
            1,
            &mut |_| {},
        );
        let tree = DominatorTree::new(&last.idom, 0);
        let below = NewBelow::of(&last.snapshot, &last.idom, &tree, &is_new);
        let mut found: Vec<(usize, u64)> = descend(0, &tree, &is_new, &below)
            .into_iter()
            .map(|(v, bytes, _)| (v, bytes))
            .collect();
        found.sort_unstable();
        assert_eq!(
            found,
            naive_roots(&succ, &size, &is_new),
            "case {case}: {succ:?} new {is_new:?}"
        );
    }
}
