//! The timer callback.

use std::ffi::c_void;
use std::ptr::NonNull;

use crate::boundary::{conjure, guard};
use crate::ctx::{Ctx, LogLevel};
use crate::sys::RedisModuleCtx;
use crate::timer::{TimerFn, TimerSlot};

/// Runs a timer's callback with its data; a panic or an `Err` is logged as a warning.
///
/// # Safety
/// Called by the server only, once per timer, on the main thread, with the data pointer
/// `Ctx::create_timer::<T, F>` registered.
pub(crate) unsafe extern "C" fn timer<T: Send + 'static, F: TimerFn<T>>(
    ctx: *mut RedisModuleCtx,
    data: *mut c_void,
) {
    // SAFETY: the server passes a live, non-NULL context for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(NonNull::new_unchecked(ctx)) };
    // SAFETY: the box `create_timer` leaked; the server fired and forgot the timer, so this is
    // the only owner.
    let slot = unsafe { Box::from_raw(data.cast::<TimerSlot<T>>()) };
    let action = conjure::<F>();
    guard("timer callback", (), || {
        if let Err(error) = action(&ctx, slot.value) {
            ctx.log(
                LogLevel::Warning,
                &format!("timer callback failed: {error}"),
            );
        }
    });
}
