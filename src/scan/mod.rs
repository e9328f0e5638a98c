//! Scanning: every key of the database, every element of a hash, set or sorted set.

use std::ffi::c_void;
use std::ptr::NonNull;

use crate::Result;
use crate::ctx::Ctx;
use crate::key::Key;
use crate::string::{RStr, RString};
use crate::sys::RedisModuleScanCursor;

mod callbacks;
mod key;

/// Where a scan of the keyspace stands, for scanning in steps across calls
/// ([`Ctx::scan_keys_step`]); freed on drop.
#[derive(Debug)]
pub struct ScanCursor {
    pub(crate) raw: NonNull<RedisModuleScanCursor>,
}

// SAFETY: a cursor is a small heap record (a position and a "done" flag) with no reference to
// server state; the server allocates and frees it with a thread-safe allocator.
unsafe impl Send for ScanCursor {}

impl ScanCursor {
    /// A cursor at the start.
    pub fn new() -> ScanCursor {
        // SAFETY: no preconditions; the cursor is ours to destroy.
        let raw = unsafe { core_api!(ScanCursorCreate)() };
        ScanCursor {
            raw: NonNull::new(raw).expect("RedisModule_ScanCursorCreate returned NULL"),
        }
    }

    /// Back to the start.
    pub fn restart(&mut self) {
        // SAFETY: a live cursor we own.
        unsafe { core_api!(ScanCursorRestart)(self.raw.as_ptr()) };
    }
}

impl Default for ScanCursor {
    fn default() -> Self {
        ScanCursor::new()
    }
}

impl Drop for ScanCursor {
    fn drop(&mut self) {
        // SAFETY: a live cursor we own, destroyed once.
        unsafe { core_api!(ScanCursorDestroy)(self.raw.as_ptr()) };
    }
}

impl<'a> Ctx<'a> {
    /// Calls `visit` with the name and the (read-only) open key of every key in the caller's
    /// database. An `Err` from `visit` stops the scan and is returned; a panic in `visit`
    /// stops it too and reaches the command's boundary (`ERR panic: ...`).
    ///
    /// The guarantees are `SCAN`'s: every key present for the whole scan is visited, a key
    /// added or removed meanwhile may or may not be, and a key may be visited more than once.
    /// `visit` runs between the server's scan steps, never inside one, so it may read and
    /// write any key, the one it is given included; keys deleted before their turn are
    /// skipped. Keys are opened as [`Ctx::open_key`] opens them (a read, for LRU/LFU).
    ///
    /// `Err` while a view of a key's value ([`StrView`](crate::StrView), …) is alive, as for
    /// [`Ctx::call`]: a scan walks the whole keyspace, opening every key (which deletes an
    /// expired one).
    ///
    /// ```no_run
    /// use rm::{Ctx, KeyType, RStr, Result};
    ///
    /// /// `STATS.HASHES`: how many hashes, and how many fields in all.
    /// fn hashes(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     let (mut hashes, mut fields) = (0, 0);
    ///     ctx.scan_keys(|_name, key| {
    ///         if key.key_type() == KeyType::Hash {
    ///             hashes += 1;
    ///             key.scan_fields(|_field, _value| {
    ///                 fields += 1;
    ///                 Ok(())
    ///             })?;
    ///         }
    ///         Ok(())
    ///     })?;
    ///     ctx.reply_array(2);
    ///     ctx.reply_integer(hashes);
    ///     ctx.reply_integer(fields);
    ///     Ok(())
    /// }
    /// ```
    pub fn scan_keys(&self, mut visit: impl FnMut(&RStr, &Key) -> Result<()>) -> Result<()> {
        let mut cursor = ScanCursor::new();
        while self.scan_keys_step(&mut cursor, &mut visit)? {}
        Ok(())
    }

    /// One step of [`scan_keys`](Ctx::scan_keys): visits the keys of the next few buckets and
    /// returns whether there are more. The cursor can be kept between calls (of different
    /// commands, too) to scan a large keyspace a little at a time.
    pub fn scan_keys_step(
        &self,
        cursor: &mut ScanCursor,
        mut visit: impl FnMut(&RStr, &Key) -> Result<()>,
    ) -> Result<bool> {
        crate::view::ensure_none("scan the keyspace")?;
        let mut names: Vec<RString> = Vec::new();
        // The scan may expire (delete) keys under open handles: closed around it, and open
        // again before `visit` runs (which may use them).
        let reopen = self.open_keys().close_all(self);
        // SAFETY: live context and cursor; the callback only appends to `names`, which lives
        // across the call and is not otherwise touched during it.
        let more = unsafe {
            core_api!(Scan)(
                self.as_ptr(),
                cursor.raw.as_ptr(),
                Some(callbacks::collect_key),
                (&raw mut names).cast::<c_void>(),
            )
        } != 0;
        drop(reopen);
        for name in &names {
            let key = self.open_key(name);
            if key.is_empty() {
                continue;
            }
            visit(name, &key)?;
        }
        Ok(more)
    }
}
