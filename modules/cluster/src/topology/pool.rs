//! Talking to many nodes at once: bounded parallel work and a pool of connections.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rm::{Error, Result};

use super::*;

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
