//! INFO on real servers, through the `rmtest` fixture: the module's sections and fields in
//! `INFO`, a panicking INFO function, and the server's INFO read from a command.

mod common;

use common::{Server, reply, run, servers, wait_for};

/// `INFO args...` as lines.
fn info(con: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    let mut full = vec!["info"];
    full.extend_from_slice(args);
    match run(con, &full) {
        Ok(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(&bytes)
            .split("\r\n")
            .map(str::to_owned)
            .collect(),
        Ok(redis::Value::VerbatimString { text, .. }) => {
            text.split("\r\n").map(str::to_owned).collect()
        }
        other => panic!("INFO replied {other:?}"),
    }
}

const DEFAULT_SECTION: [&str; 3] = [
    "# rmtest",
    "rmtest_greeting:hello  world",
    "rmtest_crash_report:no",
];

const STATS_SECTION: [&str; 7] = [
    "# rmtest_stats",
    "rmtest_signed:-42",
    "rmtest_unsigned:18446744073709551615",
    "rmtest_ratio:2.5",
    "rmtest_dict:a=1,b=x y z",
    "rmtest_after_dict:yes",
    "",
];

#[test]
fn module_sections_in_info() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        // `INFO <module>`: every section of the module.
        let mut all: Vec<&str> = DEFAULT_SECTION.to_vec();
        all.push("");
        all.extend(STATS_SECTION);
        assert_eq!(info(&mut con, &["rmtest"]), all, "{n}");
        // One section by its full name.
        assert_eq!(info(&mut con, &["rmtest_stats"]), STATS_SECTION, "{n}");
        // `everything` and `modules` include the module's sections; `server` does not.
        for section in ["everything", "modules"] {
            let lines = info(&mut con, &[section]);
            for line in DEFAULT_SECTION.iter().chain(&STATS_SECTION[..6]) {
                assert!(
                    lines.iter().any(|l| l == line),
                    "{line} in INFO {section} on {n}"
                );
            }
        }
        assert!(
            !info(&mut con, &["server"])
                .iter()
                .any(|l| l.contains("rmtest")),
            "{n}"
        );
    }
}

#[test]
fn a_panicking_info_function_is_contained() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        assert_eq!(reply(&mut con, &["rmtest.info.panic", "1"]), "+OK");
        let lines = info(&mut con, &["rmtest"]);
        // What was added before the panic stays; the server keeps serving.
        assert!(
            lines.iter().any(|l| l == "# rmtest_panicky"),
            "{n}: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l == "rmtest_before:1"),
            "{n}: {lines:?}"
        );
        assert!(
            lines.iter().any(|l| l == "rmtest_ratio:2.5"),
            "{n}: {lines:?}"
        );
        assert!(server.alive(), "{n}");
        assert!(
            server.log().contains("INFO callback panicked: info boom"),
            "{n}"
        );
        assert_eq!(reply(&mut con, &["rmtest.info.panic", "0"]), "+OK");
        assert!(
            !info(&mut con, &["rmtest"])
                .iter()
                .any(|l| l.contains("panicky")),
            "{n}"
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}

#[test]
fn server_info_fields() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        let port = server.port.to_string();
        assert_eq!(
            reply(&mut con, &["rmtest.serverinfo", "server", "tcp_port"]),
            format!("[\"{port}\", {port}, \"{port}\", \"{port}\"]"),
            "{n}"
        );
        // A text field: no number.
        let version = info(&mut con, &["server"])
            .into_iter()
            .find_map(|l| l.strip_prefix("redis_version:").map(str::to_owned))
            .expect("redis_version");
        assert_eq!(
            reply(&mut con, &["rmtest.serverinfo", "server", "redis_version"]),
            format!("[\"{version}\", (nil), (nil), (nil)]"),
            "{n}"
        );
        // A double: the number the same snapshot's text holds.
        let fields = match run(
            &mut con,
            &["rmtest.serverinfo", "memory", "mem_fragmentation_ratio"],
        ) {
            Ok(redis::Value::Array(fields)) => fields,
            other => panic!("{n}: {other:?}"),
        };
        let as_text = |value: &redis::Value| match value {
            redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            other => panic!("{n}: {other:?}"),
        };
        let text: f64 = as_text(&fields[0]).parse().expect("a ratio");
        let double: f64 = as_text(&fields[3]).parse().expect("a double");
        assert!(
            text > 0.0 && (text - double).abs() < 1e-9,
            "{n}: {fields:?}"
        );
        assert_eq!(fields[1], redis::Value::Nil, "{n}: not an integer");
        // A field of another section, or no such field: nothing.
        assert_eq!(
            reply(&mut con, &["rmtest.serverinfo", "memory", "tcp_port"]),
            "[(nil), (nil), (nil), (nil)]",
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.serverinfo", "server", "no_such_field"]),
            "[(nil), (nil), (nil), (nil)]",
            "{n}"
        );
    }
}

#[test]
fn the_info_function_writes_into_crash_reports() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &["--enable-debug-command", "yes"]);
        let mut con = server.connection();
        let n = kind.name.clone();
        assert!(run(&mut con, &["debug", "segfault"]).is_err(), "{n}");
        wait_for("the crash report", || {
            !server.alive() && server.log().contains("rmtest_after_dict:yes")
        });
        let log = server.log();
        assert!(log.contains("rmtest_crash_report:yes"), "{n}");
        assert!(log.contains("rmtest_unsigned:18446744073709551615"), "{n}");
    }
}
