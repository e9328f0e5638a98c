//! Thread-safe contexts: how a module's own thread touches the keyspace.
//!
//! The server runs every callback on its main thread, which holds the server lock (the "GIL")
//! while module code runs. A background thread gets a [`Ctx`] only by taking that lock through
//! a [`ThreadSafeContext`]: [`ThreadSafeContext::lock`] returns a [`Locked`] guard that derefs
//! to `&Ctx` and releases the lock when dropped. The guard is the token, as PyO3's `Python<'py>`
//! is for the GIL: no guard, no `Ctx`, no keyspace; the guard cannot leave its thread, and
//! nothing opened through it (keys, borrowed strings) outlives it.
//!
//! ```no_run
//! use rm::{BlockOptions, Ctx, Error, KeyType, Locked, RStr, RString, Result};
//!
//! /// BG.INCR key: increments an integer string from a background thread.
//! fn bg_incr(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let [_, key] = args else { return Err(Error::WrongArity) };
//!     let key = key.as_bytes().to_vec(); // owned bytes cross threads; server strings do not
//!     let tsc = ctx.thread_safe_context(); // the caller's database
//!     let blocked = ctx.block_client(BlockOptions::new(reply))?;
//!     std::thread::spawn(move || {
//!         let outcome = incr(&tsc.lock(), &key); // the lock is held for this statement only
//!         blocked.unblock(outcome); // the reply callback answers the client
//!     });
//!     Ok(())
//! }
//!
//! fn incr(ctx: &Locked, key: &[u8]) -> Result<i64> {
//!     let name = RString::from_bytes(key);
//!     let mut key = ctx.open_key_writable(&name);
//!     key.expect_type(KeyType::String)?;
//!     let old: i64 = match key.is_empty() {
//!         true => 0,
//!         false => std::str::from_utf8(&key.string_get()?)? // a view, gone after this `let`
//!             .parse()
//!             .map_err(|_| Error::err("not an integer"))?,
//!     };
//!     let value = RString::from_bytes((old + 1).to_string().as_bytes());
//!     key.string_set(&value)?;
//!     ctx.replicate("SET", [&name, &value])?; // no command to replicate: say what changed
//!     Ok(old + 1)
//! }
//!
//! fn reply(ctx: &Ctx, outcome: Result<i64>) -> Result<()> {
//!     ctx.reply_integer(outcome?);
//!     Ok(())
//! }
//! ```
//!
//! **Replication.** A command's writes reach replicas and the AOF through the command
//! (`ctx.replicate_verbatim()`, or `ctx.replicate(…)` for its effect). A thread's writes under
//! the lock belong to no command: nothing is replicated unless the thread calls
//! [`Ctx::replicate`] on the locked context for each write, as the example does — otherwise
//! the replica silently misses them (test `background::writes_from_a_thread_reach_replicas`).
//! A thread hands data over as [`SendString`](crate::SendString) or plain bytes: server
//! strings ([`RString`](crate::RString)) stay on the thread that made them.
//!
//! Misuse does not compile. A thread-safe context offers no keyspace or reply method until
//! locked:
//!
//! Checked by `tests/ui/thread_context_replies_unlocked.rs`.
//!
//! Checked by `tests/ui/thread_context_opens_key_unlocked.rs`.
//!
//! The guard cannot be sent to another thread (the lock must be released by the thread that
//! took it):
//!
//! Checked by `tests/ui/thread_guard_sent.rs`.
//!
//! A key opened under the lock cannot outlive it:
//!
//! Checked by `tests/ui/thread_key_outlives_lock.rs`.
//!
//! Nor can a context be shared between threads (only moved to one):
//!
//! Checked by `tests/ui/thread_context_shared.rs`.
//!
//! And the callback's own `Ctx`, its arguments and its keys stay on the main thread:
//!
//! Checked by `tests/ui/ctx_spawned.rs`.
//!
//! Checked by `tests/ui/arg_spawned.rs`.
//!
//! Checked by `tests/ui/key_spawned.rs`.

use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crate::ctx::Ctx;
use crate::sys::{self, RedisModuleCtx};

/// A context a background thread keeps, to take the server lock when it needs the keyspace.
///
/// Made on the main thread by [`Ctx::thread_safe_context`]; `Send` (move it to the thread that
/// uses it) but not `Sync`. It is detached from any client: it selects the database the
/// creating client had selected, and replies made through it go nowhere — a blocked client is
/// answered by its reply callback (see [`Ctx::block_client`](crate::Ctx::block_client)).
/// Dropping it frees it (taking the lock for that on a background thread).
pub struct ThreadSafeContext {
    raw: NonNull<RedisModuleCtx>,
    // Send (below) but not Sync: one thread at a time uses it.
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: the server allows a thread-safe context to be used from any thread, one at a time
// (it is `!Sync`); every server call through it other than lock/unlock/free happens under the
// server lock, through `Locked`, and `Drop` frees it under the lock off the main thread.
unsafe impl Send for ThreadSafeContext {}

/// The server lock, held by this thread until dropped; derefs to the [`Ctx`] to use meanwhile
/// (keys, logging, …).
///
/// Neither `Send` nor `Sync`: a lock is released by the thread that took it. Everything
/// borrowed from it (keys, strings) is gone before it unlocks. Hold it briefly: the server
/// serves no client while a module thread holds the lock.
pub struct Locked<'t> {
    /// Dropped by hand, before the lock is released (its destructor updates SDK state the lock
    /// protects).
    ctx: ManuallyDrop<Ctx<'t>>,
    _context: PhantomData<&'t ThreadSafeContext>,
}

thread_local! {
    /// How many `Locked` guards this thread holds (0 or 1; more would deadlock).
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// The server's main thread as `pthread_self` names it: comparing against it is the cheap
/// "may I touch server objects?" test on hot paths (a thread-local read in a shared library
/// costs a `__tls_get_addr` call; `pthread_self` is one load).
static MAIN_PTHREAD: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    /// POSIX; `pthread_t` is an integer or a pointer, pointer-sized on the platforms the
    /// server runs on.
    safe fn pthread_self() -> usize;
}

/// A detached context used only to take the lock for SDK housekeeping on module threads
/// (releasing a server string outside any guard); created at load.
static HOUSEKEEPING: AtomicPtr<sys::RedisModuleCtx> = AtomicPtr::new(std::ptr::null_mut());

/// Records the loading thread (the server loads modules on its main thread, where every
/// callback runs too) as the main thread, and prepares the housekeeping context.
///
/// # Safety
/// `ctx` must be the live load context, on the server's main thread.
pub(crate) unsafe fn on_load(ctx: *mut sys::RedisModuleCtx) {
    MAIN_PTHREAD.store(pthread_self(), Ordering::Relaxed);
    if HOUSEKEEPING.load(Ordering::Acquire).is_null() {
        // SAFETY: the live load context, on the main thread.
        let detached = unsafe { core_api!(GetDetachedThreadSafeContext)(ctx) };
        HOUSEKEEPING.store(detached, Ordering::Release);
    }
}

/// Whether the calling thread is the server's main thread (which holds the lock already
/// whenever module code runs on it).
#[inline(always)]
fn on_main_thread() -> bool {
    pthread_self() == MAIN_PTHREAD.load(Ordering::Relaxed)
}

/// Whether a server string of this module may be released off the main thread: set when the
/// module makes a thread-safe context (a module thread reaches server state only through a
/// [`Locked`] guard of one; a string it makes without one is its alone) and when the server
/// asks a data type's free effort (a big value is then dropped on the server's lazy-free
/// thread). Until then releasing a string needs no thread test at all.
static STRINGS_MAY_LEAVE_MAIN: AtomicBool = AtomicBool::new(false);

/// Records that server strings may from now on be released off the main thread (before the
/// other thread can get one: the store is released, the server's hand-over acquires it).
#[inline]
pub(crate) fn strings_may_leave_the_main_thread() {
    STRINGS_MAY_LEAVE_MAIN.store(true, Ordering::Release);
}

/// Runs `body` with the server lock held: directly where this thread holds it already,
/// otherwise taking it around `body` (on a module thread outside any guard).
#[inline(always)]
pub(crate) fn with_server_lock<R>(body: impl FnOnce() -> R) -> R {
    // In a module without threads, one load; then the main thread, without touching
    // thread-locals (a call into the dynamic linker from a shared library): this is on the hot
    // path of every command that frees a string.
    if !STRINGS_MAY_LEAVE_MAIN.load(Ordering::Acquire) || on_main_thread() {
        return body();
    }
    with_server_lock_off_main(body)
}

#[cold]
#[inline(never)]
fn with_server_lock_off_main<R>(body: impl FnOnce() -> R) -> R {
    if HELD.get() != 0 {
        return body();
    }
    let ctx = HOUSEKEEPING.load(Ordering::Acquire);
    assert!(
        !ctx.is_null(),
        "rs-rm: server lock wanted before the module loaded"
    );
    struct Unlock(*mut sys::RedisModuleCtx);
    impl Drop for Unlock {
        fn drop(&mut self) {
            HELD.set(HELD.get() - 1);
            // SAFETY: this thread took the lock through this live context just before.
            unsafe { core_api!(ThreadSafeContextUnlock)(self.0) };
        }
    }
    // SAFETY: the housekeeping context lives for the module's lifetime; this thread does not
    // hold the lock (checked by the caller), so taking it cannot deadlock.
    unsafe { core_api!(ThreadSafeContextLock)(ctx) };
    HELD.set(HELD.get() + 1);
    let _unlock = Unlock(ctx);
    body()
}

impl<'a> Ctx<'a> {
    /// A thread-safe context for a background thread, detached from any client, with the
    /// database this context has selected.
    ///
    /// ```no_run
    /// # fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    /// let tsc = ctx.thread_safe_context();
    /// std::thread::spawn(move || {
    ///     let ctx = tsc.lock();
    ///     ctx.log(rm::LogLevel::Notice, "hello from a module thread");
    /// });
    /// ctx.reply_ok();
    /// # Ok(()) }
    /// ```
    pub fn thread_safe_context(&self) -> ThreadSafeContext {
        // SAFETY: a live context of this module, on the main thread or under the lock.
        let raw = unsafe { core_api!(GetDetachedThreadSafeContext)(self.as_ptr()) };
        let raw = NonNull::new(raw).expect("RedisModule_GetDetachedThreadSafeContext gave NULL");
        // Before the context can reach another thread (the thread is made after this returns).
        strings_may_leave_the_main_thread();
        // SAFETY: both contexts are live; the new one is not shared yet, and we are on the main
        // thread or under the lock, so selecting its database races with nothing.
        unsafe {
            let db = core_api!(GetSelectedDb)(self.as_ptr());
            core_api!(SelectDb)(raw.as_ptr(), db);
        }
        ThreadSafeContext {
            raw,
            _not_sync: PhantomData,
        }
    }
}

impl ThreadSafeContext {
    /// Takes the server lock, waiting for it; the guard releases it when dropped.
    ///
    /// # Panics
    /// On the server's main thread (which holds the lock already: use the callback's `Ctx`),
    /// and on a thread that holds the lock through another guard. Either would deadlock.
    pub fn lock(&self) -> Locked<'_> {
        assert!(
            !on_main_thread(),
            "ThreadSafeContext::lock on the server's main thread would deadlock: \
             use the callback's Ctx"
        );
        assert!(
            HELD.get() == 0,
            "ThreadSafeContext::lock: this thread holds the server lock already"
        );
        // SAFETY: a live thread-safe context; this thread does not hold the lock (checked).
        unsafe { core_api!(ThreadSafeContextLock)(self.raw.as_ptr()) };
        self.locked()
    }

    /// Takes the server lock if it is free now; `None` if another thread (the main thread
    /// serving clients, most of the time) holds it, or this thread does.
    pub fn try_lock(&self) -> Option<Locked<'_>> {
        if on_main_thread() || HELD.get() != 0 {
            return None;
        }
        // SAFETY: a live thread-safe context; this thread does not hold the lock (checked).
        let status = unsafe { core_api!(ThreadSafeContextTryLock)(self.raw.as_ptr()) };
        (status == sys::REDISMODULE_OK).then(|| self.locked())
    }

    /// The guard for a lock this thread has just taken.
    fn locked(&self) -> Locked<'_> {
        HELD.set(HELD.get() + 1);
        Locked {
            // SAFETY: the context lives as long as `self`, which the guard borrows, and the
            // lock is held until the guard drops, so the server may be called through it.
            ctx: ManuallyDrop::new(unsafe { Ctx::from_raw(self.raw) }),
            _context: PhantomData,
        }
    }
}

impl Drop for ThreadSafeContext {
    fn drop(&mut self) {
        let raw = self.raw.as_ptr();
        if on_main_thread() || HELD.get() != 0 {
            // SAFETY: a live context we own, freed once; this thread holds the lock.
            unsafe { core_api!(FreeThreadSafeContext)(raw) };
        } else {
            // Freeing a detached context frees its client, which touches server state: do it
            // under the lock.
            // SAFETY: a live context we own, freed once, under the lock this thread takes and
            // releases. Lock and unlock act on the one server lock and do not read their
            // context argument (Redis and Valkey alike), so passing the freed pointer's value
            // to unlock reads nothing.
            unsafe {
                core_api!(ThreadSafeContextLock)(raw);
                core_api!(FreeThreadSafeContext)(raw);
                core_api!(ThreadSafeContextUnlock)(raw);
            }
        }
    }
}

impl<'t> Deref for Locked<'t> {
    type Target = Ctx<'t>;

    #[inline(always)]
    fn deref(&self) -> &Ctx<'t> {
        &self.ctx
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let raw = self.ctx.as_ptr();
        // SAFETY: dropped once, here, and never used again (nothing borrows the guard any
        // more); first, while this thread still holds the lock.
        unsafe { ManuallyDrop::drop(&mut self.ctx) };
        HELD.set(HELD.get() - 1);
        // SAFETY: this thread took the lock through this live context (the guard is !Send).
        unsafe { core_api!(ThreadSafeContextUnlock)(raw) };
    }
}
