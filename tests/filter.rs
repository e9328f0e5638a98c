//! Command filters on real servers, through the `rmtest` fixture: rewriting the command name,
//! inserting, deleting, out-of-range edits, a panicking filter, a filter registered and
//! unregistered at run time (not applied to the module's own calls), and the client id.

mod common;

use common::{Server, reply, servers};

#[test]
fn filters_rewrite_commands() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        // The command name rewritten: the server runs SET.
        assert_eq!(
            reply(&mut con, &["rmtest.filtered-set", "k", "v"]),
            "+OK",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["get", "k"]), "\"v\"", "{n}");
        let cases: &[(&[&str], &str)] = &[
            (
                &["append", "a", "b"],
                "[\"rmtest.echo\", \"append\", \"a\", \"b\", \"appended\"]",
            ),
            (
                &["front", "a"],
                "[\"rmtest.echo\", \"front\", \"front\", \"a\"]",
            ),
            (&["drop", "a"], "[\"rmtest.echo\", \"a\"]"),
            (
                &["range", "a"],
                "[\"rmtest.echo\", \"refused true true true\", \"a\"]",
            ),
            // Other arguments and other commands are left alone.
            (&["other", "a"], "[\"rmtest.echo\", \"other\", \"a\"]"),
        ];
        for (args, expected) in cases {
            let mut full = vec!["rmtest.echo"];
            full.extend_from_slice(args);
            assert_eq!(reply(&mut con, &full), *expected, "{args:?} on {n}");
        }
        assert_eq!(reply(&mut con, &["echo", "append"]), "\"append\"", "{n}");
        // The module's own calls are filtered too (registered without NO_SELF).
        assert_eq!(
            reply(&mut con, &["rmtest.call", "-", "rmtest.echo", "append"]),
            "\"[\\\"rmtest.echo\\\", \\\"append\\\", \\\"appended\\\"]\"",
            "{n}"
        );
    }
}

#[test]
fn a_panicking_filter_leaves_the_command_as_it_was() {
    for kind in servers() {
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        for _ in 0..20 {
            assert_eq!(
                reply(&mut con, &["rmtest.echo", "panic", "a", "b"]),
                "[\"rmtest.echo\", \"panic\", \"a\", \"b\"]",
                "{n}"
            );
        }
        assert!(server.alive(), "{n}");
        assert!(
            server
                .log()
                .contains("command filter panicked: filter boom"),
            "{n}"
        );
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}

#[test]
fn filters_register_and_unregister_at_run_time() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        let untouched = "[\"rmtest.echo\", \"toggle\"]";
        let toggled = "[\"rmtest.echo\", \"toggled\"]";
        assert_eq!(
            reply(&mut con, &["rmtest.echo", "toggle"]),
            untouched,
            "{n}"
        );
        assert_eq!(reply(&mut con, &["rmtest.filter.toggle", "on"]), "+OK");
        assert_eq!(reply(&mut con, &["rmtest.echo", "toggle"]), toggled, "{n}");
        // Registered with NO_SELF: the module's own calls are not filtered by it.
        assert_eq!(
            reply(&mut con, &["rmtest.call", "-", "rmtest.echo", "toggle"]),
            "\"[\\\"rmtest.echo\\\", \\\"toggle\\\"]\"",
            "{n}"
        );
        assert_eq!(reply(&mut con, &["rmtest.filter.toggle", "off"]), "+OK");
        assert_eq!(
            reply(&mut con, &["rmtest.echo", "toggle"]),
            untouched,
            "{n}"
        );
        // Again, to see a second registration work after an unregistration.
        assert_eq!(reply(&mut con, &["rmtest.filter.toggle", "on"]), "+OK");
        assert_eq!(reply(&mut con, &["rmtest.echo", "toggle"]), toggled, "{n}");
        assert_eq!(reply(&mut con, &["rmtest.filter.toggle", "off"]), "+OK");
    }
}

#[test]
fn the_client_id_where_the_server_has_it() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let n = kind.name.clone();
        let available = reply(&mut con, &["rmtest.available", "CommandFilterGetClientId"]);
        let got = reply(&mut con, &["rmtest.echo", "clientid"]);
        if !kind.since_7_2() {
            assert_eq!(available, "0", "Redis before 7.2 lacks it");
            assert_eq!(
                got,
                "[\"rmtest.echo\", \"ERR RedisModule_CommandFilterGetClientId is not available \
                 on this server version\"]"
            );
        } else {
            assert_eq!(available, "1", "{n}");
            let id = reply(&mut con, &["client", "id"]);
            assert_eq!(got, format!("[\"rmtest.echo\", \"{id}\"]"), "{n}");
        }
    }
}
