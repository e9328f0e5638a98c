//! The server's C API: its types (`sys`), the function table filled at load (`api`), and the
//! allocator that serves Rust's allocations from it (`alloc`). The lowest layer: it imports
//! nothing else of the SDK.

#[macro_use]
pub mod api;
pub mod alloc;
pub mod sys;
