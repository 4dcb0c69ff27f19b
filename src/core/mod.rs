//! Pure-Rust core: no napi types, covered by `cargo test`.

pub mod detector;
#[cfg(target_os = "linux")]
pub mod fork;
pub mod heapsnapshot;
pub mod rounds;
pub mod scales;
pub mod sysmem;
#[cfg(test)]
mod test_rng;
pub mod trend;
pub mod watcher;
