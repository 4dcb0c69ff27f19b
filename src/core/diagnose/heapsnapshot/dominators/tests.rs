//! The dominator tree against the textbook definition (dominator sets iterated to a fixed
//! point) on random graphs, its walk, unreachable nodes, and chains too long for recursion.

use super::*;
use crate::core::test_rng::Rng;

/// A small graph: adjacency lists, some edges not taking part.
struct Toy {
    first: Vec<usize>,
    targets: Vec<Option<usize>>,
    preds: Vec<Vec<u32>>,
}

impl Toy {
    fn new(n: usize, edges: &[(usize, usize, bool)]) -> Toy {
        let mut sorted = edges.to_vec();
        sorted.sort_by_key(|e| e.0);
        let mut first = vec![0; n + 1];
        for &(s, _, _) in &sorted {
            first[s + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut preds = vec![Vec::new(); n];
        for &(s, t, on) in &sorted {
            if on {
                preds[t].push(s as u32);
            }
        }
        let targets = sorted.iter().map(|&(_, t, on)| on.then_some(t)).collect();
        Toy {
            first,
            targets,
            preds,
        }
    }
}

impl FlowGraph for Toy {
    fn node_count(&self) -> usize {
        self.first.len() - 1
    }
    fn edge_range(&self, v: usize) -> Range<usize> {
        self.first[v]..self.first[v + 1]
    }
    fn target(&self, e: usize) -> Option<usize> {
        self.targets[e]
    }
}

/// The textbook definition, solved by iterating to a fixed point over dominator sets.
fn naive_idom(g: &Toy, root: usize, attached: &[u32]) -> Vec<u32> {
    let n = g.node_count();
    let mut preds: Vec<Vec<usize>> = (0..n)
        .map(|v| g.preds[v].iter().map(|&p| p as usize).collect())
        .collect();
    for &a in attached {
        preds[a as usize].push(root);
    }
    let mut dom: Vec<Vec<bool>> = vec![vec![true; n]; n];
    dom[root] = (0..n).map(|i| i == root).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for v in (0..n).filter(|&v| v != root) {
            let mut set = vec![true; n];
            for &p in &preds[v] {
                for i in 0..n {
                    set[i] &= dom[p][i];
                }
            }
            set[v] = true;
            if set != dom[v] {
                dom[v] = set;
                changed = true;
            }
        }
    }
    (0..n)
        .map(|v| {
            if v == root {
                return root as u32;
            }
            // The strict dominator that every other strict dominator dominates.
            (0..n)
                .filter(|&d| d != v && dom[v][d])
                .max_by_key(|&d| dom[d].iter().filter(|&&b| b).count())
                .unwrap() as u32
        })
        .collect()
}

#[test]
fn matches_the_naive_definition_on_random_graphs() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut below = |n: usize| rng.below(n as u64) as usize;
    for case in 0..3000 {
        let n = 1 + below(24);
        let m = below(n * 3 + 1);
        let edges: Vec<(usize, usize, bool)> = (0..m)
            .map(|_| (below(n), below(n), below(5) != 0))
            .collect();
        let g = Toy::new(n, &edges);
        let root = below(n);
        let d = dominators(&g, root);
        assert_eq!(d.preorder.len(), n, "case {case}");
        assert_eq!(
            d.idom,
            naive_idom(&g, root, &d.attached),
            "case {case}: {edges:?}"
        );
    }
}

#[test]
fn the_tree_walk_enters_each_node_below_its_dominator_and_leaves_it_after_its_subtree() {
    let mut rng = Rng(0x5eed_1e55);
    for case in 0..500 {
        let n = 1 + rng.below(40) as usize;
        // Node 0 is the root; every other node hangs from one before it.
        let idom: Vec<u32> = (0..n)
            .map(|v| {
                if v == 0 {
                    0
                } else {
                    rng.below(v as u64) as u32
                }
            })
            .collect();
        let (mut entered, mut left) = (vec![None; n], vec![None; n]);
        let mut step = 0;
        DominatorTree::new(&idom, 0).walk(|visit| {
            let (slot, v) = match visit {
                Visit::Enter(v) => (&mut entered, v),
                Visit::Leave(v) => (&mut left, v),
            };
            assert!(slot[v].is_none(), "case {case}: node {v} twice");
            slot[v] = Some(step);
            step += 1;
        });
        assert_eq!(step, 2 * n, "case {case}");
        for v in 1..n {
            let d = idom[v] as usize;
            assert!(
                entered[d] < entered[v] && left[v] < left[d],
                "case {case}: node {v}"
            );
        }
    }
}

#[test]
fn retained_sizes_of_4_gib_and_more_are_kept_apart_and_read_back() {
    let sizes = [
        0,
        1,
        u32::MAX as u64 - 1,
        u32::MAX as u64,
        1 << 40,
        7,
        u64::MAX,
    ];
    let packed = RetainedSizes::of(&sizes);
    assert_eq!(packed.to_vec(), sizes);
    assert_eq!(packed.big.len(), 3);
}

#[test]
fn the_tree_lists_each_nodes_children_in_node_order_as_a_naive_build_does() {
    let mut rng = Rng(0xc41_1d5e);
    for case in 0..500 {
        let n = rng.below(40) as usize;
        let root = if n == 0 {
            0
        } else {
            rng.below(n as u64) as usize
        };
        // Any tree: each node but the root hangs from another one, cycles and all left to the
        // numbers (the lists only group nodes by their dominator).
        let idom: Vec<u32> = (0..n)
            .map(|v| {
                if v == root {
                    v as u32
                } else {
                    rng.below(n as u64) as u32
                }
            })
            .collect();
        let tree = DominatorTree::new(&idom, root);
        for d in 0..n {
            let naive: Vec<u32> = (0..n)
                .filter(|&v| v != root && idom[v] as usize == d)
                .map(|v| v as u32)
                .collect();
            assert_eq!(tree.children(d), naive, "case {case}: node {d} of {idom:?}");
        }
    }
}

#[test]
fn unreachable_nodes_hang_from_the_root() {
    // 0 -> 1; 2 has no predecessor and reaches 3; 4 <-> 5 only reach each other.
    let g = Toy::new(
        6,
        &[
            (0, 1, true),
            (2, 3, true),
            (4, 5, true),
            (5, 4, true),
            (1, 2, false),
        ],
    );
    let d = dominators(&g, 0);
    assert_eq!(d.attached, vec![2, 4]);
    assert_eq!(d.idom, vec![0, 0, 0, 2, 0, 4]);
    assert_eq!(
        d.retained_sizes(|v| 1 << v).to_vec(),
        vec![63, 2, 12, 8, 48, 32]
    );
}

#[test]
fn long_chains_need_no_recursion() {
    let n = 300_000;
    let edges: Vec<(usize, usize, bool)> = (0..n - 1).map(|i| (i, i + 1, true)).collect();
    let g = Toy::new(n, &edges);
    let d = dominators(&g, 0);
    assert_eq!(d.idom[n - 1], (n - 2) as u32);
    assert_eq!(d.retained_sizes(|_| 1).get(0), n as u64);
}
