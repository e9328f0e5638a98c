//! `COMMAND DOCS` of module commands documented with redis.io's usage lines of core commands
//! (`tests/fixture/src/usage.rs`) match the core commands' own docs on the same server, as far
//! as a usage line can say; the shipped modules' docs are well formed; a usage line that
//! cannot be read fails the load.
//!
//! What a usage line cannot say, and the comparison leaves out: value types (`integer`,
//! `double`, `unix-time` are all `string`), `since`, `deprecated_since`, summaries, and the
//! names of groups and tokens (SET's `condition`, ZADD's `change`); values are compared by
//! what the docs show (`display_text`, or the name before Redis 7.2).

mod common;

use common::{Server, ServerKind, reply, run, servers};
use redis::Value;

/// The fields of a `COMMAND DOCS` map (a RESP2 flat array or a RESP3 map).
fn fields(value: &Value) -> Vec<(String, &Value)> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    };
    match value {
        Value::Array(items) => items.chunks(2).map(|p| (text(&p[0]), &p[1])).collect(),
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (text(k), v)).collect(),
        other => panic!("not a map: {other:?}"),
    }
}

fn field<'a>(arg: &[(String, &'a Value)], name: &str) -> Option<&'a Value> {
    arg.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn string(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

/// One argument as a usage line can express it: `kind shown token=T flags {sub-arguments}`;
/// `None` for an argument the server added after the usage line's version (`newer`).
fn shape(arg: &Value, newer: &dyn Fn(&str) -> bool) -> Option<String> {
    let arg = fields(arg);
    if field(&arg, "since").is_some_and(|since| newer(&string(since))) {
        return None;
    }
    let kind = match string(field(&arg, "type").expect("type")).as_str() {
        "key" => "key",
        "pure-token" => "token",
        "oneof" => "oneof",
        "block" => "block",
        _ => "value",
    };
    let mut text = kind.to_owned();
    if kind == "key" || kind == "value" {
        let shown = field(&arg, "display_text")
            .or(field(&arg, "name"))
            .expect("name");
        text += &format!(" {}", string(shown));
    }
    if let Some(index) = field(&arg, "key_spec_index") {
        text += &format!(" key_spec_index={}", string(index));
    }
    if let Some(token) = field(&arg, "token") {
        text += &format!(" token={}", string(token).to_uppercase());
    }
    if let Some(Value::Array(flags)) = field(&arg, "flags") {
        for flag in flags {
            text += &format!(" {}", string(flag));
        }
    }
    if let Some(Value::Array(args)) = field(&arg, "arguments") {
        let args: Vec<String> = args.iter().filter_map(|a| shape(a, newer)).collect();
        text += &format!(" {{{}}}", args.join(", "));
    }
    Some(text)
}

/// The shapes of `command`'s arguments on the server.
fn docs(con: &mut redis::Connection, command: &str, newer: &dyn Fn(&str) -> bool) -> Vec<String> {
    let Value::Array(reply) = run(con, &["command", "docs", command]).expect("COMMAND DOCS") else {
        panic!("COMMAND DOCS {command}: not an array");
    };
    let [_, doc] = &reply[..] else {
        panic!("COMMAND DOCS {command}: {reply:?}")
    };
    let doc = fields(doc);
    match field(&doc, "arguments") {
        Some(Value::Array(args)) => args.iter().filter_map(|a| shape(a, newer)).collect(),
        _ => Vec::new(),
    }
}

/// Whether an argument's `since` is later than the usage lines of the fixture: redis.io's
/// lines of Redis 7.4 (older servers have no newer arguments), and Redis 7.2's for Valkey,
/// which forked from 7.2.4 and numbers its own releases from 8.0.
fn newer_than_the_lines(kind: &ServerKind) -> impl Fn(&str) -> bool {
    let valkey = kind.valkey;
    move |since: &str| {
        let mut parts = since.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if valkey {
            version >= (8, 0)
        } else {
            version > (7, 4)
        }
    }
}

/// The fixture's `CLIENT KILL` twin for this server: redis.io's line of its version.
fn client_kill_twin(kind: &ServerKind) -> &'static str {
    if kind.valkey {
        "rmtest.usage-client-kill-valkey"
    } else if kind.redis_at_least(7, 4) {
        "rmtest.usage-client-kill-7.4"
    } else if kind.redis_at_least(7, 2) {
        "rmtest.usage-client-kill-7.2"
    } else {
        "rmtest.usage-client-kill-7.0"
    }
}

#[test]
fn usage_lines_of_core_commands_give_their_docs() {
    for kind in servers() {
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        let newer = newer_than_the_lines(&kind);
        for (core, twin) in [
            ("set", "rmtest.usage-set"),
            ("zadd", "rmtest.usage-zadd"),
            ("xadd", "rmtest.usage-xadd"),
            ("client|kill", client_kill_twin(&kind)),
        ] {
            let expected = docs(&mut con, core, &newer);
            assert!(!expected.is_empty(), "{}: no docs for {core}", kind.name);
            let documented = docs(&mut con, twin, &|_| false);
            assert_eq!(
                documented, expected,
                "{}: {twin} (left) vs {core} (right)",
                kind.name
            );
        }
    }
}

/// Every argument has a name, a pure token has its token, and
/// `key` arguments index the one key spec.
fn well_formed(command: &str, args: &[Value]) {
    for arg in args {
        let arg = fields(arg);
        let name = string(field(&arg, "name").expect("name"));
        assert!(!name.is_empty(), "{command}: an argument without a name");
        let kind = string(field(&arg, "type").expect("type"));
        if kind == "pure-token" {
            assert!(
                field(&arg, "token").is_some(),
                "{command}: {name} has no token"
            );
        }
        if kind == "key" {
            assert_eq!(
                field(&arg, "key_spec_index").map(string).as_deref(),
                Some("0")
            );
        }
        if let Some(Value::Array(sub)) = field(&arg, "arguments") {
            assert!(!sub.is_empty(), "{command}: {name} has no sub-arguments");
            well_formed(command, sub);
        }
    }
}

#[test]
fn module_docs_are_well_formed() {
    for kind in servers() {
        let server = Server::start(&kind, &["json", "hashex"], &[]);
        let mut con = server.connection();
        let Value::Array(names) = run(&mut con, &["command", "list"]).expect("COMMAND LIST") else {
            panic!("COMMAND LIST");
        };
        let mut seen = 0;
        for name in names.iter().map(string) {
            if !(name.starts_with("json.") || name == "hgetset") {
                continue;
            }
            seen += 1;
            let Value::Array(reply) = run(&mut con, &["command", "docs", &name]).unwrap() else {
                panic!("COMMAND DOCS {name}");
            };
            let doc = fields(&reply[1]);
            let Some(Value::Array(args)) = field(&doc, "arguments") else {
                panic!("{}: {name} has no arguments", kind.name);
            };
            well_formed(&name, args);
        }
        assert!(seen > 20, "{}: {seen} commands", kind.name);
        let all = |_: &str| false;
        // Two forms: the key once, then the bare value or a path, value and options.
        assert_eq!(
            docs(&mut con, "json.set", &all),
            [
                "key key key_spec_index=0",
                "oneof {value value, block {value path, value value, oneof optional \
                 {token token=NX, token token=XX}, oneof optional {value seconds token=EX, \
                 value milliseconds token=PX, value unix-time-seconds token=EXAT, \
                 value unix-time-milliseconds token=PXAT, token token=KEEPTTL}}}",
            ],
            "{}",
            kind.name
        );
        assert_eq!(
            docs(&mut con, "json.get", &all),
            [
                "key key key_spec_index=0",
                "oneof {token token=PRETTY optional, block {value indent token=INDENT optional, \
                 value newline token=NEWLINE optional, value space token=SPACE optional, \
                 value path optional multiple}}",
            ],
            "{}",
            kind.name
        );
        assert_eq!(
            docs(&mut con, "json.mset", &all),
            ["block multiple {key key key_spec_index=0, value path, value value}"],
            "{}",
            kind.name
        );
    }
}

#[test]
fn a_usage_line_that_cannot_be_read_fails_the_load() {
    for kind in servers() {
        let server = Server::start(&kind, &[], &["--enable-module-command", "yes"]);
        let mut con = server.connection();
        let path = common::module("rmtest-badusage");
        let answer = reply(&mut con, &["module", "load", path.to_str().unwrap()]);
        assert!(answer.starts_with("ERR"), "{}: {answer}", kind.name);
        // The command registered before the bad one is gone with the module.
        assert_eq!(
            reply(&mut con, &["command", "info", "badusage.good"]),
            "[(nil)]",
            "{}",
            kind.name
        );
        let log = server.log();
        assert!(
            log.contains(
                "module failed to load: ERR command 'badusage.bad': usage \
                 'BADUSAGE.BAD key [NX | XX': a bracket opened is never closed with `]`"
            ),
            "{}: {log}",
            kind.name
        );
    }
}
