//! Open keys: typed access to a key's value through the server's low-level API.
//!
//! mod.rs is the handle (`Key`: open, type, expiry, delete); typed.rs the string, hash, list,
//! set and sorted-set operations; stream.rs, list.rs and zset.rs streams, list index access and
//! sorted-set ranges; held.rs what their iterations check. Elsewhere, by layer: the context's
//! table of open server handles is ctx/open_keys.rs; module data-type values datatype/value.rs;
//! the scan of a key's elements scan/key.rs.

mod held;
mod list;
mod stream;
mod typed;
mod zset;
use std::ffi::c_int;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::ctx::Ctx;
use crate::string::RStr;
use crate::sys::{self, RedisModuleKey};
use crate::view;
use crate::{Error, Result};

use crate::ctx::open_keys::{Reopen, Slot, open_raw};
pub use stream::{StreamEntry, StreamId, StreamIter, StreamTrim};
pub use zset::{ScoreBound, ZsetRange};

/// The type of the value a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    /// No such key.
    Empty,
    /// A string.
    String,
    /// A list.
    List,
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A module data type.
    Module,
    /// A stream.
    Stream,
}

/// How a key is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    Read,
    ReadWrite,
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (left).
    Head,
    /// The tail (right).
    Tail,
}

/// What [`Key::zset_add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZAdd {
    /// A new member.
    Added,
    /// An existing member got a new score.
    Updated,
    /// Nothing changed.
    Unchanged,
}

/// An open key, closed on drop; it cannot outlive the callback's context.
///
/// Reads take `&self`. Every method that can free, replace or move the value in a way a
/// borrowed view of it ([`StrView`](crate::StrView), [`ValueRef`](crate::ValueRef), …) would
/// notice takes `&mut self`, and also checks at run time that no view made through another
/// handle points into the value (see [`StrView`](crate::StrView)). The element operations on
/// hashes, lists, sets and sorted sets keep `&self`: views exist only of string and module
/// values, and each of those operations fails without touching a key of another type.
///
/// Several handles may be open on the same key, and commands may run ([`Ctx::call`]) while
/// handles are open: each handle always sees the key as it is now. (A server handle caches
/// the value it was opened on, so in C a handle whose key another handle deleted, replaced or
/// created, or a called command changed, points at freed memory or crashes the server on its
/// next write. Here every handle lives in its context's table of open keys (`OpenKeys`):
/// a write closes the other handles on its key first and reopens them once it is done;
/// running a command closes and reopens them all.)
pub struct Key<'a> {
    /// This handle's entry in the context's table: the server's handle lives there, so that
    /// other operations can close it.
    slot: &'a Slot,
    ctx: &'a Ctx<'a>,
    name: &'a RStr,
    writable: bool,
    _not_send: PhantomData<*mut u8>,
}

impl<'a> Key<'a> {
    #[inline(always)]
    pub(crate) fn open(ctx: &'a Ctx<'_>, name: &'a RStr, mode: OpenMode) -> Key<'a> {
        let writable = mode == OpenMode::ReadWrite;
        let keys = ctx.open_keys();
        let slot = keys.claim(name, writable);
        // Opening may expire (delete) the key, under other handles on it.
        let _reopen = keys.close_others(ctx, slot, name);
        slot.raw.set(open_raw(ctx.as_ptr(), name, writable));
        Key {
            slot,
            ctx,
            name,
            writable,
            _not_send: PhantomData,
        }
    }

    /// The server's handle.
    #[inline(always)]
    pub(crate) fn ptr(&self) -> *mut RedisModuleKey {
        self.slot.raw.get()
    }

    /// Called before every write and every direct access to a string's buffer (which may
    /// replace an encoded string's object): closes the other handles on this key until the
    /// guard drops.
    #[inline(always)]
    pub(crate) fn before_write(&self) -> Reopen<'a> {
        self.ctx
            .open_keys()
            .close_others(self.ctx, self.slot, self.name)
    }

    /// The key's name.
    #[inline(always)]
    pub fn name(&self) -> &'a RStr {
        self.name
    }

    /// Whether the server gave no handle (a missing key opened read-only).
    #[inline(always)]
    fn absent(&self) -> bool {
        self.ptr().is_null()
    }

    /// The server's type code of the key's value (`REDISMODULE_KEYTYPE_*`): for checks on the
    /// hot path, which compare it without mapping it to [`KeyType`] first.
    #[inline(always)]
    pub(crate) fn raw_type(&self) -> std::ffi::c_int {
        // SAFETY: an open key or NULL, which the server answers as empty.
        unsafe { core_api!(KeyType)(self.ptr()) }
    }

    /// The type of the value the key holds.
    #[inline(always)]
    pub fn key_type(&self) -> KeyType {
        match self.raw_type() {
            sys::REDISMODULE_KEYTYPE_STRING => KeyType::String,
            sys::REDISMODULE_KEYTYPE_LIST => KeyType::List,
            sys::REDISMODULE_KEYTYPE_HASH => KeyType::Hash,
            sys::REDISMODULE_KEYTYPE_SET => KeyType::Set,
            sys::REDISMODULE_KEYTYPE_ZSET => KeyType::ZSet,
            sys::REDISMODULE_KEYTYPE_MODULE => KeyType::Module,
            sys::REDISMODULE_KEYTYPE_STREAM => KeyType::Stream,
            _ => KeyType::Empty,
        }
    }

    /// Whether the key does not exist.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        // The server gives a read-only handle only to a key that exists, and its value stays
        // (nothing through it can delete it; other handles and commands that could, close
        // and reopen it): the handle answers without asking the server the type.
        if !self.writable {
            return self.absent();
        }
        self.key_type() == KeyType::Empty
    }

    /// `Err(WrongType)` unless the key is empty or holds `expected`: the check every write
    /// command starts with.
    #[inline(always)]
    pub fn expect_type(&self, expected: KeyType) -> Result<()> {
        match self.key_type() {
            KeyType::Empty => Ok(()),
            found if found == expected => Ok(()),
            _ => Err(Error::WrongType),
        }
    }

    /// The length of the value: string length, or element count for aggregates; 0 if empty.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: an open key or NULL, which the server answers as 0.
        unsafe { core_api!(ValueLength)(self.ptr()) }
    }

    pub(crate) fn require_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Error::err("key opened read-only"))
        }
    }

    fn check(status: c_int, what: &'static str) -> Result<()> {
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err(what))
        }
    }

    /// `Err` if a view made through another handle points into this key's value, which the
    /// caller is about to free, replace or lend mutably (views of this handle are ruled out by
    /// `&mut self`). One load when no view is alive anywhere.
    #[inline]
    pub(crate) fn ensure_value_unviewed(&self, what: &'static str) -> Result<()> {
        if view::live() == 0 {
            return Ok(());
        }
        match self.value_address() {
            Some(addr) => view::ensure_unviewed(addr, what),
            None => Ok(()),
        }
    }

    /// Where a view of the current value would point: a string's buffer or a module value;
    /// `None` for other types and empty keys, of which there are no views.
    fn value_address(&self) -> Option<NonNull<u8>> {
        match self.key_type() {
            KeyType::String => {
                let _reopen = self.before_write();
                let mut len = 0usize;
                // SAFETY: an open string key. A read-mode DMA returns the buffer a view would
                // have; it converts an encoded string (integer, embedded) into a plain one
                // first, which no view can point into (a view's own DMA did that conversion),
                // and which every caller is about to free or rewrite anyway.
                let data =
                    unsafe { core_api!(StringDMA)(self.ptr(), &mut len, sys::REDISMODULE_READ) };
                NonNull::new(data.cast::<u8>()).filter(|_| len > 0)
            }
            // SAFETY: an open key holding a module value.
            KeyType::Module => NonNull::new(unsafe { core_api!(ModuleTypeGetValue)(self.ptr()) })
                .map(NonNull::cast),
            _ => None,
        }
    }

    /// Deletes the key.
    ///
    /// `Err` while a view of the value made through another handle is alive (see
    /// [`StrView`](crate::StrView)); a view of this handle cannot be alive (`&mut self`).
    pub fn delete(&mut self) -> Result<()> {
        self.require_writable()?;
        if self.is_empty() {
            return Ok(());
        }
        self.ensure_value_unviewed("delete the key")?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable key.
        let status = unsafe { core_api!(DeleteKey)(self.ptr()) };
        Self::check(status, "could not delete key")
    }

    /// Milliseconds the key has left to live, or `None` with no expiry (or no key).
    pub fn expire(&self) -> Option<i64> {
        if self.absent() {
            return None;
        }
        // SAFETY: an open key.
        let ttl = unsafe { core_api!(GetExpire)(self.ptr()) };
        (ttl != sys::REDISMODULE_NO_EXPIRE as i64).then_some(ttl)
    }

    /// Sets the key to expire after `ms` milliseconds, or removes its expiry with `None`.
    //
    // `&self`, and allowed while views are alive: an expiry is kept beside the value, never in
    // it. (Valkey 8.1+ embeds it in the value's object header and may reallocate that header,
    // but a view points at the payload, which moves with neither: a string viewed through
    // StringDMA is a plain string whose buffer is a separate allocation, and a module value is
    // the module's own allocation.)
    pub fn set_expire(&self, ms: Option<i64>) -> Result<()> {
        self.require_writable()?;
        let ttl = ms.unwrap_or(sys::REDISMODULE_NO_EXPIRE as i64);
        // Valkey 8.1+ may reallocate the value's object to hold the expiry.
        let _reopen = self.before_write();
        // SAFETY: an open, writable key.
        let status = unsafe { core_api!(SetExpire)(self.ptr(), ttl) };
        Self::check(status, "cannot set expire on an empty key")
    }

    /// The Unix time in milliseconds at which the key expires, or `None` with no expiry (or
    /// no key).
    pub fn abs_expire(&self) -> Option<i64> {
        if self.absent() {
            return None;
        }
        // SAFETY: an open key.
        let at = unsafe { core_api!(GetAbsExpire)(self.ptr()) };
        (at != sys::REDISMODULE_NO_EXPIRE as i64).then_some(at)
    }

    /// Sets the key to expire at the Unix time `unix_ms` (milliseconds), or removes its expiry
    /// with `None`. A time in the past is kept as given: the server deletes the key the next
    /// time it is accessed (or by its expiry cycle), with the `expired` event, as it does for
    /// `SET key value PXAT <past>`.
    ///
    /// This is what a command replicates instead of a relative expiry (as `SET … EX` is
    /// replicated as `SET … PXAT`): the replica and the AOF then agree on the instant.
    //
    // Allowed while views are alive, as `set_expire` (the expiry is beside the value).
    pub fn set_abs_expire(&self, unix_ms: Option<i64>) -> Result<()> {
        self.require_writable()?;
        // The server refuses a negative time other than "no expiry"; say so instead of
        // removing the expiry by accident.
        let at = match unix_ms {
            Some(at) if at < 0 => return Err(Error::err("invalid expire time")),
            Some(at) => at,
            None => sys::REDISMODULE_NO_EXPIRE as i64,
        };
        // Valkey 8.1+ may reallocate the value's object to hold the expiry.
        let _reopen = self.before_write();
        // SAFETY: an open, writable key.
        let status = unsafe { core_api!(SetAbsExpire)(self.ptr(), at) };
        Self::check(status, "cannot set expire on an empty key")
    }
}

impl Drop for Key<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.ctx.open_keys().release(self.slot);
    }
}

/// Opening keys: here rather than in ctx/, which the key handle builds on.
impl<'a> Ctx<'a> {
    /// Opens a key for reading. A missing key opens as [`KeyType::Empty`](crate::KeyType).
    #[inline(always)]
    pub fn open_key<'k>(&'k self, name: &'k RStr) -> Key<'k> {
        Key::open(self, name, OpenMode::Read)
    }

    /// Opens a key for reading and writing; the key is created by the first write.
    #[inline(always)]
    pub fn open_key_writable<'k>(&'k self, name: &'k RStr) -> Key<'k> {
        Key::open(self, name, OpenMode::ReadWrite)
    }
}
