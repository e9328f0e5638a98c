//! One reader thread per watched node, so that a node that keeps its connection but stops
//! answering (SIGSTOP, a long fork, a swapped-out host) delays nobody but itself.
//!
//! Each poll asks every idle reader for a fresh view and waits until all have answered or the
//! poll's deadline passes. A reader still busy at the deadline (with this poll's request or an
//! older one) counts as unreachable for this poll — "no reply within N ms" — and gets no new
//! request until it answers; its late answer, when it comes, is the node's view in the poll
//! that receives it. Readers of addresses no longer watched are let go: their thread ends after
//! its read in flight. [`Readers::close`] joins every thread (module code must not be unmapped
//! under them); each ends within its connection's timeouts.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rm::{Error, Result};

use crate::topology::{Addr, Conn, NodeView};

/// How long a reader waits for a node's reply before dropping the connection (a late reply
/// still helps: it is the node's view in the next poll).
const READ_TIMEOUT_FLOOR: Duration = Duration::from_secs(2);

/// A reader's answer: its address and the view (or why not).
type Answer = (Addr, Result<NodeView>);

struct Reader {
    requests: Sender<Duration>,
    /// A request is in flight (sent, not answered).
    busy: bool,
    thread: JoinHandle<()>,
}

/// The reader threads of one watcher.
pub struct Readers {
    readers: BTreeMap<Addr, Reader>,
    /// Threads of readers let go, joined on [`Readers::close`] (or reaped once finished).
    retired: Vec<JoinHandle<()>>,
    answers: Receiver<Answer>,
    answer_to: Sender<Answer>,
}

impl Default for Readers {
    fn default() -> Self {
        let (answer_to, answers) = channel();
        Readers {
            readers: BTreeMap::new(),
            retired: Vec::new(),
            answers,
            answer_to,
        }
    }
}

impl Readers {
    /// Reads every address of `addrs` within `deadline`; each once (sorted), with its view or
    /// the reason it has none (no reply in time, refused, ...). Readers of other addresses are
    /// let go. A late answer from a reader let go is dropped (it names an address no longer
    /// read, or is taken for its successor's: a view of that address either way).
    pub fn read(&mut self, addrs: &[Addr], deadline: Duration) -> Vec<(Addr, Result<NodeView>)> {
        // One reader, one request and one answer per address, however often it is listed.
        let mut unique: Vec<Addr> = addrs.to_vec();
        unique.sort();
        unique.dedup();
        let addrs = &unique[..];
        self.let_go(|addr| addrs.contains(addr));
        let socket_timeout = deadline.max(READ_TIMEOUT_FLOOR);
        let mut waiting = 0;
        for addr in addrs {
            if !self.readers.contains_key(addr) {
                match self.spawn(addr) {
                    Ok(reader) => {
                        self.readers.insert(addr.clone(), reader);
                    }
                    Err(_) => continue,
                }
            }
            let reader = self.readers.get_mut(addr).expect("inserted above");
            if !reader.busy && reader.requests.send(socket_timeout).is_ok() {
                reader.busy = true;
            }
            if reader.busy {
                waiting += 1;
            }
        }
        let mut got: BTreeMap<Addr, Result<NodeView>> = BTreeMap::new();
        let until = Instant::now() + deadline;
        while waiting > 0 {
            let left = until.saturating_duration_since(Instant::now());
            match self.answers.recv_timeout(left) {
                Ok((addr, view)) => {
                    if let Some(reader) = self.readers.get_mut(&addr) {
                        reader.busy = false;
                        waiting -= 1;
                        got.insert(addr, view);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        addrs
            .iter()
            .map(|addr| {
                let view = got.remove(addr).unwrap_or_else(|| {
                    Err(match self.readers.get(addr) {
                        Some(_) => Error::err(format!(
                            "{addr}: no reply within {} ms",
                            deadline.as_millis()
                        )),
                        None => Error::err(format!("{addr}: cannot start a reader thread")),
                    })
                });
                (addr.clone(), view)
            })
            .collect()
    }

    fn spawn(&self, addr: &Addr) -> std::io::Result<Reader> {
        let (requests, incoming) = channel::<Duration>();
        let answer_to = self.answer_to.clone();
        let reader_addr = addr.clone();
        let thread = std::thread::Builder::new()
            .name(format!("cluster-reader-{}", addr.port))
            .spawn(move || read_loop(&reader_addr, &incoming, &answer_to))?;
        Ok(Reader {
            requests,
            busy: false,
            thread,
        })
    }

    /// Lets go of the readers of addresses `keep` refuses (their threads end after the read
    /// in flight) and joins retired threads that have ended.
    fn let_go(&mut self, keep: impl Fn(&Addr) -> bool) {
        let gone: Vec<Addr> = self
            .readers
            .keys()
            .filter(|addr| !keep(addr))
            .cloned()
            .collect();
        for addr in gone {
            if let Some(reader) = self.readers.remove(&addr) {
                // Dropping the request sender ends the thread's loop.
                self.retired.push(reader.thread);
            }
        }
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition(JoinHandle::is_finished);
        self.retired = running;
        for thread in done {
            let _ = thread.join();
        }
    }

    /// Ends every reader and waits for its thread (also on drop: a watcher that panicked
    /// must not leave threads running this library's code behind).
    pub fn close(self) {}
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.let_go(|_| false);
        for thread in self.retired.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A reader thread: one view per request, over a kept connection (dropped after a failure,
/// which may have left it half-read).
fn read_loop(addr: &Addr, requests: &Receiver<Duration>, answers: &Sender<Answer>) {
    let mut conn: Option<Conn> = None;
    while let Ok(timeout) = requests.recv() {
        let view = match conn.take() {
            Some(c) => Ok(c),
            None => Conn::open(addr),
        }
        .and_then(|mut c| {
            c.set_timeout(timeout)?;
            let view = NodeView::read(&mut c)?;
            conn = Some(c);
            Ok(view)
        });
        if answers.send((addr.clone(), view)).is_err() {
            return;
        }
    }
}
