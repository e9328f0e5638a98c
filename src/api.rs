//! The server's function table and what the running server offers.
//!
//! A C module fills global function pointers in `RedisModule_Init`; the SDK fills one
//! [`Table`] instead, once, while the server loads the module. An entry the running server
//! lacks stays `None`: calling it through [`crate::api!`] yields
//! [`Error::ApiUnavailable`](crate::Error::ApiUnavailable) instead of a crash, so a module built
//! against the newest header still loads on Redis 7.0.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int, c_void};

#[allow(unused_imports)]
use crate::sys::*;

type GetApiFn = unsafe extern "C" fn(*const c_char, *mut c_void) -> c_int;

include!(concat!(env!("OUT_DIR"), "/api_table.rs"));

/// Holds the table; written once during load, read-only afterwards.
struct TableCell(UnsafeCell<Table>);

// SAFETY: the only write happens in `load`, on the server's main thread, inside
// `RedisModule_OnLoad`, before the module registers anything that could run on another thread.
unsafe impl Sync for TableCell {}

static TABLE: TableCell = TableCell(UnsafeCell::new(Table::EMPTY));

/// The function table of the server this module is loaded into.
#[inline(always)]
pub fn table() -> &'static Table {
    // SAFETY: after `load` the table is never written again (see `TableCell`); before it, every
    // entry reads as `None`.
    unsafe { &*TABLE.0.get() }
}

/// Whether the running server exports `RedisModule_<name>` (the prefix is optional).
///
/// `false` also for a name the vendored header does not know.
///
/// ```no_run
/// if rm::api::available("ReplyWithErrorFormat") { /* Redis 7.2+ */ }
/// ```
pub fn available(name: &str) -> bool {
    table().has(name).unwrap_or(false)
}

/// Fills the table from the context the server passes to `RedisModule_OnLoad`.
///
/// # Safety
/// `ctx` must be the load context of the current `RedisModule_OnLoad` call, on the main thread,
/// before any other SDK call.
pub(crate) unsafe fn load(ctx: *mut RedisModuleCtx) -> bool {
    // SAFETY: as `RedisModule_Init` does: the first word of every module context is the
    // server's `GetApi` function.
    let get_api: Option<GetApiFn> = unsafe { *(ctx as *const Option<GetApiFn>) };
    let Some(get_api) = get_api else { return false };
    // SAFETY: the caller guarantees we are loading, so nothing else reads the table now.
    unsafe { (*TABLE.0.get()).load(get_api) };
    true
}

/// The entry `$name` of the function table, as a callable function pointer.
///
/// Evaluates to the function, or returns `Err(Error::ApiUnavailable(..))` from the enclosing
/// function where the server lacks it. SDK-internal: module code calls the safe wrappers.
#[doc(hidden)]
#[macro_export]
macro_rules! api {
    ($name:ident) => {
        match $crate::api::table().$name {
            Some(f) => f,
            None => {
                return Err($crate::Error::ApiUnavailable(concat!(
                    "RedisModule_",
                    stringify!($name)
                )))
            }
        }
    };
}

/// The entry `$name`, for functions every supported server (Redis 7.0+) has.
///
/// The module refuses to load where one is missing (see [`REQUIRED`]), so the `None` arm is a
/// cold path that cannot be taken; it panics rather than invoking undefined behaviour.
#[doc(hidden)]
#[macro_export]
macro_rules! core_api {
    ($name:ident) => {
        match $crate::api::table().$name {
            Some(f) => f,
            None => $crate::api::missing(concat!("RedisModule_", stringify!($name))),
        }
    };
}

/// Reached only if a core entry is missing, which `OnLoad` rules out.
#[doc(hidden)]
#[cold]
#[inline(never)]
pub fn missing(name: &'static str) -> ! {
    panic!("{name} is not available on this server")
}

/// Entries the SDK's core uses without checking: present on every Redis since 7.0 and on
/// Valkey. A server lacking one of these fails the module load with a log line naming it.
pub(crate) const REQUIRED: &[&str] = &[
    "SetModuleAttribs",
    "IsModuleNameBusy",
    "CreateCommand",
    "GetCommand",
    "WrongArity",
    "ReplyWithError",
    "ReplyWithSimpleString",
    "ReplyWithLongLong",
    "ReplyWithDouble",
    "ReplyWithStringBuffer",
    "ReplyWithString",
    "ReplyWithNull",
    "ReplyWithArray",
    "ReplySetArrayLength",
    "ReplyWithMap",
    "ReplySetMapLength",
    "ReplyWithSet",
    "ReplySetSetLength",
    "ReplyWithBool",
    "ReplyWithVerbatimStringType",
    "ReplyWithBigNumber",
    "ReplicateVerbatim",
    "Replicate",
    "Log",
    "StringPtrLen",
    "CreateString",
    "CreateStringFromString",
    "FreeString",
    "RetainString",
    "StringToLongLong",
    "StringToDouble",
    "OpenKey",
    "CloseKey",
    "KeyType",
    "ValueLength",
    "DeleteKey",
    "GetExpire",
    "SetExpire",
    "StringDMA",
    "StringSet",
    "StringTruncate",
    "HashGet",
    "HashSet",
    "ListPush",
    "ListPop",
    "ZsetAdd",
    "ZsetScore",
    "ZsetRem",
    "ZsetFirstInScoreRange",
    "ZsetLastInScoreRange",
    "ZsetRangeNext",
    "ZsetRangePrev",
    "ZsetRangeCurrentElement",
    "ZsetRangeEndReached",
    "ZsetRangeStop",
    "GetContextFlags",
    "Call",
    "CallReplyType",
    "CallReplyInteger",
    "CallReplyStringPtr",
    "FreeCallReply",
];
