//! The key API's streams, list index access and sorted-set ranges on real servers, through the
//! `rmtest` fixture (`tests/fixture/src/keyapi.rs`): each result is checked against the
//! server's own command on the same key (XRANGE, XREVRANGE, XDEL, XTRIM, LINDEX, LSET, LRANGE,
//! ZRANGEBYSCORE, ZRANGEBYLEX, ZRANGE), with empty and reversed ranges, indexes past either
//! end, wrong types, deleting while iterating, keys changed under an iteration and panics.

mod common;

use common::{Server, pipeline, reply, run, servers};

fn words(text: &str) -> Vec<String> {
    text.split(' ').map(str::to_owned).collect()
}

/// A flat `[member, score, …]` reply as pairs, the scores parsed (the module prints them as
/// Rust does, the server as `%.17g`).
fn scored(con: &mut redis::Connection, args: &[&str]) -> Result<Vec<(String, f64)>, String> {
    let items = match run(con, args)? {
        redis::Value::Array(items) => items,
        other => panic!("{args:?} replied {other:?}"),
    };
    let text: Vec<String> = items
        .into_iter()
        .map(|item| match item {
            redis::Value::BulkString(bytes) => String::from_utf8(bytes).unwrap(),
            other => panic!("{args:?}: element {other:?}"),
        })
        .collect();
    Ok(text
        .chunks(2)
        .map(|pair| {
            let score = pair[1]
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("score {:?}", pair[1]));
            (pair[0].clone(), score)
        })
        .collect())
}

/// Asserts the module command and the server's command reply the same.
#[track_caller]
fn same(con: &mut redis::Connection, ours: &[&str], theirs: &[&str], server: &str) {
    let (a, b) = (reply(con, ours), reply(con, theirs));
    assert_eq!(a, b, "{server}: {ours:?} vs {theirs:?}");
}

#[test]
fn stream_ranges_match_xrange() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.as_str();
        for id in ["1-1", "1-2", "1-3", "1-5", "2-0", "2-7", "9-0"] {
            reply(&mut con, &["XADD", "s", id, "f", id, "g", "second field"]);
        }
        // Added by the module, read by XRANGE: explicit and automatic IDs, binary fields.
        assert_eq!(
            reply(
                &mut con,
                &["rmtest.ka.xadd", "s", "10-3", "bin\0f", "v\r\n", "x", ""]
            ),
            "\"10-3\"",
            "{n}"
        );
        let auto = reply(&mut con, &["rmtest.ka.xadd", "s", "*", "auto", "1"]);
        let auto = auto.trim_matches('"').to_owned();
        let last = reply(&mut con, &["XREVRANGE", "s", "+", "-", "COUNT", "1"]);
        assert_eq!(last, format!("[[\"{auto}\", [\"auto\", \"1\"]]]"), "{n}");
        assert_eq!(reply(&mut con, &["XLEN", "s"]), "9", "{n}");

        for (start, end) in [
            ("-", "+"),
            ("1-2", "1-5"),
            ("1", "1"),
            ("1-4", "2"),
            ("2", "+"),
            ("10-3", "10-3"),
            ("11", "+"),
            ("1-3", "1-2"),
            ("0", "0"),
            ("-", "1-1"),
        ] {
            same(
                &mut con,
                &["rmtest.ka.xrange", "s", start, end],
                &["XRANGE", "s", start, end],
                n,
            );
            same(
                &mut con,
                &["rmtest.ka.xrange", "s", start, end, "REV"],
                &["XREVRANGE", "s", end, start],
                n,
            );
        }
        // Dropping the iteration early, then iterating again on a new handle.
        for _ in 0..2 {
            same(
                &mut con,
                &["rmtest.ka.xrange", "s", "-", "+", "COUNT", "2"],
                &["XRANGE", "s", "-", "+", "COUNT", "2"],
                n,
            );
        }
        let ids = reply(&mut con, &["rmtest.ka.xids", "s"]);
        assert!(ids.starts_with("[\"1-1\", \"1-2\""), "{n}: {ids}");
        let ids = reply(&mut con, &["rmtest.ka.xids", "s", "REV"]);
        assert!(
            ids.starts_with(&format!("[\"{auto}\", \"10-3\", \"9-0\"")),
            "{n}: {ids}"
        );
        assert!(ids.ends_with("\"1-1\"]"), "{n}: {ids}");

        // Missing keys, wrong types, bad IDs: the server's own answers.
        same(
            &mut con,
            &["rmtest.ka.xrange", "none", "-", "+"],
            &["XRANGE", "none", "-", "+"],
            n,
        );
        reply(&mut con, &["SET", "str", "v"]);
        for ours in [
            &["rmtest.ka.xrange", "str", "-", "+"][..],
            &["rmtest.ka.xadd", "str", "*", "f", "v"],
            &["rmtest.ka.xdel", "str", "1-1"],
            &["rmtest.ka.xtrim", "str", "MAXLEN", "1"],
            &["rmtest.ka.xids", "str"],
        ] {
            assert!(
                reply(&mut con, ours).starts_with("WRONGTYPE"),
                "{n}: {ours:?}"
            );
        }
        same(
            &mut con,
            &["rmtest.ka.xrange", "s", "1-x", "+"],
            &["XRANGE", "s", "1-x", "+"],
            n,
        );
        same(
            &mut con,
            &["rmtest.ka.xrange", "s", "-", "abc"],
            &["XRANGE", "s", "-", "abc"],
            n,
        );
        for id in ["0-0", "1-1", "10-3"] {
            same(
                &mut con,
                &["rmtest.ka.xadd", "s", id, "f", "v"],
                &["XADD", "s", id, "f", "v"],
                n,
            );
        }
        assert_eq!(
            reply(&mut con, &["rmtest.ka.xadd", "s", "*", "f", "v", "odd"]),
            "ERR a stream entry needs field-value pairs",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["XLEN", "s"]),
            "9",
            "{n}: a refused add added nothing"
        );
        // A refused add on a missing key leaves no empty stream behind.
        reply(&mut con, &["rmtest.ka.xadd", "fresh", "0-0", "f", "v"]);
        assert_eq!(reply(&mut con, &["EXISTS", "fresh"]), "0", "{n}");
        assert_eq!(
            reply(&mut con, &["rmtest.ka.xadd", "fresh", "5", "f", "v"]),
            "\"5-0\"",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["TYPE", "fresh"]), "+stream", "{n}");
    }
}

/// Two streams with the same 300 entries (several internal nodes of 100), `k` alternating x/y.
fn twin_streams(con: &mut redis::Connection, a: &str, b: &str) {
    let mut commands = Vec::new();
    for i in 1..=300 {
        let k = if i % 2 == 0 { "x" } else { "y" };
        for key in [a, b] {
            commands.push(words(&format!("XADD {key} {i}-1 k {k} i {i}")));
        }
    }
    pipeline(con, commands);
}

#[test]
fn stream_delete_trim_and_delete_while_iterating() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.as_str();
        twin_streams(&mut con, "a", "b");
        for id in ["5-1", "5-1", "7-0", "301-1"] {
            same(
                &mut con,
                &["rmtest.ka.xdel", "a", id],
                &["XDEL", "b", id],
                n,
            );
        }
        same(
            &mut con,
            &["rmtest.ka.xdel", "none", "1-1"],
            &["XDEL", "none", "1-1"],
            n,
        );
        for (strategy, threshold) in [("MAXLEN", "250"), ("MINID", "100-1"), ("MAXLEN", "250")] {
            same(
                &mut con,
                &["rmtest.ka.xtrim", "a", strategy, threshold],
                &["XTRIM", "b", strategy, threshold],
                n,
            );
            let ours = reply(&mut con, &["XRANGE", "a", "-", "+"]);
            assert_eq!(ours, reply(&mut con, &["XRANGE", "b", "-", "+"]), "{n}");
        }
        // Approximate trims remove whole nodes, as XTRIM's `~` does.
        twin_streams(&mut con, "c", "d");
        for (strategy, threshold) in [("MAXLEN", "150"), ("MINID", "260-0"), ("MAXLEN", "0")] {
            same(
                &mut con,
                &["rmtest.ka.xtrim", "c", strategy, "~", threshold],
                &["XTRIM", "d", strategy, "~", threshold],
                n,
            );
            let ours = reply(&mut con, &["XRANGE", "c", "-", "+"]);
            assert_eq!(ours, reply(&mut con, &["XRANGE", "d", "-", "+"]), "{n}");
            if threshold == "150" {
                // Whole nodes of 100 only: one removed, 200 left (not 150).
                assert_eq!(reply(&mut con, &["XLEN", "c"]), "200", "{n}");
            }
        }
        same(
            &mut con,
            &["rmtest.ka.xtrim", "none", "MAXLEN", "0"],
            &["XTRIM", "none", "MAXLEN", "0"],
            n,
        );
        same(
            &mut con,
            &["rmtest.ka.xtrim", "a", "MINID", "x"],
            &["XTRIM", "a", "MINID", "x"],
            n,
        );

        // Deleting while iterating, both directions: the same as XDEL of those IDs.
        for rev in [false, true] {
            twin_streams(&mut con, "e", "f");
            let mut ours = vec!["rmtest.ka.xdelwhere", "e", "k", "x"];
            if rev {
                ours.push("REV");
            }
            assert_eq!(reply(&mut con, &ours), "150", "{n} rev={rev}");
            let ids: Vec<String> = (1..=150).map(|i| format!("{}-1", i * 2)).collect();
            let mut xdel = vec!["XDEL", "f"];
            xdel.extend(ids.iter().map(String::as_str));
            assert_eq!(reply(&mut con, &xdel), "150", "{n}");
            let ours = reply(&mut con, &["XRANGE", "e", "-", "+"]);
            assert_eq!(
                ours,
                reply(&mut con, &["XRANGE", "f", "-", "+"]),
                "{n} rev={rev}"
            );
            // Deleting every remaining entry leaves an empty stream, as XDEL does.
            assert_eq!(
                reply(&mut con, &["rmtest.ka.xdelwhere", "e", "k", "y"]),
                "150",
                "{n}"
            );
            assert_eq!(reply(&mut con, &["XLEN", "e"]), "0", "{n}");
            reply(&mut con, &["DEL", "e", "f"]);
        }

        // The iteration's refusals.
        twin_streams(&mut con, "g", "h");
        for (case, error) in [
            ("before", "ERR no current stream entry to delete"),
            ("twice", "ERR no current stream entry to delete"),
            ("end", "ERR no current stream entry to delete"),
            ("readonly", "ERR key opened read-only"),
        ] {
            assert_eq!(
                reply(&mut con, &["rmtest.ka.xmisuse", "g", case]),
                error,
                "{n} {case}"
            );
        }
        // Only "twice" deleted (its first delete).
        assert_eq!(reply(&mut con, &["XLEN", "g"]), "299", "{n}");
        let first = reply(&mut con, &["XRANGE", "g", "-", "+", "COUNT", "1"]);
        assert!(first.starts_with("[[\"2-1\""), "{n}: {first}");

        // A key changed under the iteration: the next step fails instead of reading freed
        // memory or ending silently.
        for how in ["call", "handle"] {
            let got = reply(&mut con, &["rmtest.ka.xiter.change", "g", how]);
            assert!(
                got.contains("the key changed during the iteration"),
                "{n} {how}: {got}"
            );
        }
        assert_eq!(
            reply(&mut con, &["XLEN", "g"]),
            "301",
            "{n}: both adds happened"
        );

        // An iteration leaked with mem::forget leaves the handle usable: the next delete and
        // the next iteration stop it first.
        assert_eq!(
            reply(&mut con, &["rmtest.ka.xforget", "g", "4-1"]),
            "[1, 300]",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["XLEN", "g"]), "300", "{n}");

        // A panic with the iteration live: the error reply, the server up, the key readable.
        let got = reply(&mut con, &["rmtest.ka.xiter.panic", "g"]);
        assert!(
            got.starts_with("ERR panic: stream boom at 3-1"),
            "{n}: {got}"
        );
        assert_eq!(reply(&mut con, &["PING"]), "+PONG", "{n}");
        same(
            &mut con,
            &["rmtest.ka.xrange", "g", "-", "+"],
            &["XRANGE", "g", "-", "+"],
            n,
        );
    }
}

#[test]
fn list_index_access_matches_lindex_and_lset() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.as_str();
        // A small list (listpack) and a large one (quicklist of several nodes).
        reply(&mut con, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
        reply(&mut con, &["RPUSH", "m", "a", "b", "c", "d", "e"]);
        let big: Vec<String> = (0..1000)
            .map(|i| format!("element-{i}-{}", "x".repeat(i % 50)))
            .collect();
        let mut rpush = vec!["RPUSH", "big"];
        rpush.extend(big.iter().map(String::as_str));
        reply(&mut con, &rpush);
        for index in (-7..=7).chain([i64::MIN, i64::MAX]) {
            let index = index.to_string();
            same(
                &mut con,
                &["rmtest.ka.lget", "l", &index],
                &["LINDEX", "l", &index],
                n,
            );
        }
        for index in [
            0, 1, 499, 500, 998, 999, 1000, -1, -2, -500, -1000, -1001, 3, 997, 5,
        ] {
            let index = index.to_string();
            same(
                &mut con,
                &["rmtest.ka.lget", "big", &index],
                &["LINDEX", "big", &index],
                n,
            );
        }
        same(
            &mut con,
            &["rmtest.ka.lget", "none", "0"],
            &["LINDEX", "none", "0"],
            n,
        );

        // LSET, including out of range and missing keys.
        for (index, value) in [
            ("0", "A"),
            ("2", "C"),
            ("-1", "E"),
            ("-5", "AA"),
            ("5", "x"),
            ("-6", "x"),
        ] {
            same(
                &mut con,
                &["rmtest.ka.lset", "l", index, value],
                &["LSET", "m", index, value],
                n,
            );
        }
        same(
            &mut con,
            &["rmtest.ka.lset", "none", "0", "v"],
            &["LSET", "none", "0", "v"],
            n,
        );
        assert_eq!(
            reply(&mut con, &["LRANGE", "l", "0", "-1"]),
            reply(&mut con, &["LRANGE", "m", "0", "-1"]),
            "{n}"
        );
        same(
            &mut con,
            &["rmtest.ka.lset", "big", "600", "changed"],
            &["LSET", "big", "601", "changed"],
            n,
        );
        same(
            &mut con,
            &["rmtest.ka.lget", "big", "600"],
            &["LINDEX", "big", "601"],
            n,
        );

        // Inserts: positions as LINSERT BEFORE/AFTER and pushes give them.
        let lrange =
            |con: &mut redis::Connection, key: &str| reply(con, &["LRANGE", key, "0", "-1"]);
        for (ours, theirs) in [
            (&["0", "head"][..], &["LPUSH", "m", "head"][..]),
            (&["-1", "tail"], &["RPUSH", "m", "tail"]),
            (
                &["2", "before-2"],
                &["LINSERT", "m", "BEFORE", "b", "before-2"],
            ),
            (
                &["-2", "after-minus-2"],
                &["LINSERT", "m", "AFTER", "E", "after-minus-2"],
            ),
            (&["-1", "tail-2"], &["RPUSH", "m", "tail-2"]),
        ] {
            assert_eq!(
                reply(&mut con, &["rmtest.ka.linsert", "l", ours[0], ours[1]]),
                "+OK",
                "{n}"
            );
            reply(&mut con, theirs);
            assert_eq!(lrange(&mut con, "l"), lrange(&mut con, "m"), "{n} {ours:?}");
        }
        let len = reply(&mut con, &["LLEN", "l"]);
        assert_eq!(
            reply(&mut con, &["rmtest.ka.linsert", "l", &len, "at-len"]),
            "+OK",
            "{n}"
        );
        reply(&mut con, &["RPUSH", "m", "at-len"]);
        assert_eq!(lrange(&mut con, "l"), lrange(&mut con, "m"), "{n}");
        for index in ["100", "-100"] {
            assert_eq!(
                reply(&mut con, &["rmtest.ka.linsert", "l", index, "x"]),
                "ERR index out of range",
                "{n} {index}"
            );
        }
        // On a missing key: 0 and -1 create the list; another index is refused (the server
        // would dereference a missing list) and creates nothing.
        assert_eq!(
            reply(&mut con, &["rmtest.ka.linsert", "new", "3", "v"]),
            "ERR index out of range",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["EXISTS", "new"]), "0", "{n}");
        assert_eq!(
            reply(&mut con, &["rmtest.ka.linsert", "new", "0", "v"]),
            "+OK",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.ka.linsert", "new2", "-1", "v"]),
            "+OK",
            "{n}"
        );
        assert_eq!(lrange(&mut con, "new"), "[\"v\"]", "{n}");
        assert_eq!(lrange(&mut con, "new2"), "[\"v\"]", "{n}");

        // Deletes: by index from either end; the last one deletes the key.
        for (index, theirs) in [
            ("0", &["LPOP", "m"][..]),
            ("-1", &["RPOP", "m"]),
            ("1", &["LREM", "m", "1", "__del__"]),
            ("-3", &["LREM", "m", "-1", "__del__"]),
        ] {
            assert_eq!(
                reply(&mut con, &["rmtest.ka.ldel", "l", index]),
                "+OK",
                "{n}"
            );
            if theirs[0] == "LREM" {
                reply(&mut con, &["LSET", "m", index, "__del__"]);
            }
            reply(&mut con, theirs);
            assert_eq!(lrange(&mut con, "l"), lrange(&mut con, "m"), "{n} {index}");
        }
        same(
            &mut con,
            &["rmtest.ka.ldel", "l", "99"],
            &["LSET", "l", "99", "x"],
            n,
        );
        assert_eq!(
            reply(&mut con, &["rmtest.ka.ldel", "none", "0"]),
            "ERR no such key",
            "{n}"
        );
        let len: i64 = reply(&mut con, &["LLEN", "l"]).parse().unwrap();
        for _ in 0..len {
            assert_eq!(
                reply(&mut con, &["rmtest.ka.ldel", "l", "-1"]),
                "+OK",
                "{n}"
            );
        }
        assert_eq!(
            reply(&mut con, &["EXISTS", "l"]),
            "0",
            "{n}: the last delete deleted the key"
        );
        // Deleting in the middle of a large list, then reading around it.
        assert_eq!(
            reply(&mut con, &["rmtest.ka.ldel", "big", "500"]),
            "+OK",
            "{n}"
        );
        reply(&mut con, &["LSET", "big", "500", "__gone__"]);
        assert_eq!(
            reply(&mut con, &["LREM", "big", "1", "__gone__"]),
            "1",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["LLEN", "big"]), "998", "{n}");
        for index in ["499", "500", "501", "-1"] {
            same(
                &mut con,
                &["rmtest.ka.lget", "big", index],
                &["LINDEX", "big", index],
                n,
            );
        }

        // Wrong types.
        reply(&mut con, &["SET", "str", "v"]);
        for ours in [
            &["rmtest.ka.lget", "str", "0"][..],
            &["rmtest.ka.lset", "str", "0", "v"],
            &["rmtest.ka.linsert", "str", "0", "v"],
            &["rmtest.ka.ldel", "str", "0"],
        ] {
            assert!(
                reply(&mut con, ours).starts_with("WRONGTYPE"),
                "{n}: {ours:?}"
            );
        }
        assert_eq!(reply(&mut con, &["GET", "str"]), "\"v\"", "{n}");
    }
}

/// Scores of every kind: infinities, negatives, ties (ordered by member), fractions.
const SCORES: [(&str, &str); 10] = [
    ("-inf", "m0"),
    ("-1.5", "m1"),
    ("0", "m2"),
    ("0", "m3"),
    ("1", "m4"),
    ("2.5", "m5"),
    ("2.5", "m6"),
    ("3", "m7"),
    ("10", "m8"),
    ("+inf", "m9"),
];

fn fill_zsets(con: &mut redis::Connection) {
    let mut small = vec!["ZADD", "z"];
    for (score, member) in SCORES {
        small.extend([score, member]);
    }
    reply(con, &small);
    // A skiplist (past the listpack limit of 128).
    let big: Vec<String> = (0..300)
        .flat_map(|i| [(i / 3).to_string(), format!("b{i:03}")])
        .collect();
    let mut zadd = vec!["ZADD", "big"];
    zadd.extend(big.iter().map(String::as_str));
    reply(con, &zadd);
    // Lex ranges want equal scores.
    let mut lex = vec!["ZADD", "lx"];
    let members: Vec<String> = ('a'..='z')
        .map(|c| c.to_string())
        .chain(["ab".into(), "b\0".into(), "".into()])
        .collect();
    for member in &members {
        lex.extend(["0", member.as_str()]);
    }
    reply(con, &lex);
    let mut big_lex = vec!["ZADD", "biglx"];
    let members: Vec<String> = (0..200).map(|i| format!("w{i:03}")).collect();
    for member in &members {
        big_lex.extend(["0", member.as_str()]);
    }
    reply(con, &big_lex);
}

#[test]
fn zset_score_lex_and_rank_ranges_match_the_server() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.as_str();
        fill_zsets(&mut con);
        assert_eq!(
            reply(&mut con, &["OBJECT", "ENCODING", "big"]),
            "\"skiplist\"",
            "{n}"
        );

        for key in ["z", "big", "none"] {
            for (min, max) in [
                ("-inf", "+inf"),
                ("0", "2.5"),
                ("(0", "2.5"),
                ("0", "(2.5"),
                ("(0", "(0"),
                ("(-inf", "(+inf"),
                ("5", "1"),
                ("11", "+inf"),
                ("-inf", "-inf"),
                ("10", "10"),
                ("1e1", "3e1"),
            ] {
                let ours = scored(&mut con, &["rmtest.ka.zscore", key, min, max]);
                let theirs = scored(&mut con, &["ZRANGEBYSCORE", key, min, max, "WITHSCORES"]);
                assert_eq!(ours, theirs, "{n} {key} {min} {max}");
                let ours = scored(&mut con, &["rmtest.ka.zscore", key, min, max, "REV"]);
                let theirs = scored(&mut con, &["ZREVRANGEBYSCORE", key, max, min, "WITHSCORES"]);
                assert_eq!(ours, theirs, "{n} {key} {min} {max} REV");
            }
        }
        for (min, max) in [("x", "1"), ("1", "(y"), ("nan", "1")] {
            same(
                &mut con,
                &["rmtest.ka.zscore", "z", min, max],
                &["ZRANGEBYSCORE", "z", min, max],
                n,
            );
        }

        for key in ["lx", "biglx", "none"] {
            for (min, max) in [
                ("-", "+"),
                ("[b", "[f"),
                ("(b", "(f"),
                ("[a", "(b"),
                ("[f", "[b"),
                ("[x", "+"),
                ("-", "(c"),
                ("(z", "+"),
                ("[", "[a"),
                ("[w050", "(w100"),
                ("+", "-"),
            ] {
                same(
                    &mut con,
                    &["rmtest.ka.zlex", key, min, max],
                    &["ZRANGEBYLEX", key, min, max],
                    n,
                );
                same(
                    &mut con,
                    &["rmtest.ka.zlex", key, min, max, "REV"],
                    &["ZREVRANGEBYLEX", key, max, min],
                    n,
                );
            }
        }
        for (min, max) in [("a", "[b"), ("[a", "b"), ("", "+")] {
            same(
                &mut con,
                &["rmtest.ka.zlex", "lx", min, max],
                &["ZRANGEBYLEX", "lx", min, max],
                n,
            );
        }

        // Ranks: every pair from a grid, both encodings, both directions (which walks from the
        // head or the tail, whichever is nearer).
        let grid = [
            -400, -301, -300, -12, -11, -10, -9, -3, -1, 0, 1, 2, 8, 9, 10, 150, 298, 299, 300,
            1000,
        ];
        for key in ["z", "big", "none"] {
            for start in grid {
                for stop in grid {
                    let (start, stop) = (start.to_string(), stop.to_string());
                    let ours = scored(&mut con, &["rmtest.ka.zrank", key, &start, &stop]);
                    let theirs = scored(&mut con, &["ZRANGE", key, &start, &stop, "WITHSCORES"]);
                    assert_eq!(ours, theirs, "{n} {key} {start} {stop}");
                    let ours = scored(&mut con, &["rmtest.ka.zrank", key, &start, &stop, "REV"]);
                    let theirs = scored(
                        &mut con,
                        &["ZRANGE", key, &start, &stop, "REV", "WITHSCORES"],
                    );
                    assert_eq!(ours, theirs, "{n} {key} {start} {stop} REV");
                }
            }
        }
        let extreme = [i64::MIN.to_string(), i64::MAX.to_string()];
        for start in &extreme {
            for stop in &extreme {
                let ours = scored(&mut con, &["rmtest.ka.zrank", "z", start, stop]);
                let theirs = scored(&mut con, &["ZRANGE", "z", start, stop, "WITHSCORES"]);
                assert_eq!(ours, theirs, "{n} {start} {stop}");
            }
        }

        // Wrong types.
        reply(&mut con, &["RPUSH", "list", "v"]);
        for ours in [
            &["rmtest.ka.zscore", "list", "0", "1"][..],
            &["rmtest.ka.zlex", "list", "-", "+"],
            &["rmtest.ka.zrank", "list", "0", "-1"],
        ] {
            assert!(
                reply(&mut con, ours).starts_with("WRONGTYPE"),
                "{n}: {ours:?}"
            );
        }

        // A key changed under a range: the next step fails.
        let got = reply(&mut con, &["rmtest.ka.zrange.change", "lx", "c"]);
        assert!(
            got.contains("the key changed during the iteration"),
            "{n}: {got}"
        );
        assert_eq!(reply(&mut con, &["ZSCORE", "lx", "c"]), "(nil)", "{n}");

        // A panic with the range live.
        for key in ["z", "big"] {
            let got = reply(&mut con, &["rmtest.ka.zrange.panic", key]);
            assert!(got.starts_with("ERR panic: zset boom at"), "{n}: {got}");
            assert_eq!(reply(&mut con, &["PING"]), "+PONG", "{n}");
        }
        let ours = scored(&mut con, &["rmtest.ka.zrank", "z", "0", "-1"]);
        assert_eq!(
            ours,
            scored(&mut con, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
            "{n}"
        );
    }
}
