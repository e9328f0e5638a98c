//! Where the module's credentials (`cluster.user` / `cluster.password`) may go.
//!
//! A caller must not be able to send them to an address it merely names (a listener of its
//! own would read the password), nor use them to reach further than it could itself. The rule:
//! the credentials go only to **known nodes**, and an address becomes known when
//! * a caller who may read the credentials (`CONFIG GET cluster.password` by its ACL, so it
//!   could use them anyway) names it in a CLUSTER.* command;
//! * it is the hosting server itself;
//! * a known node lists it in its `CLUSTER NODES` (a node of a cluster the module manages:
//!   adding a node to a cluster already needs that cluster's credentials).
//!
//! Any other caller may name only known addresses while credentials are set; connections to
//! unknown addresses (which only callers who may read the credentials can cause) never send
//! them unless that caller named the address. Without a password nothing is secret, and every
//! address may be named. Known addresses live as long as the module (a restart forgets them:
//! the next command of an authorized caller teaches them again).

use std::collections::BTreeSet;
use std::sync::Mutex;

use rm::{Ctx, Error, RStr, Result};

use crate::topology::Addr;

static KNOWN: Mutex<BTreeSet<Addr>> = Mutex::new(BTreeSet::new());

fn known() -> std::sync::MutexGuard<'static, BTreeSet<Addr>> {
    KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the credentials may be sent to `addr`.
pub fn is_known(addr: &Addr) -> bool {
    known().contains(addr)
}

/// Adds addresses the credentials may go to (see the module docs for who may add).
pub fn learn<'a>(addrs: impl IntoIterator<Item = &'a Addr>) {
    known().extend(addrs.into_iter().cloned());
}

/// Whether the calling user may read `cluster.password` (and so use it directly).
fn may_read_credentials(ctx: &Ctx) -> bool {
    ctx.current_user()
        .and_then(|user| user.check_command("CONFIG", ("GET", "cluster.password")))
        .is_ok()
}

/// Checks the addresses (`host:port` words) a CLUSTER.* command names before it starts:
/// learned when the caller may read the credentials, refused when they are unknown and the
/// caller may not. `own` is the hosting server's address, always known.
pub fn authorize(ctx: &Ctx, args: &[&RStr], own: Option<&Addr>) -> Result<()> {
    learn(own);
    if !crate::credentials_configured() {
        return Ok(());
    }
    let named: Vec<Addr> = args[1..]
        .iter()
        .filter_map(|arg| arg.to_str().ok().and_then(Addr::parse))
        .collect();
    if may_read_credentials(ctx) {
        learn(&named);
        return Ok(());
    }
    match named.iter().find(|addr| !is_known(addr)) {
        None => Ok(()),
        Some(addr) => Err(Error::err(format!(
            "{addr} is not a node of a cluster this module manages: its credentials go only to \
             known nodes, and only a user who may CONFIG GET cluster.password can name a new \
             address"
        ))),
    }
}
