//! Monitoring: `CLUSTER.MONITOR`, `CLUSTER.EVENTS`, the Pub/Sub channel and the INFO section
//! (to come). [`register`] adds its commands and hooks to the module.

use rm::Module;

/// Adds the monitoring commands to `module` (none yet).
pub fn register(module: Module) -> Module {
    module
}
