//! The module's load transaction: `RedisModule_OnLoad` and `RedisModule_OnUnload` (exported by
//! [`crate::module!`]) fill the API table, register the [`Module`], run its hooks under the
//! boundary's rules, and leave nothing behind when the load fails.

use std::ffi::c_int;
use std::ptr::NonNull;

use super::Module;
use crate::Error;
use crate::boundary::{UNLOAD_HOOKS, catch, install_panic_hook};
use crate::ctx::{Ctx, LogLevel};
use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx, RedisModuleString};

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
    // SAFETY: the core entries are loaded just above; the allocator does not use the server
    // before `mark_loaded`.
    unsafe { crate::alloc::check_size_classes() };
    crate::api::mark_loaded();
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
    let hooks = UNLOAD_HOOKS
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
