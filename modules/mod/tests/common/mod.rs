//! What each suite here reaches as `mod common;`: the SDK suites' helpers (`tests/common/` at
//! the repository root: the test kit `crates/testkit` and the default waits), shared as one file.
#![allow(dead_code, unused_imports)]

#[path = "../../../../tests/common/mod.rs"]
mod shared;

pub use shared::*;
