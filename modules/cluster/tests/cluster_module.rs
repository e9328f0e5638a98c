//! The `cluster` module (`modules/cluster`) on real clusters of loopback servers, Redis and
//! Valkey: create 3+3, info, call, reshard, addnode (master and replica), rebalance (SIMULATE,
//! USE-EMPTY-MASTERS, WEIGHT), delnode, jobs, check and fix of broken states made on purpose,
//! a reshard interrupted by killing its target, then its source, repaired by FIX with no
//! key lost, the same with replicas (the killed master restarted, or written off with
//! FORGET-DEAD), and keys left outside their slot's owner. After every operation `redis-cli --cluster check` must report all OK and the key
//! count must be unchanged. The manager runs in a standalone server in one test and inside a
//! cluster node (seed address defaulting to itself) in the other.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{Server, cluster_nodes, reply, run, servers, wait_long};

/// A command's reply as text (our commands reply one bulk/verbatim string); panics on errors.
fn text(con: &mut redis::Connection, args: &[&str]) -> String {
    match run(con, args) {
        Ok(redis::Value::BulkString(bytes)) => String::from_utf8(bytes).unwrap(),
        Ok(redis::Value::VerbatimString { text, .. }) => text,
        Ok(redis::Value::SimpleString(s)) => s,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn json(con: &mut redis::Connection, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&text(con, args)).expect("JSON reply")
}

/// The port of an `"host:port"` address in a JSON reply.
fn port_of(addr: &serde_json::Value) -> u16 {
    addr.as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn key_slot(key: &str) -> u16 {
    crc16(key.as_bytes()) % 16384
}

/// Slot → owner port, from a node's `CLUSTER NODES`.
fn owners(port: u16) -> BTreeMap<u16, u16> {
    let mut map = BTreeMap::new();
    for line in cluster_nodes_text(port).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !fields[2].contains("master") {
            continue;
        }
        let owner: u16 = fields[1]
            .split('@')
            .next()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        for range in &fields[8..] {
            if range.starts_with('[') {
                continue;
            }
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            for slot in a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap() {
                map.insert(slot, owner);
            }
        }
    }
    map
}

fn connect(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap()
}

fn cluster_nodes_text(port: u16) -> String {
    redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut connect(port))
        .unwrap()
}

/// Writes `n` keys `key:<i>` to their owners, pipelined per owner.
fn populate(seed: u16, n: usize) {
    let owners = owners(seed);
    let mut per_owner: BTreeMap<u16, redis::Pipeline> = BTreeMap::new();
    for i in 0..n {
        let key = format!("key:{i}");
        let owner = owners[&key_slot(&key)];
        per_owner
            .entry(owner)
            .or_insert_with(redis::pipe)
            .cmd("SET")
            .arg(&key)
            .arg(i)
            .ignore();
    }
    for (port, pipe) in per_owner {
        pipe.query::<()>(&mut connect(port)).unwrap();
    }
}

/// Keys held by the masters `port` knows (replicas hold copies).
fn total_keys(port: u16) -> i64 {
    cluster_nodes_text(port)
        .lines()
        // Masters serving slots: a master emptied by a rebalance may be turning into a
        // replica (holding copies) before every node has heard.
        .filter(|l| l.split_whitespace().nth(2).unwrap().contains("master"))
        .filter(|l| l.split_whitespace().count() > 8)
        .filter(|l| !l.contains("fail"))
        .map(|l| {
            let p: u16 = l
                .split_whitespace()
                .nth(1)
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            redis::cmd("DBSIZE").query::<i64>(&mut connect(p)).unwrap()
        })
        .sum()
}

fn slot_count(port: u16, of: u16) -> usize {
    owners(port).values().filter(|o| **o == of).count()
}

fn node_id(port: u16) -> String {
    redis::cmd("CLUSTER")
        .arg("MYID")
        .query(&mut connect(port))
        .unwrap()
}

/// `redis-cli --cluster check` must report all OK: agreement, no open slots, full coverage.
fn assert_check_ok(port: u16, what: &str) {
    let output = Command::new("redis-cli")
        .args(["--cluster", "check", &format!("127.0.0.1:{port}")])
        .output()
        .expect("redis-cli");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered.")
            && !out.contains("[ERR]")
            && !out.contains("[WARNING]")
            && output.status.success(),
        "{what}: redis-cli --cluster check:\n{out}"
    );
}

fn state_ok(port: u16) -> bool {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .ok()
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)).ok())
        .and_then(|mut c| {
            redis::cmd("CLUSTER")
                .arg("INFO")
                .query::<String>(&mut c)
                .ok()
        })
        .is_some_and(|info| info.contains("cluster_state:ok"))
}

fn cluster_info_field(port: u16, field: &str) -> u64 {
    let info: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query(&mut connect(port))
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {info}"))
}

/// CREATE has each master take its slots over from a replica (a takeover bumps the epoch
/// without agreement): no two masters may end up with one config epoch.
fn assert_masters_epochs_distinct(masters: &[u16], n: &str) {
    let epochs: std::collections::BTreeSet<u64> = masters
        .iter()
        .map(|p| cluster_info_field(*p, "cluster_my_epoch"))
        .collect();
    assert_eq!(epochs.len(), masters.len(), "{n}: master epochs {epochs:?}");
}

/// 7 nodes with REPLICAS 1: one master gets a second replica, which is not the partner that
/// held the master's slots first and must be attached after the takeover. The nodes have the
/// servers' default `repl-diskless-sync-delay` (5 s), which CREATE sets to 0 while it runs (each
/// first sync would wait it out) and back after.
#[test]
fn create_gives_the_extra_replica_its_master() {
    for kind in servers() {
        let n = kind.name.clone();
        let nodes: Vec<Server> = cluster_nodes(&kind, 7, &[], &["--repl-diskless-sync-delay", "5"]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        let addrs: Vec<String> = nodes.iter().map(|s| s.addr()).collect();
        let mut args = vec!["CLUSTER.CREATE"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["REPLICAS", "1", "JSON"]);
        let created = json(&mut m, &args);
        assert_eq!(created["ok"], true, "{n}: {created}");
        // Not one sync delay waited out.
        let elapsed = created["elapsed_ms"].as_u64().unwrap();
        assert!(elapsed < 5000, "{n}: CREATE took {elapsed} ms");
        let masters = created["masters"].as_array().unwrap();
        assert_eq!(masters.len(), 3, "{n}: {created}");
        let mut replica_counts = Vec::new();
        let mut master_ports = Vec::new();
        for master in masters {
            let master_port = port_of(&master["addr"]);
            master_ports.push(master_port);
            let role: Vec<redis::Value> =
                redis::cmd("ROLE").query(&mut connect(master_port)).unwrap();
            assert_eq!(common::show(&role[0]), "\"master\"", "{n}");
            let replicas = master["replicas"].as_array().unwrap();
            replica_counts.push(replicas.len());
            for replica in replicas {
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut connect(port_of(&replica["addr"])))
                    .unwrap();
                assert!(info.contains("master_link_status:up"), "{n}: {info}");
                assert!(
                    info.contains(&format!("master_port:{master_port}\r\n")),
                    "{n}: {info}"
                );
            }
        }
        replica_counts.sort_unstable();
        assert_eq!(replica_counts, [1, 1, 2], "{n}: {created}");
        for node in &nodes {
            assert!(
                state_ok(node.port),
                "{n}: {} not ok right after CREATE",
                node.port
            );
            // CREATE lets the replicas load their first sync from the socket, then sets the
            // setting back.
            let load: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("repl-diskless-load")
                .query(&mut connect(node.port))
                .unwrap();
            assert_eq!(load[1], "disabled", "{n}: {}", node.port);
            let delay: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("repl-diskless-sync-delay")
                .query(&mut connect(node.port))
                .unwrap();
            assert_eq!(delay[1], "5", "{n}: {}", node.port);
        }
        assert_masters_epochs_distinct(&master_ports, &n);
        assert_check_ok(nodes[0].port, "after create with an extra replica");
        // Every takeover by the one-round-trip script (see the test below for the fallback).
        let job = create_job(&mut m);
        assert_eq!(
            job["counters"]["takeovers_without_script"],
            serde_json::Value::Null,
            "{n}: {job}"
        );
    }
}

/// The last `create` job in `CLUSTER.JOBS`, done.
fn create_job(m: &mut redis::Connection) -> serde_json::Value {
    let jobs = json(m, &["CLUSTER.JOBS", "JSON"]);
    let job = jobs
        .as_array()
        .unwrap()
        .iter()
        .rfind(|j| j["kind"] == "create")
        .unwrap_or_else(|| panic!("no create job in {jobs}"))
        .clone();
    assert_eq!(job["state"], "done", "{job}");
    job
}

/// Where the nodes refuse `EVAL`, renamed away (`rename-command`) or denied by ACL to the user
/// CREATE connects as, the takeover chain's steps fall back from the script to two round
/// trips each, and CREATE forms the same cluster: 3 masters each with its replica linked, every
/// slot covered, distinct master epochs. `CLUSTER.JOBS` counts the 3 takeovers done without
/// the script.
#[test]
fn create_falls_back_when_nodes_refuse_eval() {
    for kind in servers() {
        for (how, extra) in [
            ("renamed", &["--rename-command", "EVAL", ""][..]),
            ("denied by ACL", &[][..]),
        ] {
            let n = format!("{}, EVAL {how}", kind.name);
            let nodes: Vec<Server> = cluster_nodes(&kind, 6, &[], extra);
            for node in &nodes {
                let mut con = node.connection();
                if extra.is_empty() {
                    assert_eq!(
                        reply(&mut con, &["ACL", "SETUSER", "default", "-eval"]),
                        "+OK",
                        "{n}"
                    );
                }
                let refused = reply(&mut con, &["EVAL", "return 1", "0"]);
                assert!(
                    refused.starts_with("ERR unknown command") || refused.starts_with("NOPERM"),
                    "{n}: {refused}"
                );
            }
            let manager = Server::start(&kind, &["cluster"], &[]);
            let mut m = manager.connection();
            let addrs: Vec<String> = nodes.iter().map(|s| s.addr()).collect();
            let mut args = vec!["CLUSTER.CREATE"];
            args.extend(addrs.iter().map(String::as_str));
            args.extend(["REPLICAS", "1", "JSON"]);
            let created = json(&mut m, &args);
            assert_eq!(created["ok"], true, "{n}: {created}");
            let masters = created["masters"].as_array().unwrap();
            assert_eq!(masters.len(), 3, "{n}: {created}");
            let mut master_ports = Vec::new();
            for master in masters {
                let master_port = port_of(&master["addr"]);
                master_ports.push(master_port);
                assert!(is_master(master_port), "{n}: {master_port}");
                let replicas = master["replicas"].as_array().unwrap();
                assert_eq!(replicas.len(), 1, "{n}: {created}");
                let info: String = redis::cmd("INFO")
                    .arg("replication")
                    .query(&mut connect(port_of(&replicas[0]["addr"])))
                    .unwrap();
                assert!(info.contains("master_link_status:up"), "{n}: {info}");
                assert!(
                    info.contains(&format!("master_port:{master_port}\r\n")),
                    "{n}: {info}"
                );
            }
            for node in &nodes {
                assert!(
                    state_ok(node.port),
                    "{n}: {} not ok after CREATE",
                    node.port
                );
            }
            assert_masters_epochs_distinct(&master_ports, &n);
            assert_check_ok(nodes[0].port, &n);
            let job = create_job(&mut m);
            assert_eq!(job["counters"]["takeovers_without_script"], 3, "{n}: {job}");
        }
    }
}

#[test]
fn manage_a_six_node_cluster_from_a_standalone_server() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes: Vec<Server> = cluster_nodes(&kind, 8, &[], &[]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
        let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
        let a: Vec<&str> = addrs.iter().map(String::as_str).collect();

        // Bad input is refused before any job starts.
        assert_eq!(
            reply(&mut m, &["CLUSTER.CREATE", a[0], a[1]]),
            "ERR a cluster needs at least 3 masters: 2 nodes with 0 replicas each give 2",
            "{n}"
        );
        assert_eq!(
            reply(
                &mut m,
                &[
                    "CLUSTER.CREATE",
                    a[0],
                    a[1],
                    a[2],
                    a[3],
                    a[4],
                    a[5],
                    "REPLICAS",
                    "2"
                ]
            ),
            "ERR a cluster needs at least 3 masters: 6 nodes with 2 replicas each give 2",
            "{n}"
        );
        assert_eq!(
            reply(&mut m, &["CLUSTER.CREATE", a[0], a[1], "nohost"]),
            "ERR invalid address 'nohost' (expected host:port)",
            "{n}"
        );
        assert_eq!(
            reply(&mut m, &["CLUSTER.CREATE", a[0], a[1], a[0]]),
            format!("ERR {} is listed twice", a[0]),
            "{n}"
        );
        assert_eq!(
            reply(&mut m, &["CLUSTER.CHECK"]),
            format!("ERR 127.0.0.1:{} is not in cluster mode", manager.port),
            "{n}"
        );

        // CREATE 3 masters + 3 replicas: replies once all is ok and linked.
        let created = text(
            &mut m,
            &[
                "CLUSTER.CREATE",
                a[0],
                a[1],
                a[2],
                a[3],
                a[4],
                a[5],
                "REPLICAS",
                "1",
            ],
        );
        assert!(
            created.contains("[OK] All 6 nodes agree, cluster_state:ok, 3 replicas linked, in "),
            "{n}: {created}"
        );
        for (i, port) in ports[..6].iter().enumerate() {
            assert!(state_ok(*port), "{n}: node {i} not ok right after CREATE");
        }
        for (replica, master) in [(3, 0), (4, 1), (5, 2)] {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut connect(ports[replica]))
                .unwrap();
            assert!(info.contains("master_link_status:up"), "{n}: {info}");
            assert!(
                info.contains(&format!("master_port:{}", ports[master])),
                "{n}: {info}"
            );
        }
        assert_check_ok(ports[0], "after create");
        assert_masters_epochs_distinct(&ports[..3], &n);
        assert_eq!(
            reply(&mut m, &["CLUSTER.CREATE", a[0], a[1], a[2]]),
            format!(
                "ERR {} is not empty: it knows other nodes or holds slots (CLUSTER RESET it first)",
                a[0]
            ),
            "{n}"
        );

        populate(ports[0], 3000);
        let info = json(&mut m, &["CLUSTER.INFO", a[0], "JSON"]);
        assert_eq!(info["keys"], 3000, "{n}: {info}");
        assert_eq!(info["masters"].as_array().unwrap().len(), 3, "{n}");
        let info = text(&mut m, &["CLUSTER.INFO", a[0]]);
        assert!(info.contains("[OK] 3000 keys in 3 masters."), "{n}: {info}");

        // CALL runs on every node.
        let called = text(&mut m, &["CLUSTER.CALL", a[0], "PING"]);
        let mut expected: Vec<String> = addrs[..6].iter().map(|a| format!("{a}: PONG")).collect();
        expected.sort();
        assert_eq!(called.lines().collect::<Vec<_>>(), expected, "{n}");
        let called = json(&mut m, &["CLUSTER.CALL", a[0], "JSON", "DBSIZE"]);
        assert_eq!(called.as_object().unwrap().len(), 6, "{n}");

        // RESHARD: bad input, then 1000 slots from the first master to the second.
        assert_eq!(
            reply(
                &mut m,
                &[
                    "CLUSTER.RESHARD",
                    a[0],
                    "FROM",
                    a[0],
                    "TO",
                    a[1],
                    "SLOTS",
                    "0"
                ]
            ),
            "ERR SLOTS must be between 1 and 16384",
            "{n}"
        );
        assert_eq!(
            reply(
                &mut m,
                &[
                    "CLUSTER.RESHARD",
                    a[0],
                    "FROM",
                    a[0],
                    "TO",
                    a[0],
                    "SLOTS",
                    "10"
                ]
            ),
            "ERR source and target are the same node",
            "{n}"
        );
        assert_eq!(
            reply(
                &mut m,
                &[
                    "CLUSTER.RESHARD",
                    a[0],
                    "FROM",
                    "ffffff",
                    "TO",
                    a[1],
                    "SLOTS",
                    "10"
                ]
            ),
            "ERR no node ffffff in the cluster",
            "{n}"
        );
        assert_eq!(
            reply(
                &mut m,
                &[
                    "CLUSTER.RESHARD",
                    a[0],
                    "FROM",
                    a[0],
                    "TO",
                    a[3],
                    "SLOTS",
                    "10"
                ]
            ),
            format!("ERR target node {} is not a master", a[3]),
            "{n}"
        );
        assert_eq!(
            reply(
                &mut m,
                &["CLUSTER.RESHARD", a[0], "FROM", a[0], "SLOTS", "10"]
            ),
            "ERR wrong number of arguments for 'cluster.reshard' command",
            "{n}"
        );
        let resharded = json(
            &mut m,
            &[
                "CLUSTER.RESHARD",
                a[0],
                "FROM",
                a[0],
                "TO",
                a[1],
                "SLOTS",
                "1000",
                "JSON",
            ],
        );
        assert_eq!(resharded["slots_moved"], 1000, "{n}: {resharded}");
        assert!(
            resharded["keys_moved"].as_u64().unwrap() > 100,
            "{n}: {resharded}"
        );
        assert_eq!(slot_count(ports[0], ports[0]), 4461, "{n}");
        assert_eq!(slot_count(ports[0], ports[1]), 6461, "{n}");
        assert_check_ok(ports[0], "after reshard");
        assert_eq!(total_keys(ports[0]), 3000, "{n}: keys after reshard");

        // ADDNODE as a master and as a replica of a chosen master.
        let added = text(&mut m, &["CLUSTER.ADDNODE", a[6], a[0]]);
        let id6 = node_id(ports[6]);
        assert!(
            added.starts_with(&format!("[OK] {} ({id6}) added as master in ", a[6])),
            "{n}: {added}"
        );
        assert_check_ok(ports[0], "after addnode");
        let id1 = node_id(ports[1]);
        let added = text(
            &mut m,
            &["CLUSTER.ADDNODE", a[7], a[0], "REPLICA", "MASTER", &id1],
        );
        assert!(
            added.contains(&format!("added as replica of {id1}")),
            "{n}: {added}"
        );
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut connect(ports[7]))
            .unwrap();
        assert!(
            info.contains("master_link_status:up")
                && info.contains(&format!("master_port:{}", ports[1])),
            "{n}: {info}"
        );
        assert_check_ok(ports[0], "after addnode replica");

        // REBALANCE: SIMULATE plans without moving, then the empty master gets its share.
        let plan = json(
            &mut m,
            &[
                "CLUSTER.REBALANCE",
                a[0],
                "USE-EMPTY-MASTERS",
                "SIMULATE",
                "JSON",
            ],
        );
        assert_eq!(plan["simulate"], true, "{n}: {plan}");
        assert_eq!(plan["slots_moved"], 0, "{n}: {plan}");
        let planned: u64 = plan["plan"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["slots"].as_u64().unwrap())
            .sum();
        assert_eq!(planned, 4096, "{n}: {plan}");
        assert_eq!(
            slot_count(ports[0], ports[6]),
            0,
            "{n}: SIMULATE moved slots"
        );
        let balanced = json(
            &mut m,
            &["CLUSTER.REBALANCE", a[0], "USE-EMPTY-MASTERS", "JSON"],
        );
        assert_eq!(balanced["slots_moved"], 4096, "{n}: {balanced}");
        for port in [ports[0], ports[1], ports[2], ports[6]] {
            assert_eq!(slot_count(ports[0], port), 4096, "{n}: {port}");
        }
        assert_check_ok(ports[0], "after rebalance");
        assert_eq!(total_keys(ports[0]), 3000, "{n}: keys after rebalance");
        let nothing = text(&mut m, &["CLUSTER.REBALANCE", a[0]]);
        assert_eq!(
            nothing, "*** No rebalancing needed! All nodes are within the 2% threshold.\n",
            "{n}"
        );

        // WEIGHT 0 empties a master; then DELNODE removes it.
        let emptied = json(
            &mut m,
            &[
                "CLUSTER.REBALANCE",
                a[0],
                "WEIGHT",
                &format!("{id6}=0"),
                "JSON",
            ],
        );
        assert_eq!(emptied["slots_moved"], 4096, "{n}: {emptied}");
        assert_eq!(slot_count(ports[0], ports[6]), 0, "{n}");
        assert_check_ok(ports[0], "after weighted rebalance");
        assert_eq!(
            total_keys(ports[0]),
            3000,
            "{n}: keys after weighted rebalance"
        );
        let refused = reply(&mut m, &["CLUSTER.DELNODE", a[0], &id1]);
        assert!(
            refused.starts_with(&format!("ERR node {} holds 54", a[1]))
                && refused.ends_with(" slots: reshard them away first"),
            "{n}: {refused}"
        );
        let deleted = text(&mut m, &["CLUSTER.DELNODE", a[0], &id6]);
        assert!(
            deleted.starts_with(&format!(
                "[OK] {} ({id6}) removed from the cluster in ",
                a[6]
            )),
            "{n}: {deleted}"
        );
        assert_eq!(cluster_nodes_text(ports[0]).lines().count(), 7, "{n}");
        assert_check_ok(ports[0], "after delnode");
        // A dead node (here a replica) is removed as the cluster stands.
        let id7 = node_id(ports[7]);
        nodes[7].kill();
        let deleted = text(&mut m, &["CLUSTER.DELNODE", a[0], &id7]);
        assert!(
            deleted.starts_with(&format!(
                "[OK] {} ({id7}) removed from the cluster in ",
                a[7]
            )),
            "{n}: {deleted}"
        );
        assert_eq!(cluster_nodes_text(ports[0]).lines().count(), 6, "{n}");
        assert_check_ok(ports[0], "after deleting a dead node");

        // JOBS lists what ran, newest last, with progress counters.
        let jobs = text(&mut m, &["CLUSTER.JOBS"]);
        for kind_name in [
            "create [failed",
            "create [done]",
            "reshard [done]",
            "rebalance [done]",
            "delnode [done]",
        ] {
            assert!(jobs.contains(kind_name), "{n}: {kind_name} in {jobs}");
        }
        let jobs = json(&mut m, &["CLUSTER.JOBS", "JSON"]);
        let rebalance = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["kind"] == "rebalance" && j["counters"]["slots_moved"] == 4096)
            .unwrap_or_else(|| panic!("{n}: {jobs}"));
        assert_eq!(rebalance["state"], "done", "{n}");

        // Broken on purpose: a half-open migration, a lone importing slot, a deleted owner.
        let owners_now = owners(ports[0]);
        // Slots holding keys, so that fixing them moves keys.
        let slot_of = |port: u16, skip: usize| -> u16 {
            let mut slots: Vec<u16> = (0..3000)
                .map(|i| key_slot(&format!("key:{i}")))
                .filter(|slot| owners_now[slot] == port)
                .collect();
            slots.sort_unstable();
            slots.dedup();
            slots[skip]
        };
        let (s1, s2, s3) = (
            slot_of(ports[0], 0),
            slot_of(ports[0], 1),
            slot_of(ports[1], 0),
        );
        let id0 = node_id(ports[0]);
        let mut c0 = connect(ports[0]);
        let mut c1 = connect(ports[1]);
        let mut c2 = connect(ports[2]);
        let setslot = |con: &mut redis::Connection, args: &[&str]| {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SETSLOT").arg(args);
            cmd.query::<()>(con).unwrap();
        };
        setslot(&mut c1, &[&s1.to_string(), "IMPORTING", &id0]);
        setslot(&mut c0, &[&s1.to_string(), "MIGRATING", &id1]);
        setslot(&mut c2, &[&s2.to_string(), "IMPORTING", &id0]);
        // The importing side also holds a copy of one of the owner's keys (equal): FIX drops
        // that copy (it reads and deletes it with ASKING) rather than stopping.
        let duplicate = (0..3000)
            .map(|i| format!("key:{i}"))
            .find(|k| key_slot(k) == s2)
            .unwrap();
        let value = duplicate.trim_start_matches("key:").to_owned();
        redis::pipe()
            .cmd("ASKING")
            .ignore()
            .cmd("SET")
            .arg(&duplicate)
            .arg(&value)
            .ignore()
            .query::<()>(&mut c2)
            .unwrap();
        redis::cmd("CLUSTER")
            .arg("DELSLOTS")
            .arg(s3)
            .query::<()>(&mut c1)
            .unwrap();
        let check = json(&mut m, &["CLUSTER.CHECK", a[0], "JSON"]);
        assert_eq!(check["ok"], false, "{n}: {check}");
        assert_eq!(
            check["open_slots"],
            serde_json::json!([s1, s2]),
            "{n}: {check}"
        );
        assert_eq!(check["uncovered_slots"], 1, "{n}: {check}");
        let checked = text(&mut m, &["CLUSTER.CHECK", a[0]]);
        assert!(
            checked.contains(&format!(
                "[ERR] Not all 16384 slots are covered by nodes: 1 uncovered ({s3})"
            )),
            "{n}: {checked}"
        );
        let fixed = match run(&mut m, &["CLUSTER.FIX", a[0]]) {
            Ok(redis::Value::BulkString(bytes)) => String::from_utf8(bytes).unwrap(),
            other => panic!(
                "{n}: FIX: {other:?} (slots {s1} {s2} {s3})\n{}",
                cluster_nodes_text(ports[0])
            ),
        };
        assert!(
            fixed.contains(&format!(
                ">>> slot {s1}: finished the migration to {}",
                a[1]
            )),
            "{n}: {fixed}"
        );
        assert!(
            fixed.contains(&format!(
                ">>> slot {s2}: closed, keys gathered on its owner {}",
                a[0]
            )),
            "{n}: {fixed}"
        );
        assert!(
            fixed.contains(&format!(">>> covered slots {s3} with {} (it holds ", a[1])),
            "{n}: {fixed}"
        );
        assert_check_ok(ports[0], "after fix");
        assert_eq!(total_keys(ports[0]), 3000, "{n}: keys after fix");
        assert_eq!(owners(ports[0])[&s1], ports[1], "{n}");
        let clean = json(&mut m, &["CLUSTER.CHECK", a[0], "JSON"]);
        assert_eq!(clean["ok"], true, "{n}: {clean}");
        drop(nodes);
    }
}

/// Runs a reshard from another thread, kills `victim` while keys are moving (the source has
/// a migrating slot and the target has received keys), and returns the reshard's reply.
fn reshard_and_kill(
    manager_port: u16,
    args: Vec<String>,
    (source, target): (u16, u16),
    victim: &mut Server,
) -> String {
    let target_keys = || -> i64 { redis::cmd("DBSIZE").query(&mut connect(target)).unwrap() };
    let before = target_keys();
    let job = std::thread::spawn(move || {
        let mut con = connect(manager_port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        reply(&mut con, &args)
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let migrating = cluster_nodes_text(source)
            .lines()
            .any(|l| l.contains("myself") && l.contains("->-"));
        // Keys arriving right now: the source is inside a MIGRATE batch.
        let arriving = {
            let first = target_keys();
            sleep(Duration::from_millis(1));
            target_keys() > first
        };
        if migrating && arriving && target_keys() > before {
            break;
        }
        assert!(Instant::now() < deadline, "no keys moving");
        if job.is_finished() {
            panic!(
                "the reshard ended before a node could be killed: {}",
                job.join().unwrap()
            );
        }
        sleep(Duration::from_millis(1));
    }
    victim.kill();
    job.join().unwrap()
}

#[test]
fn fix_repairs_a_reshard_interrupted_by_a_kill_with_no_key_lost() {
    for kind in servers() {
        let n = kind.name.clone();
        // The manager lives in the first node; AOF with fsync always keeps every key a killed
        // node had.
        let mut nodes = cluster_nodes(
            &kind,
            3,
            &["cluster"],
            &["--appendonly", "yes", "--appendfsync", "always"],
        );
        let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
        let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
        let mut m = nodes[0].connection();
        // A node whose cluster is down cannot keep a client blocked (the server answers it
        // CLUSTERDOWN): CREATE runs detached there, its outcome in CLUSTER.JOBS.
        let started = json(
            &mut m,
            &["CLUSTER.CREATE", &addrs[0], &addrs[1], &addrs[2], "JSON"],
        );
        assert_eq!(
            started,
            serde_json::json!({"job": 1, "detached": true}),
            "{n}"
        );
        let mut outcome = serde_json::Value::Null;
        wait_long("the detached CREATE", || {
            outcome = json(&mut m, &["CLUSTER.JOBS", "JSON"])[0].clone();
            outcome["state"] != "running"
        });
        assert_eq!(outcome["state"], "done", "{n}: {outcome}");
        let result: serde_json::Value =
            serde_json::from_str(outcome["result"].as_str().unwrap()).unwrap();
        assert_eq!(result["ok"], true, "{n}: {result}");
        assert_eq!(
            result["masters"].as_array().unwrap().len(),
            3,
            "{n}: {result}"
        );
        assert_check_ok(ports[0], "after a detached create");
        // The seed defaults to the hosting node.
        let checked = text(&mut m, &["CLUSTER.CHECK"]);
        assert!(
            checked.contains(&format!("(using node {})", addrs[0]))
                && checked.contains("[OK] All 16384 slots covered."),
            "{n}: {checked}"
        );
        // Enough keys that the reshard (3000 slots) lasts long enough to kill a node in it.
        const KEYS: i64 = 200000;
        populate(ports[0], KEYS as usize);
        assert_eq!(total_keys(ports[0]), KEYS, "{n}");

        for (victim, from, to) in [(2, 1, 2), (2, 2, 1)] {
            let what = if victim == to { "target" } else { "source" };
            // A kill in the last instants of a batch can leave nothing open (the slots were
            // handed over already); try again until FIX has something to repair.
            let mut repaired = false;
            for _attempt in 0..4 {
                let args: Vec<String> = [
                    "CLUSTER.RESHARD",
                    &addrs[0],
                    "FROM",
                    &addrs[from],
                    "TO",
                    &addrs[to],
                    "SLOTS",
                    "3000",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                let outcome =
                    reshard_and_kill(ports[0], args, (ports[from], ports[to]), &mut nodes[victim]);
                // The job fails (or, once this node sees the cluster down, the server answers
                // the waiting client CLUSTERDOWN).
                assert!(
                    outcome.starts_with("ERR ") || outcome.starts_with("CLUSTERDOWN "),
                    "{n}: killing the {what}: {outcome}"
                );
                // The error counts what the job moved, as CLUSTER.JOBS does (it said 0 when
                // the failing pair was the only one).
                if let Some(said) = outcome.split("(moved ").nth(1) {
                    let said: u64 = said.split(' ').next().unwrap().parse().unwrap();
                    let jobs = json(&mut m, &["CLUSTER.JOBS", "JSON"]);
                    let job = jobs
                        .as_array()
                        .unwrap()
                        .iter()
                        .rev()
                        .find(|j| j["kind"] == "reshard")
                        .unwrap();
                    let counted = job["counters"]["slots_moved"].as_u64().unwrap_or(0);
                    assert_eq!(said, counted, "{n}: {outcome}\n{job}");
                }
                nodes[victim].restart();
                wait_long("every node ok after the restart", || {
                    ports.iter().all(|p| state_ok(*p))
                });
                let before = json(&mut m, &["CLUSTER.CHECK", "JSON"]);
                let fixed = text(&mut m, &["CLUSTER.FIX"]);
                assert_check_ok(ports[0], &format!("{n}: after killing the {what} and FIX"));
                assert_eq!(
                    total_keys(ports[0]),
                    KEYS,
                    "{n}: keys after killing the {what} and FIX"
                );
                eprintln!("{n}: killed the {what}: {outcome}; check before FIX: {before}");
                if before["ok"] == false {
                    assert!(fixed.contains(">>> slot "), "{n}: {before}\n{fixed}");
                    repaired = true;
                    break;
                }
            }
            // Killing the target always leaves the source migrating; a restarted Valkey source
            // may come back with nothing open, which is fine as long as no key is lost.
            assert!(
                repaired || (what == "source" && kind.valkey),
                "{n}: no kill of the {what} left an open slot in 4 attempts"
            );
            for i in 0..200 {
                let key = format!("key:{}", i * 97);
                let owner = owners(ports[0])[&key_slot(&key)];
                let value: Option<String> = redis::cmd("GET")
                    .arg(&key)
                    .query(&mut connect(owner))
                    .unwrap();
                assert_eq!(value, Some((i * 97).to_string()), "{n}: {key}");
            }
        }
    }
}

/// The value of `key` on the master owning it.
fn get_from_owner(seed: u16, key: &str) -> Option<String> {
    let owner = owners(seed)[&key_slot(key)];
    redis::cmd("GET")
        .arg(key)
        .query(&mut connect(owner))
        .unwrap()
}

/// SETTIMEOUT on every node; IMPORT from a standalone server: COPY keeps the source and skips a
/// name the cluster has, REPLACE moves everything and overwrites it; TTLs and types survive.
#[test]
fn settimeout_and_import_from_a_standalone_server() {
    for kind in servers() {
        let n = kind.name.clone();
        let nodes: Vec<Server> = cluster_nodes(&kind, 3, &[], &[]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let source = Server::start(&kind, &[], &[]);
        let mut m = manager.connection();
        let addrs: Vec<String> = nodes.iter().map(|s| s.addr()).collect();
        let a = addrs[0].as_str();
        let created = text(&mut m, &["CLUSTER.CREATE", a, &addrs[1], &addrs[2]]);
        assert!(created.contains("[OK] All 3 nodes agree"), "{n}: {created}");

        assert_eq!(
            reply(&mut m, &["CLUSTER.SETTIMEOUT", a, "99"]),
            "ERR the timeout must be a number of milliseconds from 100 to 86400000, got '99'",
            "{n}"
        );
        let set = text(&mut m, &["CLUSTER.SETTIMEOUT", a, "3000"]);
        assert!(
            set.ends_with("[OK] cluster-node-timeout is 3000 ms on all 3 nodes.\n"),
            "{n}: {set}"
        );
        // The test nodes have no config file: set, not saved, and said so.
        assert_eq!(
            set.matches("OK, not saved to a config file").count(),
            3,
            "{n}: {set}"
        );
        assert!(!set.contains(": ERR"), "{n}: {set}");
        for node in &nodes {
            let timeout: Vec<String> = redis::cmd("CONFIG")
                .arg("GET")
                .arg("cluster-node-timeout")
                .query(&mut connect(node.port))
                .unwrap();
            assert_eq!(timeout[1], "3000", "{n}");
        }

        // The source: 500 strings, a hash, a key with a TTL, and a name the cluster has.
        let mut src = source.connection();
        let mut pipe = redis::pipe();
        for i in 0..500 {
            pipe.cmd("SET").arg(format!("imp:{i}")).arg(i).ignore();
        }
        pipe.cmd("HSET").arg("imp:h").arg("f").arg("v").ignore();
        pipe.cmd("SET")
            .arg("imp:ttl")
            .arg("t")
            .arg("EX")
            .arg(1000)
            .ignore();
        pipe.cmd("SET").arg("clash").arg("source").ignore();
        pipe.query::<()>(&mut src).unwrap();
        let clash_owner = owners(nodes[0].port)[&key_slot("clash")];
        let _: () = redis::cmd("SET")
            .arg("clash")
            .arg("cluster")
            .query(&mut connect(clash_owner))
            .unwrap();

        assert_eq!(
            reply(&mut m, &["CLUSTER.IMPORT", a, "FROM", &addrs[1]]),
            format!(
                "ERR the source {} is a cluster node: CLUSTER.IMPORT reads a standalone server",
                addrs[1]
            ),
            "{n}"
        );
        assert_eq!(
            reply(&mut m, &["CLUSTER.IMPORT", a, "COPY", "REPLACE"]),
            "ERR FROM is required: CLUSTER.IMPORT host:port FROM host:port [COPY] [REPLACE]",
            "{n}"
        );
        let copied = json(
            &mut m,
            &["CLUSTER.IMPORT", a, "FROM", &source.addr(), "COPY", "JSON"],
        );
        assert_eq!(copied["imported"], 502, "{n}: {copied}");
        assert_eq!(copied["skipped"], 1, "{n}: {copied}");
        assert_eq!(copied["skipped_keys"], serde_json::json!(["clash"]), "{n}");
        let dbsize =
            |con: &mut redis::Connection| -> i64 { redis::cmd("DBSIZE").query(con).unwrap() };
        assert_eq!(dbsize(&mut src), 503, "{n}: COPY keeps the source");
        assert_eq!(total_keys(nodes[0].port), 503, "{n}");
        assert_eq!(
            get_from_owner(nodes[0].port, "clash").as_deref(),
            Some("cluster")
        );
        assert_eq!(get_from_owner(nodes[0].port, "imp:7").as_deref(), Some("7"));

        let _: () = redis::pipe()
            .cmd("SELECT")
            .arg(1)
            .ignore()
            .cmd("SET")
            .arg("elsewhere")
            .arg(1)
            .ignore()
            .cmd("SELECT")
            .arg(0)
            .ignore()
            .query(&mut src)
            .unwrap();
        let moved = text(
            &mut m,
            &["CLUSTER.IMPORT", a, "FROM", &source.addr(), "REPLACE"],
        );
        assert!(
            moved.starts_with(&format!(
                "[OK] 503 keys moved from {} into the cluster in ",
                source.addr()
            )),
            "{n}: {moved}"
        );
        assert!(!moved.contains("REPLACE overwrites"), "{n}: {moved}");
        assert!(
            moved.contains(&format!(
                "[WARNING] {} also holds keys in db1: not imported (a cluster has database 0 only).",
                source.addr()
            )),
            "{n}: {moved}"
        );
        assert_eq!(dbsize(&mut src), 0, "{n}: moved off the source");
        assert_eq!(total_keys(nodes[0].port), 503, "{n}");
        assert_eq!(
            get_from_owner(nodes[0].port, "clash").as_deref(),
            Some("source")
        );
        let ttl_owner = owners(nodes[0].port)[&key_slot("imp:ttl")];
        let ttl: i64 = redis::cmd("TTL")
            .arg("imp:ttl")
            .query(&mut connect(ttl_owner))
            .unwrap();
        assert!((900..=1000).contains(&ttl), "{n}: ttl {ttl}");
        let h_owner = owners(nodes[0].port)[&key_slot("imp:h")];
        let field: String = redis::cmd("HGET")
            .arg("imp:h")
            .arg("f")
            .query(&mut connect(h_owner))
            .unwrap();
        assert_eq!(field, "v", "{n}");
        assert_check_ok(nodes[0].port, "after import");
    }
}

/// The magic an RDB of `kind` starts with (Valkey 9 writes `VALKEY080`).
fn rdb_magic(kind: &common::ServerKind) -> &'static [u8] {
    if kind.valkey { b"VALKEY" } else { b"REDIS" }
}

#[test]
fn backup_writes_every_master() {
    use std::os::unix::fs::PermissionsExt as _;
    for kind in servers() {
        let n = kind.name.clone();
        let nodes: Vec<Server> = cluster_nodes(&kind, 3, &[], &[]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
        let a: Vec<&str> = addrs.iter().map(String::as_str).collect();
        let created = text(&mut m, &["CLUSTER.CREATE", a[0], a[1], a[2]]);
        assert!(created.contains("[OK] All 3 nodes agree"), "{n}: {created}");

        // Bad input is refused before any job starts.
        let missing = manager.dir().join("no-such-dir");
        let missing = missing.to_str().unwrap();
        for (args, expected) in [
            (
                vec!["CLUSTER.BACKUP", a[0], "relative/dir"],
                "ERR the backup directory must be an absolute path, got 'relative/dir'".to_owned(),
            ),
            (
                vec!["CLUSTER.BACKUP", a[0], missing],
                format!(
                    "ERR the backup directory '{missing}' does not exist or is not a directory"
                ),
            ),
            (
                vec!["CLUSTER.BACKUP", a[0], "/tmp", "extra"],
                "ERR usage: CLUSTER.BACKUP host:port dir [JSON]".to_owned(),
            ),
            (
                vec!["CLUSTER.BACKUP", "nowhere", "/tmp"],
                "ERR invalid address 'nowhere' (expected host:port)".to_owned(),
            ),
        ] {
            assert_eq!(reply(&mut m, &args), expected, "{n}: {args:?}");
        }
        assert!(
            !reply(&mut m, &["CLUSTER.JOBS"]).contains("backup"),
            "{n}: a refused backup started a job"
        );
        // Only inside the hosting server's own directory (clients choose the directory).
        let dir = manager.dir().join("backup");
        std::fs::create_dir(&dir).unwrap();
        let dir_text = dir.to_str().unwrap();
        let root = manager.dir().canonicalize().unwrap();
        assert_eq!(
            reply(&mut m, &["CLUSTER.BACKUP", a[0], "/tmp"]),
            format!(
                "ERR the backup directory must be inside this server's dir '{}', got '/tmp'",
                root.display()
            ),
            "{n}"
        );
        // A job that fails: the seed is no cluster node.
        assert_eq!(
            reply(&mut m, &["CLUSTER.BACKUP", &manager.addr(), dir_text]),
            format!("ERR {} is not in cluster mode", manager.addr()),
            "{n}"
        );

        populate(nodes[0].port, 3000);
        let keys_at: BTreeMap<String, i64> = nodes
            .iter()
            .map(|node| {
                let keys = redis::cmd("DBSIZE")
                    .query::<i64>(&mut node.connection())
                    .unwrap();
                (node_id(node.port), keys)
            })
            .collect();
        assert_eq!(keys_at.values().sum::<i64>(), 3000, "{n}");
        assert!(keys_at.values().all(|k| *k > 0), "{n}: {keys_at:?}");

        let report = json(&mut m, &["CLUSTER.BACKUP", a[1], dir_text, "JSON"]);
        assert_eq!(report["ok"], true, "{n}: {report}");
        let dir = dir.canonicalize().unwrap();
        assert_eq!(report["dir"], dir.to_str().unwrap(), "{n}: {report}");
        let nodes_json = dir.as_path().join("nodes.json");
        assert_eq!(report["nodes_json"], nodes_json.to_str().unwrap(), "{n}");
        let files = report["files"].as_array().unwrap();
        assert_eq!(files.len(), 3, "{n}: {report}");
        let mut names: Vec<String> = std::fs::read_dir(dir.as_path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let mut expected_names: Vec<String> = nodes
            .iter()
            .map(|node| {
                format!(
                    "redis-node-127.0.0.1-{}-{}.rdb",
                    node.port,
                    node_id(node.port)
                )
            })
            .chain(["nodes.json".to_owned()])
            .collect();
        expected_names.sort();
        assert_eq!(
            names, expected_names,
            "{n}: no temp file left, nothing else"
        );

        for file in files {
            let path = std::path::PathBuf::from(file["file"].as_str().unwrap());
            let id = file["id"].as_str().unwrap();
            let data = std::fs::read(&path).unwrap();
            assert!(
                data.starts_with(rdb_magic(&kind)),
                "{n}: {}",
                path.display()
            );
            assert_eq!(file["bytes"], data.len() as u64, "{n}: {file}");
            assert_eq!(file["keys"], keys_at[id], "{n}: {file}");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{n}: {}", path.display());
            // The real check: a fresh server loads the snapshot with every key of its owner.
            let restore = tempfile::tempdir().unwrap();
            let name = path.file_name().unwrap().to_str().unwrap();
            std::fs::copy(&path, restore.path().join(name)).unwrap();
            let restored = Server::start(
                &kind,
                &[],
                &[
                    "--dir",
                    restore.path().to_str().unwrap(),
                    "--dbfilename",
                    name,
                ],
            );
            let keys: i64 = redis::cmd("DBSIZE")
                .query(&mut restored.connection())
                .unwrap();
            assert_eq!(keys, keys_at[id], "{n}: keys restored from {name}");
        }
        let mode = std::fs::metadata(&nodes_json).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{n}: nodes.json");
        let described: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&nodes_json).unwrap()).unwrap();
        assert_eq!(described["seed"], a[1], "{n}");
        let listed = described["nodes"].as_array().unwrap();
        assert_eq!(listed.len(), 3, "{n}: {described}");
        let mut slots = 0;
        for node in listed {
            assert_eq!(node["role"], "master", "{n}: {node}");
            assert_eq!(node["master_id"], serde_json::Value::Null, "{n}: {node}");
            assert!(
                keys_at.contains_key(node["id"].as_str().unwrap()),
                "{n}: {node}"
            );
            assert!(a.contains(&node["addr"].as_str().unwrap()), "{n}: {node}");
            for range in node["slots"].as_array().unwrap() {
                slots += range[1].as_u64().unwrap() - range[0].as_u64().unwrap() + 1;
            }
        }
        assert_eq!(slots, 16384, "{n}: {described}");

        // The text reply, into a second directory.
        let dir2 = manager.dir().join("backup2");
        std::fs::create_dir(&dir2).unwrap();
        let dir2 = dir2.canonicalize().unwrap();
        let dir2_text = dir2.to_str().unwrap();
        let report = text(&mut m, &["CLUSTER.BACKUP", a[0], dir2_text]);
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 4, "{n}: {report}");
        for node in &nodes {
            let id = node_id(node.port);
            let prefix = format!(
                "M: {id} {} {} keys -> {dir2_text}/redis-node-127.0.0.1-{}-{id}.rdb (",
                node.addr(),
                keys_at[&id],
                node.port
            );
            assert!(
                lines[..3]
                    .iter()
                    .any(|line| line.starts_with(&prefix) && line.ends_with(" bytes)")),
                "{n}: expected a line {prefix}... in\n{report}"
            );
        }
        assert!(
            lines[3].starts_with(&format!(
                "[OK] Backup of 3 masters written to {dir2_text} in "
            )) && lines[3].ends_with(" ms."),
            "{n}: {report}"
        );
    }
}

/// A cluster whose nodes require a password: the module authenticates with `cluster.user` /
/// `cluster.password` (redis-cli's `--user` / `-a`), on every connection it makes.
#[test]
fn a_password_protected_cluster() {
    for kind in servers() {
        let n = kind.name.clone();
        let nodes: Vec<Server> = cluster_nodes(&kind, 3, &[], &[]);
        for node in &nodes {
            let mut con = node.connection();
            for (name, value) in [("masterauth", "s3cret"), ("requirepass", "s3cret")] {
                let _: () = redis::cmd("CONFIG")
                    .arg("SET")
                    .arg(name)
                    .arg(value)
                    .query(&mut con)
                    .unwrap();
            }
        }
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        let addrs: Vec<String> = nodes.iter().map(|s| s.addr()).collect();
        let refused = reply(&mut m, &["CLUSTER.CHECK", &addrs[0]]);
        assert!(
            refused.starts_with(&format!("ERR {}: ", addrs[0]))
                && refused.to_ascii_lowercase().contains("auth"),
            "{n}: {refused}"
        );
        assert_eq!(
            reply(&mut m, &["CONFIG", "SET", "cluster.password", "s3cret"]),
            "+OK"
        );
        let created = text(&mut m, &["CLUSTER.CREATE", &addrs[0], &addrs[1], &addrs[2]]);
        assert!(created.contains("[OK] All 3 nodes agree"), "{n}: {created}");
        // As a named ACL user too (requirepass sets the default user's password).
        assert_eq!(
            reply(&mut m, &["CONFIG", "SET", "cluster.user", "default"]),
            "+OK"
        );
        let check = json(&mut m, &["CLUSTER.CHECK", &addrs[0], "JSON"]);
        assert_eq!(check["ok"], true, "{n}: {check}");
        let called = text(&mut m, &["CLUSTER.CALL", &addrs[0], "PING"]);
        assert_eq!(called.matches(": PONG").count(), 3, "{n}: {called}");
        // The backup's raw replication connection authenticates as well.
        let dir = manager.dir().join("backup");
        std::fs::create_dir(&dir).unwrap();
        let backup = text(
            &mut m,
            &["CLUSTER.BACKUP", &addrs[0], dir.to_str().unwrap()],
        );
        assert!(backup.contains("[OK] Backup of 3 masters"), "{n}: {backup}");

        // Where the credentials go. A user allowed the read-only cluster commands, not CONFIG:
        assert_eq!(
            reply(
                &mut m,
                &[
                    "ACL",
                    "SETUSER",
                    "watcher",
                    "on",
                    ">w",
                    "+cluster.info",
                    "+cluster.check",
                    "+cluster.call",
                    "+ping",
                    "+auth"
                ]
            ),
            "+OK"
        );
        let mut w = manager.connection();
        assert_eq!(reply(&mut w, &["AUTH", "watcher", "w"]), "+OK");
        assert!(
            reply(&mut w, &["CONFIG", "GET", "cluster.password"]).starts_with("NOPERM"),
            "{n}"
        );
        // A listener of the caller's own gets nothing: the address is refused before any
        // connection (the module would otherwise have sent AUTH with the password).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let trap = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        for command in ["CLUSTER.INFO", "CLUSTER.CHECK", "CLUSTER.CALL"] {
            let mut args = vec![command, trap.as_str()];
            if command == "CLUSTER.CALL" {
                args.push("PING");
            }
            assert_eq!(
                reply(&mut w, &args),
                format!(
                    "ERR {trap} is not a node of a cluster this module manages: its credentials \
                     go only to known nodes, and only a user who may CONFIG GET \
                     cluster.password can name a new address"
                ),
                "{n}: {command}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            listener.accept().is_err(),
            "{n}: the module connected to {trap}"
        );
        // The cluster's nodes are known (named by an admin, or listed by a known node): the
        // watcher may check them, and CALL only what its own ACL allows.
        let info = text(&mut w, &["CLUSTER.INFO", &addrs[1]]);
        assert!(info.contains("3 masters"), "{n}: {info}");
        let called = text(&mut w, &["CLUSTER.CALL", &addrs[2], "PING"]);
        assert_eq!(called.matches(": PONG").count(), 3, "{n}: {called}");
        assert_eq!(
            reply(&mut w, &["CLUSTER.CALL", &addrs[0], "FLUSHALL"]),
            "NOPERM User watcher has no permissions to run the 'FLUSHALL' command with these arguments",
            "{n}"
        );
        // An admin (who may read the password anyway) may name any address.
        let admin_named = reply(&mut m, &["CLUSTER.INFO", &trap]);
        assert!(
            admin_named.starts_with(&format!("ERR {trap}: ")),
            "{n}: {admin_named}"
        );

        // A wrong password is an error naming the node.
        assert_eq!(
            reply(&mut m, &["CONFIG", "SET", "cluster.password", "wrong"]),
            "+OK"
        );
        let refused = reply(&mut m, &["CLUSTER.INFO", &addrs[0]]);
        assert!(
            refused.starts_with(&format!("ERR {}: ", addrs[0])),
            "{n}: {refused}"
        );
    }
}

/// A seed that refuses connections is reported in about the connect timeout (1 s), not after
/// the 20 s the slot-moving commands wait for nodes to agree.
#[test]
fn an_unreachable_seed_fails_fast() {
    for kind in servers() {
        let n = kind.name.clone();
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let seed = format!("127.0.0.1:{closed}");
        for command in [
            &["CLUSTER.REBALANCE", &seed][..],
            &[
                "CLUSTER.RESHARD",
                &seed,
                "FROM",
                "ALL",
                "TO",
                &seed,
                "SLOTS",
                "1",
            ],
            &["CLUSTER.CHECK", &seed],
            &["CLUSTER.FIX", &seed],
        ] {
            let started = std::time::Instant::now();
            let answer = reply(&mut m, command);
            let took = started.elapsed();
            assert!(
                answer.starts_with(&format!("ERR {seed}: ")),
                "{n}: {command:?}: {answer}"
            );
            assert!(
                took < std::time::Duration::from_secs(5),
                "{n}: {command:?} took {took:?}"
            );
        }
    }
}

/// The index in `ports` of a replica of the master `master_id` (as the replica says).
fn replica_of(ports: &[u16], master_id: &str) -> Option<usize> {
    (0..ports.len()).find(|&i| {
        cluster_nodes_text(ports[i]).lines().any(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields[2].contains("myself") && fields[3] == master_id
        })
    })
}

/// Waits until `port`'s node has marked the node at `dead_port` as failed.
fn wait_marked_fail(port: u16, dead_port: u16) {
    wait_long("the dead node marked fail", || {
        cluster_nodes_text(port).lines().any(|l| {
            l.contains(&format!("127.0.0.1:{dead_port}@"))
                && l.contains("fail")
                && !l.contains("fail?")
        })
    });
}

/// A master that never comes back: FIX and DELNODE each refuse and name the way out, and
/// `CLUSTER.FIX FORGET-DEAD` writes it off — without a replica its slots are covered again,
/// empty (reported as lost), with one its replica takes them over (here a replica that may
/// not fail over by itself) — leaving a cluster `redis-cli --cluster check` passes and every
/// key a live node held.
#[test]
fn fix_forget_dead_writes_off_a_master_that_never_returns() {
    for kind in servers() {
        let n = kind.name.clone();
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();

        // No replica: the dead master's keys are gone, its slots covered again.
        let mut nodes = cluster_nodes(&kind, 3, &[], &[]);
        let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
        let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
        let created = text(&mut m, &["CLUSTER.CREATE", &addrs[0], &addrs[1], &addrs[2]]);
        assert!(created.contains("[OK]"), "{n}: {created}");
        populate(ports[0], 3000);
        let lost_keys: i64 = redis::cmd("DBSIZE").query(&mut connect(ports[2])).unwrap();
        let lost_slots = slot_count(ports[0], ports[2]);
        nodes[2].kill();
        wait_marked_fail(ports[0], ports[2]);
        let refused = reply(&mut m, &["CLUSTER.FIX", &addrs[0], "MOVE-STRAYS"]);
        assert!(
            refused.starts_with(&format!("ERR cannot fix while {} is unreachable", addrs[2]))
                && refused.ends_with("if it will not come back, CLUSTER.FIX FORGET-DEAD"),
            "{n}: {refused}"
        );
        let refused = reply(&mut m, &["CLUSTER.DELNODE", &addrs[0], &addrs[2]]);
        assert!(
            refused.contains(&format!("holds {lost_slots} slots"))
                && refused.contains("CLUSTER.FIX FORGET-DEAD"),
            "{n}: {refused}"
        );
        let fixed = json(&mut m, &["CLUSTER.FIX", &addrs[0], "FORGET-DEAD", "JSON"]);
        let actions = fixed["actions"].as_array().unwrap();
        assert_eq!(actions[0]["action"], "lost", "{n}: {fixed}");
        assert_eq!(actions[1]["action"], "forgot", "{n}: {fixed}");
        assert_eq!(actions[1]["addr"], addrs[2].as_str(), "{n}: {fixed}");
        assert_eq!(fixed["ok"], true, "{n}: {fixed}");
        assert_check_ok(
            ports[0],
            &format!("{n}: after FORGET-DEAD without a replica"),
        );
        assert_eq!(total_keys(ports[0]), 3000 - lost_keys, "{n}");
        drop(nodes);

        // With a replica that does not fail over by itself: FORGET-DEAD promotes it.
        let mut nodes = common::start_cluster(&kind, &[], &[]);
        for node in &nodes[3..] {
            reply(
                &mut node.connection(),
                &["CONFIG", "SET", "cluster-replica-no-failover", "yes"],
            );
        }
        let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
        let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
        populate(ports[0], 3000);
        let victim_id = node_id(ports[1]);
        let replica = replica_of(&ports, &victim_id).expect("the victim's replica");
        // Every write has reached the replica before the kill (asked of the replica itself).
        let on_victim: i64 = redis::cmd("DBSIZE").query(&mut connect(ports[1])).unwrap();
        assert!(on_victim > 0, "{n}");
        wait_long("the replica holding its master's keys", || {
            redis::cmd("DBSIZE")
                .query::<i64>(&mut connect(ports[replica]))
                .unwrap()
                == on_victim
        });
        nodes[1].kill();
        wait_marked_fail(ports[0], ports[1]);
        let replica_keys: i64 = redis::cmd("DBSIZE")
            .query(&mut connect(ports[replica]))
            .unwrap();
        assert_eq!(
            replica_keys, on_victim,
            "{n}: the replica kept its keys after the kill"
        );
        let fixed = json(&mut m, &["CLUSTER.FIX", &addrs[0], "FORGET-DEAD", "JSON"]);
        let actions = fixed["actions"].as_array().unwrap();
        assert_eq!(actions[0]["action"], "takeover", "{n}: {fixed}");
        assert_eq!(actions[0]["by"], addrs[replica].as_str(), "{n}: {fixed}");
        assert_eq!(fixed["ok"], true, "{n}: {fixed}");
        assert_check_ok(ports[0], &format!("{n}: after FORGET-DEAD with a replica"));
        // Keys on the live masters, each asked itself (the promoted node's flags read
        // `master,nofailover`).
        let on_masters: i64 = ports
            .iter()
            .filter(|p| **p != ports[1])
            .filter(|p| {
                let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut connect(**p)).unwrap();
                matches!(&role[0], redis::Value::BulkString(r) if r == b"master")
            })
            .map(|p| redis::cmd("DBSIZE").query::<i64>(&mut connect(*p)).unwrap())
            .sum();
        let roles: Vec<String> = ports
            .iter()
            .filter(|p| **p != ports[1])
            .map(|p| {
                let size: i64 = redis::cmd("DBSIZE").query(&mut connect(*p)).unwrap();
                let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut connect(*p)).unwrap();
                format!("{p} {size} {:?}", role[0])
            })
            .collect();
        assert_eq!(on_masters, 3000, "{n}: no key lost: {roles:?}");
    }
}

/// The master role of the node at `port`, asked of the node itself.
fn is_master(port: u16) -> bool {
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut connect(port)).unwrap();
    matches!(&role[0], redis::Value::BulkString(r) if r == b"master")
}

/// Every key `key:<i>` (i < n) on the master owning its slot with its value, and no more keys
/// on the masters than that: each key readable exactly once.
fn assert_every_key_once(ports: &[u16], live: &[u16], n: usize, what: &str) {
    let seed = live[0];
    let owners = owners(seed);
    let mut per_owner: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        per_owner
            .entry(owners[&key_slot(&format!("key:{i}"))])
            .or_default()
            .push(i);
    }
    for (port, keys) in &per_owner {
        let mut pipe = redis::pipe();
        for i in keys {
            pipe.cmd("GET").arg(format!("key:{i}"));
        }
        let values: Vec<Option<String>> = pipe.query(&mut connect(*port)).unwrap();
        for (i, value) in keys.iter().zip(values) {
            assert_eq!(value, Some(i.to_string()), "{what}: key:{i} on {port}");
        }
    }
    // A key on a master that does not own its slot is a stale copy no client can read.
    let mut strays = Vec::new();
    for port in ports.iter().filter(|p| live.contains(p) && is_master(**p)) {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query(&mut connect(*port))
            .unwrap();
        strays.extend(
            keys.into_iter()
                .filter(|k| owners[&key_slot(k)] != *port)
                .map(|k| {
                    format!(
                        "{k} (slot {}, owner {}) on {port}",
                        key_slot(&k),
                        owners[&key_slot(&k)]
                    )
                }),
        );
    }
    assert!(
        strays.is_empty(),
        "{what}: keys outside their owner: {strays:?}"
    );
}

/// The scenario of a master dying mid-reshard in a cluster with replicas: 3 masters + 3
/// replicas, 20,000 keys, `CLUSTER.RESHARD` of 5,000 slots, `kill -9` of the source or of the
/// target while keys move; its replica takes over; the killed node comes back (and joins as a
/// replica of its successor) or never does. `CLUSTER.FIX` (with `FORGET-DEAD` for the node that
/// stays dead) must leave a cluster `redis-cli --cluster check` passes with every key on its
/// owner, exactly once.
#[test]
fn fix_repairs_a_master_killed_mid_reshard_with_replicas() {
    const KEYS: usize = 20_000;
    for kind in servers() {
        let n = kind.name.clone();
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        for variant in ["source restarted", "target restarted", "source left dead"] {
            let mut nodes = cluster_nodes(
                &kind,
                6,
                &[],
                &["--appendonly", "yes", "--appendfsync", "always"],
            );
            let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
            let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
            let mut create = vec!["CLUSTER.CREATE"];
            create.extend(addrs.iter().map(String::as_str));
            create.extend(["REPLICAS", "1"]);
            let created = text(&mut m, &create);
            assert!(created.contains("3 replicas linked"), "{n}: {created}");
            populate(ports[0], KEYS);
            let masters: Vec<usize> = (0..6).filter(|&i| is_master(ports[i])).collect();
            assert_eq!(masters.len(), 3, "{n}");
            // Every write has reached the replicas before anything is killed.
            for &i in &masters {
                let id = node_id(ports[i]);
                let size: i64 = redis::cmd("DBSIZE").query(&mut connect(ports[i])).unwrap();
                let replica = replica_of(&ports, &id).expect("a replica for every master");
                wait_long("a replica holding its master's keys", || {
                    redis::cmd("DBSIZE")
                        .query::<i64>(&mut connect(ports[replica]))
                        .unwrap()
                        == size
                });
            }
            let (source, target) = (masters[0], masters[1]);
            let victim = if variant.starts_with("target") {
                target
            } else {
                source
            };
            let seed = masters[2];
            let args: Vec<String> = [
                "CLUSTER.RESHARD",
                &addrs[seed],
                "FROM",
                &addrs[source],
                "TO",
                &addrs[target],
                "SLOTS",
                "5000",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let outcome = reshard_and_kill(
                manager.port,
                args,
                (ports[source], ports[target]),
                &mut nodes[victim],
            );
            assert!(outcome.starts_with("ERR "), "{n}, {variant}: {outcome}");
            // The live nodes may not have noticed the death yet (then they still say ok): FIX
            // may run while the replica's own election is under way, which it must survive.
            let live: Vec<u16> = ports
                .iter()
                .copied()
                .filter(|p| *p != ports[victim])
                .collect();
            wait_long("the live nodes answering", || {
                live.iter().all(|p| state_ok(*p))
            });
            let fixed = if variant.ends_with("dead") {
                wait_marked_fail(ports[seed], ports[victim]);
                json(
                    &mut m,
                    &["CLUSTER.FIX", &addrs[seed], "FORGET-DEAD", "JSON"],
                )
            } else {
                nodes[victim].restart();
                wait_long("every node ok after the restart", || {
                    ports.iter().all(|p| state_ok(*p))
                });
                json(&mut m, &["CLUSTER.FIX", &addrs[seed], "JSON"])
            };
            eprintln!("{n}, {variant}: {outcome}; FIX: {fixed}");
            assert_eq!(fixed["ok"], true, "{n}, {variant}: {fixed}");
            let alive = if variant.ends_with("dead") {
                &live
            } else {
                &ports
            };
            assert_check_ok(alive[0], &format!("{n}, {variant}: after FIX"));
            assert_every_key_once(&ports, alive, KEYS, &format!("{n}, {variant}"));
        }
    }
}

/// Keys a master holds in a slot it does not own (left by a master that died mid-reshard,
/// made here on purpose with an import opened and closed around `ASKING` writes): no client
/// reads them and `redis-cli --cluster check` passes, but FIX reports them, and with
/// MOVE-STRAYS moves them to the owner — a key the owner lacks is moved, an equal copy dropped,
/// and a differing copy makes FIX fail naming the key, keeping both.
#[test]
fn fix_moves_keys_outside_their_owner() {
    for kind in servers() {
        let n = kind.name.clone();
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut m = manager.connection();
        let nodes = cluster_nodes(&kind, 3, &[], &[]);
        let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
        let addrs: Vec<String> = nodes.iter().map(Server::addr).collect();
        let created = text(&mut m, &["CLUSTER.CREATE", &addrs[0], &addrs[1], &addrs[2]]);
        assert!(created.contains("[OK]"), "{n}: {created}");
        populate(ports[0], 1000);
        let owner_id = node_id(ports[0]);
        // Keys of slots the first node owns, written on the second.
        let stray = |key: &str, value: &str| {
            let slot = key_slot(key).to_string();
            let mut con = connect(ports[1]);
            let _: () = redis::cmd("CLUSTER")
                .arg(&["SETSLOT", &slot, "IMPORTING", &owner_id])
                .query(&mut con)
                .unwrap();
            let _: () = redis::pipe()
                .cmd("ASKING")
                .cmd("SET")
                .arg(key)
                .arg(value)
                .query(&mut con)
                .unwrap();
            let _: () = redis::cmd("CLUSTER")
                .arg(&["SETSLOT", &slot, "STABLE"])
                .query(&mut con)
                .unwrap();
        };
        let mine: Vec<String> = (0..1000)
            .map(|i| format!("key:{i}"))
            .filter(|k| owners(ports[0])[&key_slot(k)] == ports[0])
            .take(2)
            .collect();
        let absent = (0..)
            .map(|i| format!("only-stray:{i}"))
            .find(|k| owners(ports[0])[&key_slot(k)] == ports[0])
            .unwrap();
        let equal_value: String = redis::cmd("GET")
            .arg(&mine[0])
            .query(&mut connect(ports[0]))
            .unwrap();
        stray(&absent, "found");
        stray(&mine[0], &equal_value);
        assert_check_ok(ports[0], &format!("{n}: strays are invisible to redis-cli"));

        // Found and reported, not moved, by default.
        let found = json(&mut m, &["CLUSTER.FIX", &addrs[0], "JSON"]);
        let action = &found["actions"][0];
        assert_eq!(action["action"], "strays found", "{n}: {found}");
        assert_eq!(action["on"], node_id(ports[1]), "{n}: {found}");
        assert_eq!(action["keys"], 2, "{n}: {found}");
        let text_found = text(&mut m, &["CLUSTER.FIX", &addrs[0]]);
        assert!(
            text_found.contains("CLUSTER.FIX MOVE-STRAYS moves them to the owner"),
            "{n}: {text_found}"
        );
        let fixed = json(&mut m, &["CLUSTER.FIX", &addrs[0], "MOVE-STRAYS", "JSON"]);
        let action = &fixed["actions"][0];
        assert_eq!(action["action"], "strays moved", "{n}: {fixed}");
        assert_eq!(action["from"], node_id(ports[1]), "{n}: {fixed}");
        assert_eq!(action["to"], owner_id.as_str(), "{n}: {fixed}");
        assert_eq!(action["keys"], 2, "{n}: {fixed}");
        assert_eq!(fixed["ok"], true, "{n}: {fixed}");
        assert_eq!(get_from_owner(ports[0], &absent).as_deref(), Some("found"));
        let _: () = redis::cmd("DEL")
            .arg(&absent)
            .query(&mut connect(ports[0]))
            .unwrap();
        assert_every_key_once(&ports, &ports, 1000, &format!("{n}: after FIX"));

        // A differing copy: FIX stops, names the key, and keeps both.
        stray(&mine[1], "differs");
        let refused = reply(&mut m, &["CLUSTER.FIX", &addrs[0], "MOVE-STRAYS"]);
        assert!(
            refused.starts_with("ERR moving keys outside their owner: ")
                && refused.contains(&mine[1]),
            "{n}: {refused}"
        );
        let kept: Option<String> = redis::cmd("GET")
            .arg(&mine[1])
            .query(&mut connect(ports[0]))
            .unwrap();
        assert!(kept.is_some_and(|v| v != "differs"), "{n}");
        let on_holder: i64 = redis::cmd("DBSIZE").query(&mut connect(ports[1])).unwrap();
        assert!(on_holder > 0, "{n}");
        assert_check_ok(ports[0], &format!("{n}: no slot left open"));
    }
}
