//! The cluster API on real servers, through the `rmtest` fixture
//! (`tests/fixture/src/cluster.rs`): outside cluster mode, and on a three-node cluster (two
//! masters, one replica) for node ids, node list and info, size, key slots and cluster-bus
//! messages.

mod common;

use common::{Server, cluster_nodes, reply, servers, text, wait_long};

fn lines(con: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn outside_cluster_mode_there_is_no_cluster() {
    for kind in servers() {
        let n = kind.name.clone();
        let mut server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        assert_eq!(reply(&mut con, &["rmtest.cluster", "mode"]), "0", "{n}");
        assert_eq!(reply(&mut con, &["rmtest.cluster", "myid"]), "(nil)", "{n}");
        assert_eq!(reply(&mut con, &["rmtest.cluster", "nodes"]), "[]", "{n}");
        assert_eq!(reply(&mut con, &["rmtest.cluster", "size"]), "0", "{n}");
        let id = "0123456789012345678901234567890123456789";
        assert_eq!(
            reply(&mut con, &["rmtest.cluster", "info", id]),
            format!("ERR unknown cluster node {id}"),
            "{n}"
        );
        assert_eq!(
            reply(&mut con, &["rmtest.cluster", "send", "*", "hello"]),
            "ERR cannot send the cluster message (not in cluster mode, or unknown or unlinked \
             node)",
            "{n}"
        );
        // Key slots are pure computation.
        assert_eq!(
            reply(&mut con, &["rmtest.cluster", "keyslot", "foo"]),
            "12182"
        );
        assert!(server.alive(), "{n}");
    }
}

#[test]
fn cluster_api_on_a_three_node_cluster() {
    for kind in servers() {
        let n = kind.name.clone();
        let [a, b, c]: [Server; 3] = cluster_nodes(&kind, 3, &["rmtest"], &[])
            .try_into()
            .unwrap_or_else(|_| unreachable!("three nodes"));
        let (mut ca, mut cb, mut cc) = (a.connection(), b.connection(), c.connection());

        // Each node's own id, as the server shows it.
        let id_a = text(&mut ca, &["cluster", "myid"]);
        let id_b = text(&mut cb, &["cluster", "myid"]);
        let id_c = text(&mut cc, &["cluster", "myid"]);
        assert_eq!(text(&mut ca, &["rmtest.cluster", "myid"]), id_a, "{n}");
        assert_eq!(text(&mut cb, &["rmtest.cluster", "myid"]), id_b, "{n}");
        assert_eq!(text(&mut cc, &["rmtest.cluster", "myid"]), id_c, "{n}");
        assert_eq!(reply(&mut ca, &["rmtest.cluster", "mode"]), "1", "{n}");
        assert_eq!(reply(&mut ca, &["rmtest.cluster", "size"]), "1", "{n}");

        // A and B are masters sharing the slots; C replicates A.
        a.meet(&b);
        a.meet(&c);
        assert_eq!(
            reply(&mut ca, &["cluster", "addslotsrange", "0", "8191"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut cb, &["cluster", "addslotsrange", "8192", "16383"]),
            "+OK"
        );
        wait_long("C to know A", || {
            text(&mut cc, &["cluster", "nodes"]).contains(&id_a)
        });
        assert_eq!(reply(&mut cc, &["cluster", "replicate", &id_a]), "+OK");
        let cons = [&mut ca, &mut cb, &mut cc];
        for con in cons {
            wait_long("the cluster to agree", || {
                let info = text(con, &["cluster", "info"]);
                let nodes = text(con, &["cluster", "nodes"]);
                info.contains("cluster_state:ok")
                    && nodes.lines().count() == 3
                    && nodes.lines().all(|l| l.contains("connected"))
                    && nodes.contains(&format!("slave {id_a}"))
            });
        }

        // The node list and size, on every node.
        let mut all = vec![id_a.clone(), id_b.clone(), id_c.clone()];
        all.sort();
        for con in [&mut ca, &mut cb, &mut cc] {
            assert_eq!(lines(con, &["rmtest.cluster", "nodes"]), all, "{n}");
            assert_eq!(reply(con, &["rmtest.cluster", "size"]), "3", "{n}");
        }

        // Node info: address, port, master, flags, as seen from A and from C.
        let info =
            |con: &mut redis::Connection, id: &str| reply(con, &["rmtest.cluster", "info", id]);
        let (pa, pb, pc) = (a.port, b.port, c.port);
        assert_eq!(
            info(&mut ca, &id_a),
            format!("[\"127.0.0.1\", {pa}, (nil), \"myself,master\"]"),
            "{n}"
        );
        assert_eq!(
            info(&mut ca, &id_b),
            format!("[\"127.0.0.1\", {pb}, (nil), \"master\"]"),
            "{n}"
        );
        assert_eq!(
            info(&mut ca, &id_c),
            format!("[\"127.0.0.1\", {pc}, \"{id_a}\", \"replica\"]"),
            "{n}"
        );
        assert_eq!(
            info(&mut cc, &id_c),
            format!("[\"127.0.0.1\", {pc}, \"{id_a}\", \"myself,replica\"]"),
            "{n}"
        );
        assert_eq!(
            info(&mut cc, &id_a),
            format!("[\"127.0.0.1\", {pa}, (nil), \"master\"]"),
            "{n}"
        );
        let unknown = "f".repeat(40);
        assert_eq!(
            info(&mut ca, &unknown),
            format!("ERR unknown cluster node {unknown}"),
            "{n}"
        );
        assert_eq!(
            info(&mut ca, "short"),
            "ERR a node id has 40 characters",
            "{n}"
        );

        // Key slots agree with the server's, hash tags included.
        let mut keys: Vec<String> = (0..300).map(|i| format!("key:{i}")).collect();
        keys.extend(
            [
                "",
                "a",
                "foo",
                "{user1000}.following",
                "{user1000}.followers",
                "foo{}{bar}",
                "foo{{bar}}zap",
                "foo{bar}{zap}",
                "{}",
                "{",
                "}",
                "{a",
                "a}",
                "{}x{y}",
                "\u{e9}t\u{e9}",
                "x{y}z",
            ]
            .map(str::to_owned),
        );
        for key in &keys {
            assert_eq!(
                reply(&mut ca, &["rmtest.cluster", "keyslot", key]),
                reply(&mut ca, &["cluster", "keyslot", key]),
                "{n}: key {key:?}"
            );
        }

        // A broadcast from A reaches B and C (not A itself).
        assert_eq!(
            reply(&mut ca, &["rmtest.cluster", "send", "*", "hello-all"]),
            "+OK"
        );
        let received = |con: &mut redis::Connection| lines(con, &["rmtest.cluster", "received"]);
        let from_a = |payload: &str| format!("{id_a} 42 {payload}");
        wait_long("the broadcast on B", || {
            received(&mut cb) == [from_a("hello-all")]
        });
        wait_long("the broadcast on C", || {
            received(&mut cc) == [from_a("hello-all")]
        });

        // A targeted message reaches only its target. A's link to C carries messages in
        // order, so once C has a later broadcast, it would have had the targeted one too.
        assert_eq!(
            reply(&mut ca, &["rmtest.cluster", "send", &id_b, "only-b"]),
            "+OK"
        );
        assert_eq!(
            reply(&mut ca, &["rmtest.cluster", "send", "*", "after"]),
            "+OK"
        );
        wait_long("the targeted message on B", || {
            received(&mut cb) == [from_a("hello-all"), from_a("only-b"), from_a("after")]
        });
        wait_long("the second broadcast on C", || {
            received(&mut cc) == [from_a("hello-all"), from_a("after")]
        });
        assert_eq!(received(&mut ca), Vec::<String>::new(), "{n}");

        // From a replica to a master, too.
        assert_eq!(
            reply(&mut cc, &["rmtest.cluster", "send", &id_a, "from-c"]),
            "+OK"
        );
        wait_long("C's message on A", || {
            received(&mut ca) == [format!("{id_c} 42 from-c")]
        });
        assert_eq!(
            reply(&mut ca, &["rmtest.cluster", "send", &unknown, "nobody"]),
            "ERR cannot send the cluster message (not in cluster mode, or unknown or unlinked \
             node)",
            "{n}"
        );
    }
}

/// Entries newer than the vendored header (Redis 7.2's), declared by the SDK and resolved by
/// name at load: present exactly on the servers that have them, `ERR … not available`
/// elsewhere, never a crash.
#[test]
fn newer_api_entries_where_the_server_has_them() {
    for kind in servers() {
        let n = &kind.name;
        let server = Server::start(&kind, &["rmtest"], &[]);
        let mut con = server.connection();
        // Redis 7.4 added the slot helpers and TryCalloc/TryRealloc; Valkey has them too.
        let since_7_4 = kind.valkey || kind.redis_at_least(7, 4);
        // Redis 8 (unstable) added the defrag start/end callbacks and raw defrag; Valkey 9
        // does not have them.
        let since_8 = kind.redis_at_least(8, 0);
        for (entry, expected) in [
            ("ClusterKeySlot", since_7_4),
            ("ClusterCanonicalKeyNameInSlot", since_7_4),
            ("TryAlloc", true), // since Redis 7.0
            ("TryCalloc", since_7_4),
            ("TryRealloc", since_7_4),
            ("RegisterDefragCallbacks", since_8),
            ("DefragAllocRaw", since_8),
            ("DefragFreeRaw", since_8),
        ] {
            let available = reply(&mut con, &["rmtest.available", entry]);
            assert_eq!(available, if expected { "1" } else { "0" }, "{n}: {entry}");
        }
        if since_7_4 {
            // Every slot's canonical name and 20000 keys: the server and `key_slot` agree.
            assert_eq!(
                reply(&mut con, &["rmtest.cluster", "slotsagree"]),
                (16384 + 20000).to_string(),
                "{n}"
            );
            assert_eq!(
                reply(&mut con, &["rmtest.cluster", "serverslot", "user:1000"]),
                "1649",
                "{n}"
            );
            assert_eq!(
                reply(&mut con, &["rmtest.cluster", "canonical", "16384"]),
                "ERR slot 16384 is out of range (0..16384)",
                "{n}"
            );
        } else {
            eprintln!("{n}: no ClusterKeySlot / ClusterCanonicalKeyNameInSlot (Redis 7.4+)");
            assert_eq!(
                reply(&mut con, &["rmtest.cluster", "serverslot", "user:1000"]),
                "ERR RedisModule_ClusterKeySlot is not available on this server version",
                "{n}"
            );
        }
        assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{n}");
    }
}
