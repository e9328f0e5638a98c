//! The event log every watcher writes to: a bounded ring buffer (`CLUSTER.EVENTS` reads it),
//! totals by kind (the INFO section), and the queue of events not yet published on the
//! Pub/Sub channel (drained on the main thread).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

use super::snapshot::{Change, Kind};

/// How many events `CLUSTER.EVENTS` can show (older ones are dropped).
pub const CAPACITY: usize = 1000;

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Increasing from 1, never reused: `CLUSTER.EVENTS SINCE` continues from one.
    pub seq: u64,
    /// Wall-clock time of the poll that saw it, ms since the Unix epoch.
    pub time_ms: u64,
    /// The watched cluster, as the seed address the watcher was started with.
    pub cluster: String,
    /// What happened to which node.
    pub change: Change,
}

impl Event {
    /// The event as JSON: `seq`, `time_ms`, `kind`, `node`, `addr`, `details`, `cluster`,
    /// `data`.
    pub fn to_json(&self) -> Json {
        json!({
            "seq": self.seq,
            "time_ms": self.time_ms,
            "kind": self.change.kind.name(),
            "node": self.change.node,
            "addr": self.change.addr,
            "details": self.change.details,
            "cluster": self.cluster,
            "data": self.change.data,
        })
    }

    /// The event as one line: `#seq time_ms kind node addr details`.
    pub fn to_line(&self) -> String {
        format!(
            "#{} {} {} {} {} {}",
            self.seq,
            self.time_ms,
            self.change.kind.name(),
            self.change.node,
            self.change.addr,
            self.change.details
        )
    }
}

struct Log {
    next_seq: u64,
    ring: VecDeque<Event>,
    totals: BTreeMap<Kind, u64>,
    unpublished: VecDeque<Event>,
}

static LOG: Mutex<Log> = Mutex::new(Log {
    next_seq: 1,
    ring: VecDeque::new(),
    totals: BTreeMap::new(),
    unpublished: VecDeque::new(),
});

/// Set when `unpublished` holds something: the per-tick check on the main thread is one load.
static PENDING: AtomicBool = AtomicBool::new(false);

fn log() -> MutexGuard<'static, Log> {
    LOG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Records `changes` seen by the watcher of `cluster` at `time_ms`; returns how many.
pub fn record(cluster: &str, time_ms: u64, changes: Vec<Change>) -> usize {
    if changes.is_empty() {
        return 0;
    }
    let count = changes.len();
    let mut log = log();
    for change in changes {
        let event = Event {
            seq: log.next_seq,
            time_ms,
            cluster: cluster.to_owned(),
            change,
        };
        log.next_seq += 1;
        *log.totals.entry(event.change.kind).or_insert(0) += 1;
        if log.ring.len() == CAPACITY {
            log.ring.pop_front();
        }
        if log.unpublished.len() == CAPACITY {
            log.unpublished.pop_front();
        }
        log.unpublished.push_back(event.clone());
        log.ring.push_back(event);
    }
    PENDING.store(true, Ordering::Release);
    drop(log);
    crate::state::changed();
    count
}

/// The log's events (oldest first) and the next sequence number, for the state file.
pub fn snapshot() -> (Vec<Json>, u64) {
    let log = log();
    (log.ring.iter().map(Event::to_json).collect(), log.next_seq)
}

/// Puts events of an earlier process back (already published then): they are shown and
/// counted, and sequence numbers continue after theirs.
pub fn restore(events: Vec<Event>, next_seq: u64) {
    let mut log = log();
    let newest = events.iter().map(|e| e.seq + 1).max().unwrap_or(1);
    log.next_seq = log.next_seq.max(next_seq).max(newest);
    for event in events.into_iter().rev() {
        if log.ring.len() >= CAPACITY {
            break;
        }
        *log.totals.entry(event.change.kind).or_insert(0) += 1;
        log.ring.push_front(event);
    }
}

impl Event {
    /// An event [`Event::to_json`] wrote; `None` for anything else.
    pub fn from_json(json: &Json) -> Option<Event> {
        Some(Event {
            seq: json["seq"].as_u64()?,
            time_ms: json["time_ms"].as_u64()?,
            cluster: json["cluster"].as_str()?.to_owned(),
            change: Change {
                kind: Kind::from_name(json["kind"].as_str()?)?,
                node: json["node"].as_str()?.to_owned(),
                addr: json["addr"].as_str()?.to_owned(),
                details: json["details"].as_str()?.to_owned(),
                data: json["data"].clone(),
            },
        })
    }
}

/// The newest `count` events (all if `None`) with a sequence number above `since`, oldest
/// first.
pub fn recent(count: Option<usize>, since: u64) -> Vec<Event> {
    let log = log();
    let newer: Vec<&Event> = log.ring.iter().filter(|e| e.seq > since).collect();
    let skip = count.map_or(0, |n| newer.len().saturating_sub(n));
    newer[skip..].iter().map(|e| (*e).clone()).collect()
}

/// Events recorded so far, by kind (every kind, zeros included), and their sum.
pub fn totals() -> (Vec<(Kind, u64)>, u64) {
    let log = log();
    let by_kind: Vec<(Kind, u64)> = Kind::ALL
        .iter()
        .map(|k| (*k, log.totals.get(k).copied().unwrap_or(0)))
        .collect();
    let sum = by_kind.iter().map(|(_, n)| n).sum();
    (by_kind, sum)
}

/// Takes the events not yet published (oldest first); empty at the cost of one atomic load
/// when there are none.
pub fn take_unpublished() -> Vec<Event> {
    if !PENDING.swap(false, Ordering::AcqRel) {
        return Vec::new();
    }
    log().unpublished.drain(..).collect()
}
