//! Module configs on real servers, through the `rmtest` fixture (`tests/fixture/src/config.rs`):
//! startup values, defaults, `CONFIG GET/SET` with the server's checks and the module's
//! validate and apply functions, and a refused startup value refusing the load cleanly.

mod common;

use common::{Server, module, reply, servers};

/// `CONFIG GET pattern` as sorted `name=value` pairs.
fn config_get(con: &mut redis::Connection, pattern: &str) -> Vec<String> {
    let pairs: Vec<(String, String)> = redis::cmd("config")
        .arg("get")
        .arg(pattern)
        .query::<std::collections::HashMap<String, String>>(con)
        .expect("CONFIG GET")
        .into_iter()
        .collect();
    let mut lines: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    lines.sort();
    lines
}

/// What the module sees: `RMTEST.CONFIG name`.
fn seen(con: &mut redis::Connection, name: &str) -> String {
    reply(con, &["rmtest.config", name])
}

#[test]
fn configs_take_their_startup_values() {
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(
            &kind,
            &["rmtest"],
            &[
                "--rmtest.flag",
                "yes",
                "--rmtest.size",
                "42",
                "--rmtest.memory",
                "1mb",
                "--rmtest.name",
                "hello",
                "--rmtest.mode",
                "slow",
                "--rmtest.features",
                "a c",
                "--rmtest.frozen",
                "no",
                "--rmtest.secret",
                "s3cret",
            ],
        );
        let mut con = server.connection();
        assert_eq!(
            config_get(&mut con, "rmtest.*"),
            [
                "rmtest.features=a c",
                "rmtest.flag=yes",
                "rmtest.frozen=no",
                "rmtest.memory=1048576",
                "rmtest.mode=slow",
                "rmtest.name=hello",
                "rmtest.size=42",
            ],
            "{n}: the hidden config is left out of patterns"
        );
        assert_eq!(
            config_get(&mut con, "rmtest.secret"),
            ["rmtest.secret=s3cret"]
        );
        assert_eq!(seen(&mut con, "flag"), "1", "{n}");
        assert_eq!(seen(&mut con, "size"), "42", "{n}");
        assert_eq!(seen(&mut con, "memory"), "1048576", "{n}");
        assert_eq!(seen(&mut con, "name"), "\"hello\"", "{n}");
        assert_eq!(seen(&mut con, "mode"), "\"2 Some(\\\"slow\\\")\"", "{n}");
        assert_eq!(seen(&mut con, "features"), "5", "{n}");
        assert_eq!(seen(&mut con, "frozen"), "0", "{n}");
        assert_eq!(seen(&mut con, "secret"), "\"s3cret\"", "{n}");
        // Loading does not run apply functions.
        assert_eq!(seen(&mut con, "applies"), "0", "{n}");
    }
}

#[test]
fn configs_start_at_their_defaults() {
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(
            config_get(&mut con, "rmtest.*"),
            [
                "rmtest.features=a",
                "rmtest.flag=no",
                "rmtest.frozen=yes",
                "rmtest.memory=1024",
                "rmtest.mode=fast",
                "rmtest.name=none",
                "rmtest.size=10",
            ],
            "{n}"
        );
        assert_eq!(config_get(&mut con, "rmtest.secret"), ["rmtest.secret="]);
        assert_eq!(seen(&mut con, "flag"), "0", "{n}");
        assert_eq!(seen(&mut con, "size"), "10", "{n}");
        assert_eq!(seen(&mut con, "name"), "\"none\"", "{n}");
        assert_eq!(seen(&mut con, "mode"), "\"1 Some(\\\"fast\\\")\"", "{n}");
        assert_eq!(seen(&mut con, "features"), "1", "{n}");
        assert_eq!(seen(&mut con, "frozen"), "1", "{n}");
    }
}

#[test]
fn config_set_goes_through_the_server_then_validate_then_apply() {
    let failed = |name: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let mut set = |name: &str, value: &str| reply(&mut con, &["config", "set", name, value]);

        // Each kind, set and read back on both sides.
        assert_eq!(set("rmtest.size", "7"), "+OK", "{n}");
        assert_eq!(set("rmtest.flag", "yes"), "+OK", "{n}");
        assert_eq!(set("rmtest.memory", "2gb"), "+OK", "{n}");
        assert_eq!(set("rmtest.name", "world"), "+OK", "{n}");
        assert_eq!(set("rmtest.mode", "off"), "+OK", "{n}");
        assert_eq!(set("rmtest.features", "b c"), "+OK", "{n}");
        assert_eq!(set("rmtest.secret", "pw"), "+OK", "{n}");

        // The server's own checks: bounds, booleans, enum names, immutability.
        assert_eq!(
            set("rmtest.size", "5000"),
            failed(
                "rmtest.size",
                "argument must be between 0 and 1000 inclusive"
            ),
            "{n}"
        );
        assert_eq!(
            set("rmtest.flag", "maybe"),
            failed("rmtest.flag", "argument must be 'yes' or 'no'"),
            "{n}"
        );
        assert_eq!(
            set("rmtest.mode", "bogus"),
            failed(
                "rmtest.mode",
                "argument(s) must be one of the following: off, fast, slow"
            ),
            "{n}"
        );
        assert_eq!(
            set("rmtest.frozen", "no"),
            failed("rmtest.frozen", "can't set immutable config"),
            "{n}"
        );
        // The module's validate functions.
        assert_eq!(
            set("rmtest.size", "13"),
            failed("rmtest.size", "13 is unlucky"),
            "{n}"
        );
        assert_eq!(
            set("rmtest.name", "a b"),
            failed("rmtest.name", "no spaces in names"),
            "{n}"
        );
        // The apply function refuses 999 after it was stored: the server restores 7 (and
        // applies again). The server names the config without its prefix here.
        assert_eq!(
            set("rmtest.size", "999"),
            failed("size", "size 999 refused by apply"),
            "{n}"
        );

        // Refused values left the old ones, on both sides.
        assert_eq!(
            config_get(&mut con, "rmtest.*"),
            [
                "rmtest.features=b c",
                "rmtest.flag=yes",
                "rmtest.frozen=yes",
                "rmtest.memory=2147483648",
                "rmtest.mode=off",
                "rmtest.name=world",
                "rmtest.size=7",
            ],
            "{n}"
        );
        assert_eq!(seen(&mut con, "size"), "7", "{n}");
        assert_eq!(seen(&mut con, "flag"), "1", "{n}");
        assert_eq!(seen(&mut con, "memory"), "2147483648", "{n}");
        assert_eq!(seen(&mut con, "name"), "\"world\"", "{n}");
        assert_eq!(seen(&mut con, "mode"), "\"0 Some(\\\"off\\\")\"", "{n}");
        assert_eq!(seen(&mut con, "features"), "6", "{n}");
        assert_eq!(seen(&mut con, "frozen"), "1", "{n}");
        assert_eq!(seen(&mut con, "secret"), "\"pw\"", "{n}");
        // apply ran for 7, for 999, and again for the restored 7.
        assert_eq!(seen(&mut con, "applies"), "3", "{n}");
    }
}

#[test]
fn a_refused_load_time_value_refuses_the_load_and_leaves_nothing_behind() {
    let rmtest = module("rmtest");
    let rmtest = rmtest.to_str().unwrap();
    for kind in servers() {
        let n = kind.name.clone();
        let mut server = Server::start(&kind, &[], &["--enable-module-command", "yes"]);
        let mut con = server.connection();
        let loadex = |con: &mut redis::Connection, size: &str| {
            reply(
                con,
                &["module", "loadex", rmtest, "config", "rmtest.size", size],
            )
        };
        assert!(
            loadex(&mut con, "5000").starts_with("ERR Error loading the extension"),
            "{n}"
        );
        assert!(
            server.log().contains(
                "<rmtest> module failed to load: ERR a module config value given at load time \
                 was refused"
            ),
            "{n}: {}",
            server.log()
        );
        // The failed load subscribed to keyspace, client, flush and cron events in its hooks:
        // none of them may fire into the unloaded library.
        assert_eq!(reply(&mut con, &["set", "k", "v"]), "+OK");
        assert_eq!(reply(&mut con, &["flushall"]), "+OK");
        let mut other = server.connection();
        assert_eq!(reply(&mut other, &["ping"]), "+PONG");
        drop(other);
        std::thread::sleep(std::time::Duration::from_millis(300)); // a few cron ticks
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
        assert!(server.alive(), "{n}");

        // The same module loads with a good value, which it then has.
        assert_eq!(loadex(&mut con, "50"), "+OK", "{n}");
        assert_eq!(
            config_get(&mut con, "rmtest.size"),
            ["rmtest.size=50"],
            "{n}"
        );
        assert_eq!(seen(&mut con, "size"), "50", "{n}");
        // The fixture exports data types, which the server never unloads.
        let unload = reply(&mut con, &["module", "unload", "rmtest"]);
        assert!(unload.contains("can't unload"), "{n}: {unload}");
        assert_eq!(reply(&mut con, &["set", "k", "v"]), "+OK");
        assert!(server.alive(), "{n}");
    }
}

#[test]
fn module_arguments_set_configs() {
    let rmtest = module("rmtest");
    let rmtest = rmtest.to_str().unwrap();
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(
            &kind,
            &[],
            &[
                "--loadmodule",
                rmtest,
                "size",
                "42",
                "rmtest.mode",
                "slow",
                "MEMORY",
                "2mb",
                "--enable-module-command",
                "yes",
            ],
        );
        let mut con = server.connection();
        assert_eq!(
            config_get(&mut con, "rmtest.size"),
            ["rmtest.size=42"],
            "{n}"
        );
        assert_eq!(
            config_get(&mut con, "rmtest.mode"),
            ["rmtest.mode=slow"],
            "{n}"
        );
        assert_eq!(
            config_get(&mut con, "rmtest.memory"),
            ["rmtest.memory=2097152"],
            "{n}"
        );
        assert_eq!(seen(&mut con, "size"), "42", "{n}");
    }
    for kind in servers() {
        let n = kind.name.clone();
        let server = Server::start(&kind, &[], &["--enable-module-command", "yes"]);
        let mut con = server.connection();
        // Out of range: the server's own check refuses it, and with it the load.
        let answer = reply(&mut con, &["module", "load", rmtest, "size", "5000"]);
        assert!(
            answer.starts_with("ERR Error loading the extension"),
            "{n}: {answer}"
        );
        assert!(
            server.log().contains("module argument 'size' was refused"),
            "{n}: {}",
            server.log()
        );
        // A module with configs takes only `config value` pairs: a typo, an unknown name or a
        // name without its value refuses the load (nothing is left silently at its default).
        for (args, logged) in [
            (
                &["sizes", "20"][..],
                "module argument 1 of 2 is not a config of module 'rmtest'",
            ),
            (
                &["size", "20", "bogus", "1"],
                "module argument 3 of 4 is not a config",
            ),
            (
                &["size", "20", "mode"],
                "module argument 'mode' has no value",
            ),
            (&["hello"], "module argument 1 of 1 is not a config"),
            // Out of step: a value where a name belongs is not echoed (it may be a secret).
            (
                &["size", "20", "pa55word"],
                "module argument 3 of 3 is not a config",
            ),
        ] {
            let mut command = vec!["module", "load", rmtest];
            command.extend_from_slice(args);
            let answer = reply(&mut con, &command);
            assert!(
                answer.starts_with("ERR Error loading the extension"),
                "{args:?} on {n}: {answer}"
            );
            assert!(
                server.log().contains(logged),
                "{args:?} on {n}: {}",
                server.log()
            );
            assert!(
                !server.log().contains("pa55word"),
                "{n}: a value was echoed"
            );
        }
        assert!(
            server.log().contains(
                "(its configs: features, flag, frozen, memory, mode, name, secret, size)"
            ),
            "{n}: the configs are named"
        );
        // Pairs of its configs load, with or without the module's prefix.
        assert_eq!(
            reply(
                &mut con,
                &[
                    "module",
                    "load",
                    rmtest,
                    "rmtest.size",
                    "20",
                    "MODE",
                    "fast"
                ]
            ),
            "+OK",
            "{n}"
        );
        assert_eq!(
            config_get(&mut con, "rmtest.size"),
            ["rmtest.size=20"],
            "{n}"
        );
    }
}
