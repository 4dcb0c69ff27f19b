//! Which scope a closure variable is of: the function whose scope it is, when the snapshot
//! still has it, and the closure that locates the scope (see the [holder's doc](super)).

use std::collections::HashMap;

use crate::core::diagnose::heapsnapshot::code_index::CodeIndex;
use crate::core::diagnose::heapsnapshot::graph::Bits;
use crate::core::diagnose::heapsnapshot::paths::{script_name, shared_script_name};
use crate::core::diagnose::heapsnapshot::snapshot::{NodeKind, Snapshot};

/// The functions whose scopes hold the variables asked about, and a live closure of each.
pub(super) struct ScopeFunctions {
    /// The shared function info whose `name_or_scope_info` is each scope info asked about.
    by_scope_info: HashMap<usize, usize>,
    /// A closure with a location of each of those functions, where one is alive.
    closures: HashMap<usize, usize>,
}

impl ScopeFunctions {
    /// Looks up the functions of `scopes` in one pass over the snapshot's code objects, and
    /// their closures in one pass over the closures with a location.
    pub(super) fn new(snap: &Snapshot, scopes: &[usize]) -> ScopeFunctions {
        let mut found = ScopeFunctions {
            by_scope_info: HashMap::new(),
            closures: HashMap::new(),
        };
        let infos: Vec<usize> = scopes
            .iter()
            .filter_map(|&ctx| snap.child_named(ctx, "scope_info"))
            .collect();
        if infos.is_empty() {
            return found;
        }
        let mut wanted = Bits::new(snap.node_count());
        for &info in &infos {
            wanted.set(info);
        }
        for n in 0..snap.node_count() {
            if snap.node_kind(n) != NodeKind::Code {
                continue;
            }
            for e in snap.edges(n) {
                let info = snap.edge_to[e] as usize;
                if wanted.get(info) && snap.edge_name_str(e) == Some("name_or_scope_info") {
                    found.by_scope_info.entry(info).or_insert(n);
                }
            }
        }
        if found.by_scope_info.is_empty() {
            return found;
        }
        let mut functions = Bits::new(snap.node_count());
        for &shared in found.by_scope_info.values() {
            functions.set(shared);
        }
        for l in &snap.locations {
            let closure = l.node as usize;
            if let Some(shared) = snap
                .child_named(closure, "shared")
                .filter(|&s| functions.get(s))
            {
                found.closures.entry(shared).or_insert(closure);
            }
        }
        found
    }

    /// The function (shared function info) whose scope `ctx` is, if the snapshot has it.
    fn function_of(&self, snap: &Snapshot, ctx: usize) -> Option<usize> {
        let info = snap.child_named(ctx, "scope_info")?;
        self.by_scope_info.get(&info).copied()
    }
}

/// What the snapshot tells of the scope of a module or closure variable.
#[derive(Default)]
pub(super) struct VariableScope {
    /// The function whose scope it is (closure variables only).
    pub(super) function: Option<String>,
    /// The closure that locates the scope (closure variables only).
    pub(super) closure: Option<Located>,
    /// The script of the scope's code.
    pub(super) file: Option<String>,
}

/// A closure with its script and 1-based line and column.
pub(super) struct Located {
    pub(super) name: String,
    file: String,
    pub(super) line: u32,
    pub(super) column: u32,
    /// True for a closure of the scope's own function, false for one created inside it.
    of_function: bool,
}

impl Located {
    fn of(snap: &Snapshot, closure: usize, of_function: bool) -> Option<Located> {
        let l = snap.location(closure)?;
        Some(Located {
            name: function_name(snap, closure).to_string(),
            file: script_name(snap, closure)?.to_string(),
            line: l.line.saturating_add(1),
            column: l.column.saturating_add(1),
            of_function,
        })
    }
}

impl VariableScope {
    /// The function of scope `ctx` (a function's, block's or class's scope) and the closure
    /// that locates it: see the module doc.
    pub(super) fn of(
        snap: &Snapshot,
        code: &CodeIndex,
        functions: &ScopeFunctions,
        ctx: usize,
    ) -> Self {
        let shared = functions.function_of(snap, ctx);
        let own = shared.and_then(|s| functions.closures.get(&s).copied());
        let closure = own
            .and_then(|c| Located::of(snap, c, true))
            .or_else(|| code.owner(ctx).and_then(|c| Located::of(snap, c, false)));
        let file = closure
            .as_ref()
            .map(|c| c.file.clone())
            .or_else(|| {
                shared
                    .and_then(|s| shared_script_name(snap, s))
                    .map(str::to_string)
            })
            .or_else(|| code.scope_script(snap, ctx).map(str::to_string));
        VariableScope {
            function: shared.map(|s| function_name(snap, s).to_string()),
            closure,
            file,
        }
    }
}

/// The name of closure or shared function info `n`: `(anonymous)` for a function without one
/// (V8 names an anonymous function's shared info `(shared function info)`).
fn function_name(snap: &Snapshot, n: usize) -> &str {
    match snap.name(n) {
        name if name.is_empty() || name.starts_with('(') || name.starts_with("system /") => {
            "(anonymous)"
        }
        name => name,
    }
}

/// Which scope a closure variable is of: `of makeTracker at FILE:LINE:COL` (a closure of the
/// function is alive), `of makeTracker, which encloses track at …` (only closures created
/// inside it are), `of makeTracker in FILE` (none is), `of a scope enclosing track at …` (the
/// snapshot no longer has the function, or it is a block's scope), or `of a closure` (nothing
/// locates it).
pub(super) fn scope_words(scope: &VariableScope) -> String {
    let at = |c: &Located| format!("{}:{}:{}", c.file, c.line, c.column);
    match (&scope.function, &scope.closure) {
        (Some(f), Some(c)) if c.of_function => format!("of {f} at {}", at(c)),
        (Some(f), Some(c)) => format!("of {f}, which encloses {} at {}", c.name, at(c)),
        (Some(f), None) => match &scope.file {
            Some(file) => format!("of {f} in {file}"),
            None => format!("of {f}"),
        },
        (None, Some(c)) => format!("of a scope enclosing {} at {}", c.name, at(c)),
        (None, None) => "of a closure".to_string(),
    }
}
