//! The one place where the server calls into Rust.
//!
//! Every `extern "C"` function the SDK hands the server is defined here. Each builds the safe
//! context, runs module code under `catch_unwind`, and turns the outcome into what the server
//! expects: `Err(e)` becomes an error reply, a panic becomes `ERR panic: <message>` (and a log
//! line), and the server keeps serving. Should the error path itself panic, the `extern "C"`
//! frame aborts the process loudly rather than unwinding into C.

use std::any::Any;
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use crate::ctx::{Ctx, LogLevel, log_raw};
use crate::module::Module;
use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx, RedisModuleString};
use crate::{Error, Result};

/// A command's action: a plain function (or a closure capturing nothing) taking the call's
/// context and arguments (`args[0]` is the command name).
///
/// It must be zero-sized: the server's command callback carries no user data, so the SDK
/// monomorphises one trampoline per action instead of storing it.
pub trait CommandFn:
    for<'a> Fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()> + Copy + 'static
{
}

impl<F> CommandFn for F where
    F: for<'a> Fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()> + Copy + 'static
{
}

/// The action run after the commands are registered, with the module's load arguments.
pub type LoadFn = for<'a> fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()>;

/// Produces the action of type `F`, which carries no data.
#[inline(always)]
fn conjure<F: CommandFn>() -> F {
    const { assert!(size_of::<F>() == 0, "a command action must capture nothing") };
    // SAFETY: `F` is a zero-sized function item or capture-less closure, so it has no bytes
    // and no invariants: any "value" of it is the one value.
    unsafe { std::mem::zeroed() }
}

/// The server-facing callback of a command whose action is `F`.
///
/// # Safety
/// Called by the server only, with its live context and argument vector.
pub(crate) unsafe extern "C" fn command<F: CommandFn>(
    ctx: *mut RedisModuleCtx,
    argv: *mut *mut RedisModuleString,
    argc: c_int,
) -> c_int {
    // SAFETY: the server passes its live, non-NULL context for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(NonNull::new_unchecked(ctx)) };
    // SAFETY: `argv` holds `argc` live, non-NULL strings for this call; `&RStr` has the layout
    // of a non-NULL `RedisModuleString *`, so the vector is borrowed as it is.
    let args: &[&RStr] =
        unsafe { std::slice::from_raw_parts(argv.cast::<&RStr>(), argc.max(0) as usize) };
    let action = conjure::<F>();
    match catch_unwind(AssertUnwindSafe(|| action(&ctx, args))) {
        Ok(Ok(())) => {}
        Ok(Err(error)) => ctx.reply_error(&error),
        Err(payload) => reply_panic(&ctx, args, payload),
    }
    sys::REDISMODULE_OK
}

#[cold]
#[inline(never)]
fn reply_panic(ctx: &Ctx<'_>, args: &[&RStr], payload: Box<dyn Any + Send>) {
    let message = panic_message(&*payload);
    let command = args
        .first()
        .map(|name| name.to_string())
        .unwrap_or_default();
    ctx.log(
        LogLevel::Warning,
        &format!("command '{command}' panicked: {message}"),
    );
    ctx.reply_error(&Error::Panic(message));
    // Dropping a payload can itself panic; keep that inside Rust, too.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
}

/// The text of a panic payload (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// `RedisModule_OnLoad` for a module: fills the API table, checks the server, registers the
/// module and its commands, then runs its load hook. See [`crate::module!`].
///
/// # Safety
/// Called from the module's `RedisModule_OnLoad` only, with the server's arguments.
pub unsafe fn on_load(
    ctx: *mut RedisModuleCtx,
    argv: *mut *mut RedisModuleString,
    argc: c_int,
    define: fn() -> Module,
) -> c_int {
    let Some(ctx) = NonNull::new(ctx) else {
        return sys::REDISMODULE_ERR;
    };
    // SAFETY: the server is loading this module on its main thread; nothing else reads the table.
    if !unsafe { crate::api::load(ctx.as_ptr()) } {
        return sys::REDISMODULE_ERR;
    }
    let missing: Vec<&str> = crate::api::REQUIRED
        .iter()
        .copied()
        .filter(|name| !crate::api::available(name))
        .collect();
    if !missing.is_empty() {
        // Log may itself be missing on a truly foreign server: then there is no one to tell.
        if crate::api::available("Log") {
            log_raw(
                ctx.as_ptr(),
                LogLevel::Warning,
                &format!("rs-rm: server lacks required API: {}", missing.join(", ")),
            );
        }
        return sys::REDISMODULE_ERR;
    }
    // SAFETY: the live load context, for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(ctx) };
    // SAFETY: `argv` holds `argc` live module arguments for this call.
    let args: &[&RStr] =
        unsafe { std::slice::from_raw_parts(argv.cast::<&RStr>(), argc.max(0) as usize) };
    let outcome = catch_unwind(AssertUnwindSafe(|| define().register(&ctx, args)));
    let error = match outcome {
        Ok(Ok(())) => return sys::REDISMODULE_OK,
        Ok(Err(error)) => error,
        Err(payload) => Error::Panic(panic_message(&*payload)),
    };
    ctx.log(
        LogLevel::Warning,
        &format!("module failed to load: {error}"),
    );
    sys::REDISMODULE_ERR
}

/// Runs a load hook under the boundary's rules.
pub(crate) fn run_load_hook(hook: LoadFn, ctx: &Ctx<'_>, args: &[&RStr]) -> Result<()> {
    match catch_unwind(AssertUnwindSafe(|| hook(ctx, args))) {
        Ok(result) => result,
        Err(payload) => Err(Error::Panic(panic_message(&*payload))),
    }
}
