//! napi exports: thin wrappers over `crate::core`.

pub mod sysmem;
pub mod watcher;
