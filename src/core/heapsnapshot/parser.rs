//! Streams a `.heapsnapshot` into a `Snapshot`, validating as it goes.
//!
//! Sections are read in file order. `snapshot` (the meta) must come before `nodes`, and
//! `nodes` before `edges`, as V8 writes them; `strings` and `locations` may come anywhere after
//! the meta, and unknown sections are skipped. Arrays grow as data arrives: the counts the file
//! claims are used only as a capacity hint, capped by what the rest of the file can hold.

use std::io::Read;

use serde_json::Value;

use super::error::{ErrorKind, Problem, SnapshotError};
use super::reader::{ProgressHook, Reader};
use super::snapshot::{EdgeKind, Location, NodeKind, Snapshot};

type Result<T> = std::result::Result<T, SnapshotError>;

/// The meta section may not be larger than this.
const MAX_META_BYTES: usize = 1 << 20;

/// What a column of `node_fields` / `edge_fields` is used for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Name,
    Id,
    SelfSize,
    EdgeCount,
    ToNode,
    Ignored,
}

struct Meta {
    node_fields: Vec<Field>,
    edge_fields: Vec<Field>,
    /// Position of each of `object_index`, `script_id`, `line`, `column` in `location_fields`.
    location_fields: Option<([usize; 4], usize)>,
    node_count_hint: u64,
    edge_count_hint: u64,
}

/// Parses a snapshot from `input`. `size` (the file size, when known) caps preallocation;
/// without it nothing is preallocated. `progress` is called with the bytes read so far.
pub fn parse<'a, R: Read>(
    input: R,
    size: Option<u64>,
    progress: Option<ProgressHook<'a>>,
) -> Result<Snapshot> {
    let mut r = match progress {
        Some(p) => Reader::with_progress(input, p),
        None => Reader::new(input),
    };
    let mut snap = Snapshot::default();
    let mut meta: Option<Meta> = None;
    let (mut seen_nodes, mut seen_edges, mut seen_strings) = (false, false, false);
    if r.open(b'{', b'}', "the top-level object")? {
        return Err(SnapshotError::new(
            ErrorKind::Malformed,
            r.offset(),
            "the snapshot is an empty object",
        ));
    }
    loop {
        let key_offset = r.offset();
        let mut key = Vec::new();
        r.string_into(&mut key, "a section name")?;
        r.expect(b':', "the top-level object")?;
        let out_of_order = |what: &str| {
            SnapshotError::new(
                ErrorKind::Unsupported,
                key_offset,
                format!("section {what} comes before the sections it depends on"),
            )
        };
        let duplicate = |what: &str| {
            SnapshotError::new(
                ErrorKind::Malformed,
                key_offset,
                format!("section {what} appears twice"),
            )
        };
        match key.as_slice() {
            b"snapshot" => {
                if meta.is_some() {
                    return Err(duplicate("snapshot"));
                }
                let m = parse_meta(&mut r, &mut snap)?;
                meta = Some(m);
            }
            b"nodes" => {
                let m = meta.as_ref().ok_or_else(|| out_of_order("nodes"))?;
                if seen_nodes {
                    return Err(duplicate("nodes"));
                }
                seen_nodes = true;
                let room = remaining(size, r.offset(), m.node_fields.len());
                parse_nodes(&mut r, m, &mut snap, m.node_count_hint.min(room))?;
            }
            b"edges" => {
                let m = meta.as_ref().ok_or_else(|| out_of_order("edges"))?;
                if !seen_nodes {
                    return Err(out_of_order("edges"));
                }
                if seen_edges {
                    return Err(duplicate("edges"));
                }
                seen_edges = true;
                let room = remaining(size, r.offset(), m.edge_fields.len());
                parse_edges(&mut r, m, &mut snap, m.edge_count_hint.min(room))?;
            }
            b"strings" => {
                if seen_strings {
                    return Err(duplicate("strings"));
                }
                seen_strings = true;
                parse_strings(&mut r, &mut snap)?;
            }
            b"locations" => {
                let m = meta.as_ref().ok_or_else(|| out_of_order("locations"))?;
                match m.location_fields {
                    Some(fields) => parse_locations(&mut r, fields, &mut snap)?,
                    None => r.skip_value("locations")?,
                }
            }
            _ => r.skip_value("a skipped section")?,
        }
        if !r.comma_or(b'}', "the top-level object")? {
            break;
        }
    }
    let end = r.offset();
    if let Some(b) = r.peek_token()? {
        return Err(SnapshotError::new(
            ErrorKind::Malformed,
            end,
            format!("unexpected byte 0x{b:02x} after the snapshot"),
        ));
    }
    for (seen, what) in [
        (meta.is_some(), "snapshot"),
        (seen_nodes, "nodes"),
        (seen_edges, "edges"),
        (seen_strings, "strings"),
    ] {
        if !seen {
            return Err(SnapshotError::new(
                ErrorKind::Malformed,
                end,
                format!("section {what} is missing"),
            ));
        }
    }
    validate_names(&snap).map_err(|p| p.at(end))?;
    let stride = meta.map_or(1, |m| m.node_fields.len()) as u32;
    let node_count = snap.node_count() as u32;
    for l in &mut snap.locations {
        if l.node % stride != 0 || l.node / stride >= node_count {
            return Err(SnapshotError::new(
                ErrorKind::Malformed,
                end,
                format!("location for {} is not the index of a node", l.node),
            ));
        }
        l.node /= stride;
    }
    snap.locations.sort_unstable_by_key(|l| l.node);
    Ok(snap)
}

/// How many records of `fields` integers fit in what is left of the file (two bytes per integer
/// at least: a digit and a comma). Zero when the size is unknown: then nothing is preallocated,
/// since the counts the file claims cannot be checked against anything.
fn remaining(size: Option<u64>, offset: u64, fields: usize) -> u64 {
    match size {
        Some(size) => size.saturating_sub(offset) / (2 * fields.max(1) as u64),
        None => 0,
    }
}

fn parse_meta<R: Read>(r: &mut Reader<'_, R>, snap: &mut Snapshot) -> Result<Meta> {
    let start = r.offset();
    let raw = r.capture_value(MAX_META_BYTES, "the snapshot section")?;
    let value: Value = serde_json::from_slice(&raw).map_err(|e| {
        SnapshotError::new(
            ErrorKind::Malformed,
            start,
            format!("the snapshot section is not valid JSON: {e}"),
        )
    })?;
    read_meta(&value, snap).map_err(|p| p.at(start))
}

fn read_meta(value: &Value, snap: &mut Snapshot) -> std::result::Result<Meta, Problem> {
    let meta = value
        .get("meta")
        .ok_or_else(|| Problem::malformed("snapshot.meta is missing"))?;
    let names = |key: &str| -> std::result::Result<Vec<&str>, Problem> {
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
    };
    let node_names = names("node_fields")?;
    let edge_names = names("edge_fields")?;
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
    let type_names = |key: &str, fields: &[&str], name: &str| {
        let at = fields.iter().position(|f| *f == name).unwrap_or(0);
        meta.get(key)
            .and_then(|t| t.get(at))
            .and_then(Value::as_array)
            .and_then(|list| list.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            .ok_or_else(|| {
                Problem::malformed(format!("snapshot.meta.{key}[{at}] is not a list of names"))
            })
    };
    let node_types = type_names("node_types", &node_names, "type")?;
    let edge_types = type_names("edge_types", &edge_names, "type")?;
    if node_types.len() > 256 || edge_types.len() > 256 {
        return Err(Problem::unsupported("more than 256 node or edge types"));
    }
    snap.node_type_names = node_types.iter().map(|s| s.to_string()).collect();
    snap.node_kinds = node_types.iter().map(|s| NodeKind::from_name(s)).collect();
    snap.edge_kinds = edge_types.iter().map(|s| EdgeKind::from_name(s)).collect();
    let location_fields = match meta.get("location_fields") {
        None => None,
        Some(_) => {
            let names = names("location_fields")?;
            let find = |n: &str| names.iter().position(|f| *f == n);
            match (
                find("object_index"),
                find("script_id"),
                find("line"),
                find("column"),
            ) {
                (Some(a), Some(b), Some(c), Some(d)) => Some(([a, b, c, d], names.len())),
                _ => None,
            }
        }
    };
    let hint = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
    Ok(Meta {
        node_fields,
        edge_fields,
        location_fields,
        node_count_hint: hint("node_count"),
        edge_count_hint: hint("edge_count"),
    })
}

/// Maps each field name to its role; every required name must appear exactly once.
fn roles(
    names: &[&str],
    required: &[(&str, Field)],
    key: &str,
) -> std::result::Result<Vec<Field>, Problem> {
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

fn to_u32(value: u64, what: &str) -> std::result::Result<u32, Problem> {
    u32::try_from(value).map_err(|_| Problem::unsupported(format!("{what} {value} is past 2^32")))
}

/// A node or edge type (`what`), checked against the `type_count` types `meta` names.
#[inline(always)]
fn type_index(value: u64, type_count: u64, what: &str) -> std::result::Result<u8, Problem> {
    if value >= type_count {
        return Err(Problem::malformed(format!(
            "{what} type {value} is not in meta"
        )));
    }
    Ok(value as u8)
}

fn parse_nodes<R: Read>(
    r: &mut Reader<'_, R>,
    meta: &Meta,
    snap: &mut Snapshot,
    hint: u64,
) -> Result<()> {
    let hint = hint as usize;
    snap.node_type.reserve(hint);
    snap.node_name.reserve(hint);
    snap.node_id.reserve(hint);
    snap.small_size.reserve(hint);
    snap.first_edge.reserve(hint + 1);
    let fields = &meta.node_fields;
    let stride = fields.len();
    let at = |role| fields.iter().position(|&f| f == role).unwrap_or(0);
    let columns = [
        at(Field::Type),
        at(Field::Name),
        at(Field::Id),
        at(Field::SelfSize),
        at(Field::EdgeCount),
    ];
    let type_count = snap.node_kinds.len() as u64;
    let mut field = 0usize;
    let mut edge_total: u64 = 0;
    r.integer_array("nodes", |batch| {
        let mut k = 0;
        // Values of a record that straddles batches, one by one; whole records at once.
        while field != 0 && k < batch.len() {
            node_value(snap, fields[field], batch[k], type_count, &mut edge_total)
                .map_err(|p| (k, p))?;
            field = (field + 1) % stride;
            k += 1;
        }
        // Whole records are written into the columns grown for them (stores through slices,
        // not pushes); a record with a bad value ends this and is read below, value by value.
        let start = snap.node_type.len();
        let end = start + (batch.len() - k) / stride;
        snap.node_type.resize(end, 0);
        snap.node_name.resize(end, 0);
        snap.node_id.resize(end, 0);
        snap.small_size.resize(end, 0);
        snap.first_edge.resize(end, 0);
        let (ty, names) = (&mut snap.node_type[start..], &mut snap.node_name[start..]);
        let (ids, sizes) = (&mut snap.node_id[start..], &mut snap.small_size[start..]);
        let firsts = &mut snap.first_edge[start..];
        let mut stored = 0;
        for record in batch[k..].chunks_exact(stride) {
            let [t, name, id, size, edges] = columns.map(|c| record[c]);
            let total = edge_total + edges;
            if t >= type_count
                || name > u32::MAX as u64
                || id > u32::MAX as u64
                || size >= u32::MAX as u64
                || total > u32::MAX as u64
            {
                break;
            }
            ty[stored] = t as u8;
            names[stored] = name as u32;
            ids[stored] = id as u32;
            sizes[stored] = size as u32;
            firsts[stored] = edge_total as u32;
            edge_total = total;
            stored += 1;
        }
        snap.node_type.truncate(start + stored);
        snap.node_name.truncate(start + stored);
        snap.node_id.truncate(start + stored);
        snap.small_size.truncate(start + stored);
        snap.first_edge.truncate(start + stored);
        k += stored * stride;
        // The rest, and a record refused above (so its first bad value is named).
        while k < batch.len() {
            node_value(snap, fields[field], batch[k], type_count, &mut edge_total)
                .map_err(|p| (k, p))?;
            field = (field + 1) % stride;
            k += 1;
        }
        Ok(())
    })?;
    if field != 0 {
        return Err(SnapshotError::new(
            ErrorKind::Malformed,
            r.offset(),
            format!(
                "nodes holds a partial node: its length is not a multiple of {} fields",
                fields.len()
            ),
        ));
    }
    if snap.node_type.is_empty() {
        return Err(SnapshotError::new(
            ErrorKind::Malformed,
            r.offset(),
            "the snapshot has no nodes",
        ));
    }
    if snap.node_type.len() > u32::MAX as usize / fields.len() {
        return Err(SnapshotError::new(
            ErrorKind::Unsupported,
            r.offset(),
            "more than 2^32 node fields",
        ));
    }
    snap.first_edge.push(edge_total as u32);
    Ok(())
}

/// Stores one value of a node record.
#[inline(always)]
fn node_value(
    snap: &mut Snapshot,
    field: Field,
    v: u64,
    type_count: u64,
    edge_total: &mut u64,
) -> std::result::Result<(), Problem> {
    match field {
        Field::Type => snap.node_type.push(type_index(v, type_count, "node")?),
        Field::Name => snap.node_name.push(to_u32(v, "node name index")?),
        Field::Id => snap.node_id.push(to_u32(v, "node id")?),
        Field::SelfSize => snap.push_self_size(v),
        Field::EdgeCount => {
            snap.first_edge.push(*edge_total as u32);
            *edge_total += v;
            if *edge_total > u32::MAX as u64 {
                return Err(Problem::unsupported("more than 2^32 edges"));
            }
        }
        Field::ToNode | Field::Ignored => {}
    }
    Ok(())
}

fn parse_edges<R: Read>(
    r: &mut Reader<'_, R>,
    meta: &Meta,
    snap: &mut Snapshot,
    hint: u64,
) -> Result<()> {
    let expected = *snap.first_edge.last().unwrap_or(&0) as usize;
    let hint = (hint as usize).min(expected);
    snap.edge_type.reserve(hint);
    snap.edge_name.reserve(hint);
    snap.edge_to.reserve(hint);
    let fields = &meta.edge_fields;
    let width = fields.len();
    let at = |role| fields.iter().position(|&f| f == role).unwrap_or(0);
    let columns = [at(Field::Type), at(Field::Name), at(Field::ToNode)];
    let stride = NodeStride::new(meta.node_fields.len() as u32);
    let type_count = snap.edge_kinds.len() as u64;
    let mut field = 0usize;
    let mut count = 0usize;
    let limit = snap.node_type.len() as u64 * stride.fields as u64;
    r.integer_array("edges", |batch| {
        let mut k = 0;
        let one = |k: usize, field: &mut usize, count: &mut usize, snap: &mut Snapshot| {
            if *field == 0 {
                if *count == expected {
                    return Err((
                        k,
                        Problem::malformed(format!(
                            "edges holds more than the {expected} edges the nodes declare"
                        )),
                    ));
                }
                *count += 1;
            }
            edge_value(snap, fields[*field], batch[k], type_count, stride, limit)
                .map_err(|p| (k, p))?;
            *field = (*field + 1) % width;
            Ok(())
        };
        // Values of an edge that straddles batches, one by one; whole edges at once.
        while field != 0 && k < batch.len() {
            one(k, &mut field, &mut count, snap)?;
            k += 1;
        }
        // As for nodes: whole edges stored through slices, a bad one read below.
        let start = snap.edge_to.len();
        let end = start + ((batch.len() - k) / width).min(expected - count);
        snap.edge_type.resize(end, 0);
        snap.edge_name.resize(end, 0);
        snap.edge_to.resize(end, 0);
        let (ty, names) = (&mut snap.edge_type[start..], &mut snap.edge_name[start..]);
        let targets = &mut snap.edge_to[start..];
        let mut stored = 0;
        for record in batch[k..].chunks_exact(width).take(end - start) {
            let [t, name, to] = columns.map(|c| record[c]);
            let Some(ordinal) = stride.ordinal(to, limit) else {
                break;
            };
            if t >= type_count || name > u32::MAX as u64 {
                break;
            }
            ty[stored] = t as u8;
            names[stored] = name as u32;
            targets[stored] = ordinal;
            stored += 1;
        }
        snap.edge_type.truncate(start + stored);
        snap.edge_name.truncate(start + stored);
        snap.edge_to.truncate(start + stored);
        count += stored;
        k += stored * width;
        // The rest, and an edge refused above (so its first bad value is named).
        while k < batch.len() {
            one(k, &mut field, &mut count, snap)?;
            k += 1;
        }
        Ok(())
    })?;
    if field != 0 || count != expected {
        return Err(SnapshotError::new(
            ErrorKind::Malformed,
            r.offset(),
            format!(
                "edges holds {count} edges{}, the nodes declare {expected}",
                if field != 0 { " and a partial one" } else { "" }
            ),
        ));
    }
    Ok(())
}

/// Stores one value of an edge record.
fn edge_value(
    snap: &mut Snapshot,
    field: Field,
    v: u64,
    type_count: u64,
    stride: NodeStride,
    limit: u64,
) -> std::result::Result<(), Problem> {
    match field {
        Field::Type => snap.edge_type.push(type_index(v, type_count, "edge")?),
        Field::Name => snap.edge_name.push(to_u32(v, "edge name")?),
        Field::ToNode => match stride.ordinal(v, limit) {
            Some(ordinal) => snap.edge_to.push(ordinal),
            None => {
                return Err(Problem::malformed(format!(
                    "edge target {v} is not the index of a node (stride {}, {} nodes)",
                    stride.fields,
                    limit / stride.fields as u64
                )))
            }
        },
        _ => {}
    }
    Ok(())
}

/// Turns `to_node` values (indexes into the flat nodes array) into node ordinals with a
/// multiplication instead of a division (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019: exact for every 32-bit dividend).
#[derive(Clone, Copy)]
struct NodeStride {
    fields: u32,
    /// `2^64 / fields` rounded up; unused when `fields` is 1.
    inverse: u64,
}

impl NodeStride {
    fn new(fields: u32) -> NodeStride {
        let inverse = if fields > 1 {
            u64::MAX / fields as u64 + 1
        } else {
            0
        };
        NodeStride { fields, inverse }
    }

    /// `v / fields` if `v` is a multiple of `fields` below `limit` (at most 2^32).
    #[inline(always)]
    fn ordinal(self, v: u64, limit: u64) -> Option<u32> {
        if v >= limit {
            return None;
        }
        let q = if self.fields > 1 {
            ((self.inverse as u128 * v as u128) >> 64) as u32
        } else {
            v as u32
        };
        (q as u64 * self.fields as u64 == v).then_some(q)
    }
}

fn parse_strings<R: Read>(r: &mut Reader<'_, R>, snap: &mut Snapshot) -> Result<()> {
    if r.open(b'[', b']', "strings")? {
        return Ok(());
    }
    loop {
        r.string_into(snap.strings.buffer(), "strings")?;
        if !snap.strings.finish() {
            return Err(SnapshotError::new(
                ErrorKind::Unsupported,
                r.offset(),
                "the strings hold more than 4 GiB",
            ));
        }
        if !r.comma_or(b']', "strings")? {
            return Ok(());
        }
    }
}

fn parse_locations<R: Read>(
    r: &mut Reader<'_, R>,
    (at, width): ([usize; 4], usize),
    snap: &mut Snapshot,
) -> Result<()> {
    // A field V8 does not know is -1: the record is left out, as if the closure had none.
    let mut record = vec![None::<u32>; width];
    let mut field = 0usize;
    let locations = &mut snap.locations;
    r.signed_integer_array("locations", |v| {
        record[field] = match u64::try_from(v) {
            Ok(v) => Some(to_u32(v, "location field")?),
            Err(_) => None,
        };
        field += 1;
        if field == width {
            field = 0;
            if let [Some(node), Some(script_id), Some(line), Some(column)] = at.map(|a| record[a]) {
                locations.push(Location {
                    node,
                    script_id,
                    line,
                    column,
                });
            }
        }
        Ok(())
    })?;
    if field != 0 {
        return Err(SnapshotError::new(
            ErrorKind::Malformed,
            r.offset(),
            "locations holds a partial record",
        ));
    }
    Ok(())
}

/// Checks the references into the string table.
fn validate_names(snap: &Snapshot) -> std::result::Result<(), Problem> {
    let strings = snap.strings.len() as u32;
    if let Some(n) = snap.node_name.iter().position(|&s| s >= strings) {
        return Err(Problem::malformed(format!(
            "node {n} names string {} of {strings}",
            snap.node_name[n]
        )));
    }
    for e in 0..snap.edge_count() {
        if !snap.edge_kind(e).has_index_name() && snap.edge_name[e] >= strings {
            return Err(Problem::malformed(format!(
                "edge {e} names string {} of {strings}",
                snap.edge_name[e]
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
