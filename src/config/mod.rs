//! Module configs: settings the server manages like its own (`CONFIG GET/SET`, the config
//! file, `--name value` on the command line), backed by Rust statics.
//!
//! Declare each config as a `static` ([`BoolConfig`], [`NumericConfig`], [`StringConfig`],
//! [`EnumConfig`]) and register it from a load hook with [`Ctx::register_config`]. The server
//! names it `<module>.<name>`. After the load hooks ran, the SDK calls
//! `RedisModule_LoadConfigs`, which sets every config to the value given at startup
//! (`redis-server --loadmodule m.so --m.size 42`, a `m.size 42` line in the config file, or
//! `MODULE LOADEX m.so CONFIG m.size 42`) or to its default; a value the server or the config
//! refuses there makes the module refuse to load.
//!
//! Read a config anywhere with `get()`. `CONFIG SET` goes through the server's checks (type,
//! bounds, enum names, immutability), then the config's `validate` function (its `Err` is the
//! message `CONFIG SET` shows, and the old value stays), then, once all the settings of the
//! `CONFIG SET` are stored, each config's `apply` function (an `Err` there makes the server
//! restore the old values).
//!
//! ```no_run
//! use rm::{BoolConfig, Ctx, EnumConfig, Error, NumericConfig, RStr, Result, StringConfig};
//!
//! static VERBOSE: BoolConfig = BoolConfig::new("verbose", false);
//! static LIMIT: NumericConfig = NumericConfig::new("limit", 100, 1, 10_000).validate(even);
//! static CACHE: NumericConfig = NumericConfig::new("cache", 1 << 20, 0, 1 << 30).memory();
//! static PREFIX: StringConfig = StringConfig::new("prefix", "app:").immutable();
//! static MODE: EnumConfig = EnumConfig::new("mode", 0, &[("fast", 0), ("safe", 1)]);
//!
//! fn even(value: i64) -> Result<()> {
//!     if value % 2 == 0 { Ok(()) } else { Err(Error::err("limit must be even")) }
//! }
//!
//! fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     ctx.register_config(&VERBOSE)?;
//!     ctx.register_config(&LIMIT)?;
//!     ctx.register_config(&CACHE)?;
//!     ctx.register_config(&PREFIX)?;
//!     ctx.register_config(&MODE)
//! }
//!
//! fn status(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     let text = format!("{} {} {}", PREFIX.get(), LIMIT.get(), VERBOSE.get());
//!     ctx.reply_bulk(text.as_bytes());
//!     Ok(())
//! }
//! # let _ = rm::Module::new("m", 1).on_load(setup).command(rm::Command::new("m.status", status));
//! ```

use std::borrow::Cow;
use std::ffi::{CString, c_char, c_int, c_uint, c_void};
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicPtr, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

mod callbacks;

use crate::ctx::Ctx;
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleString};
use crate::{Error, Result};

/// Runs once the settings of a `CONFIG SET` are stored: `Err` fails the `CONFIG SET` (with its
/// message) and the server restores the old values.
pub type ApplyFn = for<'a> fn(&'a Ctx<'a>) -> Result<()>;

/// The configs registered during this load (short names): `LoadConfigs` must run, and module
/// arguments may name them.
static REGISTERED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn registered_names() -> MutexGuard<'static, Vec<&'static str>> {
    REGISTERED.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) mod sealed {
    use crate::Result;
    use crate::ctx::Ctx;

    use super::ApplyFn;

    /// Only the SDK's config types can be registered.
    pub trait Sealed: Sync + 'static {
        /// Registers the config with the server.
        fn register(&'static self, ctx: &Ctx<'_>) -> Result<()>;
        /// The config's apply function.
        fn apply_fn(&self) -> Option<ApplyFn>;
        /// The name it is registered under, without the module prefix.
        fn name(&self) -> &'static str;
    }
}

/// A config type: [`BoolConfig`], [`NumericConfig`], [`StringConfig`] or [`EnumConfig`].
pub trait ModuleConfig: sealed::Sealed {}

impl<'a> Ctx<'a> {
    /// Registers a config (a `static`) under the name `<module>.<name>`. Call it from a load
    /// hook: the server takes configs only while the module loads.
    ///
    /// ```no_run
    /// use rm::{Ctx, NumericConfig, RStr, Result};
    /// static WORKERS: NumericConfig = NumericConfig::new("workers", 4, 1, 64).immutable();
    /// fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     ctx.register_config(&WORKERS)
    /// }
    /// ```
    pub fn register_config<C: ModuleConfig>(&self, config: &'static C) -> Result<()> {
        config.register(self)?;
        registered_names().push(config.name());
        Ok(())
    }
}

/// Calls `RedisModule_LoadConfigs` if configs were registered during this load; called by the
/// load path after the load hooks. Then applies the module arguments: a module with configs
/// takes `name value` pairs (`--loadmodule m.so size 42 mode fast`, or `m.size 42 …`), each a
/// `CONFIG SET` checked by the server like any other (ranges, enum names, memory units;
/// immutable configs refuse it and take their startup value from `--m.size 42` instead). A name
/// that is not one of its configs (a typo such as `max-name`) or a name without a value refuses
/// the load, naming it and the configs there are: a silently ignored setting is worse than a
/// server that does not start. A module without configs gets its arguments untouched.
pub(crate) fn load_registered(ctx: &Ctx<'_>, module: &str, args: &[&RStr]) -> Result<()> {
    let names = std::mem::take(&mut *registered_names());
    if names.is_empty() {
        return Ok(());
    }
    // SAFETY: the live load context, after every config was registered.
    let status = unsafe { core_api!(LoadConfigs)(ctx.as_ptr()) };
    if status != sys::REDISMODULE_OK {
        return Err(Error::err(
            "a module config value given at load time was refused (see the server log above)",
        ));
    }
    for (name, value) in config_pairs(module, &names, args)? {
        let full = format!("{module}.{name}");
        ctx.call("CONFIG", ("SET", full.as_str(), value))
            .and_then(|reply| reply.into_result())
            .map_err(|error| {
                // The value is not echoed: it may be a secret (a password config).
                Error::err(format!(
                    "module argument '{name}' was refused: {}",
                    error_text(&error)
                ))
            })?;
    }
    Ok(())
}

/// The module arguments as `(config name, value)` pairs; `Err` naming the first argument that
/// is not a config of this module, or a name left without its value.
fn config_pairs<'a>(
    module: &str,
    names: &[&'static str],
    args: &[&'a RStr],
) -> Result<Vec<(&'static str, &'a RStr)>> {
    let known = || {
        let mut list = names.to_vec();
        list.sort_unstable();
        list.join(", ")
    };
    args.chunks(2)
        .enumerate()
        .map(|(index, pair)| {
            let given = String::from_utf8_lossy(pair[0].as_bytes());
            let short = given
                .strip_prefix(module)
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or(&given);
            let Some(name) = names.iter().find(|name| name.eq_ignore_ascii_case(short)) else {
                // Named by position, not echoed: pairs out of step put a value (perhaps a
                // password) where a name belongs.
                return Err(Error::err(format!(
                    "module argument {} of {} is not a config of module '{module}' (its \
                     configs: {}); arguments are `name value` pairs",
                    2 * index + 1,
                    args.len(),
                    known()
                )));
            };
            match pair {
                [_, value] => Ok((*name, *value)),
                _ => Err(Error::err(format!(
                    "module argument '{given}' has no value; arguments are `name value` pairs"
                ))),
            }
        })
        .collect()
}

/// The text the server shows for an error from a config callback (without `ERR `).
pub(crate) fn error_text(error: &Error) -> String {
    match error {
        Error::Generic(message) => message.replace(['\r', '\n'], " "),
        other => other.to_string(),
    }
}

fn registered(status: c_int, name: &str) -> Result<()> {
    if status == sys::REDISMODULE_OK {
        return Ok(());
    }
    let cause = std::io::Error::last_os_error();
    Err(Error::err(format!(
        "could not register config '{name}' ({cause}): a bad name or flags, a name taken, or \
         not called while the module loads"
    )))
}

fn c_name(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::err(format!("config name '{name}' has a NUL byte")))
}

fn privdata<T>(config: &'static T) -> *mut c_void {
    ptr::from_ref(config).cast_mut().cast()
}

/// The flag builders every config type has.
macro_rules! common_flags {
    ($type:ident) => {
        impl $type {
            /// Settable at startup only (`--name value`, the config file, `MODULE LOADEX`);
            /// `CONFIG SET` refuses it.
            pub const fn immutable(mut self) -> $type {
                self.flags |= sys::REDISMODULE_CONFIG_IMMUTABLE as c_uint;
                self
            }

            /// Holds sensitive data: the server keeps its value out of logs.
            pub const fn sensitive(mut self) -> $type {
                self.flags |= sys::REDISMODULE_CONFIG_SENSITIVE as c_uint;
                self
            }

            /// Left out of `CONFIG GET <pattern>` (still shown when asked by its full name).
            pub const fn hidden(mut self) -> $type {
                self.flags |= sys::REDISMODULE_CONFIG_HIDDEN as c_uint;
                self
            }

            /// Immutable when the server's `enable-protected-configs` is off.
            pub const fn protected(mut self) -> $type {
                self.flags |= sys::REDISMODULE_CONFIG_PROTECTED as c_uint;
                self
            }

            /// Not settable while the server loads data.
            pub const fn deny_loading(mut self) -> $type {
                self.flags |= sys::REDISMODULE_CONFIG_DENY_LOADING as c_uint;
                self
            }

            /// Runs `apply` once a `CONFIG SET` that changed this config has stored all its
            /// settings; an `Err` fails it and restores the old values.
            pub const fn apply(mut self, apply: ApplyFn) -> $type {
                self.apply = Some(apply);
                self
            }

            /// The name, without the module's prefix.
            pub const fn name(&self) -> &'static str {
                self.name
            }
        }

        impl ModuleConfig for $type {}
    };
}

// ---- bool ----

/// A `yes`/`no` config.
///
/// ```no_run
/// static CHECKS: rm::BoolConfig = rm::BoolConfig::new("checks", true);
/// if CHECKS.get() { /* ... */ }
/// ```
pub struct BoolConfig {
    name: &'static str,
    default: bool,
    flags: c_uint,
    validate: Option<fn(bool) -> Result<()>>,
    apply: Option<ApplyFn>,
    value: AtomicBool,
}

impl BoolConfig {
    /// A config `name` (the server shows `<module>.<name>`) with its default.
    pub const fn new(name: &'static str, default: bool) -> BoolConfig {
        BoolConfig {
            name,
            default,
            flags: 0,
            validate: None,
            apply: None,
            value: AtomicBool::new(default),
        }
    }

    /// Checks a new value before it is stored; `Err` refuses it with that message.
    pub const fn validate(mut self, validate: fn(bool) -> Result<()>) -> BoolConfig {
        self.validate = Some(validate);
        self
    }

    /// The current value (the default until the module is loaded).
    pub fn get(&self) -> bool {
        self.value.load(Ordering::Relaxed)
    }

    pub(crate) fn store(&self, value: bool) -> Result<()> {
        if let Some(validate) = self.validate {
            validate(value)?;
        }
        self.value.store(value, Ordering::Relaxed);
        Ok(())
    }
}

common_flags!(BoolConfig);

impl sealed::Sealed for BoolConfig {
    fn name(&self) -> &'static str {
        self.name
    }

    fn register(&'static self, ctx: &Ctx<'_>) -> Result<()> {
        let name = c_name(self.name)?;
        // SAFETY: live load context; `self` is `'static`, as the callbacks expect their
        // privdata; the server copies the name.
        let status = unsafe {
            core_api!(RegisterBoolConfig)(
                ctx.as_ptr(),
                name.as_ptr(),
                c_int::from(self.default),
                self.flags,
                Some(callbacks::get_bool),
                Some(callbacks::set_bool),
                self.apply.map(|_| callbacks::apply::<BoolConfig> as _),
                privdata(self),
            )
        };
        registered(status, self.name)
    }

    fn apply_fn(&self) -> Option<ApplyFn> {
        self.apply
    }
}

// ---- numeric ----

/// An integer config within bounds; with [`NumericConfig::memory`], also settable as `1mb`,
/// `2gb`, ….
///
/// ```no_run
/// static TIMEOUT_MS: rm::NumericConfig = rm::NumericConfig::new("timeout-ms", 500, 1, 60_000);
/// let timeout = std::time::Duration::from_millis(TIMEOUT_MS.get() as u64);
/// ```
pub struct NumericConfig {
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
    flags: c_uint,
    validate: Option<fn(i64) -> Result<()>>,
    apply: Option<ApplyFn>,
    value: AtomicI64,
}

impl NumericConfig {
    /// A config `name` with its default and inclusive bounds (checked by the server).
    pub const fn new(name: &'static str, default: i64, min: i64, max: i64) -> NumericConfig {
        NumericConfig {
            name,
            default,
            min,
            max,
            flags: 0,
            validate: None,
            apply: None,
            value: AtomicI64::new(default),
        }
    }

    /// Accepts memory units (`1kb`, `100mb`, `1gb`) as well as plain numbers.
    pub const fn memory(mut self) -> NumericConfig {
        self.flags |= sys::REDISMODULE_CONFIG_MEMORY as c_uint;
        self
    }

    /// Checks a new value (already within bounds) before it is stored; `Err` refuses it.
    pub const fn validate(mut self, validate: fn(i64) -> Result<()>) -> NumericConfig {
        self.validate = Some(validate);
        self
    }

    /// The current value (the default until the module is loaded).
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }

    pub(crate) fn store(&self, value: i64) -> Result<()> {
        if let Some(validate) = self.validate {
            validate(value)?;
        }
        self.value.store(value, Ordering::Relaxed);
        Ok(())
    }
}

common_flags!(NumericConfig);

impl sealed::Sealed for NumericConfig {
    fn name(&self) -> &'static str {
        self.name
    }

    fn register(&'static self, ctx: &Ctx<'_>) -> Result<()> {
        let name = c_name(self.name)?;
        // SAFETY: as for `BoolConfig`.
        let status = unsafe {
            core_api!(RegisterNumericConfig)(
                ctx.as_ptr(),
                name.as_ptr(),
                self.default,
                self.flags,
                self.min,
                self.max,
                Some(callbacks::get_numeric),
                Some(callbacks::set_numeric),
                self.apply.map(|_| callbacks::apply::<NumericConfig> as _),
                privdata(self),
            )
        };
        registered(status, self.name)
    }

    fn apply_fn(&self) -> Option<ApplyFn> {
        self.apply
    }
}

// ---- string ----

/// A text config (UTF-8).
///
/// ```no_run
/// static GREETING: rm::StringConfig = rm::StringConfig::new("greeting", "hello");
/// let text: String = GREETING.get();
/// ```
pub struct StringConfig {
    name: &'static str,
    default: &'static str,
    flags: c_uint,
    validate: Option<fn(&str) -> Result<()>>,
    apply: Option<ApplyFn>,
    // Configs live in statics, which are never dropped; `ManuallyDrop` only lets the builder
    // methods be `const` (a value with a destructor cannot be moved in a const fn).
    value: ManuallyDrop<Mutex<Cow<'static, str>>>,
    /// The value as the server string handed to `CONFIG GET` (owned: one reference), or NULL
    /// until the first get. Touched on the main thread only, by the config callbacks.
    shown: AtomicPtr<RedisModuleString>,
}

impl StringConfig {
    /// A config `name` with its default.
    pub const fn new(name: &'static str, default: &'static str) -> StringConfig {
        StringConfig {
            name,
            default,
            flags: 0,
            validate: None,
            apply: None,
            value: ManuallyDrop::new(Mutex::new(Cow::Borrowed(default))),
            shown: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Checks a new value before it is stored; `Err` refuses it with that message.
    pub const fn validate(mut self, validate: fn(&str) -> Result<()>) -> StringConfig {
        self.validate = Some(validate);
        self
    }

    fn lock(&self) -> MutexGuard<'_, Cow<'static, str>> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current value (the default until the module is loaded).
    pub fn get(&self) -> String {
        self.lock().to_string()
    }

    pub(crate) fn store(&self, value: &[u8]) -> Result<()> {
        let value =
            std::str::from_utf8(value).map_err(|_| Error::err("the value must be valid UTF-8"))?;
        if let Some(validate) = self.validate {
            validate(value)?;
        }
        *self.lock() = Cow::Owned(value.to_owned());
        self.forget_shown();
        Ok(())
    }

    /// The value as a server string for `CONFIG GET`, kept (and owned) until the next get or
    /// set: the server copies it and does not free it.
    pub(crate) fn shown(&self) -> *mut RedisModuleString {
        self.forget_shown();
        let string = RString::from_bytes(self.lock().as_bytes()).into_raw();
        self.shown.store(string.as_ptr(), Ordering::Relaxed);
        string.as_ptr()
    }

    fn forget_shown(&self) {
        let old = self.shown.swap(ptr::null_mut(), Ordering::Relaxed);
        if let Some(old) = NonNull::new(old) {
            // SAFETY: `shown` held the one reference `into_raw` handed over, taken out just now.
            drop(unsafe { RString::from_raw(old) });
        }
    }
}

common_flags!(StringConfig);

impl sealed::Sealed for StringConfig {
    fn name(&self) -> &'static str {
        self.name
    }

    fn register(&'static self, ctx: &Ctx<'_>) -> Result<()> {
        let name = c_name(self.name)?;
        let default = CString::new(self.default)
            .map_err(|_| Error::err(format!("config '{}': default has a NUL", self.name)))?;
        // SAFETY: as for `BoolConfig`; the server copies the default.
        let status = unsafe {
            core_api!(RegisterStringConfig)(
                ctx.as_ptr(),
                name.as_ptr(),
                default.as_ptr(),
                self.flags,
                Some(callbacks::get_string),
                Some(callbacks::set_string),
                self.apply.map(|_| callbacks::apply::<StringConfig> as _),
                privdata(self),
            )
        };
        registered(status, self.name)
    }

    fn apply_fn(&self) -> Option<ApplyFn> {
        self.apply
    }
}

// ---- enum ----

/// A choice among named values, each with an integer; with [`EnumConfig::bitflags`], a set
/// of them (`CONFIG SET m.opts "a c"`), the value being the integers OR-ed together.
///
/// ```no_run
/// static LEVEL: rm::EnumConfig =
///     rm::EnumConfig::new("level", 1, &[("low", 0), ("mid", 1), ("high", 2)]);
/// match LEVEL.get() { 0 => {}, 1 => {}, _ => {} }
/// ```
pub struct EnumConfig {
    name: &'static str,
    default: i32,
    values: &'static [(&'static str, i32)],
    flags: c_uint,
    validate: Option<fn(i32) -> Result<()>>,
    apply: Option<ApplyFn>,
    value: AtomicI32,
}

impl EnumConfig {
    /// A config `name` with its default (an integer of `values`) and its `(name, integer)`
    /// values.
    pub const fn new(
        name: &'static str,
        default: i32,
        values: &'static [(&'static str, i32)],
    ) -> EnumConfig {
        EnumConfig {
            name,
            default,
            values,
            flags: 0,
            validate: None,
            apply: None,
            value: AtomicI32::new(default),
        }
    }

    /// Takes several values at once, OR-ing their integers (give each a distinct bit).
    pub const fn bitflags(mut self) -> EnumConfig {
        self.flags |= sys::REDISMODULE_CONFIG_BITFLAGS as c_uint;
        self
    }

    /// Checks a new value (a known one) before it is stored; `Err` refuses it.
    pub const fn validate(mut self, validate: fn(i32) -> Result<()>) -> EnumConfig {
        self.validate = Some(validate);
        self
    }

    /// The current value's integer (the default until the module is loaded).
    pub fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }

    /// The current value's name (`None` for a combination of bit flags or an unknown value).
    pub fn get_name(&self) -> Option<&'static str> {
        let value = self.get();
        self.values
            .iter()
            .find(|&&(_, known)| known == value)
            .map(|&(name, _)| name)
    }

    pub(crate) fn store(&self, value: i32) -> Result<()> {
        if let Some(validate) = self.validate {
            validate(value)?;
        }
        self.value.store(value, Ordering::Relaxed);
        Ok(())
    }
}

common_flags!(EnumConfig);

impl sealed::Sealed for EnumConfig {
    fn name(&self) -> &'static str {
        self.name
    }

    fn register(&'static self, ctx: &Ctx<'_>) -> Result<()> {
        let name = c_name(self.name)?;
        let names = self
            .values
            .iter()
            .map(|&(value, _)| c_name(value))
            .collect::<Result<Vec<CString>>>()?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let ints: Vec<c_int> = self.values.iter().map(|&(_, value)| value).collect();
        let count = c_int::try_from(ints.len()).map_err(|_| Error::err("too many enum values"))?;
        // SAFETY: as for `BoolConfig`; the arrays hold `count` entries each and the server
        // copies them.
        let status = unsafe {
            core_api!(RegisterEnumConfig)(
                ctx.as_ptr(),
                name.as_ptr(),
                self.default,
                self.flags,
                name_ptrs.as_ptr().cast_mut(),
                ints.as_ptr(),
                count,
                Some(callbacks::get_enum),
                Some(callbacks::set_enum),
                self.apply.map(|_| callbacks::apply::<EnumConfig> as _),
                privdata(self),
            )
        };
        registered(status, self.name)
    }

    fn apply_fn(&self) -> Option<ApplyFn> {
        self.apply
    }
}
