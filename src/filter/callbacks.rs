//! The command-filter callback: monomorphised per action (the server passes no user data).

use std::ptr::NonNull;

use crate::boundary::{conjure, guard};
use crate::filter::FilterArgs;
use crate::sys::RedisModuleCommandFilterCtx;

/// A command filter: a plain function (or a closure capturing nothing) that may rewrite the
/// arguments of every command before the server looks the command up.
pub trait FilterFn: for<'a> Fn(&mut FilterArgs<'a>) + Copy + 'static {}

impl<F> FilterFn for F where F: for<'a> Fn(&mut FilterArgs<'a>) + Copy + 'static {}

/// The server-facing filter callback whose action is `F`. A panic is logged and the command's
/// arguments are put back as they were before the filter ran.
///
/// # Safety
/// Called by the server only, with its live filter context.
pub(crate) unsafe extern "C" fn filter<F: FilterFn>(ctx: *mut RedisModuleCommandFilterCtx) {
    let Some(raw) = NonNull::new(ctx) else { return };
    // SAFETY: the server's live filter context, for the duration of this call.
    let mut args = unsafe { FilterArgs::from_raw(raw) };
    let completed = guard("command filter", false, || {
        conjure::<F>()(&mut args);
        true
    });
    if !completed {
        // Restoring only calls the server; should it panic anyway, keep that inside Rust.
        guard("command filter restore", (), || args.restore());
    }
}
