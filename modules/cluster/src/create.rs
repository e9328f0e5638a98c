//! `CLUSTER.CREATE`: a cluster from empty nodes.
//!
//! Masters are picked alternating between hosts, replicas are placed on hosts other than
//! their master's where possible. The reply comes when every node reports `cluster_state:ok`,
//! agrees on the slots and every replica's link to its master is up.
//!
//! Why the masters start as replicas: a master turns `cluster_state:ok` only a node timeout
//! (clamped to 0.5–5 s) after it last counted itself in a minority, which an empty node does
//! until it learns who owns slots; a replica turns ok at once. So each master's slots go first
//! to its first replica, its *partner*; the master replicates its partner, turns ok as a replica
//! as soon as it sees every slot covered, then takes its slots over (`CLUSTER FAILOVER
//! TAKEOVER`) and stays ok; the partner, a master left without slots, follows it as a replica.
//! Every node gets a distinct config epoch first; takeovers go one at a time, each after the
//! master has heard of the previous one's epoch (a takeover bumps the epoch without agreement).
//! The nodes are empty, so no data moves and nothing waits for a failure detection; the result is
//! the layout asked for. Without replicas (`REPLICAS 0`) masters take their slots directly and
//! wait out the delay, as with redis-cli.
//!
//! Steps: `ADDSLOTSRANGE` on the slot holders and `SET-CONFIG-EPOCH` everywhere; a full mesh
//! of `MEET`s, holders first (a node learns a holder's slots from the ping that completes the
//! handshake the node started); each master `REPLICATE`s its partner once it knows it; once every
//! node has a link to every other and every master is ok, the takeovers; then the other
//! replicas `REPLICATE` their masters.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rm::{Error, Result};
use serde_json::json;

use crate::jobs::{Job, Report};
use redis::Value;

use crate::topology::{
    self, Addr, ClusterInfo, ClusterView, Conn, NodeView, POLL, SLOTS, value_error, wait_for,
};

/// The cluster node timeout (ms) while the cluster is created (see [`TemporarySettings`]):
/// the servers' default.
const CREATE_NODE_TIMEOUT: u64 = 15_000;

/// How long the nodes may take to join and link.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks the arguments before a job starts: at least 3 masters, no address twice.
pub fn validate(addrs: &[Addr], replicas: usize) -> Result<()> {
    let masters = replicas
        .checked_add(1)
        .map_or(0, |per_master| addrs.len() / per_master);
    if masters < 3 {
        return Err(Error::err(format!(
            "a cluster needs at least 3 masters: {} nodes with {replicas} replicas each give {masters}",
            addrs.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for addr in addrs {
        if !seen.insert(addr) {
            return Err(Error::err(format!("{addr} is listed twice")));
        }
    }
    Ok(())
}

/// The layout: masters in order, and each replica with its master's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Master addresses; master `i` gets the `i`-th slot range.
    pub masters: Vec<Addr>,
    /// (replica, index of its master).
    pub replicas: Vec<(Addr, usize)>,
}

/// Picks masters and replicas: nodes are interleaved by host (so masters spread over hosts),
/// the first `n / (replicas + 1)` are masters; each replica goes to a master on another host
/// where possible, masters taking turns; nodes left over become extra replicas.
pub fn layout(addrs: &[Addr], replicas: usize) -> Layout {
    let master_count = addrs.len() / (replicas + 1);
    let mut by_host: BTreeMap<&str, Vec<&Addr>> = BTreeMap::new();
    let mut host_order = Vec::new();
    for addr in addrs {
        if !by_host.contains_key(addr.host.as_str()) {
            host_order.push(addr.host.as_str());
        }
        by_host.entry(&addr.host).or_default().push(addr);
    }
    let mut interleaved = Vec::new();
    let mut round = 0;
    while interleaved.len() < addrs.len() {
        for host in &host_order {
            if let Some(addr) = by_host[host].get(round) {
                interleaved.push((*addr).clone());
            }
        }
        round += 1;
    }
    let masters: Vec<Addr> = interleaved[..master_count].to_vec();
    // The rest, still interleaved by host, go to the masters in turn, shifted by one (with
    // several hosts) so a replica lands on the next host; then swaps fix what still shares a
    // host.
    let shift = usize::from(host_order.len() > 1);
    let mut assigned: Vec<(Addr, usize)> = interleaved[master_count..]
        .iter()
        .enumerate()
        .map(|(j, replica)| (replica.clone(), (j + shift) % master_count))
        .collect();
    let clash = |replica: &Addr, master: usize| replica.host == masters[master].host;
    for i in 0..assigned.len() {
        if !clash(&assigned[i].0, assigned[i].1) {
            continue;
        }
        let swap = (0..assigned.len()).find(|&j| {
            j != i && !clash(&assigned[i].0, assigned[j].1) && !clash(&assigned[j].0, assigned[i].1)
        });
        if let Some(j) = swap {
            let (mi, mj) = (assigned[i].1, assigned[j].1);
            assigned[i].1 = mj;
            assigned[j].1 = mi;
        }
    }
    Layout {
        masters,
        replicas: assigned,
    }
}

/// The slot ranges of `masters` masters, as even as possible.
pub fn slot_ranges(masters: usize) -> Vec<(u16, u16)> {
    let total = usize::from(SLOTS);
    (0..masters)
        .map(|i| {
            let first = i * total / masters;
            let last = (i + 1) * total / masters - 1;
            (first as u16, last as u16)
        })
        .collect()
}

/// For each master, the index (in `layout.replicas`) of its first replica: the partner that
/// holds the master's slots until the master takes them over.
fn partners(layout: &Layout) -> Vec<Option<usize>> {
    (0..layout.masters.len())
        .map(|m| layout.replicas.iter().position(|(_, of)| *of == m))
        .collect()
}

/// How soon [`poll`] asks again at first: the steps it waits for often take a few milliseconds.
/// It backs off to [`POLL`].
const FAST_POLL: Duration = Duration::from_millis(2);

/// Asks `ready` until it returns `Some`, every [`FAST_POLL`] at first, backing off to
/// [`POLL`]; `Err(ERR <addr>: <what> in time)` at the deadline.
fn poll<T>(
    conn: &mut Conn,
    deadline: Instant,
    what: &str,
    ready: impl FnMut(&mut Conn) -> Result<Option<T>>,
) -> Result<T> {
    poll_up_to(conn, deadline, what, POLL, ready)
}

/// [`poll`], backing off to `slowest`.
fn poll_up_to<T>(
    conn: &mut Conn,
    deadline: Instant,
    what: &str,
    slowest: Duration,
    mut ready: impl FnMut(&mut Conn) -> Result<Option<T>>,
) -> Result<T> {
    let mut pause = FAST_POLL;
    loop {
        if let Some(done) = ready(conn)? {
            return Ok(done);
        }
        if Instant::now() >= deadline {
            return Err(Error::err(format!("{}: {what} in time", conn.addr)));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(slowest);
    }
}

/// Replication settings changed while the cluster is created and set back when dropped. Every
/// first sync is of an empty dataset, so how it is done changes nothing but its speed:
/// - `repl-diskless-sync-delay` (every node; default 5 s): a master waits that long for more
///   replicas before a diskless full sync; each master's first sync (to its partner, then its
///   replicas' to it) would wait it out: 5.7 s of a CREATE on default settings. Set to 0.
/// - `repl-diskless-load` (replicas; default `disabled`): Valkey 9 saves a full sync to disk on
///   a thread and notices the end only at its next once-a-second replication cron: up to a
///   second per replica. Set to `on-empty-db`.
/// - `cluster-node-timeout` (every node, when masters start as replicas): a node pings every
///   node it has not heard from in half the timeout, each ping and pong ~2 KB of slot bitmap
///   plus gossip that every node parses. With 1 s, 50 nodes sent ~28k bus messages in a
///   2 s CREATE (CLUSTER INFO's stats), the CPU the handshakes and the takeover chain wait
///   for. Raised to [`CREATE_NODE_TIMEOUT`] while the nodes are empty and unused (no failure
///   to detect) until the takeovers are done; its other use, the rejoin delay, applies only
///   to a master that turns ok, which these masters do as replicas. Not with `REPLICAS 0`:
///   those masters wait out that delay.
struct TemporarySettings {
    /// (node, setting, its value before).
    changed: Vec<(Addr, &'static str, String)>,
}

impl TemporarySettings {
    /// Sets `name` to `value` on each node of `conns` where `change(current)` holds; a node
    /// that refuses `CONFIG` is left alone.
    fn apply(
        &mut self,
        conns: &mut [Conn],
        name: &'static str,
        value: &str,
        change: impl Fn(&str) -> bool + Sync,
    ) {
        let changed = on_all(conns, |_, conn| {
            let current = match conn.cmd(&["CONFIG", "GET", name]) {
                Ok(Value::Array(pair)) if pair.len() == 2 => topology::value_text(&pair[1]),
                _ => None,
            };
            Ok(current.filter(|c| change(c)).and_then(|before| {
                conn.cmd(&["CONFIG", "SET", name, value])
                    .is_ok()
                    .then(|| (conn.addr.clone(), name, before))
            }))
        })
        .map(|changed| changed.into_iter().flatten().collect::<Vec<_>>())
        .unwrap_or_default();
        self.changed.extend(changed);
    }
}

impl TemporarySettings {
    /// Sets `name` back now on every node where it was changed.
    fn restore(&mut self, name: &str) {
        let (now, later) = std::mem::take(&mut self.changed)
            .into_iter()
            .partition(|(_, n, _)| *n == name);
        self.changed = later;
        Self::set_back(now);
    }

    fn set_back(changed: Vec<(Addr, &'static str, String)>) {
        topology::parallel(changed, |(addr, name, before)| {
            // Best effort: a node that went away keeps nothing of it after a restart.
            let _ = Conn::open(&addr).and_then(|mut c| c.cmd(&["CONFIG", "SET", name, &before]));
        });
    }
}

impl Drop for TemporarySettings {
    fn drop(&mut self) {
        Self::set_back(std::mem::take(&mut self.changed));
    }
}

/// Has each master of `swapped` (indices into `conns`, masters first) take its slots over from
/// its partner, once every node has a link to every other and the masters see every slot.
fn take_over(
    job: &Job,
    conns: &mut [Conn],
    swapped: &[usize],
    all: &BTreeSet<&str>,
    deadline: Instant,
    mark: &mut impl FnMut(&'static str),
) -> Result<()> {
    job.progress("waiting for the masters to see every slot covered");
    // Every node should have its own link to every other before a takeover, so that the new
    // owner's claim reaches a node before the old owner's news that it turned replica (which
    // uncovers the slots there: a master whose state drops to fail waits out the rejoin delay
    // again). Best effort: a link listed as connected may still be connecting; a master that
    // loses that race costs time, and the final wait covers it.
    // Every node reads CLUSTER NODES (all nodes' lines) at once: at 50 nodes, every 10 ms
    // would keep a core of a small machine busy and slow the handshakes it waits for.
    let slowest = POLL * (all.len() as u32 / 12).max(1);
    on_all(conns, |i, conn| {
        poll_up_to(conn, deadline, "nodes did not meet", slowest, |conn| {
            let view = NodeView::read(conn)?;
            let meshed = view.nodes.len() == all.len()
                && view.nodes.iter().all(|n| {
                    all.contains(n.id.as_str())
                        && !n.flags.handshake
                        && (n.connected || n.flags.myself)
                });
            let ready = meshed && (!swapped.contains(&i) || view.info.state_ok());
            Ok(ready.then_some(()))
        })
    })?;
    mark("meshed");
    job.progress("masters taking over their slots");
    let mut epoch = 0;
    let mut by_script = true;
    for &i in swapped {
        // A takeover bumps the config epoch without agreement: a master that has not heard of
        // the previous takeover yet would pick the same epoch. And it must see every slot
        // covered (a replica recovers from a glimpse of an uncovered slot at once, a master
        // only after the rejoin delay). A master still loading its first sync says LOADING.
        let info = poll(
            &mut conns[i],
            deadline,
            "the previous takeover did not reach it",
            |conn| take_over_one(conn, epoch, &mut by_script),
        )?;
        // Observable in CLUSTER.JOBS: a node that refuses EVAL makes the chain slower.
        if !by_script {
            job.add("takeovers_without_script", 1);
        }
        let (before, mut after) = info;
        // A server that applies the takeover after the command's reply shows the old epoch:
        // read it again until it is new.
        while after <= before {
            if Instant::now() >= deadline {
                return Err(Error::err(format!(
                    "{}: the takeover did not take effect in time",
                    conns[i].addr
                )));
            }
            std::thread::sleep(FAST_POLL);
            after = ClusterInfo::parse(&conns[i].text(&["CLUSTER", "INFO"])?)
                .number("cluster_my_epoch");
        }
        epoch = epoch.max(after);
    }
    mark("taken over");
    Ok(())
}

/// One step of the takeover chain on a master that is still a replica: `None` while it is not
/// ok or has not heard of `epoch` (the previous takeover's) yet; else the takeover, and its
/// (current epoch before, config epoch after). With `by_script`, the test and the takeover
/// are one round trip ([`TAKEOVER_SCRIPT`]): the chain is sequential, M steps, so its round
/// trips add up with the number of masters. A server that refuses the script (EVAL renamed,
/// denied by ACL) gets the two round trips from then on (`by_script` turns false).
fn take_over_one(conn: &mut Conn, epoch: u64, by_script: &mut bool) -> Result<Option<(u64, u64)>> {
    if *by_script {
        let reply = conn.cmd_raw(&["EVAL", TAKEOVER_SCRIPT, "0", &epoch.to_string()])?;
        let number = |v: &Value| match v {
            Value::Int(n) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        };
        match &reply {
            Value::Array(done) if done.len() == 3 => {
                return Ok(Some((number(&done[1]), number(&done[2]))));
            }
            Value::Array(_) => return Ok(None),
            _ => match value_error(&reply) {
                Some(e) if e.starts_with("LOADING") => return Ok(None),
                // Only the takeover's own refusal (see below); anything else is the script's.
                Some(e) if e.contains("to a replica") => {}
                _ => *by_script = false,
            },
        }
    }
    let info = ClusterInfo::parse(&conn.text(&["CLUSTER", "INFO"])?);
    if !info.state_ok() || info.number("cluster_current_epoch") < epoch {
        return Ok(None);
    }
    // Its new epoch in the same round trip.
    let replies = conn.pipeline(&[
        topology::command(&["CLUSTER", "FAILOVER", "TAKEOVER"]),
        topology::command(&["CLUSTER", "INFO"]),
    ])?;
    match value_error(&replies[0]) {
        None => Ok(Some((
            info.number("cluster_current_epoch"),
            ClusterInfo::parse(&topology::value_text(&replies[1]).unwrap_or_default())
                .number("cluster_my_epoch"),
        ))),
        Some(e) if e.starts_with("LOADING") => Ok(None),
        // Already a master: its partner was counted failed (a node timeout on a busy
        // machine) and it won an election, which gave it an agreed epoch.
        Some(e) if e.contains("to a replica") => {
            Ok(Some((0, info.number("cluster_my_epoch").max(1))))
        }
        Some(e) => Err(Error::err(format!(
            "{}: CLUSTER FAILOVER TAKEOVER: {e}",
            conn.addr
        ))),
    }
}

/// [`take_over_one`] on the server: `{0}` while the node is not ok or its current epoch is
/// below `ARGV[1]`, else `CLUSTER FAILOVER TAKEOVER` and `{1, current epoch before, config
/// epoch after}`, or the takeover's error. It only reads and runs `CLUSTER` subcommands, so a
/// replica runs it; EVAL leaves it in the node's script cache (a few hundred bytes).
const TAKEOVER_SCRIPT: &str = "local i = redis.call('CLUSTER', 'INFO') \
if not string.find(i, 'cluster_state:ok', 1, true) then return {0} end \
local cur = tonumber(string.match(i, 'cluster_current_epoch:(%d+)')) \
if cur < tonumber(ARGV[1]) then return {0} end \
local r = redis.pcall('CLUSTER', 'FAILOVER', 'TAKEOVER') \
if type(r) == 'table' and r.err then return r end \
local a = redis.call('CLUSTER', 'INFO') \
return {1, cur, tonumber(string.match(a, 'cluster_my_epoch:(%d+)'))}";

/// `CLUSTER REPLICATE master`, again while the node does not know the master yet or has not
/// heard that it took over (then it is still a replica to the node).
fn replicate(conn: &mut Conn, master: &str, deadline: Instant) -> Result<()> {
    poll(
        conn,
        deadline,
        "the master did not become known",
        |conn| match conn.cmd_raw(&["CLUSTER", "REPLICATE", master])? {
            Value::ServerError(e)
                if e.details().is_some_and(|d| {
                    d.contains("Unknown node") || d.contains("only replicate a master")
                }) =>
            {
                Ok(None)
            }
            reply => match value_error(&reply) {
                Some(e) => Err(Error::err(format!("{}: CLUSTER REPLICATE: {e}", conn.addr))),
                None => Ok(Some(())),
            },
        },
    )
}

/// Runs `work` on every connection at once; the first error wins.
fn on_all<T: Send>(
    conns: &mut [Conn],
    work: impl Fn(usize, &mut Conn) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = conns
            .iter_mut()
            .enumerate()
            .map(|(i, conn)| s.spawn(move || work(i, conn)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::err("worker panicked")))
            })
            .collect()
    })
}

/// Checks that a node is empty; returns its id and cluster bus port.
fn check_empty(conn: &mut Conn) -> Result<(String, u16)> {
    let view = NodeView::read(conn).map_err(|e| {
        if e.to_string().contains("cluster support disabled") {
            Error::err(format!("{} is not in cluster mode", conn.addr))
        } else {
            e
        }
    })?;
    let assigned = view.info.number("cluster_slots_assigned");
    if view.nodes.len() > 1 || assigned > 0 {
        return Err(Error::err(format!(
            "{} is not empty: it knows other nodes or holds slots (CLUSTER RESET it first)",
            conn.addr
        )));
    }
    let keys = conn.cmd(&["DBSIZE"])?;
    if !matches!(keys, redis::Value::Int(0)) {
        return Err(Error::err(format!(
            "{} is not empty: it holds keys",
            conn.addr
        )));
    }
    let bus_port = view.me().map_or(0, |me| me.bus_port);
    Ok((view.id().to_owned(), bus_port))
}

/// Creates the cluster.
pub fn run(job: &Job, addrs: &[Addr], replicas: usize) -> Result<Report> {
    let started = Instant::now();
    let layout = layout(addrs, replicas);
    let ordered: Vec<Addr> = layout
        .masters
        .iter()
        .cloned()
        .chain(layout.replicas.iter().map(|(r, _)| r.clone()))
        .collect();
    job.progress("connecting");
    let mut conns: Vec<Conn> = std::thread::scope(|s| {
        let handles: Vec<_> = ordered
            .iter()
            .map(|addr| s.spawn(move || Conn::open(addr)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::err("connect panicked")))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let (ids, bus_ports): (Vec<String>, Vec<u16>) =
        on_all(&mut conns, |_, conn| check_empty(conn))?
            .into_iter()
            .unzip();
    let master_count = layout.masters.len();
    let mut settings = TemporarySettings {
        changed: Vec::new(),
    };
    settings.apply(&mut conns, "repl-diskless-sync-delay", "0", |c| c != "0");
    // Not on Valkey: there the raised timeout made the mesh slower, not faster (10+10: every
    // node linked to every other 0.7-0.9 s after the first handshakes instead of 0.2 s).
    let valkey = conns[0]
        .text(&["INFO", "server"])
        .is_ok_and(|info| info.contains("valkey_version"));
    if replicas > 0 && !valkey {
        let timeout = CREATE_NODE_TIMEOUT.to_string();
        settings.apply(&mut conns, "cluster-node-timeout", &timeout, |c| {
            c.parse::<u64>().is_ok_and(|ms| ms < CREATE_NODE_TIMEOUT)
        });
    }
    settings.apply(
        &mut conns[master_count..],
        "repl-diskless-load",
        "on-empty-db",
        |c| c == "disabled",
    );
    let ranges = slot_ranges(master_count);
    // Master i's slots go first to its first replica, its partner (see the module docs).
    let partners = partners(&layout);
    let holder = |master: usize| partners[master].map_or(master, |r| master_count + r);
    let ips: Vec<String> = ordered.iter().map(Addr::ip).collect::<Result<_>>()?;
    let mut phases: Vec<(&str, u64)> = Vec::new();
    let mut mark = |name: &'static str| phases.push((name, started.elapsed().as_millis() as u64));
    mark("checked");
    job.progress("assigning slots and meeting");
    let range_of: BTreeMap<usize, (u16, u16)> =
        (0..master_count).map(|i| (holder(i), ranges[i])).collect();
    on_all(&mut conns, |i, conn| {
        let mut commands = Vec::new();
        if let Some((first, last)) = range_of.get(&i) {
            commands.push(topology::command(&[
                "CLUSTER",
                "ADDSLOTSRANGE",
                &first.to_string(),
                &last.to_string(),
            ]));
        }
        commands.push(topology::command(&[
            "CLUSTER",
            "SET-CONFIG-EPOCH",
            &(i + 1).to_string(),
        ]));
        let mut replies = conn.pipeline(&commands)?;
        if let Some(&(first, last)) = range_of.get(&i)
            && value_error(&replies[0]).is_some_and(|e| e.contains("unknown subcommand"))
        {
            // Servers before 7.0 have no ADDSLOTSRANGE.
            let mut args = topology::command(&["CLUSTER", "ADDSLOTS"]);
            args.extend((first..=last).map(|s| s.to_string().into_bytes()));
            replies[0] = conn.cmd_raw(&args)?;
        }
        for reply in replies {
            if let Some(e) = value_error(&reply) {
                return Err(Error::err(format!("{}: {e}", conn.addr)));
            }
        }
        Ok(())
    })?;
    // Only once every node has its epoch (a node that knows another refuses one): each node
    // meets every node before it in `meet_order`, a full mesh at once rather than by gossip.
    // Slot holders come first: a node learns a holder's slots from the ping the holder sends
    // back to complete the handshake the node started, not from its own handshake.
    let mut meet_order: Vec<usize> = range_of.keys().copied().collect();
    meet_order.extend((0..ordered.len()).filter(|i| !range_of.contains_key(i)));
    let position: BTreeMap<usize, usize> = meet_order
        .iter()
        .enumerate()
        .map(|(k, &i)| (i, k))
        .collect();
    on_all(&mut conns, |i, conn| {
        let meets: Vec<Vec<Vec<u8>>> = meet_order[..position[&i]]
            .iter()
            .map(|&j| {
                topology::command(&[
                    "CLUSTER",
                    "MEET",
                    &ips[j],
                    &ordered[j].port.to_string(),
                    &bus_ports[j].to_string(),
                ])
            })
            .collect();
        for reply in conn.pipeline(&meets)? {
            if let Some(e) = value_error(&reply) {
                return Err(Error::err(format!("{}: CLUSTER MEET: {e}", conn.addr)));
            }
        }
        Ok(())
    })?;
    mark("met");
    job.progress("attaching replicas");
    let deadline = Instant::now() + JOIN_TIMEOUT;
    // A master replicates its partner as soon as it knows it; the other replicas wait for
    // their master to take its slots over. (With REPLICAS 0 there are neither.)
    on_all(&mut conns[..master_count], |i, conn| match partners[i] {
        Some(_) => replicate(conn, &ids[holder(i)], deadline),
        None => Ok(()),
    })?;
    mark("replicate sent");
    let all: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let swapped: Vec<usize> = (0..master_count)
        .filter(|&i| partners[i].is_some())
        .collect();
    if !swapped.is_empty() {
        take_over(job, &mut conns, &swapped, &all, deadline, &mut mark).map_err(|e| {
            Error::err(format!(
                "{} (masters may still be replicas of the nodes holding their slots; \
                 CLUSTER.CHECK shows the state)",
                e.to_string().trim_start_matches("ERR ")
            ))
        })?;
        // Back before the final waits: a master that still turns ok as a master (one that saw
        // its slots uncovered after all) waits the rejoin delay of the nodes' own timeout.
        settings.restore("cluster-node-timeout");
        // A partner follows its slots to its master by itself (a master left without slots
        // does); the other replicas are told.
        on_all(&mut conns[master_count..], |j, conn| {
            let master = layout.replicas[j].1;
            if partners[master] == Some(j) {
                return Ok(());
            }
            replicate(conn, &ids[master], deadline)
        })?;
    }
    job.progress("waiting for cluster_state:ok and linked replicas");
    let seed = layout.masters[0].clone();
    let expected: BTreeMap<&str, &str> = (0..layout.replicas.len())
        .map(|i| {
            (
                ids[master_count + i].as_str(),
                ids[layout.replicas[i].1].as_str(),
            )
        })
        .collect();
    let linked = |view: &ClusterView| -> bool {
        // No two masters with one config epoch: a takeover bumps the epoch without agreement,
        // and one that raced an election on a busy machine can repeat another master's; the
        // servers resolve such a collision themselves within a few pings, which this waits for
        // (a cluster handed over with a collision would move slots by the node-ID tie-break).
        let mut epochs = BTreeSet::new();
        let distinct_epochs = view
            .views
            .iter()
            .filter(|v| v.me().is_some_and(|me| me.is_master()))
            .all(|v| epochs.insert(v.info.number("cluster_my_epoch")));
        distinct_epochs
            && view.agree()
            && view.views.len() == all.len()
            && view.views.iter().all(|v| {
                v.info.state_ok()
                    // A replica's own line must name its master; the others learn the
                    // roles by gossip later, which a client does not need to wait for.
                    && v.me().is_some_and(|me| match expected.get(me.id.as_str()) {
                        Some(master) => {
                            me.flags.replica && me.master_id.as_deref() == Some(*master)
                        }
                        None => me.is_master(),
                    })
            })
    };
    let mut replica_conns: Vec<Conn> = conns.drain(master_count..).collect();
    let deadline = Instant::now() + JOIN_TIMEOUT;
    loop {
        // Every replica got its master last (a partner had none before), so a link that is
        // up is to that master; the final wait checks which master each one names.
        let up = on_all(&mut replica_conns, |_, conn| {
            let info = conn.text(&["INFO", "replication"])?;
            Ok(info.contains("master_link_status:up"))
        })?;
        if up.iter().all(|u| *u) {
            break;
        }
        if Instant::now() > deadline {
            return Err(Error::err("replicas did not link to their masters in time"));
        }
        std::thread::sleep(POLL);
    }
    mark("linked");
    let view = wait_for(
        &seed,
        JOIN_TIMEOUT,
        "cluster did not reach cluster_state:ok",
        linked,
    )?;
    mark("ok");
    let phases: serde_json::Map<String, serde_json::Value> = phases
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let elapsed = started.elapsed().as_millis() as u64;
    let mut text = String::new();
    let mut masters_json = Vec::new();
    for (i, master) in layout.masters.iter().enumerate() {
        let (first, last) = ranges[i];
        text.push_str(&format!(
            "M: {} {master} slots:[{first}-{last}] ({} slots)\n",
            ids[i],
            last - first + 1
        ));
        let mut replicas_json = Vec::new();
        for (j, (replica, of)) in layout.replicas.iter().enumerate() {
            if *of == i {
                text.push_str(&format!(
                    "S: {} {replica} replicates {}\n",
                    ids[master_count + j],
                    ids[i]
                ));
                replicas_json
                    .push(json!({"id": ids[master_count + j], "addr": replica.to_string()}));
            }
        }
        masters_json.push(json!({
            "id": ids[i],
            "addr": master.to_string(),
            "slots": [[first, last]],
            "replicas": replicas_json,
        }));
    }
    text.push_str(&format!(
        "[OK] All {} nodes agree, cluster_state:ok, {} replicas linked, in {elapsed} ms.\n",
        view.views.len(),
        layout.replicas.len()
    ));
    Ok(Report::new(
        text,
        json!({"ok": true, "masters": masters_json, "elapsed_ms": elapsed, "phases_ms": phases}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<Addr> {
        list.iter().map(|a| Addr::parse(a).unwrap()).collect()
    }

    #[test]
    fn ranges_cover_all_slots() {
        let ranges = slot_ranges(3);
        assert_eq!(ranges, vec![(0, 5460), (5461, 10921), (10922, 16383)]);
    }

    #[test]
    fn replicas_avoid_their_masters_hosts() {
        let layout = layout(&addrs(&["a:1", "a:2", "b:1", "b:2", "c:1", "c:2"]), 1);
        assert_eq!(layout.masters, addrs(&["a:1", "b:1", "c:1"]));
        for (replica, master) in &layout.replicas {
            assert_ne!(replica.host, layout.masters[*master].host);
        }
        let one_host = layout_one_host();
        let masters: Vec<usize> = one_host.replicas.iter().map(|(_, m)| *m).collect();
        assert_eq!(masters, vec![0, 1, 2]);
        // Two hosts, 2 masters with 2 replicas each: every replica on the other host.
        let two = super::layout(&addrs(&["a:1", "a:2", "a:3", "b:1", "b:2", "b:3"]), 2);
        for (replica, master) in &two.replicas {
            assert_ne!(replica.host, two.masters[*master].host, "{two:?}");
        }
    }

    fn layout_one_host() -> Layout {
        layout(&addrs(&["h:1", "h:2", "h:3", "h:4", "h:5", "h:6"]), 1)
    }
}
