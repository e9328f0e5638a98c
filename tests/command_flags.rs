//! Command flags given as a typed set (`CommandFlags::WRITE | …`) and as the server's words
//! (`"write deny-oom fast"`) reach the server alike: `COMMAND INFO` shows them; a word the
//! server does not know fails the load, naming the command and its flags.

mod common;

use common::{Server, reply, servers};

/// The flags `COMMAND INFO` shows for `command` (its third field), sorted.
fn info_flags(con: &mut redis::Connection, command: &str) -> Vec<String> {
    let info = common::run(con, &["command", "info", command]).unwrap();
    let redis::Value::Array(commands) = info else {
        panic!("{info:?}")
    };
    let Some(redis::Value::Array(fields)) = commands.first() else {
        panic!("{command}: {commands:?}")
    };
    let redis::Value::Array(flags) = &fields[2] else {
        panic!("{fields:?}")
    };
    let mut flags: Vec<String> = flags
        .iter()
        .map(|flag| match flag {
            redis::Value::SimpleString(s) => s.clone(),
            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    flags.sort();
    flags
}

#[test]
fn typed_flags_and_words_show_in_command_info() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let typed = info_flags(&mut con, "rmtest.flags.typed");
        assert_eq!(typed, ["denyoom", "fast", "module", "write"], "{n}");
        assert_eq!(info_flags(&mut con, "rmtest.flags.words"), typed, "{n}");
        // Valkey 8.1 renamed the slow log the command log, and the flag with it.
        let skip_log = if kind.valkey && kind.version >= (8, 1, 0) {
            "skip_commandlog"
        } else {
            "skip_slowlog"
        };
        let mut more = [
            "admin", "loading", "module", "no_auth", "noscript", "readonly", skip_log, "stale",
        ];
        more.sort();
        assert_eq!(info_flags(&mut con, "rmtest.flags.more"), more, "{n}");
        assert_eq!(info_flags(&mut con, "rmtest.flags.none"), ["module"], "{n}");
        // And the server acts on them: over maxmemory, `deny-oom` refuses the command.
        assert_eq!(
            reply(&mut con, &["config", "set", "maxmemory", "1"]),
            "+OK",
            "{n}"
        );
        for command in ["rmtest.flags.typed", "rmtest.flags.words"] {
            let answer = reply(&mut con, &[command, "k"]);
            assert!(answer.starts_with("OOM "), "{n}: {command}: {answer}");
        }
        assert_eq!(reply(&mut con, &["rmtest.flags.none", "k"]), "+OK", "{n}");
    }
}

#[test]
fn an_unknown_flag_word_fails_the_load() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &[], &["--enable-module-command", "yes"]);
        let mut con = server.connection();
        let path = common::module("rmtest-badflags");
        let answer = reply(&mut con, &["module", "load", path.to_str().unwrap()]);
        assert!(answer.starts_with("ERR"), "{n}: {answer}");
        // The command registered before the bad one is gone with the module.
        assert_eq!(
            reply(&mut con, &["command", "info", "badflags.good"]),
            "[(nil)]",
            "{n}"
        );
        let log = server.log();
        assert!(
            log.contains(
                "module failed to load: ERR could not register command 'badflags.bad' \
                 (name taken or bad flags 'write bogus-flag')"
            ),
            "{n}: {log}"
        );
    }
}
