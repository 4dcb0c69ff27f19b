//! Diff of snapshots of one process by node id: what was allocated after the first snapshot
//! and is still alive in the last, which collections grew, and what holds the suspects.
//!
//! With three snapshots A, B, C, "new" means allocated between A and B and still alive in C:
//! objects a request burst creates and then frees drop out; what stays is a leak.

use std::path::Path;

use super::analysis::{read_file, Analysis, ProgressFn};
use super::error::{ErrorKind, SnapshotError};
use super::snapshot::{EdgeKind, NodeKind, Snapshot};
use super::summary::{class_totals, top_by, ClassIndex};

/// Size of one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Nodes.
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Sum of self sizes.
    pub total_size: u64,
}

/// New objects of one class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClass {
    /// Class name.
    pub name: String,
    /// New objects of the class.
    pub count: u64,
    /// Sum of their own sizes.
    pub bytes: u64,
    /// Sum of their retained sizes, not counting one nested in another of the class twice.
    pub retained_size: u64,
}

/// A class of new objects that probably leaks, with the path that holds one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// The class and its totals.
    pub class: NewClass,
    /// Id of the instance whose path is shown (the one retaining the most).
    pub id: u64,
    /// Shortest readable path from the GC roots to that instance.
    pub retainer_path: Vec<String>,
}

/// A Map, Set, Array or plain object that holds more entries than before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrownCollection {
    /// `Map`, `Set`, `Array` or `Object`.
    pub name: String,
    /// Node id (the same in both snapshots).
    pub id: u64,
    /// Entries in the first snapshot.
    pub before: u64,
    /// Entries in the last snapshot.
    pub after: u64,
    /// Retained size in the last snapshot.
    pub retained_size: u64,
    /// Shortest readable path from the GC roots in the last snapshot.
    pub retainer_path: Vec<String>,
}

/// What `diffSnapshots` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffReport {
    /// Size of each snapshot, in the order given.
    pub snapshots: Vec<Totals>,
    /// New objects in all.
    pub new_count: u64,
    /// Their own sizes in all.
    pub new_bytes: u64,
    /// New objects by class, most bytes first.
    pub new_by_class: Vec<NewClass>,
    /// Program-level classes of new objects by retained size, largest first, with paths.
    pub suspects: Vec<Suspect>,
    /// Collections that grew, most new entries first, with paths.
    pub grown_collections: Vec<GrownCollection>,
}

/// Node ids and collection sizes: all a diff keeps of an earlier snapshot.
struct Earlier {
    ids: Vec<u32>,
    /// (id, entries) of every collection, sorted by id.
    collections: Vec<(u32, u64)>,
    totals: Totals,
}

fn totals(snap: &Snapshot) -> Totals {
    Totals {
        nodes: snap.node_count() as u64,
        edges: snap.edge_count() as u64,
        total_size: snap.total_size(),
    }
}

impl Earlier {
    fn of(snap: &Snapshot) -> Earlier {
        let mut ids = snap.node_id.clone();
        ids.sort_unstable();
        let mut collections: Vec<(u32, u64)> = (0..snap.node_count())
            .filter_map(|v| collection_size(snap, v).map(|s| (snap.node_id[v], s)))
            .collect();
        collections.sort_unstable();
        Earlier {
            ids,
            collections,
            totals: totals(snap),
        }
    }

    fn has(&self, id: u32) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    fn collection(&self, id: u32) -> Option<u64> {
        let i = self.collections.binary_search_by_key(&id, |c| c.0).ok()?;
        Some(self.collections[i].1)
    }
}

/// Entries of `v` if it is a Map, Set, Array or plain Object: heap references held, with a
/// Map's key and value counted once.
pub fn collection_size(snap: &Snapshot, v: usize) -> Option<u64> {
    if snap.node_kind(v) != NodeKind::Object {
        return None;
    }
    let indexed = |store: usize| {
        // Entries of a hash table or elements store: runs of consecutive slot indexes
        // (a Map entry is key, value, chain; only heap values have edges).
        let mut slots: Vec<u32> = snap
            .edges(store)
            .filter(|&e| snap.edge_kind(e) != EdgeKind::Weak)
            .filter_map(|e| match snap.edge_name_str(e) {
                None => Some(snap.edge_name[e]),
                Some(name) => name.parse().ok(),
            })
            .collect();
        slots.sort_unstable();
        slots.dedup();
        slots.windows(2).filter(|w| w[1] != w[0] + 1).count() as u64 + (!slots.is_empty()) as u64
    };
    let elements = |v: usize| {
        snap.child_named(v, "elements").map_or(0, |s| {
            snap.edges(s)
                .filter(|&e| snap.edge_kind(e) == EdgeKind::Element)
                .count() as u64
        })
    };
    match snap.name(v) {
        "Map" | "Set" => Some(snap.child_named(v, "table").map_or(0, indexed)),
        "Array" => Some(elements(v)),
        "Object" => {
            let properties = snap
                .edges(v)
                .filter(|&e| {
                    snap.edge_kind(e) == EdgeKind::Property
                        && snap.edge_name_str(e) != Some("__proto__")
                })
                .count() as u64;
            Some(properties + elements(v))
        }
        _ => None,
    }
}

/// Diffs two or three snapshot files (see the module doc), reporting the `top` suspects and
/// grown collections. Reads one file at a time; only ids are kept of the earlier ones.
pub fn diff_files(
    paths: &[&Path],
    top: usize,
    progress: ProgressFn<'_>,
) -> Result<DiffReport, SnapshotError> {
    if !(2..=3).contains(&paths.len()) {
        return Err(SnapshotError::new(
            ErrorKind::Unsupported,
            0,
            format!("a diff takes 2 or 3 snapshots, not {}", paths.len()),
        ));
    }
    let first = Earlier::of(&read_file(paths[0], 0, progress).map_err(|e| e.in_snapshot(0))?);
    let middle = match paths.len() {
        3 => Some(Earlier::of(
            &read_file(paths[1], 1, progress).map_err(|e| e.in_snapshot(1))?,
        )),
        _ => None,
    };
    let last_index = paths.len() as u32 - 1;
    let last = Analysis::of_file(paths[paths.len() - 1], last_index, progress)
        .map_err(|e| e.in_snapshot(last_index))?;
    progress(super::analysis::Progress {
        phase: "summary",
        snapshot: last_index,
        done: 0,
        total: 1,
    });
    let mut snapshots = vec![first.totals.clone()];
    snapshots.extend(middle.as_ref().map(|m| m.totals.clone()));
    snapshots.push(totals(&last.snapshot));
    Ok(diff(&first, middle.as_ref(), &last, top, snapshots))
}

fn diff(
    first: &Earlier,
    middle: Option<&Earlier>,
    last: &Analysis,
    top: usize,
    snapshots: Vec<Totals>,
) -> DiffReport {
    let snap = &last.snapshot;
    let n = snap.node_count();
    let mut is_new = vec![false; n];
    for (v, flag) in is_new.iter_mut().enumerate() {
        let id = snap.node_id[v];
        *flag = !first.has(id) && middle.is_none_or(|m| m.has(id));
    }
    let classes = ClassIndex::new(snap);
    let totals = class_totals(last, &classes, |v| is_new[v]);
    // The instance of each class that retains the most, and whether the class is the program's.
    let mut best: Vec<Option<usize>> = vec![None; classes.names.len()];
    let mut user_level = vec![false; classes.names.len()];
    for v in (0..n).filter(|&v| is_new[v]) {
        let c = classes.of_node[v] as usize;
        user_level[c] = snap.is_program_node(v);
        if best[c].is_none_or(|b| last.retained[v] > last.retained[b]) {
            best[c] = Some(v);
        }
    }
    let new_class = |c: usize| NewClass {
        name: classes.names[c].clone(),
        count: totals[c].0,
        bytes: totals[c].1,
        retained_size: totals[c].2,
    };
    let present = (0..classes.names.len()).filter(|&c| totals[c].0 > 0);
    let mut new_by_class: Vec<NewClass> = present.clone().map(new_class).collect();
    new_by_class.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    let suspects = top_by(present.filter(|&c| user_level[c]), top, |c| totals[c].2)
        .into_iter()
        .map(|c| {
            let v = best[c].expect("a present class has an instance");
            Suspect {
                class: new_class(c),
                id: snap.node_id[v] as u64,
                retainer_path: last.tree.describe(snap, v),
            }
        })
        .collect();
    let mut growth: Vec<(usize, u64, u64)> = Vec::new();
    for v in 0..n {
        if let Some(after) = collection_size(snap, v) {
            if let Some(before) = first.collection(snap.node_id[v]) {
                if after > before {
                    growth.push((v, before, after));
                }
            }
        }
    }
    let grown = top_by(0..growth.len(), top, |i| growth[i].2 - growth[i].1);
    let grown_collections = grown
        .into_iter()
        .map(|i| {
            let (v, before, after) = growth[i];
            GrownCollection {
                name: snap.name(v).to_string(),
                id: snap.node_id[v] as u64,
                before,
                after,
                retained_size: last.retained[v],
                retainer_path: last.tree.describe(snap, v),
            }
        })
        .collect();
    DiffReport {
        snapshots,
        new_count: totals.iter().map(|t| t.0).sum(),
        new_bytes: totals.iter().map(|t| t.1).sum(),
        new_by_class,
        suspects,
        grown_collections,
    }
}
