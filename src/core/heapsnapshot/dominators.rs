//! Dominator tree by semi-NCA (Georgiadis' simplification of Lengauer–Tarjan): the semi-
//! dominators with link-eval and path compression, then each immediate dominator as the nearest
//! common ancestor of its parent and its semi-dominator. Iterative throughout: no recursion.
//!
//! Nodes the root does not reach are attached to the root as DevTools does: first those with
//! no predecessor at all, each followed by everything it reaches; then whatever is left, in
//! index order. The attachments are virtual edges from the root, reported in `attached`.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

const NONE: u32 = u32::MAX;

/// A directed graph as the dominator computation sees it.
pub trait FlowGraph {
    /// Number of nodes, numbered `0..node_count()`.
    fn node_count(&self) -> usize;
    /// The positions of `v`'s outgoing edges.
    fn edge_range(&self, v: usize) -> Range<usize>;
    /// The target of edge `e`, or `None` if the edge does not take part.
    fn target(&self, e: usize) -> Option<usize>;
}

/// The dominator tree of a `FlowGraph`.
#[derive(Debug)]
pub struct Dominators {
    /// Immediate dominator of each node; the root's is itself.
    pub idom: Vec<u32>,
    /// All nodes in DFS preorder from the root; a node's dominator comes before it.
    pub preorder: Vec<u32>,
    /// Nodes the root did not reach, given a virtual edge from the root.
    pub attached: Vec<u32>,
}

impl Dominators {
    /// Retained size of every node: its own size plus that of every node it dominates.
    pub fn retained_sizes(&self, self_size: impl Fn(usize) -> u64) -> Vec<u64> {
        let mut retained: Vec<u64> = (0..self.idom.len()).map(self_size).collect();
        for &v in self.preorder.iter().skip(1).rev() {
            let d = self.idom[v as usize] as usize;
            retained[d] += retained[v as usize];
        }
        retained
    }
}

/// A step of [`DominatorTree::walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visit {
    /// Node `v`, before its subtree.
    Enter(usize),
    /// Node `v`, after its subtree.
    Leave(usize),
}

/// The dominator tree as children lists, to walk it from the root: 8 bytes a node.
pub struct DominatorTree {
    root: usize,
    /// The children of node `v` are `children[first[v]..first[v + 1]]`.
    first: Vec<u32>,
    children: Vec<u32>,
}

impl DominatorTree {
    /// The children lists of the tree `idom` describes (each node's immediate dominator; the
    /// root's is itself).
    pub fn new(idom: &[u32], root: usize) -> DominatorTree {
        let n = idom.len();
        let mut first = vec![0u32; n + 1];
        for v in (0..n).filter(|&v| v != root) {
            first[idom[v] as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut children = vec![0u32; n.saturating_sub(1)];
        let mut fill = first.clone();
        for v in (0..n).filter(|&v| v != root) {
            let d = idom[v] as usize;
            children[fill[d] as usize] = v as u32;
            fill[d] += 1;
        }
        DominatorTree {
            root,
            first,
            children,
        }
    }

    /// Walks the tree depth-first from the root (iteratively), children in node order.
    pub fn walk(&self, mut visit: impl FnMut(Visit)) {
        if self.first.len() < 2 {
            return;
        }
        let mut stack: Vec<(u32, u32)> = vec![(self.root as u32, self.first[self.root])];
        visit(Visit::Enter(self.root));
        while let Some(top) = stack.last_mut() {
            let v = top.0 as usize;
            if top.1 < self.first[v + 1] {
                let c = self.children[top.1 as usize];
                top.1 += 1;
                visit(Visit::Enter(c as usize));
                stack.push((c, self.first[c as usize]));
            } else {
                stack.pop();
                visit(Visit::Leave(v));
            }
        }
    }
}

/// Computes the dominator tree of `g` from `root`. The predecessor lists are counted and filled
/// on a second core (counted during the depth-first search, filled half by each core).
pub fn dominators(g: &(impl FlowGraph + Sync), root: usize) -> Dominators {
    let n = g.node_count();
    // Preorder numbers are 1-based in `num` (0: not visited), 0-based everywhere else.
    let mut num = vec![0u32; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    let mut parent: Vec<u32> = Vec::with_capacity(n);
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut attached = Vec::new();

    // Depth-first from `start`; an attached start's parent is the root (number 0).
    let mut dfs =
        |start: usize, num: &mut Vec<u32>, order: &mut Vec<u32>, parent: &mut Vec<u32>| {
            num[start] = order.len() as u32 + 1;
            order.push(start as u32);
            parent.push(0);
            stack.push((start as u32, g.edge_range(start).start as u32));
            while let Some(top) = stack.last_mut() {
                let v = top.0 as usize;
                let end = g.edge_range(v).end;
                let mut e = top.1 as usize;
                let mut next = None;
                while e < end {
                    let t = g.target(e);
                    e += 1;
                    if let Some(w) = t {
                        if num[w] == 0 {
                            next = Some(w);
                            break;
                        }
                    }
                }
                top.1 = e as u32;
                match next {
                    Some(w) => {
                        num[w] = order.len() as u32 + 1;
                        order.push(w as u32);
                        parent.push(num[v] - 1);
                        stack.push((w as u32, g.edge_range(w).start as u32));
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        };

    // Predecessor lists: those of node `t` will be `preds[first[t + 1]..first[t + 2]]`, as
    // preorder numbers. They are filled on two cores, the edges of the nodes before `mid` by
    // one thread and the rest by the other, so each list has two parts: the edges before
    // `mid` are counted into `low[t + 1]`, the others into `first[t + 1]`, on the second core
    // while this one runs the depth-first search from the root.
    let total = if n > 0 { g.edge_range(n - 1).end } else { 0 };
    let mid = first_node_from(g, total / 2);
    let (mut first, mut low) = std::thread::scope(|scope| {
        let counts = scope.spawn(|| {
            let mut low = vec![0u32; n + 2];
            let mut first = vec![0u32; n + 2];
            for_each_edge(g, 0..mid, |_, t| low[t + 1] += 1);
            for_each_edge(g, mid..n, |_, t| first[t + 1] += 1);
            (first, low)
        });
        dfs(root, &mut num, &mut order, &mut parent);
        counts
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    if order.len() < n {
        for v in 0..n {
            if num[v] == 0 && first[v + 1] == 0 && low[v + 1] == 0 {
                attached.push(v as u32);
                dfs(v, &mut num, &mut order, &mut parent);
            }
        }
        for v in 0..n {
            if num[v] == 0 {
                attached.push(v as u32);
                dfs(v, &mut num, &mut order, &mut parent);
            }
        }
    }

    // The counts summed into ends. Each part is filled from its end down: the later part
    // from the list's end (kept in `first`), the earlier one from where the later will stop
    // (kept in `low`), so that `low` ends up holding the list starts.
    let mut end = 0;
    for i in 0..first.len() {
        end += first[i] + low[i];
        low[i] = end - first[i];
        first[i] = end;
    }
    // Atomic only so that both threads may store into it (relaxed: plain stores on x86).
    let preds: Vec<AtomicU32> = std::iter::repeat_with(|| AtomicU32::new(0))
        .take(end as usize)
        .collect();
    std::thread::scope(|scope| {
        scope.spawn(|| fill_preds(g, mid..n, &mut first, &num, &preds));
        fill_preds(g, 0..mid, &mut low, &num, &preds);
    });
    drop((num, first));
    let first = low;

    // Semi-dominators, by preorder number; `label` holds the least semi on the compressed path.
    // An attached node's parent is the root, so its semi-dominator is the root.
    let mut semi = vec![0u32; n];
    let mut label = vec![0u32; n];
    let mut ancestor = vec![NONE; n];
    let mut path: Vec<u32> = Vec::new();
    for w in (1..n).rev() {
        let mut s = parent[w];
        let node = order[w] as usize;
        for v in &preds[first[node + 1] as usize..first[node + 2] as usize] {
            let v = v.load(Ordering::Relaxed);
            let candidate = if v as usize <= w {
                v
            } else {
                eval(v, &mut ancestor, &mut label, &mut path)
            };
            s = s.min(candidate);
        }
        semi[w] = s;
        label[w] = s;
        ancestor[w] = parent[w];
    }
    drop((label, preds, first));

    // Immediate dominators by preorder number, reusing `ancestor`.
    let mut idom = ancestor;
    if n > 0 {
        idom[0] = 0;
    }
    for w in 1..n {
        let mut d = parent[w];
        while d > semi[w] {
            d = idom[d as usize];
        }
        idom[w] = d;
    }
    drop((semi, parent));
    // Back to node numbers.
    let mut by_node = vec![0u32; n];
    for w in 0..n {
        by_node[order[w] as usize] = order[idom[w] as usize];
    }
    Dominators {
        idom: by_node,
        preorder: order,
        attached,
    }
}

/// Calls `f(v, t)` for every taking-part edge `v -> t` from the nodes in `sources`.
#[inline(always)]
fn for_each_edge(g: &impl FlowGraph, sources: Range<usize>, mut f: impl FnMut(usize, usize)) {
    for v in sources {
        for e in g.edge_range(v) {
            if let Some(t) = g.target(e) {
                f(v, t);
            }
        }
    }
}

/// The first node whose edges start at or after edge `e` (the node count if none does).
fn first_node_from(g: &impl FlowGraph, e: usize) -> usize {
    let (mut lo, mut hi) = (0, g.node_count());
    while lo < hi {
        let m = lo + (hi - lo) / 2;
        if g.edge_range(m).start < e {
            lo = m + 1;
        } else {
            hi = m;
        }
    }
    lo
}

/// Stores the preorder numbers of the sources of the edges from `sources` into their targets'
/// lists, moving each target's `end` down as it goes.
fn fill_preds(
    g: &impl FlowGraph,
    sources: Range<usize>,
    ends: &mut [u32],
    num: &[u32],
    preds: &[AtomicU32],
) {
    for_each_edge(g, sources, |v, t| {
        let end = &mut ends[t + 1];
        *end -= 1;
        preds[*end as usize].store(num[v] - 1, Ordering::Relaxed);
    });
}

/// The least semi-dominator on the forest path from `v` up to its tree's root (excluded),
/// compressing the path on the way.
fn eval(v: u32, ancestor: &mut [u32], label: &mut [u32], path: &mut Vec<u32>) -> u32 {
    let mut u = v;
    while ancestor[ancestor[u as usize] as usize] != NONE {
        path.push(u);
        u = ancestor[u as usize];
    }
    while let Some(x) = path.pop() {
        let a = ancestor[x as usize] as usize;
        if label[a] < label[x as usize] {
            label[x as usize] = label[a];
        }
        ancestor[x as usize] = ancestor[a];
    }
    label[v as usize]
}

#[cfg(test)]
mod tests {
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
        assert_eq!(d.retained_sizes(|v| 1 << v), vec![63, 2, 12, 8, 48, 32]);
    }

    #[test]
    fn long_chains_need_no_recursion() {
        let n = 300_000;
        let edges: Vec<(usize, usize, bool)> = (0..n - 1).map(|i| (i, i + 1, true)).collect();
        let g = Toy::new(n, &edges);
        let d = dominators(&g, 0);
        assert_eq!(d.idom[n - 1], (n - 2) as u32);
        assert_eq!(d.retained_sizes(|_| 1)[0], n as u64);
    }
}
