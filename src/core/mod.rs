//! Pure-Rust core: no napi types, covered by `cargo test`.

pub mod heapsnapshot;
pub mod sysmem;
