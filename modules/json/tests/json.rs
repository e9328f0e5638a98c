//! The json module on real servers: RedisJSON-compatible persistence, the seed commands
//! (json.set/get/path/fmt), JSON.SET/GET/DEL/TYPE in RedisJSON's forms, bad input.

mod common;

use common::{Server, dump, reply, reply_bin, run, servers, table};

/// `DUMP` of `{"a":[1,2.5,"x",null,true]}` by RedisJSON 2.8.3 on Redis 7.0.15
/// (docs/research/redisjson-2.8/FACTS.md §1.2).
const REJSON_DUMP_HEX: &str = "078145e25238df912c03051b7b2261223a5b312c322e352c2278222c6e756c6c2c747275655d7d000a00a3962a9e4248e3f5";

/// The trailer of the same `DUMP` on Valkey 9: RDB version 80, then the checksum.
const VALKEY_9_DUMP_TRAILER_HEX: &str = "50006cbce30fdc1a8401";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn dump_is_byte_identical_to_redisjson() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(
                &mut con,
                &["json.set", "k", r#"{"a":[1,2.5,"x",null,true]}"#]
            ),
            "+OK"
        );
        let ours = dump(&mut con, "k");
        let theirs = unhex(REJSON_DUMP_HEX);
        // The module payload (type id, encver 3, one string, EOF) is the same everywhere;
        // the trailer holds the server's RDB version and the checksum.
        assert_eq!(
            hex(&ours[..ours.len() - 10]),
            hex(&theirs[..theirs.len() - 10]),
            "{}",
            kind.name
        );
        if !kind.since_7_2() {
            assert_eq!(
                hex(&ours),
                REJSON_DUMP_HEX,
                "redis 7.0 DUMP (RDB version 10)"
            );
        }
        if kind.valkey && kind.version.0 == 9 {
            assert_eq!(
                hex(&ours[ours.len() - 10..]),
                VALKEY_9_DUMP_TRAILER_HEX,
                "valkey 9 DUMP trailer (RDB version 80)"
            );
        }
        // RedisJSON's payload restores into our type on both servers.
        let restored: redis::Value = redis::cmd("restore")
            .arg("r")
            .arg(0)
            .arg(&theirs)
            .query(&mut con)
            .unwrap();
        assert_eq!(common::show(&restored), "+OK", "{}", kind.name);
        assert_eq!(
            reply(&mut con, &["json.get", "r"]),
            r#""{\"a\":[1,2.5,\"x\",null,true]}""#
        );
        assert_eq!(reply(&mut con, &["type", "r"]), "+ReJSON-RL");
    }
}

#[test]
fn persistence_round_trips() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &["--enable-debug-command", "yes"]);
        let mut con = server.connection();
        let doc =
            r#"{"s":"h\u00e9\"","n":-1.5e300,"i":18446744073709551615,"o":{"z":1,"a":[[],{}]}}"#;
        assert_eq!(reply(&mut con, &["json.set", "k", doc]), "+OK");
        let before = reply(&mut con, &["json.get", "k"]);
        assert_eq!(
            reply(&mut con, &["debug", "reload"]),
            "+OK",
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["json.get", "k"]), before, "{}", kind.name);
        // DUMP/RESTORE
        let payload = dump(&mut con, "k");
        let restored: redis::Value = redis::cmd("restore")
            .arg("k2")
            .arg(0)
            .arg(&payload)
            .query(&mut con)
            .unwrap();
        assert_eq!(common::show(&restored), "+OK");
        assert_eq!(reply(&mut con, &["json.get", "k2"]), before);
        // COPY is a deep copy
        assert_eq!(reply(&mut con, &["copy", "k", "k3"]), "1");
        assert_eq!(reply(&mut con, &["json.set", "k", "$.o.z", "2"]), "+OK");
        assert_eq!(
            reply(&mut con, &["json.get", "k3"]),
            before,
            "{}",
            kind.name
        );
        assert_ne!(reply(&mut con, &["json.get", "k"]), before);
        // digest follows the content
        let a = reply(&mut con, &["debug", "digest-value", "k2"]);
        let b = reply(&mut con, &["debug", "digest-value", "k3"]);
        assert_eq!(a, b);
        assert_ne!(a, reply(&mut con, &["debug", "digest-value", "k"]));
        let usage: i64 = redis::cmd("memory")
            .arg("usage")
            .arg("k")
            .query(&mut con)
            .unwrap();
        assert!(usage > 60, "{usage}");
        // A corrupt payload is refused cleanly.
        let mut bad = payload.clone();
        let brace = bad.iter().position(|&b| b == b'{').unwrap();
        bad[brace] = b'[';
        let refused = run(&mut con, &["ping"]).map(|_| ());
        assert!(refused.is_ok());
        let answer = redis::cmd("restore")
            .arg("bad")
            .arg(0)
            .arg(&bad)
            .query::<redis::Value>(&mut con);
        assert!(
            answer.is_err() || matches!(answer, Ok(redis::Value::ServerError(_))),
            "{answer:?}"
        );
        assert_eq!(reply(&mut con, &["exists", "bad"]), "0");
    }
}

#[test]
fn aof_rewrite_without_preamble() {
    for kind in servers() {
        let server = Server::start(
            &kind,
            &["json"],
            &[
                "--appendonly",
                "yes",
                "--aof-use-rdb-preamble",
                "no",
                "--enable-debug-command",
                "yes",
            ],
        );
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["json.set", "k", r#"{"a":[1,{"b":"x y"}]}"#]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["bgrewriteaof"]),
            "+Background append only file rewriting started"
        );
        common::wait_for("rewrite", || {
            let info = reply(&mut con, &["info", "persistence"]);
            info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_last_bgrewrite_status:ok")
        });
        assert_eq!(
            reply(&mut con, &["debug", "loadaof"]),
            "+OK",
            "{}",
            kind.name
        );
        assert_eq!(
            reply(&mut con, &["json.get", "k"]),
            r#""{\"a\":[1,{\"b\":\"x y\"}]}""#
        );
    }
}

#[test]
fn seed_commands() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let cases: &[(&[&str], &str)] = &[
            (&["json.set", "p", r#"{"name":"ann","age":30}"#], "+OK"),
            (
                &["json.fmt", "p", "Hello {{.name}}, {{$.age}}"],
                r#""Hello ann, 30""#,
            ),
            (
                &["json.fmt", "p", "{{$}}!"],
                r#""{\"name\":\"ann\",\"age\":30}!""#,
            ),
            (
                &["json.fmt", "p", "x {{.nope}}"],
                "ERR Path '.nope' does not exist",
            ),
            (
                &["json.fmt", "p", "x {{.name"],
                "ERR unterminated {{ in template",
            ),
            (&["json.fmt", "nokey", "x"], "(nil)"),
            (
                &["json.fmt", "p", "{{$.a[9]}}"],
                "ERR Path '$.a[9]' does not exist",
            ),
            (
                &["json.fmt", "p", "no placeholders"],
                r#""no placeholders""#,
            ),
            (&["json.get", "p"], r#""{\"name\":\"ann\",\"age\":30}""#),
            (
                &["json.get", "p", "pretty"],
                r#""{\n  \"name\": \"ann\",\n  \"age\": 30\n}""#,
            ),
            (&["json.path", "p", ".name"], r#""\"ann\"""#),
            (&["json.path", "p", "$.*"], r#""[\"ann\",30]""#),
            (
                &["json.path", "p", "$.*", "PRETTY"],
                r#""[\n  \"ann\",\n  30\n]""#,
            ),
            (&["json.path", "p", "$.nope"], r#""[]""#),
            (
                &["json.path", "p", ".nope"],
                "ERR Path '$.nope' does not exist",
            ),
            (
                &["json.path", "p", "$."],
                "ERR Error occurred on position 2, \"$. <<<<----\", expected one of the following: <member-name-shorthand>, '*'",
            ),
            (&["json.path", "p", ".name", "UGLY"], "ERR syntax error"),
            (
                &["json.path", "p"],
                "ERR wrong number of arguments for 'json.path' command",
            ),
            (&["json.get", "nokey"], "(nil)"),
        ];
        for (args, expected) in cases {
            let got = reply(&mut con, args);
            if expected.starts_with("ERR Error occurred") {
                assert!(got.starts_with("ERR Error occurred on position 2"), "{got}");
            } else {
                assert_eq!(&got, expected, "{} on {}", args.join(" "), kind.name);
            }
        }
    }
}

#[test]
fn strict_parsing_leaves_the_key_unchanged() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["json.set", "k", "[0]"]), "+OK");
        let deep_ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let deep_bad = format!("{}{}", "[".repeat(128), "]".repeat(128));
        let cases: &[(&str, &str)] = &[
            ("1 2", "ERR trailing characters at line 1 column 3"),
            ("[1]]", "ERR trailing characters at line 1 column 4"),
            ("50asd", "ERR trailing characters at line 1 column 3"),
            (r#"{"a":1,}"#, "ERR trailing comma at line 1 column 8"),
            ("", "ERR EOF while parsing a value at line 1 column 0"),
            (
                &deep_bad,
                "ERR recursion limit exceeded at line 1 column 128",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                &reply(&mut con, &["json.set", "k", value]),
                expected,
                "{value}: {}",
                kind.name
            );
            assert_eq!(&reply(&mut con, &["json.set", "k", "$", value]), expected);
            assert_eq!(reply(&mut con, &["json.get", "k"]), r#""[0]""#);
        }
        // invalid UTF-8
        assert_eq!(
            reply_bin(&mut con, &[b"json.set", b"k", b"\"\xff\""]),
            "ERR Couldn't parse as UTF-8 string"
        );
        assert_eq!(reply(&mut con, &["json.get", "k"]), r#""[0]""#);
        // huge numbers
        assert_eq!(
            reply(&mut con, &["json.set", "k", "1e400"]),
            "ERR number out of range at line 1 column 5"
        );
        assert_eq!(
            reply(
                &mut con,
                &["json.set", "n", "123456789012345678901234567890"]
            ),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["json.get", "n"]),
            "\"1.2345678901234568e29\""
        );
        assert_eq!(reply(&mut con, &["json.set", "d", &deep_ok]), "+OK");
        // arity, wrong type, malformed paths
        assert_eq!(
            reply(&mut con, &["json.set", "k"]),
            "ERR wrong number of arguments for 'json.set' command"
        );
        assert_eq!(
            reply(&mut con, &["json.set", "k", "$", "1", "NX", "XX"]),
            "ERR syntax error"
        );
        assert_eq!(
            reply(&mut con, &["json.set", "k", "$", "1", "NX", "NX"]),
            "ERR syntax error"
        );
        assert_eq!(
            reply(&mut con, &["json.set", "k", "$", "1", "FORMAT", "BSON"]),
            "ERR syntax error"
        );
        assert_eq!(
            reply(&mut con, &["json.set", "k", "$", "1", "YY"]),
            "ERR syntax error"
        );
        assert!(
            reply(&mut con, &["json.set", "k", "$[", "1"])
                .starts_with("ERR Error occurred on position 1, \"$ ---->>>> [\"")
        );
        assert!(
            reply(&mut con, &["json.get", "k", "$[?(@"])
                .starts_with("ERR Error occurred on position")
        );
        assert_eq!(reply(&mut con, &["set", "s", "x"]), "+OK");
        for args in [
            &["json.set", "s", "1"][..],
            &["json.get", "s"],
            &["json.path", "s", "$"],
            &["json.fmt", "s", "x"],
            &["json.del", "s"],
            &["json.type", "s"],
        ] {
            assert_eq!(
                reply(&mut con, args),
                "WRONGTYPE Operation against a key holding the wrong kind of value",
                "{args:?}"
            );
        }
        assert_eq!(reply(&mut con, &["get", "s"]), "\"x\"");
        assert_eq!(reply(&mut con, &["json.get", "k"]), r#""[0]""#);
    }
}

#[test]
fn redisjson_set_get_del_type() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let cases: &[(&[&str], &str)] = &[
            (
                &["json.set", "k", "$.a", "1"],
                "ERR new objects must be created at the root",
            ),
            (
                &["JSON.SET", "k", "$", r#"{"a":1,"b":{"a":2},"c":[1,2]}"#],
                "+OK",
            ),
            (&["json.set", "k", "$", "{}", "NX"], "(nil)"),
            (&["json.set", "k", "$.x", "1", "XX"], "(nil)"),
            (&["json.set", "k", "$.x", "true", "nx"], "+OK"),
            (&["json.set", "k", "$.no.x", "1"], "(nil)"),
            (
                &["json.set", "k", "$.c[5]", "1"],
                "ERR array index out of range",
            ),
            (&["json.set", "k", "$..zz", "1"], "ERR wrong static path"),
            (&["json.set", "k", "$..a", "0"], "+OK"),
            (
                &["json.get", "k"],
                r#""{\"a\":0,\"b\":{\"a\":0},\"c\":[1,2],\"x\":true}""#,
            ),
            (&["json.get", "k", "$..a"], r#""[0,0]""#),
            (&["json.get", "k", ".c[1]"], r#""2""#),
            (
                &["json.get", "k", ".nope"],
                "ERR Path '$.nope' does not exist",
            ),
            (
                &["json.get", "k", ".a", ".x"],
                r#""{\".a\":0,\".x\":true}""#,
            ),
            (
                &["json.get", "k", ".a", "$.x"],
                r#""{\".a\":[0],\"$.x\":[true]}""#,
            ),
            (
                &[
                    "json.get", "k", "INDENT", "\t", "NEWLINE", "\n", "SPACE", " ", "$.b",
                ],
                "\"[\\n\\t{\\n\\t\\t\\\"a\\\": 0\\n\\t}\\n]\"",
            ),
            // PRETTY with a path is the legacy path "PRETTY" (a member name)
            (
                &["json.get", "k", "PRETTY", "$.x"],
                r#""{\"PRETTY\":[],\"$.x\":[true]}""#,
            ),
            (
                &["json.get", "k", "PRETTY", ".x"],
                "ERR Path 'PRETTY' does not exist",
            ),
            (&["json.type", "k"], r#""object""#),
            (&["json.type", "k", ".c"], r#""array""#),
            (&["json.type", "k", ".nope"], "(nil)"),
            (&["json.type", "k", "$..a"], r#"["integer", "integer"]"#),
            (&["json.type", "nokey"], "(nil)"),
            (&["json.del", "k", "$.c[0,1]"], "2"),
            (&["json.del", "k", "$.nope"], "0"),
            (&["json.forget", "k", "$..a"], "2"),
            (&["json.get", "k"], r#""{\"b\":{},\"c\":[],\"x\":true}""#),
            (&["json.del", "k"], "1"),
            (&["exists", "k"], "0"),
            (&["json.del", "k"], "0"),
            // nested matches: only the outer ones count
            (
                &[
                    "json.set",
                    "k",
                    "$",
                    r#"{"a":{"a":{"a":1}},"b":[{"a":[1]},2,3]}"#,
                ],
                "+OK",
            ),
            (&["json.del", "k", "$..a"], "2"),
            (&["json.get", "k"], r#""{\"b\":[{},2,3]}""#),
            (&["json.del", "k", "$.b[2,0,0]"], "2"),
            (&["json.get", "k"], r#""{\"b\":[2]}""#),
            // JSON.FORGET is JSON.DEL's alias, without a path too.
            (&["json.forget", "k"], "1"),
            (&["exists", "k"], "0"),
        ];
        table(&mut con, &kind.name, cases);
    }
}

#[test]
fn events_and_replication_only_on_change() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &["--notify-keyspace-events", "KEA"]);
        let replica = server.start_replica_of(&["json"], &[]);
        let mut con = server.connection();
        let mut sub = server.connection();
        redis::cmd("psubscribe")
            .arg("__keyevent@0__:json.*")
            .exec(&mut sub)
            .unwrap();
        assert_eq!(reply(&mut con, &["json.set", "k", "{}"]), "+OK");
        assert_eq!(reply(&mut con, &["json.set", "k", "$", "1", "NX"]), "(nil)"); // nothing changed
        assert_eq!(
            reply(&mut con, &["json.set", "k", "[1"]),
            "ERR EOF while parsing a list at line 1 column 2"
        ); // error
        assert_eq!(reply(&mut con, &["json.del", "k", "$.nope"]), "0"); // nothing deleted
        assert_eq!(reply(&mut con, &["json.del", "k"]), "1");
        assert_eq!(
            reply(&mut con, &["json.set", "n", r#"{"n":1,"a":[]}"#]),
            "+OK"
        );
        reply(
            &mut con,
            &["json.numincrby", "n", ".n", "9223372036854775807"],
        ); // overflow
        assert_eq!(
            reply(&mut con, &["json.numincrby", "n", "$.a", "1"]),
            "\"[null]\""
        ); // no number matched
        assert_eq!(
            reply(&mut con, &["json.arrappend", "n", "$.n", "1"]),
            "[(nil)]"
        ); // no array matched
        assert_eq!(reply(&mut con, &["json.arrappend", "n", ".a", "1"]), "1");
        assert_eq!(
            reply(&mut con, &["json.nummultby", "n", ".n", "2"]),
            "\"2\""
        );
        assert_eq!(
            reply(&mut con, &["json.numincrby", "n", "$.n", "1"]),
            "\"[3]\""
        );
        let mut events = Vec::new();
        for _ in 0..6 {
            let message = sub.recv_response().unwrap();
            let shown = common::show(&message);
            let event = shown.split(':').next_back().unwrap_or_default().to_owned();
            events.push(event);
        }
        let expected = [
            "json.set\", \"k\"]",
            "json.del\", \"k\"]",
            "json.set\", \"n\"]",
            "json.arrappend\", \"n\"]",
            "json.nummultby\", \"n\"]",
            "json.numincrby\", \"n\"]",
        ];
        assert_eq!(events, expected, "{}", kind.name);
        // The replica ran each command that changed something itself (verbatim), and no other.
        assert_eq!(reply(&mut con, &["wait", "1", "5000"]), "1");
        let stats = reply(&mut replica.connection(), &["info", "commandstats"]);
        for (command, calls) in [
            ("json.set", 2),
            ("json.del", 1),
            ("json.arrappend", 1),
            ("json.nummultby", 1),
            ("json.numincrby", 1),
        ] {
            assert!(
                stats.contains(&format!("cmdstat_{command}:calls={calls},")),
                "{command} on the replica of {}: {stats}",
                kind.name
            );
        }
    }
}

#[test]
fn lengths_numbers_and_appends() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &["--notify-keyspace-events", "KEA"]);
        let mut con = server.connection();
        let doc = r#"{"a":1,"b":{"a":2.5},"c":"s","i":9223372036854775807,"u":"hé","arr":[1],"o":{"x":[]}}"#;
        let cases: &[(&[&str], &str)] = &[
            (&["json.set", "k", doc], "+OK"),
            (&["json.numincrby", "k", "$.a", "2"], r#""[3]""#),
            (&["json.numincrby", "k", ".a", "2"], r#""5""#),
            (&["json.numincrby", "k", "$..a", "1"], r#""[6,3.5]""#),
            (
                &["json.numincrby", "k", "$.*", "1"],
                "ERR increment or decrement would overflow",
            ),
            (
                &["json.numincrby", "k", ".i", "1"],
                "ERR increment or decrement would overflow",
            ),
            (
                &["json.numincrby", "k", ".c", "1"],
                "ERR Path '$.c' does not exist or does not contains a number",
            ),
            (&["json.numincrby", "k", "$.c", "1"], r#""[null]""#),
            (
                &["json.numincrby", "k", ".a", "x"],
                "ERR expected value at line 1 column 1",
            ),
            (
                &["json.numincrby", "k", ".a", "\"1\""],
                "ERR bad input number",
            ),
            (&["json.nummultby", "k", "..a", "10"], r#""35.0""#),
            (
                &["json.numincrby", "nokey", ".a", "1"],
                "ERR could not perform this operation on a key that doesn't exist",
            ),
            (&["json.get", "k", "$..a"], r#""[60,35.0]""#),
            (&["json.strlen", "k", ".u"], "3"),
            (&["json.strlen", "k", "$.c"], "[1]"),
            (&["json.strlen", "k", "$.a"], "[(nil)]"),
            (
                &["json.strlen", "k", ".a"],
                "WRONGTYPE wrong type of path value - expected string but found integer",
            ),
            (
                &["json.strlen", "k", ".nope"],
                "ERR Path '$.nope' does not exist",
            ),
            (&["json.strlen", "k", "$.nope"], "[]"),
            (&["json.strlen", "k", r#"$["a","u"]"#], "[(nil), 3]"),
            (&["json.strlen", "nokey"], "(nil)"),
            (
                &["json.strlen", "nokey", "$.a"],
                "ERR could not perform this operation on a key that doesn't exist",
            ),
            (&["json.arrlen", "k", ".arr"], "1"),
            (
                &["json.arrlen", "k"],
                "ERR Path '.' does not exist or not an array",
            ),
            (
                &["json.arrlen", "k", ".c"],
                "ERR Path '.c' does not exist or not an array",
            ),
            (
                &["json.arrlen", "k", ".nope"],
                "ERR Path '.nope' does not exist",
            ),
            (&["json.arrlen", "k", "$.o.*"], "[0]"),
            (&["json.arrlen", "nokey", ".a"], "(nil)"),
            (&["json.objlen", "k"], "7"),
            (
                &["json.objlen", "k", "$.*"],
                "[(nil), 1, (nil), (nil), (nil), (nil), 1]",
            ),
            (
                &["json.objlen", "k", ".c"],
                "WRONGTYPE wrong type of path value - expected object but found string",
            ),
            (&["json.objlen", "k", ".nope"], "(nil)"),
            (
                &["json.objlen", "nokey", "$"],
                "ERR Path '$' does not exist or not an object",
            ),
            (&["json.arrappend", "k", ".arr", "2", "\"x\""], "3"),
            (
                &["json.arrappend", "k", "$.*", "3"],
                "[(nil), (nil), (nil), (nil), (nil), 4, (nil)]",
            ),
            (
                &["json.arrappend", "k", ".c", "1"],
                "ERR Path '.c' does not exist or not an array",
            ),
            (&["json.arrappend", "k", "$.c", "1"], "[(nil)]"),
            (
                &["json.arrappend", "k", ".arr", "[1"],
                "ERR EOF while parsing a list at line 1 column 2",
            ),
            (
                &["json.arrappend", "k", ".arr"],
                "ERR wrong number of arguments for 'json.arrappend' command",
            ),
            (
                &["json.arrappend", "nokey", "$", "1"],
                "ERR could not perform this operation on a key that doesn't exist",
            ),
            (&["json.get", "k", ".arr"], r#""[1,2,\"x\",3]""#),
        ];
        table(&mut con, &kind.name, cases);
    }
}

#[test]
fn command_table_and_resp3() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        for (name, flags) in [
            ("json.set", "[+write, +denyoom, +module]"),
            ("json.get", "[+readonly, +module]"),
            ("json.path", "[+readonly, +module]"),
            ("json.fmt", "[+readonly, +module]"),
            ("json.del", "[+write, +module]"),
            ("json.numincrby", "[+write, +module]"),
            ("json.arrappend", "[+write, +denyoom, +module]"),
            ("json.strlen", "[+readonly, +module]"),
        ] {
            let info = reply(&mut con, &["command", "info", name]);
            let expected = format!("[[\"{name}\", -2, {flags}, 1, 1, 1");
            assert!(info.starts_with(&expected), "{info} on {}", kind.name);
        }
        let docs = reply(&mut con, &["command", "docs", "json.fmt"]);
        assert!(
            docs.contains("Fills a template's {{path}} placeholders"),
            "{docs}"
        );
        // RESP3 gets the same reply shapes, with RESP3 nulls.
        let mut con3 = server.connection_resp3();
        assert_eq!(reply(&mut con3, &["json.set", "k", r#"{"a":[1]}"#]), "+OK");
        assert_eq!(reply(&mut con3, &["json.get", "nokey"]), "(nil)");
        assert_eq!(reply(&mut con3, &["json.arrlen", "k", "$.*"]), "[1]");
        assert_eq!(reply(&mut con3, &["json.strlen", "k", "$.a"]), "[(nil)]");
        assert_eq!(reply(&mut con3, &["json.get", "k", "$.a[0]"]), r#""[1]""#);
    }
}

#[test]
fn strappend_toggle_clear_objkeys() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let no_key = "ERR could not perform this operation on a key that doesn't exist";
        let cases: &[(&[&str], &str)] = &[
            (
                &["json.set", "k", r#"{"s":"foo","n":{"s":"bar"},"x":1}"#],
                "+OK",
            ),
            (&["json.strappend", "k", "$.s", "\"baz\""], "[6]"),
            (&["json.strappend", "k", ".s", "\"!\""], "7"),
            (&["json.strappend", "k", "$..s", "\"1\""], "[8, 4]"),
            (
                &["json.strappend", "k", ".x", "\"a\""],
                "ERR Path '$.x' does not exist or not a string",
            ),
            (&["json.strappend", "k", "$.x", "\"a\""], "[(nil)]"),
            (
                &["json.strappend", "k", "$.s", "baz"],
                "ERR expected value at line 1 column 1",
            ),
            (
                &["json.strappend", "k", "$.s", "1"],
                "WRONGTYPE wrong type of path value - expected string but found 1",
            ),
            (
                &["json.strappend", "k", "\"x\""],
                "ERR Path '$' does not exist or not a string",
            ),
            (&["json.strappend", "nokey", "$", "\"a\""], no_key),
            (&["json.get", "k", "$..s"], r#""[\"foobaz!1\",\"bar1\"]""#),
            (
                &["json.set", "t", r#"{"a":true,"b":{"a":1},"c":{"a":false}}"#],
                "+OK",
            ),
            (&["json.toggle", "t", "..a"], r#""true""#),
            (&["json.toggle", "t", "$..a"], "[1, (nil), 0]"),
            (
                &["json.toggle", "t", ".b"],
                "ERR Path '$.b' does not exist or not a bool",
            ),
            (
                &["json.toggle", "t"],
                "ERR wrong number of arguments for 'json.toggle' command",
            ),
            (
                &["json.set", "c", r#"{"a":[1],"n":2.5,"s":"x","o":{}}"#],
                "+OK",
            ),
            (&["json.clear", "c", "$.*"], "2"),
            (
                &["json.get", "c"],
                r#""{\"a\":[],\"n\":0,\"s\":\"x\",\"o\":{}}""#,
            ),
            (&["json.clear", "c"], "1"),
            (&["json.get", "c"], r#""{}""#),
            // Numbers that are zero already are left (0.0 stays 0.0) and not counted; what is
            // empty already is not counted (RedisJSON).
            (
                &[
                    "json.set",
                    "z",
                    "$",
                    r#"{"i":0,"f":0.0,"x":7,"y":-2.5,"e":[],"o":{}}"#,
                ],
                "+OK",
            ),
            (&["json.clear", "z", "$.*"], "2"),
            (
                &["json.get", "z"],
                r#""{\"i\":0,\"f\":0.0,\"x\":0,\"y\":0,\"e\":[],\"o\":{}}""#,
            ),
            (&["json.clear", "z", "$.*"], "0"),
            // RedisJSON's spellings of $ paths (json.path-dialect redisjson, the default).
            (
                &[
                    "json.set",
                    "r",
                    "$",
                    r#"{"a":[1,2],"2":{"3":"x"},"$a":5,"b-c":[{"k":1},{"k":2}]}"#,
                ],
                "+OK",
            ),
            (&["json.get", "r", "$.a.[1]"], r#""[2]""#),
            (&["json.get", "r", "$.[\"a\"][0]"], r#""[1]""#),
            (&["json.get", "r", "$.2.3"], r#""[\"x\"]""#),
            (&["json.get", "r", "$.$a"], r#""[5]""#),
            (
                &["json.get", "r", "$.b-c[?(@.[\"k\"]==2)]"],
                r#""[{\"k\":2}]""#,
            ),
            (&["json.set", "r", "$.2.3", "\"y\""], "+OK"),
            (&["json.get", "r", "$['2']['3']"], r#""[\"y\"]""#),
            // An edit at overlapping matches ($..*, $..q) applies deepest first: no edit moves
            // what a later one addresses (RedisJSON 2.8.19); replies stay in match order.
            (&["json.set", "d", "$", r#"{"x":[[5,6],[7]]}"#], "+OK"),
            (
                &["json.arrpop", "d", "$..*"],
                r#"["[]", "6", "7", (nil), (nil), (nil)]"#,
            ),
            (&["json.get", "d"], r#""{\"x\":[[5]]}""#),
            (&["json.set", "d", "$", r#"{"x":[[1],[2]]}"#], "+OK"),
            (
                &["json.arrinsert", "d", "$..*", "0", "0"],
                "[3, 2, 2, (nil), (nil)]",
            ),
            (&["json.get", "d"], r#""{\"x\":[0,[0,1],[0,2]]}""#),
            (&["json.set", "d", "$", r#"{"x":[[1,2],[3,4]]}"#], "+OK"),
            (
                &["json.arrtrim", "d", "$..*", "0", "0"],
                "[1, 1, 1, (nil), (nil), (nil), (nil)]",
            ),
            (&["json.get", "d"], r#""{\"x\":[[1]]}""#),
            (&["json.set", "d", "$", r#"[{"q":1}]"#], "+OK"),
            (&["json.set", "d", "$..*", r#"[{"q":1}]"#], "+OK"),
            (&["json.get", "d"], r#""[[{\"q\":1}]]""#),
            (&["json.set", "d", "$", r#"{"p":{"q":{"q":2}}}"#], "+OK"),
            (&["json.merge", "d", "$..q", r#"{"z":1}"#], "+OK"),
            (
                &["json.get", "d"],
                r#""{\"p\":{\"q\":{\"q\":{\"z\":1},\"z\":1}}}""#,
            ),
            (&["json.clear", "nokey"], no_key),
            (
                &[
                    "json.set",
                    "o",
                    r#"{"a":1,"b":{"x":1,"y":{"z":1}},"o":{},"s":"x"}"#,
                ],
                "+OK",
            ),
            (&["json.objkeys", "o"], r#"["a", "b", "o", "s"]"#),
            (
                &["json.objkeys", "o", "$.*"],
                r#"[(nil), ["x", "y"], [], (nil)]"#,
            ),
            (
                &["json.objkeys", "o", ".s"],
                "ERR Path '$.s' does not exist or not an object",
            ),
            (&["json.objkeys", "o", ".nope"], "(nil)"),
            (&["json.objkeys", "nokey"], "(nil)"),
            (&["json.objkeys", "nokey", "$"], no_key),
        ];
        table(&mut con, &kind.name, cases);
    }
}

#[test]
fn arrpop_arrinsert_arrtrim_arrindex() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let no_key = "ERR could not perform this operation on a key that doesn't exist";
        let cases: &[(&[&str], &str)] = &[
            (
                &[
                    "json.set",
                    "k",
                    "$",
                    r#"{"a":[1,"two",{"t":3},[4],null,5.5],"b":{"a":[]},"s":"x"}"#,
                ],
                "+OK",
            ),
            (&["json.arrpop", "k", "$.a"], r#"["5.5"]"#),
            (&["json.arrpop", "k", ".a"], r#""null""#),
            (&["json.arrpop", "k", "a", "0"], r#""1""#),
            (&["json.arrpop", "k", "$.a", "1"], r#"["{\"t\":3}"]"#),
            (&["json.arrpop", "k", "$.a", "100"], r#"["[4]"]"#),
            (&["json.arrpop", "k", "$.a", "x"], r#"["\"two\""]"#),
            (&["json.arrpop", "k", "$.a", "-100"], "[(nil)]"),
            (&["json.arrpop", "k", "$..a"], "[(nil), (nil)]"),
            (&["json.arrpop", "k", "..a"], "(nil)"),
            (&["json.arrpop", "k", "$.s"], "[(nil)]"),
            (
                &["json.arrpop", "k", ".s"],
                "ERR Path '$.s' does not exist or not an array",
            ),
            (&["json.arrpop", "k", "$.nope"], "[]"),
            (
                &["json.arrpop", "k"],
                "ERR Path '$' does not exist or not an array",
            ),
            (&["json.arrpop", "nokey"], no_key),
            (
                &["json.set", "f", "$", r#"[1.0,"s\u00e9",{"a":[1]}]"#],
                "+OK",
            ),
            (&["json.arrpop", "f", "$", "0"], r#"["1.0"]"#),
            (&["json.arrpop", "f"], r#""{\"a\":[1]}""#),
            (&["json.get", "f"], "\"[\\\"s\u{e9}\\\"]\""),
            // ARRINSERT
            (
                &[
                    "json.set",
                    "i",
                    "$",
                    r#"{"a":[1,2,3],"b":{"a":[]},"s":"x"}"#,
                ],
                "+OK",
            ),
            (&["json.arrinsert", "i", "$.a", "0", "0"], "[4]"),
            (&["json.arrinsert", "i", ".a", "-1", "\"x\"", "\"y\""], "6"),
            (&["json.arrinsert", "i", "$.a", "6", "9"], "[7]"),
            (&["json.arrinsert", "i", "$.a", "-7", "9"], "[8]"),
            (
                &["json.arrinsert", "i", ".a", "100", "9"],
                "ERR index out of bounds",
            ),
            (&["json.arrinsert", "i", "$..a", "0", "\"z\""], "[9, 1]"),
            (&["json.arrinsert", "i", "$.s", "0", "1"], "[(nil)]"),
            (
                &["json.arrinsert", "i", ".s", "0", "1"],
                "ERR Path '$.s' does not exist or not an array",
            ),
            (&["json.arrinsert", "i", "$.nope", "0", "1"], "[]"),
            (
                &["json.arrinsert", "i", "$.a", "x", "1"],
                "ERR Couldn't parse as integer",
            ),
            (
                &["json.arrinsert", "i", "$.a", "0"],
                "ERR wrong number of arguments for 'json.arrinsert' command",
            ),
            (
                &["json.arrinsert", "i", "$.a", "0", "{bad"],
                "ERR key must be a string at line 1 column 2",
            ),
            // all or nothing: b.a (length 1) refuses index 3, so $.a is unchanged too
            (
                &["json.arrinsert", "i", "$..a", "3", "7"],
                "ERR index out of bounds",
            ),
            (&["json.arrinsert", "nokey", "$.a", "0", "1"], no_key),
            (
                &["json.get", "i"],
                r#""{\"a\":[\"z\",9,0,1,2,\"x\",\"y\",3,9],\"b\":{\"a\":[\"z\"]},\"s\":\"x\"}""#,
            ),
            // ARRTRIM
            (
                &[
                    "json.set",
                    "t",
                    "$",
                    r#"{"a":[0,1,2,3,4,5,6],"b":{"a":[1,2]},"s":"x"}"#,
                ],
                "+OK",
            ),
            (&["json.arrtrim", "t", "$.a", "1", "5"], "[5]"),
            (&["json.arrtrim", "t", ".a", "1", "-2"], "3"),
            (&["json.get", "t", "$.a"], r#""[[2,3,4]]""#),
            (&["json.arrtrim", "t", "$.a", "5", "2"], "[0]"),
            (&["json.set", "t", "$.a", "[0,1,2,3,4,5,6]"], "+OK"),
            (&["json.arrtrim", "t", "$.a", "-100", "1"], "[2]"),
            (&["json.arrtrim", "t", "$..a", "0", "0"], "[1, 1]"),
            (
                &["json.get", "t"],
                r#""{\"a\":[0],\"b\":{\"a\":[1]},\"s\":\"x\"}""#,
            ),
            (&["json.arrtrim", "t", "$.s", "0", "1"], "[(nil)]"),
            (
                &["json.arrtrim", "t", ".nope", "0", "1"],
                "ERR Path '$.nope' does not exist or not an array",
            ),
            (
                &["json.arrtrim", "t", "$.a", "0"],
                "ERR wrong number of arguments for 'json.arrtrim' command",
            ),
            (
                &["json.arrtrim", "t", "$.a", "x", "1"],
                "ERR Couldn't parse as integer",
            ),
            (&["json.arrtrim", "nokey", "$.a", "0", "1"], no_key),
            // ARRINDEX
            (
                &[
                    "json.set",
                    "x",
                    "$",
                    r#"{"a":[1,2,3,2,"2",null,true,[1],{"x":1,"y":2},2.0],"b":{"a":[2]},"s":"x"}"#,
                ],
                "+OK",
            ),
            (&["json.arrindex", "x", "$.a", "2"], "[1]"),
            (&["json.arrindex", "x", "a", "2"], "1"),
            (&["json.arrindex", "x", "$.a", "\"2\""], "[4]"),
            (&["json.arrindex", "x", "$.a", "null"], "[5]"),
            (&["json.arrindex", "x", "$.a", "[1]"], "[7]"),
            (&["json.arrindex", "x", "$.a", r#"{"y":2,"x":1}"#], "[8]"),
            (&["json.arrindex", "x", "$.a", "2.0"], "[9]"),
            (&["json.arrindex", "x", "$.a", "1.0"], "[-1]"),
            (&["json.arrindex", "x", "$.a", "2", "2"], "[3]"),
            (&["json.arrindex", "x", "$.a", "2", "-7"], "[3]"),
            (&["json.arrindex", "x", "$.a", "2", "0", "1"], "[-1]"),
            (&["json.arrindex", "x", "$.a", "2", "0", "-1"], "[1]"),
            (&["json.arrindex", "x", "$.a", "2", "100"], "[-1]"),
            (&["json.arrindex", "x", "$.a", "2", "-100"], "[1]"),
            (&["json.arrindex", "x", "$.*", "2"], "[1, (nil), (nil)]"),
            (
                &["json.arrindex", "x", ".s", "2"],
                "WRONGTYPE wrong type of path value - expected array but found string",
            ),
            (&["json.arrindex", "x", "$.nope", "2"], "[]"),
            (
                &["json.arrindex", "x", ".nope", "2"],
                "ERR Path '$.nope' does not exist",
            ),
            (
                &["json.arrindex", "x", "$.a", "bad"],
                "ERR expected value at line 1 column 1",
            ),
            (
                &["json.arrindex", "x", "$.a", "2", "1", "x"],
                "ERR Couldn't parse as integer",
            ),
            (
                &["json.arrindex", "x", "$.a", "2", "1", "2", "3"],
                "ERR wrong number of arguments for 'json.arrindex' command",
            ),
            (
                &["json.arrindex", "nokey", "$.a", "2"],
                "ERR Path '$.a' does not exist",
            ),
            (
                &["json.arrindex", "nokey", ".a", "2"],
                "ERR Path '.a' does not exist",
            ),
            (&["set", "str", "v"], "+OK"),
            (
                &["json.arrpop", "str"],
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
        ];
        table(&mut con, &kind.name, cases);
    }
}

#[test]
fn mget_mset_merge_numpowby() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        let cases: &[(&[&str], &str)] = &[
            (&["json.set", "a", "$", r#"{"x":1,"n":{"x":2}}"#], "+OK"),
            (&["json.set", "b", "$", r#"{"x":"two"}"#], "+OK"),
            (&["json.set", "c", "$", r#"{"y":3}"#], "+OK"),
            (&["set", "s", "str"], "+OK"),
            (
                &["json.mget", "a", "b", "c", "nokey", "$.x"],
                r#"["[1]", "[\"two\"]", "[]", (nil)]"#,
            ),
            (
                &["json.mget", "a", "b", "c", "nokey", ".x"],
                r#"["1", "\"two\"", (nil), (nil)]"#,
            ),
            (
                &["json.mget", "a", "b", "c", "$..x"],
                r#"["[1,2]", "[\"two\"]", "[]"]"#,
            ),
            (
                &["json.mget", "a", "b", "."],
                r#"["{\"x\":1,\"n\":{\"x\":2}}", "{\"x\":\"two\"}"]"#,
            ),
            (&["json.mget", "a", "s", "$.x"], r#"["[1]", (nil)]"#),
            (&["json.mget", "a", "b", "$["], "[(nil), (nil)]"),
            (
                &["json.mget", "a"],
                "ERR wrong number of arguments for 'json.mget' command",
            ),
            (
                &["command", "getkeys", "json.mget", "a", "b", "$"],
                r#"["a", "b"]"#,
            ),
            // MSET
            (
                &["json.mset", "a", "$", r#"{"x":1}"#, "b", "$", r#"{"y":2}"#],
                "+OK",
            ),
            (&["json.mset", "a", "$.x", "10", "b", ".y", "20"], "+OK"),
            (&["json.mset", "a", "$.new", "5"], "+OK"),
            (
                &["json.mget", "a", "b", "$"],
                r#"["[{\"x\":10,\"new\":5}]", "[{\"y\":20}]"]"#,
            ),
            (
                &["json.mset", "a", "$.x", "1", "nokey", "$.x", "1"],
                "ERR new objects must be created at the root",
            ),
            (
                &["json.mset", "a", "$.x", "7", "b", "$.y", "{bad"],
                "ERR key must be a string at line 1 column 2",
            ),
            (&["json.mset", "a", "$.x", "2", "s", "$", "1"], wrongtype),
            (
                &["json.mset", "a", "$.x", "1", "NX"],
                "ERR wrong number of arguments for 'json.mset' command",
            ),
            (&["json.get", "a"], r#""{\"x\":10,\"new\":5}""#),
            (&["json.mset", "a", "$.q.r", "1"], "+OK"),
            (
                &[
                    "json.mset",
                    "a",
                    "$.x",
                    "3",
                    "a",
                    "$.x",
                    "4",
                    "d",
                    "$",
                    "[]",
                ],
                "+OK",
            ),
            (
                &["json.mget", "a", "d", "$"],
                r#"["[{\"x\":4,\"new\":5}]", "[[]]"]"#,
            ),
            (
                &[
                    "command",
                    "getkeys",
                    "json.mset",
                    "a",
                    "$",
                    "1",
                    "b",
                    "$",
                    "2",
                ],
                r#"["a", "b"]"#,
            ),
            // MERGE
            (
                &[
                    "json.set",
                    "m",
                    "$",
                    r#"{"a":1,"b":{"c":2,"d":3},"e":[1,2],"f":"s"}"#,
                ],
                "+OK",
            ),
            (&["json.merge", "m", "$", r#"{"a":null}"#], "+OK"),
            (
                &[
                    "json.merge",
                    "m",
                    "$",
                    r#"{"b":{"c":20,"x":{"y":1}},"e":[3]}"#,
                ],
                "+OK",
            ),
            (
                &["json.get", "m"],
                r#""{\"b\":{\"c\":20,\"d\":3,\"x\":{\"y\":1}},\"e\":[3],\"f\":\"s\"}""#,
            ),
            (&["json.merge", "m", "$.b.c", "5"], "+OK"),
            (
                &["json.merge", "m", "$.b.nope", r#"{"k":null,"j":1}"#],
                "+OK",
            ),
            (&["json.merge", "m", "$.nope.deeper", "5"], "(nil)"),
            (&["json.merge", "m", ".b.d", "7"], "+OK"),
            (
                &["json.get", "m", "$.b"],
                r#""[{\"c\":5,\"d\":7,\"x\":{\"y\":1},\"nope\":{\"j\":1}}]""#,
            ),
            (&["json.merge", "m", "$", r#"{"z":{"a":null}}"#], "+OK"),
            (&["json.merge", "m", "$", "\"str\""], "+OK"),
            (&["json.get", "m"], r#""\"str\"""#),
            (&["json.merge", "nokey2", "$", r#"{"a":1,"b":null}"#], "+OK"),
            (&["json.get", "nokey2"], r#""{\"a\":1}""#),
            (
                &["json.merge", "nokey3", "$.a", "1"],
                "ERR new objects must be created at the root",
            ),
            (
                &["json.set", "m2", "$", r#"{"a":{"x":1},"b":{"x":2},"c":5}"#],
                "+OK",
            ),
            (&["json.merge", "m2", "$..x", "9"], "+OK"),
            (&["json.merge", "m2", "$.*", r#"{"k":1}"#], "+OK"),
            (
                &["json.get", "m2"],
                r#""{\"a\":{\"x\":9,\"k\":1},\"b\":{\"x\":9,\"k\":1},\"c\":{\"k\":1}}""#,
            ),
            (
                &["json.merge", "m2", "$", "{bad"],
                "ERR key must be a string at line 1 column 2",
            ),
            (
                &["json.merge", "m2", "$"],
                "ERR wrong number of arguments for 'json.merge' command",
            ),
            (&["json.merge", "s", "$", "1"], wrongtype),
            (&["json.set", "m5", "$", r#"{"a":[1]}"#], "+OK"),
            (&["json.merge", "m5", "$.a[0]", "5"], "+OK"),
            (
                &["json.merge", "m5", "$.a[5]", "5"],
                "ERR array index out of range",
            ),
            (&["json.get", "m5"], r#""{\"a\":[5]}""#),
            // NUMPOWBY
            (&["json.set", "p", "$", r#"{"a":2}"#], "+OK"),
            (&["json.numpowby", "p", "$.a", "3"], r#""[8]""#),
            (
                &["json.numpowby", "p", ".a", "0.5"],
                r#""2.8284271247461903""#,
            ),
        ];
        table(&mut con, &kind.name, cases);
    }
}

#[test]
fn resp_and_debug() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        // Doubles are formatted by the server: %.17g before Redis 7.2, shortest since (and on
        // Valkey).
        let doubles = if !kind.since_7_2() {
            r#"[+[, "0.10000000000000001", "1e+30", "3", "-0", "1.8446744073709552e+19", "9.9999999999999995e-08"]"#
        } else {
            r#"[+[, "0.1", "1e+30", "3", "-0", "18446744073709552000", "1e-7"]"#
        };
        let object = r#"[+{, "a", 1, "b", "1.5", "c", "s", "d", +true, "e", +false, "f", (nil), "g", [+[, 1, "x", [+[, 2]], "h", [+{, "x", [+{, "y", 1]], "i", [+{], "j", [+[]]"#;
        let in_array = format!("[{object}]");
        let cases: &[(&[&str], &str)] = &[
            (
                &[
                    "json.set",
                    "k",
                    "$",
                    r#"{"a":1,"b":1.5,"c":"s","d":true,"e":false,"f":null,"g":[1,"x",[2]],"h":{"x":{"y":1}},"i":{},"j":[]}"#,
                ],
                "+OK",
            ),
            (&["json.resp", "k"], object),
            (&["json.resp", "k", "."], object),
            (&["json.resp", "k", "$"], &in_array),
            (&["json.resp", "k", ".a"], "1"),
            (&["json.resp", "k", "$.a"], "[1]"),
            (&["json.resp", "k", ".d"], "+true"),
            (&["json.resp", "k", ".f"], "(nil)"),
            (&["json.resp", "k", "..x"], r#"[+{, "y", 1]"#),
            (
                &["json.resp", "k", ".nope"],
                "ERR Path '$.nope' does not exist",
            ),
            (&["json.resp", "k", "$.nope"], "[]"),
            (&["json.resp", "k", "$.a", "$.b"], "[1]"),
            (&["json.resp", "nokey"], "(nil)"),
            (&["json.resp", "nokey", "$"], "(nil)"),
            (
                &[
                    "json.set",
                    "n",
                    "$",
                    "[0.1, 1e30, 3.0, -0.0, 18446744073709551615, 1e-7]",
                ],
                "+OK",
            ),
            (&["json.resp", "n"], doubles),
            (&["set", "str", "v"], "+OK"),
            (
                &["json.resp", "str"],
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            // DEBUG
            (
                &["json.debug", "help"],
                r#"["MEMORY <key> [path] - reports memory usage", "HELP                - this message"]"#,
            ),
            (
                &["json.debug"],
                "ERR wrong number of arguments for 'json.debug' command",
            ),
            (
                &["json.debug", "foo"],
                "ERR unknown subcommand - try `JSON.DEBUG HELP`",
            ),
            (
                &["json.debug", "memory"],
                "ERR wrong number of arguments for 'json.debug' command",
            ),
            (&["json.debug", "memory", "nokey"], "0"),
            (&["json.debug", "memory", "nokey", "$"], "[]"),
            (
                &["json.debug", "memory", "k", ".nope"],
                "ERR Path '$.nope' does not exist",
            ),
            (&["json.debug", "memory", "k", "$.nope"], "[]"),
            (
                &["json.debug", "memory", "str"],
                "WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
        ];
        table(&mut con, &kind.name, cases);
        // Sizes are this module's own; check their shape and that they grow with the value.
        let int = |con: &mut redis::Connection, args: &[&str]| -> i64 {
            reply(con, args)
                .parse()
                .unwrap_or_else(|_| panic!("{args:?}"))
        };
        let whole = int(&mut con, &["json.debug", "memory", "k"]);
        assert!(whole > 0, "{}", kind.name);
        assert_eq!(
            reply(&mut con, &["json.debug", "memory", "k", "$"]),
            format!("[{whole}]")
        );
        let items = reply(&mut con, &["json.debug", "memory", "k", "$.*"]);
        assert_eq!(items.split(", ").count(), 10, "{items}");
        assert_eq!(reply(&mut con, &["json.set", "s1", "$", "\"a\""]), "+OK");
        let long = format!("\"{}\"", "x".repeat(1000));
        assert_eq!(reply(&mut con, &["json.set", "s2", "$", &long]), "+OK");
        assert!(
            int(&mut con, &["json.debug", "memory", "s2"])
                >= int(&mut con, &["json.debug", "memory", "s1"]) + 999,
            "{}",
            kind.name
        );
        assert_eq!(
            reply(
                &mut con,
                &["command", "getkeys", "json.debug", "memory", "k"]
            ),
            r#"["k"]"#
        );
    }
}

#[test]
fn new_commands_notify_only_on_change() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &["--notify-keyspace-events", "KEA"]);
        let mut con = server.connection();
        let mut sub = server.connection();
        redis::cmd("psubscribe")
            .arg("__keyevent@0__:json.*")
            .exec(&mut sub)
            .unwrap();
        assert_eq!(
            reply(&mut con, &["json.set", "k", r#"{"a":[],"s":"x"}"#]),
            "+OK"
        );
        assert_eq!(reply(&mut con, &["json.arrpop", "k", "$.a"]), "[(nil)]"); // empty: nothing popped
        assert_eq!(
            reply(&mut con, &["json.arrinsert", "k", "$.a", "1", "1"]),
            "ERR index out of bounds"
        ); // out of bounds
        assert_eq!(
            reply(&mut con, &["json.arrinsert", "k", "$.a", "0", "1", "2"]),
            "[2]"
        );
        assert_eq!(reply(&mut con, &["json.arrpop", "k", "$.a"]), "[\"2\"]");
        assert_eq!(
            reply(&mut con, &["json.arrtrim", "k", "$.s", "0", "1"]),
            "[(nil)]"
        ); // no array matched
        assert_eq!(
            reply(&mut con, &["json.merge", "k", "$.no.pe", "1"]),
            "(nil)"
        ); // parent missing
        assert_eq!(
            reply(&mut con, &["json.merge", "k", "$", r#"{"s":null}"#]),
            "+OK"
        );
        reply(
            &mut con,
            &["json.mset", "k", "$.a", "1", "nokey", "$.a", "1"],
        ); // refused
        assert_eq!(
            reply(&mut con, &["json.mset", "k", "$.a", "1", "j", "$", "2"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["json.arrindex", "k", "$.a", "1"]),
            "[(nil)]"
        ); // read
        let mut events = Vec::new();
        for _ in 0..6 {
            let message = sub.recv_response().unwrap();
            let shown = common::show(&message);
            let event = shown.split(':').next_back().unwrap_or_default().to_owned();
            events.push(event);
        }
        let expected = [
            "json.set\", \"k\"]",
            "json.arrinsert\", \"k\"]",
            "json.arrpop\", \"k\"]",
            "json.merge\", \"k\"]",
            "json.mset\", \"k\"]",
            "json.mset\", \"j\"]",
        ];
        assert_eq!(events, expected, "{}", kind.name);
        assert_eq!(
            reply(&mut con, &["json.mget", "k", "j", "$"]),
            r#"["[{\"a\":1}]", "[2]"]"#,
            "{}",
            kind.name
        );
    }
}

/// The raw reply to `request` (RESP bytes), read until the server has sent nothing for 300 ms.
fn raw_reply(server: &Server, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream.write_all(request).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 65536];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        bytes.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(bytes).unwrap()
}

/// `levels` nested objects `{"x":{"x":…{leaf_key:leaf}}}` (`levels` deep plus the leaf's depth).
fn object_chain(levels: usize, leaf_key: &str, leaf: &str) -> String {
    format!(
        "{}{{\"{leaf_key}\":{leaf}}}{}",
        r#"{"x":"#.repeat(levels - 1),
        "}".repeat(levels - 1)
    )
}

/// Item 6 of issue 17: like RedisJSON, path SETs nest a document deeper than one input value
/// may be (its test `testNesting` stacks three 127-level values); unlike it, no deeper than
/// 512 levels, the most an RDB load accepts, so every document reloads. Each edit kind that
/// would pass 512 is refused and changes nothing; the deepest document reads, prints and
/// survives DEBUG RELOAD and DUMP/RESTORE.
#[test]
fn path_sets_nest_up_to_512_levels_and_every_document_reloads() {
    const TOO_DEEP: &str = "ERR the document would be nested deeper than 512 levels";
    let deep_127 = format!("{}{}", "[".repeat(127), "]".repeat(127));
    // 127 levels with its object.
    let deep_patch = format!(r#"{{"q":{}{}}}"#, "[".repeat(126), "]".repeat(126));
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &["json"], &["--enable-debug-command", "yes"]);
        let mut con = server.connection();
        // 127 + 3 × 126 = 505 levels of objects, then an array: 506.
        assert_eq!(
            reply(
                &mut con,
                &["JSON.SET", "k", "$", &object_chain(127, "l0", "0")]
            ),
            "+OK",
            "{n}"
        );
        for stage in 1..=3 {
            let chain = object_chain(126, &format!("l{stage}"), "0");
            let at = format!("$..l{}", stage - 1);
            assert_eq!(
                reply(&mut con, &["JSON.SET", "k", &at, &chain]),
                "+OK",
                "{n}"
            );
        }
        assert_eq!(
            reply(&mut con, &["JSON.SET", "k", "$..l3", "[]"]),
            "+OK",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["JSON.ARRAPPEND", "k", "$..l3", "[[[[[]]]]]"]),
            "[1]",
            "{n}"
        );
        // 511 levels now; a 127-level value anywhere deep, a patch, an insert: refused.
        let before = reply(&mut con, &["JSON.GET", "k"]);
        // MSET takes static paths only.
        let static_l3 = format!(
            "${}.l0{}.l1{}.l2{}.l3",
            ".x".repeat(126),
            ".x".repeat(125),
            ".x".repeat(125),
            ".x".repeat(125)
        );
        assert_eq!(
            reply(&mut con, &["JSON.TYPE", "k", &static_l3]),
            "[\"array\"]",
            "{n}"
        );
        // $..l3 is the array at level 506, $..l3[0][0][0][0][0] the empty one at 511.
        let refused: [&[&str]; 6] = [
            &["JSON.SET", "k", "$..l3", &deep_127],
            &["JSON.ARRAPPEND", "k", "$..l3", "[[[[[[[]]]]]]]"],
            &["JSON.ARRINSERT", "k", "$..l3", "0", "[[[[[[[]]]]]]]"],
            &["JSON.MERGE", "k", "$..l3", &deep_patch],
            &["JSON.MSET", "j", "$", "1", "k", &static_l3, &deep_127],
            &["JSON.SET", "k", "$..l3[0][0][0][0][0]", "[[[]]]"],
        ];
        for args in refused {
            assert_eq!(reply(&mut con, args), TOO_DEEP, "{args:?} on {n}");
            assert_eq!(
                reply(&mut con, &["EXISTS", "j"]),
                "0",
                "{n}: MSET is all or nothing"
            );
            assert_eq!(
                reply(&mut con, &["JSON.GET", "k"]),
                before,
                "{args:?} on {n}"
            );
        }
        // One more level fits exactly: 512.
        assert_eq!(
            reply(
                &mut con,
                &["JSON.SET", "k", "$..l3[0][0][0][0][0]", "[[1]]"]
            ),
            "+OK",
            "{n}"
        );
        let deepest = reply(&mut con, &["JSON.GET", "k"]);
        assert_eq!(
            deepest.matches('{').count() + deepest.matches('[').count(),
            512,
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["JSON.GET", "k", "$..l3[0][0][0][0][0]"]),
            r#""[[[1]]]""#,
            "{n}"
        );
        let pretty = reply(&mut con, &["JSON.GET", "k", "INDENT", " ", "NEWLINE", "\n"]);
        assert!(
            pretty.len() > 512 * 512 / 2,
            "{n}: pretty output of 512 levels"
        );
        // JSON.RESP nests 512 arrays, deeper than the client crate parses: read it raw.
        let resp = raw_reply(&server, b"*2\r\n$9\r\nJSON.RESP\r\n$1\r\nk\r\n");
        assert_eq!(
            resp.matches("$1\r\nx\r\n").count(),
            126 + 3 * 125,
            "{n}: {}",
            &resp[..80]
        );
        assert_eq!(reply(&mut con, &["debug", "reload"]), "+OK", "{n}");
        assert_eq!(reply(&mut con, &["JSON.GET", "k"]), deepest, "{n}");
        let dump: Vec<u8> = redis::cmd("dump").arg("k").query(&mut con).unwrap();
        let restored: redis::Value = redis::cmd("restore")
            .arg("k2")
            .arg(0)
            .arg(dump)
            .query(&mut con)
            .unwrap();
        assert_eq!(common::show(&restored), "+OK", "{n}");
        assert_eq!(reply(&mut con, &["JSON.GET", "k2"]), deepest, "{n}");
        assert_eq!(reply(&mut con, &["JSON.DEL", "k", "$..l1"]), "1", "{n}");
        let emptied = format!("{}{{}}{}", r#"{"x":"#.repeat(125), "}".repeat(125));
        let expected = object_chain(127, "l0", &emptied);
        let got: String = redis::cmd("JSON.GET").arg("k").query(&mut con).unwrap();
        assert_eq!(got, expected, "{n}");
    }
}

/// RedisJSON 2.8's RESP3 shapes (FACTS.md §3.10): JSON.GET FORMAT, JSON.TYPE's extra array,
/// NUMINCRBY's typed arrays, JSON.RESP doubles; the other commands as under RESP2 with RESP3
/// nulls. The client shows doubles parsed (`,2.5`), so these replies read the same on both
/// servers whatever digits each prints.
#[test]
fn resp3_reply_shapes() {
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection_resp3();
        let doc = r#"{"a":1,"f":2.5,"s":"xé","t":true,"n":null,"arr":[1,[2,{"b":false}],"y"],"o":{"p":{"q":1}},"e":{},"ea":[],"big":18446744073709551615,"neg":-0.0}"#;
        let expanded = r#"{"a": 1, "f": ,2.5, "s": "xé", "t": #true, "n": (nil), "arr": [1, [2, {"b": #false}], "y"], "o": {"p": {"q": 1}}, "e": {}, "ea": [], "big": ,18446744073709552000, "neg": ,-0}"#;
        let compact = r#""{\"a\":1,\"f\":2.5,\"s\":\"xé\",\"t\":true,\"n\":null,\"arr\":[1,[2,{\"b\":false}],\"y\"],\"o\":{\"p\":{\"q\":1}},\"e\":{},\"ea\":[],\"big\":18446744073709551615,\"neg\":-0.0}""#;
        let whole_expanded = format!("[[{expanded}]]");
        let whole_expand1 = format!("[[{compact}]]");
        let cases: &[(&[&str], &str)] = &[
            (&["json.set", "k", "$", doc], "+OK"),
            // FORMAT: STRING is the RESP2 reply; EXPAND/EXPAND1 one array per path, of matches.
            (&["json.get", "k"], compact),
            (&["json.get", "k", "FORMAT", "STRING"], compact),
            (&["json.get", "k", "FORMAT", "EXPAND"], &whole_expanded),
            (&["json.get", "k", "FORMAT", "EXPAND", "."], &whole_expanded),
            (&["json.get", "k", "FORMAT", "EXPAND", "$"], &whole_expanded),
            (&["json.get", "k", "FORMAT", "EXPAND1"], &whole_expand1),
            (&["json.get", "k", "FORMAT", "EXPAND1", "$"], &whole_expand1),
            (&["json.get", "k", "FORMAT", "EXPAND", ".a"], "[[1]]"),
            (&["json.get", "k", "FORMAT", "EXPAND", "$.f"], "[[,2.5]]"),
            (
                &["json.get", "k", "FORMAT", "EXPAND", "$.s", "$.t", "$.n"],
                r#"[["xé"], [#true], [(nil)]]"#,
            ),
            (
                &["json.get", "k", "FORMAT", "EXPAND", "$.arr"],
                r#"[[[1, [2, {"b": #false}], "y"]]]"#,
            ),
            (
                &["json.get", "k", "FORMAT", "EXPAND1", "$.arr"],
                r#"[["[1,[2,{\"b\":false}],\"y\"]"]]"#,
            ),
            (
                &["json.get", "k", "FORMAT", "EXPAND1", "$.arr[*]"],
                r#"[[1, "[2,{\"b\":false}]", "\"y\""]]"#,
            ),
            (
                &["json.get", "k", "FORMAT", "EXPAND1", "$.*"],
                r#"[[1, ,2.5, "\"xé\"", #true, (nil), "[1,[2,{\"b\":false}],\"y\"]", "{\"p\":{\"q\":1}}", "{}", "[]", ,18446744073709552000, ,-0]]"#,
            ),
            (
                &[
                    "json.get", "k", "FORMAT", "EXPAND", "$.e", "$.ea", "$.big", "$.neg",
                ],
                "[[{}], [[]], [,18446744073709552000], [,-0]]",
            ),
            (&["json.get", "k", "FORMAT", "EXPAND", "$..b"], "[[#false]]"),
            // Legacy paths list every match too; one that matches nothing gives [].
            (&["json.get", "k", "FORMAT", "EXPAND", "..q"], "[[1]]"),
            (&["json.get", "k", "FORMAT", "EXPAND", "$.nope"], "[[]]"),
            (&["json.get", "k", "FORMAT", "EXPAND", ".nope"], "[[]]"),
            (&["json.get", "k", "FORMAT", "EXPAND1", ".nope"], "[[]]"),
            (
                &["json.get", "k", "FORMAT", "STRING", ".nope"],
                "ERR Path '$.nope' does not exist",
            ),
            (
                &["json.get", "k", "FORMAT", "EXPAND", ".a", ".nope", ".a"],
                "[[1], [], [1]]",
            ),
            (
                &["json.get", "k", "FORMAT", "EXPAND1", ".a", ".s"],
                r#"[[1], ["\"xé\""]]"#,
            ),
            (
                &["json.get", "k", "FORMAT", "STRING", ".a", ".s"],
                r#""{\".a\":1,\".s\":\"xé\"}""#,
            ),
            (&["json.get", "k", "$.a", "FORMAT", "EXPAND"], "[[1]]"),
            // INDENT/NEWLINE/SPACE shape the JSON text of STRING and EXPAND1, not EXPAND.
            (
                &["json.get", "k", "FORMAT", "EXPAND", "INDENT", "  ", "$.o"],
                r#"[[{"p": {"q": 1}}]]"#,
            ),
            (
                &["json.get", "k", "INDENT", "  ", "FORMAT", "STRING", "$.o"],
                r#""[  {    \"p\":{      \"q\":1    }  }]""#,
            ),
            (
                &["json.get", "k", "INDENT", "  ", "FORMAT", "EXPAND1", "$.o"],
                r#"[["{  \"p\":{    \"q\":1  }}"]]"#,
            ),
            // The last FORMAT wins; the value is case-insensitive here (RedisJSON: upper case).
            (
                &[
                    "json.get", "k", "FORMAT", "EXPAND", "FORMAT", "STRING", "$.o",
                ],
                r#""[{\"p\":{\"q\":1}}]""#,
            ),
            (&["json.get", "k", "format", "expand", "$.a"], "[[1]]"),
            (
                &["json.get", "k", "FORMAT", "STRINGS", "$.a"],
                "ERR wrong reply format",
            ),
            (
                &["json.get", "k", "FORMAT", "BSON", "$.a"],
                "ERR wrong reply format",
            ),
            (
                &["json.get", "k", "FORMAT"],
                "ERR wrong number of arguments for 'json.get' command",
            ),
            // A bad path is an error (RedisJSON's EXPAND answers [] for it).
            (
                &["json.get", "k", "FORMAT", "EXPAND", "$["],
                r#"ERR Error occurred on position 1, "$ ---->>>> [", unexpected input."#,
            ),
            (&["json.get", "nokey", "FORMAT", "EXPAND"], "(nil)"),
            // JSON.ARRPOP FORMAT STRINGS|EXPAND1|EXPAND (RedisJSON 2.8): right after the key.
            (
                &[
                    "json.set",
                    "p",
                    "$",
                    r#"{"a":[{"b":2},{"g":[1,2]},3,"s"],"x":1}"#,
                ],
                "+OK",
            ),
            (
                &["json.arrpop", "p", "FORMAT", "EXPAND1", "$.a", "1"],
                r#"["{\"g\":[1,2]}"]"#,
            ),
            (&["json.arrpop", "p", "FORMAT", "EXPAND", "$.a", "1"], "[3]"),
            (
                &["json.arrpop", "p", "FORMAT", "EXPAND1", "$.a"],
                r#"["\"s\""]"#,
            ),
            (
                &["json.arrpop", "p", "FORMAT", "EXPAND", "$.a", "0"],
                r#"[{"b": 2}]"#,
            ),
            (&["json.arrpop", "p", "FORMAT", "STRINGS", "$.a"], "[(nil)]"),
            (&["json.arrpop", "p", "FORMAT", "EXPAND", "$.x"], "[(nil)]"),
            (&["json.arrinsert", "p", "$.a", "0", "1", "[2]"], "[2]"),
            (&["json.arrpop", "p", "FORMAT", "STRINGS"], "[(nil)]"),
            (
                &["json.arrpop", "p", "FORMAT", "STRINGS", "$.a"],
                r#"["[2]"]"#,
            ),
            (
                &["json.arrpop", "p", "FORMAT", "EXPAND", ".a"],
                "ERR FORMAT needs a JSONPath ($...), not a legacy path",
            ),
            (
                &["json.arrpop", "p", "FORMAT", "STRING", "$.a"],
                "ERR wrong reply format",
            ),
            (
                &["json.arrpop", "p", "FORMAT", "JSON", ".a"],
                "ERR wrong reply format",
            ),
            // Refused before anything was popped.
            (&["json.get", "p", "$.a"], "\"[[1]]\""),
            // JSON.TYPE: the RESP2 reply inside one more array.
            (&["json.type", "k"], r#"["object"]"#),
            (&["json.type", "k", "."], r#"["object"]"#),
            (&["json.type", "k", "$"], r#"[["object"]]"#),
            (&["json.type", "k", "$..q"], r#"[["integer"]]"#),
            (
                &["json.type", "k", "$.*"],
                r#"[["integer", "number", "string", "boolean", "null", "array", "object", "object", "array", "integer", "number"]]"#,
            ),
            (&["json.type", "k", ".nope"], "[(nil)]"),
            (&["json.type", "k", "$.nope"], "[[]]"),
            (&["json.type", "nokey"], "[(nil)]"),
            (&["json.type", "nokey", "$"], "[(nil)]"),
            // NUMINCRBY/NUMMULTBY/NUMPOWBY: every match, typed, legacy paths included.
            (
                &["json.set", "m", "$", r#"{"a":1,"b":{"a":2.5},"s":"x"}"#],
                "+OK",
            ),
            (&["json.numincrby", "m", ".a", "1"], "[2]"),
            (&["json.numincrby", "m", "..a", "1"], "[3, ,3.5]"),
            (&["json.numincrby", "m", "$..a", "1"], "[4, ,4.5]"),
            (&["json.numincrby", "m", ".s", "1"], "[(nil)]"),
            (&["json.numincrby", "m", ".nope", "1"], "[]"),
            (&["json.numincrby", "m", "$.*", "1"], "[5, (nil), (nil)]"),
            (&["json.nummultby", "m", ".a", "2"], "[10]"),
            (&["json.nummultby", "m", ".b.a", "2"], "[,9]"),
            (&["json.numpowby", "m", ".a", "2"], "[100]"),
            (
                &["json.numincrby", "m", ".a", "9223372036854775807"],
                "ERR increment or decrement would overflow",
            ),
            (
                &["json.nummultby", "m", ".b.a", "1e308"],
                "ERR result is not a number",
            ),
            (
                &["json.numincrby", "nokey", ".a", "1"],
                "ERR could not perform this operation on a key that doesn't exist",
            ),
            (
                &["json.get", "m"],
                r#""{\"a\":100,\"b\":{\"a\":9.0},\"s\":\"x\"}""#,
            ),
            // JSON.RESP: doubles are RESP3 doubles, booleans stay simple strings.
            (&["json.resp", "k", "$.f"], "[,2.5]"),
            (
                &["json.resp", "k", ".arr"],
                r#"[+[, 1, [+[, 2, [+{, "b", +false]], "y"]"#,
            ),
            (&["json.resp", "nokey"], "(nil)"),
            // Unchanged shapes, RESP3 nulls.
            (&["json.toggle", "k", ".t"], r#""false""#),
            (&["json.toggle", "k", "$.t"], "[1]"),
            (&["json.strlen", "k", "$.a"], "[(nil)]"),
            (&["json.objlen", "k", ".nope"], "(nil)"),
            (&["json.arrpop", "k", ".ea"], "(nil)"),
            (&["json.mget", "k", "nokey", ".s"], r#"["\"xé\"", (nil)]"#),
            (&["json.set", "k", ".s", "1", "NX"], "(nil)"),
            (&["json.debug", "memory", "nokey", "$"], "[]"),
        ];
        table(&mut con, &kind.name, cases);
        // Under RESP2, FORMAT before the first path is refused, after it ignored (RedisJSON).
        let mut con2 = server.connection();
        assert_eq!(
            reply(&mut con2, &["json.get", "k", "FORMAT", "STRING"]),
            "ERR FORMAT argument is not supported on RESP2",
            "{}",
            kind.name
        );
        assert_eq!(
            reply(&mut con2, &["json.get", "k", "$.a", "FORMAT", "EXPAND"]),
            reply(&mut con2, &["json.get", "k", "$.a"]),
            "{}",
            kind.name
        );
        // ARRPOP: the format's value is checked before the protocol; a lone FORMAT is a path.
        assert_eq!(
            reply(
                &mut con2,
                &["json.arrpop", "k", "FORMAT", "STRINGS", "$", "0"]
            ),
            "ERR FORMAT argument is not supported on RESP2",
            "{}",
            kind.name
        );
        assert_eq!(
            reply(&mut con2, &["json.arrpop", "k", "FORMAT", "$", "0"]),
            "ERR wrong reply format",
            "{}",
            kind.name
        );
        assert_eq!(
            reply(&mut con2, &["json.type", "k", "$.a"]),
            r#"["integer"]"#
        );
        assert_eq!(
            reply(&mut con2, &["json.numincrby", "m", ".a", "1"]),
            r#""101""#
        );
    }
}

/// Issue 4 §5: every kind of bad input is a clear error with a code, and the document is
/// unchanged after it — deep nesting, huge numbers, invalid UTF-8 in values and paths,
/// malformed paths, wrong arity, wrong types, NaN/infinite results, integer overflow.
#[test]
fn bad_input_is_a_clear_error_and_changes_nothing() {
    const DOC: &str = r#"{"a":1,"f":1.5e300,"i":9223372036854775807,"m":-9223372036854775808,"s":"x","arr":[1,2],"o":{"p":{}}}"#;
    let deep_128 = format!("{}{}", "[".repeat(128), "]".repeat(128));
    const RECURSION: &str = "ERR recursion limit exceeded at line 1 column 128";
    const UTF8: &str = "ERR Couldn't parse as UTF-8 string";
    const NAN: &str = "ERR result is not a number";
    const OVERFLOW: &str = "ERR increment or decrement would overflow";
    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    let b = str::as_bytes;
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["json.set", "k", "$", DOC]), "+OK");
        assert_eq!(reply(&mut con, &["set", "str", "v"]), "+OK");
        let unchanged = reply(&mut con, &["json.get", "k"]);
        let cases: Vec<(Vec<&[u8]>, &str)> = vec![
            // Deep nesting: input over 127 levels (edits past 512 levels: the test
            // `path_sets_nest_up_to_512_levels_and_every_document_reloads`).
            (vec![b"json.set", b"k", b"$", b(&deep_128)], RECURSION),
            (vec![b"json.set", b"k", b(&deep_128)], RECURSION),
            (
                vec![b"json.arrappend", b"k", b"$.arr", b(&deep_128)],
                RECURSION,
            ),
            // Huge numbers: beyond f64 is a parse error (integers beyond u64 become floats).
            (
                vec![b"json.set", b"k", b"$.a", b"1e400"],
                "ERR number out of range at line 1 column 5",
            ),
            (
                vec![b"json.set", b"k", b"$.a", b"-1e400"],
                "ERR number out of range at line 1 column 6",
            ),
            (
                vec![b"json.numincrby", b"k", b"$.a", b"1e400"],
                "ERR number out of range at line 1 column 5",
            ),
            (
                vec![b"json.arrappend", b"k", b"$.arr", b"[1e999]"],
                "ERR number out of range at line 1 column 6",
            ),
            (
                vec![b"json.set", b"k", b"$.a", b"NaN"],
                "ERR expected value at line 1 column 1",
            ),
            (
                vec![b"json.set", b"k", b"$.a", b"-Infinity"],
                "ERR invalid number at line 1 column 2",
            ),
            (
                vec![b"json.numincrby", b"k", b"$.a", b"Infinity"],
                "ERR expected value at line 1 column 1",
            ),
            // Invalid UTF-8 in values and in paths.
            (vec![b"json.set", b"k", b"$.a", b"\"\xff\""], UTF8),
            (vec![b"json.set", b"k", b"\"\xc3\x28\""], UTF8),
            (
                vec![b"json.arrappend", b"k", b"$.arr", b"1", b"\"\xff\""],
                UTF8,
            ),
            (
                vec![b"json.arrinsert", b"k", b"$.arr", b"0", b"\"\xff\""],
                UTF8,
            ),
            (vec![b"json.strappend", b"k", b"$.s", b"\"\xff\""], UTF8),
            (vec![b"json.merge", b"k", b"$", b"{\"\xff\":1}"], UTF8),
            (
                vec![b"json.mset", b"k", b"$.a", b"2", b"k", b"$.s", b"\"\xfe\""],
                UTF8,
            ),
            (vec![b"json.numincrby", b"k", b"$.a", b"1\xff"], UTF8),
            (vec![b"json.arrindex", b"k", b"$.arr", b"\"\xff\""], UTF8),
            (vec![b"json.get", b"k", b"$.\xff"], UTF8),
            (vec![b"json.get", b"k", b"$.a", b"$.\xff"], UTF8),
            (vec![b"json.set", b"k", b"$.\xff", b"1"], UTF8),
            (vec![b"json.del", b"k", b"$.\xff"], UTF8),
            (vec![b"json.type", b"k", b".\xff"], UTF8),
            (vec![b"json.numincrby", b"k", b"$.\xff", b"1"], UTF8),
            (vec![b"json.fmt", b"k", b"{{\xff}}"], UTF8),
            // Malformed paths.
            (
                vec![b"json.get", b"k", b"$["],
                r#"ERR Error occurred on position 1, "$ ---->>>> [", unexpected input."#,
            ),
            (
                vec![b"json.set", b"k", b"$.a[", b"1"],
                r#"ERR Error occurred on position 3, "$.a ---->>>> [", unexpected input."#,
            ),
            (
                vec![b"json.del", b"k", b"$.."],
                r#"ERR Error occurred on position 3, "$.. <<<<----", must start with a letter, '_' or a non-ASCII character."#,
            ),
            (
                vec![b"json.numincrby", b"k", b"..", b"1"],
                r#"ERR Error occurred on position 3, "$.. <<<<----", must start with a letter, '_' or a non-ASCII character."#,
            ),
            (
                vec![b"json.arrappend", b"k", b"$[?(@.a==)]", b"1"],
                r#"ERR Error occurred on position 3, "$[? ---->>>> (@.a==)]", in long-hand segment, parser error."#,
            ),
            (
                vec![b"json.fmt", b"k", b"{{$[}}"],
                r#"ERR Error occurred on position 1, "$ ---->>>> [", unexpected input."#,
            ),
            // Wrong types: a key of another type, a value of another type at the path.
            (vec![b"json.set", b"str", b"$", b"1"], WRONGTYPE),
            (vec![b"json.get", b"str"], WRONGTYPE),
            (vec![b"json.del", b"str"], WRONGTYPE),
            (vec![b"json.numincrby", b"str", b"$", b"1"], WRONGTYPE),
            (vec![b"json.arrappend", b"str", b"$", b"1"], WRONGTYPE),
            (
                vec![b"json.mset", b"k", b"$.a", b"2", b"str", b"$", b"1"],
                WRONGTYPE,
            ),
            (vec![b"json.merge", b"str", b"$", b"{}"], WRONGTYPE),
            (
                vec![b"json.strlen", b"k", b".a"],
                "WRONGTYPE wrong type of path value - expected string but found integer",
            ),
            (
                vec![b"json.strappend", b"k", b".s", b"1"],
                "WRONGTYPE wrong type of path value - expected string but found 1",
            ),
            (
                vec![b"json.arrappend", b"k", b".s", b"1"],
                "ERR Path '.s' does not exist or not an array",
            ),
            (
                vec![b"json.numincrby", b"k", b".s", b"1"],
                "ERR Path '$.s' does not exist or does not contains a number",
            ),
            (
                vec![b"json.numincrby", b"k", b".a", b"\"1\""],
                "ERR bad input number",
            ),
            (
                vec![b"json.arrinsert", b"k", b"$.arr", b"x", b"1"],
                "ERR Couldn't parse as integer",
            ),
            (
                vec![
                    b"json.arrtrim",
                    b"k",
                    b"$.arr",
                    b"0",
                    b"99999999999999999999",
                ],
                "ERR Couldn't parse as integer",
            ),
            (
                vec![b"json.set", b"k", b"$.a[0]", b"1"],
                "ERR array index out of range",
            ),
            // NaN / infinite results.
            (vec![b"json.nummultby", b"k", b".f", b"1e300"], NAN),
            (vec![b"json.nummultby", b"k", b"$.f", b"-1e300"], NAN),
            (
                vec![b"json.numincrby", b"k", b".f", b"1.7976931348623157e308"],
                NAN,
            ),
            (vec![b"json.numpowby", b"k", b".f", b"2"], NAN),
            (vec![b"json.numpowby", b"k", b".m", b"0.5"], NAN),
            // Integer overflow, also when another match would have changed (all or nothing).
            (vec![b"json.numincrby", b"k", b".i", b"1"], OVERFLOW),
            (vec![b"json.numincrby", b"k", b"$.m", b"-1"], OVERFLOW),
            (vec![b"json.nummultby", b"k", b".i", b"2"], OVERFLOW),
            (vec![b"json.numpowby", b"k", b".i", b"2"], OVERFLOW),
            (vec![b"json.numincrby", b"k", b"$.*", b"1"], OVERFLOW),
            (vec![b"json.nummultby", b"k", b"..*", b"-1"], OVERFLOW),
        ];
        for (args, expected) in &cases {
            let got = reply_bin(&mut con, args);
            let shown = String::from_utf8_lossy(&args.concat()).into_owned();
            assert_eq!(&got, expected, "{shown} on {}", kind.name);
            assert_eq!(
                reply(&mut con, &["json.get", "k"]),
                unchanged,
                "{shown} changed the document on {}",
                kind.name
            );
        }
        // Wrong arity, every command.
        for args in [
            &["json.set", "k"][..],
            &["json.get"],
            &["json.path", "k"],
            &["json.fmt", "k"],
            &["json.del"],
            &["json.forget"],
            &["json.type"],
            &["json.strlen"],
            &["json.arrlen"],
            &["json.objlen"],
            &["json.objkeys"],
            &["json.clear"],
            &["json.resp"],
            &["json.arrpop"],
            &["json.toggle", "k"],
            &["json.strappend", "k"],
            &["json.numincrby", "k", "$.a"],
            &["json.nummultby", "k", "$.a"],
            &["json.numpowby", "k", "$.a"],
            &["json.arrappend", "k", "$.arr"],
            &["json.arrinsert", "k", "$.arr", "0"],
            &["json.arrtrim", "k", "$.arr", "0"],
            &["json.arrindex", "k", "$.arr"],
            &["json.arrindex", "k", "$.arr", "1", "0", "1", "1"],
            &["json.mget", "k"],
            &["json.mset", "k", "$"],
            &["json.mset", "k", "$", "1", "k2"],
            &["json.merge", "k", "$"],
            &["json.debug"],
            &["json.debug", "memory"],
        ] {
            assert_eq!(
                reply(&mut con, args),
                format!("ERR wrong number of arguments for '{}' command", args[0]),
                "{} on {}",
                args.join(" "),
                kind.name
            );
        }
        assert_eq!(reply(&mut con, &["json.get", "k"]), unchanged);
        // Keys are binary: a key that is not UTF-8 is an ordinary key.
        assert_eq!(
            reply_bin(&mut con, &[b"json.set", b"\xff\xfe", b"$", b"{\"a\":1}"]),
            "+OK"
        );
        assert_eq!(
            reply_bin(&mut con, &[b"json.mget", b"\xff\xfe", b"k", b"$.a"]),
            r#"["[1]", "[1]"]"#
        );
        assert_eq!(
            reply_bin(&mut con, &[b"json.del", b"\xff\xfe", b"$.a"]),
            "1"
        );
        assert_eq!(reply_bin(&mut con, &[b"json.get", b"\xff\xfe"]), r#""{}""#);
    }
}

/// `used_memory` of the server.
fn used_memory(con: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("info").arg("memory").query(con).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .expect("INFO memory has used_memory")
}

#[test]
fn documents_count_in_used_memory() {
    // The module allocates through the server (rm::server_allocator!), so its documents count in
    // used_memory (and against maxmemory): 500 documents of ~2 KB must add at least 1 MB. With the
    // system allocator they added ~140 B each (only the key).
    let document = format!(r#"{{"text":"{}","n":[1,2,3]}}"#, "x".repeat(2000));
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let before = used_memory(&mut con);
        for i in 0..500 {
            assert_eq!(
                reply(&mut con, &["json.set", &format!("d{i}"), &document]),
                "+OK"
            );
        }
        let grown = used_memory(&mut con) - before;
        assert!(
            grown >= 1_000_000,
            "{}: used_memory grew by {grown} only",
            kind.name
        );
        // Freed through the server's allocator too (SYNC: Valkey flushes lazily by default).
        assert_eq!(reply(&mut con, &["flushall", "sync"]), "+OK");
        let after = used_memory(&mut con) - before;
        assert!(
            after < 200_000,
            "{}: {after} bytes left after FLUSHALL",
            kind.name
        );
    }
}

/// Paths that overflowed the server's stack (thousands of nested filters or parentheses) or
/// took seconds to parse (twenty `[?($`) are refused by a one-pass check before any parser
/// runs, naming the limit, through every command that takes a path; the server keeps serving.
#[test]
fn hostile_paths_are_refused_before_parsing() {
    let nested = |open: &str, n: usize, close: &str| format!("{}{}", open.repeat(n), close);
    let hostile = [
        format!("${}", "[?($".repeat(2000)),
        format!("${}", "[?($".repeat(20)),
        format!("${}", "[?($".repeat(100)),
        nested("$[?", 1, &nested("(", 5000, "@")),
        nested("$[?", 1, &nested("!(", 3000, "@")),
        nested("$[?", 1, &nested("length(", 2000, "@")),
        nested("$", 1, &nested("[?@", 9, "")),
        format!("$[?{}@.a{}]", "(".repeat(8), ")".repeat(8)),
        // Legacy paths go through the same check.
        format!("a{}", "[?(".repeat(500)),
    ];
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["JSON.SET", "k", "$", r#"{"a":[1,{"b":2}]}"#]),
            "+OK"
        );
        for path in &hostile {
            for command in [
                &["JSON.GET", "k", path][..],
                &["JSON.GET", "missing", path],
                &["JSON.SET", "k", path, "1"],
                &["JSON.DEL", "k", path],
                &["JSON.NUMINCRBY", "k", path, "1"],
                &["JSON.OBJLEN", "k", path],
                &["JSON.ARRAPPEND", "k", path, "1"],
            ] {
                let answer = reply(&mut con, command);
                assert!(
                    answer.starts_with("ERR Error occurred on position ")
                        && answer.contains(
                            "the path nests brackets and parentheses deeper than 8 levels"
                        ),
                    "{n}: {} {}…: {}",
                    command[0],
                    &path[..path.len().min(40)],
                    &answer[..answer.len().min(200)]
                );
            }
        }
        let long = format!("$..{}", "a".repeat(32 * 1024));
        let answer = reply(&mut con, &["JSON.GET", "k", &long]);
        assert!(
            answer.contains("the path is longer than 32768 bytes"),
            "{n}"
        );
        // Real nesting still works: a filter in a filter is 4 deep.
        assert_eq!(
            reply(&mut con, &["JSON.GET", "k", "$.a[?(@.b[?(@ == 2)])]"]),
            "\"[]\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["JSON.GET", "k", "$.a[?((((@.b == 2))))].b"]),
            "\"[2]\"",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["JSON.GET", "k"]),
            r#""{\"a\":[1,{\"b\":2}]}""#,
            "{n}: nothing written"
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}

/// Path evaluation is bounded by `json.path-budget` (JSON nodes visited and returned) and
/// `json.path-max-bytes` (bytes the results hold): the shapes that froze servers for seconds
/// to forever (`$..*..*..*` on a document 126 levels deep, twenty `..*`, unions of
/// wildcards, filters reading the root from every candidate) end in a clear error, writes
/// with them change nothing, and real queries stay within the default budget.
#[test]
fn path_evaluation_is_bounded_by_the_budget() {
    // 126 levels of alternating arrays and objects, a few siblings at each: 380 values.
    let mut deep = "1".to_owned();
    for level in 0..126 {
        deep = if level % 2 == 1 {
            format!(r#"{{"a":{deep},"b":[1,2]}}"#)
        } else {
            format!(r#"[{deep},{{"c":3}}]"#)
        };
    }
    let over_nodes =
        "ERR the path would visit or return more than 1000000 JSON nodes (json.path-budget)";
    let hostile = [
        "$..*..*..*".to_owned(),
        format!("${}", "..*".repeat(20)),
        format!("${}", "[*,*,*,*]".repeat(12)),
        "$..*..[?$..*]".to_owned(),
        "$..a..b".to_owned(),
    ];
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["JSON.SET", "deep", "$", &deep]), "+OK");
        let before = reply(&mut con, &["JSON.GET", "deep"]);
        for path in &hostile {
            for command in [
                &["JSON.GET", "deep", path][..],
                &["JSON.TYPE", "deep", path],
                &["JSON.OBJLEN", "deep", path],
                &["JSON.DEL", "deep", path],
                &["JSON.SET", "deep", path, "0"],
                &["JSON.NUMINCRBY", "deep", path, "1"],
            ] {
                assert_eq!(reply(&mut con, command), over_nodes, "{n}: {command:?}");
            }
        }
        assert_eq!(
            reply(&mut con, &["JSON.GET", "deep"]),
            before,
            "{n}: nothing written"
        );
        // The unit is the JSON node: `$..*` here visits and returns about 380 values, each
        // counted with its whole subtree (the reply holds them all): about 30k nodes.
        let all = ["JSON.TYPE", "deep", "$..*"];
        assert!(reply(&mut con, &all).starts_with("[\"array\""), "{n}");
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "json.path-budget", "20000"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &all),
            "ERR the path would visit or return more than 20000 JSON nodes (json.path-budget)",
            "{n}"
        );
        // RESP3 wraps JSON.TYPE's reply in one more array: the error still comes whole, and
        // the connection stays in step.
        let mut con3 = server.connection_resp3();
        assert_eq!(
            reply(&mut con3, &all),
            "ERR the path would visit or return more than 20000 JSON nodes (json.path-budget)",
            "{n}"
        );
        assert_eq!(reply(&mut con3, &["PING"]), "+PONG", "{n}");
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "json.path-budget", "100000"]),
            "+OK"
        );
        assert!(reply(&mut con, &all).starts_with("[\"array\""), "{n}");
        // Bytes: every result's value, as the reply would hold it.
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "json.path-max-bytes", "10kb"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["JSON.GET", "deep", "$..*"]),
            "ERR the path's results would hold more than 10240 bytes (json.path-max-bytes)",
            "{n}"
        );
        assert!(
            reply(&mut con, &["JSON.GET", "deep", "$..c"]).starts_with("\"[3,3"),
            "{n}"
        );
        // json.fmt's placeholders repeat: its output is bounded the same way.
        let template = "{{$.b}}".repeat(2000);
        reply(
            &mut con,
            &["JSON.SET", "small", "$", r#"{"b":"0123456789"}"#],
        );
        assert_eq!(
            reply(&mut con, &["json.fmt", "small", &template]),
            "ERR the filled template would be longer than 10240 bytes (json.path-max-bytes)",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "json.path-max-bytes", "512mb"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["json.fmt", "small", &template]).len(),
            2 + 20000,
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "json.path-budget", "1000000"]),
            "+OK"
        );
        // Filters may hold one descendant segment: two would cost a subtree squared per
        // candidate.
        let refused = reply(&mut con, &["JSON.GET", "deep", "$[?@..a..b]"]);
        assert!(
            refused.contains("a filter may hold at most one descendant segment"),
            "{n}: {refused}"
        );
        // Real queries, on a real document, within the default budget.
        let doc = std::fs::read_to_string(common::root().join("bench/json-doc.json")).unwrap();
        assert_eq!(
            reply(&mut con, &["JSON.SET", "doc", "$", doc.trim()]),
            "+OK"
        );
        for path in [
            "$..name",
            "$.friends[?@.age > 20].name",
            "$..*",
            "$..[?@.name]",
            "$.friends[*]..*",
            "$..friends[?(@.name == $.friends[0].name)]",
        ] {
            let answer = reply(&mut con, &["JSON.GET", "doc", path]);
            assert!(answer.starts_with("\"["), "{n}: {path}: {answer}");
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}

/// `json.path-dialect`: RedisJSON's spellings of `$` paths by default, the RFC 9535 grammar
/// alone with `rfc9535` (the spellings are then path errors); legacy paths keep theirs.
#[test]
fn path_dialect_config() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(
                &mut con,
                &["json.set", "d", "$", r#"{"a":[1,2],"1":"one"}"#]
            ),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["config", "get", "json.path-dialect"]),
            r#"["json.path-dialect", "redisjson"]"#,
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["json.get", "d", "$.a.[1]"]),
            r#""[2]""#,
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["json.get", "d", "$.1"]),
            r#""[\"one\"]""#,
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["config", "set", "json.path-dialect", "rfc9535"]),
            "+OK",
            "{n}"
        );
        for path in ["$.1", "$.a.[0]"] {
            let refused = reply(&mut con, &["json.get", "d", path]);
            assert!(
                refused.starts_with("ERR Error occurred on position "),
                "{n}: {path}: {refused}"
            );
        }
        assert_eq!(
            reply(&mut con, &["json.get", "d", "$.a[0]"]),
            r#""[1]""#,
            "{n}"
        );
        // Legacy paths keep RedisJSON's spellings in both dialects.
        assert_eq!(
            reply(&mut con, &["json.get", "d", ".a.[1]"]),
            r#""2""#,
            "{n}"
        );
        assert!(
            reply(
                &mut con,
                &["config", "set", "json.path-dialect", "jsonpath"]
            )
            .starts_with("ERR"),
            "{n}"
        );
    }
}
