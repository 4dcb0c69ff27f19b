//! What a diff reports: how the snapshots were matched, their sizes, the new objects by
//! class, the suspects with their paths and holders, and the collections that grew. These are
//! the shapes `diffSnapshots` resolves with in JS (under the `napi` feature; whole numbers are
//! `i64`, which napi gives JS as a number, where `u64` would be a BigInt).

use crate::core::diagnose::heapsnapshot::holder::{CodeHolder, HolderKind};
use crate::core::diagnose::heapsnapshot::native::NativeMemoryKind;
pub(super) use crate::core::diagnose::heapsnapshot::paths::thousands;

/// How a diff matches the objects of the earlier snapshots with those of the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum Matching {
    /// By node id; snapshots whose ids name other objects are refused (`IdsMismatch`).
    Ids,
    /// By retainer path: for snapshots of different processes of one program.
    Paths,
    /// By id when the ids name the same objects, else by path.
    Auto,
}

/// How a diff did match the snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum MatchedBy {
    /// By node id.
    Ids,
    /// By retainer path: `newCount`, `newBytes` and `newByClass` are the net growth of each
    /// class, not new objects, and a grown collection's `before`, `after` and `retainedSize`
    /// cover every collection with its retainer path (docs/analyze.md).
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

/// Size of one snapshot in a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct SnapshotTotals {
    /// Heap objects.
    pub nodes: i64,
    /// References.
    pub edges: i64,
    /// Sum of all own sizes, in bytes.
    pub total_size: i64,
}

/// New objects of one class; by paths, the growth of the class (objects and self bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct NewObjects {
    /// Class name.
    pub name: String,
    /// New objects of the class.
    pub count: i64,
    /// Their own sizes, in bytes.
    pub bytes: i64,
    /// Their retained size, in bytes, not counting one nested in another of the class twice.
    pub retained_size: i64,
}

impl NewObjects {
    /// Class `name` with `(count, bytes, retained_size)`.
    pub fn new(name: String, (count, bytes, retained_size): (u64, u64, u64)) -> NewObjects {
        NewObjects {
            name,
            count: count as i64,
            bytes: bytes as i64,
            retained_size: retained_size as i64,
        }
    }
}

/// The object that keeps most of a suspect's new instances alive: the nearest dominator of
/// each instance that is not new itself (a Map whose table grew is the Map, not the table).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct SuspectHolder {
    /// Its class, or `function NAME at FILE:LINE:COL`.
    pub name: String,
    /// Its node id.
    pub id: i64,
    /// New instances of the suspect class it holds.
    pub instances: i64,
}

/// A leak suspect: a class of new objects that probably leaks, with the path that holds most
/// of them.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct LeakSuspect {
    /// Class name.
    pub name: String,
    /// New objects of the class.
    pub count: i64,
    /// Their own sizes, in bytes.
    pub bytes: i64,
    /// Their retained size, in bytes, not counting one nested in another of the class twice.
    pub retained_size: i64,
    /// Node id of the instance whose path is shown.
    pub id: i64,
    /// Shortest path from the GC roots to `heldBy`, through program variables where possible,
    /// then on to the instances it reaches first, the last step counting those at that depth:
    /// `… → sessions (Map) → table → Object ×21,000`. Without `heldBy` (the instances hang from
    /// the GC roots directly): the path to the instance retaining the most.
    pub retainer_path: Vec<String>,
    /// What holds the most new instances; absent when they hang from the GC roots directly.
    pub held_by: Option<SuspectHolder>,
    /// The same path with Node's own machinery (timer lists, listeners, the module loader, the
    /// global object) folded into its first step: `(Node internals: timers) → _idleNext
    /// (Timeout) → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache
    /// (Map)`.
    pub readable_path: Vec<String>,
    /// The variable or property holding `heldBy` (else the instance shown), and where in the
    /// code; absent if none names it.
    pub holder: Option<CodeHolder>,
    /// Bytes of native memory the new instances retain: the snapshot's `native` objects (Node's
    /// C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer contents).
    /// Part of `retainedSize`.
    pub native_bytes: i64,
    /// `retainedSize` over the diff's `newBytes`, at most 1: how much of the growth the new
    /// instances explain.
    pub share: f64,
}

/// A Map, Set, Array or plain object that holds more entries than before.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct GrownCollection {
    /// `'Map'`, `'Set'`, `'Array'` or `'Object'`.
    pub name: String,
    /// Node id in the last snapshot (by ids, the same in both).
    pub id: i64,
    /// Entries in the first snapshot (references to heap values; a Map entry counts once).
    /// Matched by paths: of every collection with its retainer path.
    pub before: i64,
    /// Entries in the last snapshot (matched by paths: of every such collection).
    pub after: i64,
    /// Retained size in the last snapshot, in bytes (matched by paths: of every such
    /// collection).
    pub retained_size: i64,
    /// Shortest path from the GC roots in the last snapshot.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery (timer lists, listeners, the module loader, the
    /// global object) folded into its first step: `(Node internals: timers) → _idleNext
    /// (Timeout) → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache
    /// (Map)`.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where in the code; null if none names it.
    pub holder: Option<CodeHolder>,
    /// The most common class of what its entries hold in the last snapshot (of a Map's, the
    /// values): `'Gzip'`, `'Buffer'`, `'Session'`, `'(string)'`; null when it holds none.
    pub member_class: Option<String>,
    /// Bytes of native memory it retains in the last snapshot: the snapshot's `native` objects
    /// (Node's C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer
    /// contents). Part of `retainedSize`.
    pub native_bytes: i64,
    /// Matched by ids: the part of `nativeBytes` owned by objects (the nearest JavaScript
    /// object above the native memory, such as a stream's handle or an ArrayBuffer) that existed in the first snapshot, so `nativeBytes -
    /// nativeBytesBefore` is the native memory of new entries (at its size now: the diff builds
    /// no dominator tree of the first snapshot). Matched by paths: null.
    pub native_bytes_before: Option<i64>,
    /// The (up to 3) kinds of native memory holding the most of `nativeBytes`, most bytes first.
    pub native_kinds: Vec<NativeMemoryKind>,
    /// The bytes its new entries hold (`retainedSize` times the share of its entries that are
    /// new) over the diff's `newBytes`, at most 1: how much of the growth it explains.
    pub share: f64,
}

impl GrownCollection {
    /// About the bytes its new entries hold (see [`new_bytes_of`]).
    pub fn new_entries_bytes(&self) -> u64 {
        new_bytes_of(
            self.retained_size as u64,
            self.before as u64,
            self.after as u64,
        )
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
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct GrowthChain {
    /// The class of its links: `'LinkNode'`.
    pub class: String,
    /// The property from one link to the next: `'next'`.
    pub via: String,
    /// Links in the first snapshot.
    pub before: i64,
    /// Links in the last snapshot.
    pub after: i64,
}

/// New objects each held by a GC root of its own: open sockets' handles, timers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct GrowthManyRoots {
    /// The kind of root holding the most new bytes (matched by paths: that gained the most):
    /// `'TCP'`.
    pub kind: String,
    /// New roots of that kind.
    pub count: i64,
    /// The most common class of the program's objects they hold (`'Socket'`); null when none.
    pub holds: Option<String>,
}

impl GrowthManyRoots {
    /// The holder of many roots in the words the census uses for the active handles of one
    /// class: no variable holds them, so they are named by their class and count (`300 new
    /// Socket handles (TCP roots, each a root of its own: no collection holds them)`), of kind
    /// [`HolderKind::Handles`]. Named so, they stand before any object that only reaches them
    /// (a Node-internal variable of the socket's own code).
    pub fn holder(&self) -> CodeHolder {
        let class = self.holds.clone().unwrap_or_else(|| self.kind.clone());
        let name = format!("{class} handles");
        let description = format!(
            "{} new {name} ({} roots, each a root of its own: no collection holds them)",
            thousands(self.count as u64),
            self.kind
        );
        CodeHolder {
            name,
            class,
            kind: HolderKind::Handles,
            function: None,
            closure: None,
            file: None,
            line: None,
            column: None,
            description,
            owner: None,
        }
    }
}

/// An object present in both snapshots that holds new objects no deeper such object holds
///: a leak's holder whatever its shape (a collection, a chain, many roots).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object, use_nullable = true))]
pub struct GrowthRoot {
    /// Its class (`'Queue'`), or `function NAME at FILE:LINE:COL`; `'(GC roots)'` and the like
    /// for many roots.
    pub name: String,
    /// Node id in the last snapshot.
    pub id: i64,
    /// Self bytes of the new objects it holds that no other growth root holds (matched by
    /// paths, an estimate).
    pub new_bytes: i64,
    /// Those new objects.
    pub new_count: i64,
    /// `newBytes` as a share of all new bytes (0 to 1): how much of the growth it explains.
    pub share: f64,
    /// Retained size in the last snapshot, in bytes.
    pub retained_size: i64,
    /// The class of what it holds: a chain's links, a collection's most common entries; null
    /// when not known.
    pub member_class: Option<String>,
    /// The chain it holds, when the new objects are the links of one (16 links at least); else
    /// null.
    pub chain: Option<GrowthChain>,
    /// When the new objects hang from GC roots of their own, those roots; else null.
    pub many_roots: Option<GrowthManyRoots>,
    /// Shortest path from the GC roots in the last snapshot.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery folded into its first step.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where in the code; null if none names it.
    pub holder: Option<CodeHolder>,
}

/// What `diffSnapshots` reports.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct SnapshotDiff {
    /// Size of each snapshot, in the order given.
    pub snapshots: Vec<SnapshotTotals>,
    /// New objects (see `diffSnapshots`; matched by paths: the net growth of the classes that
    /// grew).
    pub new_count: i64,
    /// Their own sizes, in bytes (matched by paths: the growth of those classes' own sizes).
    pub new_bytes: i64,
    /// New objects by class, most bytes first (matched by paths: growth by class).
    pub new_by_class: Vec<NewObjects>,
    /// The `top` program-level classes of new objects by retained size, largest first, with
    /// paths.
    pub suspects: Vec<LeakSuspect>,
    /// The `top` collections by the bytes their new entries hold (retained size times the
    /// share of entries that are new), most first.
    pub grown_collections: Vec<GrownCollection>,
    /// The `top` objects present in both snapshots that hold the new ones, most new bytes
    /// first; they name a chain's holder and many roots, which no growing collection shows.
    /// Matched by paths: chains and many roots only, counted by path key (docs/analyze.md).
    pub growth_roots: Vec<GrowthRoot>,
    /// How the snapshots were matched.
    pub matched_by: MatchedBy,
}

/// `bytes` as a share of `all_new_bytes`, at most 1: by paths both are estimates, and a
/// chain's or a class' retained size may pass the growth (it holds old objects too).
pub(super) fn share_of(bytes: u64, all_new_bytes: u64) -> f64 {
    (bytes as f64 / all_new_bytes.max(1) as f64).min(1.0)
}
