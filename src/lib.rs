//! leakproof: the native half of the `leakproof` npm package.
//!
//! `core` is plain Rust (no napi types) and is what `cargo test` covers;
//! `binding` is the thin napi layer that exposes it to JavaScript.

#![warn(missing_docs)]

pub mod binding;
pub mod core;
