//! The server's function table and what the running server offers.
//!
//! A C module fills global function pointers in `RedisModule_Init`; the SDK fills one
//! [`Table`] instead, once, while the server loads the module. An entry the running server
//! lacks stays `None`: calling it through [`crate::api!`] yields
//! [`Error::ApiUnavailable`](crate::Error::ApiUnavailable) instead of a crash, so a module built
//! against the newest header still loads on Redis 7.0.

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::mem::MaybeUninit;

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

/// Holds the core entries; written once during load (before any callback can run).
struct CoreCell(UnsafeCell<MaybeUninit<Core>>);

// SAFETY: as for `TableCell`.
unsafe impl Sync for CoreCell {}

static CORE: CoreCell = CoreCell(UnsafeCell::new(MaybeUninit::uninit()));

/// The entries every supported server has, as plain function pointers.
#[inline(always)]
pub fn core() -> &'static Core {
    // SAFETY: `load` writes CORE before the module registers any callback, and SDK code runs
    // only inside callbacks (or threads they start), so it is initialised whenever read.
    unsafe { (*CORE.0.get()).assume_init_ref() }
}

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

/// Fills the table from the context the server passes to `RedisModule_OnLoad`, then the core
/// entries. `Err` names the core entries the server lacks (the module must not load then).
///
/// # Safety
/// `ctx` must be the load context of the current `RedisModule_OnLoad` call, on the main thread,
/// before any other SDK call.
pub(crate) unsafe fn load(ctx: *mut RedisModuleCtx) -> Result<(), Vec<&'static str>> {
    // SAFETY: as `RedisModule_Init` does: the first word of every module context is the
    // server's `GetApi` function.
    let get_api: Option<GetApiFn> = unsafe { *(ctx as *const Option<GetApiFn>) };
    let Some(get_api) = get_api else {
        return Err(vec!["GetApi"]);
    };
    // SAFETY: the caller guarantees we are loading, so nothing else reads the table now.
    let table = unsafe { &mut *TABLE.0.get() };
    // SAFETY: `get_api` is the server's; we are loading.
    unsafe { table.load(get_api) };
    let core = Core::from_table(table)?;
    // SAFETY: as above; no callback is registered yet, so nothing reads CORE now.
    unsafe { (*CORE.0.get()).write(core) };
    Ok(())
}

/// Called once [`load`] succeeded and the allocator checked the server's size classes (the
/// allocator serves from the server only from then on).
pub(crate) fn mark_loaded() {
    LOADED.store(true, std::sync::atomic::Ordering::Release);
}

/// Set by [`mark_loaded`] once [`load`] has filled CORE (read by the allocator, which can run before that).
static LOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the core entries are loaded, so [`core`] may be called from any context.
#[inline(always)]
pub(crate) fn is_loaded() -> bool {
    LOADED.load(std::sync::atomic::Ordering::Acquire)
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

/// The entry `$name`, for functions every supported server (Redis 7.0+) has: no check at the
/// call. `build.rs` collects every name used with this macro into [`Core`], and the module
/// refuses to load (logging the names) on a server that lacks any of them.
#[doc(hidden)]
#[macro_export]
macro_rules! core_api {
    ($name:ident) => {
        $crate::api::core().$name
    };
}

/// A C array the server hands over as pointer and length, as a slice. The server passes NULL
/// for an empty array (module arguments at load without any, for one): `from_raw_parts`
/// requires a non-null pointer even for length 0 (a debug build aborts the server on it).
///
/// # Safety
/// Unless `len` is 0 or `ptr` is NULL, `ptr` points to `len` initialised `T`s that stay valid
/// and unchanged for `'a`.
pub(crate) unsafe fn c_array<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: non-null, and the caller vouches for `len` live elements for `'a`.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// A C string as `&str` (`""` for NULL or invalid UTF-8).
///
/// # Safety
/// `text` is NULL or NUL-terminated and valid for `'a`.
pub(crate) unsafe fn c_str<'a>(text: *const c_char) -> &'a str {
    if text.is_null() {
        return "";
    }
    // SAFETY: as the caller guarantees.
    unsafe { CStr::from_ptr(text) }.to_str().unwrap_or("")
}
