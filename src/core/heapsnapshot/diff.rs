//! Diff of snapshots: what was allocated after the first snapshot and is still alive in the
//! last, which collections grew, and what holds the suspects.
//!
//! Snapshots of one process are matched by node id ([`Matching::Ids`]). Snapshots whose ids
//! name other objects (written by different processes, such as forked children) are matched
//! by retainer path ([`Matching::Paths`], see [`super::pathkey`]): collections by path key,
//! and "new" objects become the classes whose counts grew, held by the grown collections.
//!
//! With three snapshots A, B, C, "new" means allocated between A and B and still alive in C:
//! objects a request burst creates and then frees drop out; what stays is a leak. By paths: a
//! collection that grew from A to B and is no smaller in C.

use std::path::Path;

use std::collections::HashMap;

use super::analysis::{read_file, Analysis, ProgressFn};
use super::dominators::DominatorTree;
use super::error::{ErrorKind, SnapshotError};
use super::holder::{folded_path, name_holders, origin, NamedHolder, Origin};
use super::native::{native_retained, new_as_their_owners, NativeKind};
use super::pathkey::{class_counts, for_each_collection, KeyMap, KeyStat, PathCensus, PathKey};
use super::paths::{describe_edges, describe_node, readable, source_of_edge};
use super::snapshot::{EdgeKind, NodeKind, Snapshot};
use super::summary::{class_totals, top_by, ClassIndex};

/// How a diff matches the objects of the earlier snapshots with those of the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// By node id; snapshots whose ids name other objects are refused (`IdsMismatch`).
    Ids,
    /// By retainer path: for snapshots of different processes of one program.
    Paths,
    /// By id when the ids name the same objects, else by path.
    Auto,
}

impl Matching {
    /// `"ids"`, `"paths"` or `"auto"` as a [`Matching`].
    pub fn from_name(name: &str) -> Option<Matching> {
        match name {
            "ids" => Some(Matching::Ids),
            "paths" => Some(Matching::Paths),
            "auto" => Some(Matching::Auto),
            _ => None,
        }
    }
}

/// How a diff did match the snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// By node id.
    Ids,
    /// By retainer path.
    Paths,
}

impl MatchedBy {
    /// `"ids"` or `"paths"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Ids => "ids",
            MatchedBy::Paths => "paths",
        }
    }
}

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

/// New objects of one class; by paths, the growth of the class (objects and self bytes).
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

/// The object that keeps most of a suspect's new instances alive: the nearest dominator of
/// each instance that is not new itself (a Map whose table grew is the Map, not the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its class, or `function NAME at FILE:LINE:COL`.
    pub name: String,
    /// Its node id.
    pub id: u64,
    /// New instances of the class it holds.
    pub instances: u64,
}

/// A class of new objects that probably leaks, with the path that holds most of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    /// The class and its totals.
    pub class: NewClass,
    /// Id of the instance whose path is shown.
    pub id: u64,
    /// The readable path from the GC roots to the holder, then on to the instances the holder
    /// reaches first, ending `Object ×N` (N: the instances at that depth below the holder).
    /// Without a holder (the instances hang from the roots directly): the path to the
    /// instance retaining the most.
    pub retainer_path: Vec<String>,
    /// What holds the most instances, unless that is the root.
    pub held_by: Option<Holder>,
    /// `retainer_path` with Node's own machinery folded into one step.
    pub readable_path: Vec<String>,
    /// The variable or property holding `held_by` (else the instance shown), and where.
    pub holder: Option<NamedHolder>,
    /// Bytes of the native nodes (see [`super::native`]) the class's instances retain.
    pub native_bytes: u64,
}

/// A Map, Set, Array or plain object that holds more entries than before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrownCollection {
    /// `Map`, `Set`, `Array` or `Object`.
    pub name: String,
    /// Node id in the last snapshot (by ids, the same in both).
    pub id: u64,
    /// Entries in the first snapshot (by paths: of every collection with its path key).
    pub before: u64,
    /// Entries in the last snapshot (by paths: of every collection with its path key).
    pub after: u64,
    /// Retained size in the last snapshot (by paths: of every collection with its key).
    pub retained_size: u64,
    /// Shortest readable path from the GC roots in the last snapshot.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery folded into one step.
    pub readable_path: Vec<String>,
    /// The variable or property that holds the collection, and where.
    pub holder: Option<NamedHolder>,
    /// The most common class of its entries in the last snapshot (see [`member_class`]).
    pub member_class: Option<String>,
    /// Bytes of the native nodes it retains in the last snapshot (see [`super::native`]).
    pub native_bytes: u64,
    /// By ids: the part of `native_bytes` whose owners (see [`native_retained`]) existed in
    /// the first snapshot: the native memory of its old entries, at its size now (the diff
    /// builds no dominator tree of the first snapshot, so what it let go of is not known).
    /// By paths: `None`.
    pub native_bytes_before: Option<u64>,
    /// The kinds of native node holding the most of `native_bytes`, most bytes first.
    pub native_kinds: Vec<NativeKind>,
}

/// What `diffSnapshots` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffReport {
    /// Size of each snapshot, in the order given.
    pub snapshots: Vec<Totals>,
    /// New objects in all (by paths: the net growth of the classes that grew).
    pub new_count: u64,
    /// Their own sizes in all (by paths: the growth of those classes' self sizes).
    pub new_bytes: u64,
    /// New objects by class, most bytes first (by paths: growth by class).
    pub new_by_class: Vec<NewClass>,
    /// Program-level classes of new objects by retained size, largest first, with paths.
    pub suspects: Vec<Suspect>,
    /// Collections that grew, most new bytes first (see [`new_bytes_of`]), with paths.
    pub grown_collections: Vec<GrownCollection>,
    /// How the snapshots were matched.
    pub matched_by: MatchedBy,
}

/// All a diff keeps of an earlier snapshot: its ids, its path census, or both (for
/// [`Matching::Auto`], which chooses once the last snapshot is read).
struct Earlier {
    ids: Option<IdIndex>,
    paths: Option<PathCensus>,
    totals: Totals,
}

impl Earlier {
    fn of(snap: &Snapshot, matching: Matching) -> Earlier {
        Earlier {
            ids: (matching != Matching::Paths).then(|| IdIndex::of(snap)),
            paths: (matching != Matching::Ids).then(|| PathCensus::of(snap)),
            totals: totals(snap),
        }
    }
}

/// Node ids and collection sizes of an earlier snapshot.
struct IdIndex {
    /// (id, signature) of every node, sorted by id.
    nodes: Vec<(u32, u32)>,
    /// (id, entries) of every collection, sorted by id.
    collections: Vec<(u32, u64)>,
}

fn totals(snap: &Snapshot) -> Totals {
    Totals {
        nodes: snap.node_count() as u64,
        edges: snap.edge_count() as u64,
        total_size: snap.total_size(),
    }
}

/// A hash of node `v`'s type and name: an object keeps both for its life, so one id with two
/// signatures in two snapshots means the ids were handed out afresh in between.
fn signature(snap: &Snapshot, v: usize) -> u32 {
    // FNV-1a.
    let mut h: u32 = 0x811c_9dc5;
    for b in std::iter::once(snap.node_type[v]).chain(snap.name(v).bytes()) {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h
}

impl IdIndex {
    fn of(snap: &Snapshot) -> IdIndex {
        let mut nodes: Vec<(u32, u32)> = (0..snap.node_count())
            .map(|v| (snap.node_id[v], signature(snap, v)))
            .collect();
        nodes.sort_unstable();
        let mut collections: Vec<(u32, u64)> = (0..snap.node_count())
            .filter_map(|v| collection_size(snap, v).map(|s| (snap.node_id[v], s)))
            .collect();
        collections.sort_unstable();
        IdIndex { nodes, collections }
    }

    /// The signature of the node with `id`, if there is one.
    fn signature(&self, id: u32) -> Option<u32> {
        let i = self.nodes.binary_search_by_key(&id, |n| n.0).ok()?;
        Some(self.nodes[i].1)
    }

    fn collection(&self, id: u32) -> Option<u64> {
        let i = self.collections.binary_search_by_key(&id, |c| c.0).ok()?;
        Some(self.collections[i].1)
    }
}

/// Checks that `earlier` numbers its objects as `snap` does: of the ids both hold, the share
/// naming a node of another type or name must stay under `MAX_MISMATCH_PERCENT`.
fn check_ids(earlier: &IdIndex, snap: &Snapshot, index: u32) -> Result<(), SnapshotError> {
    let (mut common, mut mismatched) = (0u64, 0u64);
    for v in 0..snap.node_count() {
        if let Some(sig) = earlier.signature(snap.node_id[v]) {
            common += 1;
            mismatched += (sig != signature(snap, v)) as u64;
        }
    }
    if mismatched * 100 > common * MAX_MISMATCH_PERCENT {
        return Err(SnapshotError::new(
            ErrorKind::IdsMismatch,
            0,
            format!(
                "{} of the {} node ids it shares with the {} snapshot name other objects: \
                 the snapshots are not of one process, or its heap profiler's object ids were \
                 cleared in between (closing an inspector session that used the HeapProfiler \
                 domain does that), so they cannot be compared by id",
                thousands(mismatched),
                thousands(common),
                ["first", "second"][index as usize],
            ),
        ));
    }
    Ok(())
}

/// Ids shared by two snapshots of one process that may name an object of another type or
/// name (strings flattened in between, code replaced), in percent.
const MAX_MISMATCH_PERCENT: u64 = 10;

/// Entries of `v` if it is a Map, Set, Array or plain Object: heap references held, with a
/// Map's key and value counted once.
pub fn collection_size(snap: &Snapshot, v: usize) -> Option<u64> {
    let mut entries = 0;
    for_each_entry(snap, v, |_| entries += 1)?;
    Some(entries)
}

/// Calls `f` with the node each entry of `v` holds, if `v` is a Map, Set, Array or plain
/// Object (see [`collection_size`]); for a Map entry whose key and value are both heap values,
/// the value.
fn for_each_entry(snap: &Snapshot, v: usize, mut f: impl FnMut(usize)) -> Option<()> {
    if snap.node_kind(v) != NodeKind::Object {
        return None;
    }
    match snap.name(v) {
        "Map" | "Set" => {
            if let Some(store) = snap.child_named(v, "table") {
                for_each_table_entry(snap, store, f);
            }
        }
        // V8 writes an array's (and an object's) elements as element edges of the object
        // itself; its `elements` store repeats them as internal edges.
        name @ ("Array" | "Object") => {
            for e in snap.edges(v) {
                let entry = match snap.edge_kind(e) {
                    EdgeKind::Element => true,
                    EdgeKind::Property => {
                        name == "Object" && snap.edge_name_str(e) != Some("__proto__")
                    }
                    _ => false,
                };
                if entry {
                    f(snap.edge_to[e] as usize);
                }
            }
        }
        _ => return None,
    }
    Some(())
}

/// Calls `f` with what each entry of the hash table `store` holds: an entry is a run of
/// consecutive slot indexes (a Map entry is key, value, chain; only heap values have edges),
/// and its last slot holds the value.
fn for_each_table_entry(snap: &Snapshot, store: usize, mut f: impl FnMut(usize)) {
    let mut slots: Vec<(u32, u32)> = snap
        .edges(store)
        .filter(|&e| snap.edge_kind(e) != EdgeKind::Weak)
        .filter_map(|e| {
            let slot = match snap.edge_name_str(e) {
                None => Some(snap.edge_name[e]),
                Some(name) => name.parse().ok(),
            };
            slot.map(|slot| (slot, snap.edge_to[e]))
        })
        .collect();
    slots.sort_unstable();
    slots.dedup_by_key(|s| s.0);
    for (i, &(slot, target)) in slots.iter().enumerate() {
        if slots.get(i + 1).is_none_or(|next| next.0 != slot + 1) {
            f(target as usize);
        }
    }
}

/// The most common class among what the entries of collection `v` hold (see
/// [`for_each_entry`]): `Gzip`, `Buffer`, `(string)`; of equal counts, the name first in
/// order. `None` if `v` is no collection or empty.
pub fn member_class(snap: &Snapshot, v: usize) -> Option<String> {
    // Count and one node of each class: objects' and native nodes' by name, the rest by type.
    let mut counts: HashMap<(u8, u32), (u64, usize)> = HashMap::new();
    for_each_entry(snap, v, |t| {
        let name = match snap.node_kind(t) {
            NodeKind::Object | NodeKind::Native => snap.node_name[t],
            _ => u32::MAX,
        };
        counts.entry((snap.node_type[t], name)).or_insert((0, t)).0 += 1;
    })?;
    counts
        .into_values()
        .map(|(count, t)| (count, snap.class_name(t)))
        .max_by(|x, y| x.0.cmp(&y.0).then_with(|| y.1.cmp(&x.1)))
        .map(|(_, name)| name.into_owned())
}

/// Diffs two or three snapshot files (see the module doc), matching them as `matching` says
/// and reporting the `top` suspects and grown collections. Reads one file at a time; of the
/// earlier ones only ids or a path census is kept.
pub fn diff_files(
    paths: &[&Path],
    top: usize,
    matching: Matching,
    progress: ProgressFn<'_>,
) -> Result<DiffReport, SnapshotError> {
    if !(2..=3).contains(&paths.len()) {
        return Err(SnapshotError::new(
            ErrorKind::Unsupported,
            0,
            format!("a diff takes 2 or 3 snapshots, not {}", paths.len()),
        ));
    }
    let mut earlier = Vec::new();
    for (i, path) in paths[..paths.len() - 1].iter().enumerate() {
        let i = i as u32;
        let snap = read_file(path, i, progress).map_err(|e| e.in_snapshot(i))?;
        if matching != Matching::Ids {
            progress(progress_at("paths", i));
        }
        earlier.push(Earlier::of(&snap, matching));
    }
    let last_index = paths.len() as u32 - 1;
    let last = Analysis::of_file(paths[paths.len() - 1], last_index, progress)
        .map_err(|e| e.in_snapshot(last_index))?;
    progress(progress_at("summary", last_index));
    diff_parsed(&earlier, &last, top, matching)
}

/// The diff of the `earlier` snapshots' summaries (taken for `matching`) with `last`.
fn diff_parsed(
    earlier: &[Earlier],
    last: &Analysis,
    top: usize,
    matching: Matching,
) -> Result<DiffReport, SnapshotError> {
    let last_index = earlier.len() as u32;
    let matched_by = match matching {
        Matching::Paths => MatchedBy::Paths,
        Matching::Ids => {
            check_all_ids(earlier, &last.snapshot).map_err(|e| e.in_snapshot(last_index))?;
            MatchedBy::Ids
        }
        Matching::Auto => match check_all_ids(earlier, &last.snapshot) {
            Ok(()) => MatchedBy::Ids,
            Err(_) => MatchedBy::Paths,
        },
    };
    let mut snapshots: Vec<Totals> = earlier.iter().map(|e| e.totals.clone()).collect();
    snapshots.push(totals(&last.snapshot));
    let findings = match matched_by {
        MatchedBy::Ids => {
            let ids: Vec<&IdIndex> = earlier.iter().filter_map(|e| e.ids.as_ref()).collect();
            diff_by_ids(ids[0], ids.get(1).copied(), last, top)
        }
        MatchedBy::Paths => {
            let census: Vec<&PathCensus> =
                earlier.iter().filter_map(|e| e.paths.as_ref()).collect();
            diff_by_paths(census[0], census.get(1).copied(), last, top)
        }
    };
    Ok(findings.report(last, snapshots, matched_by))
}

/// The start of `phase` in snapshot `index`.
fn progress_at(phase: &'static str, index: u32) -> super::analysis::Progress {
    super::analysis::Progress {
        phase,
        snapshot: index,
        done: 0,
        total: 1,
    }
}

/// Checks the ids of every earlier snapshot against the last (see [`check_ids`]).
fn check_all_ids(earlier: &[Earlier], last: &Snapshot) -> Result<(), SnapshotError> {
    for (i, e) in earlier.iter().enumerate() {
        if let Some(ids) = e.ids.as_ref() {
            check_ids(ids, last, i as u32)?;
        }
    }
    Ok(())
}

/// What a diff found, before the holders are named: each suspect and grown collection with
/// the node whose holder is to be named.
struct Findings {
    new_count: u64,
    new_bytes: u64,
    new_by_class: Vec<NewClass>,
    suspects: Vec<(Suspect, usize)>,
    grown: Vec<(GrownCollection, usize)>,
}

impl Findings {
    /// The report, with the holders named (in one pass over the last snapshot's edges).
    fn report(self, last: &Analysis, snapshots: Vec<Totals>, matched_by: MatchedBy) -> DiffReport {
        let (mut suspects, mut grown) = (self.suspects, self.grown);
        let targets: Vec<usize> = suspects
            .iter()
            .map(|s| s.1)
            .chain(grown.iter().map(|g| g.1))
            .collect();
        let snap = &last.snapshot;
        let mut holders = name_holders(snap, &last.tree, &last.code, &targets).into_iter();
        for (s, _) in &mut suspects {
            s.holder = holders.next().flatten();
        }
        for (g, _) in &mut grown {
            g.holder = holders.next().flatten();
        }
        DiffReport {
            snapshots,
            new_count: self.new_count,
            new_bytes: self.new_bytes,
            new_by_class: self.new_by_class,
            suspects: worth_reading_suspects(suspects.into_iter().map(|s| s.0).collect()),
            grown_collections: worth_reading_collections(
                grown.into_iter().map(|g| g.0).collect(),
                self.new_bytes,
            ),
            matched_by,
        }
    }
}

/// A grown collection is listed when it gained at least this share of the entries the
/// most-grown one gained, or about this share of the bytes of all new objects (its retained
/// size times the share of its entries that are new). Less is noise a person must read
/// past: an Array of Node's async hooks that went from 0 to 1 entry beside a Map that
/// gained 37,000.
const GROWN_MIN_SHARE: f64 = 0.02;
/// Suspects and grown collections held by Node's own code (`node:…`: its timers, async
/// hooks, module cache) are listed only when they hold the leak: the suspect retaining the
/// most, or one retaining this share of it; the collection that gained the most entries,
/// or one holding about this share of the new bytes. A listener array of `process` that
/// holds the leaking closures stays; bookkeeping that moved by a few entries goes.
const INTERNAL_MIN_SHARE: f64 = 0.25;

/// Whether `holder` is a variable or property of Node's own code.
fn held_by_node(holder: Option<&NamedHolder>) -> bool {
    holder
        .and_then(|h| h.file.as_deref())
        .is_some_and(|file| origin(file) == Origin::Internal)
}

/// `suspects` (largest first) without those held by Node's own code that do not hold the
/// leak (see [`INTERNAL_MIN_SHARE`]).
fn worth_reading_suspects(suspects: Vec<Suspect>) -> Vec<Suspect> {
    let largest = suspects.first().map_or(0, |s| s.class.retained_size) as f64;
    suspects
        .into_iter()
        .enumerate()
        .filter(|(i, s)| {
            *i == 0
                || !held_by_node(s.holder.as_ref())
                || s.class.retained_size as f64 >= INTERNAL_MIN_SHARE * largest
        })
        .map(|(_, s)| s)
        .collect()
}

/// `grown` without the collections whose growth is too small to matter (see
/// [`GROWN_MIN_SHARE`]) and those held by Node's own code that do not hold the leak (see
/// [`INTERNAL_MIN_SHARE`]); `new_bytes` is the bytes of all new objects.
fn worth_reading_collections(grown: Vec<GrownCollection>, new_bytes: u64) -> Vec<GrownCollection> {
    let gained = |g: &GrownCollection| g.after.saturating_sub(g.before);
    let new_bytes_of =
        |g: &GrownCollection| new_bytes_of(g.retained_size, g.before, g.after) as f64;
    let most = grown.iter().map(gained).max().unwrap_or(0);
    let share_of = |g: &GrownCollection, share: f64| {
        gained(g) as f64 >= share * most as f64 || new_bytes_of(g) >= share * new_bytes as f64
    };
    grown
        .into_iter()
        .filter(|g| {
            let matters = share_of(g, GROWN_MIN_SHARE);
            let holds_the_leak =
                gained(g) == most || new_bytes_of(g) >= INTERNAL_MIN_SHARE * new_bytes as f64;
            matters && (!held_by_node(g.holder.as_ref()) || holds_the_leak)
        })
        .collect()
}

/// About the bytes a collection's new entries hold: its retained size times the share of its
/// entries that are new. Grown collections are ranked by it, so that 100 new zlib streams
/// (30 MB, most of it native) come before 1,000 new small objects.
fn new_bytes_of(retained: u64, before: u64, after: u64) -> u64 {
    let gained = after.saturating_sub(before) as u128;
    (retained as u128 * gained / after.max(1) as u128) as u64
}

/// Fills in the native memory of each of `grown`: what the nodes `members` (node, index in
/// `grown`) retain. With `existed_before` (by ids: whether a node's id is in the first
/// snapshot), also `native_bytes_before`.
fn add_native(
    last: &Analysis,
    tree: &DominatorTree,
    grown: &mut [(GrownCollection, usize)],
    mut members: Vec<(usize, usize)>,
    existed_before: Option<&dyn Fn(usize) -> bool>,
) {
    members.sort_unstable();
    let group_of = |v: usize| {
        let i = members.binary_search_by_key(&v, |m| m.0).ok()?;
        Some(members[i].1)
    };
    let existed = |v: usize| existed_before.is_some_and(|f| f(v));
    let natives = native_retained(last, tree, grown.len(), group_of, existed);
    for ((g, _), native) in grown.iter_mut().zip(natives) {
        g.native_bytes = native.bytes;
        g.native_bytes_before = existed_before.map(|_| native.owned_by_old);
        g.native_kinds = native.kinds;
    }
}

/// The diff by node id: nodes whose ids `first` lacks are new (and, with a `middle`, those
/// it holds), native nodes when their owners are (see [`new_as_their_owners`]); collections
/// of one id compare their entries.
fn diff_by_ids(first: &IdIndex, middle: Option<&IdIndex>, last: &Analysis, top: usize) -> Findings {
    let snap = &last.snapshot;
    let mut is_new: Vec<bool> = (0..snap.node_count())
        .map(|v| {
            let id = snap.node_id[v];
            first.signature(id).is_none() && middle.is_none_or(|m| m.signature(id).is_some())
        })
        .collect();
    new_as_their_owners(last, &mut is_new);
    let tree = DominatorTree::new(&last.idom, snap.root());
    let growth = growth(first, snap);
    let chosen = top_by(0..growth.len(), top, |i| {
        let (v, before, after) = growth[i];
        new_bytes_of(last.retained[v], before, after)
    });
    let mut grown: Vec<(GrownCollection, usize)> =
        chosen.into_iter().map(|i| grown(last, growth[i])).collect();
    let members = grown.iter().enumerate().map(|(i, g)| (g.1, i)).collect();
    let existed = |v: usize| first.signature(snap.node_id[v]).is_some();
    add_native(last, &tree, &mut grown, members, Some(&existed));
    let classes = ClassIndex::new(snap);
    let (suspects, totals) = rank_suspects(last, tree, &classes, &is_new, top, |c, t| NewClass {
        name: classes.names[c].clone(),
        count: t.0,
        bytes: t.1,
        retained_size: t.2,
    });
    let new_by_class = by_bytes(
        (0..classes.names.len())
            .filter(|&c| totals[c].0 > 0)
            .map(|c| NewClass {
                name: classes.names[c].clone(),
                count: totals[c].0,
                bytes: totals[c].1,
                retained_size: totals[c].2,
            }),
    );
    Findings {
        new_count: totals.iter().map(|t| t.0).sum(),
        new_bytes: totals.iter().map(|t| t.1).sum(),
        new_by_class,
        suspects,
        grown,
    }
}

/// `classes`, most bytes first (ties by name).
fn by_bytes(classes: impl Iterator<Item = NewClass>) -> Vec<NewClass> {
    let mut classes: Vec<NewClass> = classes.collect();
    classes.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    classes
}

/// The `top` suspects among the nodes `is_new` marks: program-level classes by the retained
/// size of their marked instances, each with the holder of most of them. `class(c, totals)`
/// gives the reported totals of class `c` from its (count, self, retained) over the marked
/// nodes, which are returned too. `tree` is dropped once walked, before the holders take as
/// much memory again.
fn rank_suspects(
    last: &Analysis,
    tree: DominatorTree,
    classes: &ClassIndex,
    is_new: &[bool],
    top: usize,
    class: impl Fn(usize, (u64, u64, u64)) -> NewClass,
) -> (Vec<(Suspect, usize)>, Vec<ClassTotals>) {
    let snap = &last.snapshot;
    let n = snap.node_count();
    let totals = class_totals(last, &tree, classes, |v| is_new[v]);
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
    let present = (0..classes.names.len()).filter(|&c| totals[c].0 > 0 && user_level[c]);
    let chosen = top_by(present, top, |c| totals[c].2);
    let natives = suspects_native(last, &tree, classes, is_new, &chosen);
    drop(tree);
    let holder = holders(last, is_new);
    let main_holder = main_holders(classes, is_new, &holder);
    let suspects = chosen
        .into_iter()
        .zip(natives)
        .map(|(c, native_bytes)| {
            let instances = Instances {
                class: c,
                classes,
                is_new,
                holder: &holder,
            };
            let best = best[c].expect("a present class has an instance");
            let (mut s, named) =
                suspect(last, instances, class(c, totals[c]), main_holder[c], best);
            s.native_bytes = native_bytes;
            (s, named)
        })
        .collect();
    (suspects, totals)
}

/// Bytes of the native nodes that the instances `is_new` marks of each class of `chosen`
/// retain.
fn suspects_native(
    last: &Analysis,
    tree: &DominatorTree,
    classes: &ClassIndex,
    is_new: &[bool],
    chosen: &[usize],
) -> Vec<u64> {
    let mut group = vec![None; classes.names.len()];
    for (i, &c) in chosen.iter().enumerate() {
        group[c] = Some(i);
    }
    let group_of = |v: usize| group[classes.of_node[v] as usize].filter(|_| is_new[v]);
    native_retained(last, tree, chosen.len(), group_of, |_| false)
        .into_iter()
        .map(|n| n.bytes)
        .collect()
}

/// Count, self size and non-nested retained size of a class (see [`class_totals`]).
type ClassTotals = (u64, u64, u64);

/// Per class, the holder of the most marked instances and their count.
fn main_holders(classes: &ClassIndex, is_new: &[bool], holder: &[u32]) -> Vec<Option<(u32, u64)>> {
    let mut held: HashMap<(u32, u32), u64> = HashMap::new();
    for v in (0..is_new.len()).filter(|&v| is_new[v]) {
        *held.entry((classes.of_node[v], holder[v])).or_default() += 1;
    }
    let mut main_holder: Vec<Option<(u32, u64)>> = vec![None; classes.names.len()];
    for (&(c, h), &count) in &held {
        let slot = &mut main_holder[c as usize];
        if slot.is_none_or(|(bh, bc)| (count, std::cmp::Reverse(h)) > (bc, std::cmp::Reverse(bh))) {
            *slot = Some((h, count));
        }
    }
    main_holder
}

/// The last snapshot's collections of one path key.
struct KeyNow {
    stat: KeyStat,
    /// Their retained sizes in all.
    retained: u64,
    /// The one with the most entries: the one shown.
    shown: usize,
    shown_entries: u64,
}

/// The diff by retainer path (see the module doc): collections match by path key; "new"
/// objects are those of classes whose counts grew, held (dominated) by a grown collection.
fn diff_by_paths(
    first: &PathCensus,
    middle: Option<&PathCensus>,
    last: &Analysis,
    top: usize,
) -> Findings {
    let snap = &last.snapshot;
    let (now, members) = keyed_collections(last);
    let candidates = grown_keys(first, middle, &now);
    // Collections the heap holds first, then those only a stack frame reaches.
    let held: Vec<bool> = candidates
        .iter()
        .map(|c| !on_stack(last, now[&c.0].shown))
        .collect();
    let chosen = top_by(0..candidates.len(), top, |i| {
        let (key, before, _) = candidates[i];
        let k = &now[&key];
        let bytes = new_bytes_of(k.retained, before, k.stat.entries);
        bytes.min(u64::MAX >> 1) | (held[i] as u64) << 63
    });
    let mut grown: Vec<(GrownCollection, usize)> = chosen
        .iter()
        .map(|&i| {
            let (key, before, _) = candidates[i];
            let k = &now[&key];
            let (mut g, v) = grown(last, (k.shown, before, k.stat.entries));
            g.retained_size = k.retained;
            (g, v)
        })
        .collect();
    let mut chosen: Vec<(PathKey, usize)> = chosen
        .iter()
        .enumerate()
        .map(|(g, &i)| (candidates[i].0, g))
        .collect();
    chosen.sort_unstable();
    let mut in_grown = vec![false; snap.node_count()];
    let mut grown_members = Vec::new();
    for &(v, key) in &members {
        if let Ok(i) = chosen.binary_search_by_key(&key, |c| c.0) {
            in_grown[v as usize] = true;
            grown_members.push((v as usize, chosen[i].1));
        }
    }
    let classes = ClassIndex::new(snap);
    let growth = class_growth(first, middle, snap, &classes);
    let is_new = held_by(last, &in_grown, |v| {
        growth[classes.of_node[v] as usize].0 > 0
    });
    let tree = DominatorTree::new(&last.idom, snap.root());
    add_native(last, &tree, &mut grown, grown_members, None);
    let class = |c: usize, t: (u64, u64, u64)| NewClass {
        name: classes.names[c].clone(),
        count: growth[c].0,
        bytes: growth[c].1,
        retained_size: t.2,
    };
    let (suspects, totals) = rank_suspects(last, tree, &classes, &is_new, top, class);
    let grew = (0..classes.names.len()).filter(|&c| growth[c].0 > 0);
    Findings {
        new_count: growth.iter().map(|g| g.0).sum(),
        new_bytes: growth.iter().map(|g| g.1).sum(),
        new_by_class: by_bytes(grew.map(|c| class(c, totals[c]))),
        suspects,
        grown,
    }
}

/// True if the shortest path to `v` goes through the stack or a handle scope: what a running
/// function works on (a request's temporary array), which between two snapshots of different
/// processes can look grown without accumulating anything.
fn on_stack(last: &Analysis, v: usize) -> bool {
    let snap = &last.snapshot;
    last.tree.edges_to(snap, v).is_some_and(|edges| {
        edges.iter().take(2).any(|&e| {
            let t = snap.edge_to[e] as usize;
            snap.node_kind(t) == NodeKind::Synthetic
                && matches!(snap.name(t), "(Stack roots)" | "(Handle scope)")
        })
    })
}

/// The last snapshot's collections by path key, and (node, key) of each.
fn keyed_collections(last: &Analysis) -> (KeyMap<KeyNow>, Vec<(u32, PathKey)>) {
    let mut keys: KeyMap<KeyNow> = KeyMap::default();
    let mut members = Vec::new();
    for_each_collection(&last.snapshot, &last.tree, &last.code, |v, key, entries| {
        members.push((v as u32, key));
        let k = keys.entry(key).or_insert(KeyNow {
            stat: KeyStat::default(),
            retained: 0,
            shown: v,
            shown_entries: entries,
        });
        k.stat.count += 1;
        k.stat.entries += entries;
        k.retained += last.retained[v];
        if entries > k.shown_entries {
            (k.shown, k.shown_entries) = (v, entries);
        }
    });
    (keys, members)
}

/// (key, entries before, growth) of each key that grew from `first` to the last snapshot
/// (with a `middle`: grew from `first` to it, and is no smaller in the last), in node order.
fn grown_keys(
    first: &PathCensus,
    middle: Option<&PathCensus>,
    now: &KeyMap<KeyNow>,
) -> Vec<(PathKey, u64, u64)> {
    let mut grown: Vec<(usize, PathKey, u64, u64)> = Vec::new();
    for (&key, k) in now {
        let Some(&before) = first.keys.get(&key) else {
            continue;
        };
        // Grown per collection and in all: a key whose collections hold more each but fewer
        // in all (fewer of them) did not grow in any sense a person would read as growth.
        let growth = before
            .growth_to(k.stat)
            .min(k.stat.entries.saturating_sub(before.entries));
        let kept = middle.is_none_or(|m| {
            m.keys.get(&key).is_some_and(|&mid| {
                before.growth_to(mid) > 0 && k.stat.entries >= mid.scaled_to(k.stat.count)
            })
        });
        if growth > 0 && kept {
            grown.push((k.shown, key, before.entries, growth));
        }
    }
    grown.sort_unstable();
    grown.into_iter().map(|(_, k, b, g)| (k, b, g)).collect()
}

/// (count, self size) each class of `classes` grew by since `first` (with a `middle`: the
/// growth kept in both later snapshots).
fn class_growth(
    first: &PathCensus,
    middle: Option<&PathCensus>,
    snap: &Snapshot,
    classes: &ClassIndex,
) -> Vec<(u64, u64)> {
    let now = class_counts(snap, classes);
    let of = |census: &PathCensus, name: &str| census.classes.get(name).copied();
    classes
        .names
        .iter()
        .zip(now)
        .map(|(name, (count, bytes))| {
            let (count, bytes) = match middle {
                Some(m) => of(m, name).map_or((0, 0), |b| (count.min(b.0), bytes.min(b.1))),
                None => (count, bytes),
            };
            let before = of(first, name).unwrap_or_default();
            (
                count.saturating_sub(before.0),
                bytes.saturating_sub(before.1),
            )
        })
        .collect()
}

/// The nodes strictly below a node of `in_grown` in the dominator tree, up to the next such
/// node, that `accept` takes.
fn held_by(last: &Analysis, in_grown: &[bool], accept: impl Fn(usize) -> bool) -> Vec<bool> {
    let outside: Vec<bool> = in_grown.iter().map(|&g| !g).collect();
    let holder = holders(last, &outside);
    (0..in_grown.len())
        .map(|v| !in_grown[v] && in_grown[holder[v] as usize] && accept(v))
        .collect()
}

/// The new instances of one class, and what holds each new node.
struct Instances<'a> {
    class: usize,
    classes: &'a ClassIndex,
    is_new: &'a [bool],
    holder: &'a [u32],
}

/// The suspect for a class of new objects with its paths (see [`Suspect`]), and the node whose
/// holder is to be named: `held_by`, else the instance shown. `main` is the holder of the most
/// instances and their count; `best` the instance retaining the most.
fn suspect(
    last: &Analysis,
    of: Instances<'_>,
    class: NewClass,
    main: Option<(u32, u64)>,
    best: usize,
) -> (Suspect, usize) {
    let snap = &last.snapshot;
    let held = main.filter(|&(h, _)| h as usize != snap.root());
    let shown = held.and_then(|(h, instances)| {
        let h = h as usize;
        let is_instance = |v: usize| {
            of.is_new[v] && of.classes.of_node[v] as usize == of.class && of.holder[v] as usize == h
        };
        let owner = owner_of_store(last, h);
        let (below, v, at_depth) = path_below(snap, owner, is_instance)?;
        let mut edges = last.tree.edges_to(snap, owner)?;
        edges.extend(below);
        let held_by = Holder {
            name: describe_node(snap, owner),
            id: snap.node_id[owner] as u64,
            instances,
        };
        let count = format!(" ×{}", thousands(at_depth));
        Some((v, owner, edges, Some(count), Some(held_by)))
    });
    let (v, named, edges, count, held_by) = shown.unwrap_or_else(|| {
        let edges = last.tree.edges_to(snap, best).unwrap_or_default();
        (best, best, edges, None, None)
    });
    let (mut retainer_path, mut readable_path) = match last.tree.distance[v] {
        u32::MAX => (last.tree.describe(snap, v), last.tree.describe(snap, v)),
        _ => (
            describe_edges(snap, &edges),
            folded_path(snap, &last.code, &edges),
        ),
    };
    for path in [&mut retainer_path, &mut readable_path] {
        if let (Some(end), Some(count)) = (path.last_mut(), count.as_ref()) {
            end.push_str(count);
        }
    }
    let suspect = Suspect {
        class,
        id: snap.node_id[v] as u64,
        retainer_path,
        held_by,
        readable_path,
        holder: None,
        native_bytes: 0,
    };
    (suspect, named)
}

/// Names of the edges from an object to its backing store: a Map's or Set's hash `table`, an
/// object's `elements` and `properties`.
const STORE_EDGES: [&str; 3] = ["table", "elements", "properties"];

/// The object a person holds for `h`: `h` itself, or, when `h` is the backing store of a
/// collection that dominates it (a Map's `table` that was not reallocated since the
/// baseline, so that it, not the Map, is the nearest node that is not new), that collection.
fn owner_of_store(last: &Analysis, h: usize) -> usize {
    let snap = &last.snapshot;
    let owner = last.idom[h] as usize;
    let is_store_of_owner = owner != h
        && !snap.is_program_node(h)
        && snap.is_program_node(owner)
        && snap.edges(owner).any(|e| {
            snap.edge_to[e] as usize == h
                && snap
                    .edge_name_str(e)
                    .is_some_and(|name| STORE_EDGES.contains(&name))
        });
    if is_store_of_owner {
        owner
    } else {
        h
    }
}

/// Collections of the last snapshot that hold more entries than in `first`:
/// (node, entries before, entries after).
fn growth(first: &IdIndex, snap: &Snapshot) -> Vec<(usize, u64, u64)> {
    let mut growth = Vec::new();
    for v in 0..snap.node_count() {
        if let Some(after) = collection_size(snap, v) {
            if let Some(before) = first.collection(snap.node_id[v]) {
                if after > before {
                    growth.push((v, before, after));
                }
            }
        }
    }
    growth
}

/// The grown collection `v` as reported (its holder and native memory filled in later), and
/// `v`.
fn grown(last: &Analysis, (v, before, after): (usize, u64, u64)) -> (GrownCollection, usize) {
    let snap = &last.snapshot;
    let readable_path = match last.tree.edges_to(snap, v) {
        Some(edges) => folded_path(snap, &last.code, &edges),
        None => last.tree.describe(snap, v),
    };
    let collection = GrownCollection {
        name: snap.name(v).to_string(),
        id: snap.node_id[v] as u64,
        before,
        after,
        retained_size: last.retained[v],
        retainer_path: last.tree.describe(snap, v),
        readable_path,
        holder: None,
        member_class: member_class(snap, v),
        native_bytes: 0,
        native_bytes_before: None,
        native_kinds: Vec::new(),
    };
    (collection, v)
}

/// For each new node, the nearest dominator that is not new; for any other node, itself.
fn holders(a: &Analysis, is_new: &[bool]) -> Vec<u32> {
    const UNSET: u32 = u32::MAX;
    let mut holder = vec![UNSET; is_new.len()];
    let mut chain: Vec<usize> = Vec::new();
    for v in 0..is_new.len() {
        let mut u = v;
        while holder[u] == UNSET && is_new[u] && a.idom[u] as usize != u {
            chain.push(u);
            u = a.idom[u] as usize;
        }
        if holder[u] == UNSET {
            holder[u] = u as u32;
        }
        let h = holder[u];
        for w in chain.drain(..) {
            holder[w] = h;
        }
    }
    holder
}

/// The shortest path from `from` to a node `target` accepts, readable edges first within a
/// depth, never through weak edges: its edges, the node it ends at, and how many accepted
/// nodes lie at that depth. `None` if none is reachable.
fn path_below(
    snap: &Snapshot,
    from: usize,
    target: impl Fn(usize) -> bool,
) -> Option<(Vec<usize>, usize, u64)> {
    // The edge that first reached each node.
    let mut reached: HashMap<u32, u32> = HashMap::new();
    let mut level = vec![from];
    while !level.is_empty() {
        let mut next = Vec::new();
        for pass_readable in [true, false] {
            for &v in &level {
                for e in snap.edges(v) {
                    let t = snap.edge_to[e] as usize;
                    if t == from
                        || snap.edge_kind(e) == EdgeKind::Weak
                        || readable(snap, e) != pass_readable
                        || reached.contains_key(&(t as u32))
                    {
                        continue;
                    }
                    reached.insert(t as u32, e as u32);
                    next.push(t);
                }
            }
        }
        let mut found = next.iter().copied().filter(|&t| target(t));
        if let Some(end) = found.next() {
            let count = 1 + found.count() as u64;
            let mut edges = Vec::new();
            let mut v = end;
            while v != from {
                let e = reached[&(v as u32)] as usize;
                edges.push(e);
                v = source_of_edge(snap, e);
            }
            edges.reverse();
            return Some((edges, end, count));
        }
        level = next;
    }
    None
}

/// `12,345`.
fn thousands(n: u64) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::holder::CodeIndex;
    use super::super::parser::parse;
    use super::super::pathkey::PathKeys;
    use super::super::paths::RetainerTree;
    use super::super::testing::{snapshot_of, Node};
    use super::*;

    /// Three nodes with ids 1, 3, 5; `names` are the last two nodes' names.
    fn snapshot(names: [&str; 2]) -> Snapshot {
        let json = format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","object","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["property"]]}}}},
"nodes":[2,0,1,0,2, 1,1,3,8,0, 1,2,5,8,0],"edges":[0,3,5, 0,3,10],
"strings":["","{}","{}","x"]}}"#,
            names[0], names[1]
        );
        parse(json.as_bytes(), None, None).unwrap()
    }

    #[test]
    fn ids_that_name_other_objects_are_refused() {
        let first = IdIndex::of(&snapshot(["Map", "Session"]));
        assert!(check_ids(&first, &snapshot(["Map", "Session"]), 0).is_ok());
        let err = check_ids(&first, &snapshot(["Session", "Map"]), 0).unwrap_err();
        assert_eq!(err.code(), "ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH");
    }

    /// `global.cache`, a Map of `sessions` Sessions at table slots `slot0`, `slot0 + 3`, ...,
    /// and `global.list`, an Array of two Items. Node `v` gets id `id_of(v)`.
    fn sessions_snapshot(sessions: usize, slot0: u32, id_of: impl Fn(usize) -> u32) -> Snapshot {
        let mut nodes: Vec<Node> = vec![
            (9, 0, 0, vec![(5, 1, 1)]),
            (3, 1, 10, vec![(2, 2, 2), (2, 3, 4)]),
            (3, 5, 20, vec![(3, 4, 3)]),
            (1, 6, 30, Vec::new()),
            (3, 7, 20, vec![(1, 0, 5), (1, 1, 6)]),
            (3, 8, 10, Vec::new()),
            (3, 8, 10, Vec::new()),
        ];
        for i in 0..sessions {
            let session = nodes.len();
            nodes[3].3.push((4, slot0 + 3 * i as u32, session));
            nodes.push((3, 9, 40, Vec::new()));
        }
        let strings = [
            "", "global", "cache", "list", "table", "Map", "(table)", "Array", "Item", "Session",
        ];
        snapshot_of(&nodes, id_of, &strings)
    }

    /// Diffs `first` with `last` (and `middle`) as `diff_files` does with files.
    fn diff_of(
        first: &Snapshot,
        middle: Option<&Snapshot>,
        last: Snapshot,
        matching: Matching,
    ) -> Result<DiffReport, SnapshotError> {
        let earlier: Vec<Earlier> = std::iter::once(first)
            .chain(middle)
            .map(|s| Earlier::of(s, matching))
            .collect();
        diff_parsed(&earlier, &Analysis::new(last, 1, &mut |_| {}), 5, matching)
    }

    /// Ids 1, 3, 5... from the first node (as V8 numbers a fresh heap).
    fn fresh(v: usize) -> u32 {
        2 * v as u32 + 1
    }

    #[test]
    fn snapshots_of_two_processes_are_matched_by_path_and_refused_by_id() {
        // Another process: the same ids, handed to other objects (numbered from the end).
        let first = sessions_snapshot(1, 1, fresh);
        let other = |sessions| sessions_snapshot(sessions, 4, move |v| fresh(7 + sessions - v));
        let err = diff_of(&first, None, other(3), Matching::Ids).unwrap_err();
        assert_eq!(err.code(), "ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH");
        for matching in [Matching::Auto, Matching::Paths] {
            let d = diff_of(&first, None, other(3), matching).unwrap();
            assert_eq!(d.matched_by, MatchedBy::Paths);
            let grown: Vec<(&str, u64, u64)> = d
                .grown_collections
                .iter()
                .map(|g| (g.name.as_str(), g.before, g.after))
                .collect();
            assert_eq!(grown, [("Map", 1, 3)]);
            let holder = d.grown_collections[0].holder.as_ref().unwrap();
            assert_eq!(holder.name, "globalThis.cache");
            let s = &d.suspects[0];
            assert_eq!((s.class.name.as_str(), s.class.count), ("Session", 2));
            assert_eq!(s.held_by.as_ref().map(|h| h.name.as_str()), Some("Map"));
            assert_eq!((d.new_count, d.new_bytes), (2, 80));
        }
    }

    #[test]
    fn snapshots_of_one_process_give_the_same_leak_by_id_and_by_path() {
        let first = sessions_snapshot(1, 1, fresh);
        let ids = diff_of(&first, None, sessions_snapshot(3, 1, fresh), Matching::Auto).unwrap();
        let paths = diff_of(
            &first,
            None,
            sessions_snapshot(3, 1, fresh),
            Matching::Paths,
        )
        .unwrap();
        assert_eq!(
            (ids.matched_by, paths.matched_by),
            (MatchedBy::Ids, MatchedBy::Paths)
        );
        // Only by ids does the first snapshot say which native memory is old.
        let by_paths = |d: &DiffReport| {
            let grown = d.grown_collections.iter().cloned();
            grown
                .map(|g| GrownCollection {
                    native_bytes_before: None,
                    ..g
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(by_paths(&ids), paths.grown_collections);
        assert_eq!(ids.grown_collections[0].native_bytes_before, Some(0));
        // By path every instance the Map holds counts towards the retained size and `held_by`,
        // the old one too: only the counts tell how many are new.
        let suspect = |d: &DiffReport| {
            let s = d.suspects[0].clone();
            let held_by = s.held_by.map(|h| (h.name, h.id));
            (
                s.class.name,
                s.class.count,
                s.class.bytes,
                held_by,
                s.holder,
            )
        };
        assert_eq!(suspect(&ids), suspect(&paths));
    }

    #[test]
    fn by_path_a_third_snapshot_keeps_only_what_stayed_grown() {
        let first = sessions_snapshot(1, 1, fresh);
        let middle = sessions_snapshot(3, 4, |v| fresh(100 - v));
        let grown = |sessions| {
            let last = sessions_snapshot(sessions, 7, move |v| fresh(200 - v));
            let d = diff_of(&first, Some(&middle), last, Matching::Paths).unwrap();
            d.grown_collections.len()
        };
        assert_eq!((grown(2), grown(3), grown(5)), (0, 1, 1));
    }

    #[test]
    fn path_keys_leave_out_indexes_and_ids_but_not_names() {
        let key_of = |snap: &Snapshot, v: usize| {
            let tree = RetainerTree::new(snap);
            let code = CodeIndex::new(snap);
            PathKeys::new(snap, &tree, &code).of(v).unwrap()
        };
        let a = sessions_snapshot(2, 1, fresh);
        let b = sessions_snapshot(2, 40, |v| fresh(50 - v));
        // Sessions at slots 1 and 4 of one table, and at 40 in another snapshot.
        assert_eq!(key_of(&a, 7), key_of(&a, 8));
        assert_eq!(key_of(&a, 7), key_of(&b, 7));
        assert_eq!(key_of(&a, 2), key_of(&b, 2));
        // The Items of `list` are not Sessions of `cache`; the Map is not the Array.
        assert_ne!(key_of(&a, 5), key_of(&a, 7));
        assert_ne!(key_of(&a, 2), key_of(&a, 4));
    }

    /// `global.feeds`, a Map of `streams` Gzip objects under string keys, each holding its
    /// native zlib memory (`Gzip -> _handle (Zlib) -> Node / ZlibStream -> Node / zlib_memory`,
    /// 300,480 native bytes), and `global.tiny`, a Map of `items` small Items. JavaScript
    /// objects keep their ids; native nodes get fresh ones in every snapshot (`native_ids`
    /// apart), as Node's do.
    fn streams_snapshot(streams: usize, items: usize, native_ids: u32) -> Snapshot {
        let mut nodes: Vec<Node> = vec![
            (9, 0, 0, vec![(5, 1, 1)]),
            (3, 1, 10, vec![(2, 2, 2), (2, 3, 4)]),
            (3, 5, 40, vec![(3, 4, 3)]),
            (1, 6, 100, Vec::new()),
            (3, 5, 40, vec![(3, 4, 5)]),
            (1, 6, 100, Vec::new()),
        ];
        let mut ids: Vec<u32> = (0..nodes.len() as u32).map(|v| 2 * v + 1).collect();
        for i in 0..streams {
            let key = nodes.len();
            let slot = 7 + 3 * i as u32;
            nodes[3].3.extend([(4, slot, key), (4, slot + 1, key + 1)]);
            nodes.extend([
                (2, 11, 24, Vec::new()),
                (3, 7, 200, vec![(2, 12, key + 2)]),
                (3, 8, 70, vec![(3, 13, key + 3)]),
                (8, 9, 480, vec![(3, 14, key + 4)]),
                (8, 10, 300_000, Vec::new()),
            ]);
            let id = 1_000 + 10 * i as u32;
            ids.extend([id, id + 2, id + 4, native_ids + id + 6, native_ids + id + 8]);
        }
        for i in 0..items {
            let item = nodes.len();
            nodes[5].3.push((4, 7 + 2 * i as u32, item));
            nodes.push((3, 15, 32, Vec::new()));
            ids.push(50_001 + 2 * i as u32);
        }
        let strings = [
            "",
            "global",
            "feeds",
            "tiny",
            "table",
            "Map",
            "(table)",
            "Gzip",
            "Zlib",
            "Node / ZlibStream",
            "Node / zlib_memory",
            "feed",
            "_handle",
            "javascript_to_native",
            "zlib_memory",
            "Item",
        ];
        snapshot_of(&nodes, |v| ids[v], &strings)
    }

    #[test]
    fn grown_collections_say_what_they_hold_and_the_native_memory_they_retain() {
        let stream = 300_480;
        let first = streams_snapshot(1, 10, 0);
        for matching in [Matching::Ids, Matching::Paths] {
            let d = diff_of(&first, None, streams_snapshot(3, 40, 100_000), matching).unwrap();
            // 2 new streams rank above 30 new Items: they hold 600 KB, the Items 1 KB.
            let grown: Vec<(&str, u64, u64)> = d
                .grown_collections
                .iter()
                .map(|g| (g.holder.as_ref().unwrap().name.as_str(), g.before, g.after))
                .collect();
            assert_eq!(
                grown,
                [("globalThis.feeds", 1, 3), ("globalThis.tiny", 10, 40)]
            );
            let (feeds, tiny) = (&d.grown_collections[0], &d.grown_collections[1]);
            assert_eq!(feeds.member_class.as_deref(), Some("Gzip"));
            assert_eq!(feeds.native_bytes, 3 * stream);
            // The old stream's memory has a fresh id: its owner, the Zlib handle, tells it is old.
            let before = (matching == Matching::Ids).then_some(stream);
            assert_eq!(feeds.native_bytes_before, before);
            let kinds: Vec<(&str, u64, u64)> = feeds
                .native_kinds
                .iter()
                .map(|k| (k.name.as_str(), k.count, k.bytes))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("Node / zlib_memory", 3, 900_000),
                    ("Node / ZlibStream", 3, 1_440)
                ]
            );
            assert_eq!(tiny.member_class.as_deref(), Some("Item"));
            assert_eq!((tiny.native_bytes, tiny.native_kinds.len()), (0, 0));
            // By paths, as for its retained size, every Gzip the grown Map holds counts.
            let gzip = d.suspects.iter().find(|s| s.class.name == "Gzip").unwrap();
            let held = if matching == Matching::Ids { 2 } else { 3 };
            assert_eq!(gzip.native_bytes, held * stream);
        }
    }

    /// (count, bytes) of the new objects of class `name`, `(0, 0)` for none.
    fn new_of(d: &DiffReport, name: &str) -> (u64, u64) {
        let class = d.new_by_class.iter().find(|c| c.name == name);
        class.map_or((0, 0), |c| (c.count, c.bytes))
    }

    #[test]
    fn native_nodes_numbered_afresh_are_new_only_when_their_owners_are() {
        let stream = 300_480;
        let first = streams_snapshot(1, 10, 0);
        let d = diff_of(
            &first,
            None,
            streams_snapshot(3, 40, 100_000),
            Matching::Ids,
        )
        .unwrap();
        // Every native node has a fresh id; only those of the 2 new streams are new.
        assert_eq!(new_of(&d, "Node / zlib_memory"), (2, 600_000));
        assert_eq!(new_of(&d, "Node / ZlibStream"), (2, 960));
        assert_eq!(new_of(&d, "Gzip"), (2, 400));
        // 2 streams of a key, a Gzip, a Zlib and 2 native nodes; 30 Items.
        assert_eq!(
            (d.new_count, d.new_bytes),
            (2 * 5 + 30, 2 * stream + 2 * 294 + 30 * 32)
        );
        let gzip = d.suspects.iter().find(|s| s.class.name == "Gzip").unwrap();
        assert_eq!((gzip.class.count, gzip.native_bytes), (2, 2 * stream));
        // With a middle snapshot, which numbers them afresh again: new between the first two.
        let middle = streams_snapshot(3, 40, 100_000);
        let last = streams_snapshot(3, 40, 200_000);
        let d = diff_of(&first, Some(&middle), last, Matching::Ids).unwrap();
        assert_eq!(new_of(&d, "Node / zlib_memory"), (2, 600_000));
        assert_eq!(new_of(&d, "Gzip"), (2, 400));
    }

    /// `global.blobs`, an Array of `buffers` ArrayBuffers, each holding its contents
    /// (`system / JSArrayBufferData`, 65,536 bytes). Every node keeps its id, as V8 numbers
    /// ArrayBuffer contents by their address.
    fn buffers_snapshot(buffers: usize) -> Snapshot {
        let mut nodes: Vec<Node> = vec![
            (9, 0, 0, vec![(5, 1, 1)]),
            (3, 1, 10, vec![(2, 2, 2)]),
            (3, 3, 16, Vec::new()),
        ];
        for i in 0..buffers {
            let buffer = nodes.len();
            nodes[2].3.push((1, i as u32, buffer));
            nodes.push((3, 4, 56, vec![(3, 6, buffer + 1)]));
            nodes.push((8, 5, 65_536, Vec::new()));
        }
        let strings = [
            "",
            "global",
            "blobs",
            "Array",
            "ArrayBuffer",
            "system / JSArrayBufferData",
            "backing_store",
        ];
        snapshot_of(&nodes, fresh, &strings)
    }

    #[test]
    fn array_buffer_contents_are_new_with_their_array_buffers() {
        let d = diff_of(
            &buffers_snapshot(1),
            None,
            buffers_snapshot(4),
            Matching::Ids,
        )
        .unwrap();
        assert_eq!(new_of(&d, "system / JSArrayBufferData"), (3, 3 * 65_536));
        assert_eq!(new_of(&d, "ArrayBuffer"), (3, 3 * 56));
        assert_eq!(d.new_count, 6);
        let blobs = &d.grown_collections[0];
        assert_eq!((blobs.before, blobs.after), (1, 4));
        assert_eq!(
            (blobs.native_bytes, blobs.native_bytes_before),
            (4 * 65_536, Some(65_536))
        );
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(21_000), "21,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    /// A holder: a module-level variable `name` of `file`.
    fn module_variable(name: &str, file: &str) -> Option<NamedHolder> {
        Some(NamedHolder {
            name: name.into(),
            class: "Map".into(),
            kind: super::super::holder::HolderKind::Module,
            function: None,
            closure: None,
            file: Some(file.into()),
            line: None,
            column: None,
            description: format!("{name} (Map), a module-level variable of {file}"),
        })
    }

    fn grown(
        name: &str,
        before: u64,
        after: u64,
        retained_size: u64,
        file: &str,
    ) -> GrownCollection {
        GrownCollection {
            name: name.into(),
            id: 1,
            before,
            after,
            retained_size,
            retainer_path: vec![],
            readable_path: vec![],
            holder: module_variable(name, file),
            member_class: None,
            native_bytes: 0,
            native_bytes_before: None,
            native_kinds: vec![],
        }
    }

    #[test]
    fn collections_that_grew_too_little_or_are_nodes_own_bookkeeping_are_left_out() {
        let names =
            |kept: Vec<GrownCollection>| kept.into_iter().map(|g| g.name).collect::<Vec<_>>();
        let app = "/srv/app.js";
        let listed = worth_reading_collections(
            vec![
                grown("sessions", 1_000, 38_000, 40_000_000, app),
                grown("index", 1_000, 20_000, 1_000_000, app),
                // 100 entries of 37,000 (0.3%), few bytes: noise.
                grown("recent", 0, 100, 10_000, app),
                // 5 entries, but 5 MB of them: 13% of the new bytes.
                grown("blobs", 0, 5, 5_000_000, app),
                // Node's own, growing by one entry; and by 10,000 but holding little.
                grown(
                    "execution_async_resources",
                    0,
                    1,
                    100,
                    "node:internal/async_hooks",
                ),
                grown(
                    "timerListQueues",
                    0,
                    10_000,
                    400_000,
                    "node:internal/timers",
                ),
            ],
            38_000_000,
        );
        assert_eq!(names(listed), ["sessions", "index", "blobs"]);
        // Node's own collection that holds the leak stays.
        let listed = worth_reading_collections(
            vec![
                grown("listeners", 0, 30_000, 30_000_000, "node:events"),
                grown("recent", 0, 900, 900_000, app),
            ],
            31_000_000,
        );
        assert_eq!(names(listed), ["listeners", "recent"]);
    }

    fn suspect(class: &str, retained_size: u64, file: &str) -> Suspect {
        Suspect {
            class: NewClass {
                name: class.into(),
                count: 1,
                bytes: 1,
                retained_size,
            },
            id: 1,
            retainer_path: vec![],
            held_by: None,
            readable_path: vec![],
            holder: module_variable(class, file),
            native_bytes: 0,
        }
    }

    #[test]
    fn suspects_held_by_nodes_own_code_are_listed_only_when_they_hold_the_leak() {
        let classes =
            |kept: Vec<Suspect>| kept.into_iter().map(|s| s.class.name).collect::<Vec<_>>();
        let listed = worth_reading_suspects(vec![
            suspect("Session", 40_000_000, "/srv/app.js"),
            suspect("Timeout", 12_000_000, "node:internal/timers"),
            suspect("AsyncResource", 1_000, "node:internal/async_hooks"),
            suspect("Entry", 1_000, "/srv/app.js"),
        ]);
        assert_eq!(classes(listed), ["Session", "Timeout", "Entry"]);
        let listed = worth_reading_suspects(vec![suspect("Closure", 9_000_000, "node:events")]);
        assert_eq!(classes(listed), ["Closure"]);
    }
}
