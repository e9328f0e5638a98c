//! Detached threads at `pthread_create`'s cost, for the work a blocked command hands off.
//!
//! `std::thread::spawn` prepares a thread someone may join: a `Thread` handle, an `Arc`'d
//! result packet, spawn hooks, output capture and the thread-local destructors that go with
//! them — about 600 instructions and four allocations more than C's `pthread_create` +
//! `pthread_detach` (BENCHMARKS.md, TWIN.BLOCK). A blocked command's worker is never joined:
//! it answers through its [`BlockedClient`](crate::BlockedClient). [`spawn`] starts it as the
//! C module does — one allocation for the closure, `pthread_create`, `pthread_detach` — and
//! runs it inside the SDK's panic catch: a panic is logged, the closure's captures are dropped
//! (a `BlockedClient` among them answers its client), and the server goes on.

use std::ffi::c_void;

use crate::boundary;
use crate::{Error, Result};

// SAFETY (of the declarations): POSIX threads as libc exports them; `pthread_t` is an integer
// or a pointer, pointer-sized on the platforms the server runs on (as `thread.rs` assumes).
unsafe extern "C" {
    fn pthread_create(
        thread: *mut usize,
        attr: *const c_void,
        start: extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
    ) -> i32;
    fn pthread_detach(thread: usize) -> i32;
}

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
    let work = Box::into_raw(Box::new(work)).cast::<c_void>();
    let mut thread = 0usize;
    // SAFETY: `start::<F>` takes back the `Box<F>` behind `work`, once, on the new thread;
    // NULL attributes are the defaults.
    let refused = unsafe { pthread_create(&mut thread, std::ptr::null(), start::<F>, work) };
    if refused != 0 {
        // SAFETY: no thread was created, so the box is still this function's.
        drop(unsafe { Box::from_raw(work.cast::<F>()) });
        let reason = std::io::Error::from_raw_os_error(refused);
        return Err(Error::err(format!("cannot start a thread: {reason}")));
    }
    // SAFETY: a thread just created, never joined or detached before.
    unsafe { pthread_detach(thread) };
    Ok(())
}

extern "C" fn start<F: FnOnce() + Send + 'static>(work: *mut c_void) -> *mut c_void {
    // SAFETY: `spawn` handed over a `Box<F>` it gave up (see there).
    let work = unsafe { Box::from_raw(work.cast::<F>()) };
    boundary::guard("a thread started by rm::spawn", (), work);
    std::ptr::null_mut()
}
