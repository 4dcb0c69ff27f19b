//! `judgeLeakRounds()`: the verdict of a leak test's rounds (`crate::core::leak_test::rounds`), for
//! `lib/leak-test/index.js`.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core::leak_test::rounds::{judge_rounds, RoundsVerdict};

/// Judges floors taken after each round: `calls[i]` calls made when `bytes[i]` was read.
/// Null with fewer than six rounds or a single call count. Throws on arrays of different
/// lengths or values that are not finite.
#[napi]
pub fn judge_leak_rounds(
    calls: Vec<f64>,
    bytes: Vec<f64>,
    min_bytes_per_call: f64,
    min_confidence: f64,
) -> Result<Option<RoundsVerdict>> {
    if calls.len() != bytes.len() {
        return Err(Error::new(
            Status::InvalidArg,
            format!(
                "calls ({}) and bytes ({}) must have one value per round",
                calls.len(),
                bytes.len()
            ),
        ));
    }
    if !calls
        .iter()
        .chain(&bytes)
        .chain([&min_bytes_per_call, &min_confidence])
        .all(|v| v.is_finite())
    {
        return Err(Error::new(
            Status::InvalidArg,
            "every value must be a finite number".to_string(),
        ));
    }
    let floors: Vec<(f64, f64)> = calls.into_iter().zip(bytes).collect();
    Ok(judge_rounds(&floors, min_bytes_per_call, min_confidence))
}
