//! Fuzzing the json module's RDB loader through the server: `RESTORE` of generated and mutated
//! `ReJSON-RL` payloads (with a valid checksum, so the loader itself sees them) must be `OK` with
//! a sound document or `ERR Bad data format` — never a crash, never a half-loaded key. The
//! parser and path engine are fuzzed in `crates/jsondoc` (proptests, cargo-fuzz targets).

mod common;

use common::{Server, rdb_len, reply, servers};

/// RDB_TYPE_MODULE_2, then the 64-bit module id of "ReJSON-RL" (length-encoded, `0x81` + 8
/// bytes big-endian) whose low 10 bits are the encoding version (FACTS.md §1.2).
fn header(encver: u8) -> Vec<u8> {
    let mut bytes = vec![0x07, 0x81, 0x45, 0xe2, 0x52, 0x38, 0xdf, 0x91, 0x2c];
    bytes.push(encver);
    bytes
}

/// A module string item (opcode 5).
fn string_item(text: &[u8]) -> Vec<u8> {
    let mut bytes = vec![5];
    bytes.extend(rdb_len(text.len() as u64));
    bytes.extend_from_slice(text);
    bytes
}

/// A module unsigned item (opcode 2).
fn unsigned_item(n: usize) -> Vec<u8> {
    let mut bytes = vec![2];
    bytes.extend(rdb_len(n as u64));
    bytes
}

/// `body` framed as a DUMP payload of this server: the body, the server's RDB version, CRC-64.
fn seal(body: &[u8], rdb_version: [u8; 2]) -> Vec<u8> {
    const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    let mut bytes = body.to_vec();
    bytes.extend_from_slice(&rdb_version);
    bytes.extend_from_slice(&CRC.checksum(&bytes).to_le_bytes());
    bytes
}

/// SplitMix64: a seeded, reproducible stream of choices (a failing case is re-run by its
/// number; no crate needed for eight lines).
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const SEEDS: &[&[u8]] = &[
    br#"{"a":[1,2.5,"x",null,true]}"#,
    br#"{"s":"h\u00e9\"\\","n":-1.5e300,"i":18446744073709551615,"o":{"z":1,"a":[[],{}]}}"#,
    b"[]",
    b"42",
    br#""just a string""#,
    br#"[[[[[[[[[[{"deep":[1,[2,[3]]]}]]]]]]]]]]"#,
];

/// `text` with a few bytes replaced, inserted or removed.
fn mutate(text: &[u8], choices: &mut Choices) -> Vec<u8> {
    const SYNTAX: &[u8] = b"{}[]\",:0123456789.eE+-tfnul\\ \xff\xc3\x00";
    let mut bytes = text.to_vec();
    for _ in 0..=choices.below(3) {
        let byte = if choices.below(4) == 0 {
            choices.next() as u8
        } else {
            *choices.pick(SYNTAX)
        };
        let at = choices.below(bytes.len() + 1);
        match choices.below(3) {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    bytes
}

/// One generated module body (header included), of a kind chosen by `choices`.
fn body(choices: &mut Choices) -> Vec<u8> {
    let seed = *choices.pick(SEEDS);
    let deep = format!("{}{}", "[".repeat(600), "]".repeat(600));
    let mut bytes;
    match choices.below(7) {
        // Encoding version 3 with mutated JSON text.
        0 | 1 => {
            bytes = header(3);
            bytes.extend(string_item(&mutate(seed, choices)));
            bytes.push(0);
        }
        // Any encoding version 0..=7 with valid text.
        2 => {
            bytes = header(choices.below(8) as u8);
            bytes.extend(string_item(seed));
            bytes.push(0);
        }
        // Version 2: text, then a count with 0..3 strings after it.
        3 => {
            bytes = header(2);
            bytes.extend(string_item(seed));
            let count = choices.below(3);
            bytes.extend(unsigned_item(choices.below(2) * (1 + choices.below(3))));
            for _ in 0..count {
                bytes.extend(string_item(b"idx"));
            }
            bytes.push(0);
        }
        // A valid payload cut short, or with random items after the string.
        4 => {
            bytes = header(3);
            bytes.extend(string_item(seed));
            if choices.below(2) == 0 {
                let keep = 10 + choices.below(bytes.len() - 9);
                bytes.truncate(keep);
            } else {
                for _ in 0..=choices.below(2) {
                    match choices.below(3) {
                        0 => bytes.extend(unsigned_item(choices.below(100))),
                        1 => bytes.extend(string_item(b"x")),
                        _ => bytes.push(choices.below(8) as u8),
                    }
                }
                bytes.push(0);
            }
        }
        // Random bytes after the header, or a valid payload with bytes flipped anywhere.
        5 => {
            bytes = header(3);
            if choices.below(2) == 0 {
                let len = choices.below(40);
                bytes.extend((0..len).map(|_| choices.next() as u8));
            } else {
                bytes.extend(string_item(seed));
                bytes.push(0);
                let at = 10 + choices.below(bytes.len() - 10);
                bytes[at] ^= 1 << choices.below(8);
            }
        }
        // Nesting deeper than any input limit (the loader's own limit must hold).
        _ => {
            bytes = header(3);
            bytes.extend(string_item(deep.as_bytes()));
            bytes.push(0);
        }
    }
    bytes
}

#[test]
fn restore_of_generated_payloads_is_ok_or_bad_data_never_a_crash() {
    const CASES: u64 = 400;
    for kind in servers() {
        let mut server = Server::start(&kind, &["json"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["json.set", "k", "[1]"]), "+OK");
        let dump: Vec<u8> = redis::cmd("dump").arg("k").query(&mut con).unwrap();
        let rdb_version = [dump[dump.len() - 10], dump[dump.len() - 9]];
        let (mut loaded, mut refused) = (0, 0);
        for case in 0..CASES {
            let mut choices = Choices(case);
            let payload = seal(&body(&mut choices), rdb_version);
            let answer = redis::cmd("restore")
                .arg("r")
                .arg(0)
                .arg(&payload)
                .arg("replace")
                .query::<redis::Value>(&mut con);
            let shown = match answer {
                Ok(value) => common::show(&value),
                Err(error) => format!(
                    "{} {}",
                    error.code().unwrap_or("?"),
                    error.detail().unwrap_or("")
                ),
            };
            match shown.as_str() {
                "+OK" => {
                    loaded += 1;
                    // A loaded document is sound: valid JSON that dumps and restores again.
                    let text = reply(&mut con, &["json.get", "r"]);
                    let json: String = redis::cmd("json.get").arg("r").query(&mut con).unwrap();
                    assert!(
                        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
                        "case {case} on {}: loaded {text}",
                        kind.name
                    );
                    let again: Vec<u8> = redis::cmd("dump").arg("r").query(&mut con).unwrap();
                    let restored: redis::Value = redis::cmd("restore")
                        .arg("r")
                        .arg(0)
                        .arg(&again)
                        .arg("replace")
                        .query(&mut con)
                        .unwrap();
                    assert_eq!(common::show(&restored), "+OK");
                    assert_eq!(reply(&mut con, &["json.get", "r"]), text);
                }
                "ERR Bad data format" => refused += 1,
                other => panic!(
                    "case {case} on {}: RESTORE answered {other}; payload {payload:02x?}",
                    kind.name
                ),
            }
        }
        assert!(server.alive(), "{} died", kind.name);
        assert_eq!(reply(&mut con, &["json.get", "k"]), r#""[1]""#);
        // Both outcomes were exercised.
        assert!(
            loaded > CASES / 10 && refused > CASES / 10,
            "{loaded} loaded, {refused} refused"
        );
        let log = server.log();
        assert!(!log.contains("panic"), "{}: {log}", kind.name);
    }
}
