//! napi exports: thin wrappers over `crate::core`.

pub mod analyze;
pub mod detector;
pub mod diff;
#[cfg(target_os = "linux")]
pub mod file_lock;
#[cfg(target_os = "linux")]
pub mod fork;
pub mod inspect;
pub mod monitor;
pub mod rounds;
pub mod sysmem;
