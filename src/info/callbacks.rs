//! The INFO callback: one per module, monomorphised per action (the server passes no user
//! data).

use std::ffi::c_int;
use std::ptr::NonNull;

use crate::boundary::{conjure, guard};
use crate::info::InfoCtx;
use crate::sys::RedisModuleInfoCtx;

/// A module's INFO action: a plain function (or a closure capturing nothing) adding sections
/// and fields. `for_crash_report` is true when the server is writing a crash report.
pub trait InfoFn: for<'a> Fn(&mut InfoCtx<'a>, bool) + Copy + 'static {}

impl<F> InfoFn for F where F: for<'a> Fn(&mut InfoCtx<'a>, bool) + Copy + 'static {}

/// The server-facing INFO callback whose action is `F`.
///
/// # Safety
/// Called by the server only, with its live INFO context.
pub(crate) unsafe extern "C" fn info<F: InfoFn>(
    ctx: *mut RedisModuleInfoCtx,
    for_crash_report: c_int,
) {
    let Some(raw) = NonNull::new(ctx) else { return };
    guard("INFO callback", (), || {
        // SAFETY: the server's live INFO context, for the duration of this call.
        let mut info = unsafe { InfoCtx::from_raw(raw) };
        conjure::<F>()(&mut info, for_crash_report != 0);
    });
}
