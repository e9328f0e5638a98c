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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};
use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::Value;
use rm::{Error, Result};

/// Number of hash slots.
pub const SLOTS: u16 = 16384;

/// How long connecting to a node may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a reply may take by default (MIGRATE batches set their own).
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How often agreement and state polls look again.
pub const POLL: Duration = Duration::from_millis(10);

/// A node address, `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr {
    /// Host name or IP (IPv6 without brackets).
    pub host: String,
    /// Client port.
    pub port: u16,
}

impl Addr {
    /// The IP the node is reached at (`CLUSTER MEET` takes an IP, not a host name).
    pub fn ip(&self) -> Result<String> {
        if self.host.parse::<std::net::IpAddr>().is_ok() {
            return Ok(self.host.clone());
        }
        std::net::ToSocketAddrs::to_socket_addrs(&(self.host.as_str(), self.port))
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip().to_string())
            .ok_or_else(|| Error::err(format!("cannot resolve {self}")))
    }

    /// Parses `host:port` (`[v6]:port` too). `None` if it is not one.
    pub fn parse(text: &str) -> Option<Addr> {
        let (host, port) = text.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return None;
        }
        Some(Addr {
            host: host.to_owned(),
            port,
        })
    }

    /// Parses `host:port`, or `ERR invalid address '<text>' (expected host:port)`.
    pub fn parse_arg(text: &str) -> Result<Addr> {
        Addr::parse(text)
            .ok_or_else(|| Error::err(format!("invalid address '{text}' (expected host:port)")))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A connection to one node.
pub struct Conn {
    /// Where it goes.
    pub addr: Addr,
    con: redis::Connection,
    /// How long a reply may take (for the error that says it did not come).
    timeout: std::cell::Cell<Duration>,
}

/// Turns a client error into `ERR <addr>: <error>`.
pub fn net_error(addr: &Addr, error: &redis::RedisError) -> Error {
    Error::err(format!("{addr}: {error}"))
}

impl Conn {
    /// Connects with [`CONNECT_TIMEOUT`]; replies may take [`READ_TIMEOUT`].
    pub fn open(addr: &Addr) -> Result<Conn> {
        use redis::IntoConnectionInfo as _;
        let mut info = redis::ConnectionAddr::Tcp(addr.host.clone(), addr.port)
            .into_connection_info()
            .map_err(|e| net_error(addr, &e))?;
        if let Some(credentials) = crate::credentials_for(addr) {
            let mut settings = info
                .redis_settings()
                .clone()
                .set_password(&credentials.password);
            if let Some(user) = &credentials.user {
                settings = settings.set_username(user);
            }
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(|e| net_error(addr, &e))?;
        let con = client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| net_error(addr, &e))?;
        let conn = Conn {
            addr: addr.clone(),
            con,
            timeout: std::cell::Cell::new(READ_TIMEOUT),
        };
        conn.set_timeout(READ_TIMEOUT)?;
        Ok(conn)
    }

    /// Sets how long a reply may take.
    pub fn set_timeout(&self, timeout: Duration) -> Result<()> {
        self.timeout.set(timeout);
        self.con
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.con.set_write_timeout(Some(timeout)))
            .map_err(|e| net_error(&self.addr, &e))
    }

    /// A failed exchange as an error naming the node; a timeout says so (the OS words it
    /// "Resource temporarily unavailable").
    fn failed(&self, error: &redis::RedisError) -> Error {
        if error.is_timeout() {
            Error::err(format!(
                "{}: no reply within {} ms",
                self.addr,
                self.timeout.get().as_millis()
            ))
        } else {
            net_error(&self.addr, error)
        }
    }

    /// Runs one command. An error reply is `Err(ERR <addr>: <error line>)`.
    pub fn cmd<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<Value> {
        let value = self.cmd_raw(args)?;
        match value {
            Value::ServerError(e) => Err(Error::err(format!(
                "{}: {} {}",
                self.addr,
                e.code(),
                e.details().unwrap_or("")
            ))),
            value => Ok(value),
        }
    }

    /// Runs one command; an error reply is returned as `Ok(Value::ServerError)`, only network
    /// and protocol failures are `Err`.
    pub fn cmd_raw<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<Value> {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0].as_ref()).unwrap_or("?"));
        for arg in &args[1..] {
            cmd.arg(arg.as_ref());
        }
        use redis::ConnectionLike as _;
        self.con.req_command(&cmd).map_err(|e| self.failed(&e))
    }

    /// Runs a command whose reply is text (bulk, simple or verbatim string).
    pub fn text<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<String> {
        let value = self.cmd(args)?;
        value_text(&value)
            .ok_or_else(|| Error::err(format!("{}: unexpected reply {value:?}", self.addr)))
    }

    /// Sends all `commands` in one pipeline and returns each reply (error replies included, as
    /// `Value::ServerError`). `Err` only when the connection fails.
    pub fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for args in commands {
            let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap_or("?"));
            for arg in &args[1..] {
                cmd.arg(&arg[..]);
            }
            pipe.add_command(cmd);
        }
        pipe.query::<Vec<Value>>(&mut self.con)
            .map_err(|e| self.failed(&e))
    }
}

/// Builds a command for [`Conn::pipeline`] from string-ish parts.
pub fn command<S: AsRef<[u8]>>(args: &[S]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_ref().to_vec()).collect()
}

/// The text of a string-like reply.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".to_owned()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The error line of an error reply, if `value` is one.
pub fn value_error(value: &Value) -> Option<String> {
    match value {
        Value::ServerError(e) => Some(format!("{} {}", e.code(), e.details().unwrap_or(""))),
        _ => None,
    }
}

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

/// At most this many nodes are talked to at once (threads and connections) by one reader.
pub const PARALLEL: usize = 16;

/// Runs `work` on every item on at most [`PARALLEL`] threads; results in item order, `None`
/// where the worker panicked.
pub fn parallel<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<Option<R>> {
    parallel_n(items, PARALLEL, work)
}

/// [`parallel`] on at most `limit` threads. Each thread takes the next item when it is done
/// with one, so a slow node holds up only its own thread.
pub fn parallel_n<T: Send, R: Send>(
    items: Vec<T>,
    limit: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<Option<R>> {
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..count.min(limit.max(1)) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((i, item)) = next else {
                        break;
                    };
                    // A panic costs only its own item's result.
                    if let Ok(result) = catch_unwind(AssertUnwindSafe(|| work(item))) {
                        results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(result);
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// Connections kept open between reads of the cluster, by address: a wait polling every
/// [`POLL`] reuses them instead of connecting to every node each time.
#[derive(Default)]
pub struct Pool {
    conns: BTreeMap<Addr, Conn>,
    timeout: Option<Duration>,
}

impl Pool {
    /// A pool whose new connections wait at most `timeout` for a reply.
    pub fn with_timeout(timeout: Duration) -> Pool {
        Pool {
            conns: BTreeMap::new(),
            timeout: Some(timeout),
        }
    }

    /// Each address's own view, read [`PARALLEL`] at a time, in `addrs` order. Connections
    /// that answered are kept; a failed one may be half-read and is dropped.
    pub fn read_all(&mut self, addrs: &[Addr]) -> Vec<(Addr, Result<NodeView>)> {
        let timeout = self.timeout;
        let work: Vec<(Addr, Option<Conn>)> = addrs
            .iter()
            .map(|addr| (addr.clone(), self.conns.remove(addr)))
            .collect();
        let results = parallel(work, |(addr, conn)| {
            let conn = match conn {
                Some(conn) => Ok(conn),
                None => Conn::open(&addr).and_then(|conn| {
                    if let Some(timeout) = timeout {
                        conn.set_timeout(timeout)?;
                    }
                    Ok(conn)
                }),
            };
            match conn {
                Ok(mut conn) => {
                    let view = NodeView::read(&mut conn);
                    (view.is_ok().then_some(conn), view)
                }
                Err(e) => (None, Err(e)),
            }
        });
        addrs
            .iter()
            .zip(results)
            .map(|(addr, result)| {
                let (conn, view) =
                    result.unwrap_or_else(|| (None, Err(Error::err("node reader panicked"))));
                if let Some(conn) = conn {
                    self.conns.insert(addr.clone(), conn);
                }
                (addr.clone(), view)
            })
            .collect()
    }

    /// Sets how long a reply may take, for the kept connections and new ones.
    pub fn set_timeout(&mut self, timeout: Duration) {
        if self.timeout != Some(timeout) {
            self.timeout = Some(timeout);
            self.conns
                .retain(|_, conn| conn.set_timeout(timeout).is_ok());
        }
    }

    /// Closes the connections to addresses `keep` refuses.
    pub fn retain(&mut self, keep: impl Fn(&Addr) -> bool) {
        self.conns.retain(|addr, _| keep(addr));
    }
}

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
