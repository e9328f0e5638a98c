//! Expiry on write for the json module (#17 item 8): `JSON.SET … [EX|PX|EXAT|PXAT|KEEPTTL]` and
//! `JSON.GETEX`, checked against what the server's own SET and GETEX do (errors, events,
//! replication as absolute times), on every server of the matrix.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Server, reply, servers, wait_for};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

fn pttl(con: &mut redis::Connection, key: &str) -> i64 {
    reply(con, &["pttl", key])
        .parse()
        .expect("PTTL is an integer")
}

fn pexpiretime(con: &mut redis::Connection, key: &str) -> i64 {
    reply(con, &["pexpiretime", key])
        .parse()
        .expect("PEXPIRETIME is an integer")
}

/// Asserts `low <= PTTL key <= high`.
fn assert_pttl(con: &mut redis::Connection, key: &str, low: i64, high: i64, what: &str) {
    let ttl = pttl(con, key);
    assert!(
        (low..=high).contains(&ttl),
        "{what}: PTTL {key} = {ttl}, expected {low}..={high}"
    );
}

const DOC: &str = r#"{"a":1,"b":[1,2]}"#;

#[test]
fn set_with_each_expiry_option() {
    for kind in servers() {
        let name = kind.name.clone();
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let c = &mut con;

        // Each option, in any case and either order with NX/XX.
        assert_eq!(reply(c, &["json.set", "k", "$", DOC, "EX", "100"]), "+OK");
        assert_pttl(c, "k", 98_000, 100_000, &name);
        assert_eq!(reply(c, &["json.set", "k", "$", DOC, "px", "5000"]), "+OK");
        assert_pttl(c, "k", 3_000, 5_000, &name);
        let at_s = now_ms() / 1000 + 200;
        let at = at_s.to_string();
        assert_eq!(reply(c, &["json.set", "k", "$", DOC, "EXAT", &at]), "+OK");
        assert_eq!(pexpiretime(c, "k"), at_s * 1000, "{name}");
        let at_ms = now_ms() + 300_000;
        let at = at_ms.to_string();
        assert_eq!(reply(c, &["json.set", "k", "$", DOC, "PXAT", &at]), "+OK");
        assert_eq!(pexpiretime(c, "k"), at_ms, "{name}");
        assert_eq!(
            reply(c, &["json.set", "n", "$", DOC, "EX", "100", "NX"]),
            "+OK"
        );
        assert_pttl(c, "n", 98_000, 100_000, &name);
        assert_eq!(
            reply(
                c,
                &[
                    "json.set", "n", "$", DOC, "XX", "FORMAT", "JSON", "px", "7000"
                ]
            ),
            "+OK"
        );
        assert_pttl(c, "n", 5_000, 7_000, &name);
        // As SET: the same option again replaces the first.
        assert_eq!(
            reply(c, &["json.set", "n", "$", DOC, "EX", "5", "EX", "500"]),
            "+OK"
        );
        assert_pttl(c, "n", 498_000, 500_000, &name);

        // Without an option the expiry stays: root replace (both forms) and path writes.
        assert_eq!(reply(c, &["json.set", "k", "$", "[1]"]), "+OK");
        assert_eq!(
            pexpiretime(c, "k"),
            at_ms,
            "root replace keeps it on {name}"
        );
        assert_eq!(reply(c, &["json.set", "k", r#"{"a":2}"#]), "+OK");
        assert_eq!(pexpiretime(c, "k"), at_ms, "seed form keeps it on {name}");
        assert_eq!(reply(c, &["json.set", "k", "$.c", "3"]), "+OK");
        assert_eq!(reply(c, &["json.set", "k", ".a", "4"]), "+OK");
        assert_eq!(pexpiretime(c, "k"), at_ms, "path writes keep it on {name}");
        assert_eq!(reply(c, &["json.set", "k", "$", "5", "KEEPTTL"]), "+OK");
        assert_eq!(pexpiretime(c, "k"), at_ms, "KEEPTTL on {name}");
        assert_eq!(
            reply(c, &["json.set", "k", "$", "5", "keepttl", "KEEPTTL", "XX"]),
            "+OK"
        );
        assert_eq!(pexpiretime(c, "k"), at_ms, "{name}");

        // An expiry with a path write is the key's expiry.
        assert_eq!(reply(c, &["json.set", "p", "$", DOC]), "+OK");
        assert_eq!(pttl(c, "p"), -1);
        assert_eq!(
            reply(c, &["json.set", "p", "$.b[0]", "9", "EX", "60"]),
            "+OK"
        );
        assert_pttl(c, "p", 58_000, 60_000, &name);
        assert_eq!(
            reply(c, &["json.set", "p", "$..a", "7", "PX", "40000"]),
            "+OK"
        );
        assert_pttl(c, "p", 38_000, 40_000, &name);
        assert_eq!(
            reply(c, &["json.get", "p"]),
            r#""{\"a\":7,\"b\":[9,2]}""#,
            "{name}"
        );

        // A write NX/XX or a missing parent refuses sets no expiry, and creates no key.
        let before = pexpiretime(c, "p");
        for refused in [
            &["json.set", "p", "$", "1", "NX", "EX", "9"][..],
            &["json.set", "p", "$.a", "1", "EX", "9", "NX"],
            &["json.set", "p", "$.zz", "1", "XX", "PX", "9000"],
            &["json.set", "p", "$.no.such", "1", "EX", "9"],
            &["json.set", "fresh", "$", "1", "XX", "EX", "9"],
        ] {
            assert_eq!(reply(c, refused), "(nil)", "{refused:?} on {name}");
        }
        assert_eq!(pexpiretime(c, "p"), before, "{name}");
        assert_eq!(reply(c, &["exists", "fresh"]), "0");
        // ... and an error changes nothing either.
        assert!(reply(c, &["json.set", "p", "$", "[1", "EX", "9"]).starts_with("ERR "));
        assert_eq!(pexpiretime(c, "p"), before, "{name}");

        // A time already past, as SET: OK, and the key is gone at its next access.
        assert_eq!(reply(c, &["json.set", "old", "$", DOC, "EXAT", "1"]), "+OK");
        assert_eq!(reply(c, &["exists", "old"]), "0", "{name}");
        assert_eq!(reply(c, &["json.get", "old"]), "(nil)", "{name}");
        let past = (now_ms() - 1000).to_string();
        assert_eq!(
            reply(c, &["json.set", "p", "$.a", "1", "PXAT", &past]),
            "+OK"
        );
        assert_eq!(reply(c, &["json.get", "p"]), "(nil)", "{name}");
    }
}

/// Every bad option gets the error the server's own SET (GETEX) gives, with our command's
/// name, and changes nothing.
#[test]
fn errors_are_the_servers_own() {
    for kind in servers() {
        let name = kind.name.clone();
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let c = &mut con;
        assert_eq!(reply(c, &["json.set", "j", "$", DOC]), "+OK");
        assert_eq!(reply(c, &["set", "s", "v"]), "+OK");
        let cases: &[&[&str]] = &[
            &["EX", "0"],
            &["EX", "-1"],
            &["PX", "0"],
            &["EXAT", "0"],
            &["PXAT", "-5"],
            &["EX", "9999999999999999"],
            &["PX", "9223372036854775807"],
            &["EX", "abc"],
            &["PX", "1.5"],
            &["EX", "99999999999999999999"],
            &["EX", "10", "PX", "10"],
            &["EX", "10", "EXAT", "10"],
            &["NX", "XX"],
            &["KEEPTTL", "EX", "1"],
            &["PXAT", "100", "KEEPTTL"],
            &["EX"],
            &["NX", "PX"],
            &["PERSIST"],
        ];
        for options in cases {
            let mut set = vec!["set", "s2", "v"];
            set.extend_from_slice(options);
            let expected = reply(c, &set).replace("'set'", "'json.set'");
            assert!(expected.starts_with("ERR "), "SET {options:?}: {expected}");
            let mut ours = vec!["json.set", "j", "$", "[1]"];
            ours.extend_from_slice(options);
            assert_eq!(reply(c, &ours), expected, "{options:?} on {name}");
        }
        assert_eq!(reply(c, &["exists", "s2"]), "0");
        assert_eq!(reply(c, &["json.get", "j"]), format!("{DOC:?}"), "{name}");
        assert_eq!(pttl(c, "j"), -1);

        let cases: &[&[&str]] = &[
            &["EX", "0"],
            &["PX", "-1"],
            &["EXAT", "0"],
            &["EX", "9999999999999999"],
            &["EX", "abc"],
            &["EX", "1", "PX", "1"],
            &["PERSIST", "EX", "1"],
            &["EX", "1", "PERSIST"],
            &["PX"],
        ];
        for options in cases {
            let mut getex = vec!["getex", "s"];
            getex.extend_from_slice(options);
            let expected = reply(c, &getex).replace("'getex'", "'json.getex'");
            assert!(
                expected.starts_with("ERR "),
                "GETEX {options:?}: {expected}"
            );
            let mut ours = vec!["json.getex", "j"];
            ours.extend_from_slice(options);
            assert_eq!(reply(c, &ours), expected, "{options:?} on {name}");
            // For a missing key too (Valkey's GETEX; Redis's answers nil for some).
            ours[1] = "missing";
            assert_eq!(reply(c, &ours), expected, "{options:?} on {name}");
        }
        assert_eq!(pttl(c, "j"), -1);
        assert_eq!(pttl(c, "s"), -1);
        assert_eq!(
            reply(c, &["json.getex", "s", "EX", "10"]),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            reply(c, &["json.getex"]),
            "ERR wrong number of arguments for 'json.getex' command"
        );
        // A reply that is an error changes no expiry.
        assert_eq!(
            reply(c, &["json.getex", "j", "EX", "100", ".nope"]),
            "ERR Path '$.nope' does not exist",
            "{name}"
        );
        assert_eq!(pttl(c, "j"), -1, "{name}");
    }
}

#[test]
fn getex_replies_as_get_and_sets_the_expiry() {
    for kind in servers() {
        let name = kind.name.clone();
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let c = &mut con;
        let doc = r#"{"a":{"x":[1,"s",true,null,2.5]},"b":"t"}"#;
        assert_eq!(reply(c, &["json.set", "k", "$", doc]), "+OK");
        // The reply is JSON.GET's for the same options and paths.
        let forms: &[&[&str]] = &[
            &[],
            &["$"],
            &["."],
            &["$.a.x[*]"],
            &[".a.x"],
            &["$..x", "b"],
            &[".a", ".b"],
            &["INDENT", "\t", "NEWLINE", "\n", "SPACE", " ", "$.a"],
            &["$.a", "INDENT", "  "],
            &["NOESCAPE", "$.b"],
            &["$.nothing"],
        ];
        for form in forms {
            let mut get = vec!["json.get", "k"];
            get.extend_from_slice(form);
            let expected = reply(c, &get);
            let mut getex = vec!["json.getex", "k"];
            getex.extend_from_slice(form);
            assert_eq!(reply(c, &getex), expected, "{form:?} on {name}");
            assert_eq!(pttl(c, "k"), -1, "no option, no expiry: {form:?} on {name}");
            // The expiry option anywhere among them.
            let mut getex = vec!["json.getex", "k"];
            getex.extend_from_slice(form);
            getex.extend_from_slice(&["EX", "100"]);
            assert_eq!(reply(c, &getex), expected, "{form:?} EX on {name}");
            let mut getex = vec!["json.getex", "k", "px", "100000"];
            getex.extend_from_slice(form);
            assert_eq!(reply(c, &getex), expected, "PX {form:?} on {name}");
            assert_pttl(c, "k", 98_000, 100_000, &name);
            assert_eq!(reply(c, &["persist", "k"]), "1");
        }
        // RESP3 FORMAT: the same reply too.
        let mut c3 = server.connection_resp3();
        for form in [
            &["FORMAT", "EXPAND", "$.a", "$.b"][..],
            &["FORMAT", "EXPAND1"],
        ] {
            let mut get = vec!["json.get", "k"];
            get.extend_from_slice(form);
            let expected = reply(&mut c3, &get);
            let mut getex = vec!["json.getex", "k", "EX", "50"];
            getex.extend_from_slice(form);
            assert_eq!(reply(&mut c3, &getex), expected, "{form:?} on {name}");
            assert_pttl(c, "k", 48_000, 50_000, &name);
        }

        // Each option.
        assert_eq!(
            reply(c, &["json.getex", "k", "EX", "100", "$.b"]),
            r#""[\"t\"]""#
        );
        assert_pttl(c, "k", 98_000, 100_000, &name);
        let at_s = now_ms() / 1000 + 500;
        let at = at_s.to_string();
        assert_eq!(
            reply(c, &["json.getex", "k", "exat", &at, ".b"]),
            r#""\"t\"""#
        );
        assert_eq!(pexpiretime(c, "k"), at_s * 1000, "{name}");
        let at_ms = now_ms() + 600_000;
        let at = at_ms.to_string();
        assert_eq!(
            reply(c, &["json.getex", "k", ".b", "PXAT", &at]),
            r#""\"t\"""#
        );
        assert_eq!(pexpiretime(c, "k"), at_ms, "{name}");
        // Without an option the expiry stays.
        assert_eq!(reply(c, &["json.getex", "k", ".b"]), r#""\"t\"""#);
        assert_eq!(pexpiretime(c, "k"), at_ms, "{name}");
        assert_eq!(
            reply(c, &["json.getex", "k", "PERSIST", ".b"]),
            r#""\"t\"""#
        );
        assert_eq!(pttl(c, "k"), -1, "{name}");
        assert_eq!(
            reply(c, &["json.getex", "k", "PERSIST", ".b"]),
            r#""\"t\"""#
        );
        assert_eq!(pttl(c, "k"), -1, "{name}");
        // A missing key: nil, nothing created.
        assert_eq!(reply(c, &["json.getex", "none", "EX", "10"]), "(nil)");
        assert_eq!(reply(c, &["exists", "none"]), "0");
        // A time already past: the value, then the key is deleted (GETEX).
        assert_eq!(
            reply(c, &["json.getex", "k", "PXAT", "1", ".b"]),
            r#""\"t\"""#
        );
        assert_eq!(reply(c, &["exists", "k"]), "0", "{name}");
    }
}

/// Keyspace events as SET and GETEX fire them: the write's own (`json.set`), then `expire`;
/// `persist` when GETEX removed an expiry; `del` when a past time deleted the key.
#[test]
fn keyspace_events() {
    for kind in servers() {
        let name = kind.name.clone();
        let server = Server::start(&kind, &["json"], &["--notify-keyspace-events", "KEA"]);
        let mut con = server.connection();
        let mut sub = server.connection();
        redis::cmd("psubscribe")
            .arg("__keyevent@0__:*")
            .exec(&mut sub)
            .unwrap();
        let c = &mut con;
        assert_eq!(reply(c, &["json.set", "k", "$", DOC, "EX", "100"]), "+OK");
        assert_eq!(reply(c, &["json.set", "k", "$.a", "2"]), "+OK");
        assert_eq!(reply(c, &["json.set", "k", "$.a", "3", "KEEPTTL"]), "+OK");
        assert_eq!(
            reply(c, &["json.set", "k", "$", "1", "NX", "EX", "5"]),
            "(nil)"
        ); // refused: no event
        assert_eq!(
            reply(c, &["json.set", "k", "$", "1", "EX", "0"]),
            "ERR invalid expire time in 'json.set' command"
        ); // error: no event
        assert_eq!(
            reply(c, &["json.getex", "k"]),
            "\"{\\\"a\\\":3,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(
            reply(c, &["json.getex", "k", "PX", "9000"]),
            "\"{\\\"a\\\":3,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(
            reply(c, &["json.getex", "k", "PERSIST"]),
            "\"{\\\"a\\\":3,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(
            reply(c, &["json.getex", "k", "PERSIST"]),
            "\"{\\\"a\\\":3,\\\"b\\\":[1,2]}\""
        ); // no expiry left: no event
        assert_eq!(
            reply(c, &["json.getex", "k", "EXAT", "1"]),
            "\"{\\\"a\\\":3,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(reply(c, &["json.set", "g", "$", "1", "PXAT", "1"]), "+OK");
        assert_eq!(reply(c, &["exists", "g"]), "0"); // expires it
        assert_eq!(reply(c, &["set", "end", "1"]), "+OK");
        let mut events = Vec::new();
        loop {
            sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let message = sub.recv_response().expect("an event");
            let shown = common::show(&message);
            let event = shown
                .rsplit("__keyevent@0__:")
                .next()
                .unwrap_or_default()
                .trim_end_matches(']')
                .replace("\", \"", " ")
                .replace('"', "");
            if event == "set end" {
                break;
            }
            events.push(event);
        }
        let expected = [
            "json.set k",
            "expire k",
            "json.set k",
            "json.set k",
            "expire k",
            "persist k",
            "del k",
            "json.set g",
            "expire g",
            "expired g",
        ];
        assert_eq!(events, expected, "{name}");
    }
}

/// Relative times reach replicas and the AOF as absolute ones, as SET's and GETEX's do: the
/// replica's expiry is the master's to the millisecond, and so is the reloaded AOF's.
#[test]
fn replicated_and_logged_as_absolute_times() {
    for kind in servers() {
        let name = kind.name.clone();
        let mut master = Server::start(
            &kind,
            &["json"],
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
        );
        let replica = master.start_replica_of(&["json"], &[]);
        let mut r = replica.connection();
        let mut con = master.connection();
        let c = &mut con;
        let in_a_day = (now_ms() + 86_400_000).to_string();
        for (key, option, time) in [
            ("ex", "EX", "1000"),
            ("px", "PX", "1000000"),
            ("exat", "EXAT", "4000000000"),
            ("pxat", "PXAT", in_a_day.as_str()),
        ] {
            assert_eq!(reply(c, &["json.set", key, "$", DOC, option, time]), "+OK");
        }
        assert_eq!(reply(c, &["json.set", "path", "$", DOC]), "+OK");
        assert_eq!(
            reply(c, &["json.set", "path", "$.a", "5", "NX", "XX", "EX", "1"]),
            "ERR syntax error"
        );
        assert_eq!(
            reply(c, &["json.set", "path", "$.c", "5", "EX", "2000"]),
            "+OK"
        );
        assert_eq!(
            reply(c, &["json.set", "keep", "$", DOC, "EX", "3000"]),
            "+OK"
        );
        assert_eq!(
            reply(c, &["json.set", "keep", "$.a", "2", "KEEPTTL"]),
            "+OK"
        );
        for key in ["g1", "g2", "g3", "g4"] {
            assert_eq!(
                reply(c, &["json.set", key, "$", DOC, "PX", "500000"]),
                "+OK"
            );
        }
        assert_eq!(
            reply(c, &["json.getex", "g1", "EX", "4000", "$.a"]),
            "\"[1]\""
        );
        assert_eq!(
            reply(c, &["json.getex", "g2", "PERSIST"]),
            "\"{\\\"a\\\":1,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(
            reply(c, &["json.getex", "g3", "EXAT", "1"]),
            "\"{\\\"a\\\":1,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(
            reply(c, &["json.getex", "g4"]),
            "\"{\\\"a\\\":1,\\\"b\\\":[1,2]}\""
        );
        assert_eq!(reply(c, &["wait", "1", "5000"]), "1");
        let keys = [
            "ex", "px", "exat", "pxat", "path", "keep", "g1", "g2", "g3", "g4",
        ];
        let state = |con: &mut redis::Connection| -> Vec<(String, String)> {
            keys.iter()
                .map(|key| {
                    (
                        reply(con, &["pexpiretime", key]),
                        reply(con, &["json.get", key]),
                    )
                })
                .collect()
        };
        let on_master = state(c);
        assert_eq!(state(&mut r), on_master, "replica on {name}");
        assert_eq!(on_master[2].0, "4000000000000");
        assert_eq!(on_master[3].0, in_a_day);
        assert_eq!(on_master[7].0, "-1", "{name}");
        assert_eq!(on_master[8].0, "-2", "{name}");
        assert_eq!(on_master[4].1, r#""{\"a\":1,\"b\":[1,2],\"c\":5}""#);

        // The AOF holds the absolute forms: JSON.SET … PXAT ms, PEXPIREAT, PERSIST, DEL, and
        // no relative time and no JSON.GETEX.
        let aof = || master.aof();
        wait_for("the AOF", || aof().contains("\r\nDEL\r\n$2\r\ng3\r\n"));
        let text = aof();
        let at = on_master[0].0.clone();
        assert!(
            text.contains(&format!(
                "*6\r\n$8\r\nJSON.SET\r\n$2\r\nex\r\n$1\r\n$\r\n${}\r\n{DOC}\r\n$4\r\nPXAT\r\n${}\r\n{at}\r\n",
                DOC.len(),
                at.len()
            )),
            "{name}: {text}"
        );
        let g1 = on_master[6].0.clone();
        assert!(
            text.contains(&format!(
                "*3\r\n$9\r\nPEXPIREAT\r\n$2\r\ng1\r\n${}\r\n{g1}\r\n",
                g1.len()
            )),
            "{name}: {text}"
        );
        assert!(
            text.contains("*2\r\n$7\r\nPERSIST\r\n$2\r\ng2\r\n"),
            "{text}"
        );
        // KEEPTTL and expiry-less writes go as sent.
        assert!(text.contains("$1\r\n2\r\n$7\r\nKEEPTTL\r\n"), "{text}");
        for absent in [
            "\r\nEX\r\n",
            "\r\nPX\r\n",
            "\r\nEXAT\r\n",
            "json.getex",
            "JSON.GETEX",
        ] {
            assert!(
                !text.contains(absent),
                "{absent:?} in the AOF on {name}: {text}"
            );
        }

        // A restart loads the AOF: the same absolute expiries.
        drop(r);
        master.restart();
        let mut c = master.connection();
        assert_eq!(state(&mut c), on_master, "reloaded AOF on {name}");
        // And after a rewrite (JSON.SET key $ doc, then the server's PEXPIREAT).
        assert_eq!(
            reply(&mut c, &["bgrewriteaof"]),
            "+Background append only file rewriting started"
        );
        wait_for("the rewrite", || {
            let info = reply(&mut c, &["info", "persistence"]);
            info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
                && info.contains("aof_last_bgrewrite_status:ok")
        });
        drop(c);
        master.restart();
        let mut c = master.connection();
        assert_eq!(state(&mut c), on_master, "rewritten AOF on {name}");
    }
}

#[test]
fn getex_is_registered_as_a_write() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let info = reply(&mut con, &["command", "info", "json.getex"]);
        assert!(
            info.starts_with("[[\"json.getex\", -2, [+write, +module], 1, 1, 1"),
            "{info} on {}",
            kind.name
        );
        // One key, the first argument, read and written (GETEX's RW ACCESS UPDATE).
        assert!(
            info.contains("\"flags\", [+RW, +access, +update]"),
            "{info} on {}",
            kind.name
        );
        assert_eq!(
            reply(
                &mut con,
                &["command", "getkeys", "json.getex", "k", "EX", "1", "$"]
            ),
            "[\"k\"]"
        );
        let docs = reply(&mut con, &["command", "docs", "json.set"]);
        assert!(docs.contains("\"KEEPTTL\""), "{docs}");
    }
}
