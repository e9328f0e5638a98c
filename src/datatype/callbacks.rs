//! The data-type callbacks: one set of `extern "C"` functions per [`DataType`], monomorphised
//! (the server passes no user data, only the value pointer the SDK gave it: a `Box<T>`).
//!
//! None of these can reply, so each runs under catch_unwind with a documented fallback (see
//! [`DataType`]); a panic is logged at warning level with the type's name.

use std::ffi::{c_int, c_void};

use std::ptr::{self, NonNull};

use super::defrag::{Defrag, DefragStatus};
use super::rdb::{RdbReader, RdbWriter};
use crate::boundary::catch;
use crate::ctx::{LogLevel, log_raw};
use crate::datatype::{AofWriter, AuxWhen, DataType, Digest};
use crate::string::RStr;
use crate::sys::{self, RedisModuleDefragCtx, RedisModuleDigest, RedisModuleIO, RedisModuleString};

/// The method table for `T`, every callback set except the aux pair, which is set only when
/// `T::AUX` asks for it (aux data in an RDB needs the module to load it), and `defrag`, set
/// only where blocks can move ([`defrag_supported`]).
///
/// `defrag` is registered for every type, not only those that implement
/// [`DataType::defrag`]: a trait cannot tell whether a default method was overridden, an opt-in
/// flag next to the method would be one more thing to forget, and the SDK moves each value's
/// own box even with the default method (the server moves only its wrapper around it).
pub(crate) fn methods<T: DataType>() -> sys::RedisModuleTypeMethods {
    let aux = !T::AUX.is_empty();
    sys::RedisModuleTypeMethods {
        version: sys::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: Some(rdb_load::<T>),
        rdb_save: Some(rdb_save::<T>),
        aof_rewrite: Some(aof_rewrite::<T>),
        mem_usage: Some(mem_usage::<T>),
        digest: Some(digest::<T>),
        free: Some(free::<T>),
        aux_load: if aux { Some(aux_load::<T>) } else { None },
        aux_save: if aux { Some(aux_save::<T>) } else { None },
        aux_save_triggers: T::AUX.bits(),
        free_effort: Some(free_effort::<T>),
        unlink: Some(unlink::<T>),
        copy: Some(copy::<T>),
        defrag: if defrag_supported() {
            Some(defrag::<T>)
        } else {
            None
        },
        ..Default::default()
    }
}

fn warn<T: DataType>(message: &str) {
    log_raw(
        ptr::null_mut(),
        LogLevel::Warning,
        &format!("data type '{}': {message}", T::NAME),
    );
}

/// Runs `body`; on a panic logs it (naming the type and `callback`) and returns `fallback()`.
fn run<T: DataType, R>(
    callback: &'static str,
    body: impl FnOnce() -> R,
    fallback: impl FnOnce() -> R,
) -> R {
    catch(body).unwrap_or_else(|caught| {
        warn::<T>(&format!("{callback} panicked: {caught}"));
        fallback()
    })
}

/// The name of the key a reader is loading, for log lines.
fn key_of(reader: &RdbReader<'_>) -> String {
    reader
        .key_name()
        .map_or_else(|| String::from("(unknown)"), |name| name.to_string())
}

/// A save callback could not finish writing: in a fork child (where every RDB and AOF rewrite
/// to a file or a replica runs), end the child with an error so the save fails and nothing
/// half-written replaces the previous file; in the main process (`SAVE`, `DUMP`, `DEBUG
/// RELOAD`), say what will happen.
///
/// # Safety
/// `io` must be the live I/O context of the running save or rewrite callback.
unsafe fn abandon_save<T: DataType>(io: NonNull<RedisModuleIO>, what: &str) {
    // SAFETY: a live I/O context (the caller's promise); the server creates (and later frees)
    // a context for it.
    let flags = unsafe {
        let ctx = core_api!(GetContextFromIO)(io.as_ptr());
        core_api!(GetContextFlags)(ctx)
    };
    if flags & sys::REDISMODULE_CTX_FLAGS_IS_CHILD != 0 {
        warn::<T>(&format!(
            "{what} failed; ending this fork child with an error so the save fails and the \
             previous file stays"
        ));
        // SAFETY: we are in a fork child (the server says so); it exits here, like the
        // server's own children do on a failed save.
        unsafe { core_api!(ExitFromChild)(1) };
    } else {
        warn::<T>(&format!(
            "{what} failed in the main process; what it wrote is incomplete and will fail to \
             load"
        ));
    }
}

/// # Safety
/// Called by the server only, with a live I/O context.
unsafe extern "C" fn rdb_load<T: DataType>(io: *mut RedisModuleIO, encver: c_int) -> *mut c_void {
    let Some(io) = NonNull::new(io) else {
        return ptr::null_mut();
    };
    run::<T, _>(
        "rdb_load",
        || {
            // SAFETY: the live I/O context of this load callback.
            let mut reader = unsafe { RdbReader::from_raw(io) };
            if encver > T::ENCODING_VERSION {
                warn::<T>(&format!(
                    "cannot load key '{}': encoding version {encver} is newer than this \
                     module's {}",
                    key_of(&reader),
                    T::ENCODING_VERSION
                ));
                return ptr::null_mut();
            }
            match T::rdb_load(&mut reader, encver) {
                Ok(value) if !reader.has_error() => Box::into_raw(Box::new(value)).cast(),
                Ok(value) => {
                    drop(value);
                    warn::<T>(&format!(
                        "cannot load key '{}': I/O error while loading (rdb_load ignored it)",
                        key_of(&reader)
                    ));
                    ptr::null_mut()
                }
                Err(error) => {
                    warn::<T>(&format!(
                        "cannot load key '{}' (encoding version {encver}): {error}",
                        key_of(&reader)
                    ));
                    ptr::null_mut()
                }
            }
        },
        ptr::null_mut,
    )
}

/// # Safety
/// Called by the server only, with a live I/O context and a value this SDK created for `T`.
unsafe extern "C" fn rdb_save<T: DataType>(io: *mut RedisModuleIO, value: *mut c_void) {
    let (Some(io), Some(value)) = (NonNull::new(io), NonNull::new(value.cast::<T>())) else {
        return;
    };
    run::<T, _>(
        "rdb_save",
        || {
            // SAFETY: the live I/O context and our boxed `T`, alive during the callback.
            let (mut writer, value) = unsafe { (RdbWriter::from_raw(io), value.as_ref()) };
            value.rdb_save(&mut writer);
        },
        // SAFETY: the live I/O context of this callback.
        || unsafe { abandon_save::<T>(io, "rdb_save") },
    )
}

/// # Safety
/// Called by the server only, in an AOF rewrite child, with live arguments.
unsafe extern "C" fn aof_rewrite<T: DataType>(
    io: *mut RedisModuleIO,
    key: *mut RedisModuleString,
    value: *mut c_void,
) {
    let (Some(io), Some(value)) = (NonNull::new(io), NonNull::new(value.cast::<T>())) else {
        return;
    };
    if key.is_null() {
        return;
    }
    run::<T, _>(
        "aof_rewrite",
        || {
            // SAFETY: live I/O context, key name and boxed `T` for the callback.
            let (mut aof, key, value) =
                unsafe { (AofWriter::from_raw(io), RStr::from_raw(key), value.as_ref()) };
            if let Err(error) = value.aof_rewrite(key, &mut aof) {
                warn::<T>(&format!("aof_rewrite of key '{key}': {error}"));
                // SAFETY: the live I/O context of this callback.
                unsafe { abandon_save::<T>(io, "aof_rewrite") };
            }
        },
        // SAFETY: the live I/O context of this callback.
        || unsafe { abandon_save::<T>(io, "aof_rewrite") },
    )
}

/// # Safety
/// Called by the server only, with a value this SDK created for `T`.
unsafe extern "C" fn mem_usage<T: DataType>(value: *const c_void) -> usize {
    let Some(value) = NonNull::new(value.cast_mut().cast::<T>()) else {
        return 0;
    };
    // SAFETY: our boxed `T`, alive during the callback.
    run::<T, _>("mem_usage", || unsafe { value.as_ref() }.mem_usage(), || 0)
}

/// # Safety
/// Called by the server only, with a live digest and a value this SDK created for `T`.
unsafe extern "C" fn digest<T: DataType>(md: *mut RedisModuleDigest, value: *mut c_void) {
    let (Some(md), Some(value)) = (NonNull::new(md), NonNull::new(value.cast::<T>())) else {
        return;
    };
    run::<T, _>(
        "digest",
        || {
            // SAFETY: the live digest and our boxed `T` for the callback.
            let (mut digest, value) = unsafe { (Digest::from_raw(md), value.as_ref()) };
            value.digest(&mut digest);
        },
        || (),
    )
}

/// # Safety
/// Called by the server only, once per value, with a value this SDK created for `T` (possibly
/// on the lazy-free thread; `T: Send`).
unsafe extern "C" fn free<T: DataType>(value: *mut c_void) {
    if value.is_null() {
        return;
    }
    // SAFETY: the server frees each value exactly once, so the box is reclaimed once.
    run::<T, _>(
        "free (Drop)",
        || drop(unsafe { Box::from_raw(value.cast::<T>()) }),
        || (),
    )
}

/// # Safety
/// Called by the server only, with a value this SDK created for `T`.
unsafe extern "C" fn free_effort<T: DataType>(
    _key: *mut RedisModuleString,
    value: *const c_void,
) -> usize {
    let Some(value) = NonNull::new(value.cast_mut().cast::<T>()) else {
        return 1;
    };
    // Past the server's threshold the value is freed on its lazy-free thread, whose drops of
    // server strings must take the lock: from now on every release makes the thread test.
    crate::thread::strings_may_leave_the_main_thread();
    // SAFETY: our boxed `T`, alive during the callback.
    run::<T, _>(
        "free_effort",
        || unsafe { value.as_ref() }.free_effort(),
        || 1,
    )
}

/// # Safety
/// Called by the server only, with a value this SDK created for `T`.
unsafe extern "C" fn unlink<T: DataType>(_key: *mut RedisModuleString, value: *const c_void) {
    let Some(value) = NonNull::new(value.cast_mut().cast::<T>()) else {
        return;
    };
    // SAFETY: our boxed `T`, alive during the callback.
    run::<T, _>("unlink", || unsafe { value.as_ref() }.unlink(), || ())
}

/// # Safety
/// Called by the server only, with a value this SDK created for `T`.
unsafe extern "C" fn copy<T: DataType>(
    _from: *mut RedisModuleString,
    _to: *mut RedisModuleString,
    value: *const c_void,
) -> *mut c_void {
    let Some(value) = NonNull::new(value.cast_mut().cast::<T>()) else {
        return ptr::null_mut();
    };
    run::<T, _>(
        "copy",
        || {
            // SAFETY: our boxed `T`, alive during the callback.
            match unsafe { value.as_ref() }.copy() {
                Some(copy) => Box::into_raw(Box::new(copy)).cast(),
                None => ptr::null_mut(),
            }
        },
        ptr::null_mut,
    )
}

/// # Safety
/// Called by the server only, with a live I/O context.
unsafe extern "C" fn aux_save<T: DataType>(io: *mut RedisModuleIO, when: c_int) {
    let Some(io) = NonNull::new(io) else {
        return;
    };
    run::<T, _>(
        "aux_save",
        || {
            // SAFETY: the live I/O context of this save callback.
            let mut writer = unsafe { RdbWriter::from_raw(io) };
            T::aux_save(&mut writer, AuxWhen::from_raw(when));
        },
        // SAFETY: the live I/O context of this callback.
        || unsafe { abandon_save::<T>(io, "aux_save") },
    )
}

/// # Safety
/// Called by the server only, with a live I/O context.
unsafe extern "C" fn aux_load<T: DataType>(
    io: *mut RedisModuleIO,
    encver: c_int,
    when: c_int,
) -> c_int {
    let Some(io) = NonNull::new(io) else {
        return sys::REDISMODULE_ERR;
    };
    run::<T, _>(
        "aux_load",
        || {
            if encver > T::ENCODING_VERSION {
                warn::<T>(&format!(
                    "cannot load aux data: encoding version {encver} is newer than this \
                     module's {}",
                    T::ENCODING_VERSION
                ));
                return sys::REDISMODULE_ERR;
            }
            // SAFETY: the live I/O context of this load callback.
            let mut reader = unsafe { RdbReader::from_raw(io) };
            match T::aux_load(&mut reader, encver, AuxWhen::from_raw(when)) {
                Ok(()) if !reader.has_error() => sys::REDISMODULE_OK,
                Ok(()) => {
                    warn::<T>("cannot load aux data: I/O error (aux_load ignored it)");
                    sys::REDISMODULE_ERR
                }
                Err(error) => {
                    warn::<T>(&format!("cannot load aux data: {error}"));
                    sys::REDISMODULE_ERR
                }
            }
        },
        || sys::REDISMODULE_ERR,
    )
}

/// Whether values can be defragmented: the server has `RedisModule_DefragAlloc` and the
/// module's heap blocks are the server's (its global allocator is [`crate::alloc`]'s); a
/// module on the system allocator has no block the server could move.
fn defrag_supported() -> bool {
    crate::api::available("DefragAlloc") && crate::alloc::is_global()
}

/// # Safety
/// Called by the server only, on the main thread between commands, with a live defrag context
/// and the address of the server's pointer to a value this SDK created for `T`.
///
/// `_key` is not used: the servers pass their internal key string there, not a
/// `RedisModuleString` (Redis 7.x hands over the `sds`), so reading it would be wrong.
unsafe extern "C" fn defrag<T: DataType>(
    ctx: *mut RedisModuleDefragCtx,
    _key: *mut RedisModuleString,
    value: *mut *mut c_void,
) -> c_int {
    let Some(ctx) = NonNull::new(ctx) else {
        return 0;
    };
    let Some(slot) = NonNull::new(value) else {
        return 0;
    };
    // A live view holds the value's address; moving it would leave the view dangling. None
    // can be alive here (views end with their command), so this only guards the impossible.
    if crate::view::live() != 0 {
        return 0;
    }
    run::<T, _>(
        "defrag",
        || {
            // SAFETY: the live defrag context; `defrag_supported` held at registration, so
            // the global allocator is the server's.
            let mut defrag = unsafe { Defrag::from_raw(ctx) };
            // SAFETY: the slot holds the server's pointer to the value, ours to move now.
            let old = unsafe { slot.as_ptr().read() }.cast::<T>();
            if old.is_null() {
                return 0; // never stored by the SDK (it stores only boxes), but cheap to refuse
            }
            // SAFETY: `old` is our `Box<T>`, rebuilt without dropping it, offered to the
            // server, and the slot updated before any other code runs, so the server never
            // keeps a freed address even if `T::defrag` panics later. Nothing else refers to
            // the value during the callback (main thread, no command running, no view).
            let value = unsafe {
                let mut boxed = std::mem::ManuallyDrop::new(Box::from_raw(old));
                defrag.boxed(&mut boxed);
                let raw = Box::into_raw(std::mem::ManuallyDrop::into_inner(boxed));
                slot.as_ptr().write(raw.cast());
                &mut *raw
            };
            match value.defrag(&mut defrag) {
                DefragStatus::Done => 0,
                // A cursor the server refuses (one-shot mode) ends the pass for this value.
                DefragStatus::Paused(cursor) => c_int::from(defrag.set_cursor(cursor)),
            }
        },
        || 0,
    )
}
