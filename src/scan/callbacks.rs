//! Scan callbacks: they only copy what the server lends (key names, fields, values) into the
//! Vec behind `privdata`; module code runs after the server's scan step has returned, so it
//! may change the keyspace freely.

use std::ffi::c_void;

use crate::boundary::guard;
use crate::string::{RStr, RString};
use crate::sys::{RedisModuleCtx, RedisModuleKey, RedisModuleString};

/// Collects one key name of `RedisModule_Scan` into the `Vec<RString>` at `privdata`.
///
/// # Safety
/// Called by the server only, during `RedisModule_Scan`, with `privdata` pointing to a live,
/// unaliased `Vec<RString>`.
pub(crate) unsafe extern "C" fn collect_key(
    _ctx: *mut RedisModuleCtx,
    name: *mut RedisModuleString,
    _key: *mut RedisModuleKey,
    privdata: *mut c_void,
) {
    if name.is_null() || privdata.is_null() {
        return;
    }
    guard("scan callback", (), || {
        // SAFETY: as the caller guarantees; the name lives for this call, and is copied.
        let (names, name) =
            unsafe { (&mut *privdata.cast::<Vec<RString>>(), RStr::from_raw(name)) };
        names.push(name.to_owned_string());
    });
}

/// The element pairs `RedisModule_ScanKey` lends: (field or member, value or score).
pub(crate) type Fields = Vec<(RString, Option<RString>)>;

/// Collects one element of `RedisModule_ScanKey` into the [`Fields`] at `privdata`.
///
/// # Safety
/// Called by the server only, during `RedisModule_ScanKey`, with `privdata` pointing to live,
/// unaliased [`Fields`].
pub(crate) unsafe extern "C" fn collect_field(
    _key: *mut RedisModuleKey,
    field: *mut RedisModuleString,
    value: *mut RedisModuleString,
    privdata: *mut c_void,
) {
    if field.is_null() || privdata.is_null() {
        return;
    }
    guard("scan callback", (), || {
        // SAFETY: as the caller guarantees; field and value (if any) live for this call and
        // are copied.
        unsafe {
            let fields = &mut *privdata.cast::<Fields>();
            let field = RStr::from_raw(field).to_owned_string();
            let value = (!value.is_null()).then(|| RStr::from_raw(value).to_owned_string());
            fields.push((field, value));
        }
    });
}
