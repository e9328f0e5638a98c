//! `CLUSTER.CHECK`, `CLUSTER.INFO` and `CLUSTER.FIX`.

use rm::{Error, Result};

use crate::jobs::{Job, Report};
use crate::topology::Addr;

/// Checks the cluster.
pub fn check(_job: &Job, _seed: &Addr) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}

/// Summarises the cluster.
pub fn info(_job: &Job, _seed: &Addr) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}

/// Fixes the cluster.
pub fn fix(_job: &Job, _seed: &Addr) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}
