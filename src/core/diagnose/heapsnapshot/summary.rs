//! Per-class totals (DevTools' Summary view) and the largest objects by retained size.

use super::analysis::{Analysis, AnalyzePhase, AnalyzeProgress};
use super::code_index::folded_path;
use super::dominators::{DominatorTree, Visit};
use super::holder::{name_holders, CodeHolder};
use super::snapshot::{NodeKind, Snapshot};

/// Totals of one class of objects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct ClassSummary {
    /// DevTools' class name: the constructor for objects; `(closure)`, `(string)`, `(array)`,
    /// `(system)`... otherwise.
    pub name: String,
    /// Objects of the class.
    pub count: i64,
    /// Sum of their own sizes, in bytes.
    pub self_size: i64,
    /// Sum of their retained sizes, in bytes; an instance inside another of its class counts
    /// once.
    pub retained_size: i64,
}

/// One object that keeps much memory alive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct LargestObject {
    /// Class name, or `function NAME at FILE:LINE:COLUMN` for a function.
    pub name: String,
    /// Heap snapshot node id.
    pub id: i64,
    /// Own size, in bytes.
    pub self_size: i64,
    /// Bytes that would be freed with it (DevTools' retained size).
    pub retained_size: i64,
    /// References from the GC roots.
    pub distance: u32,
    /// Shortest readable path from the GC roots, e.g. `['(GC roots)', 'global', 'cache (Map)',
    /// 'table', 'Session']`.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery (timer lists, listeners, the module loader, the
    /// global object) folded into its first step: `(Node internals: timers) → _idleNext
    /// (Timeout) → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache
    /// (Map)`.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where in the code; absent if none names it.
    pub holder: Option<CodeHolder>,
}

/// What `analyzeSnapshot` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct SnapshotSummary {
    /// Heap objects.
    pub nodes: i64,
    /// References.
    pub edges: i64,
    /// Sum of all own sizes, in bytes.
    pub total_size: i64,
    /// Every class, most retained first.
    pub classes: Vec<ClassSummary>,
    /// The `top` largest program objects by retained size, largest first.
    pub largest: Vec<LargestObject>,
}

/// A dense class number for every node.
pub struct ClassIndex {
    /// Class of each node.
    pub of_node: Vec<u32>,
    /// Name of each class.
    pub names: Vec<String>,
}

impl ClassIndex {
    /// Classifies every node of `snap` by DevTools' class name.
    pub fn new(snap: &Snapshot) -> ClassIndex {
        const UNSET: u32 = u32::MAX;
        let mut by_string = vec![UNSET; snap.strings.len()];
        let mut by_type = vec![UNSET; snap.node_kinds.len()];
        let mut names: Vec<String> = Vec::new();
        let mut of_node = Vec::with_capacity(snap.node_count());
        for n in 0..snap.node_count() {
            let slot = match snap.node_kind(n) {
                NodeKind::Object | NodeKind::Native => &mut by_string[snap.node_name[n] as usize],
                _ => &mut by_type[snap.node_type[n] as usize],
            };
            if *slot == UNSET {
                *slot = names.len() as u32;
                names.push(snap.class_name(n).into_owned());
            }
            of_node.push(*slot);
        }
        ClassIndex { of_node, names }
    }
}

/// Count, self size and non-nested retained size per class, over the nodes `include` accepts.
/// A node's retained size counts unless a dominator of it is an included node of its class.
pub fn class_totals(
    a: &Analysis,
    tree: &DominatorTree,
    classes: &ClassIndex,
    include: impl Fn(usize) -> bool,
) -> Vec<(u64, u64, u64)> {
    let mut totals = vec![(0u64, 0u64, 0u64); classes.names.len()];
    // Instances of each class open on the way down the dominator tree.
    let mut open = vec![0u32; classes.names.len()];
    tree.walk(|step| match step {
        Visit::Enter(v) if include(v) => {
            let c = classes.of_node[v] as usize;
            let t = &mut totals[c];
            t.0 += 1;
            t.1 += a.snapshot.self_size(v);
            if open[c] == 0 {
                t.2 += a.retained.get(v);
            }
            open[c] += 1;
        }
        Visit::Leave(v) if include(v) => open[classes.of_node[v] as usize] -= 1,
        _ => {}
    });
    totals
}

/// The summary of one analyzed snapshot, with the `top` largest objects.
pub fn summarize(a: &Analysis, top: usize) -> SnapshotSummary {
    let snap = &a.snapshot;
    // The largest objects and their paths on a second core while the classes are totalled.
    let (classes, totals, largest) = std::thread::scope(|scope| {
        let largest = scope.spawn(|| {
            let candidates = (0..snap.node_count()).filter(|&v| snap.is_program_node(v));
            described(a, &top_by(candidates, top, |v| a.retained.get(v)))
        });
        let classes = ClassIndex::new(snap);
        let tree = DominatorTree::new(&a.idom, snap.root());
        let totals = class_totals(a, &tree, &classes, |_| true);
        let largest = largest
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (classes, totals, largest)
    });
    let mut stats: Vec<ClassSummary> = totals
        .into_iter()
        .zip(classes.names)
        .map(|((count, self_size, retained_size), name)| ClassSummary {
            name,
            count: count as i64,
            self_size: self_size as i64,
            retained_size: retained_size as i64,
        })
        .collect();
    stats.sort_by(|x, y| {
        y.retained_size
            .cmp(&x.retained_size)
            .then(y.self_size.cmp(&x.self_size))
            .then_with(|| x.name.cmp(&y.name))
    });
    SnapshotSummary {
        nodes: snap.node_count() as i64,
        edges: snap.edge_count() as i64,
        total_size: snap.total_size() as i64,
        classes: stats,
        largest,
    }
}

/// `nodes` with their paths and holders, as reported.
pub fn described(a: &Analysis, nodes: &[usize]) -> Vec<LargestObject> {
    let holders = name_holders(&a.snapshot, &a.tree, &a.code, nodes);
    nodes
        .iter()
        .zip(holders)
        .map(|(&v, holder)| large_object(a, v, holder))
        .collect()
}

/// The object `v` with its paths and `holder`, as reported.
pub fn large_object(a: &Analysis, v: usize, holder: Option<CodeHolder>) -> LargestObject {
    let snap = &a.snapshot;
    let readable_path = match a.tree.edges_to(snap, v) {
        Some(edges) => folded_path(snap, &a.code, &edges),
        None => a.tree.describe(snap, v),
    };
    LargestObject {
        name: super::paths::describe_node(snap, v),
        id: i64::from(snap.node_id[v]),
        self_size: snap.self_size(v) as i64,
        retained_size: a.retained.get(v) as i64,
        distance: a.tree.distance[v],
        retainer_path: a.tree.describe(snap, v),
        readable_path,
        holder,
    }
}

/// The `k` items with the largest keys, largest first (ties: earlier item first).
pub fn top_by(
    items: impl Iterator<Item = usize>,
    k: usize,
    key: impl Fn(usize) -> u64,
) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    if k == 0 {
        return Vec::new();
    }
    // A `k` past any snapshot's size (a caller's `top` of u32::MAX) must not reserve for it.
    let mut heap: BinaryHeap<Reverse<(u64, Reverse<usize>)>> =
        BinaryHeap::with_capacity(k.min(1 << 16) + 1);
    for v in items {
        let item = Reverse((key(v), Reverse(v)));
        // Most items are smaller than the k-th largest so far: no push and pop for them.
        if heap.len() == k && heap.peek().is_some_and(|least| item >= *least) {
            continue;
        }
        heap.push(item);
        if heap.len() > k {
            heap.pop();
        }
    }
    let mut out: Vec<(u64, Reverse<usize>)> = heap.into_iter().map(|Reverse(x)| x).collect();
    out.sort_by(|a, b| b.cmp(a));
    out.into_iter().map(|(_, Reverse(v))| v).collect()
}

/// Reads, analyzes and summarizes the snapshot at `path`.
pub fn analyze_file(
    path: &std::path::Path,
    top: usize,
    progress: super::analysis::ProgressFn<'_>,
) -> Result<SnapshotSummary, super::error::SnapshotError> {
    let a = Analysis::of_file(path, 0, progress)?;
    progress(AnalyzeProgress::start(AnalyzePhase::Summary, 0));
    Ok(summarize(&a, top))
}

#[cfg(test)]
mod tests {
    use super::super::analysis::Analysis;
    use super::super::parser::parse;
    use super::*;

    /// root -> (GC roots) -> holder; root =shortcut=> global -> cache (Map) -> a, b (Session);
    /// a -> name (string); b -weak-> a.
    const SNAPSHOT: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"]]}},
"nodes":[9,0,1,0,2, 9,1,3,0,1, 3,2,5,10,1, 3,3,7,20,2, 3,4,9,30,1, 3,4,11,40,1, 2,5,13,50,0],
"edges":[1,1,5, 5,2,10, 1,1,10, 2,7,15, 2,8,20, 2,9,25, 2,10,30, 6,8,20],
"strings":["","(GC roots)","global","Map","Session","abc","2","cache","a","b","x"]}"#;

    /// As V8 14 (Node 26) writes them: the root's shortcut goes to the native context, not the
    /// global object; the global proxy has shortcuts of its own; and a string key of a Map is
    /// internalized, so `(Internalized strings)` holds it too, by a strong internal edge.
    /// root -> (GC roots) -> (Internalized strings) -> key; root =shortcut=> NativeContext
    /// -> global (global*) -> cache (Map) -> table -> key, Session; global (global) =shortcut=>
    /// NativeContext, global (global*).
    const V8_14_SNAPSHOT: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"]]}},
"nodes":[9,0,1,0,2,0, 9,1,3,0,1,0, 0,3,5,100,2,0, 9,4,7,0,1,0, 3,5,9,40,1,0, 3,6,11,20,2,0, 3,7,13,30,1,0, 1,0,15,50,2,0, 2,9,17,24,0,0, 3,8,19,60,0,0],
"edges":[1,1,6, 5,2,12, 1,1,18, 3,10,24, 3,11,30, 3,15,48, 2,13,36, 5,12,12, 5,10,24, 3,14,42, 3,15,48, 3,2,54],
"strings":["","(GC roots)","2","system / NativeContext","(Internalized strings)","global (global*)","global (global)","Map","Session","s1","global_object","global_proxy_object","native_context","cache","table","1"]}"#;

    #[test]
    fn v8_14_the_map_retains_its_internalized_keys() {
        let snap = parse(V8_14_SNAPSHOT.as_bytes(), None, None).unwrap();
        let a = Analysis::new(snap, 0, &mut |_| {});
        // DevTools' page objects start at the native context; the string table is outside
        // them, so its edge into the key does not count and the Map's table dominates the key
        // (memlab, whose page starts at (GC roots), has the Map retain 140, not 164).
        assert_eq!(a.idom[8], 7);
        assert_eq!(
            a.retained.to_vec(),
            vec![324, 0, 324, 0, 204, 20, 164, 134, 24, 60]
        );
        let s = summarize(&a, 3);
        let names: Vec<&str> = s.largest.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["global (global*)", "Map", "Session"]);
        assert_eq!(
            s.largest[1].retainer_path,
            [
                "(GC roots)",
                "system / NativeContext",
                "global_object (global (global*))",
                "cache (Map)"
            ]
        );
    }

    #[test]
    fn top_by_matches_a_full_sort() {
        let mut rng = crate::core::test_rng::Rng(0x70b_5eed);
        for case in 0..200 {
            let keys: Vec<u64> = (0..rng.below(60)).map(|_| rng.below(8)).collect();
            let k = rng.below(12) as usize;
            let mut sorted: Vec<usize> = (0..keys.len()).collect();
            sorted.sort_by_key(|&i| (std::cmp::Reverse(keys[i]), i));
            sorted.truncate(k);
            assert_eq!(top_by(0..keys.len(), k, |i| keys[i]), sorted, "case {case}");
        }
    }

    #[test]
    fn classes_retained_sizes_and_paths() {
        let snap = parse(SNAPSHOT.as_bytes(), None, None).unwrap();
        let a = Analysis::new(snap, 0, &mut |_| {});
        assert_eq!(a.retained.to_vec(), vec![150, 0, 150, 140, 80, 40, 50]);
        let s = summarize(&a, 3);
        assert_eq!((s.nodes, s.edges, s.total_size), (7, 8, 150));
        let session = s.classes.iter().find(|c| c.name == "Session").unwrap();
        assert_eq!(
            (session.count, session.self_size, session.retained_size),
            (2, 70, 120)
        );
        let names: Vec<&str> = s.largest.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["global", "Map", "Session"]);
        assert_eq!(
            s.largest[1].retainer_path,
            ["(GC roots)", "global", "cache (Map)"]
        );
        assert_eq!(
            s.largest[2].retainer_path,
            ["(GC roots)", "global", "cache (Map)", "a (Session)"]
        );
        assert_eq!(
            a.tree.describe(&a.snapshot, 6),
            [
                "(GC roots)",
                "global",
                "cache (Map)",
                "a (Session)",
                "x (string)"
            ]
        );
    }
}
