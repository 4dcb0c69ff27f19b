//! Shortest retainer paths from the GC roots, written for a person:
//! `(GC roots) → global → sessionCache (Map) → table → Session`.
//!
//! One breadth-first search gives every node its distance and the edge it was first reached
//! by. As in DevTools, the user roots (the root's non-synthetic children: the global objects,
//! or from V8 14 on their native contexts) are searched first, so paths go through program
//! variables when they can. Within one level, property,
//! context and element edges are followed before VM-internal ones, so among equally short
//! paths the readable one wins. Weak edges are never followed.

use super::snapshot::{EdgeKind, NodeKind, Snapshot};

const NONE: u32 = u32::MAX;

/// Distances from the roots and the edge each node was reached by.
pub struct RetainerTree {
    /// Edges from the root to each node; `u32::MAX` where unreachable.
    pub distance: Vec<u32>,
    /// The edge that first reached each node; `u32::MAX` for the root and unreachable nodes.
    parent_edge: Vec<u32>,
}

/// True for the edges a person reads as "this holds that" (followed first).
pub fn readable(snap: &Snapshot, e: usize) -> bool {
    match snap.edge_kind(e) {
        EdgeKind::Property => snap.edge_name_str(e) != Some("__proto__"),
        EdgeKind::Context | EdgeKind::Element => true,
        _ => false,
    }
}

impl RetainerTree {
    /// Searches `snap` from its root.
    pub fn new(snap: &Snapshot) -> RetainerTree {
        let n = snap.node_count();
        let mut distance = vec![NONE; n];
        let mut parent_edge = vec![NONE; n];
        let root = snap.root();
        let mut level: Vec<u32> = Vec::new();
        for e in snap.edges(root) {
            let t = snap.edge_to[e] as usize;
            if snap.node_kind(t) != NodeKind::Synthetic
                && snap.edge_kind(e) != EdgeKind::Weak
                && distance[t] == NONE
                && t != root
            {
                distance[t] = 1;
                parent_edge[t] = e as u32;
                level.push(t as u32);
            }
        }
        distance[root] = 0;
        search(snap, level, 1, &mut distance, &mut parent_edge);
        search(snap, vec![root as u32], 0, &mut distance, &mut parent_edge);
        RetainerTree {
            distance,
            parent_edge,
        }
    }

    /// The edges from the root to `node`, root first; `None` if unreachable.
    pub fn edges_to(&self, snap: &Snapshot, node: usize) -> Option<Vec<usize>> {
        if self.distance[node] == NONE {
            return None;
        }
        let mut path = Vec::new();
        let mut v = node;
        while self.parent_edge[v] != NONE {
            let e = self.parent_edge[v] as usize;
            path.push(e);
            v = source_of_edge(snap, e);
        }
        path.reverse();
        Some(path)
    }

    /// The edge the search first reached `node` by; `None` for the root and unreachable nodes.
    pub fn parent_edge(&self, node: usize) -> Option<usize> {
        (self.parent_edge[node] != NONE).then_some(self.parent_edge[node] as usize)
    }

    /// True if `e` is the edge the search first reached `node` by.
    pub fn is_parent_edge(&self, node: usize, e: usize) -> bool {
        self.parent_edge[node] == e as u32
    }

    /// The readable path to `node`: `(GC roots)`, then one step per edge (the edge's name, and
    /// what it leads to when that is a program object), ending with `node`'s class.
    /// `["(unreachable)", class]` when nothing reaches it.
    pub fn describe(&self, snap: &Snapshot, node: usize) -> Vec<String> {
        match self.edges_to(snap, node) {
            Some(edges) => describe_edges(snap, &edges),
            None => vec!["(unreachable)".to_string(), describe_node(snap, node)],
        }
    }
}

/// The readable path along `edges`, which start at the root: `(GC roots)`, then one step per
/// edge (see [`RetainerTree::describe`]).
pub fn describe_edges(snap: &Snapshot, edges: &[usize]) -> Vec<String> {
    let mut out = vec!["(GC roots)".to_string()];
    for (i, &e) in edges.iter().enumerate() {
        let t = snap.edge_to[e] as usize;
        if i == 0 && snap.name(t) == "(GC roots)" {
            continue;
        }
        out.push(step(snap, e, i == 0, i + 1 == edges.len()));
    }
    out
}

/// The readable path along `edges` (from the root) with Node's own machinery folded: when a
/// function of Node's code comes before the first closure `in_program` accepts, the steps up
/// to that closure's holder become one, `(Node internals: timers)`, naming what they were.
/// Without such a closure or such machinery, the full path.
pub fn describe_folded(
    snap: &Snapshot,
    edges: &[usize],
    in_program: impl Fn(usize) -> bool,
    in_node: impl Fn(usize) -> bool,
) -> Vec<String> {
    let target = |i: usize| snap.edge_to[edges[i]] as usize;
    let first = (0..edges.len()).find(|&i| {
        let t = target(i);
        snap.node_kind(t) == NodeKind::Closure && in_program(t)
    });
    let Some(keep) = first.map(|i| i.saturating_sub(1)).filter(|&k| {
        (0..k).any(|i| snap.node_kind(target(i)) == NodeKind::Closure && in_node(target(i)))
    }) else {
        return describe_edges(snap, edges);
    };
    let mut out = vec![internals_label(snap, &edges[..keep])];
    for i in keep..edges.len() {
        out.push(step(snap, edges[i], false, i + 1 == edges.len()));
    }
    out
}

/// `(Node internals: timers, Server listeners)`: what a folded stretch of path went through.
fn internals_label(snap: &Snapshot, edges: &[usize]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for &e in edges {
        let t = snap.edge_to[e] as usize;
        let name = snap.edge_name_str(e).unwrap_or("");
        let what = match (name, snap.name(t)) {
            (_, "TimersList" | "Timeout" | "Immediate" | "ImmediateList")
            | ("timerListMap" | "timerListQueue" | "immediateQueue", _) => "timers",
            ("_events", _) if snap.name(source_of_edge(snap, e)) == "Server" => "Server listeners",
            ("_events", _) => "event listeners",
            ("mainModule" | "children" | "_cache" | "require", _) | (_, "Module") => {
                "module loader"
            }
            (_, "process") => "process",
            _ => continue,
        };
        if !seen.contains(&what) {
            seen.push(what);
        }
    }
    if seen.is_empty() {
        "(Node internals)".to_string()
    } else {
        format!("(Node internals: {})", seen.join(", "))
    }
}

/// Breadth-first from `level` (at `depth`), each level readable edges first.
fn search(
    snap: &Snapshot,
    mut level: Vec<u32>,
    mut depth: u32,
    distance: &mut [u32],
    parent_edge: &mut [u32],
) {
    let mut next: Vec<u32> = Vec::new();
    while !level.is_empty() {
        depth += 1;
        for pass_readable in [true, false] {
            for &v in &level {
                for e in snap.edges(v as usize) {
                    let t = snap.edge_to[e] as usize;
                    if distance[t] != NONE
                        || snap.edge_kind(e) == EdgeKind::Weak
                        || readable(snap, e) != pass_readable
                    {
                        continue;
                    }
                    distance[t] = depth;
                    parent_edge[t] = e as u32;
                    next.push(t as u32);
                }
            }
        }
        std::mem::swap(&mut level, &mut next);
        next.clear();
    }
}

/// The node whose edge `e` is.
pub fn source_of_edge(snap: &Snapshot, e: usize) -> usize {
    // first_edge is non-decreasing: the last node whose range starts at or before `e`.
    let p = snap.first_edge.partition_point(|&f| f as usize <= e);
    let mut v = p - 1;
    while snap.first_edge[v + 1] as usize <= e {
        v += 1;
    }
    v
}

/// One step along edge `e`: the edge's name, then what it leads to when that is a program
/// object or the end of the path. Synthetic groups and the root's children (the user roots:
/// `global` up to V8 13, `system / NativeContext` from V8 14 on) go by their name.
fn step(snap: &Snapshot, e: usize, from_root: bool, last: bool) -> String {
    let t = snap.edge_to[e] as usize;
    let kind = snap.node_kind(t);
    if kind == NodeKind::Synthetic || from_root {
        return snap.name(t).to_string();
    }
    let class = describe_node(snap, t);
    if last && !readable(snap, e) {
        return class;
    }
    let program_object = matches!(
        kind,
        NodeKind::Object | NodeKind::Native | NodeKind::Closure | NodeKind::RegExp
    ) && !class.starts_with("system / ");
    let label = edge_label(snap, e);
    if !(last || program_object) {
        label
    } else if class.starts_with('(') {
        format!("{label} {class}")
    } else {
        format!("{label} ({class})")
    }
}

/// `name`, `[3]`, or the bare name for internal edges.
pub fn edge_label(snap: &Snapshot, e: usize) -> String {
    match snap.edge_name_str(e) {
        Some(name) if !name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_string()
        }
        Some(name) if !name.is_empty() => format!("[{name}]"),
        _ => format!("[{}]", snap.edge_name[e]),
    }
}

/// Runs of the same step at least this long are written once (a chain's `next` links).
const MIN_REPEATS_FOLDED: usize = 3;

/// `path` with each run of [`MIN_REPEATS_FOLDED`] or more identical steps written once, as
/// `next (Node) ×5,000 in a row`: a path through a linked list is as long as the list.
pub fn fold_repeats(path: Vec<String>) -> Vec<String> {
    let mut folded: Vec<String> = Vec::with_capacity(path.len());
    let mut steps = path.into_iter().peekable();
    while let Some(step) = steps.next() {
        let mut run = 1usize;
        while steps.peek() == Some(&step) {
            steps.next();
            run += 1;
        }
        if run >= MIN_REPEATS_FOLDED {
            folded.push(format!("{step} ×{} in a row", thousands(run as u64)));
        } else {
            folded.extend(std::iter::repeat_n(step, run));
        }
    }
    folded
}

/// A node for a path: its class, and for a function its name and where it was defined.
pub fn describe_node(snap: &Snapshot, n: usize) -> String {
    if snap.node_kind(n) != NodeKind::Closure {
        return snap.class_name(n).into_owned();
    }
    let name = match snap.name(n) {
        "" => "(anonymous)",
        name => name,
    };
    match source_location(snap, n) {
        Some(at) => format!("function {name} at {at}"),
        None => format!("function {name}"),
    }
}

/// `file:line:column` (1-based) of a closure, from `locations` and its script's name.
pub fn source_location(snap: &Snapshot, n: usize) -> Option<String> {
    let loc = snap.location(n)?;
    let file = match script_name(snap, n) {
        Some(file) => file.to_string(),
        None => format!("script {}", loc.script_id),
    };
    Some(format!(
        "{file}:{}:{}",
        loc.line.saturating_add(1),
        loc.column.saturating_add(1)
    ))
}

/// The name of the script closure `n` was defined in, from its shared function info.
pub fn script_name(snap: &Snapshot, n: usize) -> Option<&str> {
    shared_script_name(snap, snap.child_named(n, "shared")?)
}

/// The name of the script of shared function info `shared` (its `script_or_debug_info` edge in
/// older V8, `script` in newer).
pub fn shared_script_name(snap: &Snapshot, shared: usize) -> Option<&str> {
    snap.child_named(shared, "script_or_debug_info")
        .or_else(|| snap.child_named(shared, "script"))
        .map(|s| snap.name(s))
        .filter(|name| !name.is_empty() && !name.starts_with("system /"))
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
