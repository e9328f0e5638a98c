//! Lists by index: read, replace, insert and delete the element at a position.
//!
//! Indexes count from 0 at the head; negative ones from the tail (-1 is the last element), as
//! `LINDEX` and `LSET` read them. Each call seeks from the nearer end, or from where this
//! handle's previous index call left off (the server keeps that position in the handle), so
//! walking a list in order costs O(1) a step.

use std::ffi::c_long;
use std::ptr::NonNull;

use super::{Key, KeyType};
use crate::string::{RStr, RString};
use crate::sys;
use crate::{Error, Result};

fn out_of_range() -> Error {
    Error::err("index out of range")
}

/// An index as the server's `long`: one beyond it is out of range anyway.
fn index_of(index: i64) -> Result<c_long> {
    c_long::try_from(index).map_err(|_| out_of_range())
}

impl Key<'_> {
    // `&self` even for writes, as the other list operations: each checks the key is a list (or
    // empty) first, and a list has no views. Deleting the last element deletes the key.

    /// The element at `index` (`LINDEX`); `None` past either end or for a missing key.
    #[doc(alias = "RedisModule_ListGet")]
    pub fn list_get(&self, index: i64) -> Result<Option<RString>> {
        self.expect_type(KeyType::List)?;
        if self.is_empty() {
            return Ok(None);
        }
        let get = api!(ListGet);
        let Ok(index) = index_of(index) else {
            return Ok(None);
        };
        // SAFETY: an open list key; NULL for an index out of range.
        let raw = unsafe { get(self.ptr(), index) };
        // SAFETY: a non-NULL result is a new string we own (no automatic memory in SDK
        // contexts).
        Ok(NonNull::new(raw).map(|raw| unsafe { RString::from_raw(raw) }))
    }

    /// Replaces the element at `index` (`LSET`). `Err` for an index past either end (`ERR index
    /// out of range`) or a missing key (`ERR no such key`).
    #[doc(alias = "RedisModule_ListSet")]
    pub fn list_set(&self, index: i64, value: &RStr) -> Result<()> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        if self.is_empty() {
            return Err(Error::err("no such key"));
        }
        let set = api!(ListSet);
        let index = index_of(index)?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable list key and a live string, which the list retains.
        let status = unsafe { set(self.ptr(), index, value.as_ptr()) };
        match status {
            sys::REDISMODULE_OK => Ok(()),
            _ => Err(out_of_range()),
        }
    }

    /// Inserts `value` so that it ends up at `index`: a non-negative index inserts before the
    /// element now there (0 before the head, the length after the tail); a negative one after
    /// the element now there (-1 after the tail, minus the length minus one before the head).
    /// So `LINSERT BEFORE` the element at `i` is `list_insert(i, v)` and `AFTER` it is
    /// `list_insert(i + 1, v)` (for a negative `i`: `i - 1` and `i`). On a missing key 0 and
    /// -1 create the list; other indexes past the ends are `Err(ERR index out of range)`.
    #[doc(alias = "RedisModule_ListInsert")]
    pub fn list_insert(&self, index: i64, value: &RStr) -> Result<()> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        let insert = api!(ListInsert);
        let index = index_of(index)?;
        // The server handles only 0 and -1 on a missing key (a push); any other index would
        // reach the list code with no list (a NULL dereference in 7.0–7.4).
        if self.is_empty() && index != 0 && index != -1 {
            return Err(out_of_range());
        }
        let _reopen = self.before_write();
        // SAFETY: an open, writable list-or-empty key (with 0 or -1 if empty, see above) and a
        // live string, which the list retains.
        let status = unsafe { insert(self.ptr(), index, value.as_ptr()) };
        match status {
            sys::REDISMODULE_OK => Ok(()),
            _ => Err(out_of_range()),
        }
    }

    /// Removes the element at `index`; deleting the last element deletes the key. `Err` for an
    /// index past either end (`ERR index out of range`) or a missing key (`ERR no such key`).
    #[doc(alias = "RedisModule_ListDelete")]
    pub fn list_delete(&self, index: i64) -> Result<()> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        if self.is_empty() {
            return Err(Error::err("no such key"));
        }
        let delete = api!(ListDelete);
        let index = index_of(index)?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable list key.
        let status = unsafe { delete(self.ptr(), index) };
        match status {
            sys::REDISMODULE_OK => Ok(()),
            _ => Err(out_of_range()),
        }
    }
}
