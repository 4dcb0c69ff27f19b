//! Heap snapshot analysis: a streaming parser for V8's `.heapsnapshot` format, the graph
//! algorithms (dominators, retained sizes, distances), per-class summaries, diffs of two or
//! three snapshots by node id or by retainer path, readable retainer paths, and the native
//! memory that objects retain.
//!
//! The modules, in the order they depend on each other:
//! - reading: `integers` (the hot integer scan), `reader` (JSON tokens), `error`, `strings`,
//!   `snapshot` (the node and edge columns), `parser`;
//! - the graph: `dominators`, `graph` (the retention graph), `paths` (retainer paths in
//!   words), `collections` (what a Map, Set, Array or Object holds), `code_index` (scripts,
//!   their origin, scopes), `analysis` (a parsed snapshot with its trees);
//! - the findings: `holder` (who holds an object), `summary` (by class, largest objects),
//!   `native` (native memory retained), `pathkey` (path counts: objects counted by retainer path), `diff`,
//!   `inspect` (a class's objects, an object's dominators, for a reader going back to one file).
//!
//! `testing` builds small snapshots for the tests.

pub mod analysis;
pub mod code_index;
pub mod collections;
pub mod diff;
pub mod dominators;
pub mod error;
pub mod graph;
pub mod holder;
pub mod inspect;
pub mod integers;
pub mod native;
pub mod parser;
pub mod pathkey;
pub mod paths;
pub mod reader;
pub mod snapshot;
pub mod strings;
pub mod summary;
#[cfg(test)]
mod testing;
