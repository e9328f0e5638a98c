//! Background jobs: every long command runs on a thread of its own while its client waits
//! blocked, so the hosting server keeps serving everyone else.
//!
//! [`spawn`] records a job (id, kind, arguments, start time), blocks the client, and runs the
//! work on a new thread with a [`Job`] handle for progress reports; the work's [`Report`] (or
//! error) becomes the reply, as text or as JSON ([`Format`]). [`register`] records a job that
//! no client waits for (a watcher); it ends when its [`Job`] is [`finish`](Job::finish)ed or
//! dropped. `CLUSTER.JOBS` lists running and recently finished jobs ([`list`]).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rm::{BlockOptions, Ctx, Error, Result};
use serde_json::{Value as Json, json};

/// How many finished jobs `CLUSTER.JOBS` remembers.
const KEEP_FINISHED: usize = 32;

/// How a command replies: human-readable text (default) or JSON (the `JSON` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A verbatim text string (a bulk string on RESP2), lines separated by `\n`.
    Text,
    /// A bulk string holding one JSON document.
    Json,
}

/// What a job produced: the text for people and the JSON for scripts.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Human-readable lines.
    pub text: String,
    /// The same facts as JSON.
    pub json: Json,
}

impl Report {
    /// A report of `text` and `json`.
    pub fn new(text: impl Into<String>, json: Json) -> Report {
        Report {
            text: text.into(),
            json,
        }
    }
}

/// Where a job is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Still working.
    Running,
    /// Finished successfully.
    Done,
    /// Finished with this error line.
    Failed(String),
    /// Was running when the server running the module stopped (read back from the state
    /// file, [`crate::state`]): its progress and counters say how far it got.
    Interrupted,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Running => "running",
            State::Done => "done",
            State::Failed(_) => "failed",
            State::Interrupted => "interrupted",
        }
    }
}

/// The job kinds not in [`CHANGES_TOPOLOGY`] (for [`JobInfo::from_json`], whose records
/// outlive the process).
const OTHER_KINDS: &[&str] = &["check", "info", "call", "settimeout", "backup", "monitor"];
/// The record of one job, as `CLUSTER.JOBS` shows it.
#[derive(Clone, Debug)]
pub struct JobInfo {
    /// Unique, increasing from 1.
    pub id: u64,
    /// The command kind: `create`, `reshard`, `monitor`, …
    pub kind: &'static str,
    /// The arguments it was started with, space-separated.
    pub args: String,
    /// Wall-clock start.
    pub started: SystemTime,
    started_at: Instant,
    /// How long it ran, once finished.
    pub elapsed: Option<Duration>,
    /// Running, done or failed.
    pub state: State,
    /// The latest progress line.
    pub progress: String,
    /// Named counters (`slots_moved`, `keys_moved`, …).
    pub counters: BTreeMap<&'static str, u64>,
    /// The reply of a detached job (one no client waited for), once finished.
    pub result: Option<String>,
}

impl JobInfo {
    /// How long it has run (so far, or in total).
    pub fn runtime(&self) -> Duration {
        self.elapsed.unwrap_or_else(|| self.started_at.elapsed())
    }

    /// The record as JSON.
    pub fn to_json(&self) -> Json {
        let started_ms = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let state = self.state.name();
        let error = match &self.state {
            State::Failed(e) => Some(e.clone()),
            _ => None,
        };
        json!({
            "id": self.id,
            "kind": self.kind,
            "args": self.args,
            "state": state,
            "error": error,
            "started_ms": started_ms,
            "runtime_ms": self.runtime().as_millis() as u64,
            "progress": self.progress,
            "counters": self.counters,
            "result": self.result,
        })
    }

    /// The record as one line of text.
    pub fn to_line(&self) -> String {
        let state = match &self.state {
            State::Failed(e) => format!("failed: {e}"),
            other => other.name().to_owned(),
        };
        let mut line = format!(
            "#{} {} [{}] {} ms: {}",
            self.id,
            self.kind,
            state,
            self.runtime().as_millis(),
            self.args
        );
        if !self.progress.is_empty() {
            let _ = write!(line, " | {}", self.progress);
        }
        for (name, value) in &self.counters {
            let _ = write!(line, " {name}={value}");
        }
        if let Some(result) = &self.result {
            for result_line in result.lines() {
                let _ = write!(line, "\n    {result_line}");
            }
        }
        line
    }
}

impl JobInfo {
    /// A record [`JobInfo::to_json`] wrote (in an earlier process): a job that was running
    /// then is [`State::Interrupted`]. `None` for anything else.
    pub fn from_json(json: &Json) -> Option<JobInfo> {
        let kind = json["kind"].as_str()?;
        let kind = CHANGES_TOPOLOGY
            .iter()
            .chain(OTHER_KINDS)
            .copied()
            .find(|k| *k == kind)?;
        let runtime = Duration::from_millis(json["runtime_ms"].as_u64()?);
        let state = match json["state"].as_str()? {
            "done" => State::Done,
            "failed" => State::Failed(json["error"].as_str().unwrap_or("").to_owned()),
            "running" | "interrupted" => State::Interrupted,
            _ => return None,
        };
        let counters = json["counters"]
            .as_object()?
            .iter()
            .filter_map(|(name, value)| {
                // Counter names are the module's own &'static strs: keep the known ones.
                let name = COUNTERS.iter().copied().find(|c| c == name)?;
                Some((name, value.as_u64()?))
            })
            .collect();
        Some(JobInfo {
            id: json["id"].as_u64()?,
            kind,
            args: json["args"].as_str()?.to_owned(),
            started: UNIX_EPOCH + Duration::from_millis(json["started_ms"].as_u64()?),
            started_at: Instant::now()
                .checked_sub(runtime)
                .unwrap_or_else(Instant::now),
            elapsed: Some(runtime),
            state,
            progress: json["progress"].as_str().unwrap_or("").to_owned(),
            counters,
            result: json["result"].as_str().map(str::to_owned),
        })
    }
}

/// Every counter name jobs use (see [`JobInfo::from_json`]).
const COUNTERS: &[&str] = &[
    "files_written",
    "keys_skipped",
    "keys_moved",
    "slots_moved",
    "slots_total",
    "polls",
    "events",
    "us_importing",
    "us_keys",
    "us_migrating",
    "us_node_others",
    "us_node_target",
];

/// Every job's record as JSON (running ones first, as [`list`]), and the next id.
pub fn snapshot() -> (Vec<Json>, u64) {
    let all = list();
    (
        all.iter().map(JobInfo::to_json).collect(),
        registry().next_id,
    )
}

/// Puts records of an earlier process back (before any job of this one starts): they are
/// listed as finished (or interrupted), and ids continue after theirs.
pub fn restore(records: Vec<JobInfo>, next_id: u64) {
    let mut registry = registry();
    registry.next_id = registry
        .next_id
        .max(next_id)
        .max(records.iter().map(|r| r.id + 1).max().unwrap_or(1));
    let mut records = records;
    records.sort_by_key(|r| r.id);
    for record in records.into_iter().rev() {
        if registry.finished.len() >= KEEP_FINISHED {
            break;
        }
        registry.finished.push_front(record);
    }
}

struct Registry {
    next_id: u64,
    running: Vec<Arc<Mutex<JobInfo>>>,
    finished: VecDeque<JobInfo>,
    /// Lines for the server log about jobs that ended, written from the main thread.
    unlogged: Vec<(bool, String)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next_id: 1,
    running: Vec::new(),
    finished: VecDeque::new(),
    unlogged: Vec::new(),
});

/// Writes a line to the server log for each job that ended since the last call (a warning
/// for a failed one). Called from the main thread (the cron tick): job threads do not hold
/// the server lock. Watchers are left out: their start and stop are events, logged as such.
pub fn log_finished(ctx: &Ctx) {
    let lines = std::mem::take(&mut registry().unlogged);
    for (failed, line) in lines {
        let level = if failed {
            rm::LogLevel::Warning
        } else {
            rm::LogLevel::Notice
        };
        ctx.log(level, &line);
    }
}

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock(info: &Mutex<JobInfo>) -> MutexGuard<'_, JobInfo> {
    info.lock().unwrap_or_else(|e| e.into_inner())
}

/// The handle a job's thread reports progress through. `Send + Sync`; cheap calls (a mutex).
/// Dropping it without [`finish`](Job::finish) records the job as failed.
pub struct Job {
    info: Arc<Mutex<JobInfo>>,
    finished: bool,
}

impl Job {
    /// The job's id.
    pub fn id(&self) -> u64 {
        lock(&self.info).id
    }

    /// Replaces the progress line.
    pub fn progress(&self, text: impl Into<String>) {
        lock(&self.info).progress = text.into();
    }

    /// Adds `n` to a counter.
    pub fn add(&self, counter: &'static str, n: u64) {
        *lock(&self.info).counters.entry(counter).or_insert(0) += n;
    }

    /// Sets a counter.
    pub fn set(&self, counter: &'static str, value: u64) {
        lock(&self.info).counters.insert(counter, value);
    }

    /// Keeps the reply of a detached job for `CLUSTER.JOBS`.
    pub fn set_result(&self, result: String) {
        lock(&self.info).result = Some(result);
    }

    /// A copy of the record.
    pub fn info(&self) -> JobInfo {
        lock(&self.info).clone()
    }

    /// Records the job as finished (`Ok`) or failed (`Err`) and moves it to the finished list.
    pub fn finish(mut self, outcome: &Result<()>) {
        self.end(outcome);
    }

    fn end(&mut self, outcome: &Result<()>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let record = {
            let mut info = lock(&self.info);
            info.elapsed = Some(info.started_at.elapsed());
            info.state = match outcome {
                Ok(()) => State::Done,
                Err(e) => State::Failed(e.to_string()),
            };
            info.clone()
        };
        let mut registry = registry();
        if record.kind != "monitor" {
            let mut line = format!("cluster job {}", record.to_line());
            // One line: a detached job's reply is in CLUSTER.JOBS.
            line.truncate(line.find('\n').unwrap_or(line.len()));
            let failed = matches!(record.state, State::Failed(_));
            registry.unlogged.push((failed, line));
            // Nobody may be ticking (a server shutting down): keep the last few only.
            let excess = registry.unlogged.len().saturating_sub(KEEP_FINISHED);
            registry.unlogged.drain(..excess);
        }
        registry.running.retain(|r| !Arc::ptr_eq(r, &self.info));
        registry.finished.push_back(record);
        crate::state::changed();
        while registry.finished.len() > KEEP_FINISHED {
            registry.finished.pop_front();
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.end(&Err(Error::err("job ended without a result")));
    }
}

/// Records a running job of `kind` with `args` (no client waits for it). For watchers and
/// other long-lived work; [`spawn`] uses it too.
pub fn register(kind: &'static str, args: impl Into<String>) -> Job {
    let mut registry = registry();
    let id = registry.next_id;
    registry.next_id += 1;
    let info = Arc::new(Mutex::new(JobInfo {
        id,
        kind,
        args: args.into(),
        started: SystemTime::now(),
        started_at: Instant::now(),
        elapsed: None,
        state: State::Running,
        progress: String::new(),
        counters: BTreeMap::new(),
        result: None,
    }));
    registry.running.push(Arc::clone(&info));
    crate::state::changed();
    Job {
        info,
        finished: false,
    }
}

/// The kinds of job that move slots, move keys into slots or change membership: one at a
/// time, since two of them opening the same slot would split its keys between two targets
/// (and an import sends keys to the owners it read at its start).
pub const CHANGES_TOPOLOGY: &[&str] = &[
    "create",
    "fix",
    "reshard",
    "rebalance",
    "addnode",
    "delnode",
    "import",
];

/// The running jobs of every kind but `kind` (oldest first).
pub fn running_except(kind: &str) -> Vec<JobInfo> {
    let registry = registry();
    registry
        .running
        .iter()
        .map(|i| lock(i).clone())
        .filter(|info| info.kind != kind)
        .collect()
}

/// The running jobs of these kinds (oldest first).
pub fn running_of(kinds: &[&str]) -> Vec<JobInfo> {
    let registry = registry();
    registry
        .running
        .iter()
        .map(|i| lock(i).clone())
        .filter(|info| kinds.contains(&info.kind))
        .collect()
}

/// Running jobs (oldest first), then finished ones (oldest first).
pub fn list() -> Vec<JobInfo> {
    let registry = registry();
    let mut all: Vec<JobInfo> = registry.running.iter().map(|i| lock(i).clone()).collect();
    all.extend(registry.finished.iter().cloned());
    all
}

/// What the blocked client gets.
type Outcome = Result<(Format, Report)>;

fn reply(ctx: &Ctx, outcome: Outcome) -> Result<()> {
    let (format, report) = outcome?;
    match format {
        Format::Text => ctx.reply_verbatim(report.text.as_bytes(), "txt")?,
        Format::Json => ctx.reply_bulk(report.json.to_string().as_bytes()),
    }
    Ok(())
}

/// Whether the hosting server is a cluster node whose `cluster_state` is not ok. Such a
/// server answers a blocked module client with `-CLUSTERDOWN` at once (Redis 7.0 redirects
/// blocked clients when its cluster is down), so jobs there run detached.
fn hosting_cluster_down(ctx: &Ctx) -> bool {
    let Ok(reply) = ctx.call("CLUSTER", ["INFO"]) else {
        return false;
    };
    match reply.as_bytes() {
        Some(info) => {
            let info = String::from_utf8_lossy(info);
            info.contains("cluster_state:") && !info.contains("cluster_state:ok")
        }
        None => false, // not in cluster mode: an error reply
    }
}

/// Runs `work` on a new thread as a job of `kind`, blocking the calling client until it
/// returns; its report (in `format`) or error is the reply. Returns once the thread runs;
/// the command must not reply itself.
///
/// On a cluster node whose cluster is down (say, one being created) the client cannot wait:
/// the job runs detached and the reply is `Job #<id> started in the background ...`;
/// `CLUSTER.JOBS` shows its state and, once done, its reply.
pub fn spawn<F>(ctx: &Ctx, kind: &'static str, args: String, format: Format, work: F) -> Result<()>
where
    F: FnOnce(&Job) -> Result<Report> + Send + 'static,
{
    if CHANGES_TOPOLOGY.contains(&kind)
        && let Some(busy) = running_of(CHANGES_TOPOLOGY).first()
    {
        return Err(Error::err(format!(
            "job #{} (CLUSTER.{}) is changing the cluster; wait for it to end (CLUSTER.JOBS)",
            busy.id,
            busy.kind.to_ascii_uppercase()
        )));
    }
    let detached = hosting_cluster_down(ctx);
    let blocked = if detached {
        None
    } else {
        Some(ctx.block_client(BlockOptions::new(reply))?)
    };
    let job = register(kind, args);
    let id = job.id();
    let name = format!("cluster-{kind}-{id}");
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&job)))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::Panic(message))
            });
        match blocked {
            Some(blocked) => {
                job.finish(&outcome.as_ref().map(|_| ()).map_err(Clone::clone));
                blocked.unblock(outcome.map(|report| (format, report)));
            }
            None => {
                let result = match (&outcome, format) {
                    (Ok(report), Format::Text) => report.text.clone(),
                    (Ok(report), Format::Json) => report.json.to_string(),
                    (Err(e), _) => e.to_string(),
                };
                job.set_result(result);
                job.finish(&outcome.map(|_| ()));
            }
        }
    });
    // A failed spawn drops the closure, whose BlockedClient unblocks the client with an
    // error reply: the command itself must not reply on top of it.
    if let Err(e) = spawned {
        ctx.log(
            rm::LogLevel::Warning,
            &format!("cluster: cannot start a job thread: {e}"),
        );
        if detached {
            return Err(Error::err(format!("cannot start a job thread: {e}")));
        }
        return Ok(());
    }
    if detached {
        let text = format!(
            "Job #{id} started in the background (this node's cluster is down, so the client cannot wait): CLUSTER.JOBS shows its outcome\n"
        );
        match format {
            Format::Text => ctx.reply_verbatim(text.as_bytes(), "txt")?,
            Format::Json => {
                ctx.reply_bulk(json!({"job": id, "detached": true}).to_string().as_bytes())
            }
        }
    }
    Ok(())
}

/// `CLUSTER.JOBS [JSON]`: the reply for the current list.
pub fn jobs_report() -> Report {
    let jobs = list();
    let mut text = String::new();
    if jobs.is_empty() {
        text.push_str("no jobs\n");
    }
    for job in &jobs {
        text.push_str(&job.to_line());
        text.push('\n');
    }
    Report::new(
        text,
        Json::Array(jobs.iter().map(JobInfo::to_json).collect()),
    )
}
