//! What a collection is in a heap snapshot and what it holds: a Map, Set, Array or plain
//! Object, its entries counted as a person would (a Map's key and value once), and the most
//! common class among them. Used by the diff and by the path counts.

use std::collections::HashMap;

use crate::core::diagnose::heapsnapshot::snapshot::{EdgeKind, NodeKind, Snapshot};

/// Entries of `v` if it is a Map, Set, Array or plain Object: heap references held, with a
/// Map's key and value counted once.
pub fn collection_size(snap: &Snapshot, v: usize) -> Option<u64> {
    let mut entries = 0;
    for_each_entry(snap, v, |_| entries += 1)?;
    Some(entries)
}

/// Calls `f` with the node each entry of `v` holds, if `v` is a Map, Set, Array or plain
/// Object (see [`collection_size`]); for a Map entry whose key and value are both heap values,
/// the value.
fn for_each_entry(snap: &Snapshot, v: usize, mut f: impl FnMut(usize)) -> Option<()> {
    if snap.node_kind(v) != NodeKind::Object {
        return None;
    }
    match snap.name(v) {
        "Map" | "Set" => {
            if let Some(store) = snap.child_named(v, "table") {
                for_each_table_entry(snap, store, f);
            }
        }
        // V8 writes an array's (and an object's) elements as element edges of the object
        // itself; its `elements` store repeats them as internal edges.
        name @ ("Array" | "Object") => {
            for e in snap.edges(v) {
                let entry = match snap.edge_kind(e) {
                    EdgeKind::Element => true,
                    EdgeKind::Property => {
                        name == "Object" && snap.edge_name_str(e) != Some("__proto__")
                    }
                    _ => false,
                };
                if entry {
                    f(snap.edge_to[e] as usize);
                }
            }
        }
        _ => return None,
    }
    Some(())
}

/// Calls `f` with what each entry of the hash table `store` holds: an entry is a run of
/// consecutive slot indexes (a Map entry is key, value, chain; only heap values have edges),
/// and its last slot holds the value.
fn for_each_table_entry(snap: &Snapshot, store: usize, mut f: impl FnMut(usize)) {
    let mut slots: Vec<(u32, u32)> = snap
        .edges(store)
        .filter(|&e| snap.edge_kind(e) != EdgeKind::Weak)
        .filter_map(|e| {
            let slot = match snap.edge_name_str(e) {
                None => Some(snap.edge_name[e]),
                Some(name) => name.parse().ok(),
            };
            slot.map(|slot| (slot, snap.edge_to[e]))
        })
        .collect();
    slots.sort_unstable();
    slots.dedup_by_key(|s| s.0);
    for (i, &(slot, target)) in slots.iter().enumerate() {
        if slots.get(i + 1).is_none_or(|next| next.0 != slot + 1) {
            f(target as usize);
        }
    }
}

/// The most common class among what the entries of collection `v` hold (see
/// [`for_each_entry`]): `Gzip`, `Buffer`, `(string)`; of equal counts, the name first in
/// order. `None` if `v` is no collection or empty.
pub fn member_class(snap: &Snapshot, v: usize) -> Option<String> {
    // Count and one node of each class: objects' and native nodes' by name, the rest by type.
    let mut counts: HashMap<(u8, u32), (u64, usize)> = HashMap::new();
    for_each_entry(snap, v, |t| {
        let name = match snap.node_kind(t) {
            NodeKind::Object | NodeKind::Native => snap.node_name[t],
            _ => u32::MAX,
        };
        counts.entry((snap.node_type[t], name)).or_insert((0, t)).0 += 1;
    })?;
    counts
        .into_values()
        .map(|(count, t)| (count, snap.class_name(t)))
        .max_by(|x, y| x.0.cmp(&y.0).then_with(|| y.1.cmp(&x.1)))
        .map(|(_, name)| name.into_owned())
}
