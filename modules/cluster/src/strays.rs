//! FIX's last pass: keys a master holds in slots it neither owns nor has open ("strays").
//!
//! No client reads them (requests for the slot go to its owner) and `redis-cli --cluster
//! check` does not look for them. A master dying mid-reshard leaves them behind: its replica,
//! promoted, may have missed the source's last deletes after MIGRATE (older copies of keys the
//! target now owns), or a dead target's replica takes over with keys of a slot the source
//! still owns (there, the only copy). Each stray goes to its slot's owner; where the owner
//! holds the key too, the owner's copy — the one clients have been reading — is kept, and the
//! stray dropped if both are equal (FIX fails, keeping both, if they differ).

use std::collections::BTreeMap;

use rm::Result;
use serde_json::{Value as Json, json};

use crate::check::{Findings, ranges_text};
use crate::jobs::Job;
use crate::migrate::{self, OnBusy};
use crate::topology::{ClusterView, Conn, SLOTS};

/// Moves every stray key to its slot's owner (see the module docs).
pub fn fix_strays(
    job: &Job,
    view: &ClusterView,
    findings: &Findings,
    conns: &mut BTreeMap<String, Conn>,
    log: &mut String,
    actions: &mut Vec<Json>,
    keys_moved: &mut u64,
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
        for slot in &opened {
            conn.cmd(&["CLUSTER", "SETSLOT", &slot.to_string(), "STABLE"])?;
        }
        let moved = moved?;
        *keys_moved += moved;
        let ranges = ranges_text(&slots);
        log.push_str(&format!(
            ">>> slots {ranges}: {moved} keys on {}, which does not own them, moved to their \
             owner {owner_addr}\n",
            conn.addr
        ));
        actions.push(json!({"action": "strays moved", "slots": ranges, "from": holder, "to": owner, "keys": moved}));
    }
    Ok(())
}
