//! The detector's constants and rules that the JS side needs too, exported so that it reads
//! them instead of defining them a second time (`core::detect::detector` owns them).

use napi_derive::napi;

use crate::core::detect::detector;

/// A leak is urgent when, at its rate, the nearest limit (the heap's, or the container's
/// through RSS) is this close, in milliseconds: 15 minutes. The default of the restart
/// policy's `limitWithinMs` (lib/mitigate/restart-options.js).
#[napi]
pub const URGENT_HORIZON_MS: f64 = detector::URGENT_HORIZON_MS;

/// How many floors, taken every `intervalMs`, a window needs before the detector can judge
/// it: `minPoints` (3 at least), spanning `minDurationMs`. lib/detect/forced-gc.js sizes its
/// run of GCs forced on suspicion by it.
#[napi]
pub fn floors_to_judge(min_points: u32, min_duration_ms: f64, interval_ms: f64) -> u32 {
    let floors = detector::floors_to_judge(min_points as usize, min_duration_ms, interval_ms);
    u32::try_from(floors).unwrap_or(u32::MAX)
}
