//! Heap snapshot analysis: a streaming parser for V8's `.heapsnapshot` format, the graph
//! algorithms (dominators, retained sizes, distances), per-class summaries, diffs of two or
//! three snapshots by node id or by retainer path, readable retainer paths, and the native
//! memory that objects retain.

pub mod analysis;
pub mod diff;
pub mod dominators;
pub mod error;
pub mod graph;
pub mod holder;
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
