//! The context's table of open key handles (`OpenKeys`), so an operation can close the handles it
//! would invalidate and reopen them after.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use super::Ctx;
use crate::string::RStr;
use crate::sys::{self, RedisModuleKey, RedisModuleString};

/// A server key handle, as kept in [`OpenKeys`].
pub(crate) struct Slot {
    /// The handle: NULL for a missing key opened read-only (the server hands out none then).
    /// Holds [`closed`] only while a [`Reopen`] guard is alive.
    pub(crate) raw: Cell<*mut RedisModuleKey>,
    /// The key's name while a [`Key`] uses the slot; NULL while it is free.
    name: Cell<*mut RedisModuleString>,
    writable: Cell<bool>,
    /// How many times the handle was reopened: an iteration kept in the handle (stream,
    /// sorted-set range) is lost when it is, and checks this to say so.
    pub(crate) reopens: Cell<u32>,
}

/// The marker of a handle closed until its [`Reopen`] guard drops; never dereferenced.
#[inline(always)]
pub(crate) fn closed() -> *mut RedisModuleKey {
    ptr::without_provenance_mut(1)
}

impl Slot {
    const fn free() -> Slot {
        Slot {
            raw: Cell::new(ptr::null_mut()),
            name: Cell::new(ptr::null_mut()),
            writable: Cell::new(false),
            reopens: Cell::new(0),
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
        self.reopens.set(self.reopens.get().wrapping_add(1));
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
    pub(crate) fn claim(&self, name: &RStr, writable: bool) -> &Slot {
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
    pub(crate) fn release(&self, slot: &Slot) {
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
pub(crate) fn open_raw(
    ctx: *mut sys::RedisModuleCtx,
    name: &RStr,
    writable: bool,
) -> *mut RedisModuleKey {
    let flags = match writable {
        false => sys::REDISMODULE_READ,
        true => sys::REDISMODULE_READ | sys::REDISMODULE_WRITE,
    };
    // SAFETY: live context (the callers' contract) and string; the server retains the name.
    let raw = unsafe { core_api!(OpenKey)(ctx, name.as_ptr(), flags) };
    raw.cast::<RedisModuleKey>()
}
