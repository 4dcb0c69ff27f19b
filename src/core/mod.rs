//! Pure-Rust core: no napi types, covered by `cargo test`.

pub mod detector;
pub mod sysmem;
pub mod trend;
pub mod watcher;
