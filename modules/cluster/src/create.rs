//! `CLUSTER.CREATE`: a cluster from empty nodes.
//!
//! Masters are picked alternating between hosts, replicas are placed on hosts other than
//! their master's where possible. Every node gets its slots (`ADDSLOTSRANGE`) and a distinct
//! config epoch, all nodes meet the first, and once every node knows every other the replicas
//! `REPLICATE` their masters. The reply comes when every node reports `cluster_state:ok`,
//! agrees on the slots and every replica's link to its master is up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rm::{Error, Result};
use serde_json::json;

use crate::jobs::{Job, Report};
use crate::topology::{self, Addr, ClusterView, Conn, NodeView, SLOTS, value_error, wait_for};

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
    let ranges = slot_ranges(layout.masters.len());
    let ips: Vec<String> = ordered.iter().map(Addr::ip).collect::<Result<_>>()?;
    let mut phases: Vec<(&str, u64)> = Vec::new();
    let mut mark = |name| phases.push((name, started.elapsed().as_millis() as u64));
    mark("checked");
    job.progress("assigning slots and meeting");
    let master_count = layout.masters.len();
    on_all(&mut conns, |i, conn| {
        let mut commands = Vec::new();
        if i < master_count {
            let (first, last) = ranges[i];
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
        if i < master_count
            && value_error(&replies[0]).is_some_and(|e| e.contains("unknown subcommand"))
        {
            // Servers before 7.0 have no ADDSLOTSRANGE.
            let (first, last) = ranges[i];
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
    // Only once every node has its epoch (a node that knows another refuses one): every
    // node meets every node before it, a full mesh at once rather than by gossip.
    on_all(&mut conns, |i, conn| {
        let meets: Vec<Vec<Vec<u8>>> = (0..i)
            .map(|j| {
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
    job.progress("waiting for the nodes to join");
    let seed = layout.masters[0].clone();
    let all: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    wait_for(&seed, JOIN_TIMEOUT, "nodes did not join", |view| {
        view.agree()
            && view.views.len() == all.len()
            && view.views.iter().all(|v| {
                v.nodes.len() == all.len() && v.nodes.iter().all(|n| all.contains(n.id.as_str()))
            })
    })?;
    mark("joined");
    job.progress("attaching replicas");
    on_all(&mut conns[master_count..], |i, conn| {
        let master = &ids[layout.replicas[i].1];
        conn.cmd(&["CLUSTER", "REPLICATE", master.as_str()])?;
        Ok(())
    })?;
    mark("replicate sent");
    job.progress("waiting for cluster_state:ok and linked replicas");
    let expected: BTreeMap<&str, &str> = (0..layout.replicas.len())
        .map(|i| {
            (
                ids[master_count + i].as_str(),
                ids[layout.replicas[i].1].as_str(),
            )
        })
        .collect();
    let linked = |view: &ClusterView| -> bool {
        view.agree()
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
        std::thread::sleep(topology::POLL);
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
