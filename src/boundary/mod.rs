//! The one place where the server calls into Rust.
//!
//! Every `extern "C"` function the SDK hands the server is defined here. Each builds the safe
//! context, runs module code through [`catch`] (the one `catch_unwind` of the SDK), and reports
//! the outcome one of two ways: [`answer`] replies to a client (`Err(e)` as its error reply, a
//! panic as `ERR panic: <message>` plus a log line; never a second reply once the command has
//! replied), the others log a line naming what ran and where it panicked (`file:line`, from a
//! panic hook). The server keeps serving. Should the error path itself panic, the `extern "C"`
//! frame aborts the process loudly rather than unwinding into C.
//!
//! One file per kind of callback (commands, blocked clients, timers, data types, events,
//! configs, cluster messages, INFO, filters, scans); load.rs the load-time state (the loading
//! flag, subscriptions held until the load succeeded, the failed-load undo list, the unload
//! hooks); this file holds the load entry and what every callback shares ([`conjure`],
//! [`catch`], [`answer`], [`guard`]).

mod blocked;
pub(crate) mod cluster;
mod command;
pub(crate) mod config;
pub(crate) mod datatype;
pub(crate) mod events;
mod filter;
mod info;
mod load;
mod scan;
mod timer;

pub use command::{CommandFn, FixedCommandFn};
pub use filter::FilterFn;
pub use info::InfoFn;

pub(crate) use blocked::{blocked_free, blocked_reply, blocked_timeout};
pub(crate) use command::{command, fixed_action};
pub(crate) use filter::filter;
pub(crate) use info::info;
pub(crate) use load::{begin_load, end_load, loading, set_unload_hooks, undo_if_load_fails};
pub(crate) use scan::{Fields, collect_field, collect_key};
pub(crate) use timer::timer;

/// The action run after the commands are registered, with the module's load arguments.
pub type LoadFn = for<'a> fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()>;

use std::any::Any;
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use crate::ctx::{Ctx, LogLevel, log_raw};
use crate::module::Module;
use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx, RedisModuleString};
use crate::{Error, Result};

/// The action of type `F`, which carries no data.
///
/// Callbacks the server gives no user data (commands, keyspace and server events, …) are
/// monomorphised per action type instead of storing the action: `F` is a function item or a
/// capture-less closure, so there is nothing to store.
#[inline(always)]
pub(crate) fn conjure<F: Copy + 'static>() -> F {
    const { stateless::<F>() };
    // SAFETY: `F` is zero-sized and `Copy` (a function item or capture-less closure), so it has
    // no bytes and no invariants: any "value" of it is the one value.
    unsafe { std::mem::zeroed() }
}

/// Refuses (at compile time) an action that captures variables.
///
/// Called in a `const` block of each public function taking an action (`Command::new`, …), so
/// that the compiler's error names the module's own call ("the above error was encountered
/// while instantiating `fn Command::new::<{closure@src/lib.rs:12:30}>`"), not SDK internals.
/// Rust evaluates it when it generates code: at `cargo build`, not `cargo check`. A capture
/// that is not `Copy` (a `String`, an `Arc`) or borrows a local fails at `cargo check`
/// already, on the `Copy + 'static` bound of the action's trait.
pub(crate) const fn stateless<F>() {
    assert!(
        size_of::<F>() == 0,
        "rs-rm: this closure captures variables, but the server calls a module's callbacks with \
         no user data, so an action must be a fn or a closure that captures nothing. Keep the \
         state in a static (a `std::sync::OnceLock`, a `Mutex`, an atomic), a module config or \
         a key, and read it in the action"
    )
}

/// A panic caught at the boundary: its message and, where the hook saw it, its location.
pub(crate) struct Caught {
    pub(crate) message: String,
    at: String,
}

impl std::fmt::Display for Caught {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.message, self.at)
    }
}

impl From<Caught> for Error {
    fn from(caught: Caught) -> Error {
        Error::Panic(caught.message)
    }
}

/// The one place the SDK catches panics: every callback kind runs its module code through
/// this, then reports an `Err(Caught)` one of two ways — [`answer`] replies it to a client,
/// the others log it ([`guard`], or their own line naming what ran). The payload is dropped
/// inside a second catch (dropping it can panic too).
#[inline(always)]
pub(crate) fn catch<R>(body: impl FnOnce() -> R) -> std::result::Result<R, Caught> {
    catch_unwind(AssertUnwindSafe(body)).map_err(caught)
}

#[cold]
#[inline(never)]
fn caught(payload: Box<dyn Any + Send>) -> Caught {
    let message = panic_message(&*payload);
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
    Caught {
        message,
        at: panic_location(),
    }
}

/// Runs module code that cannot reply (data-type, event, timer callbacks…): a panic is logged
/// as a warning in the server log, naming `what`, and `fallback` is returned instead.
pub(crate) fn guard<R>(what: &str, fallback: R, body: impl FnOnce() -> R) -> R {
    catch(body).unwrap_or_else(|caught| {
        log_raw(
            std::ptr::null_mut(),
            LogLevel::Warning,
            &format!("{what} panicked: {caught}"),
        );
        fallback
    })
}

/// Answers a client for an action's outcome: an `Err` as its error reply, a panic as
/// `ERR panic: <message>` and a warning naming the command and `what` ran — unless the action
/// replied already: then the error is only logged, as a second reply would be read as the
/// answer to the client's next command.
pub(crate) fn answer(
    ctx: &Ctx<'_>,
    args: &[&RStr],
    what: &str,
    outcome: std::result::Result<Result<()>, Caught>,
) {
    let command = || {
        args.first()
            .map(|name| name.to_string())
            .unwrap_or_default()
    };
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) if ctx.has_replied() => ctx.log(
            LogLevel::Warning,
            &format!(
                "{what} '{}' failed after replying (no error sent): {error}",
                command()
            ),
        ),
        Ok(Err(error)) => ctx.reply_error(&error),
        Err(caught) if ctx.has_replied() => ctx.log(
            LogLevel::Warning,
            &format!(
                "{what} '{}' panicked after replying (no error sent): {caught}",
                command()
            ),
        ),
        Err(caught) => {
            ctx.log(
                LogLevel::Warning,
                &format!("{what} '{}' panicked: {caught}", command()),
            );
            ctx.reply_error(&caught.into());
        }
    }
}

thread_local! {
    /// Where the last panic on this thread happened (`file:line`), recorded by the hook.
    static PANIC_LOCATION: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Records each panic's location for the log line the boundary writes, then runs the hook that
/// was there (Rust's prints to the server's stderr). Installed once per module library.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(location) = info.location() {
                let at = format!("{}:{}", location.file(), location.line());
                let _ = PANIC_LOCATION.try_with(|slot| slot.replace(Some(at)));
            }
            previous(info);
        }));
    });
}

/// The location of the panic just caught on this thread, as ` (at file:line)`, or nothing.
pub(crate) fn panic_location() -> String {
    PANIC_LOCATION
        .try_with(|slot| slot.take())
        .ok()
        .flatten()
        .map(|at| format!(" (at {at})"))
        .unwrap_or_default()
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
    if let Err(missing) = unsafe { crate::api::load(ctx.as_ptr()) } {
        // Log may itself be missing on a truly foreign server: then there is no one to tell.
        if let Some(log) = crate::api::table().Log {
            let line = format!("rs-rm: server lacks required API: {}", missing.join(", "));
            let line = std::ffi::CString::new(line).unwrap_or_default();
            // SAFETY: live load context; "%s" with a NUL-terminated string.
            unsafe {
                log(
                    ctx.as_ptr(),
                    c"warning".as_ptr(),
                    c"%s".as_ptr(),
                    line.as_ptr(),
                )
            };
        }
        return sys::REDISMODULE_ERR;
    }
    // SAFETY: the live load context, on the main thread.
    unsafe { crate::thread::on_load(ctx.as_ptr()) };
    // SAFETY: the live load context, for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(ctx) };
    // SAFETY: `argv` holds `argc` live module arguments for this call.
    let args: &[&RStr] = unsafe { crate::api::c_array(argv.cast::<&RStr>(), argc.max(0) as usize) };
    install_panic_hook();
    let outcome = catch(|| define().register(&ctx, args));
    let error = match outcome {
        Ok(Ok(())) => {
            // SAFETY: the live load context; the module is registered (RedisModule_Init ran).
            unsafe { crate::ctx::set_log_context(ctx.as_ptr()) };
            return sys::REDISMODULE_OK;
        }
        Ok(Err(error)) => error,
        Err(caught) => Error::Panic(caught.to_string()),
    };
    ctx.log(
        LogLevel::Warning,
        &format!("module failed to load: {error}"),
    );
    sys::REDISMODULE_ERR
}

/// An unload hook: runs on `MODULE UNLOAD`, on the main thread; an `Err` refuses the unload.
pub type UnloadFn = for<'a> fn(&'a Ctx<'a>) -> Result<()>;

/// `RedisModule_OnUnload` for a module: runs its unload hooks in the order added. An `Err` or
/// a panic is logged and refuses the unload (the module keeps running). See
/// [`crate::module!`].
///
/// # Safety
/// Called from the module's `RedisModule_OnUnload` only, with the server's context.
pub unsafe fn on_unload(ctx: *mut RedisModuleCtx) -> c_int {
    let Some(ctx) = NonNull::new(ctx) else {
        return sys::REDISMODULE_ERR;
    };
    // SAFETY: the live unload context, on the main thread, for the duration of this call.
    let ctx = unsafe { Ctx::from_raw(ctx) };
    let hooks = load::UNLOAD_HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for hook in hooks {
        let error = match catch(|| hook(&ctx)) {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(caught) => Error::Panic(caught.to_string()),
        };
        ctx.log(
            LogLevel::Warning,
            &format!("module refused to unload: {error}"),
        );
        return sys::REDISMODULE_ERR;
    }
    // The module goes away: its log context must not outlive it (a later load of the same
    // library would log through a context naming the freed module).
    crate::ctx::clear_log_context();
    sys::REDISMODULE_OK
}

/// Runs a load hook under the boundary's rules.
pub(crate) fn run_load_hook(hook: LoadFn, ctx: &Ctx<'_>, args: &[&RStr]) -> Result<()> {
    match catch(|| hook(ctx, args)) {
        Ok(result) => result,
        Err(caught) => Err(Error::Panic(caught.to_string())),
    }
}
