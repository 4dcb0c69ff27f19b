//! Diffs of hand-built snapshots: by id and by path, three snapshots, grown collections with
//! their members and native memory, and what is left out as not worth reading.

use super::findings::{worth_reading_collections, worth_reading_suspects};
use super::result::thousands;
use super::*;
use crate::core::diagnose::heapsnapshot::code_index::CodeIndex;
use crate::core::diagnose::heapsnapshot::holder::CodeHolder;
use crate::core::diagnose::heapsnapshot::parser::parse;
use crate::core::diagnose::heapsnapshot::pathkey::PathKeys;
use crate::core::diagnose::heapsnapshot::paths::RetainerTree;
use crate::core::diagnose::heapsnapshot::testing::{snapshot_of, Node};

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
    assert_eq!(err.kind, SnapshotErrorKind::IdsMismatch);
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
) -> Result<SnapshotDiff, SnapshotError> {
    let mut earlier: Vec<Earlier> = std::iter::once(first)
        .chain(middle)
        .map(|s| Earlier::of(s, matching))
        .collect();
    diff_read(&mut earlier, last, 5, matching, &mut |_| {})
}

/// Ids 1, 3, 5... from the first node (as V8 numbers a fresh heap).
fn fresh(v: usize) -> u32 {
    2 * v as u32 + 1
}

#[test]
fn the_earlier_snapshots_ids_and_path_counts_are_gone_before_the_last_is_analyzed_unless_read_after(
) {
    let first = sessions_snapshot(1, 1, fresh);
    let other = |sessions| sessions_snapshot(sessions, 4, move |v| fresh(7 + sessions - v));
    for (last, matched_by) in [
        (sessions_snapshot(3, 1, fresh), MatchedBy::Ids),
        (other(3), MatchedBy::Paths),
    ] {
        let mut earlier = vec![Earlier::of(&first, Matching::Auto)];
        let d = diff_read(&mut earlier, last, 5, Matching::Auto, &mut |_| {}).unwrap();
        assert_eq!(d.matched_by, matched_by);
        // The ids are read off the last snapshot before its analysis; path counts are read after.
        let kept = (earlier[0].ids.is_some(), earlier[0].paths.is_some());
        assert_eq!(kept, (false, matched_by == MatchedBy::Paths));
    }
}

#[test]
fn snapshots_of_two_processes_are_matched_by_path_and_refused_by_id() {
    // Another process: the same ids, handed to other objects (numbered from the end).
    let first = sessions_snapshot(1, 1, fresh);
    let other = |sessions| sessions_snapshot(sessions, 4, move |v| fresh(7 + sessions - v));
    let err = diff_of(&first, None, other(3), Matching::Ids).unwrap_err();
    assert_eq!(err.kind, SnapshotErrorKind::IdsMismatch);
    for matching in [Matching::Auto, Matching::Paths] {
        let d = diff_of(&first, None, other(3), matching).unwrap();
        assert_eq!(d.matched_by, MatchedBy::Paths);
        let grown: Vec<(&str, i64, i64)> = d
            .grown_collections
            .iter()
            .map(|g| (g.name.as_str(), g.before, g.after))
            .collect();
        assert_eq!(grown, [("Map", 1, 3)]);
        let holder = d.grown_collections[0].holder.as_ref().unwrap();
        assert_eq!(holder.name, "globalThis.cache");
        let s = &d.suspects[0];
        assert_eq!((s.name.as_str(), s.count), ("Session", 2));
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
    let by_paths = |d: &SnapshotDiff| {
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
    let suspect = |d: &SnapshotDiff| {
        let s = d.suspects[0].clone();
        let held_by = s.held_by.map(|h| (h.name, h.id));
        (s.name, s.count, s.bytes, held_by, s.holder)
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

/// `global.list`, an Array of `items` Objects of `props` properties each, and of one more
/// Object of `extra_props` properties when that is not 0.
fn objects_snapshot(items: usize, props: u32, extra_props: u32) -> Snapshot {
    let mut nodes: Vec<Node> = vec![
        (9, 0, 0, vec![(5, 1, 1)]),
        (3, 1, 10, vec![(2, 2, 2)]),
        (3, 3, 20, Vec::new()),
        (2, 5, 10, Vec::new()),
    ];
    let sizes = std::iter::repeat_n(props, items).chain((extra_props > 0).then_some(extra_props));
    for (i, size) in sizes.enumerate() {
        let object = nodes.len();
        nodes[2].3.push((1, i as u32, object));
        nodes.push((3, 4, 20, (0..size).map(|p| (2, 6 + p, 3)).collect()));
    }
    let mut strings = vec!["", "global", "list", "Array", "Object", "A1"];
    let names: Vec<String> = (0..32).map(|p| format!("p{p}")).collect();
    strings.extend(names.iter().map(String::as_str));
    snapshot_of(&nodes, fresh, &strings)
}

#[test]
fn by_path_more_small_collections_and_one_larger_are_not_growth() {
    let grown = |last: Snapshot| {
        let d = diff_of(&objects_snapshot(100, 1, 0), None, last, Matching::Paths).unwrap();
        let mut found: Vec<(String, i64, i64)> = d
            .grown_collections
            .iter()
            .map(|g| (g.name.clone(), g.before, g.after))
            .collect();
        found.sort_unstable();
        found
    };
    // 400 more one-property objects and a report of 20: the average rose by 19 entries in 421;
    // only the list grew.
    let array = ("Array".to_string(), 100, 501);
    assert_eq!(grown(objects_snapshot(500, 1, 20)), [array]);
    // The same objects, each holding three now: they grew.
    let object = |after| ("Object".to_string(), 100, after);
    assert!(grown(objects_snapshot(100, 3, 0)).contains(&object(300)));
    // More of them, and each holding more.
    assert!(grown(objects_snapshot(500, 2, 0)).contains(&object(1000)));
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
        let grown: Vec<(&str, i64, i64)> = d
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
        let kinds: Vec<(&str, i64, i64)> = feeds
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
        let gzip = d.suspects.iter().find(|s| s.name == "Gzip").unwrap();
        let held = if matching == Matching::Ids { 2 } else { 3 };
        assert_eq!(gzip.native_bytes, held * stream);
    }
}

/// (count, bytes) of the new objects of class `name`, `(0, 0)` for none.
fn new_of(d: &SnapshotDiff, name: &str) -> (i64, i64) {
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
    let gzip = d.suspects.iter().find(|s| s.name == "Gzip").unwrap();
    assert_eq!((gzip.count, gzip.native_bytes), (2, 2 * stream));
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
fn runs_of_one_step_are_written_once_with_their_length() {
    use crate::core::diagnose::heapsnapshot::paths::fold_repeats;
    let path = |steps: &[&str]| steps.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut chain = path(&["list (Queue)", "head (Node)"]);
    chain.extend(path(&["next (Node)"; 1200]));
    chain.push("value (Item) ×1".into());
    assert_eq!(
        fold_repeats(chain),
        path(&[
            "list (Queue)",
            "head (Node)",
            "next (Node) ×1,200 in a row",
            "value (Item) ×1"
        ])
    );
    let short = path(&["a", "next", "next", "b"]);
    assert_eq!(fold_repeats(short.clone()), short);
}

#[test]
fn counts_read_with_thousands_separators() {
    assert_eq!(thousands(7), "7");
    assert_eq!(thousands(21_000), "21,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
}

/// A holder: a module-level variable `name` of `file`.
fn module_variable(name: &str, file: &str) -> Option<CodeHolder> {
    Some(CodeHolder {
        name: name.into(),
        class: "Map".into(),
        kind: crate::core::diagnose::heapsnapshot::holder::HolderKind::Module,
        function: None,
        closure: None,
        file: Some(file.into()),
        line: None,
        column: None,
        description: format!("{name} (Map), a module-level variable of {file}"),
        owner: None,
    })
}

fn grown(name: &str, before: i64, after: i64, retained_size: i64, file: &str) -> GrownCollection {
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
        share: 0.0,
    }
}

#[test]
fn collections_that_grew_too_little_or_are_nodes_own_bookkeeping_are_left_out() {
    let names = |kept: Vec<GrownCollection>| kept.into_iter().map(|g| g.name).collect::<Vec<_>>();
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

fn suspect(class: &str, retained_size: i64, file: &str) -> LeakSuspect {
    LeakSuspect {
        name: class.into(),
        count: 1,
        bytes: 1,
        retained_size,
        share: 0.0,
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
    let classes = |kept: Vec<LeakSuspect>| kept.into_iter().map(|s| s.name).collect::<Vec<_>>();
    let listed = worth_reading_suspects(
        vec![
            suspect("Session", 40_000_000, "/srv/app.js"),
            suspect("Timeout", 12_000_000, "node:internal/timers"),
            suspect("AsyncResource", 1_000_000, "node:internal/async_hooks"),
            suspect("Entry", 1_000_000, "/srv/app.js"),
        ],
        50_000_000,
    );
    assert_eq!(classes(listed), ["Session", "Timeout", "Entry"]);
    let listed = worth_reading_suspects(
        vec![suspect("Closure", 9_000_000, "node:events")],
        10_000_000,
    );
    assert_eq!(classes(listed), ["Closure"]);
}

#[test]
fn suspects_that_explain_under_two_percent_of_the_growth_are_left_out() {
    // As a new user's pair of a socket leak had it: the sockets, each under its own handle,
    // retain little as a class; a package's closures (1.2% of the growth) stood first.
    let classes = |kept: Vec<LeakSuspect>| kept.into_iter().map(|s| s.name).collect::<Vec<_>>();
    let new_bytes = 11_971_302;
    let listed = worth_reading_suspects(
        vec![
            suspect(
                "(closure)",
                148_612,
                "/srv/node_modules/body-parser/lib/read.js",
            ),
            suspect("(string)", 113_425, "node:internal/modules/helpers"),
        ],
        new_bytes,
    );
    assert!(listed.is_empty());
    let listed = worth_reading_suspects(
        vec![
            suspect("Session", 6_000_000, "/srv/app.js"),
            suspect("Entry", 240_000, "/srv/app.js"),
            suspect("Tag", 230_000, "/srv/app.js"),
        ],
        new_bytes,
    );
    assert_eq!(classes(listed), ["Session", "Entry"]);
}
