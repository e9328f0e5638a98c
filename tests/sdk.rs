//! The SDK on real servers, through the `rmtest` fixture module: the boundary (panics, errors),
//! every reply kind on RESP2 and RESP3, argument parsing, the Key API, API availability.

mod common;

use common::{Server, reply, servers};

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
        assert!(
            server
                .log()
                .contains("command 'rmtest.panic' panicked: boom"),
            "{}",
            kind.name
        );
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
        let n = kind.name;
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
        let version = reply(&mut con, &["info", "server"]);
        if version.contains("redis_version:7.0.") {
            assert_eq!(newer, "0", "{}", kind.name);
        } else if kind.name == "valkey" {
            assert_eq!(newer, "1", "{}", kind.name);
        }
    }
}
