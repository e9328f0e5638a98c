//! Moving slots: `CLUSTER.RESHARD` and `CLUSTER.REBALANCE`.

use rm::{Error, Result};

use crate::jobs::{Job, Report};
use crate::topology::Addr;

/// Where a reshard takes slots from.
#[derive(Clone, Debug)]
pub enum Sources {
    /// Every master except the target.
    All,
    /// One master, by id or address.
    Node(String),
}

/// `CLUSTER.REBALANCE` options.
#[derive(Clone, Debug)]
pub struct RebalanceOptions {
    /// Per-node weights (id, id prefix or address → weight); others weigh 1.
    pub weights: Vec<(String, f64)>,
    /// Give slots to masters that have none.
    pub use_empty_masters: bool,
    /// Only rebalance when some master is off its share by more than this percentage.
    pub threshold: f64,
    /// Plan only.
    pub simulate: bool,
}

impl Default for RebalanceOptions {
    fn default() -> Self {
        RebalanceOptions {
            weights: Vec::new(),
            use_empty_masters: false,
            threshold: 2.0,
            simulate: false,
        }
    }
}

/// Moves `slots` slots to `to`.
pub fn reshard(
    _job: &Job,
    _seed: &Addr,
    _from: &Sources,
    _to: &str,
    _slots: usize,
) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}

/// Rebalances slots across masters.
pub fn rebalance(_job: &Job, _seed: &Addr, _options: &RebalanceOptions) -> Result<Report> {
    Err(Error::err("not implemented yet"))
}
