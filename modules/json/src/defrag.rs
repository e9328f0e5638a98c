//! Active defragmentation of a document, incremental for big ones.

use jsondoc::{Document, Relocate, RelocatePosition};
use rm::{Defrag, DefragStatus};
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Values the defrag callback visited (`keys_defrag` of `JSON.DEBUG DEFRAG_INFO`).
pub(crate) static KEYS_DEFRAGGED: AtomicU64 = AtomicU64::new(0);

/// Where the incremental pass over a big document paused, and the cursor handed to the server
/// for it. The server defragments one key at a time, so one slot is enough; a cursor that is
/// not ours (another key, or a pass the server abandoned) starts the document from the top.
static PAUSED: Mutex<(u64, RelocatePosition)> = Mutex::new((0, RelocatePosition::start()));

/// Offers a document's blocks to the server's defrag handle.
struct ServerRelocator<'d, 'a>(&'d mut Defrag<'a>);

impl Relocate for ServerRelocator<'_, '_> {
    fn relocate_str(&mut self, text: &mut Box<str>) {
        self.0.boxed_str(text);
    }

    fn relocate_vec<T>(&mut self, items: &mut Vec<T>) {
        self.0.vec(items);
    }

    fn should_pause(&mut self) -> bool {
        self.0.should_stop()
    }
}

pub(crate) fn defrag_document(document: &mut Document, defrag: &mut Defrag<'_>) -> DefragStatus {
    KEYS_DEFRAGGED.fetch_add(1, Ordering::Relaxed);
    let mut paused = PAUSED.lock().unwrap_or_else(PoisonError::into_inner);
    let from = match defrag.cursor() {
        Some(cursor) if cursor != 0 && cursor == paused.0 => std::mem::take(&mut paused.1),
        _ => RelocatePosition::start(),
    };
    match document.relocate(&from, &mut ServerRelocator(defrag)) {
        None => DefragStatus::Done,
        Some(next) => {
            // A fresh nonzero cursor per pause: a stale one never matches.
            paused.0 = paused.0.wrapping_add(1).max(1);
            paused.1 = next;
            DefragStatus::Paused(NonZeroU64::new(paused.0).expect("nonzero by construction"))
        }
    }
}
