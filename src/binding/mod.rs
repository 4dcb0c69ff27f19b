//! napi exports: thin wrappers over `crate::core`.

mod sysmem;
