//! `CLUSTER.BACKUP`: an RDB snapshot of every master, fetched over the replication protocol
//! (`REPLCONF rdb-only 1` + `SYNC`, as `redis-cli --rdb` does), plus `nodes.json` describing
//! the cluster the snapshots were taken from.
//!
//! Each snapshot streams into a temp file in the backup directory (mode 0600: it holds all the
//! data) that is renamed into place once complete, so a file named `redis-node-*.rdb` is always
//! a whole snapshot.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redis::Value;
use rm::{Error, Result};
use serde_json::{Value as Json, json};

use crate::jobs::{Job, Report};
use crate::topology::{self, Addr, CONNECT_TIMEOUT, ClusterView, Conn, Node};

/// How long one read of the snapshot stream may wait: the master forks and saves before the
/// first byte (sending a `\n` keepalive now and then meanwhile).
const SYNC_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a master may take to prepare its snapshot (a BGSAVE of a large dataset).
const PREPARE_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// Masters snapshotting at once: each forks, and a host may run several.
const MASTERS_AT_ONCE: usize = 4;

/// Length of the end mark of a diskless transfer (`$EOF:<mark>`).
const EOF_MARK_LEN: usize = 40;

/// Magic strings an RDB file starts with (Valkey 9 writes `VALKEY080`, Redis `REDIS00xx`).
const RDB_MAGICS: [&[u8]; 2] = [b"REDIS", b"VALKEY"];

/// Refuses a backup directory that is not an absolute path to an existing directory inside
/// `server_dir`, the hosting server's working directory (checked in the command callback,
/// before any job starts). Clients choose the directory, and a server writing files where a
/// client says is what Redis protects `CONFIG SET dir` against: backups stay where the
/// server's own snapshots go.
pub fn validate_dir(dir: &str, server_dir: &Path) -> Result<PathBuf> {
    let path = PathBuf::from(dir);
    if !path.is_absolute() {
        return Err(Error::err(format!(
            "the backup directory must be an absolute path, got '{dir}'"
        )));
    }
    if !path.is_dir() {
        return Err(Error::err(format!(
            "the backup directory '{dir}' does not exist or is not a directory"
        )));
    }
    let real = path
        .canonicalize()
        .map_err(|e| Error::err(format!("the backup directory '{dir}': {e}")))?;
    let root = server_dir.canonicalize().map_err(|e| {
        Error::err(format!(
            "the server's directory '{}': {e}",
            server_dir.display()
        ))
    })?;
    if !real.starts_with(&root) {
        return Err(Error::err(format!(
            "the backup directory must be inside this server's dir '{}', got '{dir}'",
            root.display()
        )));
    }
    Ok(real)
}

/// One master's snapshot, written.
struct Written {
    id: String,
    addr: Addr,
    keys: Option<i64>,
    file: PathBuf,
    bytes: u64,
}

/// `CLUSTER.BACKUP`: every master reachable from `seed`, in parallel, into `dir`; then
/// `nodes.json`. A master holding slots that does not answer fails the backup before any file
/// is written; a snapshot that fails fails the job naming its master (the other masters'
/// files stay, `nodes.json` is not written).
pub fn backup(job: &Job, seed: &Addr, dir: &Path) -> Result<Report> {
    let started = Instant::now();
    job.progress("reading the cluster");
    let view = ClusterView::gather(seed)?;
    for node in view.nodes() {
        if let Some((addr, error)) = view.unreachable.iter().find(|(addr, _)| {
            node.is_master() && node.slot_count() > 0 && Some(addr) == node.addr.as_ref()
        }) {
            return Err(Error::err(format!(
                "master {} ({addr}) is unreachable, no backup written: {error}",
                node.id
            )));
        }
    }
    let masters: Vec<(String, Addr)> = view
        .masters()
        .into_iter()
        .map(|m| Ok((m.id.clone(), view.require_addr(&m.id)?)))
        .collect::<Result<_>>()?;
    if masters.is_empty() {
        return Err(Error::err("the cluster has no reachable master"));
    }
    // Every slot the seed sees assigned must belong to a master being backed up (one without
    // an address is neither reachable nor unreachable).
    let backed_up: usize = view.masters().iter().map(|m| m.slot_count()).sum();
    let assigned: usize = view
        .nodes()
        .iter()
        .filter(|n| n.is_master())
        .map(|n| n.slot_count())
        .sum();
    if backed_up < assigned {
        return Err(Error::err(format!(
            "only {backed_up} of the {assigned} assigned slots are on masters this backup can \
             reach: no backup written"
        )));
    }
    // A nodes.json left from an earlier backup must not describe a mix of old and new files.
    let nodes_json = dir.join("nodes.json");
    match std::fs::remove_file(&nodes_json) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::err(format!("{}: {e}", nodes_json.display()))),
    }
    job.progress(format!("fetching {} snapshots", masters.len()));
    let results = topology::parallel_n(masters.clone(), MASTERS_AT_ONCE, |(id, addr)| {
        let written = backup_master(dir, &id, &addr);
        if written.is_ok() {
            job.add("files_written", 1);
        }
        written
    });
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for ((id, addr), result) in masters.into_iter().zip(results) {
        match result.unwrap_or_else(|| Err(Error::err("worker panicked"))) {
            Ok(w) => written.push(w),
            Err(e) => failed.push(format!(
                "master {id} ({addr}): {}",
                e.to_string().trim_start_matches("ERR ")
            )),
        }
    }
    if !failed.is_empty() {
        return Err(Error::err(format!(
            "backup failed for {}; {} snapshot files of the other masters stay in {}, \
             nodes.json was not written",
            failed.join("; "),
            written.len(),
            dir.display()
        )));
    }
    let description = serde_json::to_vec_pretty(&describe(&view))
        .map_err(|e| Error::err(format!("nodes.json: {e}")))?;
    write_atomically(dir, &nodes_json, |file| {
        file.write_all(&description)
            .map_err(|e| Error::err(format!("{}: {e}", nodes_json.display())))
    })?;
    let elapsed = started.elapsed().as_millis() as u64;
    let mut text = String::new();
    let mut files = Vec::new();
    for w in &written {
        let keys = w.keys.map_or("? keys".to_owned(), |n| format!("{n} keys"));
        text.push_str(&format!(
            "M: {} {} {keys} -> {} ({} bytes)\n",
            w.id,
            w.addr,
            w.file.display(),
            w.bytes
        ));
        files.push(json!({
            "id": w.id,
            "addr": w.addr.to_string(),
            "keys": w.keys,
            "file": w.file.display().to_string(),
            "bytes": w.bytes,
        }));
    }
    text.push_str(&format!(
        "[OK] Backup of {} masters written to {} in {elapsed} ms.\n",
        written.len(),
        dir.display()
    ));
    Ok(Report::new(
        text,
        json!({
            "ok": true,
            "dir": dir.display().to_string(),
            "files": files,
            "nodes_json": nodes_json.display().to_string(),
            "elapsed_ms": elapsed,
        }),
    ))
}

/// The cluster as `nodes.json` records it: every node the seed lists, as the node describes
/// itself where it answered.
fn describe(view: &ClusterView) -> Json {
    let nodes: Vec<Json> = view
        .nodes()
        .iter()
        .map(|listed| {
            let node: &Node = view
                .view_of(&listed.id)
                .and_then(|v| v.me())
                .unwrap_or(listed);
            let role = if node.is_master() {
                "master"
            } else {
                "replica"
            };
            json!({
                "id": node.id,
                "addr": view.addr_of(&node.id).map(|a| a.to_string()),
                "role": role,
                "master_id": node.master_id,
                "slots": node.slots.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
                "slot_count": node.slot_count(),
                "config_epoch": node.config_epoch,
                "failing": listed.is_failing(),
            })
        })
        .collect();
    json!({ "seed": view.seed.to_string(), "nodes": nodes })
}

/// `text` fit for a file name: the host and id come from what the nodes announce, so a `/`
/// (or anything unusual) must not reach the path.
fn file_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .replace("..", "__")
}

/// Fetches one master's snapshot into `<dir>/redis-node-<host>-<port>-<id>.rdb`.
fn backup_master(dir: &Path, id: &str, addr: &Addr) -> Result<Written> {
    // The key count is informational (the snapshot is taken a moment later).
    let keys = Conn::open(addr)
        .and_then(|mut conn| conn.cmd(&["DBSIZE"]))
        .ok()
        .and_then(|v| match v {
            Value::Int(n) => Some(n),
            _ => None,
        });
    let file = dir.join(format!(
        "redis-node-{}-{}-{}.rdb",
        file_part(&addr.host),
        addr.port,
        file_part(id)
    ));
    let bytes = write_atomically(dir, &file, |out| fetch_rdb(addr, out))?;
    Ok(Written {
        id: id.to_owned(),
        addr: addr.clone(),
        keys,
        file,
        bytes,
    })
}

/// Runs `write` on a new temp file (mode 0600) in `dir`, then renames it to `target`; on
/// failure the temp file is removed.
fn write_atomically<T>(
    dir: &Path,
    target: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<T>,
) -> Result<T> {
    let io_error = |e: std::io::Error| Error::err(format!("{}: {e}", target.display()));
    let mut temp = tempfile::Builder::new()
        .prefix(".backup-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io_error)?;
    let result = write(temp.as_file_mut())?;
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(target).map_err(|e| io_error(e.error))?;
    Ok(result)
}

/// Connects to `addr` and streams its RDB snapshot into `out`; returns its length.
fn fetch_rdb(addr: &Addr, out: &mut impl Write) -> Result<u64> {
    let net = |e: std::io::Error| Error::err(format!("{addr}: {e}"));
    let socket = (addr.host.as_str(), addr.port)
        .to_socket_addrs()
        .map_err(net)?
        .next()
        .ok_or_else(|| Error::err(format!("cannot resolve {addr}")))?;
    let stream = TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT).map_err(net)?;
    stream
        .set_read_timeout(Some(SYNC_READ_TIMEOUT))
        .map_err(net)?;
    stream
        .set_write_timeout(Some(SYNC_READ_TIMEOUT))
        .map_err(net)?;
    let mut writer = stream.try_clone().map_err(net)?;
    let mut reader = BufReader::new(stream);
    if let Some(credentials) = crate::credentials_for(addr) {
        let mut auth: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(user) = &credentials.user {
            auth.push(user.as_bytes());
        }
        auth.push(credentials.password.as_bytes());
        writer.write_all(&resp_command(&auth)).map_err(net)?;
        let answer = read_line(&mut reader).map_err(net)?;
        if !answer.starts_with('+') {
            return Err(Error::err(format!(
                "{addr}: AUTH: {}",
                answer.trim_start_matches('-')
            )));
        }
    }
    // An rdb-only replica gets the snapshot and nothing after it (Redis ≥ 7.0); older
    // servers refuse the option and we stop reading after the snapshot anyway.
    writer
        .write_all(b"*3\r\n$8\r\nREPLCONF\r\n$8\r\nrdb-only\r\n$1\r\n1\r\n")
        .map_err(net)?;
    let answer = read_line(&mut reader).map_err(net)?;
    if !answer.starts_with('+') && !answer.starts_with('-') {
        return Err(Error::err(format!(
            "{addr}: unexpected reply to REPLCONF: {answer}"
        )));
    }
    writer.write_all(b"*1\r\n$4\r\nSYNC\r\n").map_err(net)?;
    let bytes = read_rdb(&mut reader, out).map_err(|e| Error::err(format!("{addr}: {e}")))?;
    // Dropping the socket closes it: the master forgets the replica.
    Ok(bytes)
}

/// A command in RESP, as a client sends it.
fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one line ending in `\n`, without `\r\n`.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Reads a `SYNC` answer: keepalive newlines, then `$<len>` and len bytes (disk-based) or
/// `$EOF:<40-byte mark>` and the payload up to the same mark (diskless). Writes the payload
/// to `out` and returns its length; an error reply, a bad header or a payload that is not an
/// RDB is an error.
pub fn read_rdb(
    reader: &mut impl BufRead,
    out: &mut impl Write,
) -> std::result::Result<u64, String> {
    // The master sends a newline a second while it prepares the snapshot, which keeps the
    // read timeout from firing: the wait needs a deadline of its own.
    let deadline = Instant::now() + PREPARE_DEADLINE;
    let header = loop {
        let line = read_line(reader).map_err(|e| e.to_string())?;
        if !line.is_empty() {
            break line;
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the master did not start sending its snapshot within {} s",
                PREPARE_DEADLINE.as_secs()
            ));
        }
    };
    if let Some(error) = header.strip_prefix('-') {
        return Err(format!("SYNC refused: {error}"));
    }
    let Some(size) = header.strip_prefix('$') else {
        return Err(format!("unexpected answer to SYNC: {header}"));
    };
    let mut checked = MagicCheck::default();
    if let Some(mark) = size.strip_prefix("EOF:") {
        let mark = mark.as_bytes();
        if mark.len() != EOF_MARK_LEN {
            return Err(format!("bad end mark in {header}"));
        }
        read_until_mark(reader, mark, &mut |chunk| checked.write(chunk, out))
    } else {
        let len: u64 = size
            .parse()
            .map_err(|_| format!("unexpected answer to SYNC: {header}"))?;
        let mut left = len;
        while left > 0 {
            let buf = reader.fill_buf().map_err(|e| e.to_string())?;
            if buf.is_empty() {
                return Err(format!(
                    "connection closed after {} of {len} bytes",
                    len - left
                ));
            }
            let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            checked.write(&buf[..take], out)?;
            reader.consume(take);
            left -= take as u64;
        }
        Ok(len)
    }
    .and_then(|bytes| checked.finish().map(|()| bytes))
}

/// Passes the payload through up to `mark` (excluded); returns its length.
fn read_until_mark(
    reader: &mut impl BufRead,
    mark: &[u8],
    write: &mut impl FnMut(&[u8]) -> std::result::Result<(), String>,
) -> std::result::Result<u64, String> {
    // Bytes read but not yet passed on: the mark may straddle two reads.
    let mut pending: Vec<u8> = Vec::new();
    let mut total = 0u64;
    loop {
        let buf = reader.fill_buf().map_err(|e| e.to_string())?;
        if buf.is_empty() {
            return Err(format!(
                "connection closed before the end mark ({} bytes read)",
                total + pending.len() as u64
            ));
        }
        let n = buf.len();
        pending.extend_from_slice(buf);
        reader.consume(n);
        if let Some(at) = pending.windows(mark.len()).position(|w| w == mark) {
            write(&pending[..at])?;
            return Ok(total + at as u64);
        }
        let keep = mark.len() - 1;
        if pending.len() > keep {
            let done = pending.len() - keep;
            write(&pending[..done])?;
            total += done as u64;
            pending.drain(..done);
        }
    }
}

/// Checks that the payload starts with an RDB magic string while passing it on.
#[derive(Default)]
struct MagicCheck {
    head: Vec<u8>,
}

impl MagicCheck {
    const NEEDED: usize = 6;

    fn write(&mut self, chunk: &[u8], out: &mut impl Write) -> std::result::Result<(), String> {
        if self.head.len() < Self::NEEDED {
            let take = chunk.len().min(Self::NEEDED - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
            if !RDB_MAGICS
                .iter()
                .any(|magic| magic.starts_with(&self.head) || self.head.starts_with(magic))
            {
                return Err("the payload is not an RDB file".to_owned());
            }
        }
        out.write_all(chunk).map_err(|e| e.to_string())
    }

    fn finish(&self) -> std::result::Result<(), String> {
        if RDB_MAGICS.iter().any(|magic| self.head.starts_with(magic)) {
            Ok(())
        } else {
            Err("the payload is not an RDB file".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_names_stay_inside_the_directory() {
        assert_eq!(file_part("10.0.0.1"), "10.0.0.1");
        assert_eq!(file_part("::1"), "::1");
        assert_eq!(file_part("../../etc/x"), "______etc_x");
        assert_eq!(file_part("a\0b c"), "a_b_c");
    }

    fn read(input: &[u8], capacity: usize) -> std::result::Result<Vec<u8>, String> {
        let mut reader = BufReader::with_capacity(capacity, input);
        let mut out = Vec::new();
        let n = read_rdb(&mut reader, &mut out)?;
        assert_eq!(n, out.len() as u64);
        Ok(out)
    }

    #[test]
    fn disk_based_transfer() {
        let payload = b"REDIS0011 some rdb bytes\r\n\xff";
        let mut input = b"\n\n".to_vec();
        input.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
        input.extend_from_slice(payload);
        input.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        for capacity in [1, 3, 7, 64] {
            assert_eq!(read(&input, capacity).unwrap(), payload);
        }
        assert_eq!(
            read(&input[..input.len() - 20], 8).unwrap_err(),
            format!("connection closed after 21 of {} bytes", payload.len())
        );
    }

    #[test]
    fn diskless_transfer() {
        let mark = "0123456789abcdefghij0123456789ABCDEFGHIJ";
        let payload = b"VALKEY080 payload with 0123456789 in it";
        let mut input = format!("\n$EOF:{mark}\r\n").into_bytes();
        input.extend_from_slice(payload);
        input.extend_from_slice(mark.as_bytes());
        input.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        for capacity in [1, 5, 39, 40, 41, 4096] {
            assert_eq!(read(&input, capacity).unwrap(), payload);
        }
        let cut = input.len() - 20;
        assert!(
            read(&input[..cut], 16)
                .unwrap_err()
                .starts_with("connection closed")
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(
            read(b"-NOPERM no\r\n", 16).unwrap_err(),
            "SYNC refused: NOPERM no"
        );
        assert_eq!(
            read(b"$5\r\nHELLO", 16).unwrap_err(),
            "the payload is not an RDB file"
        );
        assert_eq!(
            read(b"$3\r\nRED", 16).unwrap_err(),
            "the payload is not an RDB file"
        );
        assert_eq!(
            read(b"+FULLRESYNC x 0\r\n", 16).unwrap_err(),
            "unexpected answer to SYNC: +FULLRESYNC x 0"
        );
        assert_eq!(
            read(b"$EOF:short\r\n", 16).unwrap_err(),
            "bad end mark in $EOF:short"
        );
    }
}
