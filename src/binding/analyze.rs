//! `analyzeSnapshot` / `diffSnapshots`: the heap-snapshot analyzer, run on the libuv thread
//! pool so the event loop keeps serving while a big file is read.
//!
//! Failures resolve as `{ error }` rather than rejecting, so `lib/diagnose/analyze.js` can throw a real
//! JS error with the stable `code` and the byte `offset`.
//!
//! The progress, error and holder shapes and the task plumbing live here and serve both calls;
//! `diffSnapshots`' own shapes and task are in `diff.rs`.

use std::path::Path;

use napi::bindgen_prelude::{AsyncTask, Env, Result, Task};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;

use crate::core::diagnose::heapsnapshot::analysis::Progress;
use crate::core::diagnose::heapsnapshot::error::SnapshotError;
use crate::core::diagnose::heapsnapshot::holder::NamedHolder;
use crate::core::diagnose::heapsnapshot::summary::{analyze_file, ClassStat, LargeObject, Summary};

/// Where a long analysis is; `lib/diagnose/analyze.js` keeps the last call, `'done'`, from users.
#[napi(object)]
pub struct AnalyzeProgress {
    /// `'parse'` (reading the file), `'dominators'`, `'paths'` or `'summary'`.
    #[napi(ts_type = "'parse' | 'dominators' | 'paths' | 'summary' | 'done'")]
    pub phase: String,
    /// Which snapshot, from 0, when a diff reads several.
    pub snapshot: u32,
    /// Work done in this phase: bytes read for `'parse'`, 0 for the others.
    pub done: f64,
    /// Work in this phase: the file size for `'parse'`, 1 for the others.
    pub total: f64,
}

/// The `onProgress` function of an analysis, called from the thread pool without keeping the
/// event loop alive.
#[napi]
pub type ProgressCallback =
    ThreadsafeFunction<AnalyzeProgress, (), AnalyzeProgress, Status, false, true>;

/// A snapshot that could not be read, with the stable code and the byte offset.
#[napi(object)]
pub struct AnalyzeError {
    /// `ERR_LEAKPROOF_SNAPSHOT_IO`, `_TRUNCATED`, `_MALFORMED` or `_UNSUPPORTED`.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// Byte offset in the file where it was found.
    pub offset: f64,
    /// Which file, from 0.
    pub snapshot: u32,
}

/// Totals of one class of objects.
#[napi(object)]
pub struct ClassSummary {
    /// DevTools' class name: the constructor for objects; `(closure)`, `(string)`, `(array)`,
    /// `(system)`... otherwise.
    pub name: String,
    /// Objects of the class.
    pub count: f64,
    /// Sum of their own sizes, in bytes.
    pub self_size: f64,
    /// Sum of their retained sizes, in bytes; an instance inside another of its class counts
    /// once.
    pub retained_size: f64,
}

/// The variable or property that holds an object, named as a person would fix it.
#[napi(object)]
pub struct CodeHolder {
    /// What reaches the object in code: `'cache'`, `'stats.requests'`, `'globalThis.leaks'`;
    /// `''` when V8 gives the variable no name (the description then says whose scope holds it).
    pub name: String,
    /// The held object's class (`'Map'`), or `function NAME at FILE:LINE:COL`.
    pub class_name: String,
    /// `'module'`: a module-level variable, or what a CommonJS module exports (`module.exports.cache`);
    /// `'closure'`: a variable of a function's scope;
    /// `'global'`: a property of the global object; `'property'`: a property of an object whose
    /// own holder could not be named; `'handles'`: many new objects each kept by a GC root of
    /// its own (sockets by their handles), named by their class and count.
    #[napi(ts_type = "'module' | 'closure' | 'global' | 'property' | 'handles'")]
    pub kind: String,
    /// For `kind: 'closure'`: the function whose scope holds the variable (`'makeTracker'`),
    /// when the snapshot still has the function (V8 frees it once no closure of it is alive and
    /// no live code refers to it, as for a factory called once at startup); `'(anonymous)'` for
    /// a function without a name. Absent for the other kinds and for a block's scope.
    pub function: Option<String>,
    /// For `kind: 'closure'`: the closure that `line` and `column` locate: a closure of
    /// `function` when one is alive, else one created inside the variable's scope (one created
    /// directly in it first, then the first in the source). Absent for the other kinds: every
    /// function of a module keeps the module's scope alive, and a heap snapshot does not say
    /// which of them uses a variable.
    pub closure: Option<String>,
    /// The script of the scope's code: the module's file, or the function's.
    pub file: Option<String>,
    /// 1-based line of `closure`.
    pub line: Option<u32>,
    /// 1-based column of `closure` (V8 places a function at its parameter list).
    pub column: Option<u32>,
    /// One line: `cache (Map), a module-level variable of /srv/app.js`, or `seen (Map), a
    /// variable of makeTracker at /srv/app.js:37:21`.
    pub description: String,
}

pub(super) fn holder_js(h: NamedHolder) -> CodeHolder {
    CodeHolder {
        name: h.name,
        class_name: h.class,
        kind: h.kind.as_str().to_string(),
        function: h.function,
        closure: h.closure,
        file: h.file,
        line: h.line,
        column: h.column,
        description: h.description,
    }
}

/// One object that keeps much memory alive.
#[napi(object)]
pub struct LargestObject {
    /// Class name, or `function NAME at FILE:LINE:COLUMN` for a function.
    pub name: String,
    /// Heap snapshot node id.
    pub id: f64,
    /// Own size, in bytes.
    pub self_size: f64,
    /// Bytes that would be freed with it (DevTools' retained size).
    pub retained_size: f64,
    /// References from the GC roots.
    pub distance: f64,
    /// Shortest path from the GC roots, e.g. `['(GC roots)', 'global', 'cache (Map)', 'table',
    /// 'Session']`.
    pub retainer_path: Vec<String>,
    /// The same path with Node's own machinery (timer lists, listeners, the module loader, the
    /// global object) folded into its first step: `(Node internals: timers) → _idleNext
    /// (Timeout) → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache
    /// (Map)`.
    pub readable_path: Vec<String>,
    /// The variable or property that holds it, and where in the code; absent if none names it.
    pub holder: Option<CodeHolder>,
}

/// Result of `analyzeSnapshot`.
#[napi(object)]
pub struct SnapshotSummary {
    /// Heap objects.
    pub nodes: f64,
    /// References.
    pub edges: f64,
    /// Sum of all own sizes, in bytes.
    pub total_size: f64,
    /// Every class, most retained first.
    pub classes: Vec<ClassSummary>,
    /// The `top` largest program objects by retained size.
    pub largest: Vec<LargestObject>,
}

/// `{ result }` or `{ error }`.
#[napi(object)]
pub struct AnalyzeOutcome {
    /// The summary, on success.
    pub result: Option<SnapshotSummary>,
    /// Why it failed.
    pub error: Option<AnalyzeError>,
}

pub(super) fn report_error(e: SnapshotError) -> AnalyzeError {
    AnalyzeError {
        code: e.code().to_string(),
        message: e.message,
        offset: e.offset as f64,
        snapshot: e.snapshot,
    }
}

/// Runs `work` with a progress function that forwards to JS, then sends a last `'done'` call
/// and releases the callback. Calls arrive in order, but the task's result may arrive before
/// them: `'done'` tells JS that every progress call has arrived.
pub(super) fn with_progress<T>(
    callback: Option<ProgressCallback>,
    work: impl FnOnce(&mut dyn FnMut(Progress)) -> T,
) -> T {
    let send = |phase: &str, snapshot: u32, done: f64, total: f64| {
        if let Some(cb) = callback.as_ref() {
            cb.call(
                AnalyzeProgress {
                    phase: phase.to_string(),
                    snapshot,
                    done,
                    total,
                },
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    };
    let output = work(&mut |p: Progress| send(p.phase, p.snapshot, p.done as f64, p.total as f64));
    send("done", 0, 0.0, 0.0);
    output
}

/// The work of `analyzeSnapshot`.
pub struct AnalyzeTask {
    path: String,
    top: u32,
    progress: Option<ProgressCallback>,
}

impl Task for AnalyzeTask {
    type Output = std::result::Result<Summary, SnapshotError>;
    type JsValue = AnalyzeOutcome;

    fn compute(&mut self) -> Result<Self::Output> {
        let (path, top) = (Path::new(&self.path), self.top as usize);
        Ok(with_progress(self.progress.take(), |p| {
            analyze_file(path, top, p)
        }))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<AnalyzeOutcome> {
        Ok(match output {
            Ok(s) => AnalyzeOutcome {
                result: Some(summary_js(s)),
                error: None,
            },
            Err(e) => AnalyzeOutcome {
                result: None,
                error: Some(report_error(e)),
            },
        })
    }
}

pub(super) fn summary_js(s: Summary) -> SnapshotSummary {
    SnapshotSummary {
        nodes: s.nodes as f64,
        edges: s.edges as f64,
        total_size: s.total_size as f64,
        classes: s.classes.into_iter().map(class_js).collect(),
        largest: s.largest.into_iter().map(largest_js).collect(),
    }
}

fn class_js(c: ClassStat) -> ClassSummary {
    ClassSummary {
        name: c.name,
        count: c.count as f64,
        self_size: c.self_size as f64,
        retained_size: c.retained_size as f64,
    }
}

pub(super) fn largest_js(o: LargeObject) -> LargestObject {
    LargestObject {
        name: o.name,
        id: o.id as f64,
        self_size: o.self_size as f64,
        retained_size: o.retained_size as f64,
        distance: o.distance as f64,
        retainer_path: o.retainer_path,
        readable_path: o.readable_path,
        holder: o.holder.map(holder_js),
    }
}

/// Reads and analyzes the snapshot at `path` on the thread pool; `lib/diagnose/analyze.js` wraps it.
#[napi(ts_return_type = "Promise<AnalyzeOutcome>")]
pub fn analyze_snapshot_file(
    path: String,
    top: u32,
    on_progress: Option<ProgressCallback>,
) -> AsyncTask<AnalyzeTask> {
    AsyncTask::new(AnalyzeTask {
        path,
        top,
        progress: on_progress,
    })
}
