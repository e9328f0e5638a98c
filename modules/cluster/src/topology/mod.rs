//! What a cluster looks like, read from its nodes.
//!
//! [`Conn`] talks to one node (the `redis` client crate, short timeouts). [`parse_nodes`],
//! [`ClusterInfo::parse`] and [`parse_slots`] turn `CLUSTER NODES`, `CLUSTER INFO` and
//! `CLUSTER SLOTS` into typed values. [`ClusterView::gather`] asks every node reachable from a
//! seed for its own view ([`PARALLEL`] at a time, through a [`Pool`] of connections that a
//! polling loop keeps); [`ClusterView::agree`] says whether all of them hold the same slot
//! configuration, and [`wait_for_agreement`] polls until they do.
//!
//! Everything here blocks on the network: call it from a job thread (see [`crate::jobs`]),
//! never from a command callback.

mod conn;
mod parse;
mod pool;

pub use conn::*;
pub use parse::*;
pub use pool::*;

use std::collections::{BTreeMap, BTreeSet};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rm::{Error, Result};

/// Number of hash slots.
pub const SLOTS: u16 = 16384;

/// How long connecting to a node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a reply may take by default (MIGRATE batches set their own).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How often agreement and state polls look again.
pub const POLL: Duration = Duration::from_millis(10);

/// The cluster as every reachable node sees it.
#[derive(Clone, Debug)]
pub struct ClusterView {
    /// The address the view started from.
    pub seed: Addr,
    /// Each reachable node's own view, the seed first.
    pub views: Vec<NodeView>,
    /// Nodes the seed knows (not in handshake, with an address) that did not answer.
    pub unreachable: Vec<(Addr, String)>,
}

impl ClusterView {
    /// Reads the seed, then every node it lists (failed ones too: they may have come back).
    /// `Err` if the seed does not answer or is not in cluster mode.
    pub fn gather(seed: &Addr) -> Result<ClusterView> {
        ClusterView::gather_with(seed, &mut Pool::default())
    }

    /// [`ClusterView::gather`] through `pool`'s connections (a loop polling the cluster keeps
    /// one pool).
    pub fn gather_with(seed: &Addr, pool: &mut Pool) -> Result<ClusterView> {
        let (_, first) = pool.read_all(std::slice::from_ref(seed)).remove(0);
        let first = first.map_err(|e| {
            if e.to_string().contains("cluster support disabled") {
                Error::err(format!("{seed} is not in cluster mode"))
            } else {
                e
            }
        })?;
        let others: Vec<Addr> = first
            .nodes
            .iter()
            .filter(|n| !n.flags.myself && !n.flags.handshake)
            .filter_map(|n| n.addr.clone())
            .filter(|addr| addr != seed)
            .collect();
        let fetched = pool.read_all(&others);
        pool.retain(|addr| addr == seed || others.contains(addr));
        let mut view = ClusterView {
            seed: seed.clone(),
            views: vec![first],
            unreachable: Vec::new(),
        };
        for (addr, result) in fetched {
            match result {
                Ok(node_view) => view.views.push(node_view),
                Err(e) => view.unreachable.push((addr, e.to_string())),
            }
        }
        Ok(view)
    }

    /// The seed's list of nodes.
    pub fn nodes(&self) -> &[Node] {
        &self.views[0].nodes
    }

    /// Each node by id, as it describes itself (its `myself` line), for reachable nodes.
    pub fn selves(&self) -> Vec<(&NodeView, &Node)> {
        self.views
            .iter()
            .filter_map(|v| v.me().map(|me| (v, me)))
            .collect()
    }

    /// Reachable masters as they describe themselves, in seed order of address.
    pub fn masters(&self) -> Vec<&Node> {
        let mut masters: Vec<&Node> = self
            .selves()
            .into_iter()
            .map(|(_, me)| me)
            .filter(|me| me.is_master())
            .collect();
        masters.sort_by(|a, b| a.addr.cmp(&b.addr));
        masters
    }

    /// A node's own view by id.
    pub fn view_of(&self, id: &str) -> Option<&NodeView> {
        self.views.iter().find(|v| v.id() == id)
    }

    /// Finds a node by id (or unique id prefix) or `host:port`, in the seed's list.
    pub fn find(&self, what: &str) -> Result<&Node> {
        if let Some(addr) = Addr::parse(what) {
            return self
                .nodes()
                .iter()
                .find(|n| n.addr.as_ref() == Some(&addr))
                .or_else(|| {
                    // Reached under another name (localhost vs 127.0.0.1): match the view.
                    self.views
                        .iter()
                        .find(|v| v.addr == addr)
                        .and_then(|v| v.me())
                })
                .ok_or_else(|| Error::err(format!("no node {what} in the cluster")));
        }
        let matches: Vec<&Node> = self
            .nodes()
            .iter()
            .filter(|n| n.id.starts_with(what))
            .collect();
        match matches.as_slice() {
            [one] if !what.is_empty() => Ok(one),
            [] | [_] => Err(Error::err(format!("no node {what} in the cluster"))),
            _ => Err(Error::err(format!("node id prefix {what} is ambiguous"))),
        }
    }

    /// [`addr_of`](ClusterView::addr_of), or an error naming the node.
    pub fn require_addr(&self, id: &str) -> Result<Addr> {
        self.addr_of(id)
            .ok_or_else(|| Error::err(format!("no address for node {id}")))
    }

    /// The address to reach a node by id: the one we used if we reached it, else the seed's
    /// record.
    pub fn addr_of(&self, id: &str) -> Option<Addr> {
        self.view_of(id).map(|v| v.addr.clone()).or_else(|| {
            self.nodes()
                .iter()
                .find(|n| n.id == id)
                .and_then(|n| n.addr.clone())
        })
    }

    /// Whether every reachable node holds the same slot configuration, and every node any of
    /// them lists is known to all (no handshake, nothing unreachable).
    pub fn agree(&self) -> bool {
        self.unreachable.is_empty() && self.reachable_agree()
    }

    /// Whether the nodes that answered agree (same slot configuration, same node list, no
    /// handshake in progress), whatever the unreachable ones think: what `CLUSTER.CHECK`
    /// reports, beside naming the unreachable nodes.
    pub fn reachable_agree(&self) -> bool {
        let signature = self.views[0].signature();
        let ids: BTreeSet<&str> = self.views[0].nodes.iter().map(|n| n.id.as_str()).collect();
        self.views.iter().all(|v| {
            v.signature() == signature
                && v.nodes.iter().all(|n| !n.flags.handshake)
                && v.nodes
                    .iter()
                    .map(|n| n.id.as_str())
                    .collect::<BTreeSet<_>>()
                    == ids
        })
    }

    /// Which slot each reachable master claims (from its own `myself` line): slot → ids.
    pub fn owners(&self) -> BTreeMap<u16, Vec<String>> {
        let mut owners: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for (_, me) in self.selves() {
            if me.is_master() {
                for slot in me.slot_list() {
                    owners.entry(slot).or_default().push(me.id.clone());
                }
            }
        }
        owners
    }

    /// Open slots: (node id, slot, migrating-to or importing-from id, is-migrating).
    pub fn open_slots(&self) -> Vec<(String, u16, String, bool)> {
        let mut open = Vec::new();
        for (_, me) in self.selves() {
            for (slot, dest) in &me.migrating {
                open.push((me.id.clone(), *slot, dest.clone(), true));
            }
            for (slot, source) in &me.importing {
                open.push((me.id.clone(), *slot, source.clone(), false));
            }
        }
        open.sort_by_key(|o| o.1);
        open
    }
}

/// Polls [`ClusterView::gather`] every [`POLL`] until the nodes agree (then returns the
/// agreeing view) or `timeout` passes (`ERR nodes don't agree about configuration ...`).
pub fn wait_for_agreement(seed: &Addr, timeout: Duration) -> Result<ClusterView> {
    wait_for(
        seed,
        timeout,
        "nodes don't agree about configuration",
        |v| v.agree(),
    )
}

/// Polls the cluster every [`POLL`] until `done` holds for the view; `Err(ERR <what> after
/// <timeout>)` otherwise. A cluster that cannot be read at all (the seed refuses or does not
/// answer) is reported after [`CONNECT_TIMEOUT`], not after `timeout`: waiting is for nodes
/// that answer but do not agree yet.
pub fn wait_for(
    seed: &Addr,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&ClusterView) -> bool,
) -> Result<ClusterView> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut pool = Pool::default();
    let mut ever_read = false;
    loop {
        let view = ClusterView::gather_with(seed, &mut pool);
        if let Ok(view) = &view {
            if done(view) {
                return Ok(view.clone());
            }
            ever_read = true;
        }
        let unreachable = !ever_read && started.elapsed() >= CONNECT_TIMEOUT;
        if Instant::now() >= deadline || (unreachable && view.is_err()) {
            return Err(match view {
                Err(e) => e,
                Ok(_) => Error::err(format!("{what} after {} ms", timeout.as_millis())),
            });
        }
        sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_order_and_loses_only_a_panicking_item() {
        let results = parallel_n((0..50).collect(), 3, |i: u32| {
            assert_ne!(i, 7, "item 7 panics");
            i * 2
        });
        assert_eq!(results.len(), 50);
        for (i, result) in results.iter().enumerate() {
            let expected = (i != 7).then_some(i as u32 * 2);
            assert_eq!(*result, expected, "item {i}");
        }
        assert!(parallel(Vec::<u32>::new(), |i| i).is_empty());
    }

    #[test]
    fn parses_nodes() {
        let text = "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n\
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [93->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f] [77-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]\n\
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 :0@0 master,fail?,noaddr - 1426238316232 1426238316232 2 disconnected 5461 5463-5464\n";
        let nodes = parse_nodes(text).unwrap();
        assert_eq!(nodes.len(), 3);
        assert!(nodes[0].flags.replica);
        assert_eq!(
            nodes[0].master_id.as_deref(),
            Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
        );
        assert_eq!(nodes[0].addr, Addr::parse("127.0.0.1:30004"));
        assert_eq!(nodes[0].bus_port, 31004);
        assert!(nodes[1].flags.myself && nodes[1].is_master());
        assert_eq!(nodes[1].slots, vec![(0, 5460)]);
        assert_eq!(nodes[1].migrating[0].0, 93);
        assert_eq!(nodes[1].importing[0].0, 77);
        assert!(nodes[2].flags.pfail && nodes[2].flags.noaddr && nodes[2].addr.is_none());
        assert!(!nodes[2].connected);
        assert_eq!(nodes[2].slot_count(), 3);
    }

    #[test]
    fn malformed_slots_are_refused() {
        let line = |slots: &str| {
            format!(
                "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 master - 0 0 1 \
                 connected {slots}\n"
            )
        };
        assert!(parse_nodes(&line("0-16383")).is_ok());
        for bad in [
            "16384",
            "5-3",
            "0-16384",
            "[16384->-x]",
            "[99999-<-y]",
            "-1",
            "a-b",
        ] {
            assert!(parse_nodes(&line(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_addresses() {
        assert_eq!(
            Addr::parse("127.0.0.1:7000").unwrap().to_string(),
            "127.0.0.1:7000"
        );
        assert_eq!(Addr::parse("[::1]:7000").unwrap().to_string(), "[::1]:7000");
        assert_eq!(Addr::parse("nope"), None);
        assert_eq!(Addr::parse("h:0"), None);
    }
}
