//! The callbacks of a blocked client: reply, timeout, and freeing the value.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

use crate::blocked::{BlockedReplyFn, BlockedTimeoutFn, NO_RESULT};
use crate::boundary::{Caught, answer, catch, conjure, guard};
use crate::ctx::Ctx;
use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx, RedisModuleString};
use crate::{Error, Result};

/// The reply callback: takes the value out of its slot and runs the module's reply action.
///
/// # Safety
/// Called by the server only, on the main thread, with the reply context of a client blocked
/// by `Ctx::block_client::<T>` and that command's arguments.
pub(crate) unsafe extern "C" fn blocked_reply<T: Send + 'static, R: BlockedReplyFn<T>>(
    ctx: *mut RedisModuleCtx,
    argv: *mut *mut RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: the server passes its live, non-NULL context for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(NonNull::new_unchecked(ctx)) };
    // SAFETY: the blocking command's argument vector, live for this call.
    let args = unsafe { args(argv, argc) };
    // SAFETY: the private data is NULL (unblocked without a value) or the `Option<T>` slot
    // `BlockedClient::<T>::unblock` boxed; the thread that made it gave it up, so only this
    // callback touches it until `blocked_free` reclaims the box.
    let value = unsafe {
        let slot = core_api!(GetBlockedClientPrivateData)(ctx.as_ptr()).cast::<Option<T>>();
        slot.as_mut().and_then(Option::take)
    };
    let action = conjure::<R>();
    let outcome = catch(|| match value {
        Some(value) => action(&ctx, value),
        None => Err(Error::err(NO_RESULT)),
    });
    finish(&ctx, args, "reply callback of", outcome);
    sys::REDISMODULE_OK
}

/// The timeout callback: runs the module's timeout action.
///
/// # Safety
/// Called by the server only, on the main thread, with the timeout context of a blocked client
/// and its command's arguments.
pub(crate) unsafe extern "C" fn blocked_timeout<O: BlockedTimeoutFn>(
    ctx: *mut RedisModuleCtx,
    argv: *mut *mut RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: the server passes its live, non-NULL context for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(NonNull::new_unchecked(ctx)) };
    // SAFETY: the blocking command's argument vector, live for this call.
    let args = unsafe { args(argv, argc) };
    let action = conjure::<O>();
    let outcome = catch(|| action(&ctx));
    finish(&ctx, args, "timeout callback of", outcome);
    sys::REDISMODULE_OK
}

/// Frees the value slot once the server is done with it (after the reply callback, or instead
/// of it when the client timed out or disconnected).
///
/// # Safety
/// Called by the server only, once per unblock with a non-NULL value, with the pointer
/// `BlockedClient::<T>::unblock` handed over.
pub(crate) unsafe extern "C" fn blocked_free<T: Send + 'static>(
    _ctx: *mut RedisModuleCtx,
    privdata: *mut c_void,
) {
    if privdata.is_null() {
        return;
    }
    // SAFETY: the box `unblock` leaked; the server calls this once for it, last.
    let slot = unsafe { Box::from_raw(privdata.cast::<Option<T>>()) };
    guard("dropping a blocked client's value", (), move || drop(slot));
}

/// Borrows a callback's argument vector.
///
/// # Safety
/// `argv` holds `argc` live strings for the current callback (or `argc` is 0).
unsafe fn args<'a>(argv: *mut *mut RedisModuleString, argc: c_int) -> &'a [&'a RStr] {
    if argv.is_null() || argc <= 0 {
        return &[];
    }
    // SAFETY: as the caller guarantees; `&RStr` has the layout of a non-NULL string pointer.
    unsafe { crate::api::c_array(argv.cast::<&RStr>(), argc.max(0) as usize) }
}

/// Replies an action's outcome as a command's would be: `Err` as its error line, a panic as
/// `ERR panic: <message>` plus a warning naming the command and the callback. `what` is the
/// callback's name with "of" ("reply callback of"): a literal, so a reply allocates nothing.
#[inline(always)]
fn finish(
    ctx: &Ctx<'_>,
    args: &[&RStr],
    what: &str,
    outcome: std::result::Result<Result<()>, Caught>,
) {
    // The common outcome needs no answer: test it here rather than in a call.
    if !matches!(outcome, Ok(Ok(()))) {
        answer(ctx, args, what, outcome);
    }
}
