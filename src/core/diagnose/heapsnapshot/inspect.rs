//! Questions asked of one snapshot after it is read, for a reader who goes back to it: the
//! objects of a class (or the one of an id) with their paths and holders, and what dominates
//! an object up to the GC roots.

use super::analysis::Analysis;
use super::paths::describe_node;
use super::summary::{described, top_by, ClassIndex, LargestObject};

/// One object on a dominator chain: freeing it would free everything below it on the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct DominatorStep {
    /// Class name, or `function NAME at FILE:LINE:COLUMN`.
    pub name: String,
    /// Heap snapshot node id.
    pub id: i64,
    /// Own size, in bytes.
    pub self_size: i64,
    /// Bytes that would be freed with it.
    pub retained_size: i64,
}

/// The node whose heap snapshot id is `id`.
pub fn node_of_id(a: &Analysis, id: u64) -> Option<usize> {
    let id = u32::try_from(id).ok()?;
    a.snapshot.node_id.iter().position(|&n| n == id)
}

/// The objects of class `class` (DevTools' class name): how many there are, and the `top`
/// that retain most, with their paths and holders, largest first.
pub fn class_instances(a: &Analysis, class: &str, top: usize) -> (u64, Vec<LargestObject>) {
    let classes = ClassIndex::new(&a.snapshot);
    let Some(c) = classes.names.iter().position(|name| name == class) else {
        return (0, Vec::new());
    };
    let of_node = &classes.of_node;
    let c = c as u32;
    let members = || (0..a.snapshot.node_count()).filter(move |&v| of_node[v] == c);
    let count = members().count() as u64;
    let nodes = top_by(members(), top, |v| a.retained.get(v));
    (count, described(a, &nodes))
}

/// The immediate dominators of `v` up towards the GC roots, nearest first, at most `limit`;
/// the synthetic root itself is left out.
pub fn dominator_chain(a: &Analysis, v: usize, limit: usize) -> Vec<DominatorStep> {
    let root = a.snapshot.root();
    let mut chain = Vec::new();
    let mut at = v;
    while at != root && chain.len() < limit {
        at = a.idom[at] as usize;
        if at == root {
            break;
        }
        chain.push(DominatorStep {
            name: describe_node(&a.snapshot, at),
            id: i64::from(a.snapshot.node_id[at]),
            self_size: a.snapshot.self_size(at) as i64,
            retained_size: a.retained.get(at) as i64,
        });
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::diagnose::heapsnapshot::testing::snapshot_of;

    /// root → (GC roots) → global → a Map `cache` holding two Session objects through its
    /// table; another Session held by the global directly.
    fn analysis() -> Analysis {
        let strings = [
            "",
            "(GC roots)",
            "Window",
            "Map",
            "Session",
            "cache",
            "table",
            "other",
            "Array",
        ];
        // Types: 9 synthetic, 3 object, 1 array; edges: 2 property, 1 element, 3 internal.
        let nodes = vec![
            (9, 0, 0, vec![(5, 0, 1)]),             // 0: root
            (9, 1, 0, vec![(1, 0, 2)]),             // 1: (GC roots)
            (3, 2, 10, vec![(2, 5, 3), (2, 7, 6)]), // 2: global
            (3, 3, 20, vec![(3, 6, 7)]),            // 3: cache (Map)
            (3, 4, 100, vec![]),                    // 4: Session
            (3, 4, 300, vec![]),                    // 5: Session
            (3, 4, 50, vec![]),                     // 6: Session, global.other
            (1, 8, 8, vec![(1, 0, 4), (1, 1, 5)]),  // 7: the Map's table
        ];
        let snap = snapshot_of(&nodes, |v| 1 + 2 * v as u32, &strings);
        Analysis::new(snap, 0, &mut |_| {})
    }

    #[test]
    fn finds_a_node_by_its_id() {
        let a = analysis();
        assert_eq!(node_of_id(&a, 7), Some(3));
        assert_eq!(node_of_id(&a, 8), None);
        assert_eq!(node_of_id(&a, u64::MAX), None);
    }

    #[test]
    fn lists_a_class_by_retained_size_with_paths() {
        let a = analysis();
        let (count, objects) = class_instances(&a, "Session", 2);
        assert_eq!(count, 3);
        let sizes: Vec<i64> = objects.iter().map(|o| o.retained_size).collect();
        assert_eq!(sizes, vec![300, 100]);
        assert!(objects[0]
            .retainer_path
            .iter()
            .any(|step| step.starts_with("cache")));
        assert_eq!(class_instances(&a, "Nothing", 5), (0, Vec::new()));
    }

    #[test]
    fn a_dominator_chain_climbs_to_the_roots_nearest_first() {
        let a = analysis();
        let session = node_of_id(&a, 1 + 2 * 5).unwrap();
        let names: Vec<String> = dominator_chain(&a, session, 10)
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, vec!["(array)", "Map", "Window", "(synthetic)"]);
        assert_eq!(dominator_chain(&a, session, 2).len(), 2);
        assert!(dominator_chain(&a, a.snapshot.root(), 10).is_empty());
    }
}
