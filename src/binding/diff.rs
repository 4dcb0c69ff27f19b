//! `diffSnapshots`: the diff of two or three heap snapshots on the libuv thread pool, and the
//! `#[napi(object)]` shapes it returns, a thin mapping of the core's `DiffResult` (the progress,
//! error and holder shapes are `analyze.rs`').

use std::path::Path;

use napi::bindgen_prelude::{AsyncTask, Either, Env, Error, Null, Result, Task};
use napi::Status;
use napi_derive::napi;

use super::analyze::{
    holder_js, report_error, with_progress, AnalyzeError, CodeHolder, ProgressCallback,
};
use crate::core::diagnose::heapsnapshot::diff::{self, diff_files, DiffResult, Matching, Suspect};
use crate::core::diagnose::heapsnapshot::error::SnapshotError;

/// Size of one snapshot in a diff.
#[napi(object)]
pub struct SnapshotTotals {
    /// Heap objects.
    pub nodes: f64,
    /// References.
    pub edges: f64,
    /// Sum of all own sizes, in bytes.
    pub total_size: f64,
}

/// New objects of one class.
#[napi(object)]
pub struct NewObjects {
    /// Class name.
    pub name: String,
    /// New objects.
    pub count: f64,
    /// Their own sizes, in bytes.
    pub bytes: f64,
    /// Their retained size, in bytes.
    pub retained_size: f64,
}

/// The object holding most of a suspect's new instances.
#[napi(object)]
pub struct SuspectHolder {
    /// Its class, or `function NAME at FILE:LINE:COL`.
    pub name: String,
    /// Its node id.
    pub id: f64,
    /// New instances of the suspect class it holds.
    pub instances: f64,
}

/// A leak suspect: a class of new objects and the path that holds most of them.
#[napi(object)]
pub struct LeakSuspect {
    /// Class name.
    pub name: String,
    /// New objects of the class.
    pub count: f64,
    /// Their own sizes, in bytes.
    pub bytes: f64,
    /// Their retained size, in bytes.
    pub retained_size: f64,
    /// Node id of the instance whose path is shown.
    pub id: f64,
    /// Shortest path from the GC roots to `heldBy`, through program variables where possible,
    /// then on to the instances it reaches first, the last step counting those at that depth:
    /// `… → sessions (Map) → table → Object ×21,000`. Without `heldBy`: the path to the
    /// instance retaining the most.
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
    pub native_bytes: f64,
    /// `retainedSize` over the diff's `newBytes`, at most 1: how much of the growth the new
    /// instances explain.
    pub share: f64,
}

/// Native memory of one kind that a grown collection retains.
#[napi(object)]
pub struct NativeMemoryKind {
    /// The snapshot's name for it: `'Node / zlib_memory'`, `'system / JSArrayBufferData'`
    /// (ArrayBuffer contents), `'Node / ZlibStream'`.
    pub name: String,
    /// Objects of the kind.
    pub count: f64,
    /// Their bytes.
    pub bytes: f64,
}

/// A collection that holds more entries than before.
#[napi(object)]
pub struct GrownCollection {
    /// `'Map'`, `'Set'`, `'Array'` or `'Object'`.
    pub name: String,
    /// Node id, the same in both snapshots.
    pub id: f64,
    /// Entries in the first snapshot (references to heap values; a Map entry counts once).
    pub before: f64,
    /// Entries in the last snapshot.
    pub after: f64,
    /// Retained size in the last snapshot, in bytes.
    pub retained_size: f64,
    /// Shortest path from the GC roots in the last snapshot.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery (timer lists, listeners, the module loader, the
    /// global object) folded into its first step: `(Node internals: timers) → _idleNext
    /// (Timeout) → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache
    /// (Map)`.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where in the code; absent if none names it.
    pub holder: Option<CodeHolder>,
    /// The most common class of what its entries hold in the last snapshot (of a Map's, the
    /// values): `'Gzip'`, `'Buffer'`, `'Session'`, `'(string)'`; null when it holds none.
    pub member_class: Either<String, Null>,
    /// Bytes of native memory it retains in the last snapshot: the snapshot's `native` objects
    /// (Node's C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer
    /// contents). Part of `retainedSize`.
    pub native_bytes: f64,
    /// Matched by ids: the part of `nativeBytes` owned by objects (the nearest JavaScript
    /// object above the native memory, such as a stream's handle or an ArrayBuffer) that
    /// existed in the first snapshot, so `nativeBytes - nativeBytesBefore` is the native memory
    /// of new entries. Matched by paths: null.
    pub native_bytes_before: Either<f64, Null>,
    /// The (up to 3) kinds of native memory holding the most of `nativeBytes`, most bytes first.
    pub native_kinds: Vec<NativeMemoryKind>,
    /// The bytes its new entries hold (`retainedSize` times the share of its entries that are
    /// new) over the diff's `newBytes`, at most 1: how much of the growth it explains.
    pub share: f64,
}

/// A chain of objects each holding the next (a linked list, a queue).
#[napi(object)]
pub struct GrowthChain {
    /// The class of its links: `'LinkNode'`.
    pub class: String,
    /// The property from one link to the next: `'next'`.
    pub via: String,
    /// Links in the first snapshot.
    pub before: f64,
    /// Links in the last snapshot.
    pub after: f64,
}

/// New objects each held by a GC root of its own (open sockets' handles, timers).
#[napi(object)]
pub struct GrowthManyRoots {
    /// The kind of root holding the most new bytes (matched by paths: that gained the most):
    /// `'TCP'`.
    pub kind: String,
    /// New roots of that kind.
    pub count: f64,
    /// The most common class of the program's objects they hold (`'Socket'`); null when none.
    pub holds: Either<String, Null>,
}

/// An object present in both snapshots that holds new objects no deeper such object holds:
/// a leak's holder whatever its shape (a collection, a chain, many roots).
#[napi(object)]
pub struct GrowthRoot {
    /// Its class (`'Queue'`), or `function NAME at FILE:LINE:COL`; `'(GC roots)'` and the like
    /// for many roots.
    pub name: String,
    /// Node id in the last snapshot.
    pub id: f64,
    /// Self bytes of the new objects it holds that no other growth root holds (matched by
    /// paths, an estimate).
    pub new_bytes: f64,
    /// Those new objects.
    pub new_count: f64,
    /// `newBytes` as a share of all new bytes (0 to 1): how much of the growth it explains.
    pub share: f64,
    /// Retained size in the last snapshot, in bytes.
    pub retained_size: f64,
    /// The class of what it holds: a chain's links, a collection's most common entries; null
    /// when not known.
    pub member_class: Either<String, Null>,
    /// The chain it holds, when the new objects are the links of one (16 links at least); else
    /// null.
    pub chain: Either<GrowthChain, Null>,
    /// When the new objects hang from GC roots of their own, those roots; else null.
    pub many_roots: Either<GrowthManyRoots, Null>,
    /// Shortest path from the GC roots in the last snapshot.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery folded into its first step.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where in the code; absent if none names it.
    pub holder: Option<CodeHolder>,
}

/// Result of `diffSnapshots`.
#[napi(object)]
pub struct SnapshotDiff {
    /// Size of each snapshot, in the order given.
    pub snapshots: Vec<SnapshotTotals>,
    /// New objects (see `diffSnapshots`).
    pub new_count: f64,
    /// Their own sizes, in bytes.
    pub new_bytes: f64,
    /// New objects by class, most bytes first.
    pub new_by_class: Vec<NewObjects>,
    /// The `top` program-level classes of new objects by retained size.
    pub suspects: Vec<LeakSuspect>,
    /// The `top` collections by the bytes their new entries hold (retained size times the
    /// share of entries that are new), most first.
    pub grown_collections: Vec<GrownCollection>,
    /// The `top` objects present in both snapshots that hold the new ones, most new bytes
    /// first; they name a chain's holder and many roots, which no growing collection shows.
    /// Matched by paths: chains and many roots only, counted by path key (docs/analyze.md).
    pub growth_roots: Vec<GrowthRoot>,
    /// How the snapshots were matched. `'paths'`: `newCount`, `newBytes` and `newByClass` are
    /// the net growth of each class, not new objects, and a grown collection's `before`,
    /// `after` and `retainedSize` cover every collection with its retainer path
    /// (docs/analyze.md).
    #[napi(ts_type = "'ids' | 'paths'")]
    pub matched_by: String,
}

/// `{ result }` or `{ error }`.
#[napi(object)]
pub struct DiffOutcome {
    /// The diff, on success.
    pub result: Option<SnapshotDiff>,
    /// Why it failed.
    pub error: Option<AnalyzeError>,
}

/// The work of `diffSnapshots`.
pub struct DiffTask {
    paths: Vec<String>,
    top: u32,
    matching: Matching,
    progress: Option<ProgressCallback>,
}

impl Task for DiffTask {
    type Output = std::result::Result<DiffResult, SnapshotError>;
    type JsValue = DiffOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let paths: Vec<&Path> = self.paths.iter().map(Path::new).collect();
        let (top, matching) = (self.top as usize, self.matching);
        Ok(with_progress(self.progress.take(), |p| {
            diff_files(&paths, top, matching, p)
        }))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<DiffOutcome> {
        Ok(match output {
            Ok(d) => DiffOutcome {
                result: Some(diff_js(d)),
                error: None,
            },
            Err(e) => DiffOutcome {
                result: None,
                error: Some(report_error(e)),
            },
        })
    }
}

fn diff_js(d: DiffResult) -> SnapshotDiff {
    SnapshotDiff {
        snapshots: d
            .snapshots
            .into_iter()
            .map(|t| SnapshotTotals {
                nodes: t.nodes as f64,
                edges: t.edges as f64,
                total_size: t.total_size as f64,
            })
            .collect(),
        new_count: d.new_count as f64,
        new_bytes: d.new_bytes as f64,
        new_by_class: d
            .new_by_class
            .into_iter()
            .map(|c| NewObjects {
                name: c.name,
                count: c.count as f64,
                bytes: c.bytes as f64,
                retained_size: c.retained_size as f64,
            })
            .collect(),
        suspects: d
            .suspects
            .into_iter()
            .map(|s| suspect_js(s, d.new_bytes))
            .collect(),
        grown_collections: d
            .grown_collections
            .into_iter()
            .map(|g| grown_js(g, d.new_bytes))
            .collect(),
        growth_roots: d
            .growth_roots
            .into_iter()
            .map(|r| growth_root_js(r, d.new_bytes))
            .collect(),
        matched_by: d.matched_by.as_str().to_string(),
    }
}

fn growth_root_js(r: diff::GrowthRoot, all_new_bytes: u64) -> GrowthRoot {
    GrowthRoot {
        name: r.name,
        id: r.id as f64,
        new_bytes: r.new_bytes as f64,
        new_count: r.new_count as f64,
        share: share_of(r.new_bytes, all_new_bytes),
        retained_size: r.retained_size as f64,
        member_class: r.member_class.map_or(Either::B(Null), Either::A),
        chain: r.chain.map_or(Either::B(Null), |c| {
            Either::A(GrowthChain {
                class: c.class,
                via: c.via,
                before: c.before as f64,
                after: c.after as f64,
            })
        }),
        many_roots: r.many_roots.map_or(Either::B(Null), |m| {
            Either::A(GrowthManyRoots {
                kind: m.kind,
                count: m.count as f64,
                holds: m.holds.map_or(Either::B(Null), Either::A),
            })
        }),
        retainer_path: r.retainer_path,
        readable_path: r.readable_path,
        holder: r.holder.map(holder_js),
    }
}

/// `bytes` as a share of `all_new_bytes`, at most 1: by paths both are estimates, and a
/// chain's or a class' retained size may pass the growth (it holds old objects too).
fn share_of(bytes: u64, all_new_bytes: u64) -> f64 {
    (bytes as f64 / all_new_bytes.max(1) as f64).min(1.0)
}

fn suspect_js(s: Suspect, all_new_bytes: u64) -> LeakSuspect {
    LeakSuspect {
        share: share_of(s.class.retained_size, all_new_bytes),
        name: s.class.name,
        count: s.class.count as f64,
        bytes: s.class.bytes as f64,
        retained_size: s.class.retained_size as f64,
        id: s.id as f64,
        retainer_path: s.retainer_path,
        held_by: s.held_by.map(|h| SuspectHolder {
            name: h.name,
            id: h.id as f64,
            instances: h.instances as f64,
        }),
        readable_path: s.readable_path,
        holder: s.holder.map(holder_js),
        native_bytes: s.native_bytes as f64,
    }
}

fn grown_js(g: diff::GrownCollection, all_new_bytes: u64) -> GrownCollection {
    GrownCollection {
        share: share_of(g.new_entries_bytes(), all_new_bytes),
        name: g.name,
        id: g.id as f64,
        before: g.before as f64,
        after: g.after as f64,
        retained_size: g.retained_size as f64,
        retainer_path: g.retainer_path,
        readable_path: g.readable_path,
        holder: g.holder.map(holder_js),
        member_class: g.member_class.map_or(Either::B(Null), Either::A),
        native_bytes: g.native_bytes as f64,
        native_bytes_before: g
            .native_bytes_before
            .map_or(Either::B(Null), |b| Either::A(b as f64)),
        native_kinds: g
            .native_kinds
            .into_iter()
            .map(|k| NativeMemoryKind {
                name: k.name,
                count: k.count as f64,
                bytes: k.bytes as f64,
            })
            .collect(),
    }
}

/// Diffs two or three snapshot files on the thread pool, matching them by `matching`
/// (`'ids'`, `'paths'` or `'auto'`, checked by `lib/diagnose/analyze.js`, which wraps it).
#[napi(ts_return_type = "Promise<DiffOutcome>")]
pub fn diff_snapshot_files(
    paths: Vec<String>,
    top: u32,
    #[napi(ts_arg_type = "'ids' | 'paths' | 'auto'")] matching: String,
    on_progress: Option<ProgressCallback>,
) -> Result<AsyncTask<DiffTask>> {
    let matching = Matching::from_name(&matching).ok_or_else(|| {
        Error::new(
            Status::InvalidArg,
            format!("matching must be 'ids', 'paths' or 'auto', not {matching:?}"),
        )
    })?;
    Ok(AsyncTask::new(DiffTask {
        paths,
        top,
        matching,
        progress: on_progress,
    }))
}
