//! `CLUSTER.MONITOR` / `CLUSTER.EVENTS` of the `cluster` module on real six-node clusters
//! (three masters, three replicas, 1 s node timeout): a master killed and restarted is
//! recorded as pfail, fail, failover to its replica, recovery as a replica; the events are
//! published on `cluster.events` and summed up in `INFO cluster_monitor`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{Server, reply, servers, start_cluster, text};
use serde_json::Value as Json;

fn events(con: &mut redis::Connection) -> Vec<Json> {
    let json = text(con, &["CLUSTER.EVENTS", "JSON"]);
    match serde_json::from_str(&json).expect("CLUSTER.EVENTS JSON") {
        Json::Array(events) => events,
        other => panic!("not an array: {other}"),
    }
}

/// Waits (bounded, 30 s) until an event matches.
fn wait_event(con: &mut redis::Connection, what: &str, matches: impl Fn(&Json) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if events(con).iter().any(&matches) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out waiting for {what}; events:\n{}",
        text(con, &["CLUSTER.EVENTS"])
    );
}

/// Waits (bounded, 15 s) until a second passes without a new event: a cluster that just
/// changed may still settle (epochs, roles), and a snapshot of the log taken meanwhile races
/// the next event.
fn wait_quiet(con: &mut redis::Connection) {
    let mut seen = events(con).len();
    let quiet_by = Instant::now() + Duration::from_secs(15);
    loop {
        sleep(Duration::from_secs(1));
        let now = events(con).len();
        if now == seen || Instant::now() > quiet_by {
            return;
        }
        seen = now;
    }
}

/// Whether `e` is the watcher missing a node's reply deadline (250 ms at the intervals used
/// here), or reading it again after that. On a loaded machine a busy node (migrating slots,
/// a replica syncing) may miss one poll's deadline: that is the watcher's view, not an event
/// of the cluster the tests look for. A node it cannot reach at all is not this.
fn missed_deadline(e: &Json) -> bool {
    e["kind"] == "node_reachable"
        || (e["kind"] == "node_unreachable"
            && e["details"]
                .as_str()
                .is_some_and(|d| d.contains("no reply within 250 ms")))
}

/// Node ids by port, and each replica's master id.
/// The cluster as `con`'s node sees it — node ids by port, and replica id → master id — once
/// it sees 3 masters each with one replica: right after creation a node may not have heard yet
/// which master a replica follows (seen on Redis 7.2.6).
fn topology(con: &mut redis::Connection) -> (BTreeMap<u16, String>, BTreeMap<String, String>) {
    let mut seen = read_topology(con);
    common::wait_for("3 masters with one replica each in the seed's view", || {
        seen = read_topology(con);
        let (ids, masters) = &seen;
        let followed: std::collections::BTreeSet<&String> = masters.values().collect();
        ids.len() == 6
            && masters.len() == 3
            && followed.len() == 3
            && followed.iter().all(|m| !masters.contains_key(*m))
    });
    seen
}

fn read_topology(con: &mut redis::Connection) -> (BTreeMap<u16, String>, BTreeMap<String, String>) {
    let mut ids = BTreeMap::new();
    let mut masters = BTreeMap::new();
    for line in text(con, &["CLUSTER", "NODES"]).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port: u16 = fields[1]
            .split('@')
            .next()
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .expect("port");
        ids.insert(port, fields[0].to_owned());
        if fields[3] != "-" {
            masters.insert(fields[0].to_owned(), fields[3].to_owned());
        }
    }
    (ids, masters)
}

/// Collects what a `SUBSCRIBE cluster.events` client receives, until dropped.
struct Subscriber {
    messages: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Subscriber {
    fn start(server: &Server) -> Subscriber {
        let mut con = server.connection();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (messages, stop) = (Arc::clone(&messages), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut pubsub = con.as_pubsub();
                pubsub.subscribe("cluster.events").expect("subscribe");
                pubsub
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                ready_tx.send(()).unwrap();
                while !stop.load(Ordering::Acquire) {
                    if let Ok(message) = pubsub.get_message() {
                        let payload: String = message.get_payload().expect("text payload");
                        messages.lock().unwrap().push(payload);
                    }
                }
            })
        };
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("subscribed");
        Subscriber {
            messages,
            stop,
            thread: Some(thread),
        }
    }

    fn received(&self) -> Vec<Json> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| serde_json::from_str(m).expect("published JSON"))
            .collect()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The INFO section as field → value.
fn info_fields(con: &mut redis::Connection) -> BTreeMap<String, String> {
    text(con, &["INFO", "cluster_monitor"])
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn position(events: &[Json], kind: &str, node: &str) -> Option<usize> {
    events
        .iter()
        .position(|e| e["kind"] == kind && e["node"] == node)
}

#[test]
fn a_failover_is_recorded_published_and_counted() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes = start_cluster(&kind, &[], &[]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut con = manager.connection();
        let subscriber = Subscriber::start(&manager);
        let (ids, masters) = topology(&mut nodes[0].connection());
        let seed = format!("127.0.0.1:{}", nodes[0].port);

        let started = text(&mut con, &["CLUSTER.MONITOR", &seed, "INTERVAL", "100"]);
        let epoch = started.rsplit(' ').next().unwrap().trim().to_owned();
        assert_eq!(
            started,
            format!(
                "watching {seed} every 100 ms: 6 nodes (3 masters, 3 replicas), 6 reachable, \
                 0 pfail, 0 fail, 16384 slots covered, cluster_state ok, current_epoch {epoch}\n"
            ),
            "{n}"
        );
        // Asked again without INTERVAL: the running watcher is shown.
        let again = text(&mut con, &["CLUSTER.MONITOR", &seed]);
        assert!(
            again.starts_with(&format!("already watching {seed} every 100 ms: ")),
            "{n}: {again}"
        );
        // A running watcher takes a new interval (and back).
        assert_eq!(
            text(&mut con, &["CLUSTER.MONITOR", &seed, "INTERVAL", "250"]),
            format!("watching {seed} every 250 ms now (was 100 ms)\n"),
            "{n}"
        );
        let list = text(&mut con, &["CLUSTER.MONITOR", "LIST"]);
        assert!(
            list.starts_with(&format!("{seed} every 250 ms: ")),
            "{n}: {list}"
        );
        assert_eq!(
            text(&mut con, &["CLUSTER.MONITOR", &seed, "INTERVAL", "100"]),
            format!("watching {seed} every 100 ms now (was 250 ms)\n"),
            "{n}"
        );
        let list = text(&mut con, &["CLUSTER.MONITOR", "LIST"]);
        assert!(
            list.starts_with(&format!("{seed} every 100 ms: ")),
            "{n}: {list}"
        );
        assert!(
            text(&mut con, &["CLUSTER.JOBS"]).contains("monitor [running]"),
            "{n}"
        );

        // Kill a master other than the seed: its replica takes over.
        let v = (1..6)
            .find(|&i| !masters.contains_key(&ids[&nodes[i].port]))
            .expect("a master besides the seed");
        let victim_port = nodes[v].port;
        let victim_id = ids[&victim_port].clone();
        let replica_id = masters
            .iter()
            .find(|(_, master)| **master == victim_id)
            .map(|(replica, _)| replica.clone())
            .expect("the victim's replica");
        let replica_port = *ids.iter().find(|(_, id)| **id == replica_id).unwrap().0;
        nodes[v].kill();
        wait_event(&mut con, "the failover", |e| e["kind"] == "failover");
        wait_event(&mut con, "coverage after the failover", |_| {
            info_fields(&mut manager.connection())
                .get("cluster_slots_covered")
                .map(String::as_str)
                == Some("16384")
        });

        // Back: it rejoins as the replica of its former replica.
        nodes[v].restart();
        wait_event(&mut con, "the old master's recovery", |e| {
            e["kind"] == "node_recovered" && e["node"] == victim_id.as_str()
        });
        wait_event(&mut con, "the old master's new role", |e| {
            e["kind"] == "role_changed" && e["node"] == victim_id.as_str()
        });

        // The log is read twice below (JSON, text) and compared with COUNT and SINCE reads.
        wait_quiet(&mut con);
        let all = events(&mut con);
        let shown = text(&mut con, &["CLUSTER.EVENTS"]);
        let at = |kind: &str, node: &str| {
            position(&all, kind, node)
                .unwrap_or_else(|| panic!("{n}: no {kind} for {node} in\n{shown}"))
        };
        assert_eq!(all[0]["kind"], "watch_started", "{n}");
        let (unreachable, pfail, fail) = (
            at("node_unreachable", &victim_id),
            at("node_pfail", &victim_id),
            at("node_fail", &victim_id),
        );
        let failover = at("failover", &replica_id);
        let (recovered, reachable, role) = (
            at("node_recovered", &victim_id),
            at("node_reachable", &victim_id),
            at("role_changed", &victim_id),
        );
        assert!(
            unreachable < fail && pfail < fail && fail < failover,
            "{n}:\n{shown}"
        );
        assert!(
            failover < recovered && failover < reachable && failover < role,
            "{n}"
        );
        let victim_addr = format!("127.0.0.1:{victim_port}");
        let replica_addr = format!("127.0.0.1:{replica_port}");
        let over = &all[failover];
        assert_eq!(over["addr"], replica_addr.as_str(), "{n}");
        assert_eq!(over["data"]["old_master"], victim_id.as_str(), "{n}");
        assert_eq!(over["data"]["old_master_addr"], victim_addr.as_str(), "{n}");
        assert_eq!(over["data"]["new_master"], replica_id.as_str(), "{n}");
        assert_eq!(
            over["data"]["new_master_addr"],
            replica_addr.as_str(),
            "{n}"
        );
        assert_eq!(
            over["details"],
            format!(
                "{victim_addr} ({victim_id}) -> {replica_addr} ({replica_id}): the replica took \
                 over slots {}",
                over["data"]["slots"].as_str().unwrap()
            )
            .as_str(),
            "{n}"
        );
        assert_eq!(
            all[role]["details"],
            format!("master -> replica of {replica_addr} ({replica_id})").as_str(),
            "{n}"
        );
        assert_eq!(all[role]["data"]["master"], replica_id.as_str(), "{n}");
        // The promoted replica got a new config epoch, above every earlier one.
        let epoch_change = at("config_epoch_changed", &replica_id);
        assert!(epoch_change > fail, "{n}");
        assert!(at("epoch_changed", "-") > pfail, "{n}");
        // Coverage: lost (slots of a failed master) only with a restore after it.
        if let Some(lost) = position(&all, "coverage_lost", "-") {
            let restored = position(&all, "coverage_restored", "-")
                .unwrap_or_else(|| panic!("{n}: lost, never restored:\n{shown}"));
            assert!(
                fail <= lost && lost < restored && restored > failover,
                "{n}"
            );
        }
        // Nothing happened to the other nodes' health, and no node came or went.
        for e in &all {
            let kind = e["kind"].as_str().unwrap();
            if kind.starts_with("node_") && !missed_deadline(e) {
                assert_eq!(e["node"], victim_id.as_str(), "{n}: {e}");
            }
        }
        // Sequence numbers increase by one; text lines show the same events.
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e["seq"], i as u64 + 1, "{n}");
            assert_eq!(e["cluster"], seed.as_str(), "{n}");
        }
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines.len(), all.len(), "{n}");
        let f = &all[failover];
        assert_eq!(
            lines[failover],
            format!(
                "#{} {} failover {replica_id} {replica_addr} {}",
                f["seq"],
                f["time_ms"],
                f["details"].as_str().unwrap()
            ),
            "{n}"
        );
        // COUNT: the newest ones; SINCE: those after a sequence number.
        let last_two = text(&mut con, &["CLUSTER.EVENTS", "COUNT", "2"]);
        assert_eq!(
            last_two,
            format!("{}\n{}\n", lines[lines.len() - 2], lines[lines.len() - 1]),
            "{n}"
        );
        let since = text(
            &mut con,
            &["CLUSTER.EVENTS", "SINCE", &(all.len() - 1).to_string()],
        );
        assert_eq!(since, format!("{}\n", lines[lines.len() - 1]), "{n}");

        // INFO agrees with the log and the cluster.
        let info = info_fields(&mut con);
        let field = |name: &str| info.get(name).cloned().unwrap_or_default();
        assert_eq!(field("cluster_watchers"), "1", "{n}");
        assert_eq!(field("cluster_nodes"), "6", "{n}");
        assert_eq!(field("cluster_nodes_ok"), "6", "{n}");
        assert_eq!(field("cluster_nodes_pfail"), "0", "{n}");
        assert_eq!(field("cluster_nodes_fail"), "0", "{n}");
        assert_eq!(field("cluster_nodes_unreachable"), "0", "{n}");
        assert_eq!(field("cluster_slots_covered"), "16384", "{n}");
        assert!(field("cluster_polls").parse::<u64>().unwrap() > 10, "{n}");
        let total: usize = field("cluster_events_total").parse().unwrap();
        assert!(total >= all.len(), "{n}");
        let counts = field("cluster_events");
        let counts: BTreeMap<&str, usize> = counts
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.parse().unwrap()))
            .collect();
        assert_eq!(counts.values().sum::<usize>(), total, "{n}");
        assert_eq!(counts["failover"], 1, "{n}");
        assert_eq!(counts["node_fail"], 1, "{n}");
        assert_eq!(counts["watch_started"], 1, "{n}");
        let watcher = field("cluster_watcher_0");
        assert!(
            watcher.starts_with(&format!("seed={seed},interval_ms=100,polls=")),
            "{n}: {watcher}"
        );
        assert!(
            watcher.contains(",nodes=6,pfail=0,fail=0,slots_covered=16384,cluster_state=ok,"),
            "{n}: {watcher}"
        );

        // Stop: a last event, then no watcher.
        assert_eq!(
            text(&mut con, &["CLUSTER.MONITOR", "STOP", &seed]),
            format!("stopped {seed}\n"),
            "{n}"
        );
        wait_event(&mut con, "the watcher's end", |e| {
            e["kind"] == "watch_stopped"
        });
        assert_eq!(
            text(&mut con, &["CLUSTER.MONITOR", "LIST"]),
            "no watchers\n",
            "{n}"
        );
        assert_eq!(field_now(&mut con, "cluster_watchers"), "0", "{n}");
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "STOP", &seed]),
            format!("ERR no watcher for {seed}"),
            "{n}"
        );

        // Every event was published, in order, as CLUSTER.EVENTS JSON shows it.
        let all = events(&mut con);
        common::wait_for("every event published", || {
            subscriber.received().len() == all.len()
        });
        assert_eq!(subscriber.received(), all, "{n}");
        drop(subscriber);
        assert!(nodes.iter_mut().all(Server::alive), "{n}");
    }
}

fn field_now(con: &mut redis::Connection, name: &str) -> String {
    info_fields(con).get(name).cloned().unwrap_or_default()
}

#[test]
fn a_watcher_inside_a_cluster_node() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes = start_cluster(&kind, &["cluster"], &["--enable-module-command", "yes"]);
        let mut con = nodes[0].connection();
        let own = format!("127.0.0.1:{}", nodes[0].port);
        // No address: the hosting node's cluster.
        let started = text(&mut con, &["CLUSTER.MONITOR", "INTERVAL", "100", "JSON"]);
        let started: Json = serde_json::from_str(&started).unwrap();
        assert_eq!(started["seed"], own.as_str(), "{n}");
        assert_eq!(started["nodes"], 6, "{n}");
        assert_eq!(started["slots_covered"], 16384, "{n}");
        assert_eq!(started["cluster_state"], "ok", "{n}");
        let again: Json =
            serde_json::from_str(&text(&mut con, &["CLUSTER.MONITOR", "JSON"])).unwrap();
        assert_eq!(again["seed"], own.as_str(), "{n}");
        assert_eq!(again["interval_ms"], 100, "{n}");
        // A replica dies and comes back: fail, then recovered (no failover, no coverage loss).
        let (ids, masters) = topology(&mut con);
        let replica = (1..6)
            .find(|&i| masters.contains_key(&ids[&nodes[i].port]))
            .unwrap();
        let replica_id = ids[&nodes[replica].port].clone();
        nodes[replica].kill();
        wait_event(&mut con, "the replica's failure", |e| {
            e["kind"] == "node_fail" && e["node"] == replica_id.as_str()
        });
        nodes[replica].restart();
        wait_event(&mut con, "the replica's recovery", |e| {
            e["kind"] == "node_recovered" && e["node"] == replica_id.as_str()
        });
        let kinds: Vec<String> = events(&mut con)
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        assert!(!kinds.iter().any(|k| k == "failover"), "{n}: {kinds:?}");
        assert!(
            !kinds.iter().any(|k| k == "coverage_lost"),
            "{n}: {kinds:?}"
        );
        // Unloading the module stops and joins the watcher; the node keeps serving.
        assert_eq!(
            reply(&mut con, &["MODULE", "UNLOAD", "cluster"]),
            "+OK",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["PING"]), "+PONG", "{n}");
        assert!(nodes[0].alive(), "{n}");
        assert!(
            nodes[0].log().contains("Module cluster unloaded"),
            "{n}: {}",
            nodes[0].log()
        );
    }
}

#[test]
fn bad_arguments_and_unreachable_seeds() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut server = Server::start(&kind, &["cluster"], &[]);
        let mut con = server.connection();
        let own = format!("127.0.0.1:{}", server.port);
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR"]),
            format!("ERR {own} is not in cluster mode"),
            "{n}"
        );
        let refused = reply(&mut con, &["CLUSTER.MONITOR", "127.0.0.1:1"]);
        assert!(refused.starts_with("ERR 127.0.0.1:1: "), "{n}: {refused}");
        assert_eq!(
            reply(
                &mut con,
                &["CLUSTER.MONITOR", "127.0.0.1:1", "INTERVAL", "5"]
            ),
            "ERR INTERVAL must be between 10 and 60000 ms, got '5'",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "127.0.0.1:1", "INTERVAL"]),
            "ERR INTERVAL needs a number of milliseconds",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "127.0.0.1:1", "EVERY", "5"]),
            "ERR unexpected argument 'EVERY': CLUSTER.MONITOR [host:port] [INTERVAL ms]",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "STOP", "127.0.0.1:1"]),
            "ERR no watcher for 127.0.0.1:1",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "STOP", "nowhere"]),
            "ERR invalid address 'nowhere' (expected host:port)",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "STOP", "ALL"]),
            "\"no watchers\\n\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.MONITOR", "LIST", "JSON"]),
            "\"[]\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.EVENTS"]),
            "\"no events\\n\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.EVENTS", "JSON"]),
            "\"[]\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.EVENTS", "COUNT", "-1"]),
            "ERR COUNT must be a non-negative integer, got '-1'",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CLUSTER.EVENTS", "LAST", "1"]),
            "ERR unexpected argument 'LAST': CLUSTER.EVENTS [COUNT n] [SINCE seq] [JSON]",
            "{n}"
        );
        // Failed starts leave no watcher and no event.
        let info = info_fields(&mut con);
        assert_eq!(info["cluster_watchers"], "0", "{n}");
        assert_eq!(info["cluster_events_total"], "0", "{n}");
        assert!(server.alive(), "{n}");
    }
}

/// Sends `signal` (`STOP`, `CONT`) to a server process.
fn signal(server: &Server, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal}");
}

/// Polls the watcher made during `for_ms`, from INFO.
fn polls_during(con: &mut redis::Connection, for_ms: u64) -> u64 {
    let polls =
        |con: &mut redis::Connection| -> u64 { field_now(con, "cluster_polls").parse().unwrap() };
    let before = polls(con);
    sleep(Duration::from_millis(for_ms));
    polls(con) - before
}

/// A node that keeps its connections but stops answering (SIGSTOP) is polled on its own
/// deadline: the watcher keeps polling every other node at its interval, reports the frozen
/// one unreachable ("no reply within ..."), and sees the frozen master's failover and, once it
/// runs again (SIGCONT), its return as a replica; a frozen replica is failed and recovered
/// with no event about any other node.
#[test]
fn a_frozen_node_delays_no_other() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes = start_cluster(&kind, &[], &[]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut con = manager.connection();
        let (ids, masters) = topology(&mut nodes[0].connection());
        let seed = format!("127.0.0.1:{}", nodes[0].port);
        text(&mut con, &["CLUSTER.MONITOR", &seed, "INTERVAL", "200"]);
        // Unfrozen, about one poll per interval (200 ms, plus the poll): some 15 in 4 s, at
        // least 5 on a loaded machine.
        let normal = polls_during(&mut con, 4000);
        assert!(normal >= 5, "{n}: {normal} polls in 4 s");

        let v = (1..6)
            .find(|&i| !masters.contains_key(&ids[&nodes[i].port]))
            .expect("a master besides the seed");
        let victim_id = ids[&nodes[v].port].clone();
        signal(&nodes[v], "STOP");
        // Each poll waits at most its deadline (250 ms here) for the frozen node: some 8 polls
        // in 4 s, never one per 2 s (the reply timeout of a blocking read: 2 in 4 s). The
        // window is 4 s so that a loaded machine (half the polls) still tells the two apart.
        let frozen = polls_during(&mut con, 4000);
        assert!(frozen >= 4, "{n}: {frozen} polls in 4 s with a node frozen");
        wait_event(&mut con, "the frozen master's failover", |e| {
            e["kind"] == "failover" && e["data"]["old_master"] == victim_id.as_str()
        });
        let all = events(&mut con);
        let unreachable = all
            .iter()
            .find(|e| e["kind"] == "node_unreachable" && e["node"] == victim_id.as_str())
            .unwrap_or_else(|| panic!("{n}: no node_unreachable in {all:?}"));
        assert!(
            unreachable["details"]
                .as_str()
                .unwrap()
                .contains("no reply within 250 ms"),
            "{n}: {unreachable}"
        );
        signal(&nodes[v], "CONT");
        wait_event(&mut con, "the thawed master's new role", |e| {
            e["kind"] == "role_changed" && e["node"] == victim_id.as_str()
        });
        wait_event(&mut con, "the thawed master reachable", |e| {
            e["kind"] == "node_reachable" && e["node"] == victim_id.as_str()
        });

        // A replica frozen, then thawed: only its own events (once the thawed master's are
        // all in).
        wait_quiet(&mut con);
        let seen = events(&mut con).len();
        let (ids, masters) = topology(&mut nodes[0].connection());
        let r = (1..6)
            .find(|&i| masters.contains_key(&ids[&nodes[i].port]))
            .expect("a replica besides the seed");
        let replica_id = ids[&nodes[r].port].clone();
        signal(&nodes[r], "STOP");
        wait_event(&mut con, "the frozen replica's failure", |e| {
            e["kind"] == "node_fail" && e["node"] == replica_id.as_str()
        });
        signal(&nodes[r], "CONT");
        wait_event(&mut con, "the thawed replica's recovery", |e| {
            e["kind"] == "node_recovered" && e["node"] == replica_id.as_str()
        });
        for e in events(&mut con)[seen..]
            .iter()
            .filter(|e| !missed_deadline(e))
        {
            let kind = e["kind"].as_str().unwrap();
            assert!(
                kind.starts_with("node_") && e["node"] == replica_id.as_str(),
                "{n}: {e}"
            );
        }
        assert!(nodes.iter_mut().all(Server::alive), "{n}");
    }
}

/// Operations seen as they are: a reshard is told as `slots_moved` events (no lost coverage,
/// no epoch event per slot), a removed node as `node_removed` (and no longer counted),
/// `CLUSTER.CHECK` with a node down judges agreement over the others at once, and the
/// server log has the events and the jobs.
#[test]
fn slot_moves_removed_nodes_and_a_node_down_are_told_as_such() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes = start_cluster(&kind, &[], &[]);
        let manager = Server::start(&kind, &["cluster"], &[]);
        let mut con = manager.connection();
        let (ids, masters) = topology(&mut nodes[0].connection());
        let seed = format!("127.0.0.1:{}", nodes[0].port);
        text(&mut con, &["CLUSTER.MONITOR", &seed, "INTERVAL", "20"]);
        let master_ports: Vec<u16> = ids
            .iter()
            .filter(|(_, id)| !masters.contains_key(*id))
            .map(|(port, _)| *port)
            .collect();
        let (from, to) = (master_ports[0], master_ports[1]);
        // A new cluster may still settle epoch collisions (seen on Valkey: a master's config
        // epoch 2 -> 7): start once a second passes without an event.
        wait_quiet(&mut con);
        let seen = events(&mut con).len();
        let resharded = text(
            &mut con,
            &[
                "CLUSTER.RESHARD",
                &seed,
                "FROM",
                &format!("127.0.0.1:{from}"),
                "TO",
                &format!("127.0.0.1:{to}"),
                "SLOTS",
                "2000",
            ],
        );
        assert!(resharded.contains("[OK]"), "{n}: {resharded}");
        wait_event(&mut con, "every moved slot", |_| {
            let moved: u64 = events(&mut manager.connection())[seen..]
                .iter()
                .filter(|e| e["kind"] == "slots_moved")
                .map(|e| e["data"]["count"].as_u64().unwrap())
                .sum();
            moved == 2000
        });
        let during = &events(&mut con)[seen..];
        let shown: Vec<String> = during
            .iter()
            .map(|e| format!("{} {} {}", e["kind"], e["addr"], e["details"]))
            .collect();
        for e in during.iter().filter(|e| !missed_deadline(e)) {
            assert_eq!(e["kind"], "slots_moved", "{n}: {shown:#?}");
            assert_eq!(e["data"]["from"], ids[&from].as_str(), "{n}: {e}");
            assert_eq!(e["data"]["to"], ids[&to].as_str(), "{n}: {e}");
        }

        // DELNODE of a replica: removed, and no longer counted.
        let replica_port = *ids
            .iter()
            .find(|(_, id)| masters.contains_key(*id))
            .unwrap()
            .0;
        let replica_id = ids[&replica_port].clone();
        let deleted = text(
            &mut con,
            &[
                "CLUSTER.DELNODE",
                &seed,
                &format!("127.0.0.1:{replica_port}"),
            ],
        );
        assert!(deleted.contains("removed"), "{n}: {deleted}");
        wait_event(&mut con, "the removed node", |e| {
            e["kind"] == "node_removed" && e["node"] == replica_id.as_str()
        });
        common::wait_for("5 nodes counted", || {
            field_now(&mut manager.connection(), "cluster_nodes") == "5"
        });

        // A replica down: the others agree; the check names it and does not wait for it.
        let down = ids
            .iter()
            .find(|(port, id)| masters.contains_key(*id) && **port != replica_port)
            .map(|(port, _)| *port)
            .unwrap();
        let i = nodes.iter().position(|node| node.port == down).unwrap();
        nodes[i].kill();
        let started = Instant::now();
        let checked = text(&mut con, &["CLUSTER.CHECK", &seed]);
        let took = started.elapsed();
        assert!(
            checked.contains("[OK] All nodes agree about slots configuration.")
                && checked.contains(&format!("[ERR] Node 127.0.0.1:{down} is unreachable")),
            "{n}: {checked}"
        );
        assert!(
            took < Duration::from_millis(1500),
            "{n}: CHECK took {took:?}"
        );

        // The server log (written on the next cron tick): events and jobs.
        common::wait_for("the events and jobs in the server log", || {
            let log = manager.log();
            log.contains("cluster.events #")
                && log.contains(" slots_moved ")
                && log.contains(" node_removed ")
                && log.contains("cluster job #")
                && log.contains(" reshard [done]")
        });
        assert!(
            nodes
                .iter_mut()
                .filter(|node| node.port != down)
                .all(Server::alive),
            "{n}"
        );
    }
}

/// The state file's JSON (`cluster-manager-<port>.json` in the manager's dir), or null.
fn state_file(server: &Server) -> Json {
    let name = format!("cluster-manager-{}.json", server.port);
    std::fs::read_to_string(server.dir().join(name))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Json::Null)
}

fn jobs(con: &mut redis::Connection) -> Vec<Json> {
    match serde_json::from_str(&text(con, &["CLUSTER.JOBS", "JSON"])).unwrap() {
        Json::Array(jobs) => jobs,
        other => panic!("not an array: {other}"),
    }
}

/// A restart of the server running the module keeps what it was doing: after a `kill -9` the
/// watcher resumes by itself, the events and finished jobs are back and numbering goes on;
/// a job running at a shutdown is listed as interrupted, with what it had reached; a stopped
/// watcher stays stopped.
#[test]
fn a_restart_keeps_the_watchers_the_events_and_the_jobs() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes = start_cluster(&kind, &[], &[]);
        let mut manager = Server::start(&kind, &["cluster"], &[]);
        let seed = format!("127.0.0.1:{}", nodes[0].port);
        let mut con = manager.connection();
        text(&mut con, &["CLUSTER.MONITOR", &seed, "INTERVAL", "100"]);
        text(&mut con, &["CLUSTER.CHECK", &seed]);
        let before = events(&mut con);
        let check_id = jobs(&mut con)
            .iter()
            .find(|j| j["kind"] == "check")
            .map(|j| j["id"].as_u64().unwrap())
            .expect("the check job");
        // Written within a second of the change. The check job must be in the file as done:
        // a file written while it still ran lists it running, and a kill -9 then (rightly)
        // makes it interrupted (under load this raced, and the test failed now and then).
        common::wait_for("the state file", || {
            let state = state_file(&manager);
            state["watchers"][0]["seed"] == seed.as_str()
                && state["events"]
                    .as_array()
                    .is_some_and(|e| e.len() >= before.len())
                && state["jobs"].as_array().is_some_and(|j| {
                    j.iter()
                        .any(|j| j["kind"] == "check" && j["state"] == "done")
                })
        });

        // kill -9, start again: resumed, with its events and jobs.
        manager.restart();
        let mut con = manager.connection();
        wait_event(&mut con, "the resumed watcher", |e| {
            e["kind"] == "watch_started" && e["data"]["resumed"] == true
        });
        let after = events(&mut con);
        assert_eq!(after[..before.len()], before[..], "{n}");
        assert_eq!(after[before.len()]["seq"], before.len() as u64 + 1, "{n}");
        let list = text(&mut con, &["CLUSTER.MONITOR", "LIST"]);
        assert!(
            list.starts_with(&format!("{seed} every 100 ms: ")),
            "{n}: {list}"
        );
        let listed = jobs(&mut con);
        let check = listed.iter().find(|j| j["id"] == check_id).expect("kept");
        assert_eq!(check["state"], "done", "{n}: {check}");
        text(&mut con, &["CLUSTER.INFO", &seed]);
        let newest = jobs(&mut con)
            .iter()
            .filter_map(|j| j["id"].as_u64())
            .max()
            .unwrap();
        assert!(newest > check_id + 1, "{n}: ids go on ({newest})");
        assert!(
            manager.log().contains(&format!(
                "cluster: from cluster-manager-{}.json: resumed 1 watchers",
                manager.port
            )),
            "{n}: {}",
            manager.log()
        );

        // A job running at a shutdown: interrupted, with its progress. (CLUSTER.CALL waits
        // for a frozen node up to its reply timeout.)
        let frozen = 2;
        signal(&nodes[frozen], "STOP");
        let mut con = manager.connection();
        let call_args = format!("{seed} PING");
        let caller = std::thread::spawn({
            let port = manager.port;
            let call_args = call_args.clone();
            move || {
                let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let args: Vec<&str> = std::iter::once("CLUSTER.CALL")
                    .chain(call_args.split(' '))
                    .collect();
                let _ = common::run(&mut con, &args);
            }
        });
        common::wait_for("the call running", || {
            jobs(&mut manager.connection())
                .iter()
                .any(|j| j["kind"] == "call" && j["state"] == "running")
        });
        let _ = common::run(&mut con, &["SHUTDOWN", "NOSAVE"]);
        common::wait_for("the manager's exit", || !manager.alive());
        let _ = caller.join();
        signal(&nodes[frozen], "CONT");
        manager.restart();
        let mut con = manager.connection();
        let listed = jobs(&mut con);
        // Kept by the command's name only (a command may carry secrets).
        let call = listed
            .iter()
            .find(|j| j["kind"] == "call" && j["args"] == format!("{call_args} …").as_str())
            .unwrap_or_else(|| panic!("{n}: no call in {listed:?}"));
        assert_eq!(call["state"], "interrupted", "{n}: {call}");
        let shown = text(&mut con, &["CLUSTER.JOBS"]);
        assert!(shown.contains(" call [interrupted] "), "{n}: {shown}");

        // STOP is kept too: no watcher after the next restart.
        common::wait_for("the watcher resumed again", || {
            events(&mut manager.connection())
                .iter()
                .filter(|e| e["kind"] == "watch_started" && e["data"]["resumed"] == true)
                .count()
                == 2
        });
        text(&mut con, &["CLUSTER.MONITOR", "STOP", &seed]);
        common::wait_for("the stop written", || {
            state_file(&manager)["watchers"]
                .as_array()
                .is_some_and(Vec::is_empty)
        });
        manager.restart();
        let mut con = manager.connection();
        // The file is read on the first cron tick after the start: wait for that read (a fixed
        // sleep could look before it, and see no watchers whatever the file said).
        common::wait_for("the state file read after the restart", || {
            manager.log().contains(&format!(
                "cluster: from cluster-manager-{}.json: resumed 0 watchers",
                manager.port
            ))
        });
        assert_eq!(
            text(&mut con, &["CLUSTER.MONITOR", "LIST"]),
            "no watchers\n",
            "{n}"
        );
        assert!(nodes.iter_mut().all(Server::alive), "{n}");
    }
}
