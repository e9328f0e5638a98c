//! Background work on real servers, through the `rmtest` fixture: blocked clients (reply,
//! timeout, disconnect, drop, panics), thread-safe contexts and the server lock, timers.
//!
//! `rmtest.bg-stats` answers `[live, created, dropped]` for the values the fixture hands to the
//! server, so each test checks that every value was dropped exactly once.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, reply, run, servers, wait_for};

/// `blocked_clients` from `INFO clients`.
fn blocked_clients(con: &mut redis::Connection) -> i64 {
    let info = match run(con, &["info", "clients"]) {
        Ok(redis::Value::BulkString(bytes)) => String::from_utf8(bytes).expect("utf-8"),
        other => panic!("INFO answered {other:?}"),
    };
    info.lines()
        .find_map(|line| line.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

fn stats(con: &mut redis::Connection) -> String {
    reply(con, &["rmtest.bg-stats"])
}

#[test]
fn a_slow_command_blocks_only_its_own_client() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut slow = server.connection();
        let mut other = server.connection();
        let started = Instant::now();
        thread::scope(|s| {
            let waiting = s.spawn(|| reply(&mut slow, &["rmtest.sleep", "500", "done"]));
            wait_for("the client to block", || blocked_clients(&mut other) == 1);
            let ping = Instant::now();
            assert_eq!(reply(&mut other, &["ping"]), "+PONG", "{}", kind.name);
            let ping = ping.elapsed();
            // A correctness property, not a benchmark: the server answered while the other
            // client was still waiting, long before the 500 ms were up.
            assert!(
                ping < Duration::from_millis(250),
                "{}: PING took {ping:?}",
                kind.name
            );
            assert!(
                started.elapsed() < Duration::from_millis(450),
                "{}: PING answered only after {:?}",
                kind.name,
                started.elapsed()
            );
            assert_eq!(waiting.join().unwrap(), "\"done\"", "{}", kind.name);
        });
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{}",
            kind.name
        );
        assert_eq!(blocked_clients(&mut other), 0, "{}", kind.name);
        assert_eq!(stats(&mut other), "[0, 1, 1]", "{}", kind.name);
    }
}

#[test]
fn several_blocked_clients_each_get_their_own_value() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        thread::scope(|s| {
            let waiting: Vec<_> = (0..8)
                .map(|i| {
                    let mut con = server.connection();
                    s.spawn(move || {
                        let value = format!("value-{i}");
                        let ms = (80 - i * 10).to_string();
                        (
                            value.clone(),
                            reply(&mut con, &["rmtest.sleep", &ms, &value]),
                        )
                    })
                })
                .collect();
            for handle in waiting {
                let (value, got) = handle.join().unwrap();
                assert_eq!(got, format!("{value:?}"), "{}", kind.name);
            }
        });
        let mut con = server.connection();
        assert_eq!(stats(&mut con), "[0, 8, 8]", "{}", kind.name);
    }
}

#[test]
fn a_timeout_answers_and_the_late_value_is_dropped() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let started = Instant::now();
        assert_eq!(
            reply(&mut con, &["rmtest.sleep-timeout", "400", "50", "late"]),
            "ERR timeout",
            "{}",
            kind.name
        );
        assert!(
            started.elapsed() < Duration::from_millis(350),
            "{}",
            kind.name
        );
        // The value arrives after the timeout: nobody to reply to, dropped all the same.
        wait_for("the late value to be dropped", || {
            stats(&mut con) == "[0, 1, 1]"
        });

        // A value in time wins over the timeout.
        assert_eq!(
            reply(&mut con, &["rmtest.sleep-timeout", "10", "5000", "early"]),
            "\"early\"",
            "{}",
            kind.name
        );
        assert_eq!(stats(&mut con), "[0, 2, 2]", "{}", kind.name);

        // A panicking timeout callback answers `ERR panic: ...` and is logged.
        assert_eq!(
            reply(
                &mut con,
                &["rmtest.sleep-timeout", "300", "20", "x", "panic"]
            ),
            "ERR panic: timeout boom",
            "{}",
            kind.name
        );
        assert!(
            server
                .log()
                .contains("timeout callback of 'rmtest.sleep-timeout' panicked: timeout boom"),
            "{}",
            kind.name
        );
        wait_for("the value after a timeout panic", || {
            stats(&mut con) == "[0, 3, 3]"
        });
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
    }
}

#[test]
fn a_client_that_disconnects_while_blocked_leaves_nothing_behind() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        for round in 1..=3 {
            let mut raw = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
            raw.write_all(b"*3\r\n$12\r\nrmtest.sleep\r\n$3\r\n200\r\n$3\r\nbye\r\n")
                .expect("send");
            wait_for("the client to block", || blocked_clients(&mut con) == 1);
            drop(raw);
            wait_for("the client to go", || blocked_clients(&mut con) == 0);
            // The thread unblocks later; the value it hands over is dropped unreplied.
            let expected = format!("[0, {round}, {round}]");
            wait_for("the orphan value to be dropped", || {
                stats(&mut con) == expected
            });
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
    }
}

#[test]
fn a_thread_locks_the_server_to_write_keys() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["set", "n", "41"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.bg-incr", "n"]),
            "42",
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["rmtest.bg-incr", "n", "try"]), "43");
        assert_eq!(reply(&mut con, &["get", "n"]), "\"43\"");
        assert_eq!(reply(&mut con, &["rmtest.bg-incr", "fresh"]), "1");
        // Errors found under the lock travel back as the value and are replied.
        assert_eq!(reply(&mut con, &["hset", "h", "f", "v"]), "1");
        assert_eq!(
            reply(&mut con, &["rmtest.bg-incr", "h"]),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(reply(&mut con, &["set", "s", "abc"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.bg-incr", "s"]),
            "ERR value is not an integer"
        );
        assert!(server.log().contains("bg-incr set 42 under the lock"));

        // The thread works in the database the client had selected.
        let mut db2 = server.connection();
        assert_eq!(reply(&mut db2, &["select", "2"]), "+OK");
        assert_eq!(reply(&mut db2, &["set", "n", "7"]), "+OK");
        assert_eq!(reply(&mut db2, &["rmtest.bg-incr", "n"]), "8");
        assert_eq!(reply(&mut db2, &["get", "n"]), "\"8\"");
        assert_eq!(reply(&mut con, &["get", "n"]), "\"43\"", "{}", kind.name);
    }
}

#[test]
fn the_lock_serialises_threads() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        thread::scope(|s| {
            for client in 0..4 {
                let mut con = server.connection();
                s.spawn(move || {
                    for _ in 0..10 {
                        let mode = if client % 2 == 0 { "try" } else { "lock" };
                        let args: &[&str] = if mode == "try" {
                            &["rmtest.bg-incr", "counter", "try"]
                        } else {
                            &["rmtest.bg-incr", "counter"]
                        };
                        let n: i64 = reply(&mut con, args).parse().expect("an integer");
                        assert!((1..=40).contains(&n));
                    }
                });
            }
        });
        let mut con = server.connection();
        // Each increment read and wrote under the lock: none was lost.
        assert_eq!(
            reply(&mut con, &["get", "counter"]),
            "\"40\"",
            "{}",
            kind.name
        );
    }
}

#[test]
fn lock_on_the_main_thread_is_refused_not_a_deadlock() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.bg-lock-main", "lock"]),
            "ERR panic: ThreadSafeContext::lock on the server's main thread would deadlock: \
             use the callback's Ctx",
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["rmtest.bg-lock-main", "try"]), "0");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
    }
}

#[test]
fn a_blocked_client_dropped_without_a_value_still_answers() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.bg-drop"]),
            "ERR background work ended without a result",
            "{}",
            kind.name
        );
        // A thread (`rm::spawn`) that panics while holding the blocked client unwinds through
        // its drop; the SDK catches the panic at the thread's start function and logs it.
        assert_eq!(
            reply(&mut con, &["rmtest.bg-drop", "panic"]),
            "ERR background work ended without a result",
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
        wait_for("the thread's panic in the log", || {
            server
                .log()
                .contains("a thread started by rm::spawn panicked: background thread boom")
        });
    }
}

#[test]
fn a_panicking_reply_callback_answers_an_error() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        for round in 1..=20 {
            assert_eq!(
                reply(&mut con, &["rmtest.bg-panic", "v"]),
                "ERR panic: reply boom",
                "{}",
                kind.name
            );
            assert_eq!(stats(&mut con), format!("[0, {round}, {round}]"));
        }
        assert!(
            server
                .log()
                .contains("reply callback of 'rmtest.bg-panic' panicked: reply boom"),
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
    }
}

#[test]
fn clients_that_cannot_block_get_an_error() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        // Inside MULTI the command answers an error instead of blocking.
        for command in [&["rmtest.sleep", "10", "x"][..], &["rmtest.bg-incr", "n"]] {
            assert_eq!(reply(&mut con, &["multi"]), "+OK");
            assert_eq!(reply(&mut con, command), "+QUEUED");
            // (the client library reports the transaction's one reply, an error, as its error)
            assert_eq!(
                reply(&mut con, &["exec"]),
                "ERR this client cannot be blocked here (MULTI, script or module call)",
                "{}",
                kind.name
            );
        }
        // So does a script.
        let script = reply(
            &mut con,
            &["eval", "return redis.call('rmtest.sleep', '10', 'x')", "0"],
        );
        assert!(
            script.starts_with(
                "ERR this client cannot be blocked here (MULTI, script or module call)"
            ),
            "{}: {script}",
            kind.name
        );
        // A client blocks once.
        assert_eq!(
            reply(&mut con, &["rmtest.bg-block-twice"]),
            "\"ERR the client is blocked already\"",
            "{}",
            kind.name
        );
        // A timer has no client to block.
        assert_eq!(reply(&mut con, &["rmtest.timer-block", "outcome"]), "+OK");
        wait_for("the timer", || {
            reply(&mut con, &["exists", "outcome"]) == "1"
        });
        assert_eq!(
            reply(&mut con, &["get", "outcome"]),
            "\"ERR only a client's command can block the client\"",
            "{}",
            kind.name
        );
        assert_eq!(blocked_clients(&mut con), 0);
        assert_eq!(stats(&mut con), "[0, 0, 0]");
    }
}

#[test]
fn a_timer_fires_once_with_its_data() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.timer", "t", "150", "k", "fired"]),
            "+OK"
        );
        let left: i64 = reply(&mut con, &["rmtest.timer-remaining", "t"])
            .parse()
            .expect("milliseconds left");
        assert!((1..=150).contains(&left), "{}: {left} ms left", kind.name);
        assert_eq!(reply(&mut con, &["get", "k"]), "(nil)", "{}", kind.name);
        assert_eq!(stats(&mut con), "[1, 1, 0]");
        wait_for("the timer to fire", || {
            reply(&mut con, &["get", "k"]) == "\"fired\""
        });
        assert_eq!(stats(&mut con), "[0, 1, 1]", "{}", kind.name);
        // Fired timers are gone: nothing to stop, nothing left.
        assert_eq!(reply(&mut con, &["rmtest.timer-remaining", "t"]), "(nil)");
        assert_eq!(reply(&mut con, &["rmtest.timer-stop", "t"]), "(nil)");
        assert_eq!(stats(&mut con), "[0, 1, 1]");
    }
}

#[test]
fn a_stopped_timer_gives_its_data_back_and_never_fires() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.timer", "t", "300", "k", "v"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.timer-stop", "t"]),
            "\"v\"",
            "{}",
            kind.name
        );
        assert_eq!(stats(&mut con), "[0, 1, 1]", "{}", kind.name);
        assert_eq!(reply(&mut con, &["rmtest.timer-stop", "t"]), "(nil)");
        assert_eq!(reply(&mut con, &["rmtest.timer-remaining", "t"]), "(nil)");
        // A timer that was stopped does not run: give it time to have fired.
        assert_eq!(
            reply(&mut con, &["rmtest.timer", "witness", "400", "w", "done"]),
            "+OK"
        );
        wait_for("a later timer", || {
            reply(&mut con, &["get", "w"]) == "\"done\""
        });
        assert_eq!(reply(&mut con, &["exists", "k"]), "0", "{}", kind.name);
        assert_eq!(stats(&mut con), "[0, 2, 2]");
    }
}

/// A thread's write under the lock reaches the replica when the thread replicates it (the
/// `SET` the fixture's RMTEST.BG-INCR replicates after each increment).
#[test]
fn writes_from_a_thread_reach_replicas() {
    for kind in servers() {
        let n = kind.name.clone();
        let master = Server::start(&kind, &["rmtest"], &[]);
        let replica = master.start_replica_of(&["rmtest"], &[]);
        let mut on_replica = replica.connection();
        let mut con = master.connection();
        assert_eq!(reply(&mut con, &["rmtest.bg-incr", "n"]), "1", "{n}");
        assert_eq!(reply(&mut con, &["rmtest.bg-incr", "n", "try"]), "2", "{n}");
        assert_eq!(reply(&mut con, &["set", "marker", "1"]), "+OK");
        wait_for("marker on the replica", || {
            reply(&mut on_replica, &["exists", "marker"]) == "1"
        });
        assert_eq!(reply(&mut on_replica, &["get", "n"]), "\"2\"", "{n}");
    }
}

/// `ctx.every`: a repeating timer ticks until stopped from outside (its state comes back) or
/// from inside its callback (the state is dropped once it returns); an `Err` is logged and it
/// goes on; a panic is logged and stops it. No state is leaked either way.
#[test]
fn a_repeating_timer_runs_until_stopped() {
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let ticks = |con: &mut redis::Connection, name: &str| -> i64 {
            reply(con, &["get", &format!("every:{name}")])
                .trim_matches('"')
                .parse()
                .unwrap_or(0)
        };
        for (name, mode) in [
            ("a", "count"),
            ("b", "stop-at-3"),
            ("c", "fail"),
            ("d", "panic"),
        ] {
            assert_eq!(reply(&mut con, &["rmtest.every", name, "10", mode]), "+OK");
        }
        wait_for("ticks", || {
            ticks(&mut con, "a") >= 5 && ticks(&mut con, "c") >= 5
        });
        // Stopped from outside: its state back, with every tick counted; no more ticks.
        let stopped: i64 = reply(&mut con, &["rmtest.every-stop", "a"])
            .parse()
            .unwrap();
        assert!(stopped >= 5, "{n}: {stopped}");
        assert_eq!(reply(&mut con, &["rmtest.every-stop", "a"]), "(nil)", "{n}");
        // Stopped from inside at 3; the failing one went on; the panicking one stopped at 1.
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(ticks(&mut con, "a"), stopped, "{n}: ticks after the stop");
        assert_eq!(ticks(&mut con, "b"), 3, "{n}");
        assert_eq!(reply(&mut con, &["rmtest.every-stop", "b"]), "(nil)", "{n}");
        assert_eq!(ticks(&mut con, "d"), 1, "{n}");
        assert_eq!(reply(&mut con, &["rmtest.every-stop", "d"]), "(nil)", "{n}");
        let failing: i64 = reply(&mut con, &["rmtest.every-stop", "c"])
            .parse()
            .unwrap();
        assert!(failing >= 5, "{n}: {failing}");
        let log = server.log();
        assert!(
            log.contains("repeating timer callback failed (it goes on): ERR tick failure"),
            "{n}: {log}"
        );
        assert!(
            log.contains("timer callback panicked: tick boom"),
            "{n}: {log}"
        );
        // All four states dropped: none live.
        assert_eq!(stats(&mut con), "[0, 4, 4]", "{n}");
    }
}

#[test]
fn a_failing_timer_callback_is_logged_and_the_server_goes_on() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.timer-panic", "10", "panic"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.timer-panic", "10", "fail"]),
            "+OK"
        );
        wait_for("both timers", || stats(&mut con) == "[0, 2, 2]");
        let log = server.log();
        assert!(
            log.contains("<rmtest> timer callback panicked: timer boom tracked (at "),
            "{}",
            kind.name
        );
        assert!(
            log.contains("timer callback failed: ERR timer failure"),
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
    }
}

#[test]
fn strings_a_thread_shares_with_the_keyspace_are_released_under_the_lock() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        for round in 0..50 {
            let value = format!("shared-{round}");
            assert_eq!(
                reply(&mut con, &["rmtest.bg-share", "k", &value]),
                format!("{value:?}"),
                "{}",
                kind.name
            );
            // The keyspace still holds its reference: the value reads back intact.
            assert_eq!(
                reply(&mut con, &["get", "k"]),
                format!("{value:?}"),
                "{}",
                kind.name
            );
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
    }
}

#[test]
fn a_view_under_the_lock_keeps_its_value_alive_as_in_a_command() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["set", "view:b", "under the lock"]), "+OK");
        let refused = |what: &str| {
            format!(
                "ERR cannot {what}: a borrowed view of the key's value is still alive (drop it \
                 first)"
            )
        };
        assert_eq!(
            reply(&mut con, &["rmtest.bg-view", "view:b"]),
            format!(
                "{:?}",
                format!(
                    "{}|{}|under the lock|ok",
                    refused("delete the key"),
                    refused("run a command")
                )
            ),
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["exists", "view:b"]), "0", "{}", kind.name);
    }
}
