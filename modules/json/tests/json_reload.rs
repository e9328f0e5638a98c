//! 500 generated documents of every shape json stores (deep nesting, long arrays, objects big
//! enough to be indexed, unicode and escapes, numbers at their limits), edited so that their
//! containers grow in place, survive `DEBUG RELOAD` byte for byte on every server. On a Redis
//! built from source (bundled jemalloc) this is what crashed when the allocator served a
//! 16-aligned layout from an 8-aligned size class.

mod common;

use common::{Server, servers};
use serde_json::{Map, Value, json};

/// xorshift64*: the same documents on every run and server.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 10] = [
    "",
    "a",
    "héllo",
    "日本語",
    "tab\there",
    "quote\"back\\slash",
    "emoji 🦀",
    "new\nline",
    "\u{1}ctl",
    "long text long text long text long text long text",
];

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!(rng.below(1000) as i64 - 500),
        // Eighths are exact in binary: they round-trip through any printer.
        4 => json!((rng.below(100_000) as f64 - 50_000.0) / 8.0),
        5 => json!(i64::MAX),
        _ => Value::String(
            WORDS[rng.below(WORDS.len() as u64) as usize].repeat(1 + rng.below(3) as usize),
        ),
    }
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    if depth == 0 || rng.below(3) == 0 {
        return scalar(rng);
    }
    match rng.below(4) {
        0 => Value::Array((0..rng.below(6)).map(|_| value(rng, depth - 1)).collect()),
        1 => Value::Array((0..rng.below(300)).map(|_| scalar(rng)).collect()),
        2 => {
            let len = rng.below(6) as usize;
            object(rng, depth, len)
        }
        // Big enough for an index of its keys (a hash table: 16-aligned allocations).
        _ => {
            let len = 20 + rng.below(200) as usize;
            object(rng, depth, len)
        }
    }
}

/// An object of `len` keys: small ones nest further, big ones (indexed) hold scalars, so a
/// document stays within tens of kilobytes.
fn object(rng: &mut Rng, depth: u32, len: usize) -> Value {
    let mut map = Map::new();
    for i in 0..len {
        let member = if len > 8 {
            scalar(rng)
        } else {
            value(rng, depth - 1)
        };
        map.insert(format!("k{i}_{}", rng.below(1000)), member);
    }
    Value::Object(map)
}

fn document(rng: &mut Rng, i: usize) -> Value {
    match i % 10 {
        // Deep: 100 levels of alternating containers.
        0 => (0..100).fold(scalar(rng), |inner, level| {
            if level % 2 == 0 {
                json!([inner])
            } else {
                json!({ "d": inner })
            }
        }),
        1 => scalar(rng),
        _ => json!({ "id": i, "body": value(rng, 6), "list": [1, 2, 3], "obj": {} }),
    }
}

fn cmd(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn get(con: &mut redis::Connection, key: &str) -> String {
    match cmd(con, &["JSON.GET", key]) {
        redis::Value::BulkString(bytes) => String::from_utf8(bytes).unwrap(),
        other => panic!("JSON.GET {key}: {other:?}"),
    }
}

#[test]
fn five_hundred_varied_documents_survive_debug_reload() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["json"], &["--enable-debug-command", "yes"]);
        let mut con = server.connection();
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let mut stored = Vec::new();
        for i in 0..500 {
            let key = format!("doc:{i}");
            let mut doc = document(&mut rng, i);
            cmd(&mut con, &["JSON.SET", &key, "$", &doc.to_string()]);
            if doc.get("obj").is_some() {
                // Grow containers in place: an object to 64 keys (indexed on the way), the
                // array, a string, a number.
                for k in 0..64 {
                    let path = format!("$.obj.n{k}");
                    cmd(&mut con, &["JSON.SET", &key, &path, &k.to_string()]);
                    doc["obj"][format!("n{k}")] = json!(k);
                }
                cmd(
                    &mut con,
                    &["JSON.ARRAPPEND", &key, "$.list", "4", "\"five\"", "{}"],
                );
                doc["list"]
                    .as_array_mut()
                    .unwrap()
                    .extend([json!(4), json!("five"), json!({})]);
                cmd(&mut con, &["JSON.NUMINCRBY", &key, "$.id", "1000"]);
                doc["id"] = json!(i + 1000);
                cmd(&mut con, &["JSON.DEL", &key, "$.obj.n3"]);
                doc["obj"].as_object_mut().unwrap().remove("n3");
            }
            let text = get(&mut con, &key);
            let read: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(read, doc, "{n}: {key} as stored");
            stored.push((key, text));
        }
        assert_eq!(
            cmd(&mut con, &["DEBUG", "RELOAD"]),
            redis::Value::Okay,
            "{n}"
        );
        for (key, text) in &stored {
            assert_eq!(&get(&mut con, key), text, "{n}: {key} after DEBUG RELOAD");
        }
        assert_eq!(cmd(&mut con, &["DBSIZE"]), redis::Value::Int(500), "{n}");
    }
}
