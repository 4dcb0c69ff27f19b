//! Parser tests on small handmade snapshots, valid and broken in every way we could think of.

use super::*;

const META: &str = r#"{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"],"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]},"node_count":5,"edge_count":6}"#;

const NODES: &str =
    "[9,0,1,0,2,0,0\n,9,1,3,0,1,0,0\n,3,2,5,10,2,0,0\n,3,2,7,20,0,0,0\n,5,6,9,30,1,0,0]";
const EDGES: &str = "[1,1,7\n,5,5,14\n,1,1,28\n,2,3,21\n,2,4,28\n,6,3,21]";
const STRINGS: &str = r#"["","(GC roots)","Object","a","b","global","f"]"#;

fn snapshot_with(meta: &str, nodes: &str, edges: &str, strings: &str) -> String {
    format!(
        "{{\"snapshot\":{meta},\n\"nodes\":{nodes},\n\"edges\":{edges},\n\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],\"locations\":[28,3,10,2],\n\"strings\":{strings}}}\n"
    )
}

fn valid() -> String {
    snapshot_with(META, NODES, EDGES, STRINGS)
}

fn parse_str(s: &str) -> Result<Snapshot> {
    parse(s.as_bytes(), Some(s.len() as u64), None)
}

fn sizes(s: &Snapshot) -> Vec<u64> {
    (0..s.node_count()).map(|n| s.self_size(n)).collect()
}

fn error(s: &str) -> SnapshotError {
    parse_str(s).expect_err("must not parse")
}

#[test]
fn parses_a_small_snapshot() {
    let s = parse_str(&valid()).unwrap();
    assert_eq!((s.node_count(), s.edge_count()), (5, 6));
    assert_eq!(s.node_id, vec![1, 3, 5, 7, 9]);
    assert_eq!(sizes(&s), vec![0, 0, 10, 20, 30]);
    assert_eq!(s.first_edge, vec![0, 2, 3, 5, 5, 6]);
    assert_eq!(s.edge_to, vec![1, 2, 4, 3, 4, 3]);
    assert_eq!(s.class_name(2), "Object");
    assert_eq!(s.class_name(4), "(closure)");
    assert_eq!(s.class_name(0), "(synthetic)");
    assert_eq!(s.edge_name_str(1), Some("global"));
    assert_eq!(s.edge_name_str(0), None);
    assert_eq!(
        s.location(4),
        Some(Location {
            node: 4,
            script_id: 3,
            line: 10,
            column: 2
        })
    );
    assert_eq!(s.total_size(), 60);
}

#[test]
fn field_order_comes_from_meta() {
    // Same snapshot with node fields reversed and no trace_node_id/detachedness.
    let meta = META.replace(
        r#""node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"]"#,
        r#""node_fields":["edge_count","self_size","id","name","type"]"#,
    );
    let types = r#"["hidden","array","string","object","code","closure","regexp","number","native","synthetic","concatenated string","sliced string","symbol","bigint","object shape"]"#;
    let meta = meta.replace(
        &format!(r#""node_types":[{types},"string","number","number","number","number","number"]"#),
        &format!(r#""node_types":["number","number","number","string",{types}]"#),
    );
    let nodes = "[2,0,1,0,9, 1,0,3,1,9, 2,10,5,2,3, 0,20,7,2,3, 1,30,9,6,5]";
    let edges = EDGES
        .replace(",7\n", ",5\n")
        .replace(",14\n", ",10\n")
        .replace(",28\n", ",20\n")
        .replace(",21\n", ",15\n")
        .replace(",21]", ",15]");
    let s = snapshot_with(&meta, nodes, &edges, STRINGS).replace("[28,3,10,2]", "[20,3,10,2]");
    let s = parse_str(&s).unwrap();
    assert_eq!(s.node_id, vec![1, 3, 5, 7, 9]);
    assert_eq!(sizes(&s), vec![0, 0, 10, 20, 30]);
    assert_eq!(s.edge_to, vec![1, 2, 4, 3, 4, 3]);
    assert_eq!(s.location(4).map(|l| l.line), Some(10));
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let text = valid();
    let full = text.trim_end();
    for cut in 0..full.len() {
        let e = parse_str(&full[..cut]).expect_err("a prefix must not parse");
        assert_eq!(e.kind, SnapshotErrorKind::Truncated, "cut at {cut}: {e}");
        assert!(e.offset <= cut as i64, "cut at {cut}: {e}");
    }
    assert!(parse_str(full).is_ok());
}

#[test]
fn every_single_byte_mutation_parses_or_errors() {
    let text = valid().into_bytes();
    for i in 0..text.len() {
        for b in [b'0', b'9', b'[', b']', b'{', b'"', b',', b'-', b'\\', 0xff] {
            let mut m = text.clone();
            m[i] = b;
            let _ = parse(m.as_slice(), Some(m.len() as u64), None);
        }
    }
}

#[test]
fn wrong_field_counts() {
    let partial_node = NODES.replace("5,6,9,30,1,0,0]", "5,6,9,30,1,0]");
    let e = error(&snapshot_with(META, &partial_node, EDGES, STRINGS));
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    assert!(e.message.contains("partial node"), "{e}");

    let extra_edge = EDGES.replace("6,3,21]", "6,3,21,2,3,21]");
    let e = error(&snapshot_with(META, NODES, &extra_edge, STRINGS));
    assert!(e.message.contains("more than the 6 edges"), "{e}");

    let missing_edge = EDGES.replace(",6,3,21]", "]");
    let e = error(&snapshot_with(META, NODES, &missing_edge, STRINGS));
    assert!(e.message.contains("holds 5 edges"), "{e}");

    let partial_edge = EDGES.replace("6,3,21]", "6,3]");
    let e = error(&snapshot_with(META, NODES, &partial_edge, STRINGS));
    assert!(e.message.contains("partial"), "{e}");
}

#[test]
fn edges_pointing_past_the_end_or_between_nodes() {
    let past = EDGES.replace("6,3,21]", "6,3,35]");
    let text = snapshot_with(META, NODES, &past, STRINGS);
    let e = error(&text);
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    assert_eq!(e.offset as usize, text.find(",35]").unwrap() + 1);
    let between = EDGES.replace("6,3,21]", "6,3,22]");
    assert!(error(&snapshot_with(META, NODES, &between, STRINGS))
        .message
        .contains("not the index of a node"));
}

#[test]
fn wrong_types() {
    let cases = [
        snapshot_with(META, &NODES.replace("[9,0,1", "[\"9\",0,1"), EDGES, STRINGS),
        snapshot_with(META, &NODES.replace("[9,0,1", "[99,0,1"), EDGES, STRINGS),
        snapshot_with(META, &NODES.replace("[9,0,1", "[9.5,0,1"), EDGES, STRINGS),
        snapshot_with(META, &NODES.replace("[9,0,1", "[-9,0,1"), EDGES, STRINGS),
        snapshot_with(META, NODES, &EDGES.replace("[1,1,7", "[7,1,7"), STRINGS),
        snapshot_with(META, NODES, EDGES, r#"["",1]"#),
        snapshot_with(META, NODES, EDGES, r#"{"a":1}"#),
        snapshot_with("[]", NODES, EDGES, STRINGS),
        snapshot_with(r#"{"meta":{"node_fields":"type"}}"#, NODES, EDGES, STRINGS),
        snapshot_with(&META.replace("[[\"hidden\"", "[[1"), NODES, EDGES, STRINGS),
        valid()
            .replace("\"nodes\":[", "\"nodes\":{")
            .replace("0,0]", "0,0}"),
    ];
    for (i, text) in cases.iter().enumerate() {
        let e = error(text);
        assert_eq!(e.kind, SnapshotErrorKind::Malformed, "case {i}: {e}");
    }
}

#[test]
fn string_indexes_must_exist() {
    let e = error(&snapshot_with(
        META,
        NODES,
        EDGES,
        r#"["","(GC roots)","Object"]"#,
    ));
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    assert!(e.message.contains("names string"), "{e}");
}

#[test]
fn missing_meta_fields_are_unsupported() {
    let meta = META.replace("\"self_size\",", "");
    let e = error(&snapshot_with(&meta, NODES, EDGES, STRINGS));
    assert_eq!(e.kind, SnapshotErrorKind::Unsupported);
    let meta = META.replace("\"to_node\"", "\"target\"");
    assert_eq!(
        error(&snapshot_with(&meta, NODES, EDGES, STRINGS)).kind,
        SnapshotErrorKind::Unsupported
    );
}

#[test]
fn huge_numbers_and_huge_claims() {
    let e = error(&snapshot_with(
        META,
        &NODES.replace("9,30,1", "9,99999999999999999999999,1"),
        EDGES,
        STRINGS,
    ));
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    let e = error(&snapshot_with(
        META,
        &NODES.replace("5,6,9,30", "5,6,4294967296,30"),
        EDGES,
        STRINGS,
    ));
    assert_eq!(e.kind, SnapshotErrorKind::Unsupported);
    let e = error(&snapshot_with(
        META,
        &NODES.replace("5,6,9,30,1", "5,6,9,30,4294967295"),
        EDGES,
        STRINGS,
    ));
    assert_eq!(e.kind, SnapshotErrorKind::Unsupported);
    let e = error(&snapshot_with(
        META,
        &NODES.replace("5,6,9,30,1", "5,6,9,30,4000000"),
        EDGES,
        STRINGS,
    ));
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    // A lying node_count / edge_count only sizes the first allocation, capped by the file size.
    let lying = META.replace("\"node_count\":5", "\"node_count\":1000000000000000");
    let lying = lying.replace("\"edge_count\":6", "\"edge_count\":9007199254740991");
    let s = parse_str(&snapshot_with(&lying, NODES, EDGES, STRINGS)).unwrap();
    assert!(s.node_type.capacity() < 1000 && s.edge_to.capacity() < 1000);
    // Without a known size there is no preallocation at all.
    let text = snapshot_with(&lying, NODES, EDGES, STRINGS);
    assert!(parse(text.as_bytes(), None, None).is_ok());
}

#[test]
fn deep_nesting() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = valid().replace("\"trace_tree\":[]", &format!("\"trace_tree\":{deep}"));
    let e = error(&text);
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    assert!(e.message.contains("nests deeper"), "{e}");
    let meta = META.replace(
        "\"node_count\":5",
        &format!("\"x\":{}1{}", "[".repeat(200), "]".repeat(200)),
    );
    assert_eq!(
        error(&snapshot_with(&meta, NODES, EDGES, STRINGS)).kind,
        SnapshotErrorKind::Malformed
    );
}

#[test]
fn section_order_duplicates_and_garbage() {
    let text = valid();
    let swapped = format!(
        "{{\"nodes\":{NODES},\"snapshot\":{META},\"edges\":{EDGES},\"strings\":{STRINGS}}}"
    );
    assert_eq!(error(&swapped).kind, SnapshotErrorKind::Unsupported);
    let edges_first = format!(
        "{{\"snapshot\":{META},\"edges\":{EDGES},\"nodes\":{NODES},\"strings\":{STRINGS}}}"
    );
    assert_eq!(error(&edges_first).kind, SnapshotErrorKind::Unsupported);
    let twice = text.replace("\"strings\":", &format!("\"nodes\":{NODES},\"strings\":"));
    assert!(error(&twice).message.contains("twice"));
    let no_strings = format!("{{\"snapshot\":{META},\"nodes\":{NODES},\"edges\":{EDGES}}}");
    assert!(error(&no_strings).message.contains("strings is missing"));
    let e = error(&format!("{} x", text.trim_end()));
    assert_eq!(e.kind, SnapshotErrorKind::Malformed);
    assert_eq!(error("").kind, SnapshotErrorKind::Truncated);
    assert_eq!(error("{}").kind, SnapshotErrorKind::Malformed);
    assert_eq!(error("[1,2]").kind, SnapshotErrorKind::Malformed);
    assert_eq!(error("\u{feff}{}").kind, SnapshotErrorKind::Malformed);
    let no_nodes = snapshot_with(META, "[]", "[]", STRINGS);
    assert!(error(&no_nodes).message.contains("no nodes"));
    let bad_location = text.replace("[28,3,10,2]", "[29,3,10,2]");
    assert!(error(&bad_location).message.contains("location"));
}

#[test]
fn sizes_past_32_bits() {
    let nodes = NODES
        .replace("3,2,5,10,2", "3,2,5,4294967295,2")
        .replace("5,6,9,30,1", "5,6,9,9007199254740991,1");
    let s = parse_str(&snapshot_with(META, &nodes, EDGES, STRINGS)).unwrap();
    assert_eq!(sizes(&s), vec![0, 0, 4294967295, 20, 9007199254740991]);
    assert_eq!(s.total_size(), 4294967295 + 20 + 9007199254740991);
}
