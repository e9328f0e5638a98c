//! Module data types on real servers, through the `rmtest` fixture's `rmtest-ty` (`Sample`:
//! every callback, encoding versions 1 and 2, aux data) and `rmtest-mn` (`Minimal`: only the
//! required callbacks). DUMP payloads are built byte by byte here to check the RDB encoding
//! exactly and to feed the loaders corrupt data.

mod common;

use std::path::Path;

use common::{Server, ServerKind, dump, rdb_len, reply, reply_bin, run, servers, wait_for};
use redis::Value;

/// Every server here runs with DEBUG enabled (DEBUG RELOAD, DEBUG DIGEST-VALUE).
fn start(kind: &ServerKind, extra: &[&str]) -> Server {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    Server::start(kind, &["rmtest"], &args)
}

fn restore(con: &mut redis::Connection, key: &str, payload: &[u8]) -> String {
    reply_bin(con, &[b"restore", key.as_bytes(), b"0", payload])
}

fn int(con: &mut redis::Connection, args: &[&str]) -> i64 {
    match run(con, args) {
        Ok(Value::Int(n)) => n,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn stat(con: &mut redis::Connection, which: &str) -> i64 {
    int(con, &["rmtest.tstat", which])
}

/// One `field:value` line of INFO.
fn info(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let text = match run(con, &["info", section]) {
        Ok(Value::BulkString(bytes)) => String::from_utf8(bytes).unwrap(),
        Ok(Value::VerbatimString { text, .. }) => text,
        other => panic!("INFO {section}: {other:?}"),
    };
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .trim()
        .to_owned()
}

/// A sample as `RMTEST.TGET` shows it: text, score, ratio, tag, ints.
#[derive(Debug, PartialEq)]
struct Shown {
    text: Vec<u8>,
    score: String,
    ratio: String,
    tag: Vec<u8>,
    ints: Vec<i64>,
}

fn tget(con: &mut redis::Connection, key: &str) -> Option<Shown> {
    let bytes = |v: &Value| match v {
        Value::BulkString(b) => b.clone(),
        other => panic!("not a bulk string: {other:?}"),
    };
    match run(con, &["rmtest.tget", key]).unwrap() {
        Value::Nil => None,
        Value::Array(items) => {
            let [text, score, ratio, tag, Value::Array(ints)] = &items[..] else {
                panic!("unexpected TGET reply {items:?}");
            };
            Some(Shown {
                text: bytes(text),
                score: String::from_utf8(bytes(score)).unwrap(),
                ratio: String::from_utf8(bytes(ratio)).unwrap(),
                tag: bytes(tag),
                ints: ints
                    .iter()
                    .map(|n| match n {
                        Value::Int(n) => *n,
                        other => panic!("not an int: {other:?}"),
                    })
                    .collect(),
            })
        }
        other => panic!("unexpected TGET reply {other:?}"),
    }
}

fn shown(text: &[u8], score: &str, ratio: &str, ints: &[i64]) -> Shown {
    let mut tag = b"tag:".to_vec();
    tag.extend_from_slice(text);
    Shown {
        text: text.to_vec(),
        score: score.into(),
        ratio: ratio.into(),
        tag,
        ints: ints.to_vec(),
    }
}

fn tset(con: &mut redis::Connection, key: &str, text: &[u8], score: &str, ints: &[i64]) {
    let ints: Vec<String> = ints.iter().map(i64::to_string).collect();
    let mut args: Vec<&[u8]> = vec![b"rmtest.tset", key.as_bytes(), text, score.as_bytes()];
    args.extend(ints.iter().map(|n| n.as_bytes()));
    assert_eq!(reply_bin(con, &args), "+OK");
}

// ---- the DUMP format, built by hand ----

/// CRC-64/Jones as Redis computes it for DUMP payloads (reflected, polynomial
/// 0xad93d23594c935a9, init 0, no final xor), bit by bit: small, and checked against the
/// server's own payloads below.
fn crc64(bytes: &[u8]) -> u64 {
    const POLY_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc = 0u64;
    for &byte in bytes {
        crc ^= u64::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY_REFLECTED
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A module type's 64-bit id: 9 name characters of 6 bits, then a 10-bit encoding version.
fn module_id(name: &str, encver: u64) -> u64 {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id = name.bytes().fold(0u64, |id, c| {
        (id << 6) | CHARS.iter().position(|&x| x == c).unwrap() as u64
    });
    (id << 10) | encver
}

/// A module value (RDB_TYPE_MODULE_2) as the server frames it: each saved item is an opcode
/// and its encoding.
struct Payload(Vec<u8>);

impl Payload {
    fn new(name: &str, encver: u64) -> Payload {
        let mut bytes = vec![7]; // RDB_TYPE_MODULE_2
        bytes.extend(rdb_len(module_id(name, encver)));
        Payload(bytes)
    }
    fn unsigned(mut self, n: u64) -> Payload {
        self.0.push(2);
        self.0.extend(rdb_len(n));
        self
    }
    /// SaveSigned writes the two's complement as an unsigned (same opcode).
    fn signed(self, n: i64) -> Payload {
        self.unsigned(n as u64)
    }
    fn float(mut self, x: f32) -> Payload {
        self.0.push(3);
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn double(mut self, x: f64) -> Payload {
        self.0.push(4);
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn string(mut self, s: &[u8]) -> Payload {
        self.0.push(5);
        self.0.extend(rdb_len(s.len() as u64));
        self.0.extend_from_slice(s);
        self
    }
    fn raw(mut self, bytes: &[u8]) -> Payload {
        self.0.extend_from_slice(bytes);
        self
    }
    /// The module EOF, the RDB version and the CRC trailer.
    fn finish(self, rdb_version: [u8; 2]) -> Vec<u8> {
        self.raw(&[0]).unterminated(rdb_version)
    }
    /// The RDB version and CRC trailer without the module EOF.
    fn unterminated(self, rdb_version: [u8; 2]) -> Vec<u8> {
        let mut bytes = self.0;
        bytes.extend_from_slice(&rdb_version);
        let crc = crc64(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }
}

/// A sample's version-2 encoding, as `Sample::rdb_save` writes it.
fn sample_v2(text: &[u8], score: f64, ints: &[i64]) -> Payload {
    let mut payload = Payload::new("rmtest-ty", 2).unsigned(ints.len() as u64);
    for &n in ints {
        payload = payload.signed(n);
    }
    let mut tag = b"tag:".to_vec();
    tag.extend_from_slice(text);
    payload
        .string(text)
        .double(score)
        .float(score as f32)
        .string(&tag)
}

/// The server's RDB version, from the trailer of one of its DUMP payloads.
fn rdb_version(payload: &[u8]) -> [u8; 2] {
    let at = payload.len() - 10;
    [payload[at], payload[at + 1]]
}

// ---- tests ----

#[test]
fn values_are_set_read_changed_in_place_and_typed() {
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        assert_eq!(reply(&mut con, &["rmtest.tget", "k"]), "(nil)", "{k}");
        tset(&mut con, "k", b"hello", "1.5", &[1, 2, i64::MIN, i64::MAX]);
        assert_eq!(
            reply(&mut con, &["rmtest.tget", "k"]),
            "[\"hello\", \"1.5\", \"1.5\", \"tag:hello\", [1, 2, -9223372036854775808, \
             9223372036854775807]]",
            "{k}"
        );
        assert_eq!(reply(&mut con, &["type", "k"]), "+rmtest-ty", "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.tpush", "k", "3", "-4"]),
            "6",
            "{k}"
        );
        assert_eq!(
            tget(&mut con, "k").unwrap().ints,
            vec![1, 2, i64::MIN, i64::MAX, 3, -4],
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.tpush", "nokey", "1"]),
            "ERR no such key",
            "{k}"
        );
        // A read-only key reads the value but refuses mutable access.
        assert_eq!(
            reply(&mut con, &["rmtest.treadonly", "k"]),
            "[6, \"ERR key opened read-only\"]",
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.treadonly", "nokey"]),
            "[-1, \"ERR key opened read-only\"]",
            "{k}"
        );
        // Changing in place keeps the expiry; replacing clears it, as SET does.
        assert_eq!(reply(&mut con, &["pexpire", "k", "100000"]), "1", "{k}");
        assert_eq!(reply(&mut con, &["rmtest.tpush", "k", "5"]), "7", "{k}");
        assert!(int(&mut con, &["pttl", "k"]) > 0, "{k}");
        // Replacing keeps one live value.
        tset(&mut con, "k", b"again", "2", &[]);
        assert_eq!(stat(&mut con, "live"), 1, "{k}");
        assert_eq!(reply(&mut con, &["pttl", "k"]), "-1", "{k}");
        assert_eq!(
            tget(&mut con, "k"),
            Some(shown(b"again", "2", "2", &[])),
            "{k}"
        );
    }
}

#[test]
fn wrongtype_both_ways_and_between_module_types() {
    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "t", b"x", "1", &[1]);
        assert_eq!(reply(&mut con, &["rmtest.mset", "m", "5"]), "+OK", "{k}");
        assert_eq!(reply(&mut con, &["set", "s", "str"]), "+OK", "{k}");
        // The server's own commands on our type.
        assert_eq!(reply(&mut con, &["get", "t"]), WRONGTYPE, "{k}");
        assert_eq!(reply(&mut con, &["lpush", "t", "a"]), WRONGTYPE, "{k}");
        // Our commands on the server's types.
        assert_eq!(reply(&mut con, &["rmtest.tget", "s"]), WRONGTYPE, "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.tset", "s", "x", "1"]),
            WRONGTYPE,
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.tpush", "s", "1"]),
            WRONGTYPE,
            "{k}"
        );
        // Two module types: each is the wrong type for the other.
        assert_eq!(reply(&mut con, &["rmtest.tget", "m"]), WRONGTYPE, "{k}");
        assert_eq!(reply(&mut con, &["rmtest.mget", "t"]), WRONGTYPE, "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.mset", "t", "1"]),
            WRONGTYPE,
            "{k}"
        );
        assert_eq!(reply(&mut con, &["rmtest.mget", "m"]), "5", "{k}");
        assert_eq!(reply(&mut con, &["type", "m"]), "+rmtest-mn", "{k}");
        // Nothing was changed by the refused writes.
        assert_eq!(reply(&mut con, &["get", "s"]), "\"str\"", "{k}");
        assert_eq!(
            tget(&mut con, "t"),
            Some(shown(b"x", "1", "1", &[1])),
            "{k}"
        );
    }
}

#[test]
fn registration_is_checked() {
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        assert_eq!(
            reply(&mut con, &["rmtest.tunregistered", "x"]),
            "ERR data type 'rmtest-lt' is not registered (call ctx.create_data_type in the \
             module's load hook)",
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.tregister", "badname"]),
            "ERR invalid data type name 'bad.name!': it must be exactly 9 characters from A-Z \
             a-z 0-9 - _",
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.tregister", "badversion"]),
            "ERR invalid encoding version 1024 for data type 'rmtest-bv': it must be 0..=1023",
            "{k}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.tregister", "twice"]),
            "ERR data type 'rmtest-ty' is already registered",
            "{k}"
        );
        // After load the SDK refuses, on every server (Redis 7.0 itself would accept it).
        assert_eq!(
            reply(&mut con, &["rmtest.tregister", "late"]),
            "ERR data type 'rmtest-lt' can only be registered while the module loads (call \
             ctx.create_data_type from a Module::on_load hook)",
            "{k}"
        );
        // And it stays unregistered.
        assert_eq!(
            reply(&mut con, &["rmtest.tunregistered", "x"]),
            "ERR data type 'rmtest-lt' is not registered (call ctx.create_data_type in the \
             module's load hook)",
            "{k}"
        );
    }
}

/// The reply of `RMTEST.MVIEW` while a view of the value `n` is held, ending with `then`.
fn mview_answers(n: i64, then: &str) -> String {
    let refused = |what: &str| {
        format!(
            "ERR cannot {what}: a borrowed view of the key's value is still alive (drop it first)"
        )
    };
    let answers = [
        refused("replace the key's value"), // set_value through a second handle
        refused("delete the key"),
        refused("replace the key's value"), // string_set
        refused("borrow the key's value mutably"),
        refused("run a command"), // DEL through ctx.call
        n.to_string(),            // the view still reads the value
        n.to_string(),            // and a second shared view agrees
        // a shared view while the value is lent mutably
        "ERR cannot borrow the key's value: it is borrowed mutably through another key handle \
         (drop that view first)"
            .to_owned(),
        then.to_owned(),
    ];
    format!("[{}]", answers.map(|a| format!("{a:?}")).join(", "))
}

#[test]
fn a_view_keeps_its_module_value_alive_against_other_handles_and_commands() {
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        assert_eq!(reply(&mut con, &["rmtest.mset", "m", "7"]), "+OK", "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.mview", "m", "keep"]),
            mview_answers(7, "kept"),
            "{k}"
        );
        // Nothing was freed or replaced: only the mutable view's increment shows.
        assert_eq!(reply(&mut con, &["rmtest.mget", "m"]), "8", "{k}");
        // With the views gone, the same operations work.
        assert_eq!(
            reply(&mut con, &["rmtest.mview", "m", "set"]),
            mview_answers(8, "ok"),
            "{k}"
        );
        assert_eq!(reply(&mut con, &["rmtest.mget", "m"]), "42", "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.mview", "m", "del"]),
            mview_answers(42, "ok"),
            "{k}"
        );
        assert_eq!(reply(&mut con, &["exists", "m"]), "0", "{k}");
        assert_eq!(reply(&mut con, &["rmtest.mset", "m", "1"]), "+OK", "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.mview", "m", "call"]),
            mview_answers(1, "ok"),
            "{k}"
        );
        assert_eq!(reply(&mut con, &["exists", "m"]), "0", "{k}");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{k}");
    }
}

#[test]
fn debug_reload_round_trips_values_and_aux_data() {
    let long_text = b"a text longer than twenty bytes, compressed by the server".repeat(4);
    let cases: Vec<(&str, Vec<u8>, &str, Vec<i64>)> = vec![
        ("plain", b"hello".to_vec(), "1.5", vec![1, 2, 3]),
        (
            "binary",
            b"a\0b\r\nc".to_vec(),
            "-0.25",
            vec![i64::MIN, 0, i64::MAX],
        ),
        ("numeric", b"12345".to_vec(), "1e300", vec![]),
        ("empty", Vec::new(), "0", vec![-1]),
        ("long", long_text, "inf", (0..300).collect()),
    ];
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        let mut expected = Vec::new();
        for (key, text, score, ints) in &cases {
            tset(&mut con, key, text, score, ints);
            expected.push(tget(&mut con, key).unwrap());
        }
        assert_eq!(expected[1].score, "-0.25", "{k}");
        assert_eq!(expected[4].score, "inf", "{k}");
        // Save with the counter at 42, change it, then load that file: aux data restores it.
        assert_eq!(reply(&mut con, &["rmtest.tcounter", "42"]), "+OK", "{k}");
        assert_eq!(reply(&mut con, &["save"]), "+OK", "{k}");
        assert_eq!(reply(&mut con, &["rmtest.tcounter", "7"]), "+OK", "{k}");
        assert_eq!(
            reply(&mut con, &["debug", "reload", "nosave"]),
            "+OK",
            "{k}"
        );
        assert_eq!(stat(&mut con, "counter"), 42, "{k}");
        assert_eq!(stat(&mut con, "auxbefore"), 1, "{k}");
        assert_eq!(stat(&mut con, "auxafter"), 1, "{k}");
        // The "after" aux record holds the live count at save time.
        assert_eq!(stat(&mut con, "auxaftervalue"), 5, "{k}");
        for ((key, ..), want) in cases.iter().zip(&expected) {
            assert_eq!(tget(&mut con, key).as_ref(), Some(want), "{key} on {k}");
        }
        // Old values were freed (Valkey frees them in the background), loaded ones are
        // alive: one per key.
        wait_for("the old values to be freed", || stat(&mut con, "live") == 5);
        // A save-and-load cycle in one go.
        assert_eq!(reply(&mut con, &["debug", "reload"]), "+OK", "{k}");
        assert_eq!(stat(&mut con, "auxbefore"), 2, "{k}");
        for ((key, ..), want) in cases.iter().zip(&expected) {
            assert_eq!(tget(&mut con, key).as_ref(), Some(want), "{key} on {k}");
        }
        wait_for("the old values to be freed", || stat(&mut con, "live") == 5);
    }
}

#[test]
fn dump_writes_the_exact_encoding_and_restore_reads_it() {
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        let ints = [1, 2, i64::MIN, i64::MAX, -1];
        tset(&mut con, "k", b"hello", "1.5", &ints);
        let payload = dump(&mut con, "k");
        // Our CRC matches the server's trailer.
        let body = &payload[..payload.len() - 8];
        assert_eq!(
            crc64(body).to_le_bytes(),
            payload[payload.len() - 8..],
            "{k}"
        );
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        // Byte for byte what the writer calls produce, in order.
        let version = rdb_version(&payload);
        assert_eq!(
            payload,
            sample_v2(b"hello", 1.5, &ints).finish(version),
            "{k}"
        );
        assert_eq!(restore(&mut con, "k2", &payload), "+OK", "{k}");
        assert_eq!(tget(&mut con, "k2"), tget(&mut con, "k"), "{k}");
        // A payload built here loads too.
        let built = sample_v2(b"built", -2.5, &[7, 8]).finish(version);
        assert_eq!(restore(&mut con, "k3", &built), "+OK", "{k}");
        assert_eq!(
            tget(&mut con, "k3"),
            Some(shown(b"built", "-2.5", "-2.5", &[7, 8])),
            "{k}"
        );
        assert_eq!(stat(&mut con, "live"), 3, "{k}");
    }
}

#[test]
fn each_encoding_version_has_its_loader_and_newer_ones_are_refused() {
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "probe", b"x", "1", &[]);
        let version = rdb_version(&dump(&mut con, "probe"));
        // Version 1 had no ratio and no tag.
        let v1 = Payload::new("rmtest-ty", 1)
            .unsigned(2)
            .signed(5)
            .signed(-6)
            .string(b"old")
            .double(0.5)
            .finish(version);
        assert_eq!(restore(&mut con, "v1", &v1), "+OK", "{k}");
        assert_eq!(
            reply(&mut con, &["rmtest.tget", "v1"]),
            "[\"old\", \"0.5\", \"0\", \"v1\", [5, -6]]",
            "{k}"
        );
        // Saved again, it is written as version 2.
        let resaved = dump(&mut con, "v1");
        assert_eq!(resaved[1..10], Payload::new("rmtest-ty", 2).0[1..10], "{k}");
        // Version 3 is from the future: refused before rdb_load runs.
        let v3 = sample_v2(b"new", 1.0, &[]).0;
        let mut v3 = Payload(v3);
        v3.0.splice(1..10, rdb_len(module_id("rmtest-ty", 3)));
        let v3 = v3.finish(version);
        assert_eq!(restore(&mut con, "v3", &v3), "ERR Bad data format", "{k}");
        assert!(
            server.log().contains(
                "data type 'rmtest-ty': cannot load key 'v3': encoding version 3 is \
                           newer than this module's 2"
            ),
            "{k}"
        );
        assert_eq!(stat(&mut con, "live"), 2, "{k}");
    }
}

#[test]
fn corrupt_payloads_are_load_errors_and_the_server_keeps_serving() {
    for kind in servers() {
        let mut server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "probe", b"x", "1", &[]);
        let version = rdb_version(&dump(&mut con, "probe"));
        let good = || sample_v2(b"hello", 1.5, &[1, 2]);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            // Ends after the double: the float is missing (the loader meets the EOF marker).
            (
                "missing fields",
                Payload::new("rmtest-ty", 2)
                    .unsigned(1)
                    .signed(1)
                    .string(b"t")
                    .double(1.0)
                    .finish(version),
            ),
            // A number where the loader expects a string.
            (
                "wrong kind",
                Payload::new("rmtest-ty", 2)
                    .unsigned(0)
                    .unsigned(99)
                    .double(1.0)
                    .finish(version),
            ),
            // A count of 2^60 elements (must not be trusted for allocation).
            (
                "huge count",
                Payload::new("rmtest-ty", 2)
                    .unsigned(1 << 60)
                    .signed(1)
                    .string(b"t")
                    .finish(version),
            ),
            // A string whose length runs past the end of the payload.
            (
                "cut string",
                Payload::new("rmtest-ty", 2)
                    .unsigned(0)
                    .raw(&[5, 9])
                    .raw(b"tag")
                    .unterminated(version),
            ),
            // An LZF-compressed string whose data does not decompress.
            (
                "bad compression",
                Payload::new("rmtest-ty", 2)
                    .unsigned(0)
                    .raw(&[5, 0xc3, 5, 100])
                    .raw(b"\xff\xff\xff\xff\xff")
                    .finish(version),
            ),
            // Nothing at all after the type id.
            ("empty", Payload::new("rmtest-ty", 2).finish(version)),
            // A valid value followed by one more item: the server expects its EOF marker.
            ("trailing item", good().unsigned(3).finish(version)),
            // A valid value whose EOF marker is missing.
            ("no eof", good().unterminated(version)),
        ];
        for (case, payload) in &cases {
            assert_eq!(
                restore(&mut con, "bad", payload),
                "ERR Bad data format",
                "{case} on {k}"
            );
            assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{case} on {k}");
            assert_eq!(reply(&mut con, &["exists", "bad"]), "0", "{case} on {k}");
        }
        // Loaded-then-rejected values were freed; nothing leaked.
        assert_eq!(stat(&mut con, "live"), 1, "{k}");
        // The server's own check on the trailer still applies.
        let mut bad_crc = good().finish(version);
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(
            restore(&mut con, "bad", &bad_crc),
            "ERR DUMP payload version or checksum are wrong",
            "{k}"
        );
        // And the good payload loads.
        assert_eq!(
            restore(&mut con, "ok", &good().finish(version)),
            "+OK",
            "{k}"
        );
        assert_eq!(
            tget(&mut con, "ok"),
            Some(shown(b"hello", "1.5", "1.5", &[1, 2])),
            "{k}"
        );
        assert!(server.alive(), "{k}");
        assert!(
            server.log().contains(
                "data type 'rmtest-ty': cannot load key 'bad' (encoding version 2): ERR RDB \
                 load error"
            ),
            "{k}"
        );
    }
}

#[test]
fn loaded_strings_are_freed_on_success_and_on_error() {
    for kind in servers() {
        let server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "probe", b"x", "1", &[]);
        let version = rdb_version(&dump(&mut con, "probe"));
        let text: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let good = sample_v2(&text, 1.0, &[1]).finish(version);
        // The big string is loaded, then the float is missing: a load error after the buffer.
        let bad = Payload::new("rmtest-ty", 2)
            .unsigned(0)
            .string(&text)
            .double(1.0)
            .finish(version);
        let used = |con: &mut redis::Connection| -> i64 {
            info(con, "memory", "used_memory").parse().unwrap()
        };
        assert_eq!(restore(&mut con, "k", &good), "+OK", "{k}");
        let before = used(&mut con);
        for _ in 0..100 {
            assert_eq!(
                reply_bin(&mut con, &[b"restore", b"k", b"0", &good, b"replace"]),
                "+OK",
                "{k}"
            );
            assert_eq!(restore(&mut con, "bad", &bad), "ERR Bad data format", "{k}");
        }
        let grown = used(&mut con) - before;
        // A leaked buffer per load would be 100 * 2 * 100 kB = 20 MB.
        assert!(grown < 2_000_000, "{k}: used_memory grew by {grown}");
        assert_eq!(tget(&mut con, "k").unwrap().text, text, "{k}");
        assert_eq!(stat(&mut con, "live"), 2, "{k}");
    }
}

#[test]
fn a_truncated_rdb_file_is_a_load_error() {
    for kind in servers() {
        let mut server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "k", b"MARK-TRUNCATE", "1", &[1, 2, 3]);
        tset(&mut con, "other", b"x", "1", &[]);
        assert_eq!(reply(&mut con, &["save"]), "+OK", "{k}");
        let file = server.dir().join("dump.rdb");
        let bytes = std::fs::read(&file).unwrap();
        let at = bytes
            .windows(13)
            .position(|w| w == b"MARK-TRUNCATE")
            .expect("marker in the RDB file");
        std::fs::write(&file, &bytes[..at + 4]).unwrap();
        // The loader reports the short read instead of the server aborting; the server
        // answers with its load error and keeps serving (with an empty dataset).
        assert_eq!(
            reply(&mut con, &["debug", "reload", "nosave"]),
            if !kind.since_7_2() {
                "ERR Error trying to load the RDB dump"
            } else {
                "ERR Error trying to load the RDB dump, check server logs."
            },
            "{k}"
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{k}");
        // What stays loaded is the server's choice (Redis 7.0 keeps the keys read before the
        // error, Valkey empties the dataset); the value that failed was not leaked.
        let keys = int(&mut con, &["dbsize"]);
        wait_for("every live value to be a key", || {
            stat(&mut con, "live") == keys
        });
        assert!(server.alive(), "{k}");
        let log = server.log();
        assert!(
            log.contains(
                "data type 'rmtest-ty': cannot load key 'k' (encoding version 2): ERR RDB load \
                 error"
            ),
            "{k}: {log}"
        );
        assert!(log.contains("Short read"), "{k}: {log}");
        assert!(!log.contains("crashed by signal"), "{k}: {log}");
        assert!(!log.contains("Guru Meditation"), "{k}: {log}");
        assert!(!log.contains("panicked"), "{k}: {log}");
    }
}

#[test]
fn copy_duplicates_or_fails_cleanly() {
    for kind in servers() {
        let mut server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "a", b"orig", "3.25", &[1, 2]);
        assert_eq!(reply(&mut con, &["copy", "a", "b"]), "1", "{k}");
        assert_eq!(stat(&mut con, "copies"), 1, "{k}");
        assert_eq!(stat(&mut con, "live"), 2, "{k}");
        // Independent copies.
        assert_eq!(reply(&mut con, &["rmtest.tpush", "b", "3"]), "3", "{k}");
        assert_eq!(tget(&mut con, "a").unwrap().ints, vec![1, 2], "{k}");
        assert_eq!(
            tget(&mut con, "b"),
            Some(shown(b"orig", "3.25", "3.25", &[1, 2, 3])),
            "{k}"
        );
        assert_eq!(reply(&mut con, &["copy", "a", "b"]), "0", "{k}");
        assert_eq!(reply(&mut con, &["copy", "a", "b", "replace"]), "1", "{k}");
        assert_eq!(tget(&mut con, "b").unwrap().ints, vec![1, 2], "{k}");
        assert_eq!(stat(&mut con, "live"), 2, "{k}");
        // copy() returning None, the default (Minimal), and a panic: one clean error.
        tset(&mut con, "n", b"nocopy", "1", &[]);
        assert_eq!(reply(&mut con, &["rmtest.mset", "m", "1"]), "+OK", "{k}");
        tset(&mut con, "p", b"panic:copy", "1", &[]);
        for key in ["n", "m", "p"] {
            assert_eq!(
                reply(&mut con, &["copy", key, "dst"]),
                "ERR module key failed to copy",
                "{key} on {k}"
            );
        }
        assert_eq!(reply(&mut con, &["exists", "dst"]), "0", "{k}");
        assert!(server.alive(), "{k}");
        assert!(
            server
                .log()
                .contains("data type 'rmtest-ty': copy panicked: copy of a sample"),
            "{k}"
        );
    }
}

#[test]
fn memory_usage_counts_what_mem_usage_reports() {
    for kind in servers() {
        let mut server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "a", b"same", "1", &[]);
        let ints: Vec<i64> = (0..1000).collect();
        tset(&mut con, "b", b"same", "1", &ints);
        let a = int(&mut con, &["memory", "usage", "a"]);
        let b = int(&mut con, &["memory", "usage", "b"]);
        // Same key length and text: mem_usage differs by exactly 8 bytes per integer (the
        // allocator may round the server's own part of each by a few bytes).
        assert!((8000 - 64..=8000 + 64).contains(&(b - a)), "{k}: {b} - {a}");
        // A panicking mem_usage counts as 0 and the command still answers.
        tset(&mut con, "p", b"panic:mem", "1", &ints);
        let p = int(&mut con, &["memory", "usage", "p"]);
        assert!(p < a, "{k}: {p} vs {a}");
        assert!(server.alive(), "{k}");
    }
}

#[test]
fn digest_value_follows_the_content() {
    for kind in servers() {
        let mut server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        tset(&mut con, "a", b"text", "1", &[1, 2]);
        tset(&mut con, "b", b"text", "1", &[1, 2]);
        tset(&mut con, "c", b"text", "1", &[2, 1]);
        tset(&mut con, "d", b"text", "2", &[1, 2]);
        let digest = |con: &mut redis::Connection, key: &str| {
            let shown = reply(con, &["debug", "digest-value", key]);
            // [+<40 hex digits>]
            let hex = shown
                .strip_prefix("[+")
                .and_then(|rest| rest.strip_suffix(']'))
                .unwrap_or_else(|| panic!("unexpected digest reply {shown}"));
            assert!(
                hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                "{shown}"
            );
            hex.to_owned()
        };
        let a = digest(&mut con, "a");
        assert_eq!(digest(&mut con, "b"), a, "{k}");
        assert_ne!(digest(&mut con, "c"), a, "{k}");
        assert_ne!(digest(&mut con, "d"), a, "{k}");
        assert_eq!(reply(&mut con, &["rmtest.tpush", "b", "3"]), "3", "{k}");
        assert_ne!(digest(&mut con, "b"), a, "{k}");
        // A panicking digest adds nothing more; the command still answers.
        tset(&mut con, "p", b"panic:digest", "1", &[]);
        digest(&mut con, "p");
        assert!(server.alive(), "{k}");
        assert!(
            server
                .log()
                .contains("data type 'rmtest-ty': digest panicked: digest of a sample"),
            "{k}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn wait_rewrite(con: &mut redis::Connection) -> String {
    wait_for("the AOF rewrite to end", || {
        info(con, "persistence", "aof_rewrite_in_progress") == "0"
            && info(con, "persistence", "aof_rewrite_scheduled") == "0"
    });
    info(con, "persistence", "aof_last_bgrewrite_status")
}

#[test]
fn aof_rewrite_emits_commands_that_rebuild_the_values() {
    for kind in servers() {
        let copy = tempfile::tempdir().unwrap();
        let (a, b) = {
            let server = start(
                &kind,
                &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
            );
            let mut con = server.connection();
            let k = kind.name.clone();
            wait_rewrite(&mut con);
            tset(&mut con, "a", b"with space", "2.25", &[1, 2]);
            assert_eq!(
                reply(&mut con, &["rmtest.tpush", "a", "3", "-4"]),
                "4",
                "{k}"
            );
            tset(&mut con, "b", b"bin\0\r\nary", "-1e-5", &[i64::MIN]);
            assert!(
                reply(&mut con, &["bgrewriteaof"]).contains("rewriting"),
                "{k}"
            );
            assert_eq!(wait_rewrite(&mut con), "ok", "{k}");
            // The new base file holds our commands, not the history.
            let aof_dir = server.dir().join("appendonlydir");
            let base = std::fs::read_dir(&aof_dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(".base.aof"))
                .expect("a base AOF file");
            let text = String::from_utf8_lossy(&std::fs::read(base).unwrap()).into_owned();
            assert_eq!(text.matches("rmtest.tset").count(), 2, "{k}: {text}");
            assert!(!text.contains("rmtest.tpush"), "{k}: {text}");
            let values = (tget(&mut con, "a").unwrap(), tget(&mut con, "b").unwrap());
            copy_dir(server.dir(), copy.path());
            values
        };
        // A new server started from that AOF has the same values.
        let dir = copy.path().to_str().unwrap();
        let server = start(&kind, &["--dir", dir, "--appendonly", "yes"]);
        let mut con = server.connection();
        let k = kind.name.clone();
        assert_eq!(tget(&mut con, "a"), Some(a), "{k}");
        assert_eq!(tget(&mut con, "b"), Some(b), "{k}");
        assert_eq!(stat(&mut con, "live"), 2, "{k}");
    }
}

#[test]
fn aof_rewrite_fails_loudly_when_a_type_cannot_rewrite() {
    for kind in servers() {
        let mut server = start(
            &kind,
            &["--appendonly", "yes", "--aof-use-rdb-preamble", "no"],
        );
        let mut con = server.connection();
        let k = kind.name.clone();
        wait_rewrite(&mut con);
        // Minimal keeps the default aof_rewrite: the rewrite fails instead of dropping the key.
        assert_eq!(reply(&mut con, &["rmtest.mset", "m", "1"]), "+OK", "{k}");
        assert_eq!(
            reply(&mut con, &["bgrewriteaof"]),
            "+Background append only file rewriting started"
        );
        assert_eq!(wait_rewrite(&mut con), "err", "{k}");
        assert_eq!(reply(&mut con, &["del", "m"]), "1", "{k}");
        // A panicking aof_rewrite fails it the same way.
        tset(&mut con, "p", b"panic:aof", "1", &[]);
        assert_eq!(
            reply(&mut con, &["bgrewriteaof"]),
            "+Background append only file rewriting started"
        );
        assert_eq!(wait_rewrite(&mut con), "err", "{k}");
        assert_eq!(reply(&mut con, &["del", "p"]), "1", "{k}");
        // With the value gone, the rewrite works again.
        tset(&mut con, "ok", b"fine", "1", &[]);
        assert_eq!(
            reply(&mut con, &["bgrewriteaof"]),
            "+Background append only file rewriting started"
        );
        assert_eq!(wait_rewrite(&mut con), "ok", "{k}");
        assert!(server.alive(), "{k}");
        let log = server.log();
        assert!(
            log.contains(
                "data type 'rmtest-mn': aof_rewrite of key 'm': ERR this type cannot rewrite \
                 itself as commands; use aof-use-rdb-preamble yes"
            ),
            "{k}"
        );
        assert!(
            log.contains("data type 'rmtest-ty': aof_rewrite panicked: aof_rewrite of a sample"),
            "{k}"
        );
    }
}

#[test]
fn drop_unlink_and_free_effort() {
    for kind in servers() {
        // Valkey 8+ frees DEL'd values lazily by default; ask both for the classic DEL.
        let mut server = start(&kind, &["--lazyfree-lazy-user-del", "no"]);
        let mut con = server.connection();
        let k = kind.name.clone();
        let big: Vec<i64> = (0..1000).collect();
        tset(&mut con, "small", b"x", "1", &[1]);
        tset(&mut con, "big", b"x", "1", &big);
        tset(&mut con, "big2", b"x", "1", &big);
        assert_eq!(stat(&mut con, "live"), 3, "{k}");
        // DEL frees at once, on the main thread; the unlink callback runs first.
        assert_eq!(reply(&mut con, &["del", "small", "big"]), "2", "{k}");
        assert_eq!(stat(&mut con, "live"), 1, "{k}");
        assert_eq!(stat(&mut con, "unlinks"), 2, "{k}");
        assert_eq!(stat(&mut con, "offmain"), 0, "{k}");
        // UNLINK of a value whose free effort is above the threshold: freed in the background.
        assert_eq!(reply(&mut con, &["unlink", "big2"]), "1", "{k}");
        assert_eq!(stat(&mut con, "unlinks"), 3, "{k}");
        wait_for("the lazy free", || stat(&mut con, "live") == 0);
        assert_eq!(stat(&mut con, "offmain"), 1, "{k}");
        // A small value is freed at once even by UNLINK.
        tset(&mut con, "small", b"x", "1", &[1]);
        assert_eq!(reply(&mut con, &["unlink", "small"]), "1", "{k}");
        assert_eq!(stat(&mut con, "live"), 0, "{k}");
        // FLUSHALL ASYNC frees everything on the background thread.
        tset(&mut con, "a", b"x", "1", &[]);
        tset(&mut con, "b", b"x", "1", &[]);
        assert_eq!(reply(&mut con, &["flushall", "async"]), "+OK", "{k}");
        wait_for("the async flush", || stat(&mut con, "live") == 0);
        assert_eq!(stat(&mut con, "offmain"), 3, "{k}");
        // Overwriting frees the old value.
        tset(&mut con, "a", b"x", "1", &[]);
        tset(&mut con, "a", b"y", "1", &[]);
        assert_eq!(stat(&mut con, "live"), 1, "{k}");
        assert_eq!(stat(&mut con, "unlinks"), 5, "{k}");
        // Panics in free_effort, unlink and Drop: logged, the key is gone, the server serves.
        for case in ["effort", "unlink", "drop"] {
            let text = format!("panic:{case}");
            tset(&mut con, "p", text.as_bytes(), "1", &big);
            assert_eq!(reply(&mut con, &["unlink", "p"]), "1", "{case} on {k}");
            assert_eq!(reply(&mut con, &["exists", "p"]), "0", "{case} on {k}");
            wait_for("the free", || stat(&mut con, "live") == 1);
        }
        assert!(server.alive(), "{k}");
        // The background free thread logs after the value is gone: wait for the lines.
        for line in [
            "free_effort panicked: free_effort of a sample",
            "unlink panicked: unlink of a sample",
            "free (Drop) panicked: drop of a sample",
        ] {
            wait_for(&format!("'{line}' in the log on {k}"), || {
                server.log().contains(line)
            });
        }
    }
}

#[test]
fn panics_in_rdb_save_and_load_never_reach_the_server() {
    for kind in servers() {
        let mut server = start(&kind, &[]);
        let mut con = server.connection();
        let k = kind.name.clone();
        // rdb_load panics: a load error.
        tset(&mut con, "l", b"panic:load", "1", &[]);
        let payload = dump(&mut con, "l");
        assert_eq!(
            restore(&mut con, "l2", &payload),
            "ERR Bad data format",
            "{k}"
        );
        // rdb_save panics in the main process: the payload is cut short, and it fails to load.
        tset(&mut con, "s", b"panic:save", "1", &[1, 2, 3]);
        let payload = dump(&mut con, "s");
        assert_eq!(
            restore(&mut con, "s2", &payload),
            "ERR Bad data format",
            "{k}"
        );
        // In a fork child the save fails and the previous file stays.
        assert_eq!(reply(&mut con, &["del", "s", "l"]), "2", "{k}");
        tset(&mut con, "good", b"x", "1", &[]);
        assert_eq!(reply(&mut con, &["save"]), "+OK", "{k}");
        let file = server.dir().join("dump.rdb");
        let before = std::fs::read(&file).unwrap();
        tset(&mut con, "s", b"panic:save", "1", &[1, 2, 3]);
        assert!(reply(&mut con, &["bgsave"]).contains("started"), "{k}");
        wait_for("the BGSAVE to end", || {
            info(&mut con, "persistence", "rdb_bgsave_in_progress") == "0"
        });
        assert_eq!(
            info(&mut con, "persistence", "rdb_last_bgsave_status"),
            "err",
            "{k}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), before, "{k}");
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{k}");
        assert!(server.alive(), "{k}");
        let log = server.log();
        for line in [
            "data type 'rmtest-ty': rdb_load panicked: rdb_load of a sample",
            "data type 'rmtest-ty': rdb_save panicked: rdb_save of a sample",
            "rdb_save failed in the main process; what it wrote is incomplete",
            "rdb_save failed; ending this fork child with an error",
        ] {
            assert!(log.contains(line), "{line} on {k}");
        }
    }
}

#[test]
fn a_replica_receives_values_and_aux_data() {
    for kind in servers() {
        let primary = start(&kind, &[]);
        let mut con = primary.connection();
        let k = kind.name.clone();
        tset(&mut con, "a", b"first", "1.5", &[1, 2, 3]);
        tset(&mut con, "b", b"bin\0ary", "-2", &[i64::MAX]);
        assert_eq!(reply(&mut con, &["rmtest.mset", "m", "9"]), "+OK", "{k}");
        assert_eq!(reply(&mut con, &["rmtest.tcounter", "42"]), "+OK", "{k}");
        let replica = primary.start_replica_of(&["rmtest"], &["--enable-debug-command", "yes"]);
        let mut rcon = replica.connection();
        for key in ["a", "b"] {
            assert_eq!(tget(&mut rcon, key), tget(&mut con, key), "{key} on {k}");
        }
        assert_eq!(reply(&mut rcon, &["rmtest.mget", "m"]), "9", "{k}");
        // Aux data travels with the full sync.
        assert_eq!(stat(&mut rcon, "counter"), 42, "{k}");
        assert_eq!(stat(&mut rcon, "auxbefore"), 1, "{k}");
        // Later writes replicate as commands.
        assert_eq!(reply(&mut con, &["rmtest.tpush", "a", "4"]), "4", "{k}");
        wait_for("the write to replicate", || {
            tget(&mut rcon, "a").is_some_and(|s| s.ints == [1, 2, 3, 4])
        });
        assert_eq!(
            reply(&mut rcon, &["debug", "digest"]),
            reply(&mut con, &["debug", "digest"]),
            "{k}"
        );
    }
}
