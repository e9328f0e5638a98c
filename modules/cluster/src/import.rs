//! `CLUSTER.IMPORT`: keys of a standalone server moved (or copied) into the cluster, as
//! `redis-cli --cluster import` does.
//!
//! The source's database 0 is read with `SCAN`; each batch's slots come from the cluster
//! (`CLUSTER KEYSLOT`, pipelined), and the source sends each owner its keys in one
//! `MIGRATE ... KEYS` (TTLs kept). Without `REPLACE`, a key the cluster holds already is left
//! where it is, on both sides, and reported: nothing is overwritten or lost.

use std::collections::BTreeMap;
use std::time::Instant;

use redis::Value;
use rm::{Error, Result};
use serde_json::json;

use crate::jobs::{Job, Report};
use crate::migrate::{MIGRATE_READ_TIMEOUT, MIGRATE_TIMEOUT_MS, dump_payload, ready_view};
use crate::topology::{Addr, Conn, command, value_error, value_text};

/// How to import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Leave the keys on the source too (`MIGRATE ... COPY`).
    pub copy: bool,
    /// Overwrite keys the cluster holds already (`MIGRATE ... REPLACE`).
    pub replace: bool,
}

/// Keys asked for per `SCAN` call.
const SCAN_COUNT: &str = "1000";

/// How many skipped key names the reply lists.
const SKIPPED_SHOWN: usize = 10;

/// What an import did.
#[derive(Debug, Default)]
struct Tally {
    imported: u64,
    skipped: u64,
    skipped_keys: Vec<String>,
}

impl Tally {
    fn skip(&mut self, key: &[u8]) {
        self.skipped += 1;
        if self.skipped_keys.len() < SKIPPED_SHOWN {
            self.skipped_keys
                .push(String::from_utf8_lossy(key).into_owned());
        }
    }
}

/// Imports every key of `from` into the cluster `seed` belongs to.
pub fn import(job: &Job, seed: &Addr, from: &Addr, options: ImportOptions) -> Result<Report> {
    let started = Instant::now();
    let view = ready_view(job, seed)?;
    let mut source = Conn::open(from)?;
    let cluster_info = source.text(&["INFO", "cluster"])?;
    if cluster_info.contains("cluster_enabled:1") {
        return Err(Error::err(format!(
            "the source {from} is a cluster node: CLUSTER.IMPORT reads a standalone server"
        )));
    }
    // A cluster has database 0 only: keys elsewhere stay, and the reply says so.
    let other_dbs: Vec<String> = source
        .text(&["INFO", "keyspace"])?
        .lines()
        .filter_map(|l| l.split_once(':').map(|(db, _)| db.to_owned()))
        .filter(|db| db.starts_with("db") && db != "db0")
        .collect();
    source.set_timeout(MIGRATE_READ_TIMEOUT)?;
    let owner_addr: BTreeMap<u16, Addr> = view
        .owners()
        .into_iter()
        .filter_map(|(slot, ids)| Some((slot, view.addr_of(ids.first()?)?)))
        .collect();
    let mut slots_of = Conn::open(seed)?;
    let mut owners: BTreeMap<Addr, Conn> = BTreeMap::new();
    let mut tally = Tally::default();
    let mut cursor = "0".to_owned();
    job.progress("importing");
    let mut run = || -> Result<()> {
        loop {
            let (next, keys) = scan(&mut source, &cursor)?;
            if !keys.is_empty() {
                let slots = slots_of.pipeline(
                    &keys
                        .iter()
                        .map(|key| command(&[b"CLUSTER".as_slice(), b"KEYSLOT", key]))
                        .collect::<Vec<_>>(),
                )?;
                let mut batches: BTreeMap<Addr, Vec<Vec<u8>>> = BTreeMap::new();
                for (key, slot) in keys.into_iter().zip(slots) {
                    let Value::Int(slot) = slot else {
                        return Err(Error::err(format!(
                            "{}: CLUSTER KEYSLOT: unexpected reply {slot:?}",
                            slots_of.addr
                        )));
                    };
                    let owner = u16::try_from(slot)
                        .ok()
                        .and_then(|slot| owner_addr.get(&slot))
                        .ok_or_else(|| Error::err(format!("slot {slot} has no owner")))?;
                    batches.entry(owner.clone()).or_default().push(key);
                }
                for (owner, keys) in batches {
                    let conn = match owners.entry(owner.clone()) {
                        std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(Conn::open(&owner)?)
                        }
                    };
                    send(&mut source, conn, &owner, keys, options, &mut tally)?;
                }
                job.set("keys_moved", tally.imported);
                job.set("keys_skipped", tally.skipped);
            }
            if next == "0" {
                return Ok(());
            }
            cursor = next;
        }
    };
    run().map_err(|e| {
        Error::err(format!(
            "{} ({} keys {} before it; the others are still on {from})",
            e.to_string().trim_start_matches("ERR "),
            tally.imported,
            if options.copy { "copied" } else { "moved" }
        ))
    })?;
    let elapsed = started.elapsed().as_millis() as u64;
    let how = if options.copy { "copied" } else { "moved" };
    let mut text = format!(
        "[OK] {} keys {how} from {from} into the cluster in {elapsed} ms.\n",
        tally.imported
    );
    if !other_dbs.is_empty() {
        text.push_str(&format!(
            "[WARNING] {from} also holds keys in {}: not imported (a cluster has database 0 only).\n",
            other_dbs.join(", ")
        ));
    }
    if tally.skipped > 0 {
        text.push_str(&format!(
            "[WARNING] {} keys left on {from}: the cluster holds keys of the same names \
             (REPLACE overwrites them): {}{}\n",
            tally.skipped,
            tally.skipped_keys.join(", "),
            if tally.skipped > tally.skipped_keys.len() as u64 {
                ", ..."
            } else {
                ""
            }
        ));
    }
    Ok(Report::new(
        text,
        json!({
            "ok": true,
            "imported": tally.imported,
            "skipped": tally.skipped,
            "skipped_keys": tally.skipped_keys,
            "copy": options.copy,
            "replace": options.replace,
            "elapsed_ms": elapsed,
            "other_databases": other_dbs,
        }),
    ))
}

/// One `SCAN` step: the next cursor and the keys.
fn scan(source: &mut Conn, cursor: &str) -> Result<(String, Vec<Vec<u8>>)> {
    let reply = source.cmd(&["SCAN", cursor, "COUNT", SCAN_COUNT])?;
    if let Value::Array(parts) = &reply
        && let [next, Value::Array(keys)] = parts.as_slice()
        && let Some(next) = value_text(next)
    {
        let keys = keys
            .iter()
            .filter_map(|k| match k {
                Value::BulkString(bytes) => Some(bytes.clone()),
                _ => None,
            })
            .collect();
        return Ok((next, keys));
    }
    Err(Error::err(format!(
        "{}: SCAN: unexpected reply {reply:?}",
        source.addr
    )))
}

/// The source's `MIGRATE` of `keys` to `owner`.
fn migrate(owner: &Addr, keys: &[Vec<u8>], options: ImportOptions) -> Vec<Vec<u8>> {
    let mut args = command(&[
        "MIGRATE",
        &owner.host,
        &owner.port.to_string(),
        "",
        "0",
        &MIGRATE_TIMEOUT_MS.to_string(),
    ]);
    if options.copy {
        args.push(b"COPY".to_vec());
    }
    if options.replace {
        args.push(b"REPLACE".to_vec());
    }
    args.push(b"KEYS".to_vec());
    args.extend(keys.iter().cloned());
    args
}

/// Sends one owner's keys: without `REPLACE`, keys the owner has are skipped first; a key
/// that appears there meanwhile (`BUSYKEY`) makes the batch go again one key at a time.
fn send(
    source: &mut Conn,
    owner_conn: &mut Conn,
    owner: &Addr,
    keys: Vec<Vec<u8>>,
    options: ImportOptions,
    tally: &mut Tally,
) -> Result<()> {
    let keys = if options.replace {
        keys
    } else {
        let exists = owner_conn.pipeline(
            &keys
                .iter()
                .map(|key| command(&[b"EXISTS".as_slice(), key]))
                .collect::<Vec<_>>(),
        )?;
        let mut fresh = Vec::new();
        for (key, exists) in keys.into_iter().zip(exists) {
            match exists {
                Value::Int(0) => fresh.push(key),
                Value::Int(_) => tally.skip(&key),
                other => {
                    return Err(Error::err(format!(
                        "{owner}: EXISTS: unexpected reply {other:?}"
                    )));
                }
            }
        }
        fresh
    };
    if keys.is_empty() {
        return Ok(());
    }
    // A key can expire or go between SCAN and MIGRATE (MIGRATE skips it): count what the
    // owner got, not what was sent.
    let reply = source.cmd_raw(&migrate(owner, &keys, options))?;
    match value_error(&reply) {
        None => {
            tally.imported += count_existing(owner_conn, &keys)?;
            Ok(())
        }
        // "ERR Target instance replied with error: BUSYKEY ...": a key reached the owner
        // since EXISTS. The batch's other keys may have gone already; one at a time now.
        Some(e) if e.contains("BUSYKEY") => {
            for key in &keys {
                let reply = source.cmd_raw(&migrate(owner, std::slice::from_ref(key), options))?;
                match value_error(&reply) {
                    None => {
                        tally.imported += count_existing(owner_conn, std::slice::from_ref(key))?
                    }
                    Some(e) if e.contains("BUSYKEY") => {
                        if copied_already(source, owner_conn, key)? {
                            tally.imported += 1;
                        } else {
                            tally.skip(key);
                        }
                    }
                    Some(e) => return Err(migrate_error(source, owner, &e)),
                }
            }
            Ok(())
        }
        Some(e) => Err(migrate_error(source, owner, &e)),
    }
}

/// How many of `keys` the owner holds (one `EXISTS` each, pipelined: a cluster node refuses
/// keys of several slots in one command).
fn count_existing(owner_conn: &mut Conn, keys: &[Vec<u8>]) -> Result<u64> {
    let replies = owner_conn.pipeline(
        &keys
            .iter()
            .map(|key| command(&[b"EXISTS".as_slice(), key]))
            .collect::<Vec<_>>(),
    )?;
    replies.into_iter().try_fold(0, |count, reply| match reply {
        Value::Int(n) => Ok(count + u64::from(n > 0)),
        other => Err(Error::err(format!(
            "{}: EXISTS: unexpected reply {other:?}",
            owner_conn.addr
        ))),
    })
}

/// Whether the owner's copy of `key` is the source's (a `COPY` batch that failed part way
/// copied it): both serialise equal.
fn copied_already(source: &mut Conn, owner_conn: &mut Conn, key: &[u8]) -> Result<bool> {
    let ours = source.cmd_raw(&[b"DUMP".as_slice(), key])?;
    let theirs = owner_conn.cmd_raw(&[b"DUMP".as_slice(), key])?;
    Ok(matches!(
        (dump_payload(&ours), dump_payload(&theirs)),
        (Some(a), Some(b)) if a == b
    ))
}

fn migrate_error(source: &Conn, owner: &Addr, error: &str) -> Error {
    Error::err(format!("{}: MIGRATE to {owner}: {error}", source.addr))
}
