//! Keyspace notifications, server events and post-notification jobs on real servers, through
//! the `rmtest` fixture (`tests/fixture/src/events.rs`), whose callbacks record what they see.

mod common;

use std::time::{Duration, Instant};

use common::{Server, module, reply, servers, wait_for};

/// Takes the fixture's event records.
fn take_log(con: &mut redis::Connection) -> Vec<String> {
    redis::cmd("rmtest.events")
        .arg("log")
        .query(con)
        .expect("RMTEST.EVENTS LOG")
}

/// The records starting with `prefix`.
fn only(log: &[String], prefix: &str) -> Vec<String> {
    log.iter()
        .filter(|line| line.starts_with(prefix))
        .cloned()
        .collect()
}

fn count(con: &mut redis::Connection, name: &str) -> i64 {
    redis::cmd("rmtest.events")
        .arg("count")
        .arg(name)
        .query(con)
        .expect("RMTEST.EVENTS COUNT")
}

/// Collects records (bounded) until one equals `line`; returns all collected.
fn collect_until(con: &mut redis::Connection, line: &str) -> Vec<String> {
    let mut seen = Vec::new();
    wait_for(line, || {
        seen.extend(take_log(con));
        seen.iter().any(|l| l == line)
    });
    seen
}

#[test]
fn keyspace_notifications_reach_subscribers_and_pubsub() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        take_log(&mut con);

        // Server changes reach the module's subscriber with their class and event name.
        assert_eq!(reply(&mut con, &["set", "ks:a", "1"]), "+OK");
        assert_eq!(reply(&mut con, &["hset", "ks:h", "f", "v"]), "1");
        assert_eq!(reply(&mut con, &["del", "ks:a"]), "1");
        assert_eq!(reply(&mut con, &["set", "other", "1"]), "+OK"); // not recorded
        assert_eq!(
            take_log(&mut con),
            [
                "keyspace NotifyFlags(STRING) set ks:a",
                "keyspace NotifyFlags(HASH) hset ks:h",
                "keyspace NotifyFlags(GENERIC) del ks:a",
            ],
            "{n}"
        );

        // A module event reaches module subscribers (whatever notify-keyspace-events says)...
        assert_eq!(reply(&mut con, &["rmtest.notify", "ks:m", "hello"]), "+OK");
        assert_eq!(
            take_log(&mut con),
            ["keyspace NotifyFlags(MODULE) hello ks:m"],
            "{n}"
        );

        // ...and Pub/Sub clients once the server publishes module events (K + d).
        assert_eq!(
            reply(&mut con, &["rmtest.events", "published"]),
            "\"NotifyFlags()\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["config", "set", "notify-keyspace-events", "Kd"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.events", "published"]),
            "\"NotifyFlags(KEYSPACE | MODULE)\"",
            "{n}"
        );
        let mut sub_con = server.connection();
        let mut pubsub = sub_con.as_pubsub();
        pubsub.psubscribe("__keyspace@0__:*").expect("psubscribe");
        pubsub
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // A string change is not published (no `$`); the module event is.
        assert_eq!(reply(&mut con, &["set", "ks:quiet", "1"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.notify", "ks:loud", "shout"]),
            "+OK"
        );
        let message = pubsub.get_message().expect("a keyspace message");
        assert_eq!(message.get_channel_name(), "__keyspace@0__:ks:loud", "{n}");
        assert_eq!(message.get_payload::<String>().unwrap(), "shout", "{n}");
        drop(pubsub);

        // A panicking callback is logged; the command and the server go on.
        assert_eq!(reply(&mut con, &["set", "ks:panic", "1"]), "+OK");
        assert_eq!(reply(&mut con, &["get", "ks:panic"]), "\"1\"");
        assert!(server.alive(), "{n}");
        assert!(
            server.log().contains(
                "<rmtest> keyspace notification callback panicked: keyspace callback panicked \
                 on purpose"
            ),
            "{n}: {}",
            server.log()
        );
    }
}

#[test]
fn post_notification_jobs_run_after_the_command_where_the_server_has_them() {
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        take_log(&mut con);
        let available = reply(&mut con, &["rmtest.available", "AddPostNotificationJob"]);
        if kind.since_7_2() {
            assert_eq!(
                available, "1",
                "{n} has post-notification jobs (Redis 7.2+, Valkey)"
            );
        }
        if available == "1" {
            // The job runs after the command: the command saw the old value.
            assert_eq!(reply(&mut con, &["rmtest.postjob", "pj", "v1"]), "\"\"");
            assert_eq!(reply(&mut con, &["get", "pj"]), "\"v1\"", "{n}");
            assert_eq!(reply(&mut con, &["rmtest.postjob", "pj", "v2"]), "\"v1\"");
            assert_eq!(reply(&mut con, &["get", "pj"]), "\"v2\"", "{n}");
            // From a keyspace notification: each SET pn:src* counts itself in pn:count.
            assert_eq!(reply(&mut con, &["set", "pn:src1", "x"]), "+OK");
            assert_eq!(reply(&mut con, &["set", "pn:src2", "x"]), "+OK");
            assert_eq!(reply(&mut con, &["get", "pn:count"]), "\"2\"", "{n}");
            assert_eq!(take_log(&mut con), Vec::<String>::new(), "{n}");
        } else {
            // Redis 7.0: a clean error, and the module loaded and works all the same.
            let unavailable =
                "ERR RedisModule_AddPostNotificationJob is not available on this server version";
            assert_eq!(
                reply(&mut con, &["rmtest.postjob", "pj", "v1"]),
                unavailable
            );
            assert_eq!(reply(&mut con, &["get", "pj"]), "(nil)", "{n}");
            assert_eq!(reply(&mut con, &["set", "pn:src1", "x"]), "+OK");
            assert_eq!(reply(&mut con, &["get", "pn:count"]), "(nil)", "{n}");
            assert_eq!(
                take_log(&mut con),
                [format!("postjob-error {unavailable}")],
                "{n}"
            );
        }
    }
}

#[test]
fn server_events_flush_loading_persistence_swapdb_config_and_modules() {
    let hashex = module("hashex");
    let hashex = hashex.to_str().unwrap();
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(
            &kind,
            &["rmtest"],
            &[
                "--enable-debug-command",
                "yes",
                "--enable-module-command",
                "yes",
            ],
        );
        let mut con = server.connection();
        take_log(&mut con);

        assert_eq!(reply(&mut con, &["set", "a", "1"]), "+OK");
        assert_eq!(reply(&mut con, &["flushall", "sync"]), "+OK");
        // Redis 7.4 runs FLUSHALL SYNC on its lazy-free thread while the client waits, and
        // the event says so (async); Valkey and older Redis free on the main thread.
        let sync = if kind.redis_at_least(7, 4) {
            "false"
        } else {
            "true"
        };
        assert_eq!(
            take_log(&mut con),
            [
                format!("flush Start sync={sync} db=all"),
                format!("flush End sync={sync} db=all")
            ],
            "{n}"
        );
        assert_eq!(reply(&mut con, &["flushdb", "async"]), "+OK");
        assert_eq!(
            take_log(&mut con),
            ["flush Start sync=false db=0", "flush End sync=false db=0"],
            "{n}"
        );
        // Both flush subscribers ran: subscriptions add up.
        assert_eq!(count(&mut con, "flushes"), 4, "{n}");

        assert_eq!(reply(&mut con, &["set", "a", "1"]), "+OK");
        assert_eq!(reply(&mut con, &["debug", "reload"]), "+OK");
        let log = take_log(&mut con);
        assert_eq!(
            only(&log, "loading"),
            ["loading RdbStart", "loading Ended"],
            "{n}: {log:?}"
        );
        assert_eq!(
            only(&log, "persistence"),
            ["persistence SyncRdbStart", "persistence Ended"],
            "{n}: {log:?}"
        );
        assert_eq!(reply(&mut con, &["get", "a"]), "\"1\"", "{n}");

        assert_eq!(reply(&mut con, &["save"]), "+OK");
        assert_eq!(
            take_log(&mut con),
            ["persistence SyncRdbStart", "persistence Ended"],
            "{n}"
        );

        // The SwapDb callback records, then fails on purpose: the failure is logged.
        assert_eq!(reply(&mut con, &["swapdb", "0", "1"]), "+OK");
        assert_eq!(take_log(&mut con), ["swapdb 0 1"], "{n}");
        assert!(
            server
                .log()
                .contains("<rmtest> SwapDb failed: ERR swapdb callback failed on purpose"),
            "{n}"
        );

        assert_eq!(
            reply(
                &mut con,
                &["config", "set", "maxmemory-policy", "allkeys-lru"]
            ),
            "+OK"
        );
        assert_eq!(take_log(&mut con), ["config maxmemory-policy"], "{n}");

        assert_eq!(reply(&mut con, &["module", "load", hashex]), "+OK");
        assert_eq!(reply(&mut con, &["module", "unload", "hashex"]), "+OK");
        assert_eq!(
            take_log(&mut con),
            ["module loaded hashex 1", "module unloaded hashex 1"],
            "{n}"
        );
    }
}

#[test]
fn client_and_cron_events() {
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        take_log(&mut con);
        let open =
            |con: &mut redis::Connection| count(con, "connected") - count(con, "disconnected");
        // The start-up probes' disconnections may still be on their way: only ours stays open.
        wait_for("one open client", || open(&mut con) == 1);
        let connected = count(&mut con, "connected");
        let disconnected = count(&mut con, "disconnected");
        {
            let mut other = server.connection();
            assert_eq!(reply(&mut other, &["ping"]), "+PONG");
            assert_eq!(count(&mut con, "connected"), connected + 1, "{n}");
            assert_eq!(open(&mut con), 2, "{n}");
        }
        wait_for("the disconnect event", || open(&mut con) == 1);
        assert_eq!(count(&mut con, "disconnected"), disconnected + 1, "{n}");
        // Every client event had a loopback address, a port and an id.
        assert_eq!(take_log(&mut con), Vec::<String>::new(), "{n}");

        let before = count(&mut con, "cron");
        std::thread::sleep(Duration::from_millis(350));
        let after = count(&mut con, "cron");
        assert!(after > before, "{n}: cron ran {before} -> {after}");
        assert_eq!(count(&mut con, "hz"), 10, "{n}: the default hz");
    }
}

#[test]
fn replication_role_link_and_replica_events() {
    for kind in servers() {
        let n = kind.name.clone();
        let master = Server::start(&kind, &["rmtest"], &[]);
        let replica = Server::start(&kind, &["rmtest"], &[]);
        let mut m = master.connection();
        let mut r = replica.connection();
        take_log(&mut m);
        take_log(&mut r);
        let port = master.port.to_string();

        assert_eq!(reply(&mut r, &["replicaof", "127.0.0.1", &port]), "+OK");
        let seen = collect_until(&mut r, "master-link Up");
        assert_eq!(
            only(&seen, "role"),
            [format!("role replica 127.0.0.1:{port}")],
            "{n}: {seen:?}"
        );
        collect_until(&mut m, "replica Online");

        assert_eq!(reply(&mut r, &["replicaof", "no", "one"]), "+OK");
        let seen = collect_until(&mut r, "role master");
        // (Redis 7.0 reports the link down twice.)
        let links = only(&seen, "master-link");
        assert!(
            !links.is_empty() && links.iter().all(|l| l == "master-link Down"),
            "{n}: {seen:?}"
        );
        collect_until(&mut m, "replica Offline");
    }
}

#[test]
fn the_shutdown_event_runs_before_the_server_exits() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let marker = server.dir().join("shutdown-marker");
        let mut con = server.connection();
        assert_eq!(
            reply(
                &mut con,
                &["rmtest.events", "marker", marker.to_str().unwrap()]
            ),
            "+OK"
        );
        assert!(!marker.exists());
        // The server closes the connection instead of replying.
        let _ = reply(&mut con, &["shutdown", "nosave"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!server.alive(), "{n}: still running");
        assert_eq!(
            std::fs::read_to_string(&marker).expect("the marker"),
            "shutdown event\n",
            "{n}"
        );
        assert!(
            server.log().contains("rmtest wrote the shutdown marker"),
            "{n}"
        );
    }
}
