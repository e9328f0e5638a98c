//! `CLUSTER.ADDNODE`, `CLUSTER.DELNODE`, `CLUSTER.CALL` and `CLUSTER.SETTIMEOUT`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis::Value;
use rm::{Error, Result};
use serde_json::{Value as Json, json};

use crate::jobs::{Job, Report};
use crate::migrate::{AGREEMENT_TIMEOUT, ready_view};
use crate::topology::{self, Addr, ClusterView, Conn, NodeView, POLL, wait_for};

/// How long a new replica may take to link to its master.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);

/// `CLUSTER.ADDNODE`: the new, empty node meets the cluster; as a replica it then replicates
/// `master` (or the master with fewest replicas). Replies once every node knows it (and, for
/// a replica, once its link is up and every node sees it as a replica).
pub fn add_node(
    job: &Job,
    new: &Addr,
    existing: &Addr,
    replica: bool,
    master: Option<&str>,
) -> Result<Report> {
    let started = Instant::now();
    let view = ready_view(job, existing)?;
    let mut conn = Conn::open(new)?;
    let new_view = NodeView::read(&mut conn).map_err(|e| {
        if e.to_string().contains("cluster support disabled") {
            Error::err(format!("{new} is not in cluster mode"))
        } else {
            e
        }
    })?;
    let new_id = new_view.id().to_owned();
    if view.nodes().iter().any(|n| n.id == new_id) {
        return Err(Error::err(format!("{new} is already in the cluster")));
    }
    if new_view.nodes.len() > 1 || new_view.info.number("cluster_slots_assigned") > 0 {
        return Err(Error::err(format!(
            "{new} is not empty: it knows other nodes or holds slots (CLUSTER RESET it first)"
        )));
    }
    if !matches!(conn.cmd(&["DBSIZE"])?, Value::Int(0)) {
        return Err(Error::err(format!("{new} is not empty: it holds keys")));
    }
    let master_id = if replica {
        let chosen = match master {
            Some(what) => {
                let node = view.find(what)?;
                if !node.is_master() {
                    return Err(Error::err(format!("{what} is not a master")));
                }
                node.clone()
            }
            None => {
                let masters = view.masters();
                let replicas = |id: &str| {
                    view.nodes()
                        .iter()
                        .filter(|n| n.master_id.as_deref() == Some(id))
                        .count()
                };
                (*masters
                    .iter()
                    .min_by_key(|m| (replicas(&m.id), m.addr.clone()))
                    .ok_or_else(|| Error::err("the cluster has no master"))?)
                .clone()
            }
        };
        Some(chosen.id)
    } else {
        None
    };
    job.progress("meeting the cluster");
    let bus_port = view.views[0].me().map_or(0, |me| me.bus_port);
    conn.cmd(&[
        "CLUSTER",
        "MEET",
        &existing.ip()?,
        &existing.port.to_string(),
        &bus_port.to_string(),
    ])?;
    let count = view.nodes().len() + 1;
    wait_for(
        existing,
        AGREEMENT_TIMEOUT,
        "the new node did not join",
        |v| {
            // By its own id and as a master, not just `count` entries: a node still in the
            // handshake lists it under a random id, and one that knows the id but not yet its
            // role refuses `SETSLOT ... NODE <new>` ("Target node is not a master": a
            // REBALANCE right after, Valkey 9.1 at 25+25, 2 rounds of 2).
            v.agree()
                && v.views.len() == count
                && v.views.iter().all(|nv| {
                    nv.nodes.len() == count
                        && nv.nodes.iter().any(|n| {
                            n.id == new_id && !n.flags.handshake && (replica || n.is_master())
                        })
                })
        },
    )?;
    let state_ok = |conn: &mut Conn| -> Result<bool> {
        Ok(conn
            .text(&["CLUSTER", "INFO"])?
            .contains("cluster_state:ok"))
    };
    if let Some(master_id) = &master_id {
        job.progress("replicating");
        conn.cmd(&["CLUSTER", "REPLICATE", master_id])?;
        let deadline = Instant::now() + LINK_TIMEOUT;
        while !conn
            .text(&["INFO", "replication"])?
            .contains("master_link_status:up")
        {
            if Instant::now() > deadline {
                return Err(Error::err(format!(
                    "{new} did not link to its master in time"
                )));
            }
            std::thread::sleep(POLL);
        }
        wait_for(
            existing,
            AGREEMENT_TIMEOUT,
            "the nodes did not see the new replica",
            |v| {
                v.agree()
                    && v.views.iter().all(|nv| {
                        nv.nodes.iter().any(|n| {
                            n.id == new_id
                                && n.flags.replica
                                && n.master_id.as_ref() == Some(master_id)
                        })
                    })
            },
        )?;
    }
    // A new master serves (and accepts migrated keys) only once its state is ok, up to a
    // node timeout after it joined.
    job.progress("waiting for cluster_state:ok");
    let deadline = Instant::now() + LINK_TIMEOUT;
    while !state_ok(&mut conn)? {
        if Instant::now() > deadline {
            return Err(Error::err(format!(
                "{new} did not reach cluster_state:ok in time"
            )));
        }
        std::thread::sleep(POLL);
    }
    let elapsed = started.elapsed().as_millis() as u64;
    let role = match &master_id {
        Some(m) => format!("replica of {m}"),
        None => "master".to_owned(),
    };
    Ok(Report::new(
        format!("[OK] {new} ({new_id}) added as {role} in {elapsed} ms.\n"),
        json!({"ok": true, "id": new_id, "addr": new.to_string(), "master": master_id, "elapsed_ms": elapsed}),
    ))
}

/// `CLUSTER.DELNODE`: removes a node holding no slots. Its replicas move to the master with
/// fewest replicas, every other node forgets it, and it is reset (`CLUSTER RESET SOFT`).
pub fn del_node(job: &Job, seed: &Addr, what: &str) -> Result<Report> {
    let started = Instant::now();
    let first = ClusterView::gather(seed)?;
    let node = first.find(what)?.clone();
    let dead = node.is_failing()
        || first
            .unreachable
            .iter()
            .any(|(addr, _)| Some(addr) == node.addr.as_ref());
    // A dead node is removed as the cluster stands (it cannot agree); a live one only from a
    // settled cluster.
    let view = if dead { first } else { ready_view(job, seed)? };
    let me = view
        .view_of(&node.id)
        .and_then(|v| v.me())
        .unwrap_or(&node)
        .clone();
    if me.slot_count() > 0 {
        // A dead node's slots cannot be resharded away: say what can be done instead.
        let hint = if dead {
            " (or, if it is dead and will not come back, CLUSTER.FIX FORGET-DEAD)"
        } else {
            ""
        };
        return Err(Error::err(format!(
            "node {} holds {} slots: reshard them away first{hint}",
            node.addr_text(),
            me.slot_count()
        )));
    }
    // Replicas of a master being removed need another master.
    let orphans: Vec<String> = view
        .nodes()
        .iter()
        .filter(|n| n.master_id.as_deref() == Some(node.id.as_str()))
        .map(|n| n.id.clone())
        .collect();
    if !orphans.is_empty() {
        let masters = view.masters();
        let replicas = |id: &str| {
            view.nodes()
                .iter()
                .filter(|n| n.master_id.as_deref() == Some(id))
                .count()
        };
        let target = masters
            .iter()
            .filter(|m| m.id != node.id && m.slot_count() > 0)
            .min_by_key(|m| replicas(&m.id))
            .ok_or_else(|| Error::err("no other master to take the node's replicas"))?;
        for orphan in &orphans {
            let addr = view
                .addr_of(orphan)
                .ok_or_else(|| Error::err(format!("no address for {orphan}")))?;
            Conn::open(&addr)?.cmd(&["CLUSTER", "REPLICATE", target.id.as_str()])?;
        }
    }
    job.progress("forgetting the node");
    let others: Vec<Addr> = view
        .views
        .iter()
        .filter(|v| v.id() != node.id)
        .map(|v| v.addr.clone())
        .collect();
    topology::parallel(others.clone(), |addr| {
        Conn::open(&addr)?
            .cmd(&["CLUSTER", "FORGET", node.id.as_str()])
            .map(|_| ())
    })
    .into_iter()
    .map(|result| result.unwrap_or_else(|| Err(Error::err("worker panicked"))))
    .collect::<Result<Vec<()>>>()?;
    // A node gone already needed forgetting only; one that the others count as failing but
    // that answers us is reset too, or it would meet them again once they stop ignoring it.
    if let Some(addr) = view.addr_of(&node.id)
        && let Ok(mut conn) = Conn::open(&addr)
    {
        let reset = conn.cmd(&["CLUSTER", "RESET", "SOFT"]);
        if !dead {
            reset?;
        }
    }
    let seed = others
        .iter()
        .find(|a| *a == seed)
        .or(others.first())
        .cloned()
        .ok_or_else(|| Error::err("no node left in the cluster"))?;
    wait_for(
        &seed,
        AGREEMENT_TIMEOUT,
        "the nodes did not forget the node",
        |v| {
            v.agree()
                && v.views
                    .iter()
                    .all(|nv| nv.nodes.iter().all(|n| n.id != node.id))
        },
    )?;
    let elapsed = started.elapsed().as_millis() as u64;
    Ok(Report::new(
        format!(
            "[OK] {} ({}) removed from the cluster in {elapsed} ms.\n",
            node.addr_text(),
            node.id
        ),
        json!({"ok": true, "id": node.id, "addr": node.addr_text(), "replicas_moved": orphans, "elapsed_ms": elapsed}),
    ))
}

/// A reply as text, the way `redis-cli` prints it on one line per element.
fn value_text(value: &Value) -> String {
    match value {
        Value::Nil => "(nil)".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".to_owned(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Double(d) => d.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::ServerError(e) => format!("(error) {} {}", e.code(), e.details().unwrap_or("")),
        Value::Array(items) | Value::Set(items) => {
            items.iter().map(value_text).collect::<Vec<_>>().join("\n")
        }
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| format!("{}: {}", value_text(k), value_text(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{other:?}"),
    }
}

/// A reply as JSON: strings, numbers, arrays, objects; errors as `{"error": line}`.
fn value_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Int(n) => json!(n),
        Value::BulkString(bytes) => json!(String::from_utf8_lossy(bytes)),
        Value::SimpleString(s) => json!(s),
        Value::Okay => json!("OK"),
        Value::VerbatimString { text, .. } => json!(text),
        Value::Double(d) => json!(d),
        Value::Boolean(b) => json!(b),
        Value::ServerError(e) => {
            json!({"error": format!("{} {}", e.code(), e.details().unwrap_or(""))})
        }
        Value::Array(items) | Value::Set(items) => {
            Json::Array(items.iter().map(value_json).collect())
        }
        Value::Map(pairs) => Json::Object(
            pairs
                .iter()
                .map(|(k, v)| (value_text(k), value_json(v)))
                .collect(),
        ),
        other => json!(format!("{other:?}")),
    }
}

/// `CLUSTER.CALL`: runs the command on every reachable node at once; one `addr: reply` line
/// (or block) per node, in address order.
pub fn call(job: &Job, seed: &Addr, command: &[String]) -> Result<Report> {
    job.progress("reading the nodes");
    let view = ClusterView::gather(seed)?;
    let mut addrs: Vec<Addr> = view.views.iter().map(|v| v.addr.clone()).collect();
    addrs.sort();
    job.progress(format!("calling {} nodes", addrs.len()));
    let results = topology::parallel(addrs.clone(), |addr| Conn::open(&addr)?.cmd_raw(command));
    let replies: Vec<(Addr, Result<Value>)> = addrs
        .into_iter()
        .zip(results)
        .map(|(addr, reply)| {
            (
                addr,
                reply.unwrap_or_else(|| Err(Error::err("worker panicked"))),
            )
        })
        .collect();
    let mut text = String::new();
    let mut json = BTreeMap::new();
    for (addr, reply) in &replies {
        let (line, value) = match reply {
            Ok(value) => (value_text(value), value_json(value)),
            Err(e) => (format!("(error) {e}"), json!({"error": e.to_string()})),
        };
        text.push_str(&format!("{addr}: {line}\n"));
        json.insert(addr.to_string(), value);
    }
    for (addr, error) in &view.unreachable {
        text.push_str(&format!("{addr}: (error) unreachable: {error}\n"));
        json.insert(
            addr.to_string(),
            json!({"error": format!("unreachable: {error}")}),
        );
    }
    Ok(Report::new(text, json!(json)))
}

/// `CLUSTER.SETTIMEOUT`: `cluster-node-timeout` on every reachable node (`CONFIG SET`), saved
/// to each node's config file (`CONFIG REWRITE`) where it has one, as `redis-cli --cluster
/// set-timeout`. A node that refuses is reported, the others keep the new value.
pub fn set_timeout(job: &Job, seed: &Addr, ms: u64) -> Result<Report> {
    let view = ClusterView::gather(seed)?;
    let mut addrs: Vec<Addr> = view.views.iter().map(|v| v.addr.clone()).collect();
    addrs.sort();
    job.progress(format!("setting the timeout on {} nodes", addrs.len()));
    let value = ms.to_string();
    let outcomes = topology::parallel(addrs.clone(), |addr| -> Result<Option<String>> {
        let mut conn = Conn::open(&addr)?;
        conn.cmd(&["CONFIG", "SET", "cluster-node-timeout", value.as_str()])?;
        Ok(conn.cmd(&["CONFIG", "REWRITE"]).err().map(|e| {
            // "ERR <addr>: ERR <the server's message>": the message only.
            let text = e.to_string();
            let text = text.trim_start_matches("ERR ");
            let text = text.strip_prefix(&format!("{addr}: ")).unwrap_or(text);
            text.trim_start_matches("ERR ").to_owned()
        }))
    });
    let mut text = String::new();
    let mut nodes = BTreeMap::new();
    let (mut set, mut failed) = (0, 0);
    for (addr, outcome) in addrs.iter().zip(outcomes) {
        let outcome = outcome.unwrap_or_else(|| Err(Error::err("worker panicked")));
        let (line, entry) = match outcome {
            Ok(None) => ("OK".to_owned(), json!({"set": true, "saved": true})),
            Ok(Some(why)) => (
                format!("OK, not saved to a config file: {why}"),
                json!({"set": true, "saved": false, "error": why}),
            ),
            Err(e) => (e.to_string(), json!({"set": false, "error": e.to_string()})),
        };
        if entry["set"] == true {
            set += 1;
        } else {
            failed += 1;
        }
        text.push_str(&format!("{addr}: {line}\n"));
        nodes.insert(addr.to_string(), entry);
    }
    for (addr, error) in &view.unreachable {
        failed += 1;
        text.push_str(&format!("{addr}: {error}\n"));
        nodes.insert(addr.to_string(), json!({"set": false, "error": error}));
    }
    let total = set + failed;
    text.push_str(&if failed == 0 {
        format!("[OK] cluster-node-timeout is {ms} ms on all {total} nodes.\n")
    } else {
        format!("[ERR] cluster-node-timeout is {ms} ms on {set} of {total} nodes.\n")
    });
    Ok(Report::new(
        text,
        json!({"ok": failed == 0, "timeout_ms": ms, "nodes": nodes}),
    ))
}
