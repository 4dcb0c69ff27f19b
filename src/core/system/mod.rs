//! The machine's side of memory: what the kernel and the C library report of this process
//! and its container. Read by the monitor thread ([`super::detect::monitor`]) and exported
//! to JS as is.

pub mod sysmem;
