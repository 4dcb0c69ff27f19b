//! Pure-Rust core: no napi types, covered by `cargo test`.

pub mod detector;
pub mod heapsnapshot;
pub mod sysmem;
#[cfg(test)]
mod test_rng;
pub mod trend;
pub mod watcher;
