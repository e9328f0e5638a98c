//! FIX's last pass: keys a master holds in slots it neither owns nor has open ("strays").
//!
//! No client reads them (requests for the slot go to its owner) and `redis-cli --cluster
//! check` does not look for them. A master dying mid-reshard leaves them behind: its replica,
//! promoted, may have missed the source's last deletes after MIGRATE (older copies of keys the
//! target now owns), or a dead target's replica takes over with keys of a slot the source
//! still owns (there, the only copy). FIX reports them; with `MOVE-STRAYS` each goes to its
//! slot's owner — where the owner holds the key too, the owner's copy (the one clients have
//! been reading) is kept and the stray dropped if both are equal (FIX fails, keeping both, if
//! they differ). Not by default: a stale copy of a key deleted on the owner since would come
//! back, and only the operator knows which case it is.

use std::collections::BTreeMap;

use rm::Result;
use serde_json::{Value as Json, json};

use crate::check::{Findings, ranges_text};
use crate::jobs::Job;
use crate::migrate::{self, OnBusy};
use crate::topology::{ClusterView, Conn, NodeView, SLOTS, command};

/// What a fix pass writes to: the log, the actions, the count of keys moved.
pub type Outcome<'o> = (&'o mut String, &'o mut Vec<Json>, &'o mut u64);

/// Finds the stray keys; with `move_them`, moves each to its slot's owner (see the module
/// docs), else reports them.
pub fn fix_strays(
    job: &Job,
    view: &ClusterView,
    findings: &Findings,
    conns: &mut BTreeMap<String, Conn>,
    move_them: bool,
    (log, actions, keys_moved): Outcome<'_>,
) -> Result<()> {
    job.progress("looking for keys outside their slot's owner");
    let owners = view.owners();
    // (holder, owner) → slots.
    let mut found: BTreeMap<(String, String), Vec<u16>> = BTreeMap::new();
    for (id, conn) in conns.iter_mut() {
        let foreign: Vec<u16> = (0..SLOTS)
            .filter(|slot| !findings.open_slots.contains(slot))
            .filter(
                |slot| matches!(owners.get(slot).map(Vec::as_slice), Some([owner]) if owner != id),
            )
            .collect();
        for slot in migrate::nonempty_slots(conn, &foreign)? {
            let owner = owners[&slot][0].clone();
            found.entry((id.clone(), owner)).or_default().push(slot);
        }
    }
    for ((holder, owner), slots) in found {
        let owner_addr = view.require_addr(&owner)?;
        let conn = conns.get_mut(&holder).expect("a listed master");
        let ranges = ranges_text(&slots);
        if !move_them {
            let keys = count_keys(conn, &slots)?;
            log.push_str(&format!(
                ">>> slots {ranges}: {keys} keys on {}, which does not own them (no client reads \
                 them): CLUSTER.FIX MOVE-STRAYS moves them to the owner {owner_addr} (a key \
                 deleted there since would come back)\n",
                conn.addr
            ));
            actions.push(json!({"action": "strays found", "slots": ranges, "on": holder, "owner": owner, "keys": keys}));
            continue;
        }
        // A job may have opened one of these slots since the view was read: leave those.
        let open_now: Vec<u16> = NodeView::read(conn)?
            .me()
            .map(|me| {
                me.migrating
                    .iter()
                    .chain(&me.importing)
                    .map(|(slot, _)| *slot)
                    .collect()
            })
            .unwrap_or_default();
        let slots: Vec<u16> = slots
            .into_iter()
            .filter(|s| !open_now.contains(s))
            .collect();
        // IMPORTING lets the holder MIGRATE keys of a slot it does not serve; the slots are
        // closed again whatever the outcome, so a failed move leaves no open slot behind.
        let mut opened = Vec::new();
        let mut moved = Ok(0);
        for slot in &slots {
            match conn.cmd(&["CLUSTER", "SETSLOT", &slot.to_string(), "IMPORTING", &owner]) {
                Ok(_) => opened.push(*slot),
                Err(e) => {
                    moved = Err(e);
                    break;
                }
            }
        }
        if moved.is_ok() {
            moved = migrate::move_keys(job, conn, &owner_addr, &slots, OnBusy::KeepTarget);
        }
        let mut closed = Ok(());
        for slot in &opened {
            if let Err(e) = conn.cmd(&["CLUSTER", "SETSLOT", &slot.to_string(), "STABLE"]) {
                closed = closed.and(Err(e));
            }
        }
        // The move's error first: it is what went wrong.
        let moved = moved?;
        closed?;
        *keys_moved += moved;
        log.push_str(&format!(
            ">>> slots {ranges}: {moved} keys on {}, which does not own them, moved to their \
             owner {owner_addr} (or dropped where it had an equal copy)\n",
            conn.addr
        ));
        actions.push(json!({"action": "strays moved", "slots": ranges, "from": holder, "to": owner, "keys": moved}));
    }
    Ok(())
}

/// Keys the node holds in `slots`.
fn count_keys(conn: &mut Conn, slots: &[u16]) -> Result<i64> {
    let replies = conn.pipeline(
        &slots
            .iter()
            .map(|s| command(&["CLUSTER", "COUNTKEYSINSLOT", &s.to_string()]))
            .collect::<Vec<_>>(),
    )?;
    Ok(replies
        .iter()
        .map(|r| match r {
            redis::Value::Int(n) => *n,
            _ => 0,
        })
        .sum())
}
