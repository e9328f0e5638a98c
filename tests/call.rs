//! `RedisModule_Call` and ACL checks on real servers, through the `rmtest` fixture: every
//! reply type on RESP2 and RESP3, each call option, arguments of every kind, forwarding,
//! errors, replication, and ACL checks of commands, keys and channels.

mod common;

use common::{Server, reply, run, servers, show, wait_for};

/// The reply as text: a bulk string as it is, an error as `CODE message`, anything else as
/// `common::show` renders it.
fn text(con: &mut redis::Connection, args: &[&str]) -> String {
    match run(con, args) {
        Ok(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(other) => show(&other),
        Err(error) => error,
    }
}

/// `RMTEST.CALL flags args...`: the called command's reply described by the fixture.
fn call(con: &mut redis::Connection, flags: &str, args: &[&str]) -> String {
    let mut full = vec!["rmtest.call", flags];
    full.extend_from_slice(args);
    text(con, &full)
}

#[test]
fn every_reply_type_on_resp2_and_resp3() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("-", &["ping"], "\"PONG\""),
        ("-", &["set", "k", "v"], "\"OK\""),
        ("-", &["get", "k"], "\"v\""),
        ("-", &["get", "missing"], "_"),
        ("-", &["incr", "n"], ":1"),
        ("-", &["hset", "h", "a", "1", "b", "2"], ":2"),
        ("-", &["hgetall", "h"], "[\"a\", \"1\", \"b\", \"2\"]"),
        ("3", &["hgetall", "h"], "{\"a\": \"1\", \"b\": \"2\"}"),
        ("-", &["lpush", "l", "x"], ":1"),
        (
            "-",
            &["get", "l"],
            "!WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ("-", &["lrange", "nolist", "0", "-1"], "[]"),
        // RESP3 types, from DEBUG PROTOCOL
        ("3", &["debug", "protocol", "string"], "\"Hello World\""),
        ("3", &["debug", "protocol", "integer"], ":12345"),
        ("3", &["debug", "protocol", "double"], ",3.141"),
        (
            "3",
            &["debug", "protocol", "bignum"],
            "(1234567999999999999999999999999999999",
        ),
        ("3", &["debug", "protocol", "null"], "_"),
        ("3", &["debug", "protocol", "array"], "[:0, :1, :2]"),
        ("3", &["debug", "protocol", "set"], "~[:0, :1, :2]"),
        (
            "3",
            &["debug", "protocol", "map"],
            "{:0: #f, :1: #t, :2: #f}",
        ),
        (
            "3",
            &["debug", "protocol", "verbatim"],
            "=txt:This is a verbatim\nstring",
        ),
        ("3", &["debug", "protocol", "true"], "#t"),
        ("3", &["debug", "protocol", "false"], "#f"),
        (
            "3",
            &["debug", "protocol", "attrib"],
            // Neither server hands out attribute elements (see `Reply::attribute`).
            "|0 pairs: |1 $14 key-popularity *2 $7 key:123 :90|\"Some real reply following the attribute\"",
        ),
        // The same on RESP2
        ("-", &["debug", "protocol", "double"], "\"3.141\""),
        (
            "-",
            &["debug", "protocol", "bignum"],
            "\"1234567999999999999999999999999999999\"",
        ),
        (
            "-",
            &["debug", "protocol", "map"],
            "[:0, :0, :1, :1, :2, :0]",
        ),
        ("-", &["debug", "protocol", "set"], "[:0, :1, :2]"),
        ("-", &["debug", "protocol", "true"], ":1"),
        ("-", &["debug", "protocol", "null"], "_"),
        (
            "-",
            &["debug", "protocol", "verbatim"],
            "\"This is a verbatim\\nstring\"",
        ),
    ];
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &["--enable-debug-command", "yes"]);
        let mut con = server.connection();
        for (flags, args, expected) in cases {
            assert_eq!(
                call(&mut con, flags, args),
                *expected,
                "{flags} {} on {}",
                args.join(" "),
                kind.name
            );
        }
        // Auto protocol: the calling client's.
        let mut resp3 = server.connection_resp3();
        assert_eq!(
            call(&mut con, "0", &["hgetall", "h"]),
            "[\"a\", \"1\", \"b\", \"2\"]"
        );
        assert_eq!(
            call(&mut resp3, "0", &["hgetall", "h"]),
            "{\"a\": \"1\", \"b\": \"2\"}"
        );
    }
}

#[test]
fn typed_helpers_and_into_result() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        assert_eq!(reply(&mut con, &["set", "k", "v"]), "+OK");
        assert_eq!(reply(&mut con, &["set", "num", "42"]), "+OK");
        assert_eq!(reply(&mut con, &["lpush", "l", "x"]), "1");
        let strict = |con: &mut redis::Connection, args: &[&str]| {
            let mut full = vec!["rmtest.call.strict"];
            full.extend_from_slice(args);
            text(con, &full)
        };
        assert_eq!(
            strict(&mut con, &["get", "k"]),
            "ok \"v\" i64=None bytes=Some(\"v\")",
            "{n}"
        );
        assert_eq!(
            strict(&mut con, &["get", "num"]),
            "ok \"42\" i64=Some(42) bytes=Some(\"42\")",
            "{n}"
        );
        assert_eq!(
            strict(&mut con, &["incr", "counter"]),
            "ok :1 i64=Some(1) bytes=None",
            "{n}"
        );
        assert_eq!(
            strict(&mut con, &["get", "l"]),
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "{n}"
        );
        assert_eq!(
            strict(&mut con, &["incr", "k"]),
            "ERR value is not an integer or out of range",
            "{n}"
        );
    }
}

#[test]
fn calls_that_cannot_run_are_clear_errors() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        assert_eq!(
            call(&mut con, "-", &["nosuchcmd", "a"]),
            "ERR unknown command 'nosuchcmd'",
            "{n}"
        );
        assert_eq!(
            call(&mut con, "-", &["get"]),
            "ERR wrong number of arguments for 'get' command",
            "{n}"
        );
        // No writes: Err, or an error reply with errors-as-replies.
        assert_eq!(
            call(&mut con, "W", &["set", "k", "v"]),
            "ERR write command 'set' called while writes are not allowed",
            "{n}"
        );
        assert_eq!(
            call(&mut con, "WE", &["set", "k", "v"]),
            "!ERR Write command 'set' was called while write is not allowed.",
            "{n}"
        );
        assert_eq!(call(&mut con, "W", &["get", "k"]), "_", "{n}");
        // Script mode refuses noscript commands (always as an error reply: see CallOptions).
        assert_eq!(
            call(&mut con, "S", &["multi"]),
            "!ERR command 'multi' is not allowed on script mode",
            "{n}"
        );
        assert_eq!(call(&mut con, "S", &["set", "k", "v"]), "\"OK\"", "{n}");
        // Over maxmemory: deny-oom commands refused only when asked to respect it.
        assert_eq!(reply(&mut con, &["config", "set", "maxmemory", "1"]), "+OK");
        assert_eq!(
            call(&mut con, "M", &["set", "x", "y"]),
            "OOM command not allowed when used memory > 'maxmemory'.",
            "{n}"
        );
        assert_eq!(
            call(&mut con, "ME", &["set", "x", "y"]),
            "!OOM command not allowed when used memory > 'maxmemory'.",
            "{n}"
        );
        assert_eq!(call(&mut con, "M", &["get", "x"]), "_", "{n}");
        assert_eq!(call(&mut con, "-", &["set", "x", "y"]), "\"OK\"", "{n}");
        assert_eq!(reply(&mut con, &["config", "set", "maxmemory", "0"]), "+OK");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}

#[test]
fn arguments_of_every_kind() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.call.args", "list"]),
            "[9, 10, [\"text\", \"by\\0tes\", \"string\", \"-42\", \"18446744073709551615\", \
             \"2.5\", \"owned\", \"vec\", \"7\", \"moved\"]]",
            "{}",
            kind.name
        );
    }
}

#[test]
fn many_created_arguments() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        // 101 strings made for the call: past the inline 8 and the 64 of the bit mask.
        assert_eq!(
            reply(&mut con, &["rmtest.call.many", "l", "100"]),
            "100",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["lrange", "l", "0", "1"]),
            "[\"0\", \"1\"]",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["lrange", "l", "62", "64"]),
            "[\"62\", \"63\", \"64\"]",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["lindex", "l", "99"]), "\"99\"", "{n}");
        assert_eq!(
            reply(&mut con, &["rmtest.call.many", "l", "7"]),
            "107",
            "{n}"
        );
    }
}

/// `used_memory` (INFO memory): the bytes the server's allocator has handed out and not got
/// back, module strings included (what a leaked `RedisModuleString` adds to).
fn used_memory(con: &mut redis::Connection) -> i64 {
    let info = text(con, &["info", "memory"]);
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no used_memory in {info}"))
}

/// Every string the argument vector made for a call is freed after it, below the 64 marks of
/// its bit mask, past them (its spill list) and past 128, with borrowed strings (every third
/// argument, the command's own key: never freed) in between; and those made before a panic
/// half-way through the arguments are freed as the panic unwinds. A created argument here is
/// 4 KB: one string leaked per call would add 4 MB over the 1000 calls, one per panic 1 MB over
/// the 256 panics; `used_memory` counts live allocations exactly (not pages), so the allowance
/// of 512 KB is for the server's own (client buffers), far below either.
#[test]
fn created_arguments_are_freed_past_the_mask_and_on_panic() {
    const LEN: &str = "4096";
    const ALLOWED: i64 = 512 * 1024;
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        assert_eq!(reply(&mut con, &["set", "k", "v"]), "+OK", "{n}");
        // 65: index 64 (the first past the mask) is a created one.
        for count in [65, 100, 200] {
            let args = count.to_string();
            // The key (every third argument) arrives `count / 3` times; the 4 KB ones name
            // no key.
            let found = (count / 3).to_string();
            let created = |con: &mut redis::Connection, times: &str| {
                reply(con, &["rmtest.call.created", "k", times, &args, LEN])
            };
            // A first call, so whatever the server keeps after one (buffers) is counted before.
            assert_eq!(created(&mut con, "1"), found, "{n}: {count}");
            let before = used_memory(&mut con);
            assert_eq!(created(&mut con, "1000"), found, "{n}: {count}");
            let grown = used_memory(&mut con) - before;
            assert!(
                grown < ALLOWED,
                "{n}: 1000 calls with {count} arguments grew used_memory by {grown} bytes"
            );
        }
        // A panic before argument 150 of 200: 100 strings made (2 of 3 of those before it).
        let panicking = ["rmtest.call.created", "k", "1", "200", LEN, "150"];
        let panicked = reply(&mut con, &panicking);
        assert!(
            panicked.starts_with("ERR panic: push_args panicked at argument 150 on purpose"),
            "{n}: {panicked}"
        );
        let before = used_memory(&mut con);
        for _ in 0..256 {
            let panicked = reply(&mut con, &panicking);
            assert!(panicked.starts_with("ERR panic"), "{n}: {panicked}");
        }
        let grown = used_memory(&mut con) - before;
        assert!(
            grown < ALLOWED,
            "{n}: 256 panics after 100 created arguments grew used_memory by {grown} bytes"
        );
        // The server is fine (no string it still uses was freed) and the key untouched.
        assert_eq!(reply(&mut con, &["get", "k"]), "\"v\"", "{n}");
        assert_eq!(
            reply(&mut con, &["rmtest.call.created", "k", "1", "3", "1"]),
            "1",
            "{n}"
        );
    }
}

#[test]
fn forwarding_replies() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut resp2 = server.connection();
        let mut resp3 = server.connection_resp3();
        let n = kind.name.clone();
        assert_eq!(reply(&mut resp2, &["hset", "h", "a", "1"]), "1");
        assert_eq!(reply(&mut resp2, &["rpush", "l", "x", "y", "z"]), "3");
        // A RESP3 reply cannot go to a RESP2 client: refused, and the connection stays usable.
        assert_eq!(
            reply(&mut resp2, &["rmtest.call.fwd", "3", "hgetall", "h"]),
            "ERR cannot forward a RESP3 reply to a RESP2 client (call with auto protocol)",
            "{n}"
        );
        assert_eq!(reply(&mut resp2, &["ping"]), "+PONG", "{n}");
        // A RESP3 call whose reply has only RESP2 types forwards fine.
        assert_eq!(
            reply(
                &mut resp2,
                &["rmtest.call.fwd", "3", "lrange", "l", "0", "-1"]
            ),
            "[\"x\", \"y\", \"z\"]",
            "{n}"
        );
        assert_eq!(
            reply(&mut resp3, &["rmtest.call.fwd", "3", "hgetall", "h"]),
            "{\"a\": \"1\"}",
            "{n}"
        );
        assert_eq!(
            reply(&mut resp2, &["rmtest.call.fwd", "0", "hgetall", "h"]),
            "[\"a\", \"1\"]",
            "{n}"
        );
        assert_eq!(
            reply(&mut resp3, &["rmtest.call.fwd", "0", "hgetall", "h"]),
            "{\"a\": \"1\"}",
            "{n}"
        );
        assert_eq!(
            reply(&mut resp2, &["rmtest.call.fwd", "-", "hget", "h", "nope"]),
            "(nil)",
            "{n}"
        );
        assert_eq!(
            reply(&mut resp2, &["rmtest.call.fwd", "-", "incr", "h"]),
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "{n}"
        );
        // An element of an array, forwarded on its own.
        assert_eq!(
            reply(
                &mut resp2,
                &["rmtest.call.element", "lrange", "l", "0", "-1"]
            ),
            "\"y\"",
            "{n}"
        );
        // The protocol text of a reply.
        assert_eq!(
            text(&mut resp2, &["rmtest.call.proto", "hgetall", "h"]),
            "%1\r\n$1\r\na\r\n$1\r\n1\r\n",
            "{n}"
        );
    }
}

#[test]
fn replicate_to_replicas_and_aof() {
    for kind in servers() {
        let master = Server::start(&kind, &["rmtest"], &["--appendonly", "yes"]);
        let replica = master.start_replica_of(&["rmtest"], &[]);
        let mut on_replica = replica.connection();
        let mut con = master.connection();
        let n = kind.name.clone();
        assert_eq!(call(&mut con, "!", &["set", "both", "1"]), "\"OK\"");
        assert_eq!(
            call(&mut con, "!A", &["set", "replica-only", "1"]),
            "\"OK\""
        );
        assert_eq!(call(&mut con, "!R", &["set", "aof-only", "1"]), "\"OK\"");
        assert_eq!(call(&mut con, "-", &["set", "neither", "1"]), "\"OK\"");
        // A marker written last, replicated: once it arrives, everything before it has.
        assert_eq!(call(&mut con, "!", &["set", "marker", "1"]), "\"OK\"");
        wait_for("marker on the replica", || {
            reply(&mut on_replica, &["exists", "marker"]) == "1"
        });
        for (key, expected) in [
            ("both", "1"),
            ("replica-only", "1"),
            ("aof-only", "0"),
            ("neither", "0"),
        ] {
            assert_eq!(
                reply(&mut on_replica, &["exists", key]),
                expected,
                "{key} on the {n} replica"
            );
        }
        let aof = || master.aof();
        wait_for("marker in the AOF", || aof().contains("marker"));
        let aof = aof();
        for (key, expected) in [
            ("$4\r\nboth\r\n", true),
            ("replica-only", false),
            ("aof-only", true),
            ("neither", false),
        ] {
            assert_eq!(
                aof.contains(key),
                expected,
                "{key:?} in the {n} AOF:\n{aof}"
            );
        }
    }
}

#[test]
fn acl_checked_calls() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut admin = server.connection();
        let n = kind.name.clone();
        assert_eq!(
            reply(
                &mut admin,
                &[
                    "acl",
                    "setuser",
                    "alice",
                    "on",
                    "nopass",
                    "~allowed*",
                    "+@all"
                ]
            ),
            "+OK"
        );
        assert_eq!(reply(&mut admin, &["set", "secret", "s"]), "+OK");
        assert_eq!(reply(&mut admin, &["set", "allowed1", "a"]), "+OK");
        let mut alice = server.connection();
        assert_eq!(reply(&mut alice, &["auth", "alice", "any"]), "+OK");
        assert_eq!(text(&mut alice, &["rmtest.acl", "whoami"]), "alice", "{n}");
        assert_eq!(
            text(&mut admin, &["rmtest.acl", "whoami"]),
            "default",
            "{n}"
        );
        // As the calling user: denied, or the error reply the server explains it with.
        assert_eq!(
            call(&mut alice, "C", &["get", "secret"]),
            "NOPERM the user has no permissions to run the 'get' command or access its keys or \
             channels",
            "{n}"
        );
        let explained = if !kind.since_7_2() {
            "!ERR acl verification failed, can't access at least one of the keys mentioned in \
             the command arguments."
        } else {
            "!NOPERM No permissions to access a key"
        };
        assert_eq!(call(&mut alice, "CE", &["get", "secret"]), explained, "{n}");
        assert_eq!(call(&mut alice, "C", &["get", "allowed1"]), "\"a\"", "{n}");
        // Without the check the module runs as the unrestricted user.
        assert_eq!(call(&mut alice, "-", &["get", "secret"]), "\"s\"", "{n}");
        assert_eq!(call(&mut admin, "C", &["get", "secret"]), "\"s\"", "{n}");
    }
}

#[test]
fn acl_checks_of_commands_keys_and_channels() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        let setup = [
            "acl",
            "setuser",
            "alice",
            "on",
            "nopass",
            "~allowed*",
            "%R~ro*",
            "&news.*",
            "+@all",
            "-flushall",
        ];
        assert_eq!(reply(&mut con, &setup), "+OK");
        let mut acl = |args: &[&str]| {
            let mut full = vec!["rmtest.acl"];
            full.extend_from_slice(args);
            reply(&mut con, &full)
        };
        let denied = |what: &str| format!("NOPERM User alice has no permissions to {what}");
        // Commands, with their keys.
        assert_eq!(
            acl(&["command", "alice", "get", "allowed1"]),
            "+OK alice",
            "{n}"
        );
        assert_eq!(
            acl(&["command", "alice", "get", "secret"]),
            denied("run the 'get' command with these arguments"),
            "{n}"
        );
        assert_eq!(
            acl(&["command", "alice", "set", "ro1", "v"]),
            denied("run the 'set' command with these arguments"),
            "{n}"
        );
        assert_eq!(acl(&["command", "alice", "get", "ro1"]), "+OK alice", "{n}");
        assert_eq!(
            acl(&["command", "alice", "flushall"]),
            denied("run the 'flushall' command with these arguments"),
            "{n}"
        );
        assert_eq!(
            acl(&["command", "alice", "nosuch"]),
            "ERR unknown command 'nosuch'",
            "{n}"
        );
        assert_eq!(
            acl(&["command", "nobody", "get", "x"]),
            "ERR no such user 'nobody'",
            "{n}"
        );
        // Keys, per kind of access: `~allowed*` allows all, `%R~ro*` reading only.
        let cases = [
            ("any", "+OK alice", "+OK alice"),
            ("read", "+OK alice", "+OK alice"),
            ("write", "+OK alice", "no"),
            ("insert", "+OK alice", "no"),
            ("update", "+OK alice", "no"),
            ("delete", "+OK alice", "no"),
            ("readwrite", "+OK alice", "no"),
        ];
        for (access, allowed, ro) in cases {
            assert_eq!(
                acl(&["key", "alice", "allowed1", access]),
                allowed,
                "{access} {n}"
            );
            let ro_expected = if ro == "no" {
                denied("access the 'ro1' key")
            } else {
                ro.to_owned()
            };
            assert_eq!(
                acl(&["key", "alice", "ro1", access]),
                ro_expected,
                "{access} {n}"
            );
            assert_eq!(
                acl(&["key", "alice", "secret", access]),
                denied("access the 'secret' key"),
                "{access} {n}"
            );
        }
        // Channels and channel patterns.
        assert_eq!(acl(&["channel", "alice", "news.1"]), "+OK alice", "{n}");
        assert_eq!(
            acl(&["channel", "alice", "sports"]),
            denied("access the 'sports' channel"),
            "{n}"
        );
        assert_eq!(acl(&["pattern", "alice", "news.*"]), "+OK alice", "{n}");
        assert_eq!(
            acl(&["pattern", "alice", "news.1*"]),
            denied("access the 'news.1*' channel"),
            "{n}"
        );
        // Rules changed meanwhile are seen at the next check; a deleted user is an error.
        assert_eq!(reply(&mut con, &["acl", "setuser", "alice", "~*"]), "+OK");
        let mut acl = |args: &[&str]| {
            let mut full = vec!["rmtest.acl"];
            full.extend_from_slice(args);
            reply(&mut con, &full)
        };
        assert_eq!(
            acl(&["key", "alice", "secret", "write"]),
            "+OK alice",
            "{n}"
        );
        // The calling client's user.
        assert_eq!(acl(&["key", ".", "secret", "write"]), "+OK default", "{n}");
        assert_eq!(
            acl(&["delete-then-check", "alice", "secret"]),
            "ERR no such user 'alice'",
            "{n}"
        );
        assert_eq!(
            acl(&["key", "alice", "secret", "read"]),
            "ERR no such user 'alice'",
            "{n}"
        );
    }
}
