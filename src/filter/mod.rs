//! Command filters: see, and rewrite, every command before the server runs it.

use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use crate::boundary;

mod callbacks;
pub use callbacks::FilterFn;

use crate::ctx::Ctx;
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleCommandFilter, RedisModuleCommandFilterCtx};
use crate::{Error, Result};

/// Options of [`Ctx::register_command_filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterFlags(i32);

impl FilterFlags {
    /// Filter every command, the module's own calls included.
    pub const NONE: FilterFlags = FilterFlags(0);
    /// Do not filter the commands this module runs with [`Ctx::call`].
    pub const NO_SELF: FilterFlags = FilterFlags(sys::REDISMODULE_CMDFILTER_NOSELF);
}

/// A registered command filter, for [`Ctx::unregister_command_filter`]. Dropping it keeps the
/// filter registered (for the module's lifetime).
#[derive(Debug)]
pub struct CommandFilter {
    raw: NonNull<RedisModuleCommandFilter>,
}

// SAFETY: the handle is an opaque token: the SDK never dereferences it, only hands it back to
// the server in `unregister_command_filter`, which requires a `Ctx` (the main thread or the
// server lock). So it may be kept in a `static Mutex` or moved between threads.
unsafe impl Send for CommandFilter {}
// SAFETY: as above; `&CommandFilter` allows nothing at all.
unsafe impl Sync for CommandFilter {}

impl<'a> Ctx<'a> {
    /// Registers `filter` to run before every command (see [`FilterArgs`]). Any
    /// number of filters may be registered, at load or later; they run in registration order.
    pub fn register_command_filter<F: FilterFn>(
        &self,
        filter: F,
        flags: FilterFlags,
    ) -> Result<CommandFilter> {
        const { crate::boundary::stateless::<F>() };
        let _ = filter; // zero-sized: the callback conjures it
        // SAFETY: live context; the callback is a plain function.
        let raw = unsafe {
            core_api!(RegisterCommandFilter)(self.as_ptr(), Some(callbacks::filter::<F>), flags.0)
        };
        let raw =
            NonNull::new(raw).ok_or_else(|| Error::err("could not register the command filter"))?;
        let address = raw.as_ptr() as usize;
        boundary::undo_if_load_fails(move |ctx| {
            // SAFETY: the filter registered above, by this module, not unregistered since: the
            // handle is still in the failed load's hands.
            unsafe { core_api!(UnregisterCommandFilter)(ctx.as_ptr(), address as *mut _) };
        });
        Ok(CommandFilter { raw })
    }

    /// Removes a filter this module registered; commands run unfiltered by it from now on.
    ///
    /// ```no_run
    /// # use rm::{Ctx, FilterArgs, FilterFlags, Result};
    /// # fn noop(_args: &mut FilterArgs) {}
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// let filter = ctx.register_command_filter(noop, FilterFlags::NO_SELF)?;
    /// ctx.unregister_command_filter(filter)?;
    /// # Ok(()) }
    /// ```
    pub fn unregister_command_filter(&self, filter: CommandFilter) -> Result<()> {
        // SAFETY: live context; a filter this module registered and has not unregistered
        // (the handle is consumed here, so it cannot be passed twice).
        let status =
            unsafe { core_api!(UnregisterCommandFilter)(self.as_ptr(), filter.raw.as_ptr()) };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err("no such command filter in this module"))
        }
    }
}

/// The arguments of the command being filtered: `get(0)` is the command name as the client
/// sent it (any case), before the server has looked it up.
///
/// A filter is a plain function taking [`FilterArgs`]; it runs for every command of every
/// client (and, unless [`FilterFlags::NO_SELF`], for the module's own [`Ctx::call`]s), before
/// the server looks the command up, so it must be fast and must not block. A filter stays
/// registered for the module's lifetime unless it is handed back to
/// [`Ctx::unregister_command_filter`].
///
/// ```no_run
/// use rm::{FilterArgs, FilterFlags, Module, RString};
///
/// /// Makes `LEGACYSET k v` an alias of `SET k v`.
/// fn legacy_alias(args: &mut FilterArgs) {
///     if args.get(0).is_some_and(|name| name.eq_ignore_case("legacyset")) {
///         let _ = args.replace(0, RString::from_bytes(b"SET"));
///     }
/// }
///
/// fn module() -> Module {
///     Module::new("alias", 1).on_load(|ctx, _args| {
///         ctx.register_command_filter(legacy_alias, FilterFlags::NONE)?;
///         Ok(())
///     })
/// }
/// # rm::module!(module);
/// ```
///
/// A panic inside a filter is caught, logged as a warning, and the command runs with the
/// arguments it had before the filter ran.
pub struct FilterArgs<'a> {
    raw: NonNull<RedisModuleCommandFilterCtx>,
    /// The arguments as they were, taken before the first change, to put back on a panic.
    original: Option<Vec<RString>>,
    _callback: PhantomData<(&'a RedisModuleCommandFilterCtx, *mut u8)>,
}

impl<'a> FilterArgs<'a> {
    /// Wraps the context the server passed to the filter callback.
    ///
    /// # Safety
    /// `raw` must be the live filter context of the callback now running, valid for `'a`.
    pub(crate) unsafe fn from_raw(raw: NonNull<RedisModuleCommandFilterCtx>) -> FilterArgs<'a> {
        FilterArgs {
            raw,
            original: None,
            _callback: PhantomData,
        }
    }

    fn ptr(&self) -> *mut RedisModuleCommandFilterCtx {
        self.raw.as_ptr()
    }

    /// The number of arguments, the command name included.
    pub fn len(&self) -> usize {
        // SAFETY: live filter context.
        let count = unsafe { core_api!(CommandFilterArgsCount)(self.ptr()) };
        usize::try_from(count).unwrap_or(0)
    }

    /// Whether there are no arguments at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The argument at `index` (0 is the command name).
    pub fn get(&self, index: usize) -> Option<&RStr> {
        let index = i32::try_from(index).ok()?;
        // SAFETY: live filter context; out of range gives NULL.
        let raw = unsafe { core_api!(CommandFilterArgGet)(self.ptr(), index) };
        // SAFETY: the argument lives until the filter changes it, which takes `&mut self`.
        (!raw.is_null()).then(|| unsafe { RStr::from_raw(raw) })
    }

    /// Inserts `value` at `index` (`len()` appends).
    pub fn insert(&mut self, index: usize, value: RString) -> Result<()> {
        self.keep_original();
        let index = i32::try_from(index).map_err(|_| out_of_range())?;
        let raw = value.into_raw();
        // SAFETY: live filter context; on success the server takes our reference.
        let status = unsafe { core_api!(CommandFilterArgInsert)(self.ptr(), index, raw.as_ptr()) };
        taken(status, raw)
    }

    /// Replaces the argument at `index` with `value`.
    pub fn replace(&mut self, index: usize, value: RString) -> Result<()> {
        self.keep_original();
        let index = i32::try_from(index).map_err(|_| out_of_range())?;
        let raw = value.into_raw();
        // SAFETY: live filter context; on success the server takes our reference (and
        // releases the argument it replaces).
        let status = unsafe { core_api!(CommandFilterArgReplace)(self.ptr(), index, raw.as_ptr()) };
        taken(status, raw)
    }

    /// Removes the argument at `index`.
    pub fn delete(&mut self, index: usize) -> Result<()> {
        self.keep_original();
        let index = i32::try_from(index).map_err(|_| out_of_range())?;
        // SAFETY: live filter context.
        let status = unsafe { core_api!(CommandFilterArgDelete)(self.ptr(), index) };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(out_of_range())
        }
    }

    /// The id of the client that sent the command (Redis 7.2+, Valkey).
    pub fn client_id(&self) -> Result<u64> {
        let get_client_id = api!(CommandFilterGetClientId);
        // SAFETY: live filter context.
        Ok(unsafe { get_client_id(self.ptr()) })
    }

    /// Takes a reference to every argument before the first change.
    fn keep_original(&mut self) {
        if self.original.is_some() {
            return;
        }
        let kept = (0..self.len())
            .filter_map(|i| self.get(i).map(retain))
            .collect();
        self.original = Some(kept);
    }

    /// Puts the arguments back as they were before the first change (after a panic).
    pub(crate) fn restore(&mut self) {
        let Some(original) = self.original.take() else {
            return;
        };
        let ptr = self.ptr();
        let wanted = original.len();
        for (i, arg) in original.into_iter().enumerate() {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            let raw = arg.into_raw();
            // SAFETY: live filter context; on success the server takes our reference (and
            // releases the one it replaces).
            let status = unsafe {
                if i < core_api!(CommandFilterArgsCount)(ptr) {
                    core_api!(CommandFilterArgReplace)(ptr, i, raw.as_ptr())
                } else {
                    core_api!(CommandFilterArgInsert)(ptr, i, raw.as_ptr())
                }
            };
            let _ = taken(status, raw);
        }
        // Drop what the filter appended beyond the original arguments.
        while self.len() > wanted {
            let last = i32::try_from(self.len() - 1).unwrap_or(i32::MAX);
            // SAFETY: live filter context, an index in range.
            if unsafe { core_api!(CommandFilterArgDelete)(ptr, last) } != sys::REDISMODULE_OK {
                break;
            }
        }
    }
}

/// A new reference to `arg`.
fn retain(arg: &RStr) -> RString {
    // SAFETY: a live string; retaining adds the reference the RString will own (a NULL
    // context: no automatic memory).
    unsafe {
        core_api!(RetainString)(ptr::null_mut(), arg.as_ptr());
        RString::from_raw(NonNull::new_unchecked(arg.as_ptr()))
    }
}

/// `Ok` if the server took the string; otherwise releases it again.
fn taken(status: i32, raw: NonNull<sys::RedisModuleString>) -> Result<()> {
    if status == sys::REDISMODULE_OK {
        Ok(())
    } else {
        // SAFETY: the server refused the string, so our reference is still ours.
        drop(unsafe { RString::from_raw(raw) });
        Err(out_of_range())
    }
}

fn out_of_range() -> Error {
    Error::err("filter argument index out of range")
}
