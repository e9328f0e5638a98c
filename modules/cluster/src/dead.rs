//! `CLUSTER.FIX … FORGET-DEAD`: repairing around nodes that will not come back.
//!
//! FIX refuses while a node is unreachable (its slots would look uncovered, and giving them
//! away while it may return would make it drop its keys), and DELNODE refuses a node that
//! still holds slots. For a node that is gone for good that left no way out. With FORGET-DEAD
//! the caller says it is gone: each unreachable node the cluster has marked `fail` is written
//! off — a reachable replica of a dead master takes its slots over (`CLUSTER FAILOVER
//! TAKEOVER`: it holds the keys), every live node forgets the dead ones, and slots that no live
//! node held are left uncovered for FIX's cover pass, reported as slots whose keys were only on
//! the dead node. A node not yet marked `fail` is refused: the cluster has not agreed it is
//! gone (wait `cluster-node-timeout`, or bring it back).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rm::{Error, Result};
use serde_json::{Value as Json, json};

use crate::check::ranges_text;
use crate::jobs::Job;
use crate::migrate::AGREEMENT_TIMEOUT;
use crate::topology::{Addr, ClusterView, Conn, Node, NodeView, value_error, wait_for};

/// How long a replica may take to become master after `FAILOVER TAKEOVER`.
const TAKEOVER_WAIT: Duration = Duration::from_secs(10);

/// Writes off every unreachable node of `view` (see the module docs); appends what it did to
/// `log` and `actions`.
pub fn forget_dead(
    job: &Job,
    view: &ClusterView,
    log: &mut String,
    actions: &mut Vec<Json>,
) -> Result<()> {
    let mut dead = Vec::new();
    for (addr, error) in &view.unreachable {
        let node = view
            .nodes()
            .iter()
            .find(|n| n.addr.as_ref() == Some(addr))
            .ok_or_else(|| Error::err(format!("{addr} is unreachable ({error})")))?;
        if !node.flags.fail {
            return Err(Error::err(format!(
                "{addr} is unreachable ({error}) but the cluster has not marked it fail yet: \
                 wait for cluster-node-timeout, or bring it back"
            )));
        }
        dead.push(node);
    }
    let mut taken_over: Vec<String> = Vec::new();
    for node in dead.iter().filter(|n| n.is_master() && n.slot_count() > 0) {
        let addr = node.addr_text();
        let slots = ranges_text(&node.slot_list());
        let replica = view.nodes().iter().find(|r| {
            r.master_id.as_deref() == Some(node.id.as_str())
                && !r.flags.fail
                && r.addr
                    .as_ref()
                    .is_some_and(|a| view.views.iter().any(|v| &v.addr == a))
        });
        // The cluster may have elected a replica meanwhile (the master was just marked fail):
        // a takeover by another replica would demote the winner and lose what it took since.
        let fresh = ClusterView::gather(&view.seed)?;
        let owners = fresh.owners();
        let winner = node.slot_list().iter().find_map(|slot| {
            owners
                .get(slot)
                .and_then(|ids| ids.iter().find(|id| **id != node.id))
                .cloned()
        });
        if let Some(winner) = winner {
            let winner_addr = fresh
                .addr_of(&winner)
                .map_or(winner.clone(), |a| a.to_string());
            taken_over.push(node.id.clone());
            log.push_str(&format!(
                ">>> {winner_addr} had already taken over from the dead master {addr}\n"
            ));
            actions.push(
                json!({"action": "taken over", "dead": node.id, "by": winner_addr, "slots": slots}),
            );
            continue;
        }
        match replica.and_then(|r| r.addr.clone()) {
            Some(replica_addr) => {
                job.progress(format!("{replica_addr} takes over from {addr}"));
                let mut conn = Conn::open(&replica_addr)?;
                // The replica may be winning an election of its own right now (the dead master
                // was just marked fail): a master already, it refuses a failover; fine.
                let reply = conn.cmd_raw(&["CLUSTER", "FAILOVER", "TAKEOVER"])?;
                if let Some(e) = value_error(&reply)
                    && !NodeView::read(&mut conn)?.me().is_some_and(Node::is_master)
                {
                    return Err(Error::err(format!(
                        "{replica_addr}: CLUSTER FAILOVER TAKEOVER: {e}"
                    )));
                }
                wait_master(&mut conn)?;
                taken_over.push(node.id.clone());
                log.push_str(&format!(
                    ">>> {replica_addr} took over slots {slots} of the dead master {addr} \
                     (it holds their keys)\n"
                ));
                actions.push(json!({"action": "takeover", "dead": node.id, "by": replica_addr.to_string(), "slots": slots}));
            }
            None => {
                log.push_str(&format!(
                    ">>> slots {slots} had their keys only on the dead master {addr} (no live \
                     replica): they are covered again, empty\n"
                ));
                actions.push(json!({"action": "lost", "dead": node.id, "slots": slots}));
            }
        }
    }
    let dead_ids: Vec<&str> = dead.iter().map(|n| n.id.as_str()).collect();
    repoint_imports(job, &view.seed, &dead_ids, log, actions)?;
    // Forget only once every live node has heard of each takeover: a node that forgot a dead
    // master first would see its slots uncovered, and a cover given to another master would
    // demote the new owner, which then drops the keys it took over.
    if !taken_over.is_empty() {
        job.progress("waiting for every node to hear of the takeovers");
        wait_for(
            &view.seed,
            AGREEMENT_TIMEOUT,
            "the takeover has not reached every node",
            |v| {
                v.views.iter().all(|seen| {
                    seen.nodes
                        .iter()
                        .all(|n| !taken_over.contains(&n.id) || n.slot_count() == 0)
                })
            },
        )?;
    }
    for node in &dead {
        job.progress(format!("forgetting {}", node.addr_text()));
        for live in &view.views {
            let Ok(mut conn) = Conn::open(&live.addr) else {
                continue;
            };
            let reply = conn.cmd_raw(&["CLUSTER", "FORGET", node.id.as_str()])?;
            if let Some(e) = value_error(&reply)
                && !e.contains("Unknown node")
            {
                return Err(Error::err(format!(
                    "{}: CLUSTER FORGET {}: {e}",
                    live.addr, node.id
                )));
            }
        }
        log.push_str(&format!(
            ">>> forgot the dead node {} ({}) on every live node\n",
            node.addr_text(),
            node.id
        ));
        actions.push(json!({"action": "forgot", "node": node.id, "addr": node.addr_text()}));
    }
    Ok(())
}

/// A live node importing a slot from a dead master holds the newest copy of every key it
/// received (by MIGRATE, or written there by ASKING clients); the dead master's replica, now
/// the slot's owner, may still hold older copies (the source's deletes after MIGRATE had not
/// all reached it). Forgetting the dead node would close the import (a node forgets a dead
/// node's open slots with it) and strand those keys in a slot their holder does not own, where
/// no client reads them. So each such import is pointed at the slot's live owner first, and
/// FIX's open-slot pass moves the keys there, replacing the older copies. A slot with no live
/// owner is left alone: it becomes uncovered, and the cover pass gives it to the master with
/// most of its keys.
fn repoint_imports(
    job: &Job,
    seed: &Addr,
    dead: &[&str],
    log: &mut String,
    actions: &mut Vec<Json>,
) -> Result<()> {
    let view = ClusterView::gather(seed)?;
    let owners = view.owners();
    // (importer, dead source, live owner) → slots.
    let mut moves: BTreeMap<(&str, &str, &str), Vec<u16>> = BTreeMap::new();
    // Masters only: Valkey's replicas show their master's open slots too (SETSLOT is for
    // masters; a replica follows its master).
    for (_, me) in view.selves().into_iter().filter(|(_, me)| me.is_master()) {
        for (slot, from) in me
            .importing
            .iter()
            .filter(|(_, f)| dead.contains(&f.as_str()))
        {
            if let Some([owner]) = owners.get(slot).map(Vec::as_slice)
                && *owner != me.id
                && !dead.contains(&owner.as_str())
            {
                moves
                    .entry((me.id.as_str(), from.as_str(), owner.as_str()))
                    .or_default()
                    .push(*slot);
            }
        }
    }
    for ((importer, from, owner), slots) in moves {
        let importer_addr = view.require_addr(importer)?;
        let owner_addr = view.require_addr(owner)?;
        job.progress(format!("{importer_addr} imports from {owner_addr}"));
        let mut conn = Conn::open(&importer_addr)?;
        // SETSLOT refuses a node the importer does not know as a master yet (the takeover
        // may not have reached it).
        let deadline = Instant::now() + AGREEMENT_TIMEOUT;
        while !NodeView::read(&mut conn)?
            .nodes
            .iter()
            .any(|n| n.id == owner && n.is_master())
        {
            if Instant::now() >= deadline {
                return Err(Error::err(format!(
                    "{importer_addr} does not see {owner_addr} as a master after {} ms",
                    AGREEMENT_TIMEOUT.as_millis()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for slot in &slots {
            // An importing node ignores other nodes' claims on the slot: it still believes
            // the dead node owns it (and, once that is forgotten, nobody), and would never
            // agree with the others. Tell it the owner; the import stays open.
            conn.cmd(&["CLUSTER", "SETSLOT", &slot.to_string(), "NODE", owner])?;
            conn.cmd(&["CLUSTER", "SETSLOT", &slot.to_string(), "IMPORTING", owner])?;
        }
        let slots = ranges_text(&slots);
        log.push_str(&format!(
            ">>> slots {slots}: {importer_addr} imported them from the dead {from}, now from \
             their owner {owner_addr}\n"
        ));
        actions.push(json!({"action": "import repointed", "slots": slots, "node": importer, "from": from, "to": owner}));
    }
    Ok(())
}

/// Waits until the node behind `conn` says it is a master.
fn wait_master(conn: &mut Conn) -> Result<()> {
    let deadline = Instant::now() + TAKEOVER_WAIT;
    loop {
        let view = NodeView::read(conn)?;
        if view
            .me()
            .is_some_and(|me| me.is_master() && me.slot_count() > 0)
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::err(format!(
                "{}: not master {} s after CLUSTER FAILOVER TAKEOVER",
                conn.addr,
                TAKEOVER_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
