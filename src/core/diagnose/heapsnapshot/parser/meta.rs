//! The `snapshot` section: the meta that says what each column of `nodes`, `edges` and
//! `locations` holds, and the names of the node and edge types.

use std::io::Read;

use serde_json::Value;

use crate::core::diagnose::heapsnapshot::error::{Problem, SnapshotError, SnapshotErrorKind};
use crate::core::diagnose::heapsnapshot::reader::Reader;
use crate::core::diagnose::heapsnapshot::snapshot::{EdgeKind, NodeKind, Snapshot};

/// The meta section may not be larger than this.
const MAX_META_BYTES: usize = 1 << 20;

/// What a column of `node_fields` / `edge_fields` is used for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Type,
    Name,
    Id,
    SelfSize,
    EdgeCount,
    ToNode,
    Ignored,
}

/// What the meta says the other sections hold.
pub(super) struct Meta {
    pub(super) node_fields: Vec<Field>,
    pub(super) edge_fields: Vec<Field>,
    /// Position of each of `object_index`, `script_id`, `line`, `column` in `location_fields`.
    pub(super) location_fields: Option<([usize; 4], usize)>,
    pub(super) node_count_hint: u64,
    pub(super) edge_count_hint: u64,
}

/// Reads the `snapshot` section into `snap`'s type names, and the meta the other sections need.
pub(super) fn parse_meta<R: Read>(
    r: &mut Reader<'_, R>,
    snap: &mut Snapshot,
) -> Result<Meta, SnapshotError> {
    let start = r.offset();
    let raw = r.capture_value(MAX_META_BYTES, "the snapshot section")?;
    let value: Value = serde_json::from_slice(&raw).map_err(|e| {
        SnapshotError::new(
            SnapshotErrorKind::Malformed,
            start,
            format!("the snapshot section is not valid JSON: {e}"),
        )
    })?;
    read_meta(&value, snap).map_err(|p| p.at(start))
}

/// The meta of the `snapshot` section's `value`; the type names go to `snap`.
fn read_meta(value: &Value, snap: &mut Snapshot) -> Result<Meta, Problem> {
    let meta = value
        .get("meta")
        .ok_or_else(|| Problem::malformed("snapshot.meta is missing"))?;
    let node_names = field_names(meta, "node_fields")?;
    let edge_names = field_names(meta, "edge_fields")?;
    let node_fields = roles(
        &node_names,
        &[
            ("type", Field::Type),
            ("name", Field::Name),
            ("id", Field::Id),
            ("self_size", Field::SelfSize),
            ("edge_count", Field::EdgeCount),
        ],
        "node_fields",
    )?;
    let edge_fields = roles(
        &edge_names,
        &[
            ("type", Field::Type),
            ("name_or_index", Field::Name),
            ("to_node", Field::ToNode),
        ],
        "edge_fields",
    )?;
    let node_types = type_names(meta, "node_types", &node_names)?;
    let edge_types = type_names(meta, "edge_types", &edge_names)?;
    if node_types.len() > 256 || edge_types.len() > 256 {
        return Err(Problem::unsupported("more than 256 node or edge types"));
    }
    snap.node_type_names = node_types.iter().map(|s| s.to_string()).collect();
    snap.node_kinds = node_types.iter().map(|s| NodeKind::from_name(s)).collect();
    snap.edge_kinds = edge_types.iter().map(|s| EdgeKind::from_name(s)).collect();
    let hint = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
    Ok(Meta {
        node_fields,
        edge_fields,
        location_fields: location_fields(meta)?,
        node_count_hint: hint("node_count"),
        edge_count_hint: hint("edge_count"),
    })
}

/// The names `meta.key` lists.
fn field_names<'a>(meta: &'a Value, key: &str) -> Result<Vec<&'a str>, Problem> {
    meta.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| Problem::malformed(format!("snapshot.meta.{key} is not an array")))?
        .iter()
        .map(|v| {
            v.as_str().ok_or_else(|| {
                Problem::malformed(format!("snapshot.meta.{key} holds a non-string"))
            })
        })
        .collect()
}

/// The type names `meta.key` gives the `type` field of records of `fields`.
fn type_names<'a>(meta: &'a Value, key: &str, fields: &[&str]) -> Result<Vec<&'a str>, Problem> {
    let at = fields.iter().position(|f| *f == "type").unwrap_or(0);
    meta.get(key)
        .and_then(|t| t.get(at))
        .and_then(Value::as_array)
        .and_then(|list| list.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
        .ok_or_else(|| {
            Problem::malformed(format!("snapshot.meta.{key}[{at}] is not a list of names"))
        })
}

/// Where `object_index`, `script_id`, `line` and `column` are in a location record, and its
/// width; `None` when the meta has no `location_fields` or they lack one of those.
fn location_fields(meta: &Value) -> Result<Option<([usize; 4], usize)>, Problem> {
    if meta.get("location_fields").is_none() {
        return Ok(None);
    }
    let names = field_names(meta, "location_fields")?;
    let find = |n: &str| names.iter().position(|f| *f == n);
    Ok(
        match (
            find("object_index"),
            find("script_id"),
            find("line"),
            find("column"),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => Some(([a, b, c, d], names.len())),
            _ => None,
        },
    )
}

/// Maps each field name to its role; every required name must appear exactly once.
fn roles(names: &[&str], required: &[(&str, Field)], key: &str) -> Result<Vec<Field>, Problem> {
    for (name, _) in required {
        match names.iter().filter(|n| *n == name).count() {
            1 => {}
            0 => {
                return Err(Problem::unsupported(format!(
                    "snapshot.meta.{key} has no \"{name}\""
                )))
            }
            _ => {
                return Err(Problem::malformed(format!(
                    "snapshot.meta.{key} has \"{name}\" twice"
                )))
            }
        }
    }
    Ok(names
        .iter()
        .map(|n| {
            required
                .iter()
                .find(|(r, _)| r == n)
                .map_or(Field::Ignored, |(_, f)| *f)
        })
        .collect())
}
