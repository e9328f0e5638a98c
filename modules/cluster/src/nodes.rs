//! `CLUSTER.ADDNODE`, `CLUSTER.DELNODE` and `CLUSTER.CALL`.

use rm::{Error, Result};

use crate::jobs::{Job, Report};
use crate::topology::Addr;

/// Adds a node.
pub fn add_node(
    _job: &Job,
    _new: &Addr,
    _existing: &Addr,
    _replica: bool,
    _master: Option<&str>,
) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}

/// Removes a node.
pub fn del_node(_job: &Job, _seed: &Addr, _id: &str) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}

/// Runs a command on every node.
pub fn call(_job: &Job, _seed: &Addr, _command: &[String]) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}
