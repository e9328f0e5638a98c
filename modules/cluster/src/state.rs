//! What survives a restart of the server running the module, in a JSON file in the server's
//! `dir` (`cluster.state-file`, default `cluster-manager-<port>.json`; empty: nothing is kept):
//!
//! - the watchers asked for (seed, interval): they are configuration, resumed on load;
//! - the last events ([`crate::monitor::log::CAPACITY`]), so `CLUSTER.EVENTS` goes on where it
//!   was (sequence numbers continue);
//! - the jobs `CLUSTER.JOBS` lists: one that was running is listed as `interrupted`, with the
//!   progress and counters it had reached (a `CLUSTER.CALL`'s command is kept by name only, and
//!   texts are cut at 1 KiB).
//!
//! Written after a change, at most once a second, by a thread of its own (never the server's
//! main thread), to a temporary file renamed over the old one; and once more, synchronously, at
//! shutdown and unload. A `kill -9` loses at most the last second. Read on the first cron tick
//! after the module loads (the module's configs are set by then), before anything is written.
//! Why a file and not the RDB's aux data: aux data would make every RDB of the server — and
//! every full sync to its replicas — need this module to load, and a server persisting nothing
//! (`save ""`, no AOF) would still lose the watchers.

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rm::{Ctx, LogLevel, StringConfig};
use serde_json::{Value as Json, json};

use crate::jobs::{self, JobInfo};
use crate::monitor::{self, log};
use crate::topology::Addr;

/// `cluster.state-file`: the file's name in the server's `dir` (no directories); `auto` (the
/// default): `cluster-manager-<port>.json`, so that servers sharing a `dir` keep apart; empty:
/// nothing is kept. Set at startup only (config file or module arguments): it names a file the
/// server writes.
pub static STATE_FILE: StringConfig = StringConfig::new("state-file", "auto")
    .validate(plain_name)
    .immutable();

fn plain_name(name: &str) -> rm::Result<()> {
    if name.contains('/') || name.starts_with('.') {
        return Err(rm::Error::err(
            "cluster.state-file is a file name in the server's dir: no '/', no leading '.'",
        ));
    }
    Ok(())
}

/// The file, resolved once (the port is read on the first tick).
static PATH: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();

/// Each job's arguments and reply are kept up to this many bytes (a `CLUSTER.CALL` may carry
/// a long command; the file stays small).
const MAX_JOB_TEXT: usize = 1024;

/// The file's format; a file of another version is set aside, not read.
const VERSION: u64 = 1;
/// At most one write per this long (a burst of events is one write).
const MIN_GAP: Duration = Duration::from_secs(1);
/// A larger file is not read (the module never writes one near this size).
const MAX_BYTES: u64 = 16 << 20;

/// Something worth keeping changed since the last write.
static DIRTY: AtomicBool = AtomicBool::new(false);
/// The file was read (or there was none): writing may begin.
static LOADED: AtomicBool = AtomicBool::new(false);

struct Writer {
    thread: Option<JoinHandle<Result<(), String>>>,
    last: Option<Instant>,
}

static WRITER: Mutex<Writer> = Mutex::new(Writer {
    thread: None,
    last: None,
});

fn writer() -> MutexGuard<'static, Writer> {
    WRITER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Notes a change worth keeping (cheap: one atomic store).
pub fn changed() {
    DIRTY.store(true, Ordering::Release);
}

fn path() -> Option<PathBuf> {
    PATH.get().cloned().flatten()
}

fn resolve(ctx: &Ctx) -> Option<PathBuf> {
    match STATE_FILE.get().as_str() {
        "" => None,
        "auto" => {
            let port = crate::own_addr(ctx).map_or(0, |a| a.port);
            Some(PathBuf::from(format!("cluster-manager-{port}.json")))
        }
        name => Some(PathBuf::from(name)),
    }
}

/// The cron tick (main thread): reads the file the first time, then hands a write to the
/// writer thread when something changed and the last write is a second old.
pub fn tick(ctx: &Ctx) {
    if !LOADED.load(Ordering::Acquire) {
        let _ = PATH.set(resolve(ctx));
        load(ctx);
        LOADED.store(true, Ordering::Release);
        return;
    }
    if !DIRTY.load(Ordering::Acquire) {
        return;
    }
    let mut writer = writer();
    if writer.thread.as_ref().is_some_and(|t| !t.is_finished())
        || writer.last.is_some_and(|at| at.elapsed() < MIN_GAP)
    {
        return;
    }
    report(ctx, writer.thread.take());
    let Some(path) = path() else {
        return;
    };
    DIRTY.store(false, Ordering::Release);
    writer.last = Some(Instant::now());
    writer.thread = std::thread::Builder::new()
        .name("cluster-state".to_owned())
        .spawn(move || write(&path))
        .ok();
}

/// Writes the file now, on this thread (shutdown, unload), after any write in flight.
pub fn save_now(ctx: &Ctx) {
    let thread = writer().thread.take();
    report(ctx, thread);
    // Before the file was read, writing would replace it with an empty state.
    if !LOADED.load(Ordering::Acquire) {
        return;
    }
    if let Some(path) = path()
        && let Err(e) = write(&path)
    {
        ctx.log(LogLevel::Warning, &e);
    }
}

/// Joins a finished (or the last) write and logs its failure.
fn report(ctx: &Ctx, thread: Option<JoinHandle<Result<(), String>>>) {
    if let Some(Ok(Err(e))) = thread.map(JoinHandle::join) {
        ctx.log(LogLevel::Warning, &e);
    }
}

/// The state as JSON.
fn snapshot() -> Json {
    let (events, next_seq) = log::snapshot();
    let (mut jobs, next_job_id) = jobs::snapshot();
    for job in &mut jobs {
        // A CALL's command may carry secrets (CONFIG SET requirepass …): its name only.
        if job["kind"] == "call" {
            let args = job["args"].as_str().unwrap_or("");
            let shown: Vec<&str> = args.split(' ').take(2).collect();
            job["args"] = json!(format!("{} …", shown.join(" ")));
        }
        for field in ["args", "result", "progress"] {
            if let Some(text) = job[field].as_str()
                && text.len() > MAX_JOB_TEXT
            {
                let mut cut = MAX_JOB_TEXT;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                job[field] = json!(format!("{}…", &text[..cut]));
            }
        }
    }
    let watchers: Vec<Json> = monitor::configured_watchers()
        .into_iter()
        .map(|(seed, interval_ms)| json!({"seed": seed.to_string(), "interval_ms": interval_ms}))
        .collect();
    json!({
        "version": VERSION,
        "saved_ms": log::now_ms(),
        "watchers": watchers,
        "next_seq": next_seq,
        "events": events,
        "next_job_id": next_job_id,
        "jobs": jobs,
    })
}

/// Writes the state to a temporary file (owner-only: it names the cluster's nodes) and
/// renames it over `path`.
fn write(path: &PathBuf) -> Result<(), String> {
    let text = snapshot().to_string();
    let temp = path.with_extension(format!("json.tmp-{}", std::process::id()));
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()?;
        fs::rename(&temp, path)
    })();
    written.map_err(|e| {
        format!(
            "cluster: cannot write the state file {}: {e}",
            path.display()
        )
    })
}

/// Reads the file and puts its jobs, events and watchers back; a file that cannot be read is
/// renamed `<name>.bad` (and said so in the log), so that the next write does not lose it.
fn load(ctx: &Ctx) {
    let Some(path) = path() else {
        return;
    };
    let text = match fs::metadata(&path) {
        Err(_) => return,
        Ok(meta) if meta.len() > MAX_BYTES => Err(format!("larger than {MAX_BYTES} bytes")),
        Ok(_) => fs::read_to_string(&path).map_err(|e| e.to_string()),
    };
    let state = text.and_then(|t| serde_json::from_str::<Json>(&t).map_err(|e| e.to_string()));
    let state = match state {
        Ok(state) if state["version"] == VERSION => state,
        Ok(state) => {
            set_aside(ctx, &path, &format!("version {}", state["version"]));
            return;
        }
        Err(e) => {
            set_aside(ctx, &path, &e);
            return;
        }
    };
    let events: Vec<log::Event> = state["events"]
        .as_array()
        .map(|all| all.iter().filter_map(log::Event::from_json).collect())
        .unwrap_or_default();
    let jobs: Vec<JobInfo> = state["jobs"]
        .as_array()
        .map(|all| all.iter().filter_map(JobInfo::from_json).collect())
        .unwrap_or_default();
    let interrupted = jobs
        .iter()
        .filter(|j| j.state == jobs::State::Interrupted && j.kind != "monitor")
        .count();
    let watchers: Vec<(Addr, u64)> = state["watchers"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|w| {
                    let seed = Addr::parse(w["seed"].as_str()?)?;
                    Some((seed, w["interval_ms"].as_u64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let counts = (watchers.len(), events.len(), jobs.len());
    log::restore(events, state["next_seq"].as_u64().unwrap_or(1));
    jobs::restore(jobs, state["next_job_id"].as_u64().unwrap_or(1));
    // The seeds were named by callers allowed to (the file is this server's own).
    crate::trust::learn(watchers.iter().map(|(seed, _)| seed));
    for error in monitor::resume(&watchers) {
        ctx.log(LogLevel::Warning, &error);
    }
    ctx.log(
        LogLevel::Notice,
        &format!(
            "cluster: from {}: resumed {} watchers, {} events, {} jobs ({interrupted} \
             interrupted by the restart)",
            path.display(),
            counts.0,
            counts.1,
            counts.2
        ),
    );
}

fn set_aside(ctx: &Ctx, path: &PathBuf, why: &str) {
    let bad = path.with_extension("json.bad");
    let moved = fs::rename(path, &bad);
    ctx.log(
        LogLevel::Warning,
        &format!(
            "cluster: cannot read the state file {} ({why}); {}",
            path.display(),
            match moved {
                Ok(()) => format!("kept as {}, starting afresh", bad.display()),
                Err(e) => format!("and cannot set it aside ({e})"),
            }
        ),
    );
}
