//! What a diff reports: how the snapshots were matched, their sizes, the new objects by
//! class, the suspects with their paths and holders, and the collections that grew.

use crate::core::diagnose::heapsnapshot::holder::{HolderKind, NamedHolder};
use crate::core::diagnose::heapsnapshot::native::NativeKind;
pub(super) use crate::core::diagnose::heapsnapshot::paths::thousands;

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
    /// Bytes of the native nodes (see [`native`]) the class's instances retain.
    ///
    /// [`native`]: crate::core::diagnose::heapsnapshot::native
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
    ///
    /// [`member_class`]: crate::core::diagnose::heapsnapshot::collections::member_class
    pub member_class: Option<String>,
    /// Bytes of the native nodes it retains in the last snapshot (see [`native`]).
    ///
    /// [`native`]: crate::core::diagnose::heapsnapshot::native
    pub native_bytes: u64,
    /// By ids: the part of `native_bytes` whose owners (see [`native_retained`]) existed in
    /// the first snapshot: the native memory of its old entries, at its size now (the diff
    /// builds no dominator tree of the first snapshot, so what it let go of is not known).
    /// By paths: `None`.
    ///
    /// [`native_retained`]: crate::core::diagnose::heapsnapshot::native::native_retained
    pub native_bytes_before: Option<u64>,
    /// The kinds of native node holding the most of `native_bytes`, most bytes first.
    pub native_kinds: Vec<NativeKind>,
}

impl GrownCollection {
    /// About the bytes its new entries hold (see [`new_bytes_of`]).
    pub fn new_entries_bytes(&self) -> u64 {
        new_bytes_of(self.retained_size, self.before, self.after)
    }
}

/// About the bytes a collection's new entries hold: its retained size times the share of its
/// entries that are new. Grown collections are ranked by it, so that 100 new zlib streams
/// (30 MB, most of it native) come before 1,000 new small objects.
pub(super) fn new_bytes_of(retained: u64, before: u64, after: u64) -> u64 {
    let gained = after.saturating_sub(before) as u128;
    (retained as u128 * gained / after.max(1) as u128) as u64
}

/// A chain of objects each holding the next (a linked list, a queue), below a growth root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The class of its links.
    pub class: String,
    /// The property from one link to the next (`next`, `previous`).
    pub via: String,
    /// Links present in the first snapshot.
    pub before: u64,
    /// Links in all, in the last snapshot.
    pub after: u64,
}

/// New objects each held by a GC root of its own: open sockets' handles, timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManyRoots {
    /// The kind of root object holding the most new bytes (by paths: that gained the most).
    pub kind: String,
    /// New roots of that kind.
    pub count: u64,
    /// The most common class of the program's objects they hold (`Socket`).
    pub holds: Option<String>,
}

impl ManyRoots {
    /// The holder of many roots in the words the census uses for the active handles of one
    /// class: no variable holds them, so they are named by their class and count (`300 new
    /// Socket handles (TCP roots, each a root of its own: no collection holds them)`), of kind
    /// [`HolderKind::Handles`]. Named so, they stand before any object that only reaches them
    /// (a Node-internal variable of the socket's own code).
    pub fn holder(&self) -> NamedHolder {
        let class = self.holds.clone().unwrap_or_else(|| self.kind.clone());
        let name = format!("{class} handles");
        let description = format!(
            "{} new {name} ({} roots, each a root of its own: no collection holds them)",
            thousands(self.count),
            self.kind
        );
        NamedHolder {
            name,
            class,
            kind: HolderKind::Handles,
            function: None,
            closure: None,
            file: None,
            line: None,
            column: None,
            description,
        }
    }
}

/// An object present in both snapshots that holds new objects no deeper such object holds
/// (see [`growth`]): the holder of a leak in whatever shape it takes.
///
/// [`growth`]: super::growth
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthRoot {
    /// Its class, or `function NAME at FILE:LINE:COL`; `(GC roots)` and the like for many roots.
    pub name: String,
    /// Its node id in the last snapshot.
    pub id: u64,
    /// Self bytes of the new objects it holds that no other growth root holds (by paths, an
    /// estimate).
    pub new_bytes: u64,
    /// Those new objects.
    pub new_count: u64,
    /// Its retained size in the last snapshot.
    pub retained_size: u64,
    /// The class of what it holds: a chain's links, a collection's most common entries.
    pub member_class: Option<String>,
    /// The chain it holds, when the new objects are links of one.
    pub chain: Option<Chain>,
    /// When the new objects hang from GC roots of their own, those roots.
    pub many_roots: Option<ManyRoots>,
    /// Readable path from the GC roots to it.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery folded into one step.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where.
    pub holder: Option<NamedHolder>,
}

/// What `diffSnapshots` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffResult {
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
    /// By ids: the objects present in both snapshots that hold the new ones, most new bytes
    /// first (see [`GrowthRoot`]). By paths: chains and many roots, counted by path key.
    pub growth_roots: Vec<GrowthRoot>,
    /// How the snapshots were matched.
    pub matched_by: MatchedBy,
}
