//! Diagnosis: what a heap snapshot, or two or three of them, say leaks, in the words of the
//! code that holds it.
//!
//! - [`code_origin`]: whose code a script is (the application's, a package's, Node's,
//!   leakproof's own), by one rule shared with `lib/shared/code-origin.js` and tested on one table
//!   of cases (`code_origin_cases.json`).
//! - [`heapsnapshot`]: the streaming parser, the graph algorithms, summaries, diffs and
//!   holders.

pub mod code_origin;
pub mod heapsnapshot;
