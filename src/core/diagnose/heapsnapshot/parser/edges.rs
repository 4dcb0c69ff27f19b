//! The `edges` section: a flat array of integer records, each edge's target turned from an
//! index into the nodes array into a node ordinal.

use std::io::Read;

use super::meta::{Field, Meta};
use super::nodes::{to_u32, type_index};
use crate::core::diagnose::heapsnapshot::error::{Problem, SnapshotError, SnapshotErrorKind};
use crate::core::diagnose::heapsnapshot::reader::Reader;
use crate::core::diagnose::heapsnapshot::snapshot::Snapshot;

/// Reads the `edges` section into `snap`'s edge columns: as many edges as the nodes declare;
/// `hint` is how many to make room for.
pub(super) fn parse_edges<R: Read>(
    r: &mut Reader<'_, R>,
    meta: &Meta,
    snap: &mut Snapshot,
    hint: u64,
) -> Result<(), SnapshotError> {
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
    let whole = EdgeRecords {
        width,
        columns,
        stride,
        limit,
        type_count,
    };
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
        let stored = whole.store(snap, &batch[k..], expected - count);
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
            SnapshotErrorKind::Malformed,
            r.offset(),
            format!(
                "edges holds {count} edges{}, the nodes declare {expected}",
                if field != 0 { " and a partial one" } else { "" }
            ),
        ));
    }
    Ok(())
}

/// How whole edge records are laid out: `width` values each, type, name and target at
/// `columns`; targets are node indexes below `limit`, `stride` values a node.
struct EdgeRecords {
    width: usize,
    columns: [usize; 3],
    stride: NodeStride,
    limit: u64,
    type_count: u64,
}

impl EdgeRecords {
    /// Stores the whole edges at the start of `values`, at most `room`, into the columns grown
    /// for them; returns how many. An edge with a bad value ends this, to be read value by
    /// value.
    #[inline]
    fn store(&self, snap: &mut Snapshot, values: &[u64], room: usize) -> usize {
        let start = snap.edge_to.len();
        let end = start + (values.len() / self.width).min(room);
        snap.edge_type.resize(end, 0);
        snap.edge_name.resize(end, 0);
        snap.edge_to.resize(end, 0);
        let (ty, names) = (&mut snap.edge_type[start..], &mut snap.edge_name[start..]);
        let targets = &mut snap.edge_to[start..];
        let mut stored = 0;
        for record in values.chunks_exact(self.width).take(end - start) {
            let [t, name, to] = self.columns.map(|c| record[c]);
            let Some(ordinal) = self.stride.ordinal(to, self.limit) else {
                break;
            };
            if t >= self.type_count || name > u32::MAX as u64 {
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
        stored
    }
}

/// Stores one value of an edge record.
fn edge_value(
    snap: &mut Snapshot,
    field: Field,
    v: u64,
    type_count: u64,
    stride: NodeStride,
    limit: u64,
) -> Result<(), Problem> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ordinals_match_division() {
        let mut rng = crate::core::test_rng::Rng(0x0dd_5eed);
        for fields in 1..=40u32 {
            let stride = NodeStride::new(fields);
            let limit = (u32::MAX / fields * fields) as u64;
            let edges = [0, 1, fields as u64, limit - 1, limit, limit + fields as u64];
            let random = (0..2000).map(|_| rng.below(limit + 100));
            for v in edges.into_iter().chain(random) {
                let naive =
                    (v < limit && v % fields as u64 == 0).then(|| (v / fields as u64) as u32);
                assert_eq!(stride.ordinal(v, limit), naive, "{v} / {fields}");
            }
        }
    }
}
