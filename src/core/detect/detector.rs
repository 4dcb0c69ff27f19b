//! Leak detection over memory floors: one [`Series`] per kind of memory, each a sliding
//! window of floors (when each was taken, and its bytes) judged with a robust slope and a
//! significance test.
//!
//! A leak is reported when, once a warm-up is over, the floors of one kind rise
//! - significantly (Mann–Kendall, one-sided, at the configured confidence),
//! - fast enough (Theil–Sen slope above a minimum rate),
//! - far enough (slope times the window's span above a minimum growth, and above twice
//!   the spread of the floors around the fitted line, so that noise alone cannot pass),
//! - for long enough (the window spans a minimum duration),
//! - and still now (the newest half of the window, counting only floors after the warm-up,
//!   rises at a good part of the whole window's rate), which tells a leak from start-up
//!   growth and from a cache that warmed up and levelled off;
//! - steadily (no third of the window flat beside the others: a step after lazy loading
//!   is not a leak);
//! - all of it in the windows ending at the newest three floors: a window slid one floor
//!   at a time tests the same noise over and over, and a chance alignment rarely survives
//!   three slides.
//!
//! A leak that would reach its limit (the heap's limit, or the container's memory limit for
//! RSS) within [`URGENT_HORIZON_MS`], or within [`FAST_HORIZON_MS`], is also judged on
//! fewer, larger steps, so that it is reported while there is time to act, and for such
//! growth the warm-up ends once the service serves at a level rate: see `step_rule`.
//!
//! Leaks too slow to grow the minimum growth within that window are judged on longer time
//! scales: the floors decimated into buckets of a floor of floors ([`super::scales`]), by
//! the same tests with the minimum growth judged over the scale's window, and three more:
//! the rise does not slow down (a cache as it fills), it is real growth rather than a slope
//! extrapolated over flat floors, and it came without a rise in load.
//!
//! It is reported again only when it gets worse: a clearly steeper slope, or as much
//! growth again as had been seen when it was last reported.
//!
//! The parts, in the order they depend on each other:
//! - `types`: what the detector is given and tells ([`DetectorConfig`], [`Leak`], ...);
//! - `full_rule`: the tests a window of floors must pass to be a leak;
//! - `step_rule`: the tests on fewer, larger steps for a leak that nears its limit;
//! - `series`: a [`Series`] keeps the floors and judges them by both, on every time scale.

mod full_rule;
mod series;
mod step_rule;
mod types;

pub use full_rule::floors_to_judge;
pub(crate) use full_rule::NOISE_MARGIN;
pub use series::Series;
pub use types::{
    Assessment, DetectorConfig, Leak, LeakTest, Limits, MemoryKind, Suspicion, Trend,
    FAST_HORIZON_MS, URGENT_HORIZON_MS,
};

#[cfg(test)]
mod big_heap_tests;
#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod forced_floors;
#[cfg(test)]
mod quiet_tests;
#[cfg(test)]
mod slow_leak_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod urgent_tests;
