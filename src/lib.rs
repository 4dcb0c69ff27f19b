//! leakproof: the native half of the `leakproof` npm package.
//!
//! `core` is plain Rust: its result and event types carry napi attributes only under the
//! `napi` feature, which makes them the types JavaScript receives; `binding` (that feature
//! too) holds the napi functions and classes that run the core for JavaScript.

#![warn(missing_docs)]

#[cfg(feature = "napi")]
pub mod binding;
pub mod core;
