//! Backing stores: the hash table of a Map or Set, the elements and properties of an object.
//! A person holds the collection, not its store: where a store is what holds new objects,
//! the growth roots and the suspects name the collection that owns it.

use crate::core::diagnose::heapsnapshot::analysis::Analysis;

/// Names of the edges from an object to its backing store: a Map's or Set's hash `table`, an
/// object's `elements` and `properties`.
const STORE_EDGES: [&str; 3] = ["table", "elements", "properties"];

/// The object a person holds for `h`: `h` itself, or, when `h` is the backing store of a
/// collection that dominates it (a Map's `table` that was not reallocated since the
/// baseline, so that it, not the Map, is the nearest node that is not new), that collection.
pub(super) fn owner_of_store(last: &Analysis, h: usize) -> usize {
    let snap = &last.snapshot;
    let owner = last.idom[h] as usize;
    let is_store_of_owner = owner != h
        && !snap.is_program_node(h)
        && snap.is_program_node(owner)
        && snap.edges(owner).any(|e| {
            snap.edge_to[e] as usize == h
                && snap
                    .edge_name_str(e)
                    .is_some_and(|name| STORE_EDGES.contains(&name))
        });
    if is_store_of_owner {
        owner
    } else {
        h
    }
}
