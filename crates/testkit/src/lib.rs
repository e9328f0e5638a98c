//! The test kit: real servers for the integration tests. Each test starts its own [`Server`]
//! on a free loopback port in a temp dir (binaries from the environment: [`servers`]), and the
//! guard stops it by pid when dropped, even when the test fails. [`Server::start_replica_of`]
//! adds a linked replica, [`wait_for`] waits for a condition with a deadline, and [`table`]
//! runs rows of command -> expected reply.
//!
//! Test files reach it as `mod common;` (`tests/common/mod.rs` re-exports it), so a new test
//! file needs nothing else.
#![allow(missing_docs)]

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A server binary under test, known by what it says of itself (`--version`): tests decide
/// by the server's flavor and version, never by the variable that named it.
#[derive(Clone, Debug)]
pub struct ServerKind {
    /// `redis-7.2.6`, `valkey-9.1.2`, `redis-255.255.255`: for messages.
    pub name: String,
    pub binary: PathBuf,
    pub valkey: bool,
    pub version: (u32, u32, u32),
}

impl ServerKind {
    /// Reads flavor and version from `binary --version` ("Redis server v=7.2.6 sha=…",
    /// "Valkey server v=9.1.2 …").
    pub fn probe(binary: PathBuf) -> ServerKind {
        let out = Command::new(&binary)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", binary.display()));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let valkey = text.starts_with("Valkey");
        let version = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .and_then(|v| {
                let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
                Some((parts.next()??, parts.next()??, parts.next()??))
            })
            .unwrap_or_else(|| panic!("{}: no version in {text:?}", binary.display()));
        let flavor = if valkey { "valkey" } else { "redis" };
        ServerKind {
            name: format!("{flavor}-{}.{}.{}", version.0, version.1, version.2),
            binary,
            valkey,
            version,
        }
    }

    /// Whether this is Redis (not Valkey) at `major.minor` or later. Valkey forked from Redis
    /// 7.2.4 and reports its own versions: compare it with [`ServerKind::valkey`] first.
    pub fn redis_at_least(&self, major: u32, minor: u32) -> bool {
        !self.valkey && (self.version.0, self.version.1) >= (major, minor)
    }

    /// Whether the server has what Redis 7.2 added (Valkey forked from 7.2.4, so it has it).
    pub fn since_7_2(&self) -> bool {
        self.valkey || self.redis_at_least(7, 2)
    }
}

/// The repository (this crate is `crates/testkit` in it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the repository")
        .to_path_buf()
}

/// Every server the suite runs against. `RS_RM_SERVER` names exactly one (how
/// `tools/test-all.sh` runs the suite once per server of its matrix); otherwise `REDIS_SERVER`
/// and, unless `SKIP_VALKEY=1`, `VALKEY_SERVER` — a missing Valkey binary fails the test rather
/// than passing it silently.
pub fn servers() -> Vec<ServerKind> {
    if let Some(one) = std::env::var_os("RS_RM_SERVER") {
        return vec![ServerKind::probe(one.into())];
    }
    let mut kinds = vec![ServerKind::probe(
        std::env::var_os("REDIS_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| "redis-server".into()),
    )];
    if std::env::var("SKIP_VALKEY").as_deref() != Ok("1") {
        let binary = std::env::var_os("VALKEY_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("target/servers/valkey-server"));
        assert!(
            binary.exists() || binary.components().count() == 1,
            "no Valkey at {} (run `cargo make setup`, set VALKEY_SERVER, or SKIP_VALKEY=1)",
            binary.display()
        );
        kinds.push(ServerKind::probe(binary));
    }
    kinds
}

/// A module file from `cargo make modules` (`target/modules`) or the fixtures
/// (`target/fixtures`).
pub fn module(name: &str) -> PathBuf {
    for dir in ["target/modules", "target/fixtures", "target/examples"] {
        let path = root().join(dir).join(format!("{name}.so"));
        if path.exists() {
            return path;
        }
    }
    panic!(
        "{name}.so not built: run `bash tools/build-modules.sh --fixtures` (cargo make test does)"
    );
}

/// A running server; killed by pid on drop. It remembers how it was started, so a test can
/// kill it and start it again on the same port and directory ([`Server::restart`]).
pub struct Server {
    pub kind: ServerKind,
    pub port: u16,
    args: Vec<OsString>,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts `kind` with `--loadmodule` for each module and the extra arguments.
    pub fn start(kind: &ServerKind, modules: &[&str], extra: &[&str]) -> Server {
        Server::start_with(kind, modules, extra, false)
    }

    /// Starts a cluster-enabled `kind` (not yet in a cluster): [`CLUSTER_NODE_ARGS`], a bus
    /// port of its own, then the modules and extra arguments (e.g. `--appendonly yes` to
    /// survive a kill).
    pub fn start_cluster_node(kind: &ServerKind, modules: &[&str], extra: &[&str]) -> Server {
        Server::start_with(kind, modules, extra, true)
    }

    fn start_with(kind: &ServerKind, modules: &[&str], extra: &[&str], cluster: bool) -> Server {
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let mut args: Vec<OsString> = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
                .iter()
                .chain(&["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .chain(&["--logfile", "server.log"])
                .map(OsString::from)
                .collect();
            args.extend(["--dir".into(), dir.path().into()]);
            if cluster {
                let bus_port = free_port();
                if bus_port == port {
                    continue;
                }
                args.extend(CLUSTER_NODE_ARGS.iter().map(OsString::from));
                args.extend(["--cluster-port".into(), bus_port.to_string().into()]);
            }
            for name in modules {
                args.extend(["--loadmodule".into(), module(name).into()]);
            }
            args.extend(extra.iter().map(OsString::from));
            let mut server = Server {
                kind: kind.clone(),
                port,
                args,
                child: None,
                dir,
            };
            if server.launch() {
                return server;
            }
            last_log = server.log();
        }
        panic!("{} did not start; last log:\n{last_log}", kind.name);
    }

    /// Spawns the process with the remembered arguments; whether it answers PING in time.
    fn launch(&mut self) -> bool {
        let child = Command::new(&self.kind.binary)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.kind.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !self.alive() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && let Ok(mut con) = self.try_connection()
                && redis::cmd("PING").query::<String>(&mut con).is_ok()
            {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        false
    }

    fn try_connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?;
        client.get_connection_with_timeout(Duration::from_secs(5))
    }

    /// A RESP2 connection.
    pub fn connection(&self) -> redis::Connection {
        self.try_connection().expect("connect")
    }

    /// A RESP3 connection.
    pub fn connection_resp3(&self) -> redis::Connection {
        let client =
            redis::Client::open(format!("redis://127.0.0.1:{}/?protocol=resp3", self.port))
                .expect("client");
        client.get_connection().expect("connect")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Cluster nodes.
impl Server {
    /// The cluster bus port of a node started by [`Server::start_cluster_node`].
    pub fn bus_port(&self) -> u16 {
        self.args
            .iter()
            .position(|arg| arg == "--cluster-port")
            .and_then(|i| self.args.get(i + 1)?.to_str()?.parse().ok())
            .expect("a cluster node (started by start_cluster_node)")
    }

    /// Introduces `other` to this node: `CLUSTER MEET` with its port and bus port.
    pub fn meet(&self, other: &Server) {
        let (port, bus) = (other.port.to_string(), other.bus_port().to_string());
        let mut con = self.connection();
        assert_eq!(
            reply(&mut con, &["cluster", "meet", "127.0.0.1", &port, &bus]),
            "+OK",
            "CLUSTER MEET {port} {bus}"
        );
    }
}

/// The append-only file.
impl Server {
    /// The text of every file in the server's `appendonlydir` (base and increments, as far as
    /// written), bytes that are not UTF-8 replaced.
    pub fn aof(&self) -> String {
        std::fs::read_dir(self.dir().join("appendonlydir"))
            .expect("appendonlydir")
            .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect()
    }
}

/// Replication.
impl Server {
    /// Starts a server of the same kind with `modules` and `extra`, replicating this one, and
    /// returns once its link to this server is up.
    pub fn start_replica_of(&self, modules: &[&str], extra: &[&str]) -> Server {
        let port = self.port.to_string();
        let mut args = vec!["--replicaof", "127.0.0.1", &port];
        args.extend_from_slice(extra);
        let replica = Server::start(&self.kind, modules, &args);
        let mut con = replica.connection();
        wait_for("the replica's link to its master", WAIT, || {
            reply(&mut con, &["info", "replication"]).contains("master_link_status:up")
        });
        replica
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Stopping and restarting a server in place (cluster tests kill nodes and bring them back).
impl Server {
    /// Kills the process (SIGKILL: a crash, no shutdown work) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again (after [`Server::kill`]) with the same arguments, on the same
    /// port, in the same directory (so a cluster node keeps its `nodes.conf` and data).
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.launch(),
            "{} did not restart on port {}; log:\n{}",
            self.kind.name,
            self.port,
            self.log()
        );
    }
}

/// The arguments of a fast-failing cluster node (1 s node timeout, no diskless sync delay).
pub const CLUSTER_NODE_ARGS: [&str; 8] = [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "1000",
    "--repl-diskless-sync-delay",
    "0",
];

/// Starts six cluster nodes (`modules` and the `extra` arguments for the first only) and joins them with
/// `redis-cli --cluster create ... --cluster-replicas 1`: masters on the first three, a
/// replica each on the others. Returns once every node reports `cluster_state:ok`, knows all
/// six nodes and every replica's link to its master is up.
pub fn start_cluster(kind: &ServerKind, modules: &[&str], extra: &[&str]) -> Vec<Server> {
    let nodes: Vec<Server> = (0..6)
        .map(|i| {
            let (modules, extra) = if i == 0 {
                (modules, extra)
            } else {
                (&[][..], &[][..])
            };
            Server::start_cluster_node(kind, modules, extra)
        })
        .collect();
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
    let output = Command::new("redis-cli")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli");
    assert!(
        output.status.success(),
        "redis-cli --cluster create failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in &nodes {
        let mut con = node.connection();
        loop {
            let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut con).unwrap();
            let list: String = redis::cmd("CLUSTER").arg("NODES").query(&mut con).unwrap();
            let replication: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut con)
                .unwrap();
            let linked = replication.contains("role:master")
                || replication.contains("master_link_status:up");
            if info.contains("cluster_state:ok")
                && list.lines().count() == 6
                && !list.contains("handshake")
                && linked
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not settle:\n{list}\n{info}"
            );
            sleep(Duration::from_millis(50));
        }
    }
    nodes
}

/// A port no server of this process has had: the kernel's choice of a free one, skipping
/// those handed out before. A killed node keeps its port for its restart, and the kernel would
/// otherwise hand that port to a server another test starts meanwhile (seen in CI: a cluster
/// node's restart failed with "Address already in use").
fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// Runs a command and returns its reply, with an error reply as `Err("CODE message")`.
pub fn run(con: &mut redis::Connection, args: &[&str]) -> Result<redis::Value, String> {
    let args: Vec<&[u8]> = args.iter().map(|arg| arg.as_bytes()).collect();
    run_bin(con, &args)
}

/// [`run`] with binary arguments (the command name is text).
pub fn run_bin(con: &mut redis::Connection, args: &[&[u8]]) -> Result<redis::Value, String> {
    let name = std::str::from_utf8(args[0]).expect("a command name in UTF-8");
    let mut cmd = redis::cmd(name);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    match cmd.query::<redis::Value>(con) {
        Ok(redis::Value::ServerError(e)) => {
            Err(format!("{} {}", e.code(), e.details().unwrap_or("")))
        }
        Ok(value) => Ok(value),
        Err(e) => Err(format!(
            "{} {}",
            e.code().unwrap_or("?"),
            e.detail().unwrap_or("")
        )),
    }
}

/// The reply as a compact string for exact comparisons: `(nil)`, `1`, `"text"`, `[a, b]`, …
pub fn show(value: &redis::Value) -> String {
    use redis::Value::*;
    match value {
        Nil => "(nil)".into(),
        Int(n) => n.to_string(),
        BulkString(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
        SimpleString(text) => format!("+{text}"),
        Okay => "+OK".into(),
        Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Set(items) => format!(
            "~[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Map(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", show(k), show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Double(d) => format!(",{d}"),
        Boolean(b) => format!("#{b}"),
        VerbatimString { format, text } => format!("={format}:{text}"),
        BigNumber(digits) => format!("({}", String::from_utf8_lossy(digits)),
        other => format!("{other:?}"),
    }
}

/// Runs a command whose reply is text (bulk, simple or verbatim), panicking on anything else.
pub fn text(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// `DUMP key`'s payload, panicking on anything else.
pub fn dump(con: &mut redis::Connection, key: &str) -> Vec<u8> {
    match run(con, &["dump", key]) {
        Ok(redis::Value::BulkString(bytes)) => bytes,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

/// An RDB length (6-, 14- or 32-bit form, or 64-bit past `u32::MAX`), for hand-made payloads.
pub fn rdb_len(n: u64) -> Vec<u8> {
    match n {
        n if n < 1 << 6 => vec![n as u8],
        n if n < 1 << 14 => vec![0x40 | (n >> 8) as u8, n as u8],
        n if n <= u64::from(u32::MAX) => {
            let mut bytes = vec![0x80];
            bytes.extend_from_slice(&(n as u32).to_be_bytes());
            bytes
        }
        n => {
            let mut bytes = vec![0x81];
            bytes.extend_from_slice(&n.to_be_bytes());
            bytes
        }
    }
}

/// Runs a command and shows its reply (or `ERR ...` for an error reply).
pub fn reply(con: &mut redis::Connection, args: &[&str]) -> String {
    match run(con, args) {
        Ok(value) => show(&value),
        Err(error) => error,
    }
}

/// [`reply`] with binary arguments (the command name is text).
pub fn reply_bin(con: &mut redis::Connection, args: &[&[u8]]) -> String {
    match run_bin(con, args) {
        Ok(value) => show(&value),
        Err(error) => error,
    }
}

/// Runs `commands` in one pipeline, ignoring their replies (an error fails the pipeline).
pub fn pipeline(con: &mut redis::Connection, commands: impl IntoIterator<Item = Vec<String>>) {
    let mut pipe = redis::pipe();
    for command in commands {
        let mut cmd = redis::cmd(&command[0]);
        for arg in &command[1..] {
            cmd.arg(arg);
        }
        pipe.add_command(cmd).ignore();
    }
    pipe.query::<()>(con).expect("pipeline");
}

/// How long the suites wait for a server to get somewhere (a replica link, a key to expire)
/// before failing: long enough for a loaded 2-core machine, short enough to fail visibly.
pub const WAIT: Duration = Duration::from_secs(10);

/// How long the cluster suites wait: a cluster takes a few seconds to agree.
pub const WAIT_CLUSTER: Duration = Duration::from_secs(30);

/// Polls `check` every 50 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        sleep(Duration::from_millis(50));
    }
}

/// Runs each row's command on `con` and asserts its reply as [`reply`] shows it (`(nil)`, `1`,
/// `"text"`, `+OK`, `ERR ...`); a failure names `what` (the server, the case) and the command.
pub fn table(con: &mut redis::Connection, what: &str, rows: &[(&[&str], &str)]) {
    for (args, expected) in rows {
        assert_eq!(reply(con, args), *expected, "{what}: {}", args.join(" "));
    }
}

/// Starts `n` cluster-enabled servers (not yet a cluster), each with `modules` and `extra`.
pub fn cluster_nodes(kind: &ServerKind, n: usize, modules: &[&str], extra: &[&str]) -> Vec<Server> {
    (0..n)
        .map(|_| Server::start_cluster_node(kind, modules, extra))
        .collect()
}
