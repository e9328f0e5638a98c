//! Detached threads at `pthread_create`'s cost, for the work a blocked command hands off.
//!
//! `std::thread::spawn` prepares a thread someone may join: a `Thread` handle, an `Arc`'d
//! result packet, spawn hooks, output capture and the thread-local destructors that go with
//! them — about 600 instructions and four allocations more than C's `pthread_create` +
//! `pthread_detach` (BENCHMARKS.md, TWIN.BLOCK). A blocked command's worker is never joined:
//! it answers through its [`BlockedClient`](crate::BlockedClient). [`spawn`] starts it as the
//! C module does — `pthread_create`, `pthread_detach`, the closure in the thread's argument
//! word when it fits (one allocation when it does not) — and runs it inside the SDK's panic
//! catch: a panic is logged, the closure's captures are dropped (a `BlockedClient` among them
//! answers its client), and the server goes on.

use std::ffi::c_void;
use std::mem::MaybeUninit;

use crate::boundary;
use crate::{Error, Result};

// SAFETY (of the declarations): POSIX threads as libc exports them; `pthread_t` is an integer
// or a pointer, pointer-sized on the platforms the server runs on (as `thread.rs` assumes).
// The argument word is declared `MaybeUninit`: it carries a small closure's bytes (see
// `spawn`), which need not form a valid pointer; `MaybeUninit<T>` has `T`'s ABI.
unsafe extern "C" {
    fn pthread_create(
        thread: *mut usize,
        attr: *const c_void,
        start: extern "C" fn(Word) -> *mut c_void,
        arg: Word,
    ) -> i32;
    fn pthread_detach(thread: usize) -> i32;
}

/// The start routine's argument: a pointer-sized word.
type Word = MaybeUninit<*mut c_void>;

/// Runs `work` on a new detached thread (the system's default stack size).
///
/// Cheaper than `std::thread::spawn` because nothing can join it; use `std::thread` when
/// something must. A panic in `work` is caught and logged as a warning; whatever it owned
/// is dropped (a [`BlockedClient`](crate::BlockedClient) then answers its client with
/// `ERR background work ended without a result`).
///
/// ```no_run
/// use rm::{BlockOptions, Ctx, RStr, Result};
///
/// fn slow(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
///     let blocked = ctx.block_client(BlockOptions::new(reply))?;
///     rm::spawn(move || blocked.unblock(42))
/// }
///
/// fn reply(ctx: &Ctx, value: i64) -> Result<()> {
///     ctx.reply_integer(value);
///     Ok(())
/// }
/// ```
///
/// # Errors
/// `ERR cannot start a thread: …` when the system refuses one (`work` is dropped unrun).
pub fn spawn<F: FnOnce() + Send + 'static>(work: F) -> Result<()> {
    let inline = fits_in_word::<F>();
    let mut arg = Word::uninit();
    if inline {
        // SAFETY: `F` fits the word in size and alignment (checked); `start::<F>` reads it
        // back once. A blocked command's closure (a `BlockedClient` and little else) travels
        // this way: no allocation, and none to free on the new thread (a first free there
        // sets up the allocator's per-thread cache, ≈ 500 instructions, as C's thread does
        // not).
        unsafe { arg.as_mut_ptr().cast::<F>().write(work) };
    } else {
        arg.write(Box::into_raw(Box::new(work)).cast::<c_void>());
    }
    let mut thread = 0usize;
    // SAFETY: `start::<F>` takes back the closure in `arg`, once, on the new thread; NULL
    // attributes are the defaults.
    let refused = unsafe { pthread_create(&mut thread, std::ptr::null(), start::<F>, arg) };
    if refused != 0 {
        // SAFETY: no thread was created, so the closure in `arg` is still this function's.
        drop(unsafe { take::<F>(arg) });
        let reason = std::io::Error::from_raw_os_error(refused);
        return Err(Error::err(format!("cannot start a thread: {reason}")));
    }
    // SAFETY: a thread just created, never joined or detached before.
    unsafe { pthread_detach(thread) };
    Ok(())
}

const fn fits_in_word<F>() -> bool {
    size_of::<F>() <= size_of::<Word>() && align_of::<F>() <= align_of::<Word>()
}

/// The closure `spawn` put in `arg`: its bytes, or behind the box it allocated (freed here).
///
/// # Safety
/// `arg` comes from `spawn::<F>` and is taken once.
unsafe fn take<F>(arg: Word) -> F {
    if fits_in_word::<F>() {
        // SAFETY: `spawn` wrote an `F` at the word's start (the caller's promise).
        unsafe { arg.as_ptr().cast::<F>().read() }
    } else {
        // SAFETY: `spawn` stored a pointer from `Box::into_raw` (the caller's promise).
        *unsafe { Box::from_raw(arg.assume_init().cast::<F>()) }
    }
}

extern "C" fn start<F: FnOnce() + Send + 'static>(arg: Word) -> *mut c_void {
    // SAFETY: `spawn::<F>` made `arg` and hands it to this thread only.
    let work = unsafe { take::<F>(arg) };
    boundary::guard("a thread started by rm::spawn", (), work);
    std::ptr::null_mut()
}
