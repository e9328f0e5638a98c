//! HGETSET on real servers: the seed transcript, errors, replication.

mod common;

use common::{Server, reply, servers, table, wait_for};

#[test]
fn seed_transcript() {
    for kind in servers() {
        let server = Server::start(&kind, &["hashex"], &[]);
        let mut con = server.connection();
        table(
            &mut con,
            &kind.name,
            &[
                (&["hset", "a", "a", "1"], "1"),
                (&["hgetset", "a", "a", "2"], "\"1\""),
                (&["hget", "a", "a"], "\"2\""),
                (&["hgetset", "a", "b", "2"], "(nil)"),
                (&["hgetset", "a", "b", "3"], "\"2\""),
            ],
        );
    }
}

#[test]
fn wrong_type_leaves_the_key_alone() {
    for kind in servers() {
        let server = Server::start(&kind, &["hashex"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["set", "s", "x"]), "+OK");
        assert_eq!(
            reply(&mut con, &["hgetset", "s", "f", "v"]),
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["get", "s"]), "\"x\"");
    }
}

/// HGETSET declares its arity (`.arity(4)`), so the server refuses any other count before the
/// command runs, and nothing is written. (The handler's own `let [..] = args else` guard cannot
/// be reached through a server while the arity is declared; the SDK's `Error::WrongArity` from
/// such a guard is tested on a command that declares none: `rmtest.args` in
/// `sdk::typed_arguments_answer_with_the_servers_errors`.)
#[test]
fn declared_arity_refuses_other_counts() {
    for kind in servers() {
        let server = Server::start(&kind, &["hashex"], &[]);
        let mut con = server.connection();
        let info = reply(&mut con, &["command", "info", "hgetset"]);
        assert!(
            info.starts_with(r#"[["hgetset", 4, "#),
            "{}: {info}",
            kind.name
        );
        for args in [
            &["hgetset"][..],
            &["hgetset", "a"],
            &["hgetset", "a", "b"],
            &["hgetset", "a", "b", "c", "d"],
        ] {
            assert_eq!(
                reply(&mut con, args),
                "ERR wrong number of arguments for 'hgetset' command",
                "{}: {}",
                kind.name,
                args.join(" ")
            );
        }
        assert_eq!(reply(&mut con, &["exists", "a"]), "0");
    }
}

#[test]
fn binary_fields_and_values_round_trip() {
    for kind in servers() {
        let server = Server::start(&kind, &["hashex"], &[]);
        let mut con = server.connection();
        let field = "f\0 with spaces\r\n";
        let value = "v\0\u{00ff}\u{0001}";
        assert_eq!(reply(&mut con, &["hgetset", "h", field, value]), "(nil)");
        assert_eq!(
            reply(&mut con, &["hgetset", "h", field, "x"]),
            format!("{value:?}")
        );
        assert_eq!(reply(&mut con, &["type", "h"]), "+hash");
    }
}

#[test]
fn replicated_verbatim_to_replica_and_aof() {
    for kind in servers() {
        let master = Server::start(&kind, &["hashex"], &["--appendonly", "yes"]);
        let replica = master.start_replica_of(&["hashex"], &[]);
        let mut on_replica = replica.connection();
        let mut con = master.connection();
        assert_eq!(reply(&mut con, &["hgetset", "r", "f", "v1"]), "(nil)");
        assert_eq!(reply(&mut con, &["hgetset", "r", "f", "v2"]), "\"v1\"");
        assert_eq!(reply(&mut con, &["wait", "1", "5000"]), "1");
        assert_eq!(
            reply(&mut on_replica, &["hget", "r", "f"]),
            "\"v2\"",
            "{}",
            kind.name
        );
        // The replica ran HGETSET itself, not an HSET the master rewrote it into.
        let stats = reply(&mut on_replica, &["info", "commandstats"]);
        assert!(
            stats.contains("cmdstat_hgetset:calls=2,"),
            "{}: {stats}",
            kind.name
        );

        // The AOF is written after the reply; give the server a moment.
        let aof = || master.aof();
        wait_for("both HGETSETs in the AOF", || {
            aof().matches("hgetset").count() >= 2
        });
        assert_eq!(
            aof()
                .matches("$7\r\nhgetset\r\n$1\r\nr\r\n$1\r\nf\r\n")
                .count(),
            2,
            "{}",
            kind.name
        );
    }
}

#[test]
fn command_docs_come_from_the_definition() {
    for kind in servers() {
        let server = Server::start(&kind, &["hashex"], &[]);
        let mut con = server.connection();
        let docs = reply(&mut con, &["command", "docs", "hgetset"]);
        for expected in [
            "\"summary\", \"Sets a hash field to a value and returns its old value\"",
            "\"name\", \"key\", \"type\", \"key\"",
            "\"name\", \"field\", \"type\", \"string\"",
        ] {
            assert!(
                docs.contains(expected),
                "{}: {expected} not in {docs}",
                kind.name
            );
        }
        let info = reply(&mut con, &["command", "info", "hgetset"]);
        assert!(
            info.starts_with("[[\"hgetset\", 4, [+write, +denyoom"),
            "{}: {info}",
            kind.name
        );
    }
}

#[test]
fn a_second_module_of_the_same_name_is_refused() {
    for kind in servers() {
        let server = Server::start(&kind, &["hashex"], &["--enable-module-command", "yes"]);
        let mut con = server.connection();
        let path = common::module("hashex");
        let answer = reply(&mut con, &["module", "load", path.to_str().unwrap()]);
        assert!(answer.starts_with("ERR"), "{}: {answer}", kind.name);
        assert_eq!(reply(&mut con, &["hgetset", "k", "f", "v"]), "(nil)");
        assert!(
            server
                .log()
                .contains("a module named 'hashex' is already loaded"),
            "{}",
            kind.name
        );
    }
}
