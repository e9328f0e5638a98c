//! A small HTTP server in the GitHub raw layout (feature `publish`): `GET /<rev>/<path>`
//! answers the file at that revision of a git repository (or of a directory, where the
//! revision is ignored), optionally throttled or cut short. For tests, benchmarks and demos:
//! it serves loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Result;
use crate::index::Version;
use crate::source::Connected;

/// How the server misbehaves, on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Bytes per second for bodies; 0 for no limit.
    pub rate: u64,
    /// Close the connection after this many body bytes (the `Content-Length` still promises
    /// them all).
    pub cut_after: Option<u64>,
}

/// A running server; stopped (and its threads joined) on drop.
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `root` (a git repository's work tree or `.git`, or a plain directory) on a free
    /// loopback port.
    pub fn start(root: &Path, options: Options) -> Result<Server> {
        let backing = if root.join(".git").exists() {
            Connected::Git(root.join(".git"))
        } else if root.join("HEAD").exists() && root.join("objects").exists() {
            Connected::Git(root.to_owned())
        } else {
            Connected::Dir(root.to_owned())
        };
        let listener =
            TcpListener::bind("127.0.0.1:0").map_err(|e| crate::Error(format!("bind: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| crate::Error(e.to_string()))?
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let backing = Arc::new(backing);
        let accept = {
            let stop = stop.clone();
            let requests = requests.clone();
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    requests.fetch_add(1, Ordering::Relaxed);
                    let backing = backing.clone();
                    let stop = stop.clone();
                    workers.push(std::thread::spawn(move || {
                        let _ = answer(stream, &backing, options, &stop);
                    }));
                    workers.retain(|w: &JoinHandle<()>| !w.is_finished());
                }
                for worker in workers {
                    let _ = worker.join();
                }
            })
        };
        Ok(Server {
            port,
            stop,
            requests,
            accept: Some(accept),
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many connections it accepted.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn answer(
    mut stream: TcpStream,
    backing: &Connected,
    options: Options,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let found = target
        .trim_start_matches('/')
        .split_once('/')
        .and_then(|(rev, path)| {
            let version = (rev != "HEAD").then(|| Version {
                commit: crate::names::is_commit_prefix(rev).then(|| rev.to_owned()),
                tag: (!crate::names::is_commit_prefix(rev)).then(|| rev.to_owned()),
                ..Version::default()
            });
            let mut body = Vec::new();
            backing
                .open(version.as_ref(), path)
                .ok()??
                .read_to_end(&mut body)
                .ok()?;
            Some(body)
        });
    let Some(body) = found else {
        stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let limit = options
        .cut_after
        .map_or(body.len(), |cut| (cut as usize).min(body.len()));
    let started = Instant::now();
    let chunk = if options.rate == 0 {
        64 << 10
    } else {
        (options.rate / 50).clamp(1024, 64 << 10) as usize
    };
    let mut sent = 0;
    while sent < limit && !stop.load(Ordering::Acquire) {
        let end = (sent + chunk).min(limit);
        stream.write_all(&body[sent..end])?;
        sent = end;
        if options.rate > 0 {
            let due = Duration::from_secs_f64(sent as f64 / options.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    stream.flush()?;
    stream.shutdown(Shutdown::Both)
}
