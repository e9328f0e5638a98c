//! Scanning on real servers, through the `rmtest` fixture: every key of a database, every
//! element of hashes, sets and sorted sets in each encoding, stopping on errors and panics,
//! changing the keyspace while scanning, and scanning in steps across commands.

mod common;

use std::collections::BTreeSet;

use common::{Server, pipeline, reply, run, servers};

/// The reply as a list of strings (bulk strings of an array).
fn strings(con: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    match run(con, args) {
        Ok(redis::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                redis::Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                redis::Value::Int(n) => n.to_string(),
                other => panic!("unexpected element {other:?}"),
            })
            .collect(),
        other => panic!("{args:?} replied {other:?}"),
    }
}

fn command(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn every_key_of_the_database() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        assert_eq!(
            strings(&mut con, &["rmtest.scan.keys"]),
            Vec::<String>::new(),
            "{n}"
        );
        let mut expected = BTreeSet::new();
        pipeline(
            &mut con,
            (0..400).map(|i| {
                expected.insert(format!("key:{i}"));
                command(&["set", &format!("key:{i}"), "v"])
            }),
        );
        for (words, name, answer) in [
            (&["hset", "a-hash", "f", "v"][..], "a-hash", "1"),
            (&["sadd", "a-set", "m"], "a-set", "1"),
            (&["zadd", "a-zset", "1", "m"], "a-zset", "1"),
            (&["rpush", "a-list", "x"], "a-list", "1"),
            (
                &["set", "bin\u{0}ary\r\nname", "v"],
                "bin\u{0}ary\r\nname",
                "+OK",
            ),
        ] {
            assert_eq!(reply(&mut con, words), answer);
            expected.insert(name.to_owned());
        }
        // Another database is not scanned.
        assert_eq!(reply(&mut con, &["select", "1"]), "+OK");
        assert_eq!(reply(&mut con, &["set", "in-db-1", "v"]), "+OK");
        assert_eq!(strings(&mut con, &["rmtest.scan.keys"]), ["in-db-1"], "{n}");
        assert_eq!(reply(&mut con, &["select", "0"]), "+OK");
        let got = strings(&mut con, &["rmtest.scan.keys"]);
        assert_eq!(got, expected.into_iter().collect::<Vec<_>>(), "{n}");
    }
}

#[test]
fn every_element_of_hashes_sets_and_sorted_sets() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        // Small aggregates stay compact (listpack / intset), big ones become hash tables.
        for (name, value) in [
            ("hash-max-listpack-entries", "16"),
            ("set-max-intset-entries", "16"),
            ("zset-max-listpack-entries", "16"),
        ] {
            assert_eq!(reply(&mut con, &["config", "set", name, value]), "+OK");
        }
        let big = 200;
        pipeline(
            &mut con,
            (0..big).map(|i| command(&["hset", "big-hash", &format!("f{i}"), &format!("v{i}")])),
        );
        pipeline(
            &mut con,
            (0..big).map(|i| command(&["sadd", "big-set", &format!("m{i}")])),
        );
        pipeline(
            &mut con,
            (0..big).map(|i| command(&["sadd", "big-intset", &i.to_string()])),
        );
        pipeline(
            &mut con,
            (0..big).map(|i| command(&["zadd", "big-zset", &i.to_string(), &format!("m{i}")])),
        );
        assert_eq!(
            reply(&mut con, &["hset", "small-hash", "a", "1", "b", "2"]),
            "2"
        );
        assert_eq!(
            reply(&mut con, &["sadd", "small-intset", "3", "1", "2"]),
            "3"
        );
        assert_eq!(reply(&mut con, &["sadd", "small-set", "x", "y"]), "2");
        assert_eq!(
            reply(&mut con, &["zadd", "small-zset", "1.5", "m", "-2", "n"]),
            "2"
        );
        let sorted = |items: Vec<String>| {
            let mut items = items;
            items.sort();
            items
        };
        let cases: Vec<(&str, &[&str], Vec<String>)> = vec![
            (
                "small-hash",
                &["listpack"],
                vec!["a=1".into(), "b=2".into()],
            ),
            (
                "big-hash",
                &["hashtable"],
                sorted((0..big).map(|i| format!("f{i}=v{i}")).collect()),
            ),
            (
                "small-intset",
                &["intset"],
                vec!["1".into(), "2".into(), "3".into()],
            ),
            (
                "big-intset",
                &["hashtable"],
                sorted((0..big).map(|i| i.to_string()).collect()),
            ),
            // Small sets of strings: a hash table on Redis 7.0, a listpack on Valkey.
            (
                "small-set",
                &["hashtable", "listpack"],
                vec!["x".into(), "y".into()],
            ),
            (
                "big-set",
                &["hashtable"],
                sorted((0..big).map(|i| format!("m{i}")).collect()),
            ),
            (
                "small-zset",
                &["listpack"],
                vec!["m=1.5".into(), "n=-2".into()],
            ),
            (
                "big-zset",
                &["skiplist"],
                sorted((0..big).map(|i| format!("m{i}={i}")).collect()),
            ),
            ("missing", &[], vec![]),
        ];
        for (key, encodings, expected) in cases {
            if !encodings.is_empty() {
                let encoding = reply(&mut con, &["object", "encoding", key]);
                assert!(
                    encodings.iter().any(|e| encoding == format!("\"{e}\"")),
                    "{key} is {encoding} on {n}"
                );
            }
            assert_eq!(
                strings(&mut con, &["rmtest.scan.fields", key]),
                expected,
                "{key} on {n}"
            );
        }
        assert_eq!(reply(&mut con, &["set", "string", "v"]), "+OK");
        assert_eq!(reply(&mut con, &["rpush", "list", "v"]), "1");
        for key in ["string", "list"] {
            assert_eq!(
                reply(&mut con, &["rmtest.scan.fields", key]),
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                "{key} on {n}"
            );
        }
    }
}

#[test]
fn errors_and_panics_stop_a_scan() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        pipeline(
            &mut con,
            (0..300).map(|i| command(&["set", &format!("k{i}"), "v"])),
        );
        assert_eq!(reply(&mut con, &["hset", "h", "a", "1"]), "1");
        assert_eq!(
            reply(&mut con, &["rmtest.scan.stop", "5"]),
            "ERR stopped at key 5",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.scan.stop", "100000"]),
            "301",
            "{n}"
        );
        for _ in 0..10 {
            assert_eq!(
                reply(&mut con, &["rmtest.scan.panic"]),
                "ERR panic: scan boom",
                "{n}"
            );
            assert_eq!(
                reply(&mut con, &["rmtest.scan.fields.panic", "h"]),
                "ERR panic: field boom",
                "{n}"
            );
        }
        assert!(server.alive(), "{n}");
        assert!(
            server
                .log()
                .contains("command 'rmtest.scan.panic' panicked: scan boom"),
            "{n}"
        );
        assert_eq!(reply(&mut con, &["dbsize"]), "301", "{n}");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}

#[test]
fn the_keyspace_may_change_while_scanning() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        // 150 keys and their twins to delete, 10 to keep.
        pipeline(
            &mut con,
            (0..150).flat_map(|i| {
                [
                    command(&["set", &format!("p:{i}"), "v"]),
                    command(&["set", &format!("p:{i}:twin"), "v"]),
                ]
            }),
        );
        pipeline(
            &mut con,
            (0..10).map(|i| command(&["set", &format!("keep:{i}"), "v"])),
        );
        // Each key is deleted once: when visited, or as the twin of a visited key.
        assert_eq!(reply(&mut con, &["rmtest.scan.delete", "p:"]), "300", "{n}");
        assert_eq!(reply(&mut con, &["dbsize"]), "10", "{n}");
        // Every field of a hash deleted while scanning it; the emptied hash is gone.
        reply(
            &mut con,
            &["config", "set", "hash-max-listpack-entries", "16"],
        );
        pipeline(
            &mut con,
            (0..200).map(|i| command(&["hset", "h", &format!("f{i}"), "v"])),
        );
        assert_eq!(reply(&mut con, &["rmtest.scan.hdel", "h"]), "200", "{n}");
        assert_eq!(reply(&mut con, &["exists", "h"]), "0", "{n}");
    }
}

#[test]
fn scanning_in_steps_across_commands() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        let expected: BTreeSet<String> = (0..500).map(|i| format!("s:{i}")).collect();
        pipeline(&mut con, expected.iter().map(|k| command(&["set", k, "v"])));
        let mut seen = BTreeSet::new();
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 100_000, "{n}: the scan does not end");
            let step = strings(&mut con, &["rmtest.scan.step"]);
            let (more, names) = step.split_first().expect("the more flag");
            seen.extend(names.iter().cloned());
            if more == "0" {
                break;
            }
        }
        assert!(steps > 1, "{n}: one step scanned everything");
        assert_eq!(seen, expected, "{n}");
    }
}
