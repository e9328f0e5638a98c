//! Borrowed views into a key's value, and the bookkeeping that keeps them valid: see
//! [`StrView`] for the rules.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::{Error, Result};

/// One live view: the address it points at, and whether it lends the value mutably.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    addr: usize,
    exclusive: bool,
}

// The record of every live view, oldest first: record `i` is `INLINE[i]` for `i < SLOTS`, then
// `OVERFLOW[i - SLOTS]`. Views made in a callback come after those made before it began, so
// a callback's leftovers are a tail ([`restore`]).
//
// Every record is made, checked and removed on the thread that holds the server lock (views
// are neither `Send` nor `Sync` and borrow a context), so the check-then-push sequences never
// interleave. No lock is needed for that; the atomics (relaxed: plain loads and stores) only
// make the statics shareable without `unsafe`. A command with a view or two pays a few
// instructions per view; more than `SLOTS` live views spill into a locked vector.

/// Records kept inline: commands rarely hold more views at once.
const SLOTS: usize = 8;

/// One inline record (valid for indexes below [`LIVE`]).
struct Slot {
    addr: AtomicUsize,
    exclusive: AtomicBool,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            addr: AtomicUsize::new(0),
            exclusive: AtomicBool::new(false),
        }
    }
}

static INLINE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// Records `SLOTS..`, rarely used.
static OVERFLOW: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// How many views are alive: the length of the record. The "is any view alive?" test on hot
/// paths is one load.
static LIVE: AtomicUsize = AtomicUsize::new(0);

fn overflow() -> MutexGuard<'static, Vec<Entry>> {
    OVERFLOW.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Record `index` (below `live()`).
#[inline(always)]
fn get(index: usize) -> Entry {
    match INLINE.get(index) {
        Some(slot) => Entry {
            addr: slot.addr.load(Ordering::Relaxed),
            exclusive: slot.exclusive.load(Ordering::Relaxed),
        },
        None => get_overflow(index),
    }
}

#[cold]
#[inline(never)]
fn get_overflow(index: usize) -> Entry {
    overflow()[index - SLOTS]
}

/// Sets record `index` (at most `live()`: the one past the end is pushed).
#[inline(always)]
fn set(index: usize, entry: Entry) {
    match INLINE.get(index) {
        Some(slot) => {
            slot.addr.store(entry.addr, Ordering::Relaxed);
            slot.exclusive.store(entry.exclusive, Ordering::Relaxed);
        }
        None => set_overflow(index, entry),
    }
}

#[cold]
#[inline(never)]
fn set_overflow(index: usize, entry: Entry) {
    let mut overflow = overflow();
    let at = index - SLOTS;
    if at < overflow.len() {
        overflow[at] = entry;
    } else {
        overflow.push(entry);
    }
}

/// Shortens the record to `len` entries.
#[inline(always)]
fn truncate(len: usize) {
    if LIVE.load(Ordering::Relaxed) > SLOTS {
        overflow().truncate(len.saturating_sub(SLOTS));
    }
    LIVE.store(len, Ordering::Relaxed);
}

/// Whether any record matches `pred`.
#[inline(always)]
fn any(pred: impl Fn(Entry) -> bool) -> bool {
    (0..live()).any(|index| pred(get(index)))
}

/// How many views are alive.
#[inline(always)]
pub(crate) fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Drops the records of views made since `len` were alive: called when a callback's context
/// ends, when every view made in it is gone (views borrow the context), dropped or leaked.
#[inline(always)]
pub(crate) fn restore(len: usize) {
    if live() != len {
        restore_slow(len);
    }
}

#[cold]
#[inline(never)]
fn restore_slow(len: usize) {
    truncate(len.min(live()));
}

/// `Err` while any view is alive: for operations that may free any value (running a command).
#[inline(always)]
pub(crate) fn ensure_none(what: &'static str) -> Result<()> {
    if live() == 0 {
        Ok(())
    } else {
        Err(refused(what))
    }
}

/// `Err` while a view points at `addr`: for operations that free or replace that value.
pub(crate) fn ensure_unviewed(addr: NonNull<u8>, what: &'static str) -> Result<()> {
    let addr = addr.as_ptr() as usize;
    if any(|entry| entry.addr == addr) {
        Err(refused(what))
    } else {
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn refused(what: &'static str) -> Error {
    Error::err(format!(
        "cannot {what}: a borrowed view of the key's value is still alive (drop it first)"
    ))
}

#[cold]
#[inline(never)]
fn borrowed_mutably() -> Error {
    Error::err(
        "cannot borrow the key's value: it is borrowed mutably through another key handle \
         (drop that view first)",
    )
}

/// The record of one live view, removed on drop. Neither `Send` nor `Sync`: views stay on the
/// thread that holds the server lock.
struct Claim {
    entry: Entry,
    _not_send: PhantomData<*mut u8>,
}

impl Claim {
    /// Records a view of `addr`, or `Err` if it conflicts with a live one (a mutable view
    /// conflicts with any view of the same address, a shared one with a mutable one).
    #[inline(always)]
    fn new(addr: NonNull<u8>, exclusive: bool) -> Result<Claim> {
        let entry = Entry {
            addr: addr.as_ptr() as usize,
            exclusive,
        };
        if any(|other| other.addr == entry.addr && (exclusive || other.exclusive)) {
            return Err(if exclusive {
                refused("borrow the key's value mutably")
            } else {
                borrowed_mutably()
            });
        }
        let len = live();
        set(len, entry);
        LIVE.store(len + 1, Ordering::Relaxed);
        Ok(Claim {
            entry,
            _not_send: PhantomData,
        })
    }
}

impl Drop for Claim {
    #[inline(always)]
    fn drop(&mut self) {
        let len = live();
        // Views are usually dropped newest first: then this is the last record.
        if len > 0 && len <= SLOTS && get(len - 1) == self.entry {
            LIVE.store(len - 1, Ordering::Relaxed);
        } else {
            remove_slow(self.entry);
        }
    }
}

/// Removes the newest record equal to `entry`: records of one callback stay after those of
/// the callbacks around it (equal records are interchangeable anyway).
#[cold]
#[inline(never)]
fn remove_slow(entry: Entry) {
    let len = live();
    if let Some(at) = (0..len).rev().find(|&index| get(index) == entry) {
        for index in at + 1..len {
            set(index - 1, get(index));
        }
        truncate(len - 1);
    }
}

/// A string value's bytes, read in place ([`Key::string_get`](crate::Key::string_get)).
/// Derefs to `[u8]`; copy out with `to_vec()`.
///
/// # Views and what they prevent
///
/// [`Key::string_get`](crate::Key::string_get),
/// [`Key::string_buffer_mut`](crate::Key::string_buffer_mut),
/// [`Key::value`](crate::Key::value) and [`Key::value_mut`](crate::Key::value_mut) lend the
/// value where the server keeps it, without a copy. The borrow checker protects such a view
/// from its own key handle: every method that can free, replace or move the value takes
/// `&mut self`, so it cannot be called while a view of the same handle is alive:
///
/// Checked by `tests/ui/view_delete_while_viewed.rs`.
///
/// Checked by `tests/ui/view_set_while_viewed.rs`.
///
/// Nor can a view outlive its key:
///
/// Checked by `tests/ui/view_outlives_key.rs`.
///
/// A view counts as alive until it is dropped, not just until its last use, so a write
/// through the same handle needs the view out of scope (or `drop(view)`) first.
///
/// What the borrow checker cannot see is the same key reached another way: a second handle on
/// it, a command run through [`Ctx::call`](crate::Ctx::call), or a callback the server runs in
/// the middle (a keyspace notification). So each view also records, for as long as it lives,
/// the address it points at, and the SDK checks that record at run time:
///
/// - a method that frees or replaces a key's value (`delete`, `string_set`, `set_value`,
///   `string_buffer_mut`) returns `Err` while a view points into that value;
/// - a mutable view ([`StrViewMut`], [`ValueMut`]) is refused while any other view of the same
///   value lives, and a shared view ([`StrView`], [`ValueRef`]) while a mutable one does;
/// - [`Ctx::call`](crate::Ctx::call) and the keyspace scans refuse to run while any view lives
///   (a command can free any value).
///
/// Each refusal is `ERR cannot <what>: a borrowed view of the key's value is still alive (drop
/// it first)`. Copy the bytes out (`view.to_vec()`) or let the view go out of scope first:
///
/// ```no_run
/// # use rm::{Ctx, RStr, Result};
/// /// MOVESTR src dst: copies a string to another key and deletes the source.
/// fn movestr(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
///     let mut src = ctx.open_key_writable(args[1]);
///     let mut dst = ctx.open_key_writable(args[2]);
///     let copy = rm::RString::from_bytes(&src.string_get()?); // the view ends here
///     dst.string_set(&copy)?;
///     src.delete()?; // no view of `src` is alive any more
///     ctx.reply_ok();
///     Ok(())
/// }
/// ```
///
/// Every record is made and checked on the thread that holds the server lock (the main thread
/// in a callback, or a [`Locked`](crate::Locked) guard's thread), so the checks race with
/// nothing. A view that is leaked (`std::mem::forget`) keeps its value protected until the
/// callback that made it returns; the SDK then drops the record, since no view made in a
/// callback can outlive it.
pub struct StrView<'k> {
    data: NonNull<u8>,
    len: usize,
    /// `None` for an empty view, which points at no memory.
    _claim: Option<Claim>,
    _key: PhantomData<&'k [u8]>,
}

impl<'k> StrView<'k> {
    /// A view of no bytes.
    pub(crate) fn empty() -> StrView<'k> {
        StrView {
            data: NonNull::dangling(),
            len: 0,
            _claim: None,
            _key: PhantomData,
        }
    }

    /// Records and returns a view of `len` bytes at `data`; `Err` if the value is lent mutably.
    ///
    /// # Safety
    /// `data` must be a string value's buffer of at least `len` readable bytes, which stays
    /// valid and unmodified for `'k` except through the operations the record refuses (the
    /// caller lends it from a key borrowed for `'k`).
    pub(crate) unsafe fn new(data: NonNull<u8>, len: usize) -> Result<StrView<'k>> {
        if len == 0 {
            return Ok(StrView::empty());
        }
        Ok(StrView {
            data,
            len,
            _claim: Some(Claim::new(data, false)?),
            _key: PhantomData,
        })
    }
}

impl Deref for StrView<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `new`'s contract: the buffer is valid for `len` bytes while the view lives.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for StrView<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

// The record ends with the `_claim` field. This (empty) destructor is what makes the borrow
// checker keep the key borrowed until the view is dropped, not merely until its last use: a
// write through the same handle while the view is in scope is then a compile error, not a
// run-time refusal.
impl Drop for StrView<'_> {
    fn drop(&mut self) {}
}

impl fmt::Debug for StrView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StrView")
            .field(&String::from_utf8_lossy(self))
            .finish()
    }
}

/// A string value's bytes, lent for writing in place
/// ([`Key::string_buffer_mut`](crate::Key::string_buffer_mut)). Derefs to `mut [u8]`.
///
/// While it lives, no other view of the value exists and the value cannot be freed or
/// replaced (see [`StrView`]).
pub struct StrViewMut<'k> {
    data: NonNull<u8>,
    len: usize,
    _claim: Option<Claim>,
    _key: PhantomData<&'k mut [u8]>,
}

impl<'k> StrViewMut<'k> {
    /// A view of no bytes.
    pub(crate) fn empty() -> StrViewMut<'k> {
        StrViewMut {
            data: NonNull::dangling(),
            len: 0,
            _claim: None,
            _key: PhantomData,
        }
    }

    /// Records and returns a mutable view of `len` bytes at `data`; `Err` if the value has
    /// another view.
    ///
    /// # Safety
    /// `data` must be a string value's buffer of at least `len` writable bytes, which stays
    /// valid for `'k` and is neither read nor written meanwhile except through this view and
    /// the operations the record refuses (the caller lends it from a key borrowed mutably for
    /// `'k`).
    pub(crate) unsafe fn new(data: NonNull<u8>, len: usize) -> Result<StrViewMut<'k>> {
        if len == 0 {
            return Ok(StrViewMut::empty());
        }
        Ok(StrViewMut {
            data,
            len,
            _claim: Some(Claim::new(data, true)?),
            _key: PhantomData,
        })
    }
}

impl Deref for StrViewMut<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `new`'s contract: the buffer is valid for `len` bytes while the view lives.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl DerefMut for StrViewMut<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: `new`'s contract: the buffer is valid and exclusive to this view while it
        // lives; `&mut self` makes the slice exclusive among the view's users.
        unsafe { std::slice::from_raw_parts_mut(self.data.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for StrViewMut<'_> {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for StrViewMut<'_> {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

// As for `StrView`.
impl Drop for StrViewMut<'_> {
    fn drop(&mut self) {}
}

impl fmt::Debug for StrViewMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StrViewMut")
            .field(&String::from_utf8_lossy(self))
            .finish()
    }
}

/// A module data type's value, read in place ([`Key::value`](crate::Key::value)). Derefs to
/// `T`.
///
/// While it lives, the value cannot be freed, replaced or lent mutably (see [`StrView`]):
///
/// Checked by `tests/ui/value_ref_set_while_viewed.rs`.
pub struct ValueRef<'k, T> {
    value: NonNull<T>,
    _claim: Claim,
    _key: PhantomData<&'k T>,
}

impl<'k, T> ValueRef<'k, T> {
    /// Records and returns a view of `value`; `Err` if it is lent mutably.
    ///
    /// # Safety
    /// `value` must be a key's live value of type `T`, which stays valid and unmodified for
    /// `'k` except through the operations the record refuses.
    pub(crate) unsafe fn new(value: NonNull<T>) -> Result<ValueRef<'k, T>> {
        Ok(ValueRef {
            value,
            _claim: Claim::new(value.cast(), false)?,
            _key: PhantomData,
        })
    }
}

impl<T> Deref for ValueRef<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `new`'s contract: the value is live and unmodified while the view lives.
        unsafe { self.value.as_ref() }
    }
}

impl<T: fmt::Debug> fmt::Debug for ValueRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// As for `StrView`.
impl<T> Drop for ValueRef<'_, T> {
    fn drop(&mut self) {}
}

/// A module data type's value, lent for changing in place
/// ([`Key::value_mut`](crate::Key::value_mut)). Derefs to `mut T`.
///
/// While it lives, no other view of the value exists and the value cannot be freed or
/// replaced (see [`StrView`]). Its destructor ends the loan, so a `match` on
/// `key.value_mut()?` keeps the key borrowed in every arm; to set the value when there is
/// none, use `if let` (edition 2024 ends the loan before `else`):
///
/// ```no_run
/// # struct Counter { n: i64 }
/// # impl rm::DataType for Counter {
/// #     const NAME: &'static str = "counter-1";
/// #     const ENCODING_VERSION: i32 = 1;
/// #     fn rdb_save(&self, _io: &mut rm::RdbWriter) {}
/// #     fn rdb_load(_io: &mut rm::RdbReader, _v: i32) -> rm::Result<Self> { Ok(Counter { n: 0 }) }
/// # }
/// # fn incr(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
/// let mut key = ctx.open_key_writable(args[1]);
/// let n = if let Some(mut counter) = key.value_mut::<Counter>()? {
///     counter.n += 1;
///     counter.n
/// } else {
///     key.set_value(Counter { n: 1 })?;
///     1
/// };
/// # ctx.reply_integer(n); Ok(()) }
/// ```
pub struct ValueMut<'k, T> {
    value: NonNull<T>,
    _claim: Claim,
    _key: PhantomData<&'k mut T>,
}

impl<'k, T> ValueMut<'k, T> {
    /// Records and returns a mutable view of `value`; `Err` if it has another view.
    ///
    /// # Safety
    /// `value` must be a key's live value of type `T`, which stays valid for `'k` and is
    /// neither read nor written meanwhile except through this view and the operations the
    /// record refuses.
    pub(crate) unsafe fn new(value: NonNull<T>) -> Result<ValueMut<'k, T>> {
        Ok(ValueMut {
            value,
            _claim: Claim::new(value.cast(), true)?,
            _key: PhantomData,
        })
    }
}

impl<T> Deref for ValueMut<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `new`'s contract: the value is live and exclusive to this view.
        unsafe { self.value.as_ref() }
    }
}

impl<T> DerefMut for ValueMut<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: `new`'s contract: the value is live and exclusive to this view; `&mut self`
        // makes the reference exclusive among the view's users.
        unsafe { self.value.as_mut() }
    }
}

impl<T: fmt::Debug> fmt::Debug for ValueMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

// As for `StrView`.
impl<T> Drop for ValueMut<'_, T> {
    fn drop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the record is process-wide, and the test harness runs tests on several
    // threads at once.
    #[test]
    fn records_follow_the_views() {
        let mut a = [1u8, 2, 3];
        let mut b = [4u8; 2];
        let pa = NonNull::new(a.as_mut_ptr()).unwrap();
        let pb = NonNull::new(b.as_mut_ptr()).unwrap();
        assert_eq!(live(), 0);
        assert!(ensure_none("x").is_ok());

        // SAFETY: local buffers outliving the views; nothing else touches them.
        let (v1, v2) = unsafe { (StrView::new(pa, 3).unwrap(), StrView::new(pa, 3).unwrap()) };
        assert_eq!(&*v1, &[1, 2, 3]);
        assert_eq!(live(), 2);
        assert_eq!(
            ensure_none("run a command").unwrap_err().to_string(),
            "ERR cannot run a command: a borrowed view of the key's value is still alive (drop \
             it first)"
        );
        assert!(ensure_unviewed(pa, "x").is_err());
        assert!(ensure_unviewed(pb, "x").is_ok());
        // SAFETY: as above (the call is refused, so no view is made).
        let refused = unsafe { StrViewMut::new(pa, 3) }.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "ERR cannot borrow the key's value mutably: a borrowed view of the key's value is \
             still alive (drop it first)"
        );
        // A mutable view of another value is fine; a shared one of it is not.
        // SAFETY: as above.
        let mut m = unsafe { StrViewMut::new(pb, 2) }.unwrap();
        m[0] = 9;
        // SAFETY: as above (refused).
        assert!(unsafe { StrView::new(pb, 2) }.is_err());
        assert_eq!(live(), 3);

        // A callback's leftovers (here: a leaked view) go when it ends.
        let saved = live();
        // SAFETY: as above.
        std::mem::forget(unsafe { StrView::new(pa, 1) }.unwrap());
        assert_eq!(live(), saved + 1);
        restore(saved);
        assert_eq!(live(), saved);

        drop(v1);
        drop(m);
        assert_eq!(live(), 1);
        assert!(ensure_unviewed(pb, "x").is_ok());
        drop(v2);
        assert_eq!(live(), 0);
        assert!(ensure_unviewed(pa, "x").is_ok());
        assert_eq!(b[0], 9);

        // Past the inline slots: records spill over and come back in any drop order.
        let mut many = [0u8; 3 * SLOTS];
        let base = many.as_mut_ptr();
        // SAFETY: `base + i` is within `many`, which outlives the views; nothing writes it.
        let at = |i: usize| NonNull::new(unsafe { base.add(i) }).unwrap();
        // SAFETY: as above.
        let mut views: Vec<_> = (0..2 * SLOTS)
            .map(|i| unsafe { StrView::new(at(i), 1) }.unwrap())
            .collect();
        assert_eq!(live(), 2 * SLOTS);
        // SAFETY: as above (refused: a shared view of it lives).
        assert!(unsafe { StrViewMut::new(at(2 * SLOTS - 1), 1) }.is_err());
        assert!(ensure_unviewed(at(2 * SLOTS - 1), "x").is_err());
        assert!(ensure_unviewed(at(2 * SLOTS), "x").is_ok());
        drop(views.remove(SLOTS + 1));
        drop(views.remove(1));
        assert_eq!(live(), 2 * SLOTS - 2);
        assert!(ensure_unviewed(at(1), "x").is_ok());
        assert!(ensure_unviewed(at(SLOTS + 1), "x").is_ok());
        assert!(ensure_unviewed(at(SLOTS + 2), "x").is_err());
        assert!(ensure_unviewed(at(2 * SLOTS - 1), "x").is_err());
        // A leaked tail past the slots goes too.
        let saved = live();
        for i in 0..SLOTS {
            // SAFETY: as above.
            std::mem::forget(unsafe { StrViewMut::new(at(2 * SLOTS + i), 1) }.unwrap());
        }
        assert_eq!(live(), saved + SLOTS);
        restore(saved);
        assert_eq!(live(), saved);
        assert!(ensure_unviewed(at(2 * SLOTS), "x").is_ok());
        while let Some(view) = views.pop() {
            drop(view);
        }
        assert_eq!(live(), 0);
        assert!(ensure_unviewed(at(0), "x").is_ok());

        // Empty views record nothing.
        // SAFETY: no bytes are read through an empty view.
        let e = unsafe { StrView::new(pa, 0) }.unwrap();
        assert_eq!(live(), 0);
        assert!(e.is_empty());
    }
}
