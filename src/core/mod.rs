//! Pure-Rust core: no napi imports, covered by `cargo test --no-default-features`; its result and
//! event types carry napi attributes only under the `napi` feature, which makes them what crosses
//! to JS (`src/binding` runs the core for JS). One folder per part of leakproof,
//! in the order the parts depend on each other (each uses only those above it):
//!
//! - [`system`]: memory as the kernel reports it (RSS, the container's limit, `malloc`'s count).
//! - [`detect`]: leak detection over memory floors, and the monitor thread that runs it.
//! - [`leak_test`]: the verdict of a leak test (`leakproof/test`), on the detector's statistics.
//! - [`capture`]: heap snapshots written by a forked child while the service keeps serving.
//! - [`diagnose`]: what a heap snapshot says leaks: summaries, diffs, holders, code origin.
//!
//! `capture` and `diagnose` use none of the others. `test_rng` is the property tests' random
//! generator, shared by every part.

#[cfg(target_os = "linux")]
pub mod capture;
pub mod detect;
pub mod diagnose;
pub mod leak_test;
pub mod system;
#[cfg(test)]
mod test_rng;
