//! What the code of a snapshot says: each closure's script and where it comes from (the
//! program's files, a dependency, Node's own), and for each scope the closure that locates
//! it; and retainer paths with Node's own machinery folded into one step.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::graph::Bits;
use super::paths::{describe_folded, script_name};
use super::snapshot::{Location, Snapshot};
use crate::core::diagnose::code_origin::{code_origin, CodeOrigin};

/// Where the code of a script comes from, in order of preference for naming a holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Node's own code (`node:…`) or a script without a name.
    Internal,
    /// A dependency (a package in `node_modules`, leakproof included).
    Library,
    /// The program's own files.
    App,
}

/// The origin of the script named `name` (see [`code_origin`]), as a preference.
pub fn origin(name: &str) -> Origin {
    match code_origin(name) {
        CodeOrigin::Node | CodeOrigin::Builtin => Origin::Internal,
        CodeOrigin::Package | CodeOrigin::Own => Origin::Library,
        CodeOrigin::App => Origin::App,
    }
}

/// Closures' scripts and, for each scope (context), the closure that locates it.
pub struct CodeIndex {
    /// Script name of each script id seen in `locations`.
    scripts: HashMap<u32, String>,
    /// For each context a closure holds (directly or as a parent scope): the closure that
    /// locates it, by [`OwnerRank`].
    owners: HashMap<u32, Owner>,
    /// Closures whose script is not Node's own.
    pub program_closures: Bits,
}

/// The closure chosen for a scope, and how it ranks.
#[derive(Clone, Copy)]
struct Owner {
    closure: u32,
    rank: OwnerRank,
}

/// Lower is better: a closure of the program's own files first, then one created nearer the
/// scope (0 = directly in it, 1 = in a scope inside it, …), then the first in the source
/// (0-based line, column). A rank that holds for a scope holds, shifted by the same depth, for
/// every parent scope, so a closure that loses to the owner of a scope loses to theirs too.
type OwnerRank = (Reverse<Origin>, u32, u32, u32);

impl CodeIndex {
    /// Reads every closure of `snap` with a source location.
    pub fn new(snap: &Snapshot) -> CodeIndex {
        let scripts = script_names(snap);
        let mut owners: HashMap<u32, Owner> = HashMap::new();
        let mut program_closures = Bits::new(snap.node_count());
        for l in &snap.locations {
            let closure = l.node as usize;
            let from = scripts
                .get(&l.script_id)
                .map_or(Origin::Internal, |s| origin(s));
            if from != Origin::Internal {
                program_closures.set(closure);
            }
            let mut scope = snap.child_named(closure, "context");
            for depth in 0..MAX_SCOPE_DEPTH as u32 {
                let Some(ctx) = scope.filter(|&c| is_scope(snap, c)) else {
                    break;
                };
                let rank = (Reverse(from), depth, l.line, l.column);
                if owners.get(&(ctx as u32)).is_some_and(|o| o.rank <= rank) {
                    break;
                }
                let closure = closure as u32;
                owners.insert(ctx as u32, Owner { closure, rank });
                scope = snap.child_named(ctx, "previous");
            }
        }
        CodeIndex {
            scripts,
            owners,
            program_closures,
        }
    }

    /// The origin of the code of closure `n`.
    pub fn closure_origin(&self, snap: &Snapshot, n: usize) -> Origin {
        snap.location(n)
            .and_then(|l| self.scripts.get(&l.script_id))
            .map_or(Origin::Internal, |s| origin(s))
    }

    /// The script and place of closure `n`, where the snapshot has them.
    pub fn closure_place(&self, snap: &Snapshot, n: usize) -> Option<(&str, Location)> {
        let l = snap.location(n)?;
        Some((self.scripts.get(&l.script_id)?.as_str(), l))
    }

    /// The closure that locates scope `ctx`, if any closure with a location holds it.
    pub(super) fn owner(&self, ctx: usize) -> Option<usize> {
        self.owners.get(&(ctx as u32)).map(|o| o.closure as usize)
    }

    /// The script of the closure that locates scope `ctx`, if a closure with a location holds
    /// it: the scope's file.
    pub fn scope_script(&self, snap: &Snapshot, ctx: usize) -> Option<&str> {
        let l = snap.location(self.owner(ctx)?)?;
        self.scripts.get(&l.script_id).map(String::as_str)
    }

    /// The origin of scope `ctx`'s code.
    pub(super) fn scope_origin(&self, ctx: usize) -> Origin {
        self.owners
            .get(&(ctx as u32))
            .map_or(Origin::Internal, |o| o.rank.0 .0)
    }
}

/// The name of each script id of `locations`, from the first of its closures that names it
/// (some do not: their shared info has no script yet).
fn script_names(snap: &Snapshot) -> HashMap<u32, String> {
    let mut scripts: HashMap<u32, String> = HashMap::new();
    for l in &snap.locations {
        if let std::collections::hash_map::Entry::Vacant(slot) = scripts.entry(l.script_id) {
            if let Some(name) = script_name(snap, l.node as usize) {
                slot.insert(name.to_string());
            }
        }
    }
    scripts
}

/// Parent scopes followed from a closure's own.
const MAX_SCOPE_DEPTH: usize = 64;

/// True for a function, block or module scope (`system / Context`), not the native context.
pub fn is_scope(snap: &Snapshot, n: usize) -> bool {
    let name = snap.name(n);
    name.starts_with("system / ") && name.ends_with("Context") && !is_native_context(snap, n)
}

pub(super) fn is_native_context(snap: &Snapshot, n: usize) -> bool {
    matches!(
        snap.name(n),
        "system / NativeContext" | "system / ScriptContext"
    )
}

/// The readable path along `edges` (from the root), Node's own machinery folded into one step
/// before the first closure of the program's code (see [`describe_folded`]).
pub fn folded_path(snap: &Snapshot, code: &CodeIndex, edges: &[usize]) -> Vec<String> {
    describe_folded(
        snap,
        edges,
        |c| code.program_closures.get(c),
        |c| snap.location(c).is_some() && code.closure_origin(snap, c) == Origin::Internal,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_origins() {
        assert_eq!(origin("node:internal/timers"), Origin::Internal);
        assert_eq!(origin(""), Origin::Internal);
        assert_eq!(
            origin("/srv/node_modules/express/lib/router.js"),
            Origin::Library
        );
        assert_eq!(
            origin("/srv/node_modules/leakproof/lib/index.js"),
            Origin::Library
        );
        assert_eq!(origin("/srv/app.js"), Origin::App);
        assert_eq!(origin("file:///srv/app.mjs"), Origin::App);
    }
}
