//! `CLUSTER.CHECK`, `CLUSTER.INFO` and `CLUSTER.FIX`.
//!
//! The check looks for what `redis-cli --cluster check` looks for: nodes that disagree about
//! the slot configuration, open (migrating/importing) slots, slots no master serves, slots
//! several masters claim, and unreachable or failing nodes. The fix repairs open, uncovered
//! and multiply-owned slots without losing a key: keys found on a node that should not hold
//! them are migrated to the slot's owner, never deleted (a key on both sides is dropped from
//! the non-owner only when both copies are equal).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rm::{Error, Result};
use serde_json::{Value as Json, json};

use crate::jobs::{Job, Report};
use crate::migrate::{self, OnBusy};
use crate::topology::{
    self, Addr, ClusterView, Conn, Node, SLOTS, command, value_error, wait_for_agreement,
};

/// How long a check waits for the nodes to agree before reporting that they do not.
const CHECK_AGREEMENT_WAIT: Duration = Duration::from_millis(2000);
/// How long a fix waits for the nodes to agree between its passes.
const FIX_SETTLE: Duration = Duration::from_millis(5000);

/// What a check found.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Problems (`[ERR]` lines).
    pub errors: Vec<String>,
    /// Things to know (`[WARNING]` lines).
    pub warnings: Vec<String>,
    /// Slots open somewhere: slot → descriptions.
    pub open_slots: BTreeSet<u16>,
    /// Slots no master serves.
    pub uncovered: Vec<u16>,
    /// Slots several masters claim.
    pub multi_owner: Vec<u16>,
    /// Whether the nodes agree.
    pub agree: bool,
}

/// Compresses a sorted slot list into `a-b,c` text.
pub fn ranges_text(slots: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < slots.len() {
        let start = slots[i];
        let mut end = start;
        while i + 1 < slots.len() && slots[i + 1] == end + 1 {
            i += 1;
            end = slots[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Examines a view.
pub fn examine(view: &ClusterView) -> Findings {
    let mut findings = Findings {
        agree: view.reachable_agree(),
        ..Findings::default()
    };
    if !findings.agree {
        findings
            .errors
            .push("Nodes don't agree about configuration!".to_owned());
    }
    for (addr, error) in &view.unreachable {
        findings
            .errors
            .push(format!("Node {addr} is unreachable: {error}"));
    }
    for node in view.nodes() {
        if node.flags.fail {
            findings.errors.push(format!(
                "Node {} ({}) is marked fail",
                node.addr_text(),
                node.id
            ));
        } else if node.flags.pfail {
            findings.warnings.push(format!(
                "Node {} ({}) is unreachable from {} (fail?)",
                node.addr_text(),
                node.id,
                view.seed
            ));
        }
    }
    for (node, slot, other, migrating) in view.open_slots() {
        findings.open_slots.insert(slot);
        let addr = view.addr_of(&node).map_or(node.clone(), |a| a.to_string());
        findings.warnings.push(format!(
            "Node {addr} has slot {slot} {} {other}",
            if migrating {
                "migrating to"
            } else {
                "importing from"
            }
        ));
    }
    if !findings.open_slots.is_empty() {
        let open: Vec<u16> = findings.open_slots.iter().copied().collect();
        findings
            .errors
            .push(format!("Open slots: {}", ranges_text(&open)));
    }
    let owners = view.owners();
    findings.uncovered = (0..SLOTS).filter(|s| !owners.contains_key(s)).collect();
    if !findings.uncovered.is_empty() {
        findings.errors.push(format!(
            "Not all {SLOTS} slots are covered by nodes: {} uncovered ({})",
            findings.uncovered.len(),
            ranges_text(&findings.uncovered)
        ));
    }
    findings.multi_owner = owners
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(slot, _)| *slot)
        .collect();
    if !findings.multi_owner.is_empty() {
        findings.errors.push(format!(
            "Slots with several owners: {}",
            ranges_text(&findings.multi_owner)
        ));
    }
    findings
}

/// Keys per master (`DBSIZE`), by id; unreachable masters are left out.
fn key_counts(view: &ClusterView) -> BTreeMap<String, i64> {
    let masters: Vec<(String, Addr)> = view
        .masters()
        .into_iter()
        .filter_map(|m| view.addr_of(&m.id).map(|a| (m.id.clone(), a)))
        .collect();
    topology::parallel(masters, |(id, addr)| {
        let n = Conn::open(&addr)
            .and_then(|mut c| c.cmd(&["DBSIZE"]))
            .ok()
            .and_then(|v| match v {
                redis::Value::Int(n) => Some(n),
                _ => None,
            });
        n.map(|n| (id, n))
    })
    .into_iter()
    .flatten()
    .flatten()
    .collect()
}

fn replicas_of<'v>(view: &'v ClusterView, id: &str) -> Vec<&'v Node> {
    view.nodes()
        .iter()
        .filter(|n| n.flags.replica && n.master_id.as_deref() == Some(id))
        .collect()
}

/// The summary `CLUSTER.INFO` gives, text and JSON.
fn summary(view: &ClusterView) -> (String, Json) {
    let keys = key_counts(view);
    let mut text = String::new();
    let mut masters = Vec::new();
    let mut total_keys = 0;
    for master in view.masters() {
        let n = keys.get(&master.id).copied().unwrap_or(0);
        total_keys += n;
        let replicas = replicas_of(view, &master.id);
        text.push_str(&format!(
            "{} ({}...) -> {n} keys | {} slots | {} slaves.\n",
            master.addr_text(),
            &master.id[..8.min(master.id.len())],
            master.slot_count(),
            replicas.len()
        ));
        masters.push(json!({
            "id": master.id,
            "addr": master.addr_text(),
            "keys": n,
            "slots": master.slot_count(),
            "replicas": replicas.iter().map(|r| json!({"id": r.id, "addr": r.addr_text()})).collect::<Vec<_>>(),
        }));
    }
    let count = masters.len();
    text.push_str(&format!("[OK] {total_keys} keys in {count} masters.\n"));
    text.push_str(&format!(
        "{:.2} keys per slot on average.\n",
        total_keys as f64 / f64::from(SLOTS)
    ));
    (
        text,
        json!({"masters": masters, "keys": total_keys, "nodes": view.nodes().len()}),
    )
}

fn node_lines(view: &ClusterView) -> String {
    let mut text = String::new();
    let mut nodes: Vec<&Node> = view.nodes().iter().collect();
    nodes.sort_by_key(|n| (!n.is_master(), n.addr.clone()));
    for node in nodes {
        let me = view.view_of(&node.id).and_then(|v| v.me()).unwrap_or(node);
        if me.is_master() {
            text.push_str(&format!("M: {} {}\n", me.id, me.addr_text()));
            text.push_str(&format!(
                "   slots:[{}] ({} slots) master\n",
                ranges_text(&me.slot_list()),
                me.slot_count()
            ));
            let replicas = replicas_of(view, &me.id).len();
            if replicas > 0 {
                text.push_str(&format!("   {replicas} additional replica(s)\n"));
            }
        } else {
            text.push_str(&format!("S: {} {}\n", me.id, me.addr_text()));
            text.push_str(&format!(
                "   replicates {}\n",
                me.master_id.as_deref().unwrap_or("-")
            ));
        }
    }
    text
}

/// Gathers the view for a check, giving a changing cluster a moment to agree.
fn check_view(seed: &Addr) -> Result<ClusterView> {
    match topology::wait_for(seed, CHECK_AGREEMENT_WAIT, "", |v| v.reachable_agree()) {
        Ok(view) => Ok(view),
        Err(_) => ClusterView::gather(seed),
    }
}

fn check_report(view: &ClusterView) -> Report {
    let findings = examine(view);
    let (mut text, info) = summary(view);
    text.push_str(&format!(
        ">>> Performing Cluster Check (using node {})\n",
        view.seed
    ));
    text.push_str(&node_lines(view));
    if findings.agree {
        text.push_str("[OK] All nodes agree about slots configuration.\n");
    }
    text.push_str(">>> Check for open slots...\n>>> Check slots coverage...\n");
    for warning in &findings.warnings {
        text.push_str(&format!("[WARNING] {warning}\n"));
    }
    for error in &findings.errors {
        text.push_str(&format!("[ERR] {error}\n"));
    }
    if findings.uncovered.is_empty() {
        text.push_str(&format!("[OK] All {SLOTS} slots covered.\n"));
    }
    let ok = findings.errors.is_empty();
    let json = json!({
        "ok": ok,
        "agree": findings.agree,
        "errors": findings.errors,
        "warnings": findings.warnings,
        "open_slots": findings.open_slots,
        "uncovered_slots": findings.uncovered.len(),
        "multi_owner_slots": findings.multi_owner,
        "masters": info["masters"],
        "keys": info["keys"],
        "nodes": info["nodes"],
    });
    Report::new(text, json)
}

/// `CLUSTER.CHECK`: the report, `[OK]`/`[ERR]` lines like `redis-cli --cluster check`.
pub fn check(job: &Job, seed: &Addr) -> Result<Report> {
    job.progress("reading the nodes");
    Ok(check_report(&check_view(seed)?))
}

/// `CLUSTER.INFO`: keys, slots and replicas per master.
pub fn info(job: &Job, seed: &Addr) -> Result<Report> {
    job.progress("reading the nodes");
    let view = ClusterView::gather(seed)?;
    let (text, json) = summary(&view);
    Ok(Report::new(text, json))
}

/// Keys each reachable master holds in `slot`.
fn keys_in_slot(conns: &mut BTreeMap<String, Conn>, slot: u16) -> Result<BTreeMap<String, i64>> {
    let mut counts = BTreeMap::new();
    for (id, conn) in conns.iter_mut() {
        if let redis::Value::Int(n) =
            conn.cmd(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])?
            && n > 0
        {
            counts.insert(id.clone(), n);
        }
    }
    Ok(counts)
}

/// Opens connections to every reachable master (by id).
fn master_conns(view: &ClusterView) -> Result<BTreeMap<String, Conn>> {
    view.masters()
        .into_iter()
        .filter_map(|m| view.addr_of(&m.id).map(|a| (m.id.clone(), a)))
        .map(|(id, addr)| Conn::open(&addr).map(|c| (id, c)))
        .collect()
}

fn setslot(conn: &mut Conn, slot: u16, args: &[&str]) -> Result<()> {
    let mut full = vec!["CLUSTER", "SETSLOT"];
    let slot = slot.to_string();
    full.push(&slot);
    full.extend_from_slice(args);
    conn.cmd(&full).map(|_| ())
}

/// Makes `owner` the only holder of `slot`'s keys: every other master holding keys in it opens
/// the slot (IMPORTING from the owner, which lets it run MIGRATE) and migrates them to the
/// owner; then every node closes the slot and learns the owner. Where both hold a key the
/// owner's copy is kept — it is the one clients have been reading and writing — and the other
/// dropped if equal; if they differ, the fix fails leaving both (which is newer cannot be told:
/// an importer's copy came after the source's, but an owner promoted since may have taken
/// writes of its own).
fn gather_slot(
    job: &Job,
    conns: &mut BTreeMap<String, Conn>,
    (owner, owner_addr): (&str, &Addr),
    slot: u16,
) -> Result<u64> {
    let counts = keys_in_slot(conns, slot)?;
    let mut moved = 0;
    for (id, _) in counts.iter().filter(|(id, _)| id.as_str() != owner) {
        let conn = conns.get_mut(id).expect("listed master");
        setslot(conn, slot, &["IMPORTING", owner])?;
        moved += migrate::move_keys(job, conn, owner_addr, &[slot], OnBusy::KeepTarget)?;
    }
    // Close the slot everywhere: the owner claims it (bumping its epoch if it was importing),
    // the others drop any open state and learn the owner.
    let owner_conn = conns.get_mut(owner).expect("owner");
    setslot(owner_conn, slot, &["STABLE"])?;
    for (id, conn) in conns.iter_mut() {
        if id != owner {
            setslot(conn, slot, &["STABLE"])?;
            setslot(conn, slot, &["NODE", owner])?;
        }
    }
    Ok(moved)
}

/// Open slots: finish a migration both sides of which are in place, else bring every key
/// back to the owner and close the slot.
fn fix_open_slots(
    job: &Job,
    view: &ClusterView,
    findings: &Findings,
    conns: &mut BTreeMap<String, Conn>,
    log: &mut String,
    actions: &mut Vec<Json>,
    keys_moved: &mut u64,
) -> Result<()> {
    let addr_of = |id: &str| view.require_addr(id);
    let owners = view.owners();
    let open = view.open_slots();
    for slot in &findings.open_slots {
        let slot = *slot;
        job.progress(format!("fixing open slot {slot}"));
        let claimed = owners.get(&slot).cloned().unwrap_or_default();
        let counts = keys_in_slot(conns, slot)?;
        let owner = match claimed.as_slice() {
            [one] => one.clone(),
            _ => most_keys(&counts, &claimed, conns)?,
        };
        if claimed.len() != 1 {
            claim(conns, &owner, slot, &claimed)?;
        }
        let migrating_to: Vec<&String> = open
            .iter()
            .filter(|(node, s, _, m)| *s == slot && *m && *node == owner)
            .map(|(_, _, dest, _)| dest)
            .collect();
        // The target of the owner's migration, if it is importing from the owner and reachable.
        let target_importing = migrating_to.first().and_then(|dest| {
            open.iter()
                .find(|(node, s, source, m)| *s == slot && !*m && node == *dest && *source == owner)
                .map(|(node, ..)| node.clone())
                .filter(|node| conns.contains_key(node))
        });
        if let Some(target) = target_importing {
            // Resume: both sides are set; move the rest, then hand the slot over.
            let target_addr = addr_of(&target)?;
            let source = conns.get_mut(&owner).expect("owner");
            let n = migrate::move_keys(job, source, &target_addr, &[slot], OnBusy::Replace)?;
            *keys_moved += n;
            let ids: Vec<String> = conns.keys().cloned().collect();
            setslot(
                conns.get_mut(&target).expect("target"),
                slot,
                &["NODE", &target],
            )?;
            for id in ids.iter().filter(|id| **id != target) {
                setslot(conns.get_mut(id).expect("master"), slot, &["NODE", &target])?;
            }
            let line = format!(
                "slot {slot}: finished the migration to {} ({n} keys)",
                addr_of(&target)?
            );
            log.push_str(&format!(">>> {line}\n"));
            actions.push(
                json!({"slot": slot, "action": "finished migration", "to": target, "keys": n}),
            );
        } else {
            let owner_addr = addr_of(&owner)?;
            let n = gather_slot(job, conns, (&owner, &owner_addr), slot)?;
            *keys_moved += n;
            let line = format!(
                "slot {slot}: closed, keys gathered on its owner {owner_addr} ({n} keys moved)"
            );
            log.push_str(&format!(">>> {line}\n"));
            actions.push(json!({"slot": slot, "action": "closed", "owner": owner, "keys": n}));
        }
    }
    Ok(())
}

/// Slots several masters claim (and not open): the one with most keys keeps it.
fn fix_multi_owner(
    job: &Job,
    view: &ClusterView,
    findings: &Findings,
    conns: &mut BTreeMap<String, Conn>,
    log: &mut String,
    actions: &mut Vec<Json>,
    keys_moved: &mut u64,
) -> Result<()> {
    let addr_of = |id: &str| view.require_addr(id);
    let owners = view.owners();
    for &slot in findings
        .multi_owner
        .iter()
        .filter(|s| !findings.open_slots.contains(s))
    {
        job.progress(format!("fixing slot {slot} with several owners"));
        let claimed = owners.get(&slot).cloned().unwrap_or_default();
        let counts = keys_in_slot(conns, slot)?;
        let owner = most_keys(&counts, &claimed, conns)?;
        claim(conns, &owner, slot, &claimed)?;
        let owner_addr = addr_of(&owner)?;
        let n = gather_slot(job, conns, (&owner, &owner_addr), slot)?;
        *keys_moved += n;
        log.push_str(&format!(
            ">>> slot {slot}: kept by {owner_addr} ({n} keys moved to it)\n"
        ));
        actions.push(json!({"slot": slot, "action": "single owner", "owner": owner, "keys": n}));
    }
    Ok(())
}

/// Uncovered slots: a master holding keys in it takes it (the one with most; the others'
/// keys move there); a slot nobody has keys for goes to the master with fewest slots.
fn fix_uncovered(
    job: &Job,
    view: &ClusterView,
    findings: &Findings,
    conns: &mut BTreeMap<String, Conn>,
    log: &mut String,
    actions: &mut Vec<Json>,
    keys_moved: &mut u64,
) -> Result<()> {
    let addr_of = |id: &str| view.require_addr(id);
    // Uncovered slots: a master holding keys in it takes it (the one with most; the others'
    // keys move there); a slot nobody has keys for goes to the master with fewest slots.
    if !findings.uncovered.is_empty() {
        job.progress(format!("covering {} slots", findings.uncovered.len()));
        let mut slot_counts: BTreeMap<String, usize> = view
            .masters()
            .iter()
            .filter(|m| conns.contains_key(&m.id))
            .map(|m| (m.id.clone(), m.slot_count()))
            .collect();
        if slot_counts.is_empty() {
            return Err(Error::err("no reachable master to cover the slots"));
        }
        let mut with_keys: BTreeMap<u16, BTreeMap<String, i64>> = BTreeMap::new();
        for (id, conn) in conns.iter_mut() {
            let replies = conn.pipeline(
                &findings
                    .uncovered
                    .iter()
                    .map(|s| command(&["CLUSTER", "COUNTKEYSINSLOT", &s.to_string()]))
                    .collect::<Vec<_>>(),
            )?;
            for (slot, reply) in findings.uncovered.iter().zip(replies) {
                if let redis::Value::Int(n) = reply
                    && n > 0
                {
                    with_keys.entry(*slot).or_default().insert(id.clone(), n);
                }
            }
        }
        let mut assignment: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for &slot in &findings.uncovered {
            let owner = match with_keys.get(&slot) {
                Some(counts) => counts
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map(|(id, _)| id.clone())
                    .expect("non-empty"),
                None => slot_counts
                    .iter()
                    .min_by_key(|(_, n)| **n)
                    .map(|(id, _)| id.clone())
                    .expect("non-empty"),
            };
            *slot_counts.get_mut(&owner).expect("master") += 1;
            assignment.entry(owner).or_default().push(slot);
        }
        for (owner, slots) in &assignment {
            let conn = conns.get_mut(owner).expect("master");
            let mut args = command(&["CLUSTER", "ADDSLOTS"]);
            args.extend(slots.iter().map(|s| s.to_string().into_bytes()));
            let added = conn.cmd_raw(&args)?;
            if let Some(e) = value_error(&added) {
                if !e.contains("busy") {
                    return Err(Error::err(format!("{}: ADDSLOTS: {e}", conn.addr)));
                }
                // The node still believes some of them taken (stale gossip, or its own
                // replica reminding it): assign them to itself one by one.
                for slot in slots {
                    conn.cmd(&[
                        "CLUSTER",
                        "SETSLOT",
                        &slot.to_string(),
                        "NODE",
                        owner.as_str(),
                    ])?;
                }
            }
            conn.cmd(&["CLUSTER", "BUMPEPOCH"])?;
            let addr = addr_of(owner)?;
            let keys: i64 = slots
                .iter()
                .filter_map(|s| with_keys.get(s).and_then(|c| c.get(owner)))
                .sum();
            log.push_str(&format!(
                ">>> covered slots {} with {addr} (it holds {keys} of their keys)\n",
                ranges_text(slots)
            ));
            actions.push(json!({"action": "covered", "owner": owner, "slots": ranges_text(slots)}));
        }
        for (slot, counts) in &with_keys {
            if counts.len() > 1 {
                let owner = assignment
                    .iter()
                    .find(|(_, slots)| slots.contains(slot))
                    .map(|(id, _)| id.clone())
                    .expect("assigned");
                let owner_addr = addr_of(&owner)?;
                *keys_moved += gather_slot(job, conns, (&owner, &owner_addr), *slot)?;
            }
        }
    }
    Ok(())
}

/// The signature of a fix pass.
type FixPass = fn(
    &Job,
    &ClusterView,
    &Findings,
    &mut BTreeMap<String, Conn>,
    &mut String,
    &mut Vec<Json>,
    &mut u64,
) -> Result<()>;

/// A FIX step's error, saying what the fix had done before it (`ERR <step>: <error> (done
/// before: …)`), so that a failure never hides a change already made.
fn step_failed(step: &str, error: &Error, log: &str) -> Error {
    let done = if log.is_empty() {
        String::new()
    } else {
        format!(" (done before: {})", log.trim_end().replace('\n', "; "))
    };
    Error::err(format!(
        "{step}: {}{done}",
        error.to_string().trim_start_matches("ERR ")
    ))
}

/// What `CLUSTER.FIX` may do beyond its passes.
#[derive(Clone, Copy, Debug, Default)]
pub struct FixOptions {
    /// `FORGET-DEAD`: write off the nodes the cluster marked fail ([`crate::dead`]).
    pub forget_dead: bool,
    /// `MOVE-STRAYS`: move keys found outside their slot's owner to it ([`crate::strays`]);
    /// without it they are only reported.
    pub move_strays: bool,
}

/// `CLUSTER.FIX`: gives uncovered slots an owner (a node whose cluster is down refuses
/// migrated keys, so this comes first), leaves multiply-owned slots with one, then closes
/// open slots, moving keys to the owner; re-reads the cluster between passes; last reports
/// (or, with `MOVE-STRAYS`, moves) keys outside their slot's owner; then waits for agreement
/// and checks again.
pub fn fix(job: &Job, seed: &Addr, options: FixOptions) -> Result<Report> {
    let FixOptions {
        forget_dead,
        move_strays,
    } = options;
    let started = Instant::now();
    job.progress("reading the nodes");
    let mut view = check_view(seed)?;
    let mut log = String::new();
    let mut actions = Vec::new();
    if forget_dead && !view.unreachable.is_empty() {
        crate::dead::forget_dead(job, &view, &mut log, &mut actions)
            .map_err(|e| step_failed("writing off the dead nodes", &e, &log))?;
        // The passes below must not run on a view some node has not caught up with: a slot
        // it still shows uncovered would be given away from its new owner.
        view = wait_for_agreement(seed, migrate::AGREEMENT_TIMEOUT).map_err(|e| {
            Error::err(format!(
                "{} after writing off the dead nodes ({}); run CLUSTER.FIX again",
                e.to_string().trim_start_matches("ERR "),
                log.trim_end().replace('\n', "; ")
            ))
        })?;
        // With every slot owned again, give the nodes a moment to turn cluster_state:ok (a
        // node whose cluster is down refuses MIGRATE); best effort: the passes retry anyway.
        if examine(&view).uncovered.is_empty()
            && let Ok(settled) = topology::wait_for(seed, FIX_SETTLE, "", |v| {
                v.agree() && v.views.iter().all(|nv| nv.info.state_ok())
            })
        {
            view = settled;
        }
    }
    // An unreachable master's slots look uncovered: giving them to another master would make
    // it drop their keys when it hears of the change (redis-cli refuses this too).
    if let Some((addr, error)) = view.unreachable.first() {
        return Err(Error::err(format!(
            "cannot fix while {addr} is unreachable ({error}); bring it back, or if it will not \
             come back, CLUSTER.FIX FORGET-DEAD"
        )));
    }
    let mut keys_moved = 0;
    let passes: [(&str, FixPass); 3] = [
        ("covering slots", fix_uncovered),
        ("fixing slots with several owners", fix_multi_owner),
        ("closing open slots", fix_open_slots),
    ];
    for (name, pass) in passes {
        let done_before = actions.len();
        let findings = examine(&view);
        let mut conns = master_conns(&view)?;
        pass(
            job,
            &view,
            &findings,
            &mut conns,
            &mut log,
            &mut actions,
            &mut keys_moved,
        )
        .map_err(|e| step_failed(name, &e, &log))?;
        if actions.len() > done_before {
            view = wait_for_agreement(seed, FIX_SETTLE).or_else(|_| ClusterView::gather(seed))?;
        }
    }
    // Last, on the view the passes left: keys outside their slot's owner.
    let mut conns = master_conns(&view)?;
    crate::strays::fix_strays(
        job,
        &view,
        &examine(&view),
        &mut conns,
        move_strays,
        (&mut log, &mut actions, &mut keys_moved),
    )
    .map_err(|e| step_failed("moving keys outside their owner", &e, &log))?;
    if log.is_empty() {
        log.push_str("Nothing to fix.\n");
    }
    job.progress("waiting for the nodes to agree");
    let after = wait_for_agreement(seed, migrate::AGREEMENT_TIMEOUT)
        .or_else(|_| ClusterView::gather(seed))?;
    let report = check_report(&after);
    let elapsed = started.elapsed().as_millis() as u64;
    let text = format!("{log}{}", report.text);
    let mut json = report.json;
    json["actions"] = Json::Array(actions);
    json["keys_moved"] = json!(keys_moved);
    json["elapsed_ms"] = json!(elapsed);
    Ok(Report::new(text, json))
}

/// Of `candidates` (or, if none, every reachable master), the one with most keys in the slot.
fn most_keys(
    counts: &BTreeMap<String, i64>,
    candidates: &[String],
    conns: &BTreeMap<String, Conn>,
) -> Result<String> {
    let pool: Vec<&String> = if candidates.is_empty() {
        conns.keys().collect()
    } else {
        candidates
            .iter()
            .filter(|c| conns.contains_key(*c))
            .collect()
    };
    pool.into_iter()
        .max_by_key(|id| counts.get(*id).copied().unwrap_or(0))
        .cloned()
        .ok_or_else(|| Error::err("no reachable master to own the slot"))
}

/// Makes `owner` the one claimant of `slot`: the other claimants drop it (keeping its keys,
/// which are gathered afterwards); an owner that does not claim it yet adds it; the owner
/// bumps its epoch so its claim wins.
fn claim(
    conns: &mut BTreeMap<String, Conn>,
    owner: &str,
    slot: u16,
    claimed: &[String],
) -> Result<()> {
    let slot_text = slot.to_string();
    for id in claimed.iter().filter(|id| id.as_str() != owner) {
        if let Some(conn) = conns.get_mut(id) {
            conn.cmd(&["CLUSTER", "DELSLOTS", &slot_text])?;
        }
    }
    let conn = conns
        .get_mut(owner)
        .ok_or_else(|| Error::err(format!("owner {owner} is not reachable")))?;
    if !claimed.iter().any(|id| id == owner) {
        // An importing node cannot ADDSLOTS a slot it imports: close it first.
        let _ = conn.cmd_raw(&["CLUSTER", "SETSLOT", &slot_text, "STABLE"]);
        let reply = conn.cmd_raw(&["CLUSTER", "ADDSLOTS", &slot_text])?;
        if let Some(e) = value_error(&reply) {
            return Err(Error::err(format!("{}: ADDSLOTS {slot}: {e}", conn.addr)));
        }
    }
    conn.cmd(&["CLUSTER", "BUMPEPOCH"])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ranges_text;

    #[test]
    fn compresses_ranges() {
        assert_eq!(ranges_text(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(ranges_text(&[]), "");
    }
}
