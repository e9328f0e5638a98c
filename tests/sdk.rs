//! The SDK on real servers, through the `rmtest` fixture module: the boundary (panics, errors),
//! every reply kind on RESP2 and RESP3, argument parsing, the Key API, API availability.

mod common;

use common::{Server, reply, servers, table};

#[test]
fn a_panic_becomes_an_error_reply_and_the_server_keeps_serving() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        for _ in 0..100 {
            assert_eq!(
                reply(&mut con, &["rmtest.panic"]),
                "ERR panic: boom",
                "{}",
                kind.name
            );
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
        assert!(server.alive(), "{} died", kind.name);
        // The log line names the module and where the panic happened.
        let log = server.log();
        assert!(
            log.contains(
                "<rmtest> command 'rmtest.panic' panicked: boom (at tests/fixture/src/core.rs:"
            ),
            "{}: {log}",
            kind.name
        );
    }
}

/// Typed arguments: `Command::fixed` derives the arity from the handler's array (the server's
/// own arity error), `Args` reads typed values with the server's error texts.
#[test]
fn typed_arguments_answer_with_the_servers_errors() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let cases: &[(&[&str], &str)] = &[
            (&["rmtest.fixed", "a", "b"], r#"["a", "b"]"#),
            (
                &["rmtest.fixed", "a"],
                "ERR wrong number of arguments for 'rmtest.fixed' command",
            ),
            (
                &["rmtest.fixed", "a", "b", "c"],
                "ERR wrong number of arguments for 'rmtest.fixed' command",
            ),
            (&["rmtest.args", "x", "3"], r#""x 3 None None 0""#),
            (
                &["rmtest.args", "x", "3", "xx", "limit", "5", "r1", "r2"],
                r#""x 3 Some(Xx) Some(5) 2""#,
            ),
            (
                &["rmtest.args", "x"],
                "ERR wrong number of arguments for 'rmtest.args' command",
            ),
            (
                &["rmtest.args", "x", "three"],
                "ERR value is not an integer or out of range",
            ),
            (
                &["rmtest.args", "x", "-1"],
                "ERR value is out of range, must be positive",
            ),
            (&["rmtest.args", "x", "1", "LIMIT"], "ERR syntax error"),
            (&["rmtest.args-strict", "2.5"], "\"2.5\""),
            (
                &["rmtest.args-strict", "nan"],
                "ERR value is not a valid float",
            ),
            (&["rmtest.args-strict", "1", "2"], "ERR syntax error"),
        ];
        table(&mut con, n, cases);
        // Not UTF-8 where text is asked for.
        let bad: redis::Value = redis::cmd("rmtest.args")
            .arg(&b"\xff"[..])
            .arg(1)
            .query(&mut con)
            .unwrap_or_else(|e| redis::Value::SimpleString(e.to_string()));
        assert!(format!("{bad:?}").contains("UTF-8"), "{n}: {bad:?}");
        // The arity is the server's: COMMAND INFO says 3.
        assert!(
            reply(&mut con, &["command", "info", "rmtest.fixed"]).contains("\"rmtest.fixed\", 3,"),
            "{n}"
        );
    }
}

/// One reply per command: an `Err` or a panic after the command replied is logged, not sent
/// (a second reply would answer the client's next command).
#[test]
fn an_error_after_the_reply_is_logged_not_sent() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        for mode in ["fail", "panic"] {
            assert_eq!(reply(&mut con, &["rmtest.reply-then", mode]), "+OK", "{n}");
            assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{mode} on {n}");
            assert_eq!(reply(&mut con, &["echo", "x"]), "\"x\"", "{mode} on {n}");
        }
        let log = server.log();
        for line in [
            "command 'rmtest.reply-then' failed after replying (no error sent): ERR late failure",
            "command 'rmtest.reply-then' panicked after replying (no error sent): late boom (at ",
        ] {
            assert!(log.contains(line), "{n}: {line} not in {log}");
        }
    }
}

#[test]
fn errors_become_error_replies() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["rmtest.fail"]), "ERR deliberate failure");
        assert_eq!(
            reply(&mut con, &["rmtest.wrongtype"]),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        // A line break in a message cannot split the reply in two.
        assert_eq!(
            reply(&mut con, &["rmtest.reply", "error-newline"]),
            "ERR two  lines"
        );
        assert_eq!(reply(&mut con, &["rmtest.reply", "newline"]), "+two  lines");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
    }
}

#[test]
fn replies_on_resp2_and_resp3() {
    let cases = [
        ("simple", "+fine", "+fine"),
        ("integer", "-42", "-42"),
        ("double", "\"3.5\"", ",3.5"),
        ("bool", "1", "#true"),
        ("bulk", "\"bin\\0ary\"", "\"bin\\0ary\""),
        ("null", "(nil)", "(nil)"),
        ("array", "[1, \"two\"]", "[1, \"two\"]"),
        ("postponed", "[0, 1, 2]", "[0, 1, 2]"),
        ("map", "[\"k\", 1]", "{\"k\": 1}"),
        ("set", "[\"a\", \"b\"]", "~[\"a\", \"b\"]"),
        ("verbatim", "\"hello\"", "=txt:hello"),
        ("resp3", "0", "#true"),
    ];
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut resp2 = server.connection();
        let mut resp3 = server.connection_resp3();
        for (case, on_resp2, on_resp3) in cases {
            let args = ["rmtest.reply", case];
            assert_eq!(
                reply(&mut resp2, &args),
                on_resp2,
                "{case} RESP2 on {}",
                kind.name
            );
            assert_eq!(
                reply(&mut resp3, &args),
                on_resp3,
                "{case} RESP3 on {}",
                kind.name
            );
        }
        assert_eq!(
            reply(&mut resp2, &["rmtest.reply", "bignumber"]),
            "\"123456789012345678901234567890\""
        );
        assert_eq!(
            reply(&mut resp3, &["rmtest.reply", "bignumber"]),
            "(123456789012345678901234567890"
        );
    }
}

#[test]
fn numbers_parse_with_clear_errors() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.parse", "int", "-9223372036854775808"]),
            "-9223372036854775808"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.parse", "int", "9223372036854775808"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.parse", "int", "12a"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.parse", "float", "2.5"]),
            "\"2.5\""
        );
        assert_eq!(
            reply(&mut con, &["rmtest.parse", "float", "nan"]),
            "ERR value is not a valid float"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.parse", "int"])
                .split(" for")
                .next()
                .unwrap(),
            "ERR wrong number of arguments"
        );
    }
}

#[test]
fn key_api() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let mut k = |args: &[&str]| {
            let mut full = vec!["rmtest.key"];
            full.extend_from_slice(args);
            reply(&mut con, &full)
        };
        let n = kind.name.clone();
        // type, strings, expiry, delete
        assert_eq!(k(&["type", "s"]), "+empty", "{n}");
        assert_eq!(k(&["get", "s"]), "\"\"", "{n}");
        assert_eq!(k(&["set", "s", "hello"]), "+OK", "{n}");
        assert_eq!(k(&["type", "s"]), "+string", "{n}");
        assert_eq!(k(&["len", "s"]), "5", "{n}");
        assert_eq!(k(&["setrange0", "s", "HE"]), "5", "{n}");
        assert_eq!(k(&["get", "s"]), "\"HEllo\"", "{n}");
        assert_eq!(k(&["setrange0", "s", "HELLO, WORLD"]), "12", "{n}");
        assert_eq!(k(&["get", "s"]), "\"HELLO, WORLD\"", "{n}");
        assert_eq!(k(&["pttl", "s"]), "-1", "{n}");
        assert_eq!(k(&["pexpire", "s", "100000"]), "+OK", "{n}");
        let ttl: i64 = k(&["pttl", "s"]).parse().unwrap();
        assert!((99_000..=100_000).contains(&ttl), "{n}: ttl {ttl}");
        assert_eq!(k(&["persist", "s"]), "+OK", "{n}");
        assert_eq!(k(&["pttl", "s"]), "-1", "{n}");
        assert_eq!(k(&["del", "s"]), "+OK", "{n}");
        assert_eq!(k(&["type", "s"]), "+empty", "{n}");
        assert_eq!(
            k(&["pexpire", "s", "100"]),
            "ERR cannot set expire on an empty key",
            "{n}"
        );
        // hashes, several fields at once
        assert_eq!(k(&["hmset", "h", "a", "1", "b", "2"]), "0", "{n}");
        assert_eq!(k(&["hmset", "h", "a", "3", "c", "4"]), "1", "{n}");
        assert_eq!(
            k(&["hmget", "h", "a", "b", "zz"]),
            "[\"3\", \"2\", (nil)]",
            "{n}"
        );
        assert_eq!(k(&["hexists", "h", "c"]), "1", "{n}");
        assert_eq!(k(&["hdel", "h", "c"]), "1", "{n}");
        assert_eq!(k(&["hdel", "h", "c"]), "0", "{n}");
        assert_eq!(k(&["hexists", "missing", "c"]), "0", "{n}");
        // lists
        assert_eq!(k(&["lpush", "l", "x"]), "1", "{n}");
        assert_eq!(k(&["lpush", "l", "y"]), "2", "{n}");
        assert_eq!(k(&["rpop", "l"]), "\"x\"", "{n}");
        assert_eq!(k(&["rpop", "l"]), "\"y\"", "{n}");
        assert_eq!(k(&["rpop", "l"]), "(nil)", "{n}");
        // sets
        assert_eq!(k(&["sadd", "set", "m"]), "1", "{n}");
        assert_eq!(k(&["sadd", "set", "m"]), "0", "{n}");
        assert_eq!(k(&["sismember", "set", "m"]), "1", "{n}");
        assert_eq!(k(&["srem", "set", "m"]), "1", "{n}");
        assert_eq!(k(&["sismember", "set", "m"]), "0", "{n}");
        // The set commands run with the handle closed and reopen it: the same handle then sees
        // the set they created, or none after removing the last member (a stale handle would
        // say "empty" after the first, and read the freed set after the second).
        assert_eq!(k(&["sadd-type", "set2", "a"]), "[1, +set, 1]", "{n}");
        assert_eq!(k(&["sadd-type", "set2", "b"]), "[1, +set, 2]", "{n}");
        assert_eq!(k(&["srem-type", "set2", "a"]), "[1, +set, 1]", "{n}");
        assert_eq!(k(&["srem-type", "set2", "b"]), "[1, +empty, 0]", "{n}");
        assert_eq!(k(&["type", "set2"]), "+empty", "{n}");
        // sorted sets
        assert_eq!(k(&["zadd", "z", "1", "one"]), "+added", "{n}");
        assert_eq!(k(&["zadd", "z", "2", "two"]), "+added", "{n}");
        assert_eq!(k(&["zadd", "z", "1.5", "one"]), "+updated", "{n}");
        assert_eq!(k(&["zadd", "z", "1.5", "one"]), "+unchanged", "{n}");
        assert_eq!(k(&["zscore", "z", "one"]), "\"1.5\"", "{n}");
        assert_eq!(k(&["zscore", "z", "nope"]), "(nil)", "{n}");
        assert_eq!(
            k(&["zrange", "z", "0", "10"]),
            "[\"one\", \"1.5\", \"two\", \"2\"]",
            "{n}"
        );
        assert_eq!(
            k(&["zrange", "z", "0", "10", "rev"]),
            "[\"two\", \"2\", \"one\", \"1.5\"]",
            "{n}"
        );
        assert_eq!(k(&["zrem", "z", "one"]), "1", "{n}");
        assert_eq!(k(&["zrange", "z", "0", "10"]), "[\"two\", \"2\"]", "{n}");
        // every typed access on the wrong type is WRONGTYPE, and changes nothing
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        for op in [
            &["get", "h"][..],
            &["setrange0", "h", "x"],
            &["lpush", "h", "x"],
            &["rpop", "h"],
            &["sadd", "h", "x"],
            &["zadd", "h", "1", "x"],
            &["zscore", "h", "x"],
            &["hmget", "z", "x"],
            &["hmset", "z", "x", "y"],
        ] {
            assert_eq!(k(op), wrongtype, "{n}: {op:?}");
        }
        assert_eq!(k(&["hmget", "h", "a", "b"]), "[\"3\", \"2\"]", "{n}");
    }
}

#[test]
fn owned_strings_and_logging() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["rmtest.owned", "copy me"]), "\"copy me\"");
        assert_eq!(reply(&mut con, &["rmtest.log", "hello from rmtest"]), "+OK");
        assert!(
            server.log().contains("<rmtest> hello from rmtest"),
            "{}",
            kind.name
        );
    }
}

#[test]
fn api_availability_is_data() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.available", "SetCommandInfo"]),
            "1"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.available", "RedisModule_OpenKey"]),
            "1"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.available", "NoSuchFunction"]),
            "0"
        );
        // Added in Redis 7.2: absent from the Debian 7.0 server, present in Valkey 9.
        let newer = reply(&mut con, &["rmtest.available", "ReplyWithErrorFormat"]);
        let expected = if kind.since_7_2() { "1" } else { "0" };
        assert_eq!(newer, expected, "{}", kind.name);
    }
}

const DELETE_REFUSED: &str =
    "ERR cannot delete the key: a borrowed view of the key's value is still alive (drop it first)";
const REPLACE_REFUSED: &str = "ERR cannot replace the key's value: a borrowed view of the key's \
                               value is still alive (drop it first)";
const RESIZE_REFUSED: &str = "ERR cannot resize the string: a borrowed view of the key's value \
                              is still alive (drop it first)";
const CALL_REFUSED: &str =
    "ERR cannot run a command: a borrowed view of the key's value is still alive (drop it first)";
const SCAN_REFUSED: &str = "ERR cannot scan the keyspace: a borrowed view of the key's value is \
                            still alive (drop it first)";
const SHARED_REFUSED: &str = "ERR cannot borrow the key's value: it is borrowed mutably through \
                              another key handle (drop that view first)";

/// The reply of `RMTEST.VIEW` while a view of `value` is held, ending with `then`.
fn view_answers(value: &str, then: &str) -> String {
    let quoted = |s: &str| format!("{s:?}");
    let answers = [
        DELETE_REFUSED, // a second handle
        REPLACE_REFUSED,
        RESIZE_REFUSED,
        CALL_REFUSED, // DEL through ctx.call
        SCAN_REFUSED,
        DELETE_REFUSED, // a keyspace subscriber, from its own context
        value,          // the view still reads the value
        value,          // and a second shared view agrees
        "ok",           // another key: string_set
        "ok",           // and delete
        SHARED_REFUSED, // a shared view while the value is lent mutably
        then,
    ];
    format!("[{}]", answers.map(quoted).join(", "))
}

#[test]
fn a_view_keeps_its_string_alive_against_other_handles_commands_and_callbacks() {
    let long = "a string too long to be embedded in its object header: ".repeat(3);
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        // Embedded, integer-encoded and plain strings alike.
        for value in ["hello", "12345", long.as_str()] {
            let upper = value.to_ascii_uppercase();
            assert_eq!(reply(&mut con, &["set", "view:s", value]), "+OK");
            assert_eq!(reply(&mut con, &["set", "view:o", "other"]), "+OK");
            assert_eq!(
                reply(&mut con, &["rmtest.view", "view:s", "view:o", "keep"]),
                view_answers(value, "kept"),
                "{k} {value}"
            );
            // Nothing was freed: the value is there, changed only through the mutable view.
            assert_eq!(
                reply(&mut con, &["get", "view:s"]),
                format!("{upper:?}"),
                "{k}"
            );
            assert_eq!(reply(&mut con, &["exists", "view:o"]), "0", "{k}");
            // With the view gone, the same operations work.
            assert_eq!(reply(&mut con, &["set", "view:o", "other"]), "+OK");
            assert_eq!(
                reply(&mut con, &["rmtest.view", "view:s", "view:o", "del"]),
                view_answers(&upper, "ok"),
                "{k} {value}"
            );
            assert_eq!(reply(&mut con, &["exists", "view:s"]), "0", "{k}");
            assert_eq!(reply(&mut con, &["set", "view:s", value]), "+OK");
            assert_eq!(reply(&mut con, &["set", "view:o", "other"]), "+OK");
            assert_eq!(
                reply(&mut con, &["rmtest.view", "view:s", "view:o", "call"]),
                view_answers(value, "ok"),
                "{k} {value}"
            );
            assert_eq!(reply(&mut con, &["exists", "view:s"]), "0", "{k}");
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
    }
}

#[test]
fn a_leaked_view_protects_its_value_until_its_command_ends() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["set", "view:l", "leaked"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.view-leak", "view:l"]),
            format!("{DELETE_REFUSED:?}"),
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["get", "view:l"]), "\"leaked\"");
        // The next command is not held back by a view no one can use any more.
        assert_eq!(reply(&mut con, &["rmtest.key", "del", "view:l"]), "+OK");
        assert_eq!(reply(&mut con, &["exists", "view:l"]), "0");
        assert_eq!(reply(&mut con, &["set", "view:s", "x"]), "+OK");
        assert_eq!(reply(&mut con, &["set", "view:o", "y"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.view", "view:s", "view:o", "call"]),
            view_answers("x", "ok"),
            "{}",
            kind.name
        );
    }
}

#[test]
fn the_server_allocator_serves_over_aligned_layouts() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        for _ in 0..3 {
            assert_eq!(reply(&mut con, &["rmtest.alloc"]), "+OK", "{}", kind.name);
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{}", kind.name);
    }
}

/// Every size 1..=4096 at every power-of-two alignment up to 4096, all of one alignment alive
/// at once, and a realloc chain per alignment (1..=4096 byte by byte, doubling to 4 MiB,
/// halving back to 1): each block aligned, filled and intact. Redis built from source (bundled
/// jemalloc: 24/40/56-byte classes only 8-aligned) crashed on 16-aligned layouts before.
#[test]
fn the_server_allocator_aligns_every_layout() {
    const BLOCKS: usize = 13 * 4096;
    const REALLOC_STEPS: usize = 13 * (4095 + 10 + 22);
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["rmtest.allocsweep"]),
            (BLOCKS + REALLOC_STEPS).to_string(),
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{}", kind.name);
    }
}
