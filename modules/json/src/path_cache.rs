//! Parsed paths kept for the next command that sends the same text.
//!
//! Applications send the same few paths again and again (`$.friends[1].name`); parsing one
//! costs about as much as walking a 1 KB document to its match (the text is split into steps,
//! each name copied). The cache keeps the last [`CAPACITY`] distinct paths, each under its
//! text and the dialect it was read in, so a repeated path costs a comparison of its bytes.
//! Only successful parses are kept (an error is recomputed, with its message, every time).
//! Commands run on the server's main thread; the cache is per thread all the same.

use std::cell::RefCell;
use std::rc::Rc;

use jsondoc::path::{Dialect, Path};

/// Distinct paths kept. A lookup compares the text's length with each entry, and the bytes of
/// those of the same length: a few dozen instructions for a small cache.
const CAPACITY: usize = 16;

/// Path texts longer than this are parsed every time (rare, and they would pin memory).
const MAX_TEXT: usize = 256;

struct Entry {
    dialect: Dialect,
    text: Box<[u8]>,
    path: Rc<Path>,
}

#[derive(Default)]
struct Cache {
    entries: Vec<Entry>,
    /// The slot the next new path replaces once the cache is full (round robin).
    next: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::default();
}

/// The parsed `text` in `dialect`: from the cache, or parsed by `parse` and kept.
pub(crate) fn cached<E>(
    text: &[u8],
    dialect: Dialect,
    parse: impl FnOnce() -> Result<Path, E>,
) -> Result<Rc<Path>, E> {
    if text.len() > MAX_TEXT {
        return parse().map(Rc::new);
    }
    let hit = CACHE.with_borrow(|cache| {
        cache
            .entries
            .iter()
            .find(|entry| entry.dialect == dialect && *entry.text == *text)
            .map(|entry| Rc::clone(&entry.path))
    });
    if let Some(path) = hit {
        return Ok(path);
    }
    let path = Rc::new(parse()?);
    CACHE.with_borrow_mut(|cache| {
        let entry = Entry {
            dialect,
            text: text.into(),
            path: Rc::clone(&path),
        };
        if cache.entries.len() < CAPACITY {
            cache.entries.push(entry);
        } else {
            let slot = cache.next;
            cache.entries[slot] = entry;
            cache.next = (slot + 1) % CAPACITY;
        }
    });
    Ok(path)
}
