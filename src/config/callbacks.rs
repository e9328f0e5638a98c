//! Module-config callbacks: get, set and apply, for each kind of config. The privdata is the
//! config's `'static`.

use std::ffi::{c_char, c_int, c_longlong, c_void};
use std::ptr::NonNull;

use crate::boundary::guard;
use crate::config::sealed::Sealed;
use crate::config::{BoolConfig, EnumConfig, NumericConfig, StringConfig, error_text};
use crate::ctx::Ctx;
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleCtx, RedisModuleString};
use crate::{Error, Result};

/// The config a callback's privdata points to.
///
/// # Safety
/// `privdata` is the `&'static T` registered with the callback.
unsafe fn config<T>(privdata: *mut c_void) -> &'static T {
    // SAFETY: as the caller guarantees.
    unsafe { &*privdata.cast::<T>() }
}

/// Runs a setter or apply function; `Err` (or a panic) goes to the server as the error
/// message `CONFIG SET` shows.
///
/// # Safety
/// `err` is NULL or where the server takes an error string it will free.
unsafe fn outcome(
    what: &str,
    err: *mut *mut RedisModuleString,
    body: impl FnOnce() -> Result<()>,
) -> c_int {
    let result = guard(what, Err(Error::err("the module panicked")), body);
    match result {
        Ok(()) => sys::REDISMODULE_OK,
        Err(error) => {
            if !err.is_null() {
                let message = RString::from_bytes(error_text(&error).as_bytes());
                // SAFETY: the server takes this reference and frees it.
                unsafe { *err = message.into_raw().as_ptr() };
            }
            sys::REDISMODULE_ERR
        }
    }
}

/// # Safety
/// Called by the server with a `BoolConfig`'s privdata.
pub(crate) unsafe extern "C" fn get_bool(_name: *const c_char, privdata: *mut c_void) -> c_int {
    // SAFETY: registered with a `&'static BoolConfig`.
    c_int::from(unsafe { config::<BoolConfig>(privdata) }.get())
}

/// # Safety
/// Called by the server with a `BoolConfig`'s privdata and its error slot.
pub(crate) unsafe extern "C" fn set_bool(
    _name: *const c_char,
    value: c_int,
    privdata: *mut c_void,
    err: *mut *mut RedisModuleString,
) -> c_int {
    // SAFETY: registered with a `&'static BoolConfig`.
    let config = unsafe { config::<BoolConfig>(privdata) };
    // SAFETY: the server's error slot.
    unsafe { outcome("config setter", err, || config.store(value != 0)) }
}

/// # Safety
/// Called by the server with a `NumericConfig`'s privdata.
pub(crate) unsafe extern "C" fn get_numeric(
    _name: *const c_char,
    privdata: *mut c_void,
) -> c_longlong {
    // SAFETY: registered with a `&'static NumericConfig`.
    unsafe { config::<NumericConfig>(privdata) }.get()
}

/// # Safety
/// Called by the server with a `NumericConfig`'s privdata and its error slot.
pub(crate) unsafe extern "C" fn set_numeric(
    _name: *const c_char,
    value: c_longlong,
    privdata: *mut c_void,
    err: *mut *mut RedisModuleString,
) -> c_int {
    // SAFETY: registered with a `&'static NumericConfig`.
    let config = unsafe { config::<NumericConfig>(privdata) };
    // SAFETY: the server's error slot.
    unsafe { outcome("config setter", err, || config.store(value)) }
}

/// # Safety
/// Called by the server, on the main thread, with a `StringConfig`'s privdata.
pub(crate) unsafe extern "C" fn get_string(
    _name: *const c_char,
    privdata: *mut c_void,
) -> *mut RedisModuleString {
    // SAFETY: registered with a `&'static StringConfig`.
    let config = unsafe { config::<StringConfig>(privdata) };
    guard("config getter", std::ptr::null_mut(), || config.shown())
}

/// # Safety
/// Called by the server with a `StringConfig`'s privdata, a live string and its error slot.
pub(crate) unsafe extern "C" fn set_string(
    _name: *const c_char,
    value: *mut RedisModuleString,
    privdata: *mut c_void,
    err: *mut *mut RedisModuleString,
) -> c_int {
    // SAFETY: registered with a `&'static StringConfig`.
    let config = unsafe { config::<StringConfig>(privdata) };
    let Some(value) = NonNull::new(value) else {
        // SAFETY: the server's error slot.
        return unsafe { outcome("config setter", err, || Err(Error::err("no value"))) };
    };
    // SAFETY: a live string for the call (the server releases it afterwards; we copy it).
    let value = unsafe { RStr::from_raw(value.as_ptr()) };
    // SAFETY: the server's error slot.
    unsafe { outcome("config setter", err, || config.store(value.as_bytes())) }
}

/// # Safety
/// Called by the server with an `EnumConfig`'s privdata.
pub(crate) unsafe extern "C" fn get_enum(_name: *const c_char, privdata: *mut c_void) -> c_int {
    // SAFETY: registered with a `&'static EnumConfig`.
    unsafe { config::<EnumConfig>(privdata) }.get()
}

/// # Safety
/// Called by the server with an `EnumConfig`'s privdata and its error slot.
pub(crate) unsafe extern "C" fn set_enum(
    _name: *const c_char,
    value: c_int,
    privdata: *mut c_void,
    err: *mut *mut RedisModuleString,
) -> c_int {
    // SAFETY: registered with a `&'static EnumConfig`.
    let config = unsafe { config::<EnumConfig>(privdata) };
    // SAFETY: the server's error slot.
    unsafe { outcome("config setter", err, || config.store(value)) }
}

/// The apply callback of a config of type `C`.
///
/// # Safety
/// Called by the server with its live context, a `&'static C` privdata and its error slot.
pub(crate) unsafe extern "C" fn apply<C: Sealed>(
    ctx: *mut RedisModuleCtx,
    privdata: *mut c_void,
    err: *mut *mut RedisModuleString,
) -> c_int {
    // SAFETY: registered with a `&'static C`.
    let config = unsafe { config::<C>(privdata) };
    let (Some(raw), Some(apply)) = (NonNull::new(ctx), config.apply_fn()) else {
        return sys::REDISMODULE_OK;
    };
    // SAFETY: the server's live context for this call.
    let ctx = unsafe { Ctx::from_raw(raw) };
    // SAFETY: the server's error slot.
    unsafe { outcome("config apply", err, || apply(&ctx)) }
}
