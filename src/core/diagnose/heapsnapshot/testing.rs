//! Small snapshots written out as V8 would, for the tests.

use super::parser::parse;
use super::snapshot::Snapshot;

/// One node for [`snapshot_of`]: (type, name, self size, edges as (type, name or index,
/// target node)). Types index `hidden, array, string, object, code, closure, regexp, number,
/// native, synthetic`; edge types `context, element, property, internal, hidden, shortcut,
/// weak`; names index the strings.
pub type Node = (u32, u32, u32, Vec<(u32, u32, usize)>);

/// The snapshot of `nodes`, node `v` with id `id_of(v)`.
pub fn snapshot_of(nodes: &[Node], id_of: impl Fn(usize) -> u32, strings: &[&str]) -> Snapshot {
    let mut node_fields = Vec::new();
    let mut edge_fields = Vec::new();
    for (v, (kind, name, size, edges)) in nodes.iter().enumerate() {
        node_fields.extend([*kind, *name, id_of(v), *size, edges.len() as u32]);
        for &(kind, name, to) in edges {
            edge_fields.extend([kind, name, to as u32 * 5]);
        }
    }
    let json = format!(
        r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count"],"node_types":[["hidden","array","string","object","code","closure","regexp","number","native","synthetic"]],"edge_fields":["type","name_or_index","to_node"],"edge_types":[["context","element","property","internal","hidden","shortcut","weak"]]}}}},
"nodes":{node_fields:?},"edges":{edge_fields:?},"strings":{strings:?}}}"#
    );
    parse(json.as_bytes(), None, None).unwrap()
}
