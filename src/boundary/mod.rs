//! What every call from the server into Rust shares.
//!
//! Every `extern "C"` function the SDK hands the server (this folder's command trampoline, and
//! each feature's own in its `callbacks.rs`: `timer/`, `datatype/`, `events/`, …) builds the safe
//! context, runs module code through [`catch`] (the one `catch_unwind` of the SDK), and reports
//! the outcome one of two ways: [`answer`] replies to a client (`Err(e)` as its error reply, a
//! panic as `ERR panic: <message>` plus a log line; never a second reply once the command has
//! replied), the others log a line naming what ran and where it panicked (`file:line`, from a
//! panic hook). The server keeps serving. Should the error path itself panic, the `extern "C"`
//! frame aborts the process loudly rather than unwinding into C.
//!
//! command.rs the command trampoline; load.rs the load-time state (the loading flag, the
//! failed-load undo list, the unload hooks); this file what every callback shares
//! ([`conjure`], [`catch`], [`answer`], [`guard`]). The boundary imports no feature: it sits on
//! the core handles, and the features on it (ARCHITECTURE.md, "Layers").

mod command;
mod load;

pub use command::{CommandFn, FixedCommandFn};

pub(crate) use command::{command, fixed_action};
pub(crate) use load::{
    UNLOAD_HOOKS, begin_load, end_load, loading, set_unload_hooks, undo_if_load_fails,
};

/// The action run after the commands are registered, with the module's load arguments.
pub type LoadFn = for<'a> fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()>;

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::ctx::{Ctx, LogLevel, log_raw};
use crate::string::RStr;
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
pub(crate) fn install_panic_hook() {
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

/// An unload hook: runs on `MODULE UNLOAD`, on the main thread; an `Err` refuses the unload.
pub type UnloadFn = for<'a> fn(&'a Ctx<'a>) -> Result<()>;

/// Runs a load hook under the boundary's rules.
pub(crate) fn run_load_hook(hook: LoadFn, ctx: &Ctx<'_>, args: &[&RStr]) -> Result<()> {
    match catch(|| hook(ctx, args)) {
        Ok(result) => result,
        Err(caught) => Err(Error::Panic(caught.to_string())),
    }
}
