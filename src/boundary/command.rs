//! The command callback: one trampoline per action type.

use std::ffi::c_int;
use std::ptr::NonNull;

use super::{answer, catch, conjure};
use crate::Result;
use crate::ctx::Ctx;
use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx, RedisModuleString};

/// A command's action: a plain function (or a closure capturing nothing) taking the call's
/// context and arguments (`args[0]` is the command name).
///
/// It must be zero-sized: the server's command callback carries no user data, so the SDK
/// monomorphises one trampoline per action instead of storing it. A closure that captures
/// state does not compile, with the error at the module's call: at `cargo check` when a
/// capture is not `Copy` or borrows a local (this trait's bounds), at `cargo build` when the
/// captures are `Copy` (a size check, which Rust makes only when it generates code). Keep
/// state in a static (`OnceLock`, `Mutex`, an atomic), a module config or a key.
pub trait CommandFn:
    for<'a> Fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()> + Copy + 'static
{
}

impl<F> CommandFn for F where
    F: for<'a> Fn(&'a Ctx<'a>, &'a [&'a RStr]) -> Result<()> + Copy + 'static
{
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
    ctx.mark_command();
    // SAFETY: `argv` holds `argc` live, non-NULL strings for this call, and never fewer than
    // one (the command's name: the server, RM_Call and filters all keep it), so it is not NULL
    // and the length is positive; `&RStr` has the layout of a non-NULL `RedisModuleString *`,
    // so the vector is borrowed as it is. (No NULL test: C reads `argv[0]` without one.)
    let args: &[&RStr] = unsafe { std::slice::from_raw_parts(argv.cast::<&RStr>(), argc as usize) };
    let action = conjure::<F>();
    let outcome = catch(|| action(&ctx, args));
    if !matches!(outcome, Ok(Ok(()))) {
        answer(&ctx, args, "command", outcome);
    }
    sys::REDISMODULE_OK
}

/// An action taking exactly `N` arguments after the command's name, as an array (borrowed:
/// the server's argument vector itself, no copy).
pub trait FixedCommandFn<const N: usize>:
    for<'a> Fn(&'a Ctx<'a>, &'a [&'a RStr; N]) -> Result<()> + Copy + 'static
{
}

impl<const N: usize, F> FixedCommandFn<N> for F where
    F: for<'a> Fn(&'a Ctx<'a>, &'a [&'a RStr; N]) -> Result<()> + Copy + 'static
{
}

/// The action of a command whose action `F` takes `N` arguments, as a slice action: the same
/// trampoline as every command ([`command`]), so the array costs one length check. The server
/// checks the arity (`N + 1`) first; a vector of another length still gets the arity error.
#[inline(always)]
pub(crate) fn fixed_action<const N: usize, F: FixedCommandFn<N>>(
    ctx: &Ctx<'_>,
    args: &[&RStr],
) -> Result<()> {
    match args
        .split_first()
        .map(|(_, rest)| <&[&RStr; N]>::try_from(rest))
    {
        Some(Ok(fixed)) => conjure::<F>()(ctx, fixed),
        _ => Err(crate::Error::WrongArity),
    }
}
