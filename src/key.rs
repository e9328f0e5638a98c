//! Open keys: typed access to a key's value through the server's low-level API.

use std::cell::Cell;
use std::ffi::{CStr, c_int, c_void};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::ctx::Ctx;
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleKey, RedisModuleString};
use crate::view::{self, StrView, StrViewMut};
use crate::{Error, Result};

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
/// borrowed view of it ([`StrView`], [`ValueRef`](crate::ValueRef), …) would notice takes
/// `&mut self`, and also checks at run time that no view made through another handle points
/// into the value (see [`StrView`]). The element operations on hashes, lists, sets and sorted
/// sets keep `&self`: views exist only of string and module values, and each of those
/// operations fails without touching a key of another type.
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

/// A server key handle, as kept in [`OpenKeys`].
pub(crate) struct Slot {
    /// The handle: NULL for a missing key opened read-only (the server hands out none then).
    /// Holds [`closed`] only while a [`Reopen`] guard is alive.
    raw: Cell<*mut RedisModuleKey>,
    /// The key's name while a [`Key`] uses the slot; NULL while it is free.
    name: Cell<*mut RedisModuleString>,
    writable: Cell<bool>,
}

/// The marker of a handle closed until its [`Reopen`] guard drops; never dereferenced.
#[inline(always)]
fn closed() -> *mut RedisModuleKey {
    ptr::without_provenance_mut(1)
}

impl Slot {
    const fn free() -> Slot {
        Slot {
            raw: Cell::new(ptr::null_mut()),
            name: Cell::new(ptr::null_mut()),
            writable: Cell::new(false),
        }
    }

    /// Closes the handle, marking it for the [`Reopen`] guard (a no-op on a closed one).
    ///
    /// The name is retained until the reopen: the open handle held the only reference the
    /// slot can count on (a `Key` leaked with `mem::forget` no longer keeps its name alive),
    /// and closing the handle releases that.
    fn close(&self) {
        let raw = self.raw.get();
        if raw == closed() {
            return;
        }
        self.raw.set(closed());
        // SAFETY: the name is live (the open handle retains it); retained once here, released
        // once by `reopened` or `forget_closed`. Then the open handle (or NULL, which the
        // server ignores) is closed once: the slot holds the marker until it is reopened.
        unsafe {
            core_api!(RetainString)(ptr::null_mut(), self.name.get());
            core_api!(CloseKey)(raw);
        }
    }

    /// Reopens a closed handle in `ctx`, then drops the retain `close` took.
    fn reopened(&self, ctx: *mut sys::RedisModuleCtx) {
        // SAFETY: the name is live: `close` retained it.
        let name = unsafe { RStr::from_raw(self.name.get()) };
        self.raw.set(open_raw(ctx, name, self.writable.get()));
        // SAFETY: the retain `close` took, released once; the new handle retains the name.
        unsafe { core_api!(FreeString)(ptr::null_mut(), self.name.get()) };
    }

    /// Ends the slot's handle: closes it if open, or drops the retain of a closed one.
    fn finish(&self) {
        let raw = self.raw.get();
        if raw == closed() {
            // SAFETY: the retain `close` took, released once (the slot is being freed).
            unsafe { core_api!(FreeString)(ptr::null_mut(), self.name.get()) };
        } else {
            // SAFETY: the slot's open handle (or NULL, which the server ignores), closed once:
            // the slot is being freed.
            unsafe { core_api!(CloseKey)(raw) };
        }
    }
}

/// How many slots a context holds inline; a callback that keeps more keys open at once gets
/// the rest from the heap.
const INLINE_SLOTS: usize = 2;

/// The key handles open in one callback: every [`Key`] keeps its server handle here, so that
/// an operation can close the handles it would invalidate (and reopen them after).
pub(crate) struct OpenKeys {
    inline: [Slot; INLINE_SLOTS],
    /// Slots past the inline ones, made on first need (NULL before) and freed by [`end`]. Only
    /// ever appended to, and each a separate allocation (from `Box::into_raw`), so a slot lent
    /// to a `Key` never moves while the table lives. A raw pointer, so that the table has no drop glue: see [`end`].
    ///
    /// [`end`]: OpenKeys::end
    spilled: Cell<*mut Vec<NonNull<Slot>>>,
    /// Slots in use: the table is searched only when this says another handle is open.
    in_use: Cell<usize>,
}

impl OpenKeys {
    #[inline(always)]
    pub(crate) const fn new() -> OpenKeys {
        OpenKeys {
            inline: [Slot::free(), Slot::free()],
            spilled: Cell::new(ptr::null_mut()),
            in_use: Cell::new(0),
        }
    }

    /// A free slot, now marked as used for `name`.
    #[inline(always)]
    fn claim(&self, name: &RStr, writable: bool) -> &Slot {
        let slot = match self.inline.iter().find(|slot| slot.name.get().is_null()) {
            Some(slot) => slot,
            None => self.claim_spilled(),
        };
        slot.name.set(name.as_ptr());
        slot.writable.set(writable);
        self.in_use.set(self.in_use.get() + 1);
        slot
    }

    #[cold]
    fn claim_spilled(&self) -> &Slot {
        if self.spilled.get().is_null() {
            self.spilled.set(Box::into_raw(Box::default()));
        }
        // SAFETY: made above or earlier by `Box::into_raw`, freed only by `end` (which takes
        // `&mut self`, so no slot is lent then); no other reference to the vector is alive
        // (`for_each_used` borrows it only for its own duration, and never calls this).
        let spilled = unsafe { &mut *self.spilled.get() };
        let free = spilled.iter().find(|slot| {
            // SAFETY: every pointer in the vector is a live slot (see below).
            unsafe { slot.as_ref() }.name.get().is_null()
        });
        let slot = match free {
            Some(slot) => *slot,
            None => {
                let slot = NonNull::from(Box::leak(Box::new(Slot::free())));
                spilled.push(slot);
                slot
            }
        };
        // SAFETY: the slot is its own allocation, freed only by `end`, which needs `&mut self`:
        // it outlives the borrow of `self` this returns.
        unsafe { slot.as_ref() }
    }

    #[inline(always)]
    fn release(&self, slot: &Slot) {
        slot.finish();
        slot.raw.set(ptr::null_mut());
        slot.name.set(ptr::null_mut());
        self.in_use.set(self.in_use.get() - 1);
    }

    /// Calls `each` with every slot in use.
    fn for_each_used(&self, mut each: impl FnMut(&Slot)) {
        let spilled = self.spilled.get();
        // SAFETY: NULL or the live vector (see `claim_spilled`), only read here; `each` never
        // claims a slot, so nothing appends to it meanwhile.
        let spilled = unsafe { spilled.as_ref() }.map(|spilled| {
            spilled.iter().map(|slot| {
                // SAFETY: the slots are live until `end` (see `claim_spilled`).
                unsafe { slot.as_ref() }
            })
        });
        for slot in self.inline.iter().chain(spilled.into_iter().flatten()) {
            if !slot.name.get().is_null() {
                each(slot);
            }
        }
    }

    /// Closes every other handle open on the key `name` until the returned guard drops: the
    /// caller is about to write to `keep`'s key (or open it), which may free, replace or
    /// create the value those handles cached. Only a count check unless another handle is
    /// open.
    #[inline(always)]
    pub(crate) fn close_others<'k>(
        &'k self,
        ctx: &Ctx<'_>,
        keep: &Slot,
        name: &RStr,
    ) -> Reopen<'k> {
        let mut guard = Reopen {
            keys: self,
            ctx: ctx.as_ptr(),
            closed_any: false,
        };
        if self.in_use.get() > 1 {
            guard.closed_any = self.close_others_slow(keep, name);
        }
        guard
    }

    #[cold]
    #[inline(never)]
    fn close_others_slow(&self, keep: &Slot, name: &RStr) -> bool {
        let name_bytes = name.as_bytes();
        let mut closed_any = false;
        self.for_each_used(|slot| {
            if ptr::eq(slot, keep) {
                return;
            }
            // SAFETY: a used slot's name is the live string its Key borrows.
            let same = slot.name.get() == name.as_ptr()
                || unsafe { RStr::from_raw(slot.name.get()) }.as_bytes() == name_bytes;
            if same {
                slot.close();
                closed_any = true;
            }
        });
        closed_any
    }

    /// Closes every open handle until the returned guard drops: a command is about to run,
    /// which may change any key.
    #[inline(always)]
    pub(crate) fn close_all<'k>(&'k self, ctx: &Ctx<'_>) -> Reopen<'k> {
        let closed_any = self.in_use.get() > 0;
        if closed_any {
            self.for_each_used(Slot::close);
        }
        Reopen {
            keys: self,
            ctx: ctx.as_ptr(),
            closed_any,
        }
    }
}

/// Reopens, when dropped (also on a panic), the handles an operation closed: each sees the
/// key as the operation left it.
#[must_use = "the closed handles reopen when the guard drops: keep it for the operation"]
pub(crate) struct Reopen<'k> {
    keys: &'k OpenKeys,
    ctx: *mut sys::RedisModuleCtx,
    closed_any: bool,
}

impl Drop for Reopen<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.closed_any {
            self.reopen();
        }
    }
}

impl Reopen<'_> {
    #[cold]
    #[inline(never)]
    fn reopen(&self) {
        self.keys.for_each_used(|slot| {
            if slot.raw.get() == closed() {
                slot.reopened(self.ctx);
            }
        });
    }
}

impl OpenKeys {
    /// Called as the context ends: closes handles whose `Key` was leaked (`mem::forget`)
    /// instead of dropped (the server would keep them, and the names they retain, forever),
    /// and frees the spilled slots. (Not a `Drop` impl: the context's own drop calls it, and
    /// the common case stays two loads inlined there.)
    #[inline(always)]
    pub(crate) fn end(&mut self) {
        if self.in_use.get() > 0 || !self.spilled.get().is_null() {
            self.end_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn end_slow(&mut self) {
        self.for_each_used(|slot| {
            slot.finish();
            slot.name.set(ptr::null_mut());
        });
        self.in_use.set(0);
        let spilled = self.spilled.replace(ptr::null_mut());
        if !spilled.is_null() {
            // SAFETY: made by `Box::into_raw` in `claim_spilled` and freed once, here (the
            // field now holds NULL); no slot in it is lent any more (every Key borrowing the
            // context is gone when the context ends).
            let spilled = unsafe { Box::from_raw(spilled) };
            for slot in spilled.iter() {
                // SAFETY: made by `Box::leak` in `claim_spilled`, freed once, here.
                drop(unsafe { Box::from_raw(slot.as_ptr()) });
            }
        }
    }
}

#[inline(always)]
fn open_raw(ctx: *mut sys::RedisModuleCtx, name: &RStr, writable: bool) -> *mut RedisModuleKey {
    let flags = match writable {
        false => sys::REDISMODULE_READ,
        true => sys::REDISMODULE_READ | sys::REDISMODULE_WRITE,
    };
    // SAFETY: live context (the callers' contract) and string; the server retains the name.
    let raw = unsafe { core_api!(OpenKey)(ctx, name.as_ptr(), flags) };
    raw.cast::<RedisModuleKey>()
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

    /// The type of the value the key holds.
    #[inline(always)]
    pub fn key_type(&self) -> KeyType {
        // SAFETY: an open key or NULL, which the server answers as empty.
        let raw = unsafe { core_api!(KeyType)(self.ptr()) };
        match raw {
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
    /// [`StrView`]); a view of this handle cannot be alive (`&mut self`).
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

    // ---- strings ----

    /// The string value's bytes, read in place: a [`StrView`] that derefs to `[u8]`. Empty for
    /// a missing key.
    ///
    /// While the view lives, the value cannot be freed or replaced (see [`StrView`]): drop it
    /// (or copy it out with `to_vec()`) before writing to the key or calling a command.
    /// `Err(WrongType)` for a key of another type; `Err` if a view made through another handle
    /// lends the value mutably ([`Key::string_buffer_mut`]).
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn strlen_plus(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let key = ctx.open_key(args[1]);
    ///     let bytes = key.string_get()?;
    ///     ctx.reply_integer(bytes.len() as i64 + 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn string_get(&self) -> Result<StrView<'_>> {
        self.expect_type(KeyType::String)?;
        if self.absent() {
            return Ok(StrView::empty());
        }
        let _reopen = self.before_write();
        let mut len = 0usize;
        // SAFETY: an open string (or empty) key.
        let data = unsafe { core_api!(StringDMA)(self.ptr(), &mut len, sys::REDISMODULE_READ) };
        match NonNull::new(data.cast::<u8>()) {
            // SAFETY: the value's buffer of `len` bytes. It stays valid and unmodified while
            // the view lives: this handle cannot free or change it (those methods take
            // `&mut self`, and the view borrows `self`), and every other way of doing so
            // consults the view's record and refuses.
            Some(data) if len > 0 => unsafe { StrView::new(data, len) },
            _ => Ok(StrView::empty()),
        }
    }

    /// Sets the key to a string value (replacing any type, like `SET`).
    ///
    /// `Err` while a view of the old value made through another handle is alive (see
    /// [`StrView`]).
    pub fn string_set(&mut self, value: &RStr) -> Result<()> {
        self.require_writable()?;
        self.ensure_value_unviewed("replace the key's value")?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable key and a live string.
        let status = unsafe { core_api!(StringSet)(self.ptr(), value.as_ptr()) };
        Self::check(status, "could not set string")
    }

    /// Resizes the string value to `len` bytes (zero-padded) and lends its buffer for writing
    /// in place: a [`StrViewMut`] that derefs to `mut [u8]`.
    ///
    /// `Err` while a view of the value made through another handle is alive (resizing moves
    /// the buffer); while the returned view lives, no other view of the value can be made and
    /// the value cannot be freed or replaced (see [`StrView`]).
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn upcase(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let mut key = ctx.open_key_writable(args[1]);
    ///     let len = key.len();
    ///     key.string_buffer_mut(len)?.make_ascii_uppercase();
    ///     ctx.reply_ok();
    ///     Ok(())
    /// }
    /// ```
    pub fn string_buffer_mut(&mut self, len: usize) -> Result<StrViewMut<'_>> {
        self.require_writable()?;
        self.expect_type(KeyType::String)?;
        self.ensure_value_unviewed("resize the string")?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable, string-or-empty key.
        let status = unsafe { core_api!(StringTruncate)(self.ptr(), len) };
        Self::check(status, "string exceeds maximum allowed size")?;
        let mut got = 0usize;
        // SAFETY: as above.
        let data = unsafe {
            core_api!(StringDMA)(
                self.ptr(),
                &mut got,
                sys::REDISMODULE_READ | sys::REDISMODULE_WRITE,
            )
        };
        match NonNull::new(data.cast::<u8>()) {
            // SAFETY: the value's buffer of `got` writable bytes (a write-mode DMA unshares
            // it). It stays valid and is touched by nothing else while the view lives: this
            // handle is borrowed mutably by the view, and every other way of reaching the value
            // consults the view's record and refuses.
            Some(data) if got > 0 => unsafe { StrViewMut::new(data, got) },
            _ => Ok(StrViewMut::empty()),
        }
    }

    // ---- hashes ----
    //
    // `&self` even for writes: a view exists only of a string or module value, and HashSet on
    // a key of another type fails without touching it. Deleting the last field deletes the key,
    // which then held a hash, of which there are no views.

    /// The value of one hash field, or `None`.
    #[inline(always)]
    pub fn hash_get(&self, field: &RStr) -> Result<Option<RString>> {
        if self.absent() {
            return Ok(None);
        }
        let mut value: *mut RedisModuleString = ptr::null_mut();
        // SAFETY: an open key; the variadic list is (field, out-pointer) pairs ended by NULL,
        // as the API documents. The server hands us one reference, which RString releases.
        let status = unsafe {
            core_api!(HashGet)(
                self.ptr(),
                sys::REDISMODULE_HASH_NONE,
                field.as_ptr(),
                &mut value as *mut *mut RedisModuleString,
                ptr::null_mut::<c_void>(),
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(self.hash_error());
        }
        // SAFETY: a non-NULL result is a new reference we own.
        Ok(NonNull::new(value).map(|raw| unsafe { RString::from_raw(raw) }))
    }

    /// The values of several fields at once, in order.
    pub fn hash_get_many(&self, fields: &[&RStr]) -> Result<Vec<Option<RString>>> {
        fields.iter().map(|field| self.hash_get(field)).collect()
    }

    /// Whether the hash has this field.
    pub fn hash_exists(&self, field: &RStr) -> Result<bool> {
        if self.absent() {
            return Ok(false);
        }
        let mut exists: c_int = 0;
        // SAFETY: an open key; with HASH_EXISTS the out-pointer is an int.
        let status = unsafe {
            core_api!(HashGet)(
                self.ptr(),
                sys::REDISMODULE_HASH_EXISTS,
                field.as_ptr(),
                &mut exists as *mut c_int,
                ptr::null_mut::<c_void>(),
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(self.hash_error());
        }
        Ok(exists != 0)
    }

    /// Sets a hash field (creating the hash if needed). Returns whether the field existed and
    /// was overwritten.
    #[inline(always)]
    pub fn hash_set(&self, field: &RStr, value: &RStr) -> Result<bool> {
        self.hash_set_raw(sys::REDISMODULE_HASH_NONE, field.as_ptr(), value.as_ptr())
    }

    /// Sets several fields at once. Returns how many existed and were overwritten.
    pub fn hash_set_many(&self, pairs: &[(&RStr, &RStr)]) -> Result<usize> {
        self.expect_type(KeyType::Hash)?;
        let mut updated = 0;
        for (field, value) in pairs {
            updated += usize::from(self.hash_set(field, value)?);
        }
        Ok(updated)
    }

    /// Deletes a hash field; returns whether it existed.
    pub fn hash_del(&self, field: &RStr) -> Result<bool> {
        self.hash_set_raw(
            sys::REDISMODULE_HASH_NONE,
            field.as_ptr(),
            // REDISMODULE_HASH_DELETE: the API's marker (the address 1) for "delete the field".
            ptr::without_provenance_mut(1),
        )
    }

    #[inline(always)]
    fn hash_set_raw(
        &self,
        flags: c_int,
        field: *mut RedisModuleString,
        value: *mut RedisModuleString,
    ) -> Result<bool> {
        self.require_writable()?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable key; (field, value) pairs ended by NULL.
        let changed = unsafe {
            core_api!(HashSet)(self.ptr(), flags, field, value, ptr::null_mut::<c_void>())
        };
        if changed == 0 && self.key_type() != KeyType::Hash && !self.is_empty() {
            return Err(Error::WrongType);
        }
        Ok(changed > 0)
    }

    fn hash_error(&self) -> Error {
        if self.key_type() == KeyType::Hash || self.is_empty() {
            Error::err("hash access failed")
        } else {
            Error::WrongType
        }
    }

    // ---- lists ----
    //
    // `&self` even for writes: each checks the key is a list (or empty) first, and a list has
    // no views; popping the last element deletes a list.

    /// Pushes an element onto one end of the list (creating it if needed).
    pub fn list_push(&self, end: End, element: &RStr) -> Result<()> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable list-or-empty key and a live string.
        let status = unsafe { core_api!(ListPush)(self.ptr(), end.raw(), element.as_ptr()) };
        Self::check(status, "could not push onto list")
    }

    /// Pops an element from one end of the list; `None` if empty.
    pub fn list_pop(&self, end: End) -> Result<Option<RString>> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable list-or-empty key; a non-NULL result is ours to release.
        let raw = unsafe { core_api!(ListPop)(self.ptr(), end.raw()) };
        // SAFETY: a non-NULL result is a new reference we own.
        Ok(NonNull::new(raw).map(|raw| unsafe { RString::from_raw(raw) }))
    }

    // ---- sets (the API has no low-level set access: through the command, as a C module) ----
    //
    // `&self` even for writes, and run while views are alive (unlike `Ctx::call`): each checks
    // the key is a set (or empty) first, and the command touches that key only. The keyspace
    // notifications it fires reach this module's subscribers through the SDK, whose every
    // write consults the views' record.

    /// Adds a member to the set; returns whether it was new.
    pub fn set_add(&self, member: &RStr) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::Set)?;
        Ok(self.call_on_key(c"SADD", member)? == 1)
    }

    /// Removes a member from the set; returns whether it was there.
    pub fn set_remove(&self, member: &RStr) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::Set)?;
        Ok(self.call_on_key(c"SREM", member)? == 1)
    }

    /// Runs `command key member`. The call closes every open handle first (see [`OpenKeys`]),
    /// this one included: an open handle keeps the value it was opened on, so after a command
    /// that creates the key (`SADD` on an empty key) it would answer "empty", and after one
    /// that deletes it (`SREM` of the last member) it would point at the freed value, which
    /// even closing it reads. It reopens when next used.
    fn call_on_key(&self, command: &CStr, member: &RStr) -> Result<i64> {
        self.ctx.call_integer(command, &[self.name, member])
    }

    /// Whether the set has this member.
    pub fn set_is_member(&self, member: &RStr) -> Result<bool> {
        self.expect_type(KeyType::Set)?;
        if self.absent() {
            return Ok(false);
        }
        Ok(self.ctx.call_integer(c"SISMEMBER", &[self.name, member])? == 1)
    }

    // ---- sorted sets ----
    //
    // `&self` even for writes: each checks the key is a sorted set (or empty) first, and a
    // sorted set has no views.

    /// Adds a member with a score, or updates its score.
    pub fn zset_add(&self, score: f64, member: &RStr) -> Result<ZAdd> {
        self.require_writable()?;
        self.expect_type(KeyType::ZSet)?;
        if score.is_nan() {
            return Err(Error::err("value is not a valid float"));
        }
        let _reopen = self.before_write();
        let mut flags: c_int = 0;
        // SAFETY: an open, writable zset-or-empty key, a live string and an in/out flag word.
        let status = unsafe { core_api!(ZsetAdd)(self.ptr(), score, member.as_ptr(), &mut flags) };
        Self::check(status, "could not add to sorted set")?;
        Ok(if flags & sys::REDISMODULE_ZADD_ADDED != 0 {
            ZAdd::Added
        } else if flags & sys::REDISMODULE_ZADD_UPDATED != 0 {
            ZAdd::Updated
        } else {
            ZAdd::Unchanged
        })
    }

    /// A member's score, or `None`.
    pub fn zset_score(&self, member: &RStr) -> Result<Option<f64>> {
        self.expect_type(KeyType::ZSet)?;
        if self.absent() {
            return Ok(None);
        }
        let mut score = 0f64;
        // SAFETY: an open key, a live string and an out-pointer.
        let status = unsafe { core_api!(ZsetScore)(self.ptr(), member.as_ptr(), &mut score) };
        Ok((status == sys::REDISMODULE_OK).then_some(score))
    }

    /// Removes a member; returns whether it was there.
    pub fn zset_remove(&self, member: &RStr) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::ZSet)?;
        let _reopen = self.before_write();
        let mut deleted: c_int = 0;
        // SAFETY: an open, writable key, a live string and an out-pointer.
        let status = unsafe { core_api!(ZsetRem)(self.ptr(), member.as_ptr(), &mut deleted) };
        Self::check(status, "could not remove from sorted set")?;
        Ok(deleted != 0)
    }

    /// Members with `min <= score <= max`, lowest first (or highest first with `reverse`),
    /// with their scores.
    pub fn zset_range_by_score(
        &self,
        min: f64,
        max: f64,
        reverse: bool,
    ) -> Result<Vec<(RString, f64)>> {
        self.expect_type(KeyType::ZSet)?;
        if self.is_empty() {
            return Ok(Vec::new());
        }
        // SAFETY: an open zset key; the range is stopped below on every path.
        let status = unsafe {
            if reverse {
                core_api!(ZsetLastInScoreRange)(self.ptr(), min, max, 0, 0)
            } else {
                core_api!(ZsetFirstInScoreRange)(self.ptr(), min, max, 0, 0)
            }
        };
        Self::check(status, "invalid score range")?;
        let mut members = Vec::new();
        // SAFETY: iterating the range opened above, then stopping it.
        unsafe {
            while core_api!(ZsetRangeEndReached)(self.ptr()) == 0 {
                let mut score = 0f64;
                let raw = core_api!(ZsetRangeCurrentElement)(self.ptr(), &mut score);
                if let Some(raw) = NonNull::new(raw) {
                    members.push((RString::from_raw(raw), score));
                }
                let more = if reverse {
                    core_api!(ZsetRangePrev)(self.ptr())
                } else {
                    core_api!(ZsetRangeNext)(self.ptr())
                };
                if more == 0 {
                    break;
                }
            }
            core_api!(ZsetRangeStop)(self.ptr());
        }
        Ok(members)
    }
}

impl Drop for Key<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.ctx.open_keys().release(self.slot);
    }
}

impl End {
    fn raw(self) -> c_int {
        match self {
            End::Head => sys::REDISMODULE_LIST_HEAD,
            End::Tail => sys::REDISMODULE_LIST_TAIL,
        }
    }
}
