//! After slots moved: waiting until every node, replicas too, shows the moved slots closed.
//!
//! Valkey (8+) keeps a replica's slot-migration state in step with its master's: `SETSLOT` on
//! a master is replicated, and waited for, before it applies, and a full sync carries the
//! master's open slots in the RDB. But a master with no replica *online* at that moment (one
//! still loading a full sync, one reconnecting) applies `SETSLOT STABLE`/`NODE` without
//! replicating it, and a partial resync does not bring it either: that replica keeps the slot
//! IMPORTING (or MIGRATING) for good, and `redis-cli --cluster check` reports it open. So a
//! move is done only once no node shows one of its slots open; a replica that shows a slot its
//! master has closed gets it closed through the master (`SETSLOT <slot> STABLE` there is a
//! no-op for the master, replicated to, and acknowledged by, its online replicas), again until
//! the replica is back online and has it.

use std::collections::{BTreeMap, BTreeSet};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rm::{Error, Result};

use crate::topology::{Addr, ClusterView, Conn, Pool, command};

/// How often a replica's master is asked again to close a slot the replica still shows open.
const REPAIR_PAUSE: Duration = Duration::from_millis(100);

/// Polls the cluster until the nodes agree and none of them (replicas included) shows one of
/// `slots` open; returns that view. Replicas behind their master are repaired meanwhile (see
/// the module notes). `Err` after `timeout`, naming a node that still shows a slot open.
pub fn wait_for_closed(
    seed: &Addr,
    slots: &BTreeSet<u16>,
    timeout: Duration,
) -> Result<ClusterView> {
    let deadline = Instant::now() + timeout;
    let mut pool = Pool::default();
    let mut last_repair: Option<Instant> = None;
    loop {
        let view = ClusterView::gather_with(seed, &mut pool);
        if let Ok(view) = &view {
            let open = open_among(view, slots);
            if view.agree() && open.is_empty() {
                return Ok(view.clone());
            }
            if last_repair.is_none_or(|at| at.elapsed() >= REPAIR_PAUSE) {
                last_repair = Some(Instant::now());
                repair_replicas(view, slots);
            }
            if Instant::now() >= deadline {
                return Err(match open.first() {
                    Some((node, slot)) => Error::err(format!(
                        "slot {slot} is still open on {node} after {} ms (CLUSTER.FIX closes it)",
                        timeout.as_millis()
                    )),
                    None => Error::err(format!(
                        "nodes don't agree about configuration after {} ms",
                        timeout.as_millis()
                    )),
                });
            }
        } else if Instant::now() >= deadline {
            return view;
        }
        sleep(crate::topology::POLL);
    }
}

/// Every (node address, slot) where a node shows one of `slots` importing or migrating.
fn open_among(view: &ClusterView, slots: &BTreeSet<u16>) -> Vec<(String, u16)> {
    view.selves()
        .into_iter()
        .flat_map(|(_, me)| {
            me.importing
                .iter()
                .chain(&me.migrating)
                .filter(|(slot, _)| slots.contains(slot))
                .map(|(slot, _)| (me.addr_text(), *slot))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// For each replica showing one of `slots` open that its master (by its own line) has
/// closed, sends `SETSLOT <slot> STABLE` to the master. Best effort: a master that does not
/// answer, or whose replica does not acknowledge in time (`NOREPLICAS`), is asked again on a
/// later poll.
fn repair_replicas(view: &ClusterView, slots: &BTreeSet<u16>) {
    let selves = view.selves();
    let mut stale: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    for (_, me) in &selves {
        let Some(master_id) = me.master_id.as_deref().filter(|_| !me.is_master()) else {
            continue;
        };
        let Some((_, master)) = selves.iter().find(|(_, m)| m.id == master_id) else {
            continue;
        };
        let open_on_master: BTreeSet<u16> = master
            .importing
            .iter()
            .chain(&master.migrating)
            .map(|(slot, _)| *slot)
            .collect();
        for (slot, _) in me.importing.iter().chain(&me.migrating) {
            if slots.contains(slot) && !open_on_master.contains(slot) {
                stale.entry(master_id.to_owned()).or_default().insert(*slot);
            }
        }
    }
    for (master_id, stale_slots) in stale {
        let Some(addr) = view.addr_of(&master_id) else {
            continue;
        };
        let Ok(mut conn) = Conn::open(&addr) else {
            continue;
        };
        let commands: Vec<Vec<Vec<u8>>> = stale_slots
            .iter()
            .map(|slot| command(&["CLUSTER", "SETSLOT", &slot.to_string(), "STABLE"]))
            .collect();
        // Error replies (NOREPLICAS, a master turned replica) are left to the next poll.
        let _ = conn.pipeline(&commands);
    }
}
