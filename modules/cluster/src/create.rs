//! `CLUSTER.CREATE`: a cluster from empty nodes.

use rm::{Error, Result};

use crate::jobs::{Job, Report};
use crate::topology::Addr;

/// Checks the arguments before a job starts: at least 3 masters, no address twice.
pub fn validate(addrs: &[Addr], replicas: usize) -> Result<()> {
    let masters = addrs.len() / (replicas + 1);
    if masters < 3 {
        return Err(Error::err(format!(
            "a cluster needs at least 3 masters: {} nodes with {replicas} replicas each give {masters}",
            addrs.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for addr in addrs {
        if !seen.insert(addr) {
            return Err(Error::err(format!("{addr} is listed twice")));
        }
    }
    Ok(())
}

/// Creates the cluster.
pub fn run(_job: &Job, _addrs: &[Addr], _replicas: usize) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}
