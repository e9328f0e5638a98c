//! The json module in Redis Cluster: a three-master cluster with json.so on every node. Keys on
//! different slots are written and read through their owners (`MOVED` elsewhere), JSON.MGET /
//! JSON.MSET across slots are refused by the server (`CROSSSLOT`) while hash-tagged keys work,
//! and `COMMAND GETKEYS` finds the keys of every json command, `COMMAND GETKEYSANDFLAGS` their
//! key-spec flags.

mod common;

use common::{Server, cluster_nodes, reply, servers, text, wait_long};

/// Three masters owning 0-5460, 5461-10922 and 10923-16383, with json loaded; `ok` once every
/// node sees the cluster as healthy.
fn start_cluster(kind: &common::ServerKind) -> Vec<Server> {
    let nodes = cluster_nodes(kind, 3, &["json"], &[]);
    for node in &nodes[1..] {
        nodes[0].meet(node);
    }
    for (node, (low, high)) in
        nodes
            .iter()
            .zip([("0", "5460"), ("5461", "10922"), ("10923", "16383")])
    {
        let mut con = node.connection();
        assert_eq!(
            reply(&mut con, &["cluster", "addslotsrange", low, high]),
            "+OK"
        );
    }
    for node in &nodes {
        let mut con = node.connection();
        wait_long("the cluster to agree", || {
            let info = text(&mut con, &["cluster", "info"]);
            let nodes = text(&mut con, &["cluster", "nodes"]);
            info.contains("cluster_state:ok")
                && nodes.lines().count() == 3
                && nodes.lines().all(|l| l.contains("connected"))
        });
    }
    nodes
}

/// The index of the node owning `slot`.
fn owner(slot: u16) -> usize {
    match slot {
        0..=5460 => 0,
        5461..=10922 => 1,
        _ => 2,
    }
}

#[test]
fn json_in_a_three_master_cluster() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut nodes = start_cluster(&kind);
        let mut cons: Vec<redis::Connection> = nodes.iter().map(Server::connection).collect();

        // One key per node, found by the server's own slot computation.
        let mut keys: Vec<(String, u16)> = Vec::new();
        for i in 0.. {
            let key = format!("doc:{i}");
            let slot: u16 = redis::cmd("cluster")
                .arg("keyslot")
                .arg(&key)
                .query(&mut cons[0])
                .unwrap();
            if !keys.iter().any(|(_, s)| owner(*s) == owner(slot)) {
                keys.push((key, slot));
            }
            if keys.len() == 3 {
                break;
            }
        }
        for (key, slot) in &keys {
            let home = owner(*slot);
            let document = format!(r#"{{"name":"{key}","n":1}}"#);
            for (i, con) in cons.iter_mut().enumerate() {
                let moved = format!("MOVED {slot} 127.0.0.1:{}", nodes[home].port);
                // Every key-taking command is redirected by its key, writes and reads alike.
                for (args, ok) in [
                    (vec!["json.set", key, "$", &document], "+OK".to_owned()),
                    (
                        vec!["json.numincrby", key, "$.n", "1"],
                        r#""[2]""#.to_owned(),
                    ),
                    (vec!["json.get", key, ".name"], format!(r#""\"{key}\"""#)),
                    (vec!["json.mget", key, "$.n"], r#"["[2]"]"#.to_owned()),
                    (vec!["json.fmt", key, "{{.name}}"], format!("{key:?}")),
                    (vec!["json.type", key], r#""object""#.to_owned()),
                ] {
                    let expected = if i == home { ok } else { moved.clone() };
                    assert_eq!(reply(con, &args), expected, "{args:?} on node {i}, {n}");
                }
                let memory = reply(con, &["json.debug", "memory", key]);
                if i == home {
                    assert!(memory.parse::<i64>().unwrap() > 0, "{memory}");
                } else {
                    assert_eq!(memory, moved, "{n}");
                }
            }
        }
        // Each node holds exactly its own key.
        for con in cons.iter_mut() {
            assert_eq!(reply(con, &["dbsize"]), "1", "{n}");
        }

        // Several keys in one command: the server refuses different slots, hash tags work.
        let (a, b) = (&keys[0].0, &keys[1].0);
        for con in cons.iter_mut() {
            assert_eq!(
                reply(con, &["json.mget", a, b, "$"]),
                "CROSSSLOT Keys in request don't hash to the same slot",
                "{n}"
            );
            assert_eq!(
                reply(con, &["json.mset", a, "$", "1", b, "$", "2"]),
                "CROSSSLOT Keys in request don't hash to the same slot",
                "{n}"
            );
        }
        let slot: u16 = redis::cmd("cluster")
            .arg("keyslot")
            .arg("{tag}")
            .query(&mut cons[0])
            .unwrap();
        let tagged = &mut cons[owner(slot)];
        assert_eq!(
            reply(
                tagged,
                &[
                    "json.mset",
                    "{tag}a",
                    "$",
                    r#"{"x":1}"#,
                    "{tag}b",
                    "$",
                    "[2]"
                ]
            ),
            "+OK",
            "{n}"
        );
        assert_eq!(
            reply(tagged, &["json.mget", "{tag}a", "{tag}b", "{tag}c", "$.x"]),
            r#"["[1]", "[]", (nil)]"#,
            "{n}"
        );
        // A command without keys runs on any node.
        assert_eq!(
            reply(&mut cons[(owner(slot) + 1) % 3], &["json.debug", "help"]),
            r#"["MEMORY <key> [path] - reports memory usage", "HELP                - this message"]"#,
            "{n}"
        );

        // COMMAND GETKEYSANDFLAGS: the keys of every json command, and how each is used (the
        // key-spec flags cluster clients and ACL key permissions read).
        let con = &mut cons[0];
        for (args, keys, flags) in [
            (&["json.set", "k", "$", "1"][..], "[\"k\"]", "RW update"),
            (&["json.set", "k", "1"][..], "[\"k\"]", "RW update"),
            (&["json.get", "k", "$.a", "$.b"][..], "[\"k\"]", "RO access"),
            (
                &["json.getex", "k", "PERSIST", "$"][..],
                "[\"k\"]",
                "RW access update",
            ),
            (&["json.path", "k", "$"][..], "[\"k\"]", "RO access"),
            (&["json.fmt", "k", "x"][..], "[\"k\"]", "RO access"),
            (&["json.del", "k", "$"][..], "[\"k\"]", "RW delete"),
            (&["json.forget", "k"][..], "[\"k\"]", "RW delete"),
            (&["json.type", "k"][..], "[\"k\"]", "RO"),
            (&["json.strlen", "k", "$"][..], "[\"k\"]", "RO"),
            (&["json.arrlen", "k"][..], "[\"k\"]", "RO"),
            (&["json.objlen", "k"][..], "[\"k\"]", "RO"),
            (&["json.objkeys", "k"][..], "[\"k\"]", "RO access"),
            (
                &["json.numincrby", "k", "$", "1"][..],
                "[\"k\"]",
                "RW access update",
            ),
            (
                &["json.nummultby", "k", "$", "1"][..],
                "[\"k\"]",
                "RW access update",
            ),
            (
                &["json.numpowby", "k", "$", "1"][..],
                "[\"k\"]",
                "RW access update",
            ),
            (
                &["json.arrappend", "k", "$", "1", "2"][..],
                "[\"k\"]",
                "RW insert",
            ),
            (
                &["json.strappend", "k", "\"x\""][..],
                "[\"k\"]",
                "RW insert",
            ),
            (
                &["json.toggle", "k", "$"][..],
                "[\"k\"]",
                "RW access update",
            ),
            (&["json.clear", "k"][..], "[\"k\"]", "RW update"),
            (
                &["json.arrpop", "k", "$", "0"][..],
                "[\"k\"]",
                "RW access delete",
            ),
            (
                &["json.arrinsert", "k", "$", "0", "1"][..],
                "[\"k\"]",
                "RW insert",
            ),
            (
                &["json.arrtrim", "k", "$", "0", "1"][..],
                "[\"k\"]",
                "RW delete",
            ),
            (&["json.arrindex", "k", "$", "1"][..], "[\"k\"]", "RO"),
            (&["json.merge", "k", "$", "{}"][..], "[\"k\"]", "RW update"),
            (&["json.resp", "k"][..], "[\"k\"]", "RO access"),
            (&["json.debug", "memory", "k", "$"][..], "[\"k\"]", "RO"),
            (
                &["json.mget", "a", "b", "c", "$"][..],
                "[\"a\", \"b\", \"c\"]",
                "RO access",
            ),
            (&["json.mget", "a", "$"][..], "[\"a\"]", "RO access"),
            (
                &["json.mset", "a", "$", "1", "b", "$.x", "2", "c", "$", "3"][..],
                "[\"a\", \"b\", \"c\"]",
                "RW update",
            ),
        ] {
            let mut command = vec!["command", "getkeys"];
            command.extend_from_slice(args);
            assert_eq!(reply(con, &command), keys, "{args:?} on {n}");
            command[1] = "getkeysandflags";
            let flags: Vec<String> = flags.split(' ').map(|flag| format!("+{flag}")).collect();
            let key_count = keys.matches(", ").count() + 1;
            let expected = format!(
                "[{}]",
                vec![format!("[{{}}, [{}]]", flags.join(", ")); key_count].join(", ")
            );
            let got = reply(con, &command);
            let shape: String = {
                // The key names are checked above; here each key's flags.
                let mut shape = got.clone();
                for key in ["\"k\"", "\"a\"", "\"b\"", "\"c\""] {
                    shape = shape.replace(key, "{}");
                }
                shape
            };
            assert_eq!(shape, expected, "{args:?} on {n}: {got}");
        }
        for node in &mut nodes {
            assert!(node.alive(), "{n}");
        }
    }
}
