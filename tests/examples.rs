//! The SDK's `examples/` (small complete modules a new author starts from), each loaded into
//! every server of the matrix and run through the transcript its doc comment shows.

mod common;

use common::{Server, reply, servers};

#[test]
fn hello_greets() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["hello"], &[]);
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["HELLO.GREET", "world"]),
            "\"Hello, world!\"",
            "{n}"
        );
        assert!(
            reply(&mut con, &["HELLO.GREET"]).starts_with("ERR wrong number of arguments"),
            "{n}"
        );
    }
}

#[test]
fn counter_survives_reload_and_aof_rewrite() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(
            &kind,
            &["counter"],
            &["--appendonly", "yes", "--enable-debug-command", "yes"],
        );
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["COUNTER.INCRBY", "visits", "5"]),
            "5",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["COUNTER.INCRBY", "visits", "2"]),
            "7",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["TYPE", "visits"]), "+counter-t", "{n}");
        assert_eq!(reply(&mut con, &["DEBUG", "RELOAD"]), "+OK", "{n}");
        assert_eq!(reply(&mut con, &["COUNTER.GET", "visits"]), "7", "{n}");
        // AOF without the RDB preamble: the counter is rewritten as a command.
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "aof-use-rdb-preamble", "no"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["BGREWRITEAOF"]),
            "+Background append only file rewriting started",
            "{n}"
        );
        common::wait_for("the AOF rewrite", || {
            let info = reply(&mut con, &["INFO", "persistence"]);
            info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_last_bgrewrite_status:ok")
        });
        assert_eq!(reply(&mut con, &["DEBUG", "LOADAOF"]), "+OK", "{n}");
        assert_eq!(reply(&mut con, &["COUNTER.GET", "visits"]), "7", "{n}");
        assert_eq!(reply(&mut con, &["COUNTER.GET", "nothing"]), "(nil)", "{n}");
        assert!(
            reply(&mut con, &["COUNTER.INCRBY", "visits", "x"]).starts_with("ERR "),
            "{n}"
        );
        assert_eq!(reply(&mut con, &["SET", "s", "v"]), "+OK");
        assert!(
            reply(&mut con, &["COUNTER.GET", "s"]).starts_with("WRONGTYPE"),
            "{n}"
        );
    }
}

#[test]
fn background_sums_off_the_main_thread() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["background"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["BG.SUM", "1", "2", "3"]), "6", "{n}");
        // While one client waits for a slow sum, another is served at once.
        assert_eq!(
            reply(&mut con, &["CONFIG", "SET", "background.delay-ms", "1000"]),
            "+OK"
        );
        let port = server.port;
        let slow = std::thread::spawn(move || {
            let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                .unwrap()
                .get_connection()
                .unwrap();
            let started = std::time::Instant::now();
            let sum = reply(&mut con, &["BG.SUM", "40", "2"]);
            (sum, started.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        let started = std::time::Instant::now();
        assert_eq!(reply(&mut con, &["PING"]), "+PONG", "{n}");
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{n}"
        );
        let (sum, took) = slow.join().unwrap();
        assert_eq!(sum, "42", "{n}");
        assert!(
            took >= std::time::Duration::from_millis(1000),
            "{n}: {took:?}"
        );
        assert!(
            reply(&mut con, &["BG.SUM", "9223372036854775807", "1"])
                .starts_with("ERR the sum overflows"),
            "{n}"
        );
    }
}
