//! One poll of a watched cluster merged into a [`Snapshot`], and the [`changes`] between two
//! snapshots: the events a watcher records.
//!
//! Pure functions over parsed `CLUSTER NODES` / `CLUSTER INFO` views, so the event rules are
//! unit-tested without servers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};

use crate::topology::{Addr, NodeView, SLOTS};

/// How the cluster judges a node, merged over every reachable node's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// No reachable node flags it.
    Ok,
    /// Some node flags it `fail?` (PFAIL: that node cannot reach it), none `fail`.
    Pfail,
    /// Some node flags it `fail` (the cluster agreed it failed).
    Fail,
}

impl Health {
    /// `ok`, `pfail` or `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Pfail => "pfail",
            Health::Fail => "fail",
        }
    }
}

/// One node in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// Node id.
    pub id: String,
    /// Client address (`None` if no view knows one).
    pub addr: Option<Addr>,
    /// A master (else a replica).
    pub master: bool,
    /// The master's id, for a replica.
    pub master_id: Option<String>,
    /// Slot ranges it serves.
    pub slots: Vec<(u16, u16)>,
    /// Its configuration epoch.
    pub config_epoch: u64,
    /// How the cluster judges it.
    pub health: Health,
    /// How many reachable nodes flag it `fail?` or `fail`.
    pub flagged_by: usize,
    /// Whether the watcher read its own view in this poll.
    pub reachable: bool,
    /// Role, slots and epoch come from its own view (else from another node's).
    pub self_reported: bool,
}

impl NodeState {
    /// `host:port`, or `-` when unknown.
    pub fn addr_text(&self) -> String {
        self.addr.as_ref().map_or("-".to_owned(), Addr::to_string)
    }
}

/// The cluster as one poll saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every node any reachable node lists (handshakes excepted), by id.
    pub nodes: BTreeMap<String, NodeState>,
    /// The highest `cluster_current_epoch` reported.
    pub current_epoch: u64,
    /// How many nodes the watcher read.
    pub reachable: usize,
    /// How many of them report `cluster_state:ok`.
    pub state_ok: usize,
    /// Slots no healthy master serves (owner unknown or failed), as ranges.
    pub uncovered: Vec<(u16, u16)>,
    /// Addresses the watcher could not read, with the error.
    pub unreachable: Vec<(Addr, String)>,
    /// Some reachable node has a slot open (migrating or importing): slots are moving.
    pub moving: bool,
}

impl Snapshot {
    /// Merges the views read in one poll (`views`) and the addresses that did not answer.
    ///
    /// A node's role, slots and epoch come from its own view when the watcher reached it,
    /// else from the first view (in address order) that lists it; its health from every view.
    ///
    /// A node no other node lists is not in the cluster (any more): `CLUSTER.DELNODE` resets
    /// the node it removes, which then lists only itself. Its view is left out, and so is it.
    pub fn merge(views: &[NodeView], unreachable: Vec<(Addr, String)>) -> Snapshot {
        let listed: BTreeSet<&str> = views
            .iter()
            .flat_map(|v| v.nodes.iter())
            .filter(|n| !n.flags.myself && !n.flags.handshake)
            .map(|n| n.id.as_str())
            .collect();
        let mut views: Vec<&NodeView> = {
            let members: Vec<&NodeView> =
                views.iter().filter(|v| listed.contains(v.id())).collect();
            // Nobody listed by another (one reachable member and a reset node, say): keep
            // every view rather than none.
            if members.is_empty() {
                views.iter().collect()
            } else {
                members
            }
        };
        views.sort_by(|a, b| a.addr.cmp(&b.addr));
        let mut nodes: BTreeMap<String, NodeState> = BTreeMap::new();
        let mut fail_by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for view in &views {
            for node in view.nodes.iter().filter(|n| !n.flags.handshake) {
                let own = node.flags.myself;
                let state = NodeState {
                    id: node.id.clone(),
                    addr: if own {
                        Some(view.addr.clone())
                    } else {
                        node.addr.clone()
                    },
                    master: node.is_master(),
                    master_id: node.master_id.clone(),
                    slots: node.slots.clone(),
                    config_epoch: node.config_epoch,
                    health: Health::Ok,
                    flagged_by: 0,
                    reachable: own,
                    self_reported: own,
                };
                match nodes.get_mut(&node.id) {
                    None => {
                        nodes.insert(node.id.clone(), state);
                    }
                    Some(known) if own && !known.self_reported => *known = state,
                    Some(_) => {}
                }
                if !own {
                    let counts = fail_by.entry(node.id.as_str()).or_default();
                    counts.0 += usize::from(node.flags.pfail);
                    counts.1 += usize::from(node.flags.fail);
                }
            }
        }
        for (id, (pfail, fail)) in fail_by {
            if let Some(node) = nodes.get_mut(id) {
                node.flagged_by = pfail + fail;
                node.health = if fail > 0 {
                    Health::Fail
                } else if pfail > 0 {
                    Health::Pfail
                } else {
                    Health::Ok
                };
            }
        }
        // Views are read at slightly different instants: a slot handed over between two
        // reads is in neither owner's own line. Such a slot goes to the master another view
        // gives it to (the handover is then seen as it happens, not as a lost slot).
        // The same for config epochs (which only grow): the highest any view reports.
        for line in views.iter().flat_map(|v| v.nodes.iter()) {
            if let Some(node) = nodes.get_mut(&line.id) {
                node.config_epoch = node.config_epoch.max(line.config_epoch);
            }
        }
        // Where claims differ, the one with the higher config epoch wins, as in the cluster
        // itself (a slot's new owner bumps its epoch as it takes the slot).
        let mut owner: Vec<Option<String>> = vec![None; usize::from(SLOTS)];
        let epoch_of = |id: &str| nodes.get(id).map_or(0, |n| n.config_epoch);
        let lines = nodes.values().map(|n| (n.master, &n.id, &n.slots)).chain(
            views
                .iter()
                .flat_map(|v| v.nodes.iter())
                .map(|n| (n.is_master(), &n.id, &n.slots)),
        );
        for (master, id, slots) in lines {
            if !master || !nodes.contains_key(id) {
                continue;
            }
            for &(a, b) in slots {
                for slot in a..=b.min(SLOTS - 1) {
                    let current = &mut owner[usize::from(slot)];
                    if current
                        .as_deref()
                        .is_none_or(|o| epoch_of(id) > epoch_of(o))
                    {
                        *current = Some(id.clone());
                    }
                }
            }
        }
        for node in nodes.values_mut() {
            let mine: Vec<bool> = owner.iter().map(|o| o.as_ref() == Some(&node.id)).collect();
            node.slots = ranges(&mine.iter().map(|m| !m).collect::<Vec<_>>());
        }
        let covered: Vec<bool> = owner
            .iter()
            .map(|o| {
                o.as_ref()
                    .is_some_and(|id| nodes.get(id).is_some_and(|n| n.health != Health::Fail))
            })
            .collect();
        Snapshot {
            current_epoch: views
                .iter()
                .map(|v| v.info.number("cluster_current_epoch"))
                .max()
                .unwrap_or(0),
            reachable: views.len(),
            state_ok: views.iter().filter(|v| v.info.state_ok()).count(),
            uncovered: ranges(&covered),
            moving: views.iter().any(|v| {
                v.me()
                    .is_some_and(|me| !me.migrating.is_empty() || !me.importing.is_empty())
            }),
            nodes,
            unreachable,
        }
    }

    /// How many slots no healthy master serves.
    pub fn uncovered_count(&self) -> usize {
        self.uncovered
            .iter()
            .map(|&(a, b)| usize::from(b - a) + 1)
            .sum()
    }

    /// Whether the cluster serves every slot: all slots have a healthy master, and most
    /// reachable nodes report `cluster_state:ok` (a node that just restarted reports `fail`
    /// for a while on its own: one node is not the cluster).
    pub fn covered(&self) -> bool {
        self.uncovered.is_empty() && self.state_ok * 2 > self.reachable
    }

    /// `ok` or `fail`, as [`covered`](Snapshot::covered) judges.
    pub fn state_name(&self) -> &'static str {
        if self.covered() { "ok" } else { "fail" }
    }

    /// Node counts: (masters, replicas).
    pub fn roles(&self) -> (usize, usize) {
        let masters = self.nodes.values().filter(|n| n.master).count();
        (masters, self.nodes.len() - masters)
    }

    /// How many nodes are in `health`.
    pub fn count(&self, health: Health) -> usize {
        self.nodes.values().filter(|n| n.health == health).count()
    }

    /// Every address worth polling next time: each known node's.
    pub fn addrs(&self) -> Vec<Addr> {
        self.nodes.values().filter_map(|n| n.addr.clone()).collect()
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        let (masters, replicas) = self.roles();
        format!(
            "{} nodes ({masters} masters, {replicas} replicas), {} reachable, {} pfail, {} fail, \
             {} slots covered, cluster_state {}, current_epoch {}",
            self.nodes.len(),
            self.reachable,
            self.count(Health::Pfail),
            self.count(Health::Fail),
            usize::from(SLOTS) - self.uncovered_count(),
            self.state_name(),
            self.current_epoch
        )
    }
}

/// Inclusive ranges of the `true` entries.
fn ranges(covered: &[bool]) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let mut start = None;
    for (slot, &is_covered) in covered.iter().enumerate() {
        let slot = slot as u16;
        match (is_covered, start) {
            (false, None) => start = Some(slot),
            (true, Some(first)) => {
                out.push((first, slot - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(first) = start {
        out.push((first, SLOTS - 1));
    }
    out
}

/// Ranges as `0-5460,5462`.
pub fn ranges_text(ranges: &[(u16, u16)]) -> String {
    if ranges.is_empty() {
        return "none".to_owned();
    }
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What kind of event: its name in replies, JSON and the INFO counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The watcher started (first poll done).
    WatchStarted,
    /// The watcher stopped.
    WatchStopped,
    /// Some node flags the node `fail?`.
    NodePfail,
    /// Some node flags the node `fail`.
    NodeFail,
    /// No node flags the node any more.
    NodeRecovered,
    /// The watcher cannot read the node.
    NodeUnreachable,
    /// The watcher reads the node again.
    NodeReachable,
    /// A replica took over its master's slots.
    Failover,
    /// A node changed role or master otherwise.
    RoleChanged,
    /// Some slots lost their healthy master, or most nodes report `cluster_state:fail`.
    CoverageLost,
    /// Every slot is served again and most nodes report `cluster_state:ok`.
    CoverageRestored,
    /// The cluster's `currentEpoch` changed.
    EpochChanged,
    /// A master's `configEpoch` changed.
    ConfigEpochChanged,
    /// A node joined.
    NodeAdded,
    /// A node is no longer listed by any node.
    NodeRemoved,
    /// Slots changed owner from one healthy master to another (a reshard or rebalance).
    SlotsMoved,
}

impl Kind {
    /// Every kind, in the order of the INFO counters.
    pub const ALL: [Kind; 16] = [
        Kind::WatchStarted,
        Kind::WatchStopped,
        Kind::NodePfail,
        Kind::NodeFail,
        Kind::NodeRecovered,
        Kind::NodeUnreachable,
        Kind::NodeReachable,
        Kind::Failover,
        Kind::RoleChanged,
        Kind::CoverageLost,
        Kind::CoverageRestored,
        Kind::EpochChanged,
        Kind::ConfigEpochChanged,
        Kind::NodeAdded,
        Kind::NodeRemoved,
        Kind::SlotsMoved,
    ];

    /// The kind named `name` (as [`Kind::name`] gives it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The name, e.g. `node_pfail`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::WatchStarted => "watch_started",
            Kind::WatchStopped => "watch_stopped",
            Kind::NodePfail => "node_pfail",
            Kind::NodeFail => "node_fail",
            Kind::NodeRecovered => "node_recovered",
            Kind::NodeUnreachable => "node_unreachable",
            Kind::NodeReachable => "node_reachable",
            Kind::Failover => "failover",
            Kind::RoleChanged => "role_changed",
            Kind::CoverageLost => "coverage_lost",
            Kind::CoverageRestored => "coverage_restored",
            Kind::EpochChanged => "epoch_changed",
            Kind::ConfigEpochChanged => "config_epoch_changed",
            Kind::NodeAdded => "node_added",
            Kind::NodeRemoved => "node_removed",
            Kind::SlotsMoved => "slots_moved",
        }
    }
}

/// An event before it gets its sequence number, time and watcher.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// What happened.
    pub kind: Kind,
    /// The node it happened to (`-` for the whole cluster).
    pub node: String,
    /// Its address (`-` if unknown or the whole cluster).
    pub addr: String,
    /// A human-readable account.
    pub details: String,
    /// The same facts for scripts.
    pub data: Json,
}

impl Change {
    fn node(kind: Kind, node: &NodeState, details: String, data: Json) -> Change {
        Change {
            kind,
            node: node.id.clone(),
            addr: node.addr_text(),
            details,
            data,
        }
    }

    fn cluster(kind: Kind, details: String, data: Json) -> Change {
        Change {
            kind,
            node: "-".to_owned(),
            addr: "-".to_owned(),
            details,
            data,
        }
    }
}

fn describe(snapshot: &Snapshot, id: &str) -> String {
    match snapshot.nodes.get(id) {
        Some(node) => format!("{} ({id})", node.addr_text()),
        None => id.to_owned(),
    }
}

/// The changes from `before` to `after`, in causal order when several happened between two
/// polls: nodes joining or leaving, then health (pfail, fail, recovered), reachability, roles
/// (failover), config epochs, and last the whole cluster (epoch, coverage); nodes in id order
/// within each.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    let mut phases: [Vec<Change>; 4] = Default::default();
    for node in after.nodes.values() {
        let Some(old) = before.nodes.get(&node.id) else {
            let role = if node.master { "master" } else { "replica" };
            out.push(Change::node(
                Kind::NodeAdded,
                node,
                format!("joined as a {role}"),
                json!({ "role": role }),
            ));
            continue;
        };
        node_changes(before, after, old, node, &mut phases);
    }
    for old in before.nodes.values() {
        if !after.nodes.contains_key(&old.id) {
            out.push(Change::node(
                Kind::NodeRemoved,
                old,
                "no node lists it any more".to_owned(),
                json!({}),
            ));
        }
    }
    let moves = slot_moves(before, after);
    // A slot handed over bumps its new owner's config epoch and the cluster's current
    // epoch: those are told in the move, not as one epoch event per slot.
    // While slots are moving (some node has one open), every epoch change is a slot move's.
    let failover = phases[2].iter().any(|c| c.kind == Kind::Failover);
    let moving = !failover && (!moves.is_empty() || before.moving || after.moving);
    let movers: BTreeSet<&str> = moves.keys().flat_map(|(from, to)| [*from, *to]).collect();
    phases[3].retain(|c| {
        c.kind != Kind::ConfigEpochChanged || !(moving || movers.contains(c.node.as_str()))
    });
    out.extend(phases.into_iter().flatten());
    for ((from, to), slots) in &moves {
        let count: usize = slots.iter().map(|&(a, b)| usize::from(b - a) + 1).sum();
        let to_node = after.nodes.get(*to).expect("an owner in the snapshot");
        out.push(Change::node(
            Kind::SlotsMoved,
            to_node,
            format!(
                "{count} slots ({}) moved from {} to {}",
                ranges_text(slots),
                describe(after, from),
                describe(after, to)
            ),
            json!({
                "from": from,
                "from_addr": after.nodes.get(*from).map(NodeState::addr_text),
                "to": to,
                "to_addr": to_node.addr_text(),
                "count": count,
                "slots": ranges_text(slots),
                "current_epoch": { "from": before.current_epoch, "to": after.current_epoch },
            }),
        ));
    }
    if before.current_epoch != after.current_epoch && !moving {
        out.push(Change::cluster(
            Kind::EpochChanged,
            format!(
                "current_epoch {} -> {}",
                before.current_epoch, after.current_epoch
            ),
            json!({ "from": before.current_epoch, "to": after.current_epoch }),
        ));
    }
    let coverage = json!({
        "uncovered_slots": after.uncovered_count(),
        "uncovered": ranges_text(&after.uncovered),
        "state_ok_nodes": after.state_ok,
        "reachable_nodes": after.reachable,
    });
    match (before.covered(), after.covered()) {
        (true, false) => {
            // Slots still assigned, to a master the cluster flags fail, are not "uncovered":
            // say whose they are.
            let failed: Vec<String> = after
                .nodes
                .values()
                .filter(|n| n.master && n.health == Health::Fail && !n.slots.is_empty())
                .map(|n| format!("{} is flagged fail", describe(after, &n.id)))
                .collect();
            let whose = if failed.is_empty() {
                String::new()
            } else {
                format!("; {}", failed.join(", "))
            };
            out.push(Change::cluster(
                Kind::CoverageLost,
                format!(
                    "{} slots without a healthy master ({}{whose}), cluster_state:ok on {}/{} \
                     reachable nodes",
                    after.uncovered_count(),
                    ranges_text(&after.uncovered),
                    after.state_ok,
                    after.reachable
                ),
                coverage,
            ));
        }
        (false, true) => out.push(Change::cluster(
            Kind::CoverageRestored,
            format!(
                "all {SLOTS} slots covered, cluster_state:ok on {}/{} reachable nodes",
                after.state_ok, after.reachable
            ),
            coverage,
        )),
        _ => {}
    }
    out
}

/// Slot → the master serving it, from each master's line.
fn slot_owners(snapshot: &Snapshot) -> Vec<Option<&str>> {
    let mut owners = vec![None; usize::from(SLOTS)];
    for node in snapshot.nodes.values().filter(|n| n.master) {
        for &(a, b) in &node.slots {
            for slot in a..=b.min(SLOTS - 1) {
                owners[usize::from(slot)] = Some(node.id.as_str());
            }
        }
    }
    owners
}

/// Slots that went from one master to another that was not its replica (a failover is told
/// as such), grouped by (from, to) into ranges.
fn slot_moves<'s>(
    before: &'s Snapshot,
    after: &'s Snapshot,
) -> BTreeMap<(&'s str, &'s str), Vec<(u16, u16)>> {
    let (old, new) = (slot_owners(before), slot_owners(after));
    let took_over = |from: &str, to: &str| {
        before
            .nodes
            .get(to)
            .is_some_and(|n| !n.master && n.master_id.as_deref() == Some(from))
    };
    let mut moves: BTreeMap<(&str, &str), Vec<(u16, u16)>> = BTreeMap::new();
    for slot in 0..SLOTS {
        let (Some(from), Some(to)) = (old[usize::from(slot)], new[usize::from(slot)]) else {
            continue;
        };
        if from == to || took_over(from, to) || !after.nodes.contains_key(from) {
            continue;
        }
        let ranges = moves.entry((from, to)).or_default();
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == slot => *end = slot,
            _ => ranges.push((slot, slot)),
        }
    }
    moves
}

fn node_changes(
    before: &Snapshot,
    after: &Snapshot,
    old: &NodeState,
    node: &NodeState,
    phases: &mut [Vec<Change>; 4],
) {
    let [health, reach, role, epoch] = phases;
    let flagged = json!({ "flagged_by": node.flagged_by });
    match (old.health, node.health) {
        (Health::Ok, Health::Pfail) => health.push(Change::node(
            Kind::NodePfail,
            node,
            format!("flagged fail? by {} node(s)", node.flagged_by),
            flagged,
        )),
        (Health::Ok, Health::Fail) => {
            // The cluster marks FAIL only after PFAIL; both happened between two polls.
            health.push(Change::node(
                Kind::NodePfail,
                node,
                "flagged fail? (and fail already, between two polls)".to_owned(),
                flagged.clone(),
            ));
            health.push(Change::node(
                Kind::NodeFail,
                node,
                format!("flagged fail by the cluster ({} node(s))", node.flagged_by),
                flagged,
            ));
        }
        (Health::Pfail, Health::Fail) => health.push(Change::node(
            Kind::NodeFail,
            node,
            format!("flagged fail by the cluster ({} node(s))", node.flagged_by),
            flagged,
        )),
        (Health::Pfail | Health::Fail, Health::Ok) => {
            let role = if node.master {
                "master".to_owned()
            } else {
                format!(
                    "replica of {}",
                    node.master_id
                        .as_deref()
                        .map_or("-".to_owned(), |m| describe(after, m))
                )
            };
            health.push(Change::node(
                Kind::NodeRecovered,
                node,
                format!("no longer flagged {}, now a {role}", old.health.name()),
                json!({ "was": old.health.name(), "role": if node.master { "master" } else { "replica" }, "master": node.master_id }),
            ));
        }
        _ => {}
    }
    match (old.reachable, node.reachable) {
        (true, false) => {
            let error = node
                .addr
                .as_ref()
                .and_then(|a| after.unreachable.iter().find(|(u, _)| u == a))
                .map_or("no reply", |(_, e)| e.as_str());
            reach.push(Change::node(
                Kind::NodeUnreachable,
                node,
                format!("the watcher cannot read it: {error}"),
                json!({ "error": error }),
            ));
        }
        (false, true) => reach.push(Change::node(
            Kind::NodeReachable,
            node,
            "the watcher reads it again".to_owned(),
            json!({}),
        )),
        _ => {}
    }
    if !old.master && node.master {
        match &old.master_id {
            Some(old_master) => role.push(Change::node(
                Kind::Failover,
                node,
                format!(
                    "{} -> {}: the replica took over slots {}",
                    describe(before, old_master),
                    describe(after, &node.id),
                    ranges_text(&node.slots)
                ),
                json!({
                    "old_master": old_master,
                    "old_master_addr": before.nodes.get(old_master).map(NodeState::addr_text),
                    "new_master": node.id,
                    "new_master_addr": node.addr_text(),
                    "slots": ranges_text(&node.slots),
                }),
            )),
            None => role.push(Change::node(
                Kind::RoleChanged,
                node,
                "replica -> master".to_owned(),
                json!({ "from": "replica", "to": "master" }),
            )),
        }
    } else if old.master && !node.master {
        let master = node.master_id.as_deref().unwrap_or("-");
        role.push(Change::node(
            Kind::RoleChanged,
            node,
            format!("master -> replica of {}", describe(after, master)),
            json!({ "from": "master", "to": "replica", "master": master }),
        ));
    } else if !node.master && old.master_id != node.master_id {
        let (from, to) = (
            old.master_id.as_deref().unwrap_or("-"),
            node.master_id.as_deref().unwrap_or("-"),
        );
        role.push(Change::node(
            Kind::RoleChanged,
            node,
            format!(
                "replica of {} -> replica of {}",
                describe(before, from),
                describe(after, to)
            ),
            json!({ "from": "replica", "to": "replica", "old_master": from, "master": to }),
        ));
    }
    if node.master && old.config_epoch != node.config_epoch {
        epoch.push(Change::node(
            Kind::ConfigEpochChanged,
            node,
            format!("config_epoch {} -> {}", old.config_epoch, node.config_epoch),
            json!({ "from": old.config_epoch, "to": node.config_epoch }),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{ClusterInfo, parse_nodes};

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
    const R: &str = "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr";

    /// A view read from node `port` of lines `(id, port, flags, master, epoch, slots)`.
    fn view(
        me: u16,
        lines: &[(&str, u16, &str, &str, u64, &str)],
        state: &str,
        epoch: u64,
    ) -> NodeView {
        let text: String = lines
            .iter()
            .map(|(id, port, flags, master, config_epoch, slots)| {
                let flags = if *port == me {
                    format!("myself,{flags}")
                } else {
                    (*flags).to_owned()
                };
                format!(
                    "{id} 127.0.0.1:{port}@1{port} {flags} {master} 0 0 {config_epoch} connected {slots}\n"
                )
            })
            .collect();
        NodeView {
            addr: Addr::parse(&format!("127.0.0.1:{me}")).unwrap(),
            nodes: parse_nodes(&text).unwrap(),
            info: ClusterInfo::parse(&format!(
                "cluster_state:{state}\r\ncluster_current_epoch:{epoch}\r\n"
            )),
        }
    }

    fn healthy() -> Vec<(
        &'static str,
        u16,
        &'static str,
        &'static str,
        u64,
        &'static str,
    )> {
        vec![
            (A, 7000, "master", "-", 1, "0-5460"),
            (B, 7001, "master", "-", 2, "5461-10922"),
            (C, 7002, "master", "-", 3, "10923-16383"),
            (R, 7003, "slave", A, 1, ""),
        ]
    }

    fn kinds(changes: &[Change]) -> Vec<(&'static str, &str)> {
        changes
            .iter()
            .map(|c| (c.kind.name(), &c.node[..1]))
            .collect()
    }

    #[test]
    fn a_healthy_cluster_is_covered_and_quiet() {
        let lines = healthy();
        let views: Vec<NodeView> = [7000, 7001, 7002, 7003]
            .iter()
            .map(|&p| view(p, &lines, "ok", 3))
            .collect();
        let snapshot = Snapshot::merge(&views, Vec::new());
        assert!(snapshot.covered());
        assert_eq!(snapshot.roles(), (3, 1));
        assert_eq!(snapshot.count(Health::Ok), 4);
        assert!(
            snapshot
                .nodes
                .values()
                .all(|n| n.reachable && n.self_reported)
        );
        assert_eq!(changes(&snapshot, &snapshot), Vec::new());
    }

    #[test]
    fn a_master_failing_over_to_its_replica() {
        let lines = healthy();
        let all = [7000, 7001, 7002, 7003];
        let before = Snapshot::merge(
            &all.iter()
                .map(|&p| view(p, &lines, "ok", 3))
                .collect::<Vec<_>>(),
            Vec::new(),
        );
        // A dies: the others flag it fail?, the watcher cannot read it.
        let mut pfail = lines.clone();
        pfail[0].2 = "master,fail?";
        let gone = vec![(Addr::parse("127.0.0.1:7000").unwrap(), "refused".to_owned())];
        let others = [7001, 7002, 7003];
        let step1 = Snapshot::merge(
            &others
                .iter()
                .map(|&p| view(p, &pfail, "ok", 3))
                .collect::<Vec<_>>(),
            gone.clone(),
        );
        assert_eq!(
            kinds(&changes(&before, &step1)),
            [("node_pfail", "a"), ("node_unreachable", "a")]
        );
        assert!(!step1.nodes[A].self_reported && step1.covered());
        // The cluster agrees: fail, its slots are uncovered.
        let mut fail = lines.clone();
        fail[0].2 = "master,fail";
        let step2 = Snapshot::merge(
            &others
                .iter()
                .map(|&p| view(p, &fail, "fail", 3))
                .collect::<Vec<_>>(),
            gone.clone(),
        );
        assert_eq!(
            kinds(&changes(&step1, &step2)),
            [("node_fail", "a"), ("coverage_lost", "-")]
        );
        assert_eq!(step2.uncovered, vec![(0, 5460)]);
        // R takes over with a new epoch.
        let mut over = fail.clone();
        over[0] = (A, 7000, "master,fail", "-", 1, "");
        over[3] = (R, 7003, "master", "-", 4, "0-5460");
        let step3 = Snapshot::merge(
            &others
                .iter()
                .map(|&p| view(p, &over, "ok", 4))
                .collect::<Vec<_>>(),
            gone,
        );
        let found = changes(&step2, &step3);
        assert_eq!(
            kinds(&found),
            [
                ("failover", "r"),
                ("config_epoch_changed", "r"),
                ("epoch_changed", "-"),
                ("coverage_restored", "-")
            ]
        );
        assert_eq!(found[0].data["old_master"], A);
        assert_eq!(found[0].data["new_master"], R);
        assert_eq!(found[0].data["slots"], "0-5460");
        // A comes back as R's replica.
        let mut back = over.clone();
        back[0] = (A, 7000, "slave", R, 4, "");
        let step4 = Snapshot::merge(
            &all.iter()
                .map(|&p| view(p, &back, "ok", 4))
                .collect::<Vec<_>>(),
            Vec::new(),
        );
        assert_eq!(
            kinds(&changes(&step3, &step4)),
            [
                ("node_recovered", "a"),
                ("node_reachable", "a"),
                ("role_changed", "a")
            ]
        );
    }

    #[test]
    fn fail_seen_at_once_is_reported_after_pfail() {
        let lines = healthy();
        let before = Snapshot::merge(&[view(7001, &lines, "ok", 3)], Vec::new());
        let mut fail = lines.clone();
        fail[0].2 = "master,fail";
        let after = Snapshot::merge(&[view(7001, &fail, "ok", 3)], Vec::new());
        assert_eq!(
            kinds(&changes(&before, &after)),
            [
                ("node_pfail", "a"),
                ("node_fail", "a"),
                ("coverage_lost", "-")
            ]
        );
    }

    #[test]
    fn one_restarting_node_reporting_fail_is_not_lost_coverage() {
        let lines = healthy();
        let views: Vec<NodeView> = [(7000, "fail"), (7001, "ok"), (7002, "ok")]
            .iter()
            .map(|&(p, s)| view(p, &lines, s, 3))
            .collect();
        assert!(Snapshot::merge(&views, Vec::new()).covered());
    }

    #[test]
    fn nodes_joining_and_leaving() {
        let lines = healthy();
        let before = Snapshot::merge(&[view(7001, &lines[..3], "ok", 3)], Vec::new());
        let after = Snapshot::merge(&[view(7001, &lines[1..], "ok", 3)], Vec::new());
        assert_eq!(
            kinds(&changes(&before, &after)),
            [
                ("node_added", "r"),
                ("node_removed", "a"),
                ("coverage_lost", "-")
            ]
        );
    }

    #[test]
    fn a_removed_node_listing_only_itself_is_not_a_member() {
        let lines = healthy();
        let all = [7000, 7001, 7002, 7003];
        let before = Snapshot::merge(
            &all.iter()
                .map(|&p| view(p, &lines, "ok", 3))
                .collect::<Vec<_>>(),
            Vec::new(),
        );
        // R was removed: the others forgot it, it was reset and lists only itself.
        let rest = &lines[..3];
        let mut views: Vec<NodeView> = [7000, 7001, 7002]
            .iter()
            .map(|&p| view(p, rest, "ok", 3))
            .collect();
        views.push(view(7003, &[(R, 7003, "master", "-", 0, "")], "fail", 0));
        let after = Snapshot::merge(&views, Vec::new());
        assert_eq!(after.nodes.len(), 3);
        assert_eq!((after.reachable, after.state_ok), (3, 3));
        assert_eq!(kinds(&changes(&before, &after)), [("node_removed", "r")]);
        assert!(!after.addrs().iter().any(|a| a.port == 7003));
    }

    #[test]
    fn a_slot_between_owners_is_covered_and_its_move_is_one_event() {
        let lines = healthy();
        let nodes = [7000, 7001, 7002, 7003];
        let before = Snapshot::merge(
            &nodes
                .iter()
                .map(|&p| view(p, &lines, "ok", 3))
                .collect::<Vec<_>>(),
            Vec::new(),
        );
        // Slots 0-99 go from A to B. A's line has given them away already; B read before
        // taking them; only C's view shows B as their owner.
        let mut given = lines.clone();
        given[0].5 = "100-5460";
        let mut taken = given.clone();
        taken[1] = (B, 7001, "master", "-", 5, "0-99 5461-10922");
        let during = Snapshot::merge(
            &[
                view(7000, &given, "ok", 3),
                view(7001, &given, "ok", 3),
                view(7002, &taken, "ok", 5),
                view(7003, &given, "ok", 3),
            ],
            Vec::new(),
        );
        assert!(during.covered(), "{:?}", during.uncovered);
        // One slots_moved event, no epoch events.
        let found = changes(&before, &during);
        assert_eq!(kinds(&found), [("slots_moved", "b")]);
        assert_eq!(found[0].data["from"], A);
        assert_eq!(found[0].data["to"], B);
        assert_eq!(found[0].data["count"], 100);
        assert_eq!(found[0].data["slots"], "0-99");
        assert_eq!(
            found[0].data["current_epoch"],
            json!({ "from": 3, "to": 5 })
        );
        // Every view has it now: nothing new.
        let after = Snapshot::merge(
            &nodes
                .iter()
                .map(|&p| view(p, &taken, "ok", 5))
                .collect::<Vec<_>>(),
            Vec::new(),
        );
        assert_eq!(kinds(&changes(&during, &after)), Vec::<(&str, &str)>::new());
    }

    #[test]
    fn slots_of_a_failed_master_are_named_as_its() {
        let lines = healthy();
        let before = Snapshot::merge(&[view(7001, &lines, "ok", 3)], Vec::new());
        let mut fail = lines.clone();
        fail[0].2 = "master,fail";
        let after = Snapshot::merge(&[view(7001, &fail, "fail", 3)], Vec::new());
        let lost = changes(&before, &after).pop().unwrap();
        assert_eq!(lost.kind, Kind::CoverageLost);
        assert_eq!(
            lost.details,
            format!(
                "5461 slots without a healthy master (0-5460; 127.0.0.1:7000 ({A}) is flagged \
                 fail), cluster_state:ok on 0/1 reachable nodes"
            )
        );
    }

    #[test]
    fn slot_ranges() {
        let mut covered = vec![true; usize::from(SLOTS)];
        covered[0] = false;
        covered[5] = false;
        covered[6] = false;
        covered[16383] = false;
        assert_eq!(ranges(&covered), vec![(0, 0), (5, 6), (16383, 16383)]);
        assert_eq!(ranges_text(&ranges(&covered)), "0,5-6,16383");
        assert_eq!(ranges_text(&[]), "none");
    }
}
