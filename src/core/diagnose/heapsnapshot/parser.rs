//! Streams a `.heapsnapshot` into a `Snapshot`, validating as it goes.
//!
//! Sections are read in file order. `snapshot` (the meta) must come before `nodes`, and
//! `nodes` before `edges`, as V8 writes them; `strings` and `locations` may come anywhere after
//! the meta, and unknown sections are skipped. Arrays grow as data arrives: the counts the file
//! claims are used only as a capacity hint, capped by what the rest of the file can hold.

use std::io::Read;

use super::error::{Problem, SnapshotError, SnapshotErrorKind};
use super::reader::{ProgressHook, Reader};
use super::snapshot::{Location, Snapshot};

mod edges;
mod meta;
mod nodes;

use edges::parse_edges;
use meta::{parse_meta, Meta};
use nodes::{parse_nodes, to_u32};

type Result<T> = std::result::Result<T, SnapshotError>;

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
    let mut sections = Sections::default();
    if r.open(b'{', b'}', "the top-level object")? {
        return Err(SnapshotError::new(
            SnapshotErrorKind::Malformed,
            r.offset(),
            "the snapshot is an empty object",
        ));
    }
    loop {
        let key_offset = r.offset();
        let mut key = Vec::new();
        r.string_into(&mut key, "a section name")?;
        r.expect(b':', "the top-level object")?;
        sections.read(&key, key_offset, &mut r, &mut snap, size)?;
        if !r.comma_or(b'}', "the top-level object")? {
            break;
        }
    }
    let end = r.offset();
    if let Some(b) = r.peek_token()? {
        return Err(SnapshotError::new(
            SnapshotErrorKind::Malformed,
            end,
            format!("unexpected byte 0x{b:02x} after the snapshot"),
        ));
    }
    sections.check_all_seen(end)?;
    validate_names(&snap).map_err(|p| p.at(end))?;
    let stride = sections.meta.map_or(1, |m| m.node_fields.len()) as u32;
    index_locations(&mut snap, stride, end)?;
    Ok(snap)
}

/// The sections read so far.
#[derive(Default)]
struct Sections {
    meta: Option<Meta>,
    nodes: bool,
    edges: bool,
    strings: bool,
}

impl Sections {
    /// Reads the value of section `key` (at `key_offset`) into `snap`, in the order the module
    /// doc says.
    fn read<R: Read>(
        &mut self,
        key: &[u8],
        key_offset: u64,
        r: &mut Reader<'_, R>,
        snap: &mut Snapshot,
        size: Option<u64>,
    ) -> Result<()> {
        let out_of_order = |what: &str| {
            SnapshotError::new(
                SnapshotErrorKind::Unsupported,
                key_offset,
                format!("section {what} comes before the sections it depends on"),
            )
        };
        let duplicate = |what: &str| {
            SnapshotError::new(
                SnapshotErrorKind::Malformed,
                key_offset,
                format!("section {what} appears twice"),
            )
        };
        match key {
            b"snapshot" => {
                if self.meta.is_some() {
                    return Err(duplicate("snapshot"));
                }
                self.meta = Some(parse_meta(r, snap)?);
            }
            b"nodes" => {
                let m = self.meta.as_ref().ok_or_else(|| out_of_order("nodes"))?;
                if self.nodes {
                    return Err(duplicate("nodes"));
                }
                self.nodes = true;
                let room = remaining(size, r.offset(), m.node_fields.len());
                parse_nodes(r, m, snap, m.node_count_hint.min(room))?;
            }
            b"edges" => {
                let m = self.meta.as_ref().ok_or_else(|| out_of_order("edges"))?;
                if !self.nodes {
                    return Err(out_of_order("edges"));
                }
                if self.edges {
                    return Err(duplicate("edges"));
                }
                self.edges = true;
                let room = remaining(size, r.offset(), m.edge_fields.len());
                parse_edges(r, m, snap, m.edge_count_hint.min(room))?;
            }
            b"strings" => {
                if self.strings {
                    return Err(duplicate("strings"));
                }
                self.strings = true;
                parse_strings(r, snap)?;
            }
            b"locations" => {
                let m = self
                    .meta
                    .as_ref()
                    .ok_or_else(|| out_of_order("locations"))?;
                match m.location_fields {
                    Some(fields) => parse_locations(r, fields, snap)?,
                    None => r.skip_value("locations")?,
                }
            }
            _ => r.skip_value("a skipped section")?,
        }
        Ok(())
    }

    /// Checks that every required section was read; `end` is where the file ended.
    fn check_all_seen(&self, end: u64) -> Result<()> {
        for (seen, what) in [
            (self.meta.is_some(), "snapshot"),
            (self.nodes, "nodes"),
            (self.edges, "edges"),
            (self.strings, "strings"),
        ] {
            if !seen {
                return Err(SnapshotError::new(
                    SnapshotErrorKind::Malformed,
                    end,
                    format!("section {what} is missing"),
                ));
            }
        }
        Ok(())
    }
}

/// Turns each location's `object_index` (an index into the flat nodes array, `stride` values a
/// node) into a node ordinal, and sorts the locations by node.
fn index_locations(snap: &mut Snapshot, stride: u32, end: u64) -> Result<()> {
    let node_count = snap.node_count() as u32;
    for l in &mut snap.locations {
        if l.node % stride != 0 || l.node / stride >= node_count {
            return Err(SnapshotError::new(
                SnapshotErrorKind::Malformed,
                end,
                format!("location for {} is not the index of a node", l.node),
            ));
        }
        l.node /= stride;
    }
    snap.locations.sort_unstable_by_key(|l| l.node);
    Ok(())
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

fn parse_strings<R: Read>(r: &mut Reader<'_, R>, snap: &mut Snapshot) -> Result<()> {
    if r.open(b'[', b']', "strings")? {
        return Ok(());
    }
    loop {
        r.string_into(snap.strings.buffer(), "strings")?;
        if !snap.strings.finish() {
            return Err(SnapshotError::new(
                SnapshotErrorKind::Unsupported,
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
            SnapshotErrorKind::Malformed,
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
