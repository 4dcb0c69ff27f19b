//! `judgeLeakRounds()`: the verdict of a leak test's rounds (`crate::core::leak_test::rounds`), for
//! `lib/leak-test/index.js`.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::core::leak_test::rounds::{judge_rounds, RoundsVerdict};

/// What a leak test's rounds show for one kind of memory.
#[napi(object, js_name = "RoundsVerdict")]
pub struct JsRoundsVerdict {
    /// Bytes retained per call (Theil–Sen slope of the floors).
    pub bytes_per_call: f64,
    /// The same over the newest half of the rounds.
    pub recent_bytes_per_call: f64,
    /// 1 − p of the one-sided Mann–Kendall test for an upward trend.
    pub confidence: f64,
    /// The floors' spread around the fitted line, in bytes.
    pub noise_bytes: f64,
    /// Bytes per call times the calls between the first and the last floor.
    pub growth_bytes: f64,
    /// Whether every test of a leak passed.
    pub leaking: bool,
}

impl From<RoundsVerdict> for JsRoundsVerdict {
    fn from(v: RoundsVerdict) -> Self {
        JsRoundsVerdict {
            bytes_per_call: v.bytes_per_call,
            recent_bytes_per_call: v.recent_bytes_per_call,
            confidence: v.confidence,
            noise_bytes: v.noise_bytes,
            growth_bytes: v.growth_bytes,
            leaking: v.leaking,
        }
    }
}

/// Judges floors taken after each round: `calls[i]` calls made when `bytes[i]` was read.
/// Null with fewer than six rounds or a single call count. Throws on arrays of different
/// lengths or values that are not finite.
#[napi]
pub fn judge_leak_rounds(
    calls: Vec<f64>,
    bytes: Vec<f64>,
    min_bytes_per_call: f64,
    min_confidence: f64,
) -> Result<Option<JsRoundsVerdict>> {
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
    Ok(judge_rounds(&floors, min_bytes_per_call, min_confidence).map(Into::into))
}
