//! Who holds an object, in the words of the code that does: the variable or property
//! (`cache`, `stats.requests`), the module or function it belongs to, with the file and line a
//! person opens to fix it; and retainer paths with Node's own machinery folded into one step.
//!
//! A holder is found from the object's retainers, not from its shortest path: the shortest path
//! often runs through Node's timer lists or a server's listeners before it reaches the closure
//! whose scope holds the variable. Among the references into the object, a variable of a scope
//! in the program's own files wins, then a global, then a property or element of a program
//! object, whose own holder is then looked for in turn (`stats.requests`), up to
//! [`MAX_PROPERTY_CHAIN`] levels. A scope is a module's when its parent is the native context.
//!
//! What the snapshot tells of the scope, and so what a holder says of it:
//! - A module-level variable is described by its file only. Every function of the module keeps
//!   the module's scope alive, and the snapshot does not say which function uses a variable:
//!   V8 puts a variable in a scope's context when some inner function refers to it, and the
//!   context lists the variable by name, but no edge leads from a function to the variables it
//!   reads. Naming one of the module's closures would name an unrelated one (a signal handler,
//!   a stats timer).
//! - A variable of a function's scope names that function when the snapshot still has it: the
//!   shared function info whose `name_or_scope_info` is the scope's `scope_info`. A block's or
//!   a class's scope has none, and V8 frees a function's shared info once no closure of it is
//!   alive and no live code refers to it (a factory called once at startup). The holder is
//!   located by a live closure of that function, else by a closure created inside the scope:
//!   one created directly in it first, then the first in the source.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::graph::Bits;
use super::paths::{
    describe_folded, describe_node, readable, script_name, shared_script_name, RetainerTree,
};
use super::snapshot::{EdgeKind, NodeKind, Snapshot};

/// Properties followed upwards from the object before giving up on finding its variable.
pub const MAX_PROPERTY_CHAIN: usize = 4;

/// Where the code of a script comes from, in order of preference for naming a holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Node's own code (`node:…`) or a script without a name.
    Internal,
    /// A dependency (a path through `node_modules`).
    Library,
    /// The program's own files.
    App,
}

/// The origin of the script named `name`.
pub fn origin(name: &str) -> Origin {
    if name.is_empty() || name.starts_with("node:") || name.starts_with("internal/") {
        Origin::Internal
    } else if name.contains("/node_modules/") || name.contains("\\node_modules\\") {
        Origin::Library
    } else {
        Origin::App
    }
}

/// What kind of scope or object holds the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderKind {
    /// A top-level variable of a module (or script).
    Module,
    /// A variable of a function's scope, kept by the closures created in it.
    Closure,
    /// A property of the global object.
    Global,
    /// A property or element of an object none of whose holders above could be named.
    Property,
}

impl HolderKind {
    /// `"module"`, `"closure"`, `"global"` or `"property"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::Module => "module",
            HolderKind::Closure => "closure",
            HolderKind::Global => "global",
            HolderKind::Property => "property",
        }
    }
}

/// The holder of an object as a person would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedHolder {
    /// The expression that reaches the object: `cache`, `stats.requests`, `globalThis.leaks`;
    /// empty when V8 gives the variable no name.
    pub name: String,
    /// The object's class (`Map`), or `function NAME at FILE:LINE:COL`.
    pub class: String,
    /// The kind of scope or object that holds it.
    pub kind: HolderKind,
    /// For a [`HolderKind::Closure`] holder: the function whose scope holds the variable
    /// (`makeTracker`), when the snapshot still has that function's shared info; `(anonymous)`
    /// for a function without a name. `None` for the other kinds.
    pub function: Option<String>,
    /// For a [`HolderKind::Closure`] holder: the closure that `line` and `column` locate: a
    /// closure of `function` when one is alive, else one created inside the scope (see the
    /// module doc). `None` for the other kinds: for a module-level variable the snapshot cannot
    /// tell which of the module's closures uses it.
    pub closure: Option<String>,
    /// The script of the scope's code: the module's file, or the function's.
    pub file: Option<String>,
    /// 1-based line of `closure` (V8 places a function at its `(`).
    pub line: Option<u32>,
    /// 1-based column of `closure`.
    pub column: Option<u32>,
    /// One line: `cache (Map), a module-level variable of /srv/app.js`, or `seen (Map), a
    /// variable of makeTracker at /srv/app.js:37:21`.
    pub description: String,
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

    /// The closure that locates scope `ctx`, if any closure with a location holds it.
    fn owner(&self, ctx: usize) -> Option<usize> {
        self.owners.get(&(ctx as u32)).map(|o| o.closure as usize)
    }

    /// The script of the closure that locates scope `ctx`, if a closure with a location holds
    /// it: the scope's file.
    pub fn scope_script(&self, snap: &Snapshot, ctx: usize) -> Option<&str> {
        let l = snap.location(self.owner(ctx)?)?;
        self.scripts.get(&l.script_id).map(String::as_str)
    }

    /// The origin of scope `ctx`'s code.
    fn scope_origin(&self, ctx: usize) -> Origin {
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
pub(super) fn is_scope(snap: &Snapshot, n: usize) -> bool {
    let name = snap.name(n);
    name.starts_with("system / ") && name.ends_with("Context") && !is_native_context(snap, n)
}

fn is_native_context(snap: &Snapshot, n: usize) -> bool {
    matches!(
        snap.name(n),
        "system / NativeContext" | "system / ScriptContext"
    )
}

/// True for the global object (`global` up to V8 13, `global (global*)` from V8 14 on).
fn is_global_object(snap: &Snapshot, n: usize) -> bool {
    let name = snap.name(n);
    snap.node_kind(n) == NodeKind::Object && (name == "global" || name.starts_with("global ("))
}

/// Edge names of a scope that are VM bookkeeping, not variables.
const SCOPE_INTERNALS: [&str; 5] = [
    "scope_info",
    "previous",
    "map",
    "extension",
    "native_context",
];

/// How a reference into an object names it; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Naming {
    /// A variable of a scope in the program's files.
    AppVariable,
    /// A variable of a scope in a dependency.
    LibraryVariable,
    /// A property of the global object.
    Global,
    /// A variable of Node's own code.
    InternalVariable,
    /// A property or element of a program object.
    Member,
    /// A slot of a scope that V8 gives no name.
    UnnamedVariable,
}

/// How edge `e` from `source` names its target, if it does.
fn naming(snap: &Snapshot, code: &CodeIndex, source: usize, e: usize) -> Option<Naming> {
    let kind = snap.edge_kind(e);
    if is_scope(snap, source) {
        let named =
            kind == EdgeKind::Context && snap.edge_name_str(e).is_some_and(|n| !n.is_empty());
        if named {
            return Some(match code.scope_origin(source) {
                Origin::App => Naming::AppVariable,
                Origin::Library => Naming::LibraryVariable,
                Origin::Internal => Naming::InternalVariable,
            });
        }
        let bookkeeping = snap
            .edge_name_str(e)
            .is_some_and(|n| SCOPE_INTERNALS.contains(&n));
        let slot = matches!(
            kind,
            EdgeKind::Context | EdgeKind::Internal | EdgeKind::Hidden
        );
        return (slot && !bookkeeping).then_some(Naming::UnnamedVariable);
    }
    if !readable(snap, e) || kind == EdgeKind::Context {
        return None;
    }
    if is_global_object(snap, source) {
        return (kind == EdgeKind::Property).then_some(Naming::Global);
    }
    snap.is_program_node(source).then_some(Naming::Member)
}

/// One level of the search: the edge chosen into an object, and its source.
#[derive(Clone, Copy)]
struct Link {
    edge: usize,
    source: usize,
    naming: Naming,
}

/// The best-naming reference into each of `targets`, one pass over every edge. Ties go to the
/// edge on the shortest path, then to the source nearest the roots.
fn best_links(
    snap: &Snapshot,
    tree: &RetainerTree,
    code: &CodeIndex,
    targets: &[usize],
) -> HashMap<usize, Link> {
    let mut wanted = Bits::new(snap.node_count());
    for &t in targets {
        wanted.set(t);
    }
    let mut best: HashMap<usize, (Link, (Naming, bool, u32))> = HashMap::new();
    for source in 0..snap.node_count() {
        for e in snap.edges(source) {
            let t = snap.edge_to[e] as usize;
            if !wanted.get(t) || t == source || snap.edge_kind(e) == EdgeKind::Weak {
                continue;
            }
            let Some(naming) = naming(snap, code, source, e) else {
                continue;
            };
            let key = (naming, !tree.is_parent_edge(t, e), tree.distance[source]);
            if best.get(&t).is_none_or(|(_, k)| key < *k) {
                best.insert(
                    t,
                    (
                        Link {
                            edge: e,
                            source,
                            naming,
                        },
                        key,
                    ),
                );
            }
        }
    }
    best.into_iter().map(|(t, (link, _))| (t, link)).collect()
}

/// Names the holder of each of `targets` (see the module doc); `None` where no reference
/// into it names it.
pub fn name_holders(
    snap: &Snapshot,
    tree: &RetainerTree,
    code: &CodeIndex,
    targets: &[usize],
) -> Vec<Option<NamedHolder>> {
    // Per target, the links found so far, the object nearest it first.
    let mut chains: Vec<Vec<Link>> = vec![Vec::new(); targets.len()];
    let mut open: Vec<usize> = (0..targets.len()).collect();
    for _ in 0..=MAX_PROPERTY_CHAIN {
        if open.is_empty() {
            break;
        }
        let tops: Vec<usize> = open
            .iter()
            .map(|&i| top_of(&chains[i], targets[i]))
            .collect();
        let links = best_links(snap, tree, code, &tops);
        open.retain(|&i| {
            let top = top_of(&chains[i], targets[i]);
            let Some(&link) = links.get(&top) else {
                return false;
            };
            let cycle =
                link.source == targets[i] || chains[i].iter().any(|l| l.source == link.source);
            if cycle {
                return false;
            }
            chains[i].push(link);
            link.naming == Naming::Member
        });
    }
    let function_scopes: Vec<usize> = chains
        .iter()
        .filter_map(|chain| chain.last())
        .filter(|top| holder_kind(snap, top) == HolderKind::Closure)
        .map(|top| top.source)
        .collect();
    let functions = ScopeFunctions::new(snap, &function_scopes);
    targets
        .iter()
        .zip(chains)
        .map(|(&t, chain)| holder_of(snap, code, &functions, t, &chain))
        .collect()
}

/// The object whose holder is looked for next: the source of the last link.
fn top_of(chain: &[Link], target: usize) -> usize {
    chain.last().map_or(target, |l| l.source)
}

/// The kind of holder that `top`, the last link of a chain, makes.
fn holder_kind(snap: &Snapshot, top: &Link) -> HolderKind {
    match top.naming {
        Naming::Global => HolderKind::Global,
        Naming::Member => HolderKind::Property,
        _ if snap
            .child_named(top.source, "previous")
            .is_none_or(|p| is_native_context(snap, p)) =>
        {
            HolderKind::Module
        }
        _ => HolderKind::Closure,
    }
}

/// The holder that `chain` (links from `target` upwards) describes.
fn holder_of(
    snap: &Snapshot,
    code: &CodeIndex,
    functions: &ScopeFunctions,
    target: usize,
    chain: &[Link],
) -> Option<NamedHolder> {
    let top = chain.last()?;
    let mut name = match top.naming {
        Naming::Global => format!("globalThis.{}", member(snap, top.edge)),
        Naming::Member => format!(
            "{}{}",
            snap.class_name(top.source),
            accessor(snap, top.edge)
        ),
        Naming::UnnamedVariable => String::new(),
        _ => snap.edge_name_str(top.edge).unwrap_or_default().to_string(),
    };
    for link in chain.iter().rev().skip(1) {
        name.push_str(&accessor(snap, link.edge));
    }
    let kind = holder_kind(snap, top);
    let scope = match kind {
        HolderKind::Module => VariableScope {
            file: code.scope_script(snap, top.source).map(str::to_string),
            ..VariableScope::default()
        },
        HolderKind::Closure => VariableScope::of(snap, code, functions, top.source),
        HolderKind::Global | HolderKind::Property => VariableScope::default(),
    };
    let class = describe_node(snap, target);
    let description = describe(&name, &class, kind, &scope);
    let closure = scope.closure;
    Some(NamedHolder {
        name,
        class,
        kind,
        function: scope.function,
        closure: closure.as_ref().map(|c| c.name.clone()),
        file: scope.file,
        line: closure.as_ref().map(|c| c.line),
        column: closure.as_ref().map(|c| c.column),
        description,
    })
}

/// The functions whose scopes hold the variables asked about, and a live closure of each.
struct ScopeFunctions {
    /// The shared function info whose `name_or_scope_info` is each scope info asked about.
    by_scope_info: HashMap<usize, usize>,
    /// A closure with a location of each of those functions, where one is alive.
    closures: HashMap<usize, usize>,
}

impl ScopeFunctions {
    /// Looks up the functions of `scopes` in one pass over the snapshot's code objects, and
    /// their closures in one pass over the closures with a location.
    fn new(snap: &Snapshot, scopes: &[usize]) -> ScopeFunctions {
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
struct VariableScope {
    /// The function whose scope it is (closure variables only).
    function: Option<String>,
    /// The closure that locates the scope (closure variables only).
    closure: Option<Located>,
    /// The script of the scope's code.
    file: Option<String>,
}

/// A closure with its script and 1-based line and column.
struct Located {
    name: String,
    file: String,
    line: u32,
    column: u32,
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
    fn of(snap: &Snapshot, code: &CodeIndex, functions: &ScopeFunctions, ctx: usize) -> Self {
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

/// `name` of a property edge, the index of an element edge.
fn member(snap: &Snapshot, e: usize) -> String {
    match snap.edge_name_str(e) {
        Some(name) => name.to_string(),
        None => snap.edge_name[e].to_string(),
    }
}

/// `.name`, or `[3]` for an element or a numeric property.
fn accessor(snap: &Snapshot, e: usize) -> String {
    let name = member(snap, e);
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if plain {
        format!(".{name}")
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        format!("[{name}]")
    } else {
        format!("[{name:?}]")
    }
}

/// The one-line description of a holder.
fn describe(name: &str, class: &str, kind: HolderKind, scope: &VariableScope) -> String {
    let of_file = scope
        .file
        .as_ref()
        .map_or(String::new(), |file| format!(" of {file}"));
    match (kind, name.is_empty()) {
        (HolderKind::Module, false) => {
            format!("{name} ({class}), a module-level variable{of_file}")
        }
        (HolderKind::Module, true) => {
            format!("a module-level variable ({class}){of_file} that V8 does not name")
        }
        (HolderKind::Closure, false) => {
            format!("{name} ({class}), a variable {}", scope_words(scope))
        }
        (HolderKind::Closure, true) => format!(
            "a variable ({class}) that V8 does not name, {}",
            scope_words(scope)
        ),
        (HolderKind::Global, _) => format!("{name} ({class}), a global"),
        (HolderKind::Property, _) => format!("{name} ({class}), a property"),
    }
}

/// Which scope a closure variable is of: `of makeTracker at FILE:LINE:COL` (a closure of the
/// function is alive), `of makeTracker, which encloses track at …` (only closures created
/// inside it are), `of makeTracker in FILE` (none is), `of a scope enclosing track at …` (the
/// snapshot no longer has the function, or it is a block's scope), or `of a closure` (nothing
/// locates it).
fn scope_words(scope: &VariableScope) -> String {
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
    use super::super::analysis::Analysis;
    use super::super::parser::parse;
    use super::*;

    /// root =shortcut=> global -> handler (closure at /srv/app.js:4:22, from `locations`);
    /// handler -context-> its module's scope, whose variable `SLOT` holds a Map and whose parent
    /// is the native context; handler -shared-> shared info -script-> the script.
    const MODULE: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"]],"location_fields":["object_index","script_id","line","column"]}},
"nodes":[9,0,1,0,1, 3,1,3,10,1, 5,2,5,10,2, 3,3,7,10,2, 3,4,9,100,0, 4,5,11,10,1, 0,6,13,10,0, 4,7,15,10,0],
"edges":[5,0,5, 2,2,10, 3,8,15, 3,9,25, SLOT,20, 3,11,30, 3,12,35],
"strings":["","global","handler","system / Context","Map","system / SharedFunctionInfo","system / NativeContext","/srv/app.js","context","shared","cache","previous","script"],
"locations":[10,3,3,21]}"#;

    fn holder_of_map(slot: &str) -> NamedHolder {
        let json = MODULE.replace("SLOT", slot);
        let a = Analysis::new(parse(json.as_bytes(), None, None).unwrap(), 0, &mut |_| {});
        let holders = name_holders(&a.snapshot, &a.tree, &a.code, &[4]);
        holders.into_iter().next().flatten().expect("a holder")
    }

    #[test]
    fn a_module_variable_is_named_with_its_file_and_no_closure() {
        // `handler` is the only closure of the module and on the shortest path, and still not
        // named: the snapshot does not say whether it uses `cache`.
        let h = holder_of_map("0,10");
        assert_eq!((h.name.as_str(), h.kind), ("cache", HolderKind::Module));
        assert_eq!((h.function.as_deref(), h.closure.as_deref()), (None, None));
        assert_eq!(
            (h.file.as_deref(), h.line, h.column),
            (Some("/srv/app.js"), None, None)
        );
        assert_eq!(
            h.description,
            "cache (Map), a module-level variable of /srv/app.js"
        );
    }

    #[test]
    fn a_location_v8_does_not_know_is_left_out_not_an_error() {
        // V8 24+ writes -1 for a line or column it does not know (seen in a snapshot taken
        // under Vitest): the snapshot parses, and the closure has no location.
        for unknown in ["10,3,-1,21", "10,3,3,-1", "10,-1,3,21", "-1,3,3,21"] {
            let json = MODULE.replace("SLOT", "0,10").replace("10,3,3,21", unknown);
            let snap = parse(json.as_bytes(), None, None).expect("parses");
            assert!(snap.locations.is_empty(), "{unknown}");
        }
        // A record left out does not shift the next one.
        let json = MODULE
            .replace("SLOT", "0,10")
            .replace("10,3,3,21", "10,3,-1,21,10,3,3,21");
        let snap = parse(json.as_bytes(), None, None).expect("parses");
        assert_eq!(snap.locations.len(), 1);
        assert_eq!((snap.locations[0].line, snap.locations[0].column), (3, 21));
    }

    #[test]
    fn a_slot_without_a_name_says_which_module_holds_it() {
        let h = holder_of_map("4,2");
        assert_eq!((h.name.as_str(), h.kind), ("", HolderKind::Module));
        assert_eq!(
            h.description,
            "a module-level variable (Map) of /srv/app.js that V8 does not name"
        );
    }

    /// A snapshot built node by node: V8's node and edge types, the strings gathered as they
    /// come, closures located in script 3.
    #[derive(Default)]
    struct Heap {
        nodes: Vec<(&'static str, String, Vec<Edge>)>,
        locations: Vec<[u32; 4]>,
    }

    /// An edge of [`Heap`]: its type, name and target.
    type Edge = (&'static str, String, usize);

    const NODE_TYPES: [&str; 10] = [
        "hidden",
        "array",
        "string",
        "object",
        "code",
        "closure",
        "regexp",
        "number",
        "native",
        "synthetic",
    ];
    const EDGE_TYPES: [&str; 7] = [
        "context", "element", "property", "internal", "hidden", "shortcut", "weak",
    ];

    impl Heap {
        fn node(&mut self, kind: &'static str, name: &str) -> usize {
            self.nodes.push((kind, name.to_string(), Vec::new()));
            self.nodes.len() - 1
        }

        /// A named edge (not `element` or `hidden`).
        fn edge(&mut self, from: usize, kind: &'static str, name: &str, to: usize) {
            self.nodes[from].2.push((kind, name.to_string(), to));
        }

        /// A closure of `shared` in scope `context`, at 0-based `line` and `column`.
        fn closure(&mut self, shared: usize, context: usize, line: u32, column: u32) -> usize {
            let name = self.nodes[shared].1.clone();
            let c = self.node("closure", &name);
            self.edge(c, "internal", "shared", shared);
            self.edge(c, "internal", "context", context);
            self.locations.push([c as u32 * 5, 3, line, column]);
            c
        }

        fn snapshot(&self) -> Snapshot {
            let mut strings: Vec<String> = vec![String::new()];
            let mut string = |s: &str| match strings.iter().position(|t| t == s) {
                Some(i) => i,
                None => {
                    strings.push(s.to_string());
                    strings.len() - 1
                }
            };
            let type_of = |list: &[&str], t: &str| list.iter().position(|&k| k == t).unwrap();
            let (mut nodes, mut edges) = (Vec::new(), Vec::new());
            for (i, (kind, name, out)) in self.nodes.iter().enumerate() {
                let kind = type_of(&NODE_TYPES, kind);
                nodes.extend([kind, string(name), 2 * i + 1, 10, out.len()]);
                for (kind, name, to) in out {
                    edges.extend([type_of(&EDGE_TYPES, kind), string(name), to * 5]);
                }
            }
            let locations: Vec<u32> = self.locations.concat();
            let json = format!(
                r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[{NODE_TYPES:?}],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{EDGE_TYPES:?}],"location_fields":["object_index","script_id","line","column"]}}}},
"nodes":{nodes:?},"edges":{edges:?},"strings":{strings:?},"locations":{locations:?}}}"#
            );
            parse(json.as_bytes(), None, None).unwrap()
        }
    }

    /// Nodes of [`tracker`] that tests add to.
    struct Tracker {
        heap: Heap,
        global: usize,
        script: usize,
        module: usize,
        scope: usize,
        map: usize,
    }

    /// `global.track`, a closure (/srv/app.js:39:24) created in the scope of a call of
    /// makeTracker, whose variable `seen` holds a Map; makeTracker is a function of a module.
    /// With `function`, makeTracker's code (its shared info, whose scope info is the scope's)
    /// is in the snapshot; with `alive` too, a closure of it (/srv/app.js:37:21) held by
    /// `global.makeTracker`.
    fn tracker(function: bool, alive: bool) -> Tracker {
        let mut heap = Heap::default();
        let root = heap.node("synthetic", "");
        let global = heap.node("object", "global");
        heap.edge(root, "shortcut", "", global);
        let native = heap.node("hidden", "system / NativeContext");
        let script = heap.node("code", "/srv/app.js");
        let module = heap.node("object", "system / Context");
        heap.edge(module, "internal", "previous", native);
        let scope = heap.node("object", "system / Context");
        let info = heap.node("code", "system / ScopeInfo");
        let map = heap.node("object", "Map");
        heap.edge(scope, "context", "seen", map);
        heap.edge(scope, "internal", "scope_info", info);
        heap.edge(scope, "internal", "previous", module);
        let track_code = heap.node("code", "track");
        heap.edge(track_code, "internal", "script_or_debug_info", script);
        let track = heap.closure(track_code, scope, 38, 23);
        heap.edge(global, "property", "track", track);
        if function {
            let code = heap.node("code", "makeTracker");
            heap.edge(code, "internal", "name_or_scope_info", info);
            heap.edge(code, "internal", "script_or_debug_info", script);
            if alive {
                let make = heap.closure(code, module, 36, 20);
                heap.edge(global, "property", "makeTracker", make);
            }
        }
        Tracker {
            heap,
            global,
            script,
            module,
            scope,
            map,
        }
    }

    fn holder_of(t: &Tracker) -> NamedHolder {
        let a = Analysis::new(t.heap.snapshot(), 0, &mut |_| {});
        let holders = name_holders(&a.snapshot, &a.tree, &a.code, &[t.map]);
        holders.into_iter().next().flatten().expect("a holder")
    }

    #[test]
    fn a_function_scope_is_named_by_its_function_and_located_by_a_closure_of_it() {
        let h = holder_of(&tracker(true, true));
        assert_eq!((h.name.as_str(), h.kind), ("seen", HolderKind::Closure));
        assert_eq!(
            (h.function.as_deref(), h.closure.as_deref()),
            (Some("makeTracker"), Some("makeTracker"))
        );
        assert_eq!(
            (h.file.as_deref(), h.line, h.column),
            (Some("/srv/app.js"), Some(37), Some(21))
        );
        assert_eq!(
            h.description,
            "seen (Map), a variable of makeTracker at /srv/app.js:37:21"
        );
    }

    #[test]
    fn without_a_closure_of_the_function_a_closure_inside_its_scope_locates_it() {
        let h = holder_of(&tracker(true, false));
        assert_eq!(
            (
                h.function.as_deref(),
                h.closure.as_deref(),
                h.line,
                h.column
            ),
            (Some("makeTracker"), Some("track"), Some(39), Some(24))
        );
        assert_eq!(
            h.description,
            "seen (Map), a variable of makeTracker, which encloses track at /srv/app.js:39:24"
        );
        // No closure with a location: the function's shared info still names the file.
        let mut t = tracker(true, false);
        t.heap.locations.clear();
        let h = holder_of(&t);
        assert_eq!((h.closure, h.line), (None, None));
        assert_eq!(
            h.description,
            "seen (Map), a variable of makeTracker in /srv/app.js"
        );
    }

    #[test]
    fn without_the_function_s_code_the_text_says_what_the_scope_encloses() {
        let h = holder_of(&tracker(false, false));
        assert_eq!(
            (
                h.function.as_deref(),
                h.closure.as_deref(),
                h.file.as_deref()
            ),
            (None, Some("track"), Some("/srv/app.js"))
        );
        assert_eq!(
            h.description,
            "seen (Map), a variable of a scope enclosing track at /srv/app.js:39:24"
        );
        let mut t = tracker(false, false);
        let slot = t.heap.nodes[t.scope].2.iter_mut().find(|e| e.1 == "seen");
        slot.expect("the variable").1 = String::new();
        assert_eq!(
            holder_of(&t).description,
            "a variable (Map) that V8 does not name, of a scope enclosing track at \
             /srv/app.js:39:24"
        );
    }

    #[test]
    fn an_anonymous_function_is_named_anonymous() {
        let mut t = tracker(true, true);
        for (_, name, _) in &mut t.heap.nodes {
            if name == "makeTracker" {
                *name = "(shared function info)".to_string();
            }
        }
        assert_eq!(
            holder_of(&t).description,
            "seen (Map), a variable of (anonymous) at /srv/app.js:37:21"
        );
    }

    #[test]
    fn the_closure_inside_a_scope_that_locates_it_is_one_created_in_it_then_the_first() {
        let mut t = tracker(false, false);
        // After `track` in the snapshot and on no path to the Map, but before it in the
        // source, and created directly in the scope.
        let code = t.heap.node("code", "report");
        t.heap
            .edge(code, "internal", "script_or_debug_info", t.script);
        let report = t.heap.closure(code, t.scope, 37, 10);
        t.heap.edge(t.global, "property", "report", report);
        // Earlier still, but created in a block inside the scope.
        let block = t.heap.node("object", "system / Context");
        t.heap.edge(block, "internal", "previous", t.scope);
        let code = t.heap.node("code", "each");
        t.heap
            .edge(code, "internal", "script_or_debug_info", t.script);
        let each = t.heap.closure(code, block, 37, 3);
        t.heap.edge(t.global, "property", "each", each);
        // A closure of another function of the module: not inside the scope.
        let code = t.heap.node("code", "onSignal");
        t.heap
            .edge(code, "internal", "script_or_debug_info", t.script);
        let signal = t.heap.closure(code, t.module, 1, 0);
        t.heap.edge(t.global, "property", "onSignal", signal);
        let h = holder_of(&t);
        assert_eq!(
            h.description,
            "seen (Map), a variable of a scope enclosing report at /srv/app.js:38:11"
        );
        // A variable of the module names none of them.
        t.heap.edge(t.module, "context", "cache", t.map);
        t.heap.nodes[t.scope].2.retain(|e| e.1 != "seen");
        let h = holder_of(&t);
        assert_eq!(
            (h.closure, h.line, h.description.as_str()),
            (
                None,
                None,
                "cache (Map), a module-level variable of /srv/app.js"
            )
        );
    }

    #[test]
    fn script_origins() {
        assert_eq!(origin("node:internal/timers"), Origin::Internal);
        assert_eq!(origin(""), Origin::Internal);
        assert_eq!(
            origin("/srv/node_modules/express/lib/router.js"),
            Origin::Library
        );
        assert_eq!(origin("/srv/app.js"), Origin::App);
        assert_eq!(origin("file:///srv/app.mjs"), Origin::App);
    }
}
