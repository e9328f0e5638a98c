//! The command handlers, one file per family of commands, and what they share.

pub(crate) mod array;
pub(crate) mod debug;
pub(crate) mod del;
mod edit;
pub(crate) mod get;
pub(crate) mod length;
pub(crate) mod num;
pub(crate) mod set;
pub(crate) mod value;

use rm::{Ctx, NotifyFlags, RStr, Result};

fn notify(ctx: &Ctx, event: &str, key: &RStr) -> Result<()> {
    ctx.notify_keyspace_event(NotifyFlags::MODULE, event, key)
}

const NO_KEY: &str = "could not perform this operation on a key that doesn't exist";
