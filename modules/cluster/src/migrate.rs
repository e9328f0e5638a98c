//! Moving slots: `CLUSTER.RESHARD`, `CLUSTER.REBALANCE`, and the slot mover both (and
//! `CLUSTER.FIX`) use.
//!
//! A slot moves in the order that keeps an interruption repairable: the target is set
//! IMPORTING first, then the source MIGRATING; the keys go in pipelined `MIGRATE ... KEYS`
//! batches (one call per slot, many keys each); then the target, the source and every other
//! master learn the new owner with `SETSLOT NODE`, target first. Slots move in batches (many
//! in flight at once on the same source/target pair, each command pipelined), and different
//! source/target pairs move in parallel. The cluster must agree on its configuration before
//! and after.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rm::{Error, Result};
use serde_json::json;

use crate::jobs::{Job, Report};
use crate::topology::{self, Addr, ClusterView, Conn, Node, command, value_error};

/// How long the cluster may take to agree before and after a step.
pub const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(20);
/// Slots opened at once on one source/target pair.
const SLOT_BATCH: usize = 128;
/// Keys fetched (and migrated) per slot per round.
const KEYS_PER_ROUND: usize = 1000;
/// `MIGRATE` timeout (ms).
pub const MIGRATE_TIMEOUT_MS: u64 = 10_000;
/// How long a pipeline of `MIGRATE`s may take to answer.
pub const MIGRATE_READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a reshard takes slots from.
#[derive(Clone, Debug)]
pub enum Sources {
    /// Every master except the target, in proportion to their slots.
    All,
    /// One master, by id, id prefix or address.
    Node(String),
}

/// `CLUSTER.REBALANCE` options.
#[derive(Clone, Debug)]
pub struct RebalanceOptions {
    /// Per-node weights (id, id prefix or address → weight); others weigh 1.
    pub weights: Vec<(String, f64)>,
    /// Give slots to masters that have none (otherwise they are left out).
    pub use_empty_masters: bool,
    /// Only rebalance when some master is off its share by more than this percentage.
    pub threshold: f64,
    /// Plan only, move nothing.
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

/// One slot to move.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotMove {
    /// The slot.
    pub slot: u16,
    /// The master that owns it now (id).
    pub source: String,
    /// The master that gets it (id).
    pub target: String,
}

/// What a move did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveStats {
    /// Slots moved.
    pub slots: u64,
    /// Keys moved.
    pub keys: u64,
    /// How long the nodes took to agree once the slots had moved.
    pub agreement_ms: u64,
}

/// What to do when the target already holds a key being migrated (`BUSYKEY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBusy {
    /// Overwrite it: the source's copy is the live one (the slot is migrating away from the
    /// source, so every write to an existing key went there).
    Replace,
    /// The target's copy is the live one: drop the source's copy only where both are equal,
    /// fail (keeping both) where they differ.
    KeepTarget,
}

/// Moves every key of `slots` from `source` to `target`, slot by slot, pipelined. The slots
/// must be open on the source (migrating or importing) so that it runs `MIGRATE` for them.
/// Returns the number of keys moved.
pub fn move_keys(
    job: &Job,
    source: &mut Conn,
    target: &Addr,
    slots: &[u16],
    on_busy: OnBusy,
) -> Result<u64> {
    source.set_timeout(MIGRATE_READ_TIMEOUT)?;
    let port = target.port.to_string();
    let timeout = MIGRATE_TIMEOUT_MS.to_string();
    let mut pending: Vec<u16> = slots.to_vec();
    let mut moved = 0u64;
    let mut recounts = 0;
    let mut down_since: Option<Instant> = None;
    loop {
        if pending.is_empty() {
            // Every slot's last round came back short, so it should be empty: new keys of an
            // open slot go to the target (ASK). Count anyway before the slots change hands: a
            // key that reached the source meanwhile (a script's undeclared key, a module)
            // would make the source refuse SETSLOT NODE.
            pending = nonempty_slots(source, slots)?;
            if pending.is_empty() {
                break;
            }
            recounts += 1;
            if recounts > MAX_RECOUNTS {
                return Err(Error::err(format!(
                    "{}: keys keep arriving in slot {} while it migrates to {target}",
                    source.addr, pending[0]
                )));
            }
        }
        let count = KEYS_PER_ROUND.to_string();
        let lists = source.pipeline(
            &pending
                .iter()
                .map(|slot| command(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), &count]))
                .collect::<Vec<_>>(),
        )?;
        let mut batch: Vec<(u16, Vec<Vec<u8>>)> = Vec::new();
        for (slot, list) in pending.iter().zip(lists) {
            if let Some(e) = value_error(&list) {
                return Err(Error::err(format!(
                    "{}: GETKEYSINSLOT {slot}: {e}",
                    source.addr
                )));
            }
            let keys = key_list(&list);
            if !keys.is_empty() {
                batch.push((*slot, keys));
            }
        }
        let migrate = |keys: &[Vec<u8>], replace: bool| {
            let mut args: Vec<Vec<u8>> = command(&["MIGRATE", &target.host, &port, "", "0"]);
            args.push(timeout.clone().into_bytes());
            if replace {
                args.push(b"REPLACE".to_vec());
            }
            args.push(b"KEYS".to_vec());
            args.extend(keys.iter().cloned());
            args
        };
        let replies = source.pipeline(
            &batch
                .iter()
                .map(|(_, keys)| migrate(keys, false))
                .collect::<Vec<_>>(),
        )?;
        let mut next = Vec::new();
        let mut down = false;
        for ((slot, keys), reply) in batch.iter().zip(replies) {
            match value_error(&reply) {
                None => down_since = None,
                // A node turned cluster_state:fail for a moment (one it counts failed after a
                // takeover, a busy machine): the slot is tried again next round, for as long
                // as the cluster has been down less than CLUSTERDOWN_WAIT.
                Some(e)
                    if e.contains("CLUSTERDOWN")
                        && down_since.get_or_insert_with(Instant::now).elapsed()
                            < CLUSTERDOWN_WAIT =>
                {
                    down = true;
                    next.push(*slot);
                    continue;
                }
                Some(e) if e.contains("BUSYKEY") => match on_busy {
                    OnBusy::Replace => {
                        let reply = source.cmd_raw(&migrate(keys, true))?;
                        if let Some(e) = value_error(&reply) {
                            return Err(Error::err(format!(
                                "{}: MIGRATE of slot {slot} to {target}: {e}",
                                source.addr
                            )));
                        }
                    }
                    OnBusy::KeepTarget => resolve_busy(source, target, keys)?,
                },
                Some(e) => {
                    return Err(Error::err(format!(
                        "{}: MIGRATE of slot {slot} to {target}: {e}",
                        source.addr
                    )));
                }
            }
            moved += keys.len() as u64;
            job.add("keys_moved", keys.len() as u64);
            // A slot that filled a whole round may hold more; the others are empty now (new
            // keys of an open slot go to the target by ASK, never to the source).
            if keys.len() >= KEYS_PER_ROUND {
                next.push(*slot);
            }
        }
        if down {
            std::thread::sleep(CLUSTERDOWN_PAUSE);
        }
        pending = next;
    }
    source.set_timeout(topology::READ_TIMEOUT)?;
    Ok(moved)
}

/// How long [`move_keys`] keeps trying a target that answers `CLUSTERDOWN`, and how often.
const CLUSTERDOWN_WAIT: Duration = Duration::from_secs(10);
const CLUSTERDOWN_PAUSE: Duration = Duration::from_millis(100);

/// How often [`move_keys`] goes back for keys that arrived in a slot it had emptied.
const MAX_RECOUNTS: usize = 10;

/// The slots of `slots` that still hold keys on the node (`CLUSTER COUNTKEYSINSLOT`).
pub fn nonempty_slots(conn: &mut Conn, slots: &[u16]) -> Result<Vec<u16>> {
    let counts = conn.pipeline(
        &slots
            .iter()
            .map(|slot| command(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]))
            .collect::<Vec<_>>(),
    )?;
    let mut nonempty = Vec::new();
    for (slot, count) in slots.iter().zip(counts) {
        match count {
            redis::Value::Int(0) => {}
            redis::Value::Int(_) => nonempty.push(*slot),
            other => {
                return Err(Error::err(format!(
                    "{}: COUNTKEYSINSLOT {slot}: unexpected reply {other:?}",
                    conn.addr
                )));
            }
        }
    }
    Ok(nonempty)
}

fn key_list(value: &redis::Value) -> Vec<Vec<u8>> {
    match value {
        redis::Value::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                redis::Value::BulkString(bytes) => Some(bytes.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Keys the target holds already: migrate the others one at a time; where the target has a
/// key, drop the source's copy if both serialise equal, else fail leaving both in place.
fn resolve_busy(source: &mut Conn, target: &Addr, keys: &[Vec<u8>]) -> Result<()> {
    let mut target_conn = Conn::open(target)?;
    for key in keys {
        let mut args = command(&["MIGRATE", &target.host, &target.port.to_string(), ""]);
        args.push(b"0".to_vec());
        args.push(MIGRATE_TIMEOUT_MS.to_string().into_bytes());
        args.push(b"KEYS".to_vec());
        args.push(key.clone());
        let reply = source.cmd_raw(&args)?;
        let Some(e) = value_error(&reply) else {
            continue;
        };
        if !e.contains("BUSYKEY") {
            return Err(Error::err(format!(
                "{}: MIGRATE to {target}: {e}",
                source.addr
            )));
        }
        // ASKING on both sides: a node whose slot is importing (a FIX gathering keys on the
        // owner) answers MOVED without it.
        let ours = source
            .cmd_raw(&[b"ASKING".as_slice()])
            .and_then(|_| source.cmd_raw(&[b"DUMP".as_slice(), key]))?;
        let theirs = target_conn
            .cmd_raw(&[b"ASKING".as_slice()])
            .and_then(|_| target_conn.cmd_raw(&[b"DUMP".as_slice(), key]))?;
        // Dropped only when both copies were read and are equal (two failed DUMPs are not
        // "equal").
        let same = matches!(
            (dump_payload(&ours), dump_payload(&theirs)),
            (Some(a), Some(b)) if a == b
        );
        if same {
            source.cmd(&[b"ASKING".as_slice()])?;
            source.cmd(&[b"DEL".as_slice(), key])?;
        } else {
            return Err(Error::err(format!(
                "key '{}' exists on {} and {target} with different values; both kept, resolve by hand",
                String::from_utf8_lossy(key),
                source.addr
            )));
        }
    }
    Ok(())
}

/// A DUMP payload without its trailing RDB version and checksum (servers of different versions
/// dump equal values with different trailers).
pub fn dump_payload(value: &redis::Value) -> Option<Vec<u8>> {
    match value {
        redis::Value::BulkString(bytes) if bytes.len() >= 10 => {
            Some(bytes[..bytes.len() - 10].to_vec())
        }
        _ => None,
    }
}

/// Sends `commands` to a connection, failing on the first error reply.
///
/// Valkey replicates `SETSLOT` to the master's replicas and refuses it (`NOREPLICAS`, not
/// applied) when they do not acknowledge in time: such commands are sent again, a few times.
fn pipeline_ok(conn: &mut Conn, commands: &[Vec<Vec<u8>>], what: &str) -> Result<()> {
    let mut pending: Vec<Vec<Vec<u8>>> = commands.to_vec();
    for attempt in 0..10 {
        let mut retry = Vec::new();
        for (command, reply) in pending.iter().zip(conn.pipeline(&pending)?) {
            let Some(e) = value_error(&reply) else {
                continue;
            };
            // A master that gave away its last slot turns into a replica of the new owner
            // (cluster-allow-replica-migration); it needs no SETSLOT NODE any more.
            if what == "SETSLOT NODE" && e.contains("only with masters") {
                continue;
            }
            if e.starts_with("NOREPLICAS") && attempt < 9 {
                retry.push(command.clone());
                continue;
            }
            return Err(Error::err(format!("{}: {what}: {e}", conn.addr)));
        }
        if retry.is_empty() {
            return Ok(());
        }
        pending = retry;
        std::thread::sleep(topology::POLL);
    }
    Ok(())
}

/// Connections per node for `SETSLOT` pipelines.
const LANES: usize = 8;

/// Several connections to one node. Valkey makes every `SETSLOT` wait until the master's
/// replicas acknowledge it, one command at a time per client: spread over lanes, the waits
/// overlap. (Slots of one batch are independent, so their order does not matter.)
struct Lanes(Vec<Conn>);

impl Lanes {
    fn open_n(addr: &Addr, lanes: usize) -> Result<Lanes> {
        (0..lanes)
            .map(|_| Conn::open(addr))
            .collect::<Result<_>>()
            .map(Lanes)
    }

    /// The first connection, for everything that is not a `SETSLOT` batch.
    fn first(&mut self) -> &mut Conn {
        &mut self.0[0]
    }

    /// Sends `commands` split over the lanes at once; fails on any error reply.
    fn pipeline_ok(&mut self, commands: &[Vec<Vec<u8>>], what: &str) -> Result<()> {
        self.pipeline_ok_grouped(commands, 1, what)
    }

    /// As [`Lanes::pipeline_ok`], keeping each run of `group` commands on one connection, in
    /// order.
    fn pipeline_ok_grouped(
        &mut self,
        commands: &[Vec<Vec<u8>>],
        group: usize,
        what: &str,
    ) -> Result<()> {
        if commands.len() < 2 * LANES * group {
            return pipeline_ok(self.first(), commands, what);
        }
        let per_lane = commands.len().div_ceil(self.0.len()).div_ceil(group) * group;
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .0
                .iter_mut()
                .zip(commands.chunks(per_lane))
                .map(|(conn, part)| s.spawn(move || pipeline_ok(conn, part, what)))
                .collect();
            join_setslot_workers(handles)
        })?;
        Ok(())
    }
}

/// The slot of a `CLUSTER SETSLOT <slot> ...` command.
fn slot_of(setslot: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&setslot[2]).into_owned()
}

/// Connections to every master a move touches, opened once per move: [`lanes_per_master`]
/// each (the first also carries the keys), keyed by id.
fn open_masters(view: &ClusterView, ids: &[&str]) -> Result<BTreeMap<String, Lanes>> {
    let lanes = lanes_per_master(ids.len());
    let opened = topology::parallel_n(ids.to_vec(), CONNECTS_AT_ONCE, |id| {
        let addr = view.require_addr(id)?;
        Ok((id.to_owned(), Lanes::open_n(&addr, lanes)?))
    });
    opened
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::err("connecting to the masters panicked"))))
        .collect()
}

/// Lanes per master: [`LANES`] for a few masters, fewer for many (about 128 connections in
/// all), at least 2.
fn lanes_per_master(masters: usize) -> usize {
    (LANES * 16 / masters.max(1)).clamp(2, LANES)
}

/// Masters connected to at once.
const CONNECTS_AT_ONCE: usize = 32;

/// Runs `work` on every `(id, item)` at once, each with the id's lanes; the first error wins.
fn on_masters<T: Send>(
    conns: &mut BTreeMap<String, Lanes>,
    items: BTreeMap<&str, T>,
    work: impl Fn(&mut Lanes, T) -> Result<()> + Sync,
) -> Result<()> {
    let mut jobs = Vec::new();
    let mut items = items;
    for (id, lanes) in conns.iter_mut() {
        if let Some(item) = items.remove(id.as_str()) {
            jobs.push((lanes, item));
        }
    }
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(lanes, item)| s.spawn(move || work(lanes, item)))
            .collect();
        join_setslot_workers(handles)
    })
}

/// Moves one batch (at most [`SLOT_BATCH`] slots per source/target pair), every step on every
/// node at once: `IMPORTING` on the targets, `MIGRATING` on the sources, the keys (each
/// source's pairs one after the other, the sources in parallel), `SETSLOT NODE` on the
/// targets, then on every other master. The round trips per batch do not grow with the
/// number of pairs or masters.
fn move_batch(
    job: &Job,
    view: &ClusterView,
    conns: &mut BTreeMap<String, Lanes>,
    batch: &[SlotMove],
) -> Result<u64> {
    let mut clock = Instant::now();
    let mut lap = |name: &'static str| {
        job.add(name, clock.elapsed().as_micros() as u64);
        clock = Instant::now();
    };
    let mut importing: BTreeMap<&str, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
    let mut migrating: BTreeMap<&str, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
    let mut pairs: BTreeMap<&str, BTreeMap<&str, Vec<u16>>> = BTreeMap::new();
    for m in batch {
        let slot = m.slot.to_string();
        importing.entry(&m.target).or_default().push(command(&[
            "CLUSTER",
            "SETSLOT",
            &slot,
            "IMPORTING",
            &m.source,
        ]));
        migrating.entry(&m.source).or_default().push(command(&[
            "CLUSTER",
            "SETSLOT",
            &slot,
            "MIGRATING",
            &m.target,
        ]));
        pairs
            .entry(&m.source)
            .or_default()
            .entry(&m.target)
            .or_default()
            .push(m.slot);
    }
    on_masters(conns, importing, |lanes, cmds| {
        lanes.pipeline_ok(&cmds, "SETSLOT IMPORTING")
    })?;
    lap("us_importing");
    on_masters(conns, migrating, |lanes, cmds| {
        lanes.pipeline_ok(&cmds, "SETSLOT MIGRATING")
    })?;
    lap("us_migrating");
    let mut targets = BTreeMap::new();
    for m in batch {
        targets.insert(m.target.as_str(), view.require_addr(&m.target)?);
    }
    let moved = std::sync::atomic::AtomicU64::new(0);
    on_masters(conns, pairs, |lanes, by_target| {
        for (target, slots) in by_target {
            let keys = move_keys(
                job,
                lanes.first(),
                &targets[target],
                &slots,
                OnBusy::Replace,
            )?;
            moved.fetch_add(keys, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    })?;
    lap("us_keys");
    // The target first: SETSLOT NODE there bumps its epoch, so the new owner wins everywhere.
    // A target still importing the slot also broadcasts a pong to every node for each such
    // SETSLOT, and every node walks all 16384 slots of each: O(slots x nodes x 16384) work,
    // most of a move's time at 25+25 nodes. So only a target's first and last slot are given
    // to it while importing: the first bumps its epoch above every source's (from then on it
    // ignores a source's stale claim, which could otherwise take back a slot it no longer
    // imports), the last broadcasts every slot it owns now. Each slot in between is made
    // STABLE first, then given to it (the same connection, one after the other).
    let mut node_target: BTreeMap<&str, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
    let mut node_others: BTreeMap<&str, Vec<Vec<Vec<u8>>>> = BTreeMap::new();
    let ids: Vec<String> = conns.keys().cloned().collect();
    for m in batch {
        let node = command(&["CLUSTER", "SETSLOT", &m.slot.to_string(), "NODE", &m.target]);
        node_target.entry(&m.target).or_default().push(node.clone());
        for id in ids.iter().filter(|id| **id != m.target) {
            node_others
                .entry(id.as_str())
                .or_default()
                .push(node.clone());
        }
    }
    on_masters(conns, node_target, |lanes, mut nodes| {
        let last = (nodes.len() > 1).then(|| nodes.pop()).flatten();
        let rest = nodes.split_off(1);
        pipeline_ok(lanes.first(), &nodes, "SETSLOT NODE")?;
        let quiet: Vec<Vec<Vec<u8>>> = rest
            .into_iter()
            .flat_map(|node| {
                let stable = command(&["CLUSTER", "SETSLOT", &slot_of(&node), "STABLE"]);
                [stable, node]
            })
            .collect();
        lanes.pipeline_ok_grouped(&quiet, 2, "SETSLOT NODE")?;
        match last {
            Some(last) => pipeline_ok(lanes.first(), &[last], "SETSLOT NODE"),
            None => Ok(()),
        }
    })?;
    lap("us_node_target");
    on_masters(conns, node_others, |lanes, cmds| {
        lanes.pipeline_ok(&cmds, "SETSLOT NODE")
    })?;
    lap("us_node_others");
    Ok(moved.into_inner())
}

/// Moves every slot in `moves` in batches of at most [`SLOT_BATCH`] slots per source/target
/// pair (all pairs in each batch), then waits for the cluster to agree. `view` must be a
/// current, agreeing view.
pub fn move_slots(job: &Job, view: &ClusterView, moves: &[SlotMove]) -> Result<MoveStats> {
    let mut pairs: BTreeMap<(&str, &str), Vec<&SlotMove>> = BTreeMap::new();
    for m in moves {
        pairs
            .entry((m.source.as_str(), m.target.as_str()))
            .or_default()
            .push(m);
    }
    // Batch k holds the k-th chunk of every pair.
    let mut batches: Vec<Vec<SlotMove>> = Vec::new();
    for slots in pairs.values() {
        for (k, chunk) in slots.chunks(SLOT_BATCH).enumerate() {
            if batches.len() <= k {
                batches.push(Vec::new());
            }
            batches[k].extend(chunk.iter().map(|m| (*m).clone()));
        }
    }
    job.set("slots_total", moves.len() as u64);
    let mut stats = MoveStats::default();
    if !moves.is_empty() {
        let masters = view.masters();
        let ids: Vec<&str> = masters.iter().map(|m| m.id.as_str()).collect();
        let mut conns = open_masters(view, &ids)?;
        for batch in &batches {
            match move_batch(job, view, &mut conns, batch) {
                Ok(keys) => {
                    stats.keys += keys;
                    stats.slots += batch.len() as u64;
                    job.add("slots_moved", batch.len() as u64);
                    job.progress(format!("moved {}/{} slots", stats.slots, moves.len()));
                }
                Err(e) => {
                    // The job's counters: the batch that failed may have moved some keys.
                    let counters = job.info().counters;
                    let counted = |name| counters.get(name).copied().unwrap_or(0);
                    return Err(Error::err(format!(
                        "{} (moved {} slots, {} keys before it; CLUSTER.FIX closes the open slots)",
                        e.to_string().trim_start_matches("ERR "),
                        counted("slots_moved"),
                        counted("keys_moved")
                    )));
                }
            }
        }
    }
    // Done once every node, replicas too, shows the moved slots closed (`--cluster check`
    // right after sees no open slot).
    job.progress("waiting for the nodes to agree");
    let moved_at = Instant::now();
    let slots: BTreeSet<u16> = moves.iter().map(|m| m.slot).collect();
    crate::settle::wait_for_closed(&view.seed, &slots, AGREEMENT_TIMEOUT)?;
    stats.agreement_ms = moved_at.elapsed().as_millis() as u64;
    Ok(stats)
}

/// Gathers the cluster from `seed` and waits until the nodes agree, refusing to work on a
/// cluster with open slots or unreachable nodes.
pub fn ready_view(job: &Job, seed: &Addr) -> Result<ClusterView> {
    job.progress("waiting for the nodes to agree");
    // A node whose cluster_state is not ok refuses the keys (CLUSTERDOWN): a master that just
    // joined stays down for up to a node timeout.
    let view = topology::wait_for(
        seed,
        AGREEMENT_TIMEOUT,
        "nodes don't agree about configuration or are not all cluster_state:ok",
        |v| v.agree() && v.views.iter().all(|nv| nv.info.state_ok()),
    )?;
    if let Some((node, slot, _, _)) = view.open_slots().first() {
        return Err(Error::err(format!(
            "slot {slot} is open on {node}: run CLUSTER.FIX first"
        )));
    }
    if let Some(node) = view.nodes().iter().find(|n| n.is_failing()) {
        return Err(Error::err(format!(
            "node {} ({}) is failing: fix the cluster first",
            node.addr_text(),
            node.id
        )));
    }
    Ok(view)
}

fn master<'v>(view: &'v ClusterView, what: &str, role: &str) -> Result<&'v Node> {
    let node = view.find(what)?;
    // The node's own line is authoritative for its slots and role.
    let node = view
        .selves()
        .into_iter()
        .map(|(_, me)| me)
        .find(|me| me.id == node.id)
        .ok_or_else(|| Error::err(format!("{role} node {what} is not reachable")))?;
    if !node.is_master() {
        return Err(Error::err(format!("{role} node {what} is not a master")));
    }
    Ok(node)
}

fn stats_report(
    what: &str,
    stats: &MoveStats,
    started: Instant,
    extra: serde_json::Value,
) -> Report {
    let elapsed = started.elapsed().as_millis() as u64;
    let text = format!(
        "{what}: moved {} slots and {} keys in {elapsed} ms\n[OK] All nodes agree about slots configuration.\n",
        stats.slots, stats.keys
    );
    let mut json = json!({
        "ok": true,
        "slots_moved": stats.slots,
        "keys_moved": stats.keys,
        "elapsed_ms": elapsed,
        "agreement_ms": stats.agreement_ms,
    });
    if let (Some(map), serde_json::Value::Object(extra)) = (json.as_object_mut(), extra) {
        map.extend(extra);
    }
    Report::new(text, json)
}

/// `CLUSTER.RESHARD`: moves `count` slots to `to` from `from` (lowest slots first; from ALL
/// in proportion to each master's slots).
pub fn reshard(job: &Job, seed: &Addr, from: &Sources, to: &str, count: usize) -> Result<Report> {
    let started = Instant::now();
    let view = ready_view(job, seed)?;
    let target = master(&view, to, "target")?;
    let sources: Vec<&Node> = match from {
        Sources::All => view
            .masters()
            .into_iter()
            .filter(|m| m.id != target.id && m.slot_count() > 0)
            .collect(),
        Sources::Node(what) => {
            let source = master(&view, what, "source")?;
            if source.id == target.id {
                return Err(Error::err("source and target are the same node"));
            }
            vec![source]
        }
    };
    let available: usize = sources.iter().map(|s| s.slot_count()).sum();
    if available < count {
        return Err(Error::err(format!(
            "the source nodes hold {available} slots, fewer than the {count} asked for"
        )));
    }
    // Each source gives in proportion to what it holds; the remainder goes to the biggest.
    let mut shares: Vec<usize> = sources
        .iter()
        .map(|s| count * s.slot_count() / available)
        .collect();
    let mut left = count - shares.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sources[i].slot_count()));
    while left > 0 {
        for &i in &order {
            if left > 0 && shares[i] < sources[i].slot_count() {
                shares[i] += 1;
                left -= 1;
            }
        }
    }
    let mut moves = Vec::new();
    for (source, share) in sources.iter().zip(shares) {
        moves.extend(
            source
                .slot_list()
                .into_iter()
                .take(share)
                .map(|slot| SlotMove {
                    slot,
                    source: source.id.clone(),
                    target: target.id.clone(),
                }),
        );
    }
    job.progress(format!("moving {} slots", moves.len()));
    let stats = move_slots(job, &view, &moves)?;
    Ok(stats_report(
        &format!("reshard to {} ({})", target.addr_text(), target.id),
        &stats,
        started,
        json!({ "target": target.id }),
    ))
}

/// One master's place in a rebalance plan.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Share {
    id: String,
    addr: String,
    slots: Vec<u16>,
    expected: i64,
    balance: i64,
}

/// `CLUSTER.REBALANCE`: moves slots so every master holds slots in proportion to its weight.
pub fn rebalance(job: &Job, seed: &Addr, options: &RebalanceOptions) -> Result<Report> {
    let started = Instant::now();
    let view = ready_view(job, seed)?;
    let masters = view.masters();
    let mut weights: BTreeMap<String, f64> = BTreeMap::new();
    for (what, weight) in &options.weights {
        let node = view.find(what)?;
        if !masters.iter().any(|m| m.id == node.id) {
            return Err(Error::err(format!("weighted node {what} is not a master")));
        }
        weights.insert(node.id.clone(), *weight);
    }
    let members: Vec<&Node> = masters
        .iter()
        .copied()
        .filter(|m| options.use_empty_masters || m.slot_count() > 0 || weights.contains_key(&m.id))
        .collect();
    let weight_of = |m: &Node| weights.get(&m.id).copied().unwrap_or(1.0);
    let total_weight: f64 = members.iter().map(|m| weight_of(m)).sum();
    if total_weight <= 0.0 {
        return Err(Error::err("the total weight of the masters is zero"));
    }
    let total_slots = f64::from(topology::SLOTS);
    let mut shares: Vec<Share> = members
        .iter()
        .map(|m| {
            let expected = (total_slots * weight_of(m) / total_weight).floor() as i64;
            Share {
                id: m.id.clone(),
                addr: m.addr_text(),
                slots: m.slot_list(),
                expected,
                balance: m.slot_count() as i64 - expected,
            }
        })
        .collect();
    let over_threshold = shares.iter().any(|s| {
        let count = s.slots.len() as f64;
        let expected = s.expected as f64;
        if expected == 0.0 {
            count > 0.0
        } else {
            ((count - expected) / expected * 100.0).abs() > options.threshold
        }
    });
    let mut plan: Vec<(String, String, usize)> = Vec::new();
    if over_threshold {
        // Rounding down leaves a few slots over: the nodes with weight keep them, lowest
        // balance first, so the balances sum to zero.
        let mut excess: i64 = shares.iter().map(|s| s.balance).sum();
        shares.sort_by_key(|s| s.balance);
        for share in shares
            .iter_mut()
            .filter(|s| weight_of_id(&weights, &s.id) > 0.0)
        {
            if excess <= 0 {
                break;
            }
            share.balance -= 1;
            excess -= 1;
        }
        let mut balances: Vec<(String, i64)> =
            shares.iter().map(|s| (s.id.clone(), s.balance)).collect();
        loop {
            balances.sort_by_key(|b| b.1);
            let (first, last) = (0, balances.len() - 1);
            if balances.len() < 2 || balances[first].1 >= 0 || balances[last].1 <= 0 {
                break;
            }
            let n = (-balances[first].1).min(balances[last].1);
            plan.push((
                balances[last].0.clone(),
                balances[first].0.clone(),
                n as usize,
            ));
            balances[first].1 += n;
            balances[last].1 -= n;
        }
    }
    let mut moves = Vec::new();
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    for (source, target, n) in &plan {
        let share = shares
            .iter()
            .find(|s| &s.id == source)
            .expect("planned source");
        let offset = taken.entry(source.clone()).or_insert(0);
        moves.extend(
            share.slots[*offset..*offset + n]
                .iter()
                .map(|&slot| SlotMove {
                    slot,
                    source: source.clone(),
                    target: target.clone(),
                }),
        );
        *offset += n;
    }
    let addr_of = |id: &str| {
        shares
            .iter()
            .find(|s| s.id == id)
            .map_or(String::new(), |s| s.addr.clone())
    };
    let mut text = String::new();
    let plan_json: Vec<serde_json::Value> = plan
        .iter()
        .map(|(source, target, n)| {
            text.push_str(&format!(
                "Moving {n} slots from {} to {}\n",
                addr_of(source),
                addr_of(target)
            ));
            json!({"from": source, "from_addr": addr_of(source), "to": target, "to_addr": addr_of(target), "slots": n})
        })
        .collect();
    if plan.is_empty() {
        let text = format!(
            "*** No rebalancing needed! All nodes are within the {}% threshold.\n",
            options.threshold
        );
        return Ok(Report::new(
            text,
            json!({"ok": true, "simulate": options.simulate, "plan": [], "slots_moved": 0, "keys_moved": 0}),
        ));
    }
    if options.simulate {
        text.push_str(&format!("SIMULATE: {} slots would move\n", moves.len()));
        return Ok(Report::new(
            text,
            json!({"ok": true, "simulate": true, "plan": plan_json, "slots_moved": 0, "keys_moved": 0}),
        ));
    }
    job.progress(format!("moving {} slots", moves.len()));
    let stats = move_slots(job, &view, &moves)?;
    let mut report = stats_report(
        "rebalance",
        &stats,
        started,
        json!({"plan": plan_json, "simulate": false}),
    );
    report.text = text + &report.text;
    Ok(report)
}

fn weight_of_id(weights: &BTreeMap<String, f64>, id: &str) -> f64 {
    weights.get(id).copied().unwrap_or(1.0)
}

/// Waits for every SETSLOT worker; the first error (a panic counts as one) wins.
fn join_setslot_workers(handles: Vec<std::thread::ScopedJoinHandle<'_, Result<()>>>) -> Result<()> {
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::err("SETSLOT worker panicked")))
        })
        .collect::<Result<Vec<()>>>()
        .map(drop)
}
