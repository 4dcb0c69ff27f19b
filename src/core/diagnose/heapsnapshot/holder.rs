//! Who holds an object, in the words of the code that does: the variable or property
//! (`cache`, `stats.requests`), the module or function it belongs to, with the file and line a
//! person opens to fix it.
//!
//! A holder is found from the object's retainers, not from its shortest path: the shortest path
//! often runs through Node's timer lists or a server's listeners before it reaches the closure
//! whose scope holds the variable. Among the references into the object, a variable of a scope
//! in the program's own files wins, then a global, then a property or element of a program
//! object, whose own holder is then looked for in turn (`stats.requests`), up to
//! [`MAX_PROPERTY_CHAIN`] levels. A scope is a module's when its parent is the native context,
//! or when it is the anonymous function's a compiler runs a module's code in inside a CommonJS
//! wrapper that holds nothing but the wrapper's parameters (tsx, webpack: `is_module_scope`).
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
//!
//! This module finds the reference that names the object and writes the holder; `scope`
//! says which function's scope a variable is of and where a person finds it.

use std::collections::HashMap;

use super::code_index::{is_native_context, is_scope, origin, CodeIndex, Origin};
use super::graph::Bits;
use super::paths::{describe_node, readable, RetainerTree};
use super::snapshot::{EdgeKind, NodeKind, Snapshot};

mod scope;

use scope::{scope_words, ScopeFunctions, VariableScope};

/// Properties followed upwards from the object before giving up on finding its variable.
pub const MAX_PROPERTY_CHAIN: usize = 4;

/// What kind of scope or object holds the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(string_enum = "lowercase"))]
pub enum HolderKind {
    /// A top-level variable of a module (or script), or what a CommonJS module exports
    /// (`module.exports.cache`).
    Module,
    /// A variable of a function's scope, kept by the closures created in it.
    Closure,
    /// A property of the global object.
    Global,
    /// A property or element of an object none of whose holders above could be named.
    Property,
    /// Many new objects of one class, each kept by a GC root of its own (a socket by its
    /// handle): no variable holds them, so the holder is their class and count (a diff names
    /// its many roots so; the census, the active handles of one class).
    Handles,
}

impl HolderKind {
    /// `"module"`, `"closure"`, `"global"`, `"property"` or `"handles"`: the name JS sees.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::Module => "module",
            HolderKind::Closure => "closure",
            HolderKind::Global => "global",
            HolderKind::Property => "property",
            HolderKind::Handles => "handles",
        }
    }
}

/// The variable or property that holds an object, named as a person would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct CodeHolder {
    /// What reaches the object in code: `'cache'`, `'stats.requests'`, `'globalThis.leaks'`;
    /// `''` when V8 gives the variable no name (the description then says whose scope holds it).
    pub name: String,
    /// The held object's class (`'Map'`), or `function NAME at FILE:LINE:COL`.
    #[cfg_attr(feature = "napi", napi(js_name = "className"))]
    pub class: String,
    /// The kind of scope or object that holds it.
    pub kind: HolderKind,
    /// For `kind: 'closure'`: the function whose scope holds the variable (`'makeTracker'`),
    /// when the snapshot still has the function (V8 frees its shared info once no closure of
    /// it is alive and no live code refers to it, as for a factory called once at startup);
    /// `'(anonymous)'` for a function without a name. Absent for the other kinds and for a
    /// block's scope.
    pub function: Option<String>,
    /// For `kind: 'closure'`: the closure that `line` and `column` locate: a closure of
    /// `function` when one is alive, else one created inside the variable's scope (one created
    /// directly in it first, then the first in the source; see the module doc). Absent for the
    /// other kinds: every function of a module keeps the module's scope alive, and a heap
    /// snapshot does not say which of them uses a variable.
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
    /// The program's class whose instances keep the object in a field, where one does: where
    /// the collection is declared, whatever path reached it.
    pub owner: Option<HolderOwner>,
}

/// A class of the program's own files whose instance holds an object in a named field
/// (`trail` of an `AuditService`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "napi", napi_derive::napi(object))]
pub struct HolderOwner {
    /// The class (`'AuditService'`).
    #[cfg_attr(feature = "napi", napi(js_name = "className"))]
    pub class: String,
    /// The field that holds the object (`'trail'`, `'#trail'`).
    pub field: String,
    /// The script of the class's constructor.
    pub file: String,
    /// 1-based line of the constructor (the class).
    pub line: u32,
    /// 1-based column of the constructor.
    pub column: u32,
}

/// True for the global object (`global` up to V8 13, `global (global*)` from V8 14 on).
pub(super) fn is_global_object(snap: &Snapshot, n: usize) -> bool {
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
) -> Vec<Option<CodeHolder>> {
    // Per target, the links found so far, the object nearest it first.
    let mut chains: Vec<Vec<Link>> = vec![Vec::new(); targets.len()];
    let mut open: Vec<usize> = (0..targets.len()).collect();
    let exported = exports_links(snap);
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
            let link = match (link.naming, exported.get(&top)) {
                (Naming::AppVariable | Naming::LibraryVariable, Some(&export)) => export,
                _ => link,
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
        _ if is_module_scope(snap, top.source) => HolderKind::Module,
        _ => HolderKind::Closure,
    }
}

/// The parameters of the function Node wraps a CommonJS module in.
const WRAPPER_PARAMETERS: [&str; 5] = ["exports", "require", "module", "__filename", "__dirname"];

/// Whether scope `ctx` holds a module's own variables: its parent is the native context (an
/// ES module's scope, a CommonJS module's wrapper's), or it is an anonymous function's whose
/// parent is a CommonJS module's wrapper holding nothing but the wrapper's parameters: the
/// function a compiler runs a module's code in, called at once (tsx's per module, webpack's
/// per bundle), as the census reads scopes (lib/diagnose/census/inspector-view.js).
fn is_module_scope(snap: &Snapshot, ctx: usize) -> bool {
    let Some(wrapper) = snap
        .child_named(ctx, "previous")
        .filter(|&p| !is_native_context(snap, p))
    else {
        return true;
    };
    snap.child_named(wrapper, "previous")
        .is_none_or(|p| is_native_context(snap, p))
        && snap
            .edges(wrapper)
            .filter(|&e| snap.edge_kind(e) == EdgeKind::Context)
            .all(|e| {
                snap.edge_name_str(e)
                    .is_some_and(|name| WRAPPER_PARAMETERS.contains(&name))
            })
        && scope_function_name(snap, ctx) == Some("")
}

/// The name of the function whose scope `ctx` is, as its scope info lists it: the last string
/// it lists, after the scope's variables' names and before the outer scope's info (V8 11 to 14);
/// `""` for an anonymous function. None where it lists no string.
fn scope_function_name(snap: &Snapshot, ctx: usize) -> Option<&str> {
    let info = snap.child_named(ctx, "scope_info")?;
    snap.edges(info)
        .filter(|&e| snap.edge_kind(e) == EdgeKind::Hidden)
        .map(|e| snap.edge_to[e] as usize)
        .rfind(|&n| snap.node_kind(n) == NodeKind::String)
        .map(|n| snap.name(n))
}

/// The holder that `chain` (links from `target` upwards) describes.
fn holder_of(
    snap: &Snapshot,
    code: &CodeIndex,
    functions: &ScopeFunctions,
    target: usize,
    chain: &[Link],
) -> Option<CodeHolder> {
    let owner = owner_of(snap, code, chain);
    if let Some((at, file)) = module_exports(snap, chain) {
        return Some(CodeHolder {
            owner,
            ..exported_holder(snap, target, &chain[..at], file)
        });
    }
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
        HolderKind::Global | HolderKind::Property | HolderKind::Handles => VariableScope::default(),
    };
    let class = describe_node(snap, target);
    let description = describe(&name, &class, kind, &scope);
    let closure = scope.closure;
    Some(CodeHolder {
        name,
        class,
        kind,
        function: scope.function,
        closure: closure.as_ref().map(|c| c.name.clone()),
        file: scope.file,
        line: closure.as_ref().map(|c| c.line),
        column: closure.as_ref().map(|c| c.column),
        description,
        owner,
    })
}

/// The class of the program's own files whose instance holds the object by a named property:
/// the first link of `chain`, when it is one.
fn owner_of(snap: &Snapshot, code: &CodeIndex, chain: &[Link]) -> Option<HolderOwner> {
    let first = chain.first()?;
    if first.naming != Naming::Member || snap.edge_kind(first.edge) != EdgeKind::Property {
        return None;
    }
    let prototype = snap.child_named(first.source, "__proto__")?;
    let constructor = snap.child_named(prototype, "constructor")?;
    if snap.node_kind(constructor) != NodeKind::Closure {
        return None;
    }
    let (file, at) = code.closure_place(snap, constructor)?;
    // A field code writes after a dot, as the census steps to one (not a symbol's key).
    let field = member(snap, first.edge);
    let identifier = is_identifier(field.strip_prefix('#').unwrap_or(&field));
    (identifier && origin(file) == Origin::App).then(|| HolderOwner {
        class: snap.class_name(first.source).into_owned(),
        field,
        file: file.to_string(),
        line: at.line.saturating_add(1),
        column: at.column.saturating_add(1),
    })
}

/// Where `chain` passes through a CommonJS module's exports: the index of the link from the
/// `Module` object's `exports` into the exports object, and the module's file. Above that
/// link the chain reaches the module through the loader's own variables (`mod` of
/// `makeRequireFunction`), which no one reading the app's code would recognise.
fn module_exports(snap: &Snapshot, chain: &[Link]) -> Option<(usize, String)> {
    chain.iter().enumerate().find_map(|(i, link)| {
        let exports = link.naming == Naming::Member
            && snap.edge_kind(link.edge) == EdgeKind::Property
            && snap.edge_name_str(link.edge) == Some("exports");
        if !exports
            || snap.node_kind(link.source) != NodeKind::Object
            || snap.name(link.source) != "Module"
        {
            return None;
        }
        let file = snap.child_named(link.source, "filename")?;
        (snap.node_kind(file) == NodeKind::String).then(|| (i, snap.name(file).to_string()))
    })
}

/// The link from each CommonJS module (a `Module` with a `filename`) into its exports object.
/// A variable holding a module's exports is an import (`const store_1 = require('./store')`,
/// as tsc, Babel and swc write `import { store }`): what is under it is named by the module that
/// declares it (`module.exports.store` of store.js), as the census names it, not by the alias
/// a compiler gave it in each importing file. Not a package's: the census walks packages'
/// exports last (lib/diagnose/census/roots.js), so the app's variable names what it holds of one.
fn exports_links(snap: &Snapshot) -> HashMap<usize, Link> {
    let mut links = HashMap::new();
    for module in 0..snap.node_count() {
        if snap.node_kind(module) != NodeKind::Object || snap.name(module) != "Module" {
            continue;
        }
        let has_file = snap.child_named(module, "filename").is_some_and(|f| {
            snap.node_kind(f) == NodeKind::String && origin(snap.name(f)) == Origin::App
        });
        let exports = snap.edges(module).find(|&e| {
            snap.edge_kind(e) == EdgeKind::Property && snap.edge_name_str(e) == Some("exports")
        });
        if let (true, Some(edge)) = (has_file, exports) {
            let link = Link {
                edge,
                source: module,
                naming: Naming::Member,
            };
            links.insert(snap.edge_to[edge] as usize, link);
        }
    }
    links
}

/// The holder of an object reached from a module's exports through `below` (the links under
/// the `exports` link): `module.exports.cache` of the module's file.
fn exported_holder(snap: &Snapshot, target: usize, below: &[Link], file: String) -> CodeHolder {
    let mut name = String::from("module.exports");
    for link in below.iter().rev() {
        name.push_str(&accessor(snap, link.edge));
    }
    let class = describe_node(snap, target);
    let description = format!("{name} ({class}), exported by {file}");
    CodeHolder {
        name,
        class,
        kind: HolderKind::Module,
        function: None,
        closure: None,
        file: Some(file),
        line: None,
        column: None,
        description,
        owner: None,
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
        (HolderKind::Handles, _) => format!("{name} ({class})"),
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
    if is_identifier(&name) {
        format!(".{name}")
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        format!("[{name}]")
    } else {
        format!("[{name:?}]")
    }
}

/// Whether `name` is an identifier, which code writes after a dot.
fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests;
