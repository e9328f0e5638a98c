//! Monitoring: watchers that poll a cluster and record what changes.
//!
//! - `CLUSTER.MONITOR [host:port] [INTERVAL ms] [JSON]` starts a watcher of the cluster the
//!   seed belongs to (default: the hosting server), polling every node's `CLUSTER NODES` and
//!   `CLUSTER INFO` every `INTERVAL` ms (default 1000, 10..=60000) on a thread of its own,
//!   each node on a reader thread of its own ([`readers`]: a frozen node delays nobody). The
//!   client waits for the first poll: the reply sums the cluster up, or is the error that
//!   kept the watcher from starting (seed unreachable, not in cluster mode). One watcher per
//!   seed address; asked again, it shows the running watcher (or, with `INTERVAL`, changes
//!   its interval).
//! - `CLUSTER.MONITOR STOP [host:port|ALL] [JSON]` stops one watcher (default: the hosting
//!   server's) or all; `CLUSTER.MONITOR LIST [JSON]` lists them.
//! - `CLUSTER.EVENTS [COUNT n] [SINCE seq] [JSON]` shows recorded events, oldest first (the
//!   newest `n` when `COUNT` is given; those after sequence number `seq` with `SINCE`), one
//!   per line: `#seq time_ms kind node-id host:port details`. The log keeps the last
//!   [`log::CAPACITY`] events of all watchers.
//! - Each event is published, as the JSON object `CLUSTER.EVENTS JSON` shows, on the Pub/Sub
//!   channel [`CHANNEL`], from the main thread's cron tick (so within `1/hz` s).
//! - `INFO cluster_monitor`: watchers, polls, node health, covered slots, events by kind.
//!
//! Event kinds (see [`snapshot::Kind`]): `watch_started`, `watch_stopped`, `node_pfail`,
//! `node_fail`, `node_recovered`, `node_unreachable`, `node_reachable`, `failover` (the
//! replica that took over, with the old master in `details` / `data`), `role_changed`,
//! `coverage_lost`, `coverage_restored`, `epoch_changed` (`currentEpoch`),
//! `config_epoch_changed` (a master's), `node_added`, `node_removed`, `slots_moved`. Events
//! and finished jobs are also written to the server log from the cron tick.
//!
//! Watcher threads never take the server lock (publishing happens on the main thread), so
//! stopping them never waits for the server: `MODULE UNLOAD` stops and joins every watcher;
//! server shutdown tells them to stop.

pub mod log;
pub mod readers;
pub mod snapshot;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rm::events::{CronLoop, Shutdown};
use rm::{BlockOptions, Command, Ctx, Error, InfoCtx, Module, RStr, Result};
use serde_json::{Value as Json, json};

use crate::jobs::{self, Format, Report};
use crate::topology::{Addr, SLOTS};
use readers::Readers;
use snapshot::{Change, Health, Kind, Snapshot};

/// The Pub/Sub channel events are published on.
pub const CHANNEL: &str = "cluster.events";

/// Poll interval when `INTERVAL` is not given.
const DEFAULT_INTERVAL_MS: u64 = 1000;
/// The shortest and longest `INTERVAL`.
const INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 10..=60_000;

/// A watcher's shared state: its thread and the commands meet here.
struct Watcher {
    seed: Addr,
    /// Changed by `CLUSTER.MONITOR <seed> INTERVAL ms` on a running watcher.
    interval_ms: AtomicU64,
    started_ms: u64,
    stop: Mutex<bool>,
    wake: Condvar,
    /// Set by the thread when it ends (stopped, or the first poll failed).
    ended: AtomicBool,
    status: Mutex<Status>,
}

/// What the latest poll saw.
#[derive(Clone, Debug, Default)]
struct Status {
    polls: u64,
    last_poll_ms: u64,
    last_poll_took_ms: u64,
    events: u64,
    snapshot: Snapshot,
}

impl Watcher {
    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopping(&self) -> MutexGuard<'_, bool> {
        self.stop.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request_stop(&self) {
        *self.stopping() = true;
        self.wake.notify_all();
    }

    fn interval_ms(&self) -> u64 {
        self.interval_ms.load(Ordering::Acquire)
    }

    /// Sleeps one interval unless told to stop or given another interval meanwhile (then the
    /// next poll comes at once); returns whether to stop.
    fn sleep(&self) -> bool {
        let interval = self.interval_ms();
        let guard = self.stopping();
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, Duration::from_millis(interval), |stop| {
                !*stop && self.interval_ms() == interval
            })
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }

    /// Changes the interval and wakes the watcher (under its lock, so the wake is not lost).
    fn set_interval(&self, interval_ms: u64) {
        let _guard = self.stopping();
        self.interval_ms.store(interval_ms, Ordering::Release);
        self.wake.notify_all();
    }

    /// How long one node may take to answer: the interval, within 250 ms..2 s.
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.interval_ms().clamp(250, 2000))
    }

    fn to_json(&self) -> Json {
        let status = self.status();
        let s = &status.snapshot;
        json!({
            "seed": self.seed.to_string(),
            "interval_ms": self.interval_ms(),
            "started_ms": self.started_ms,
            "polls": status.polls,
            "last_poll_ms": status.last_poll_ms,
            "last_poll_took_ms": status.last_poll_took_ms,
            "events": status.events,
            "nodes": s.nodes.len(),
            "nodes_ok": s.count(Health::Ok),
            "nodes_pfail": s.count(Health::Pfail),
            "nodes_fail": s.count(Health::Fail),
            "nodes_unreachable": s.nodes.values().filter(|n| !n.reachable).count(),
            "slots_covered": usize::from(SLOTS) - s.uncovered_count(),
            "cluster_state": s.state_name(),
            "current_epoch": s.current_epoch,
        })
    }

    fn to_line(&self) -> String {
        let status = self.status();
        format!(
            "{} every {} ms: {} polls, last at {}, {} events | {}",
            self.seed,
            self.interval_ms(),
            status.polls,
            status.last_poll_ms,
            status.events,
            status.snapshot.summary()
        )
    }
}

/// A watcher and its thread.
struct Running {
    watcher: Arc<Watcher>,
    thread: JoinHandle<()>,
}

/// Every watcher thread not yet joined (running, or ended and not yet reaped).
static WATCHERS: Mutex<Vec<Running>> = Mutex::new(Vec::new());

/// The watchers asked for (seed → interval), which the state file keeps across a restart:
/// changed by `CLUSTER.MONITOR` (a watcher whose first poll worked), its `INTERVAL` and
/// `STOP` only — not by a shutdown or an unload, which stop the threads, not the watching.
static CONFIGURED: Mutex<BTreeMap<Addr, u64>> = Mutex::new(BTreeMap::new());

fn configured() -> MutexGuard<'static, BTreeMap<Addr, u64>> {
    CONFIGURED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The watchers to keep across a restart: (seed, interval ms).
pub fn configured_watchers() -> Vec<(Addr, u64)> {
    configured().iter().map(|(a, i)| (a.clone(), *i)).collect()
}

fn configure(seed: &Addr, interval_ms: Option<u64>) {
    match interval_ms {
        Some(ms) => configured().insert(seed.clone(), ms),
        None => configured().remove(seed),
    };
    crate::state::changed();
}

fn watchers() -> MutexGuard<'static, Vec<Running>> {
    WATCHERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Joins the threads that have ended (they are past their last instruction of ours).
fn reap(all: &mut Vec<Running>) {
    let (done, running): (Vec<Running>, Vec<Running>) =
        all.drain(..).partition(|r| r.thread.is_finished());
    *all = running;
    for r in done {
        let _ = r.thread.join();
    }
}

/// The live watchers (not told to stop, not ended).
fn live() -> Vec<Arc<Watcher>> {
    let mut all = watchers();
    reap(&mut all);
    all.iter()
        .filter(|r| !r.watcher.ended.load(Ordering::Acquire) && !*r.watcher.stopping())
        .map(|r| Arc::clone(&r.watcher))
        .collect()
}

/// What the client of `CLUSTER.MONITOR` waits for: the first poll's report.
type Started = Result<(Format, Report)>;

fn reply_started(ctx: &Ctx, started: Started) -> Result<()> {
    let (format, report) = started?;
    reply(ctx, format, &report)
}

fn reply(ctx: &Ctx, format: Format, report: &Report) -> Result<()> {
    match format {
        Format::Text => ctx.reply_verbatim(report.text.as_bytes(), "txt"),
        Format::Json => {
            ctx.reply_bulk(report.json.to_string().as_bytes());
            Ok(())
        }
    }
}

/// One poll: every node `previous` knows, and the seed, each on its own reader (a node that
/// does not answer within the poll's deadline is unreachable for this poll and delays no
/// other).
fn poll(watcher: &Watcher, previous: &Snapshot, readers: &mut Readers) -> Snapshot {
    let mut addrs = previous.addrs();
    if !addrs.contains(&watcher.seed) {
        addrs.push(watcher.seed.clone());
    }
    let mut views = Vec::new();
    let mut unreachable = Vec::new();
    for (addr, view) in readers.read(&addrs, watcher.timeout()) {
        match view {
            Ok(view) => views.push(view),
            Err(e) => unreachable.push((addr, e.to_string())),
        }
    }
    if views.is_empty() {
        // Blind: keep what we knew, with nothing reachable (no node is "removed").
        let mut blind = previous.clone();
        for node in blind.nodes.values_mut() {
            node.reachable = false;
        }
        blind.unreachable = unreachable;
        return blind;
    }
    Snapshot::merge(&views, unreachable)
}

/// The first poll: the seed must answer in cluster mode; then every node it knows.
fn first_poll(watcher: &Watcher, readers: &mut Readers) -> Result<Snapshot> {
    let (_, seed) = readers
        .read(std::slice::from_ref(&watcher.seed), watcher.timeout())
        .remove(0);
    let seed = seed.map_err(|e| {
        let error = e.to_string();
        if error.contains("cluster support disabled") {
            Error::err(format!("{} is not in cluster mode", watcher.seed))
        } else {
            e
        }
    })?;
    let seed_only = Snapshot::merge(&[seed], Vec::new());
    Ok(poll(watcher, &seed_only, readers))
}

fn started_report(watcher: &Watcher, snapshot: &Snapshot) -> Report {
    Report::new(
        format!(
            "watching {} every {} ms: {}\n",
            watcher.seed,
            watcher.interval_ms(),
            snapshot.summary()
        ),
        watcher.to_json(),
    )
}

/// Who started a watcher: a client waiting for its first poll, or the state file of an
/// earlier process (nobody waits; the first poll is tried every interval until it works,
/// since the cluster may be restarting too).
enum Origin {
    Client(rm::BlockedClient<Started>, Format),
    Resumed,
}

/// The watcher's thread: first poll (answering the client), then poll until stopped.
fn run(watcher: Arc<Watcher>, job: jobs::Job, origin: Origin) {
    let cluster = watcher.seed.to_string();
    let mut readers = Readers::default();
    let started = Instant::now();
    let mut previous = loop {
        match (first_poll(&watcher, &mut readers), &origin) {
            (Ok(snapshot), _) => break snapshot,
            (Err(e), Origin::Resumed) => {
                job.progress(format!("resumed; waiting for the seed: {e}"));
                if watcher.sleep() {
                    readers.close();
                    job.finish(&Ok(()));
                    watcher.ended.store(true, Ordering::Release);
                    return;
                }
            }
            (Err(e), Origin::Client(..)) => {
                readers.close();
                job.finish(&Err(e.clone()));
                watcher.ended.store(true, Ordering::Release);
                if let Origin::Client(client, _) = origin {
                    client.unblock(Err(e));
                }
                return;
            }
        }
    };
    let now = log::now_ms();
    let resumed = matches!(origin, Origin::Resumed);
    let recorded = log::record(
        &cluster,
        now,
        vec![Change {
            kind: Kind::WatchStarted,
            node: "-".to_owned(),
            addr: cluster.clone(),
            details: if resumed {
                format!("resumed after a restart: {}", previous.summary())
            } else {
                previous.summary()
            },
            data: json!({ "interval_ms": watcher.interval_ms(), "resumed": resumed }),
        }],
    );
    update(&watcher, &job, &previous, now, started.elapsed(), recorded);
    if let Origin::Client(client, format) = origin {
        // Not if a STOP came during the first poll (it unconfigured the seed already).
        let stopping = watcher.stopping();
        if !*stopping {
            configure(&watcher.seed, Some(watcher.interval_ms()));
        }
        drop(stopping);
        client.unblock(Ok((format, started_report(&watcher, &previous))));
    }

    while !watcher.sleep() {
        let began = Instant::now();
        let current = poll(&watcher, &previous, &mut readers);
        let now = log::now_ms();
        let recorded = log::record(&cluster, now, snapshot::changes(&previous, &current));
        update(&watcher, &job, &current, now, began.elapsed(), recorded);
        previous = current;
    }
    readers.close();
    log::record(
        &cluster,
        log::now_ms(),
        vec![Change {
            kind: Kind::WatchStopped,
            node: "-".to_owned(),
            addr: cluster.clone(),
            details: format!("after {} ms", started.elapsed().as_millis()),
            data: json!({}),
        }],
    );
    job.finish(&Ok(()));
    watcher.ended.store(true, Ordering::Release);
}

fn update(
    watcher: &Watcher,
    job: &jobs::Job,
    snapshot: &Snapshot,
    now: u64,
    took: Duration,
    recorded: usize,
) {
    let polls = {
        let mut status = watcher.status();
        status.polls += 1;
        status.last_poll_ms = now;
        status.last_poll_took_ms = took.as_millis() as u64;
        status.events += recorded as u64;
        status.snapshot = snapshot.clone();
        status.polls
    };
    job.set("polls", polls);
    job.add("events", recorded as u64);
    job.progress(snapshot.summary());
}

fn start(ctx: &Ctx, args: &[&RStr], mut words: Vec<String>, format: Format) -> Result<()> {
    crate::trust::authorize(ctx, args, crate::own_addr(ctx).ok().as_ref())?;
    let seed = crate::optional_seed(ctx, &mut words)?;
    let mut interval_ms = None;
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        if !word.eq_ignore_ascii_case("interval") {
            return Err(Error::err(format!(
                "unexpected argument '{word}': CLUSTER.MONITOR [host:port] [INTERVAL ms]"
            )));
        }
        let value = rest
            .next()
            .ok_or_else(|| Error::err("INTERVAL needs a number of milliseconds"))?;
        interval_ms = value
            .parse()
            .ok()
            .filter(|ms| INTERVAL_RANGE.contains(ms))
            .map(Some)
            .ok_or_else(|| {
                Error::err(format!(
                    "INTERVAL must be between {} and {} ms, got '{value}'",
                    INTERVAL_RANGE.start(),
                    INTERVAL_RANGE.end()
                ))
            })?;
    }
    let mut all = watchers();
    reap(&mut all);
    if let Some(running) = all
        .iter()
        .find(|r| r.watcher.seed == seed && !r.watcher.ended.load(Ordering::Acquire))
    {
        // A running watcher only takes a new interval; without one, it is shown.
        let Some(interval_ms) = interval_ms else {
            let report = Report::new(
                format!("already watching {}\n", running.watcher.to_line()),
                running.watcher.to_json(),
            );
            return reply(ctx, format, &report);
        };
        let was = running.watcher.interval_ms();
        running.watcher.set_interval(interval_ms);
        configure(&seed, Some(interval_ms));
        let report = Report::new(
            format!("watching {seed} every {interval_ms} ms now (was {was} ms)\n"),
            running.watcher.to_json(),
        );
        return reply(ctx, format, &report);
    }
    let text: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    let client = ctx.block_client(BlockOptions::new(reply_started))?;
    let interval_ms = interval_ms.unwrap_or(DEFAULT_INTERVAL_MS);
    let origin = Origin::Client(client, format);
    if let Err(e) = launch(&mut all, seed, interval_ms, text.join(" "), origin) {
        // The closure was dropped: its blocked client answers with an error, its job fails.
        ctx.log(rm::LogLevel::Warning, &e);
    }
    Ok(())
}

/// Starts a watcher's thread and lists it in `all`.
fn launch(
    all: &mut Vec<Running>,
    seed: Addr,
    interval_ms: u64,
    args: String,
    origin: Origin,
) -> std::result::Result<(), String> {
    let watcher = Arc::new(Watcher {
        seed,
        interval_ms: AtomicU64::new(interval_ms),
        started_ms: log::now_ms(),
        stop: Mutex::new(false),
        wake: Condvar::new(),
        ended: AtomicBool::new(false),
        status: Mutex::new(Status::default()),
    });
    let job = jobs::register("monitor", args);
    let thread_watcher = Arc::clone(&watcher);
    std::thread::Builder::new()
        .name(format!("cluster-monitor-{}", job.id()))
        .spawn(move || run(thread_watcher, job, origin))
        .map(|thread| all.push(Running { watcher, thread }))
        .map_err(|e| format!("cluster: cannot start a watcher thread: {e}"))
}

/// Starts again the watchers an earlier process was running (from the state file).
pub fn resume(wanted: &[(Addr, u64)]) -> Vec<String> {
    let mut all = watchers();
    let mut errors = Vec::new();
    for (seed, interval_ms) in wanted {
        // A CLUSTER.MONITOR that came before this (first) tick already watches it.
        if all
            .iter()
            .any(|r| r.watcher.seed == *seed && !r.watcher.ended.load(Ordering::Acquire))
        {
            continue;
        }
        configured().insert(seed.clone(), *interval_ms);
        let args = format!("{seed} INTERVAL {interval_ms} (resumed)");
        if let Err(e) = launch(&mut all, seed.clone(), *interval_ms, args, Origin::Resumed) {
            errors.push(e);
        }
    }
    errors
}

fn stop(ctx: &Ctx, words: &[String], format: Format) -> Result<()> {
    let (all, seed) = match words {
        [] => (false, Some(crate::own_addr(ctx)?)),
        [w] if w.eq_ignore_ascii_case("all") => (true, None),
        [w] => (false, Some(Addr::parse_arg(w)?)),
        [_, extra, ..] => return Err(Error::err(format!("unexpected argument '{extra}'"))),
    };
    let chosen: Vec<Arc<Watcher>> = live()
        .into_iter()
        .filter(|w| all || Some(&w.seed) == seed.as_ref())
        .collect();
    if let (Some(seed), true) = (&seed, chosen.is_empty()) {
        return Err(Error::err(format!("no watcher for {seed}")));
    }
    // Told, not joined: a poll in flight ends within its timeout, without the server lock.
    for watcher in &chosen {
        watcher.request_stop();
        configure(&watcher.seed, None);
    }
    let seeds: Vec<String> = chosen.iter().map(|w| w.seed.to_string()).collect();
    let text = match seeds.as_slice() {
        [] => "no watchers\n".to_owned(),
        _ => format!("stopped {}\n", seeds.join(", ")),
    };
    reply(ctx, format, &Report::new(text, json!({ "stopped": seeds })))
}

fn list(ctx: &Ctx, format: Format) -> Result<()> {
    let live = live();
    let mut text = String::new();
    if live.is_empty() {
        text.push_str("no watchers\n");
    }
    for watcher in &live {
        let _ = writeln!(text, "{}", watcher.to_line());
    }
    let json = Json::Array(live.iter().map(|w| w.to_json()).collect());
    reply(ctx, format, &Report::new(text, json))
}

/// `CLUSTER.MONITOR [host:port] [INTERVAL ms] [JSON]`, `CLUSTER.MONITOR STOP [host:port|ALL]
/// [JSON]`, `CLUSTER.MONITOR LIST [JSON]`.
fn cluster_monitor(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = crate::words(args)?;
    let format = crate::take_format(&mut words);
    match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
        Some("STOP") => stop(ctx, &words[1..], format),
        Some("LIST") => {
            crate::no_more(&words[1..])?;
            list(ctx, format)
        }
        _ => start(ctx, args, words, format),
    }
}

/// `CLUSTER.EVENTS [COUNT n] [SINCE seq] [JSON]`.
fn cluster_events(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = crate::words(args)?;
    let format = crate::take_format(&mut words);
    let (mut count, mut since) = (None, 0);
    let mut rest = words.iter();
    while let Some(word) = rest.next() {
        let upper = word.to_ascii_uppercase();
        if upper != "COUNT" && upper != "SINCE" {
            return Err(Error::err(format!(
                "unexpected argument '{word}': CLUSTER.EVENTS [COUNT n] [SINCE seq] [JSON]"
            )));
        }
        let value = rest
            .next()
            .ok_or_else(|| Error::err(format!("{upper} needs a number")))?;
        let number = crate::parse_count(value, &upper)?;
        if upper == "COUNT" {
            count = Some(number);
        } else {
            since = number as u64;
        }
    }
    let events = log::recent(count, since);
    let mut text = String::new();
    if events.is_empty() {
        text.push_str("no events\n");
    }
    for event in &events {
        let _ = writeln!(text, "{}", event.to_line());
    }
    let json = Json::Array(events.iter().map(log::Event::to_json).collect());
    reply(ctx, format, &Report::new(text, json))
}

/// `INFO cluster_monitor`.
fn info(info: &mut InfoCtx, for_crash_report: bool) {
    if for_crash_report || !info.section("monitor") {
        return;
    }
    let live = live();
    let statuses: Vec<(Arc<Watcher>, Status)> = live
        .iter()
        .map(|w| (Arc::clone(w), w.status().clone()))
        .collect();
    let sum = |f: &dyn Fn(&Status) -> usize| statuses.iter().map(|(_, s)| f(s) as u64).sum();
    info.field_u64("watchers", live.len() as u64);
    info.field_u64("polls", statuses.iter().map(|(_, s)| s.polls).sum());
    info.field_u64(
        "last_poll_ms",
        statuses
            .iter()
            .map(|(_, s)| s.last_poll_ms)
            .max()
            .unwrap_or(0),
    );
    info.field_u64("nodes", sum(&|s| s.snapshot.nodes.len()));
    info.field_u64("nodes_ok", sum(&|s| s.snapshot.count(Health::Ok)));
    info.field_u64("nodes_pfail", sum(&|s| s.snapshot.count(Health::Pfail)));
    info.field_u64("nodes_fail", sum(&|s| s.snapshot.count(Health::Fail)));
    info.field_u64(
        "nodes_unreachable",
        sum(&|s| s.snapshot.nodes.values().filter(|n| !n.reachable).count()),
    );
    info.field_u64(
        "slots_covered",
        sum(&|s| usize::from(SLOTS) - s.snapshot.uncovered_count()),
    );
    let (by_kind, total) = log::totals();
    info.field_u64("events_total", total);
    info.dict("events", |dict| {
        for (kind, n) in &by_kind {
            dict.field_u64(kind.name(), *n);
        }
    });
    for (i, (watcher, status)) in statuses.iter().enumerate() {
        let s = &status.snapshot;
        info.dict(&format!("watcher_{i}"), |dict| {
            dict.field_str("seed", &watcher.seed.to_string());
            dict.field_u64("interval_ms", watcher.interval_ms());
            dict.field_u64("polls", status.polls);
            dict.field_u64("last_poll_ms", status.last_poll_ms);
            dict.field_u64("nodes", s.nodes.len() as u64);
            dict.field_u64("pfail", s.count(Health::Pfail) as u64);
            dict.field_u64("fail", s.count(Health::Fail) as u64);
            dict.field_u64(
                "slots_covered",
                (usize::from(SLOTS) - s.uncovered_count()) as u64,
            );
            dict.field_str("cluster_state", s.state_name());
            dict.field_u64("current_epoch", s.current_epoch);
        });
    }
}

/// Publishes the events recorded since the last tick and writes them to the server log,
/// where operators look (main thread, server lock held); epoch changes are left out of the
/// log (they come with every failover and slot move, and the events say so).
fn publish(ctx: &Ctx) {
    for event in log::take_unpublished() {
        ctx.publish(CHANNEL.as_bytes(), event.to_json().to_string().as_bytes());
        let level = match event.change.kind {
            Kind::EpochChanged | Kind::ConfigEpochChanged => continue,
            Kind::NodeFail | Kind::NodeUnreachable | Kind::CoverageLost | Kind::Failover => {
                rm::LogLevel::Warning
            }
            _ => rm::LogLevel::Notice,
        };
        ctx.log(level, &format!("cluster.events {}", event.to_line()));
    }
    crate::jobs::log_finished(ctx);
}

/// Tells every watcher to stop and, with `join`, waits for their threads to end.
fn stop_all(join: bool) {
    let all: Vec<Running> = std::mem::take(&mut *watchers());
    for running in &all {
        running.watcher.request_stop();
    }
    if join {
        for running in all {
            let _ = running.thread.join();
        }
    } else {
        *watchers() = all;
    }
}

fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.register_info(info)?;
    ctx.subscribe_to_server_event(CronLoop, |ctx, _tick| {
        publish(ctx);
        crate::state::tick(ctx);
        Ok(())
    })?;
    // The process is ending: no join (a poll in flight may take its timeout), just stop,
    // and write the state file one last time (its running jobs are then interrupted).
    ctx.subscribe_to_server_event(Shutdown, |ctx, ()| {
        stop_all(false);
        crate::state::save_now(ctx);
        Ok(())
    })
}

/// Adds `CLUSTER.MONITOR`, `CLUSTER.EVENTS`, the INFO section, the publishing tick and the
/// unload hook (which stops and joins every watcher: their code must not be unmapped under
/// them) to `module`.
pub fn register(module: Module) -> Module {
    module
        .command(
            Command::new("cluster.monitor", cluster_monitor)
                .flags("admin")
                .usage(
                    "CLUSTER.MONITOR [host:port] [INTERVAL ms] [JSON] | STOP [host:port|ALL] \
                     [JSON] | LIST [JSON]",
                )
                .summary("Starts, stops or lists watchers recording a cluster's events")
                .since("0.1.0")
                .arity(-1),
        )
        .command(
            Command::new("cluster.events", cluster_events)
                .usage("CLUSTER.EVENTS [COUNT n] [SINCE seq] [JSON]")
                .summary("Events the watchers recorded, oldest first")
                .since("0.1.0")
                .arity(-1),
        )
        .on_load(setup)
        .on_unload(|ctx| {
            // Job threads run this library's code: refuse while any runs (before stopping
            // anything, so a refused unload leaves the watchers running).
            // Every kind but the watchers, which are stopped and joined below.
            let busy = crate::jobs::running_except("monitor");
            if let Some(job) = busy.first() {
                return Err(rm::Error::err(format!(
                    "job #{} (CLUSTER.{}) is running; unload once it ends (CLUSTER.JOBS)",
                    job.id,
                    job.kind.to_ascii_uppercase()
                )));
            }
            publish(ctx);
            crate::state::save_now(ctx);
            stop_all(true);
            Ok(())
        })
}
