//! What every test file reaches as `mod common;`: the test kit (`crates/testkit`), plus the
//! suites' defaults — [`wait_for`] waits up to [`testkit::WAIT`], [`wait_long`] (clusters) up to
//! [`testkit::WAIT_CLUSTER`].
#![allow(dead_code, unused_imports)]

pub use testkit::*;

/// Waits, up to [`testkit::WAIT`], until `check` holds (the kit's `wait_for` with the suites'
/// default timeout; call `testkit::wait_for` for another).
pub fn wait_for(what: &str, check: impl FnMut() -> bool) {
    testkit::wait_for(what, WAIT, check)
}

/// Waits, up to [`testkit::WAIT_CLUSTER`], until `check` holds (a cluster agreeing).
pub fn wait_long(what: &str, check: impl FnMut() -> bool) {
    testkit::wait_for(what, WAIT_CLUSTER, check)
}
