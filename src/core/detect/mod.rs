//! Leak detection: is memory growing, and is it a leak?
//!
//! - [`trend`]: the robust statistics (Theil–Sen slope, Mann–Kendall test, spreads).
//! - [`scales`]: floors decimated onto longer time scales, and the rules slow leaks must pass.
//! - [`detector`]: one [`detector::Series`] per kind of memory, judging its floors on every scale.
//! - [`monitor`]: the background thread that owns the three series, reads RSS and the
//!   container's memory, and sends leaks out.
//! - [`threshold`]: when a reading crossing a share of its limit raises an event.
//!
//! Dependency order: `trend` ← `scales` ← `detector` ← `monitor` (which also reads
//! [`super::system`]).

pub mod detector;
pub mod monitor;
pub mod scales;
pub mod threshold;
pub mod trend;
