//! `CLUSTER NODES`, `CLUSTER INFO` and `CLUSTER SLOTS` as typed values, and one node's own view.

use std::collections::BTreeMap;

use redis::Value;
use rm::{Error, Result};

use super::*;

/// The flags of a node as `CLUSTER NODES` lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// The node answering.
    pub myself: bool,
    /// A master.
    pub master: bool,
    /// A replica (`slave`).
    pub replica: bool,
    /// `fail?`: the answering node cannot reach it (PFAIL).
    pub pfail: bool,
    /// `fail`: the cluster agreed it failed.
    pub fail: bool,
    /// `handshake`: not yet known (just met).
    pub handshake: bool,
    /// `noaddr`: no known address.
    pub noaddr: bool,
    /// `nofailover`: its replicas never fail over.
    pub nofailover: bool,
}

impl Flags {
    /// Parses the comma-separated flag field; unknown flags are ignored.
    pub fn parse(text: &str) -> Flags {
        let mut flags = Flags::default();
        for flag in text.split(',') {
            match flag {
                "myself" => flags.myself = true,
                "master" => flags.master = true,
                "slave" => flags.replica = true,
                "fail?" => flags.pfail = true,
                "fail" => flags.fail = true,
                "handshake" => flags.handshake = true,
                "noaddr" => flags.noaddr = true,
                "nofailover" => flags.nofailover = true,
                _ => {}
            }
        }
        flags
    }
}

/// One line of `CLUSTER NODES`: a node as the answering node sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The 40-character node id.
    pub id: String,
    /// Client address (`None` for `noaddr` or `:0`).
    pub addr: Option<Addr>,
    /// Cluster bus port.
    pub bus_port: u16,
    /// Flags.
    pub flags: Flags,
    /// The master's id, for a replica.
    pub master_id: Option<String>,
    /// When the last ping was sent (ms since the epoch, 0 if none pending).
    pub ping_sent: u64,
    /// When the last pong arrived (ms since the epoch).
    pub pong_received: u64,
    /// The node's configuration epoch.
    pub config_epoch: u64,
    /// Whether the answering node's link to it is connected.
    pub connected: bool,
    /// Slot ranges it serves, inclusive, sorted.
    pub slots: Vec<(u16, u16)>,
    /// Slots this node is migrating away: (slot, destination id). Listed for `myself` only.
    pub migrating: Vec<(u16, String)>,
    /// Slots this node is importing: (slot, source id). Listed for `myself` only.
    pub importing: Vec<(u16, String)>,
}

impl Node {
    /// How many slots it serves.
    pub fn slot_count(&self) -> usize {
        self.slots
            .iter()
            .map(|&(a, b)| usize::from(b - a) + 1)
            .sum()
    }

    /// Every slot it serves, in order.
    pub fn slot_list(&self) -> Vec<u16> {
        self.slots.iter().flat_map(|&(a, b)| a..=b).collect()
    }

    /// `host:port` or `-` when unknown.
    pub fn addr_text(&self) -> String {
        self.addr.as_ref().map_or("-".to_owned(), Addr::to_string)
    }

    /// Whether it is a master (has the flag and is not a replica).
    pub fn is_master(&self) -> bool {
        self.flags.master && !self.flags.replica
    }

    /// Whether the answering node considers it failing (PFAIL or FAIL).
    pub fn is_failing(&self) -> bool {
        self.flags.fail || self.flags.pfail
    }
}

/// Parses `CLUSTER NODES` output.
pub fn parse_nodes(text: &str) -> Result<Vec<Node>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_node_line)
        .collect()
}

fn parse_node_line(line: &str) -> Result<Node> {
    let bad = || Error::err(format!("cannot parse CLUSTER NODES line: {line}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return Err(bad());
    }
    // ip:port@cport[,hostname]
    let address = fields[1].split(',').next().unwrap_or("");
    let (client, bus) = address.split_once('@').unwrap_or((address, "0"));
    let flags = Flags::parse(fields[2]);
    let addr = if flags.noaddr {
        None
    } else {
        Addr::parse(client)
    };
    let mut node = Node {
        id: fields[0].to_owned(),
        addr,
        bus_port: bus.parse().unwrap_or(0),
        flags,
        master_id: (fields[3] != "-").then(|| fields[3].to_owned()),
        ping_sent: fields[4].parse().map_err(|_| bad())?,
        pong_received: fields[5].parse().map_err(|_| bad())?,
        config_epoch: fields[6].parse().map_err(|_| bad())?,
        connected: fields[7] == "connected",
        slots: Vec::new(),
        migrating: Vec::new(),
        importing: Vec::new(),
    };
    // A slot number the server could send: 0..16384 (anything else is a malformed line, which
    // later arithmetic on ranges must never see).
    let slot = |text: &str| -> Result<u16> {
        text.parse::<u16>()
            .ok()
            .filter(|&n| n < SLOTS)
            .ok_or_else(bad)
    };
    for field in &fields[8..] {
        if let Some(open) = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
            // [slot->-dest] or [slot-<-source]
            if let Some((n, dest)) = open.split_once("->-") {
                node.migrating.push((slot(n)?, dest.to_owned()));
            } else if let Some((n, source)) = open.split_once("-<-") {
                node.importing.push((slot(n)?, source.to_owned()));
            } else {
                return Err(bad());
            }
        } else if let Some((a, b)) = field.split_once('-') {
            let (a, b) = (slot(a)?, slot(b)?);
            if a > b {
                return Err(bad());
            }
            node.slots.push((a, b));
        } else {
            let n = slot(field)?;
            node.slots.push((n, n));
        }
    }
    node.slots.sort_unstable();
    Ok(node)
}

/// `CLUSTER INFO` of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    /// Every `field:value` line.
    pub fields: BTreeMap<String, String>,
}

impl ClusterInfo {
    /// Parses `CLUSTER INFO` output.
    pub fn parse(text: &str) -> ClusterInfo {
        let fields = text
            .lines()
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        ClusterInfo { fields }
    }

    /// A field as text (empty if missing).
    pub fn get(&self, field: &str) -> &str {
        self.fields.get(field).map_or("", String::as_str)
    }

    /// A numeric field (0 if missing).
    pub fn number(&self, field: &str) -> u64 {
        self.get(field).parse().unwrap_or(0)
    }

    /// Whether `cluster_state:ok`.
    pub fn state_ok(&self) -> bool {
        self.get("cluster_state") == "ok"
    }
}

/// One entry of `CLUSTER SLOTS`: a slot range, its master and replicas as (address, id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot.
    pub start: u16,
    /// Last slot (inclusive).
    pub end: u16,
    /// Master address and id.
    pub master: (Addr, String),
    /// Replica addresses and ids.
    pub replicas: Vec<(Addr, String)>,
}

/// Parses a `CLUSTER SLOTS` reply.
pub fn parse_slots(value: &Value) -> Result<Vec<SlotRange>> {
    let bad = || Error::err("cannot parse CLUSTER SLOTS reply");
    let Value::Array(ranges) = value else {
        return Err(bad());
    };
    let node = |value: &Value| -> Result<(Addr, String)> {
        let Value::Array(parts) = value else {
            return Err(bad());
        };
        let host = parts.first().and_then(value_text).ok_or_else(bad)?;
        let port = match parts.get(1) {
            Some(Value::Int(port)) => u16::try_from(*port).map_err(|_| bad())?,
            _ => return Err(bad()),
        };
        let id = parts.get(2).and_then(value_text).unwrap_or_default();
        Ok((Addr { host, port }, id))
    };
    let mut out = Vec::new();
    for range in ranges {
        let Value::Array(parts) = range else {
            return Err(bad());
        };
        let (Some(Value::Int(start)), Some(Value::Int(end))) = (parts.first(), parts.get(1)) else {
            return Err(bad());
        };
        let master = node(parts.get(2).ok_or_else(bad)?)?;
        let replicas = parts[3..].iter().map(node).collect::<Result<_>>()?;
        out.push(SlotRange {
            start: u16::try_from(*start).map_err(|_| bad())?,
            end: u16::try_from(*end).map_err(|_| bad())?,
            master,
            replicas,
        });
    }
    Ok(out)
}

/// One node's own account: how we reached it, its `CLUSTER NODES` and `CLUSTER INFO`.
#[derive(Clone, Debug)]
pub struct NodeView {
    /// The address we connected to.
    pub addr: Addr,
    /// Its `CLUSTER NODES`, itself included (flag `myself`).
    pub nodes: Vec<Node>,
    /// Its `CLUSTER INFO`.
    pub info: ClusterInfo,
}

impl NodeView {
    /// Reads one node's view.
    pub fn read(conn: &mut Conn) -> Result<NodeView> {
        let nodes = parse_nodes(&conn.text(&["CLUSTER", "NODES"])?)?;
        // A known node's cluster is one the module manages: its nodes are known too.
        if crate::trust::is_known(&conn.addr) {
            crate::trust::learn(nodes.iter().filter_map(|node| node.addr.as_ref()));
        }
        let info = ClusterInfo::parse(&conn.text(&["CLUSTER", "INFO"])?);
        Ok(NodeView {
            addr: conn.addr.clone(),
            nodes,
            info,
        })
    }

    /// The answering node itself.
    pub fn me(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.flags.myself)
    }

    /// The answering node's id ("" if it did not list itself).
    pub fn id(&self) -> &str {
        self.me().map_or("", |n| n.id.as_str())
    }

    /// The slot configuration as this node sees it: for each master serving slots, its id
    /// and slot ranges, sorted. Equal signatures mean the nodes agree.
    pub fn signature(&self) -> String {
        let mut parts: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| !n.slots.is_empty())
            .map(|n| {
                let ranges: Vec<String> = n.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
                format!("{}:{}", n.id, ranges.join(","))
            })
            .collect();
        parts.sort();
        parts.join("|")
    }
}
