//! The `nodes` section: a flat array of integer records, stored column by column.

use std::io::Read;

use super::meta::{Field, Meta};
use crate::core::diagnose::heapsnapshot::error::{Problem, SnapshotError, SnapshotErrorKind};
use crate::core::diagnose::heapsnapshot::reader::Reader;
use crate::core::diagnose::heapsnapshot::snapshot::Snapshot;

/// `value` as a u32, or why it does not fit (`what` it is).
pub(super) fn to_u32(value: u64, what: &str) -> Result<u32, Problem> {
    u32::try_from(value).map_err(|_| Problem::unsupported(format!("{what} {value} is past 2^32")))
}

/// A node or edge type (`what`), checked against the `type_count` types `meta` names.
#[inline(always)]
pub(super) fn type_index(value: u64, type_count: u64, what: &str) -> Result<u8, Problem> {
    if value >= type_count {
        return Err(Problem::malformed(format!(
            "{what} type {value} is not in meta"
        )));
    }
    Ok(value as u8)
}

/// Reads the `nodes` section into `snap`'s node columns; `hint` is how many nodes to make room
/// for.
pub(super) fn parse_nodes<R: Read>(
    r: &mut Reader<'_, R>,
    meta: &Meta,
    snap: &mut Snapshot,
    hint: u64,
) -> Result<(), SnapshotError> {
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
        let whole = NodeRecords {
            stride,
            columns,
            type_count,
        };
        k += whole.store(snap, &batch[k..], &mut edge_total) * stride;
        // The rest, and a record refused above (so its first bad value is named).
        while k < batch.len() {
            node_value(snap, fields[field], batch[k], type_count, &mut edge_total)
                .map_err(|p| (k, p))?;
            field = (field + 1) % stride;
            k += 1;
        }
        Ok(())
    })?;
    check_nodes_end(snap, r.offset(), stride, field)?;
    snap.first_edge.push(edge_total as u32);
    Ok(())
}

/// How whole node records are laid out: `stride` values each, type, name, id, self size and
/// edge count at `columns`, types below `type_count`.
struct NodeRecords {
    stride: usize,
    columns: [usize; 5],
    type_count: u64,
}

impl NodeRecords {
    /// Stores the whole records at the start of `values` into the columns grown for them
    /// (stores through slices, not pushes); returns how many. A record with a bad value ends
    /// this, to be read value by value.
    #[inline]
    fn store(&self, snap: &mut Snapshot, values: &[u64], edge_total: &mut u64) -> usize {
        let start = snap.node_type.len();
        let end = start + values.len() / self.stride;
        snap.node_type.resize(end, 0);
        snap.node_name.resize(end, 0);
        snap.node_id.resize(end, 0);
        snap.small_size.resize(end, 0);
        snap.first_edge.resize(end, 0);
        let (ty, names) = (&mut snap.node_type[start..], &mut snap.node_name[start..]);
        let (ids, sizes) = (&mut snap.node_id[start..], &mut snap.small_size[start..]);
        let firsts = &mut snap.first_edge[start..];
        let mut stored = 0;
        for record in values.chunks_exact(self.stride) {
            let [t, name, id, size, edges] = self.columns.map(|c| record[c]);
            let total = *edge_total + edges;
            if t >= self.type_count
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
            firsts[stored] = *edge_total as u32;
            *edge_total = total;
            stored += 1;
        }
        snap.node_type.truncate(start + stored);
        snap.node_name.truncate(start + stored);
        snap.node_id.truncate(start + stored);
        snap.small_size.truncate(start + stored);
        snap.first_edge.truncate(start + stored);
        stored
    }
}

/// Checks the nodes once read (`offset`: the end of the section): whole records of `stride`
/// values (`field`: where the last one stopped), at least one, and few enough to index.
fn check_nodes_end(
    snap: &Snapshot,
    offset: u64,
    stride: usize,
    field: usize,
) -> Result<(), SnapshotError> {
    if field != 0 {
        return Err(SnapshotError::new(
            SnapshotErrorKind::Malformed,
            offset,
            format!("nodes holds a partial node: its length is not a multiple of {stride} fields"),
        ));
    }
    if snap.node_type.is_empty() {
        return Err(SnapshotError::new(
            SnapshotErrorKind::Malformed,
            offset,
            "the snapshot has no nodes",
        ));
    }
    if snap.node_type.len() > u32::MAX as usize / stride {
        return Err(SnapshotError::new(
            SnapshotErrorKind::Unsupported,
            offset,
            "more than 2^32 node fields",
        ));
    }
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
) -> Result<(), Problem> {
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
