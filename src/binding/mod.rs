//! napi exports: thin wrappers over `crate::core`.

pub mod analyze;
pub mod sysmem;
pub mod watcher;
