//! Holders named in hand-built snapshots: module variables, function scopes located by their
//! closures or by closures inside them, unnamed slots, anonymous functions.

use super::*;
use crate::core::diagnose::heapsnapshot::analysis::Analysis;
use crate::core::diagnose::heapsnapshot::parser::parse;

/// root =shortcut=> global -> handler (closure at /srv/app.js:4:22, from `locations`);
/// handler -context-> its module's scope, whose variable `SLOT` holds a Map and whose parent
/// is the native context; handler -shared-> shared info -script-> the script.
const MODULE: &str = r#"{"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"]],"location_fields":["object_index","script_id","line","column"]}},
"nodes":[9,0,1,0,1, 3,1,3,10,1, 5,2,5,10,2, 3,3,7,10,2, 3,4,9,100,0, 4,5,11,10,1, 0,6,13,10,0, 4,7,15,10,0],
"edges":[5,0,5, 2,2,10, 3,8,15, 3,9,25, SLOT,20, 3,11,30, 3,12,35],
"strings":["","global","handler","system / Context","Map","system / SharedFunctionInfo","system / NativeContext","/srv/app.js","context","shared","cache","previous","script"],
"locations":[10,3,3,21]}"#;

fn holder_of_map(slot: &str) -> CodeHolder {
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

fn holder_of(t: &Tracker) -> CodeHolder {
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

/// global.mainModule (a `Module` whose `filename` is `file`, when given) -exports-> an object
/// -sessions-> a Map: a collection held only through what a CommonJS module exports.
fn exported_map(file: Option<&str>) -> (Heap, usize, usize) {
    let mut heap = Heap::default();
    let root = heap.node("synthetic", "");
    let global = heap.node("object", "global");
    heap.edge(root, "shortcut", "", global);
    let module = heap.node("object", "Module");
    heap.edge(global, "property", "mainModule", module);
    if let Some(file) = file {
        let filename = heap.node("string", file);
        heap.edge(module, "property", "filename", filename);
    }
    let exports = heap.node("object", "Object");
    heap.edge(module, "property", "exports", exports);
    let map = heap.node("object", "Map");
    heap.edge(exports, "property", "sessions", map);
    (heap, exports, map)
}

#[test]
fn what_a_module_exports_is_named_by_module_exports_and_its_file_not_by_the_loader() {
    let (heap, exports, map) = exported_map(Some("/srv/store.js"));
    let a = Analysis::new(heap.snapshot(), 0, &mut |_| {});
    let holders = name_holders(&a.snapshot, &a.tree, &a.code, &[map, exports]);
    let [Some(of_map), Some(of_exports)] = [holders[0].clone(), holders[1].clone()] else {
        panic!("holders: {holders:?}");
    };
    assert_eq!(
        (of_map.name.as_str(), of_map.kind, of_map.file.as_deref()),
        (
            "module.exports.sessions",
            HolderKind::Module,
            Some("/srv/store.js")
        )
    );
    assert_eq!(
        of_map.description,
        "module.exports.sessions (Map), exported by /srv/store.js"
    );
    assert_eq!(
        of_exports.description,
        "module.exports (Object), exported by /srv/store.js"
    );
}

#[test]
fn an_import_is_named_by_the_module_that_exports_it_not_by_the_importers_alias() {
    // tsc's `import { store } from './store'`: main.js's module scope keeps `store_1`, the
    // exports object of store.js, and reads `store_1.sessions`.
    let named = |file| {
        let holder = imported_map(file);
        (holder.name, holder.file.unwrap_or_default())
    };
    assert_eq!(
        named("/srv/store.js"),
        ("module.exports.sessions".into(), "/srv/store.js".into())
    );
    // A package's exports are the app's variable's, as the census walks them last.
    assert_eq!(
        named("/srv/node_modules/store/index.js"),
        ("store_1.sessions".into(), "/srv/main.js".into())
    );
}

/// The holder of the Map a module exports (from `file`) as `sessions`, the module's exports
/// held by variable `store_1` of /srv/main.js.
fn imported_map(file: &str) -> CodeHolder {
    let (mut heap, exports, map) = exported_map(Some(file));
    let native = heap.node("hidden", "system / NativeContext");
    let scope = heap.node("object", "system / Context");
    heap.edge(scope, "internal", "previous", native);
    heap.edge(scope, "context", "store_1", exports);
    let script = heap.node("code", "/srv/main.js");
    let code = heap.node("code", "handle");
    heap.edge(code, "internal", "script_or_debug_info", script);
    let handle = heap.closure(code, scope, 3, 0);
    heap.edge(1, "property", "handle", handle);
    let a = Analysis::new(heap.snapshot(), 0, &mut |_| {});
    name_holders(&a.snapshot, &a.tree, &a.code, &[map])
        .remove(0)
        .expect("a holder")
}

#[test]
fn an_object_called_module_without_a_file_is_a_property_as_any_other() {
    let (heap, _, map) = exported_map(None);
    let a = Analysis::new(heap.snapshot(), 0, &mut |_| {});
    let holder = name_holders(&a.snapshot, &a.tree, &a.code, &[map]).remove(0);
    assert_eq!(
        holder.expect("a holder").description,
        "globalThis.mainModule.exports.sessions (Map), a global"
    );
}

/// The holder of a Map in field `field` of an instance of class `AuditService` (a closure of
/// `file` at 0-based 4:0), the instance held by module variable `audit` of /srv/app.js.
fn field_of_instance(file: &str, field: &str) -> CodeHolder {
    let mut heap = Heap::default();
    let root = heap.node("synthetic", "");
    let global = heap.node("object", "global");
    heap.edge(root, "shortcut", "", global);
    let native = heap.node("hidden", "system / NativeContext");
    let scope = heap.node("object", "system / Context");
    heap.edge(scope, "internal", "previous", native);
    let app = heap.node("code", "/srv/app.js");
    let handle_code = heap.node("code", "handle");
    heap.edge(handle_code, "internal", "script_or_debug_info", app);
    let handle = heap.closure(handle_code, scope, 9, 0);
    heap.edge(global, "property", "handle", handle);
    let script = heap.node("code", file);
    let class_code = heap.node("code", "AuditService");
    heap.edge(class_code, "internal", "script_or_debug_info", script);
    let class = heap.closure(class_code, scope, 4, 0);
    heap.locations.last_mut().expect("the class's place")[1] = 4; // a script of its own
    let prototype = heap.node("object", "AuditService");
    heap.edge(prototype, "property", "constructor", class);
    let instance = heap.node("object", "AuditService");
    heap.edge(instance, "property", "__proto__", prototype);
    heap.edge(scope, "context", "audit", instance);
    let map = heap.node("object", "Map");
    heap.edge(instance, "property", field, map);
    let a = Analysis::new(heap.snapshot(), 0, &mut |_| {});
    name_holders(&a.snapshot, &a.tree, &a.code, &[map])
        .remove(0)
        .expect("a holder")
}

#[test]
fn a_field_of_an_instance_of_the_programs_class_names_the_class_and_where_it_is_declared() {
    let holder = field_of_instance("/srv/audit.js", "trail");
    assert_eq!(holder.name, "audit.trail");
    assert_eq!(
        holder.owner,
        Some(HolderOwner {
            class: "AuditService".into(),
            field: "trail".into(),
            file: "/srv/audit.js".into(),
            line: 5,
            column: 1,
        })
    );
    // A package's class is not where the program declares its collection.
    let packaged = field_of_instance("/srv/node_modules/audit/index.js", "trail");
    assert_eq!(
        (packaged.name.as_str(), packaged.owner),
        ("audit.trail", None)
    );
    // A private field is one; a symbol's key is none the census steps to.
    let private = field_of_instance("/srv/audit.js", "#trail").owner;
    assert_eq!(private.map(|o| o.field).as_deref(), Some("#trail"));
    assert_eq!(
        field_of_instance("/srv/audit.js", "<symbol trail>").owner,
        None
    );
}

#[test]
fn a_collection_a_variable_holds_itself_has_no_owner() {
    assert_eq!(holder_of_map("0,10").owner, None);
}

/// `global.get`, a closure (/srv/store.ts:2:400) created in the scope of a function whose
/// variable `responses` holds a Map, called at once inside a CommonJS module's wrapper that
/// holds `wrapper_variables` (names), as tsx compiles a module: the function's scope info lists
/// its variables' names, then `function` (its name, `""` for an anonymous one). No code of the
/// function is left, as after it ran.
fn module_function(function: &str, wrapper_variables: &[&str]) -> CodeHolder {
    let mut heap = Heap::default();
    let root = heap.node("synthetic", "");
    let global = heap.node("object", "global");
    heap.edge(root, "shortcut", "", global);
    let native = heap.node("hidden", "system / NativeContext");
    let script = heap.node("code", "/srv/store.ts");
    let wrapper = heap.node("object", "system / Context");
    heap.edge(wrapper, "internal", "previous", native);
    for &name in wrapper_variables {
        let value = heap.node("object", "Object");
        heap.edge(wrapper, "context", name, value);
    }
    let scope = heap.node("object", "system / Context");
    let info = heap.node("code", "system / ScopeInfo");
    for name in ["responses", function] {
        let text = heap.node("string", name);
        heap.edge(info, "hidden", "", text);
    }
    let map = heap.node("object", "Map");
    heap.edge(scope, "context", "responses", map);
    heap.edge(scope, "internal", "scope_info", info);
    heap.edge(scope, "internal", "previous", wrapper);
    let code = heap.node("code", "get");
    heap.edge(code, "internal", "script_or_debug_info", script);
    let get = heap.closure(code, scope, 1, 399);
    heap.edge(global, "property", "get", get);
    let a = Analysis::new(heap.snapshot(), 0, &mut |_| {});
    let holders = name_holders(&a.snapshot, &a.tree, &a.code, &[map]);
    holders.into_iter().next().flatten().expect("a holder")
}

#[test]
fn the_anonymous_function_a_compiler_runs_a_module_in_holds_module_variables() {
    let h = module_function("", &["require", "module"]);
    assert_eq!((h.name.as_str(), h.kind), ("responses", HolderKind::Module));
    assert_eq!(h.file.as_deref(), Some("/srv/store.ts"));
    assert_eq!(
        h.description,
        "responses (Map), a module-level variable of /srv/store.ts"
    );
}

#[test]
fn a_named_function_or_a_wrapper_with_the_module_s_own_variables_is_a_function_scope() {
    // A factory called once: its name is in its scope info.
    let h = module_function("createStore", &["require"]);
    assert_eq!(h.kind, HolderKind::Closure, "{}", h.description);
    // A callback of a module whose own variables its closures keep in the wrapper's scope.
    let h = module_function("", &["require", "server"]);
    assert_eq!(h.kind, HolderKind::Closure, "{}", h.description);
}
