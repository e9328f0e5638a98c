//! The json module loads every `ReJSON-RL` encoding RedisJSON or valkey-json ever wrote:
//! version 0 (RedisJSON 1.x's node tree, in RDB files and RESTORE payloads), 2 (RedisJSON 2.0)
//! and 3 (2.x to 8.x and valkey-json, tested in `json.rs`), and refuses a broken one with
//! `ERR Bad data format` and a log line naming the key, never a crash.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Server, rdb_len, reply, root, run, servers};

/// RedisJSON's own `backward.rdb` (its test suite's RedisJSON 1.x file), extracted from the
/// suite's tarball in `../shared/compat/` (or `$RS_RM_COMPAT`) at test time; `None` when the
/// tarball is not there.
fn redisjson_backward_rdb(into: &std::path::Path) -> Option<PathBuf> {
    let compat = std::env::var_os("RS_RM_COMPAT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/compat"));
    let tarball = compat.join("redisjson-2.8.19-tests.tar.gz");
    if !tarball.exists() {
        eprintln!(
            "skipping RedisJSON's backward.rdb: {} not found",
            tarball.display()
        );
        return None;
    }
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-O")
        .arg("redisjson-2.8.19/tests/files/backward.rdb")
        .output()
        .expect("tar runs");
    assert!(out.status.success(), "tar: {:?}", out);
    let path = into.join("dump.rdb");
    std::fs::write(&path, out.stdout).unwrap();
    Some(path)
}

#[test]
fn redisjson_1x_rdb_file_loads() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["json"], &[]);
        server.kill();
        if redisjson_backward_rdb(server.dir()).is_none() {
            return;
        }
        server.restart();
        let mut con = server.connection();
        let complex = reply(&mut con, &["json.get", "complex"]);
        let complex: serde_json::Value =
            serde_json::from_str(&serde_json::from_str::<String>(&complex[..]).unwrap()).unwrap();
        assert_eq!(
            complex,
            serde_json::json!({"a":{"b":[{"c":{"d":[1,"2"],"e":null}},true],"a":"a"},"b":1,"c":true,"d":null}),
            "{}",
            kind.name
        );
        assert_eq!(
            reply(&mut con, &["json.get", "simple"]),
            r#""{\"a\":1,\"b\":\"1\",\"c\":true,\"d\":[],\"e\":{},\"f\":null}""#,
            "{}",
            kind.name
        );
        // Saved again, it is version 3, and loads back the same.
        assert_eq!(reply(&mut con, &["save"]), "+OK");
        server.restart();
        let mut con = server.connection();
        let again = reply(&mut con, &["json.get", "complex"]);
        let again: serde_json::Value =
            serde_json::from_str(&serde_json::from_str::<String>(&again[..]).unwrap()).unwrap();
        assert_eq!(again, complex, "{}", kind.name);
    }
}

/// A version-0 value as RedisJSON 1.x saved it (FACTS.md §1.1): type codes and payloads.
enum Node<'a> {
    Null,
    Str(&'a [u8]),
    Double(f64),
    Int(i64),
    Bool(&'a [u8]),
    Object(Vec<(&'a str, Node<'a>)>),
    Array(Vec<Node<'a>>),
    /// A raw type code with nothing after it.
    Code(u64),
    /// A type code, a count and the items, with no member markers (a malformed object).
    Unmarked(u64, Vec<Node<'a>>),
}

fn unsigned(out: &mut Vec<u8>, n: u64) {
    out.push(2);
    out.extend(rdb_len(n));
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(5);
    out.extend(rdb_len(s.len() as u64));
    out.extend_from_slice(s);
}

fn encode(node: &Node, out: &mut Vec<u8>) {
    match node {
        Node::Null => unsigned(out, 0x01),
        Node::Str(s) => {
            unsigned(out, 0x02);
            string(out, s);
        }
        Node::Double(x) => {
            unsigned(out, 0x04);
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        // SaveSigned writes the two's complement with the unsigned opcode.
        Node::Int(n) => {
            unsigned(out, 0x08);
            unsigned(out, *n as u64);
        }
        Node::Bool(spelling) => {
            unsigned(out, 0x10);
            string(out, spelling);
        }
        Node::Object(members) => {
            unsigned(out, 0x20);
            unsigned(out, members.len() as u64);
            for (name, value) in members {
                unsigned(out, 0x80);
                string(out, name.as_bytes());
                encode(value, out);
            }
        }
        Node::Array(items) => {
            unsigned(out, 0x40);
            unsigned(out, items.len() as u64);
            for item in items {
                encode(item, out);
            }
        }
        Node::Code(code) => unsigned(out, *code),
        Node::Unmarked(code, items) => {
            unsigned(out, *code);
            unsigned(out, items.len() as u64);
            for item in items {
                encode(item, out);
            }
        }
    }
}

/// A RESTORE payload of `node` with encoding version `encver`, sealed for this server.
fn payload(node: &Node, encver: u8, rdb_version: [u8; 2]) -> Vec<u8> {
    const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    // RDB_TYPE_MODULE_2 and the 64-bit id of "ReJSON-RL" whose low 10 bits are the version.
    let mut bytes = vec![0x07, 0x81, 0x45, 0xe2, 0x52, 0x38, 0xdf, 0x91, 0x2c, encver];
    encode(node, &mut bytes);
    bytes.push(0); // module EOF
    bytes.extend_from_slice(&rdb_version);
    bytes.extend_from_slice(&CRC.checksum(&bytes).to_le_bytes());
    bytes
}

/// This server's DUMP trailer version (the two bytes before the CRC).
fn rdb_version(con: &mut redis::Connection) -> [u8; 2] {
    run(con, &["set", "probe", "x"]).unwrap();
    let dump: Vec<u8> = redis::cmd("dump").arg("probe").query(con).unwrap();
    [dump[dump.len() - 10], dump[dump.len() - 9]]
}

fn restore(con: &mut redis::Connection, key: &str, payload: &[u8]) -> String {
    let result: redis::Value = match redis::cmd("restore")
        .arg(key)
        .arg(0)
        .arg(payload)
        .query(con)
    {
        Ok(value) => value,
        Err(error) => {
            return format!(
                "{} {}",
                error.code().unwrap_or("?"),
                error.detail().unwrap_or("")
            );
        }
    };
    match result {
        redis::Value::ServerError(e) => format!("{} {}", e.code(), e.details().unwrap_or("")),
        other => common::show(&other),
    }
}

#[test]
fn version_0_payloads_restore_and_broken_ones_are_refused() {
    let document = Node::Object(vec![
        ("s", Node::Str("h\u{e9}\"\\\n".as_bytes())),
        ("n", Node::Double(1.5)),
        ("tiny", Node::Double(1e-7)),
        ("i", Node::Int(-7)),
        ("big", Node::Int(i64::MIN)),
        ("t", Node::Bool(b"1")),
        ("f", Node::Bool(b"0")),
        ("z", Node::Null),
        (
            "arr",
            Node::Array(vec![Node::Int(1), Node::Str(b"x"), Node::Array(vec![])]),
        ),
        ("o", Node::Object(vec![])),
    ]);
    let expected = r#"{"s":"hé\"\\\n","n":1.5,"tiny":1e-7,"i":-7,"big":-9223372036854775808,"t":true,"f":false,"z":null,"arr":[1,"x",[]],"o":{}}"#;
    let nested = |depth: usize| {
        let mut node = Node::Null;
        for _ in 0..depth {
            node = Node::Array(vec![node]);
        }
        node
    };
    for kind in servers() {
        let server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        let version = rdb_version(&mut con);

        assert_eq!(
            restore(&mut con, "doc", &payload(&document, 0, version)),
            "+OK",
            "{}",
            kind.name
        );
        let got: String = redis::cmd("json.get").arg("doc").query(&mut con).unwrap();
        assert_eq!(got, expected, "{}", kind.name);
        // Written back as version 3, RedisJSON 2.x's format.
        let dump: Vec<u8> = redis::cmd("dump").arg("doc").query(&mut con).unwrap();
        assert_eq!(dump[9], 3, "{}", kind.name);
        // A scalar root, and the deepest nesting the module loads (512, as for version 3).
        assert_eq!(
            restore(
                &mut con,
                "scalar",
                &payload(&Node::Str(b"just"), 0, version)
            ),
            "+OK"
        );
        assert_eq!(reply(&mut con, &["json.get", "scalar"]), r#""\"just\"""#);
        assert_eq!(
            restore(&mut con, "deep", &payload(&nested(512), 0, version)),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["json.type", "deep", "$..[0][0][0]"])
                .matches("array")
                .count(),
            509
        );

        // Broken payloads: refused whole, the key absent, the server alive, a log line.
        let broken: [(&str, Node, &str); 7] = [
            ("too-deep", nested(513), "deeper than this module loads"),
            (
                "bad-code",
                Node::Array(vec![Node::Code(0x03)]),
                "unknown type code 0x3",
            ),
            ("bad-bool", Node::Bool(b"yes"), "boolean spelled \"yes\""),
            (
                "bad-member",
                Node::Unmarked(0x20, vec![Node::Null]),
                "where an object member",
            ),
            ("nan", Node::Double(f64::NAN), "which JSON cannot express"),
            ("bad-utf8", Node::Str(b"\xff\xfe"), "utf-8"),
            ("short", Node::Code(0x20), ""),
        ];
        for (key, node, logged) in broken {
            let bytes = payload(&node, 0, version);
            assert_eq!(
                restore(&mut con, key, &bytes),
                "ERR Bad data format",
                "{key} on {}",
                kind.name
            );
            assert_eq!(reply(&mut con, &["exists", key]), "0", "{key}");
            if !logged.is_empty() {
                let log = server.log().to_lowercase();
                assert!(
                    log.contains(&logged.to_lowercase()),
                    "{key} on {}: no log line with {logged:?}:\n{log}",
                    kind.name
                );
            }
        }
        // Version 1 was never written by anyone: refused with a line saying what loads.
        assert_eq!(
            restore(&mut con, "v1", &payload(&Node::Null, 1, version)),
            "ERR Bad data format"
        );
        assert!(
            server
                .log()
                .contains("this module loads versions 0, 2 and 3"),
            "{}",
            kind.name
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG");
    }
}
