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
    pub fn retained_sizes(&self, self_size: impl Fn(usize) -> u64) -> RetainedSizes {
        let mut retained: Vec<u64> = (0..self.idom.len()).map(self_size).collect();
        for &v in self.preorder.iter().skip(1).rev() {
            let d = self.idom[v as usize] as usize;
            retained[d] += retained[v as usize];
        }
        RetainedSizes::of(&retained)
    }
}

/// Retained sizes in 4 bytes a node, kept as long as the analysis: the few of 4 GiB or more
/// (the root's, a huge collection's) apart, by node.
#[derive(Debug)]
pub struct RetainedSizes {
    /// Each node's size, or `u32::MAX` for one found in `big`.
    small: Vec<u32>,
    big: Vec<(u32, u64)>,
}

impl RetainedSizes {
    /// The sizes of `sizes`, node by node.
    pub fn of(sizes: &[u64]) -> RetainedSizes {
        let mut big = Vec::new();
        let small = sizes
            .iter()
            .enumerate()
            .map(|(v, &size)| match u32::try_from(size) {
                Ok(s) if s != u32::MAX => s,
                _ => {
                    big.push((v as u32, size));
                    u32::MAX
                }
            })
            .collect();
        RetainedSizes { small, big }
    }

    /// The retained size of node `v`.
    #[inline]
    pub fn get(&self, v: usize) -> u64 {
        match self.small[v] {
            u32::MAX => {
                let i = self.big.partition_point(|&(node, _)| (node as usize) < v);
                self.big[i].1
            }
            size => size as u64,
        }
    }

    /// Every node's, in node order.
    pub fn to_vec(&self) -> Vec<u64> {
        (0..self.small.len()).map(|v| self.get(v)).collect()
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
    /// root's is itself). Built in its own 8 bytes a node, no more at any time: each list is
    /// filled from its end, by its end offset, which leaves that offset at the list's start.
    pub fn new(idom: &[u32], root: usize) -> DominatorTree {
        let n = idom.len();
        // first[d + 1]: where d's children end, counted first.
        let mut first = vec![0u32; n + 1];
        for v in (0..n).filter(|&v| v != root) {
            first[idom[v] as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut children = vec![0u32; n.saturating_sub(1)];
        // Backwards, so that each list is in node order.
        for v in (0..n).rev().filter(|&v| v != root) {
            let end = &mut first[idom[v] as usize + 1];
            *end -= 1;
            children[*end as usize] = v as u32;
        }
        // first[d + 1] is now d's start: moved down by one, the total after the last.
        if n > 0 {
            first.copy_within(1.., 0);
            first[n] = children.len() as u32;
        }
        DominatorTree {
            root,
            first,
            children,
        }
    }

    /// The nodes `v` immediately dominates, in node order.
    pub fn children(&self, v: usize) -> &[u32] {
        &self.children[self.first[v] as usize..self.first[v + 1] as usize]
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

/// Computes the dominator tree of `g` from `root`, in four phases: the depth-first walk
/// (the predecessor lists counted on a second core meanwhile), the predecessor lists (filled
/// half by each core), the semi-dominators, and the immediate dominators.
pub fn dominators(g: &(impl FlowGraph + Sync), root: usize) -> Dominators {
    let n = g.node_count();
    // The edges before `mid` are counted and filled by one thread, the rest by the other.
    let total = if n > 0 { g.edge_range(n - 1).end } else { 0 };
    let mid = first_node_from(g, total / 2);
    let (mut walk, counts) = std::thread::scope(|scope| {
        let counts = scope.spawn(|| PredecessorCounts::of(g, mid));
        let mut walk = Walk::new(n);
        walk.from(g, root);
        let counts = counts
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (walk, counts)
    });
    walk.attach_unreached(g, &counts);
    let Walk {
        num,
        order,
        parent,
        attached,
        ..
    } = walk;
    let (preds, first) = counts.fill(g, mid, &num);
    drop(num);
    let (semi, ancestor) = semi_dominators(&order, &parent, &preds, &first);
    drop((preds, first));
    let idom = immediate_dominators(semi, &parent, ancestor);
    drop(parent);
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

/// The depth-first walk. Preorder numbers are 1-based in `num` (0: not visited), 0-based
/// everywhere else.
struct Walk {
    num: Vec<u32>,
    order: Vec<u32>,
    /// The parent of each node, by preorder number; an attached start's is the root (0).
    parent: Vec<u32>,
    attached: Vec<u32>,
    stack: Vec<(u32, u32)>,
}

impl Walk {
    fn new(n: usize) -> Walk {
        Walk {
            num: vec![0u32; n],
            order: Vec::with_capacity(n),
            parent: Vec::with_capacity(n),
            attached: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// Walks depth-first from `start`, numbering every node it reaches that is not yet.
    fn from(&mut self, g: &impl FlowGraph, start: usize) {
        let (num, order, parent) = (&mut self.num, &mut self.order, &mut self.parent);
        num[start] = order.len() as u32 + 1;
        order.push(start as u32);
        parent.push(0);
        self.stack
            .push((start as u32, g.edge_range(start).start as u32));
        while let Some(top) = self.stack.last_mut() {
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
                    self.stack.push((w as u32, g.edge_range(w).start as u32));
                }
                None => {
                    self.stack.pop();
                }
            }
        }
    }

    /// Attaches the nodes the root does not reach (see the module doc): first those without a
    /// predecessor (`counts`), then the rest, each walked from in turn.
    fn attach_unreached(&mut self, g: &impl FlowGraph, counts: &PredecessorCounts) {
        let n = self.num.len();
        if self.order.len() == n {
            return;
        }
        for v in 0..n {
            if self.num[v] == 0 && counts.first[v + 1] == 0 && counts.low[v + 1] == 0 {
                self.attached.push(v as u32);
                self.from(g, v);
            }
        }
        for v in 0..n {
            if self.num[v] == 0 {
                self.attached.push(v as u32);
                self.from(g, v);
            }
        }
    }
}

/// How many predecessors each node has, in two parts: the edges from nodes before `mid` are
/// counted into `low[t + 1]`, the others into `first[t + 1]`.
struct PredecessorCounts {
    first: Vec<u32>,
    low: Vec<u32>,
}

impl PredecessorCounts {
    /// Counts the predecessors of every node of `g`.
    fn of(g: &impl FlowGraph, mid: usize) -> PredecessorCounts {
        let n = g.node_count();
        let mut low = vec![0u32; n + 2];
        let mut first = vec![0u32; n + 2];
        for_each_edge(g, 0..mid, |_, t| low[t + 1] += 1);
        for_each_edge(g, mid..n, |_, t| first[t + 1] += 1);
        PredecessorCounts { first, low }
    }

    /// The predecessor lists, as preorder numbers (`num`): those of node `t` are
    /// `preds[first[t + 1]..first[t + 2]]`; returns `preds` and `first`. Filled on two cores,
    /// each list from its end down: the later part from the list's end (kept in `first`), the
    /// earlier one from where the later will stop (kept in `low`), so that `low` ends up
    /// holding the list starts.
    fn fill(
        self,
        g: &(impl FlowGraph + Sync),
        mid: usize,
        num: &[u32],
    ) -> (Vec<AtomicU32>, Vec<u32>) {
        let PredecessorCounts { mut first, mut low } = self;
        let n = g.node_count();
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
            scope.spawn(|| fill_preds(g, mid..n, &mut first, num, &preds));
            fill_preds(g, 0..mid, &mut low, num, &preds);
        });
        (preds, low)
    }
}

/// The semi-dominator of each node by preorder number (`label` holds the least semi on the
/// compressed path), and the forest's `ancestor` links, for reuse. An attached node's parent is
/// the root, so its semi-dominator is the root.
fn semi_dominators(
    order: &[u32],
    parent: &[u32],
    preds: &[AtomicU32],
    first: &[u32],
) -> (Vec<u32>, Vec<u32>) {
    let n = order.len();
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
    (semi, ancestor)
}

/// The immediate dominator of each node by preorder number: the nearest common ancestor of its
/// parent and its semi-dominator. Stored in `ancestor`, which is no longer needed.
fn immediate_dominators(semi: Vec<u32>, parent: &[u32], ancestor: Vec<u32>) -> Vec<u32> {
    let mut idom = ancestor;
    if !idom.is_empty() {
        idom[0] = 0;
    }
    for w in 1..idom.len() {
        let mut d = parent[w];
        while d > semi[w] {
            d = idom[d as usize];
        }
        idom[w] = d;
    }
    idom
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
mod tests;
