//! INFO: a module's own sections in `INFO`, and reading the server's.

use std::ffi::{CString, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;

mod callbacks;
pub use callbacks::InfoFn;

use crate::ctx::Ctx;
use crate::sys::{self, RedisModuleInfoCtx, RedisModuleServerInfoData};
use crate::{Error, Result};

/// What an INFO function writes to; lent for the duration of the callback.
///
/// A module registers one INFO function at load ([`Ctx::register_info`]). The server calls it
/// for `INFO <module>`, `INFO <module>_<section>`, `INFO everything` and the like; it adds
/// sections and fields through [`InfoCtx`]. Section names become `<module>_<section>` and field
/// names `<module>_<field>`, as the server does for every module:
///
/// ```no_run
/// use rm::{InfoCtx, Module};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// static HITS: AtomicU64 = AtomicU64::new(0);
///
/// /// `INFO cache` shows `# cache_stats` with `cache_hits:<n>`, and `cache_limits:max=10,ttl=60`.
/// fn info(info: &mut InfoCtx, _for_crash_report: bool) {
///     if info.section("stats") {
///         info.field_u64("hits", HITS.load(Ordering::Relaxed));
///         info.dict("limits", |dict| {
///             dict.field_i64("max", 10);
///             dict.field_i64("ttl", 60);
///         });
///     }
/// }
///
/// fn module() -> Module {
///     Module::new("cache", 1).on_load(|ctx, _args| ctx.register_info(info))
/// }
/// # rm::module!(module);
/// ```
pub struct InfoCtx<'a> {
    raw: NonNull<RedisModuleInfoCtx>,
    in_dict: bool,
    _callback: PhantomData<(&'a RedisModuleInfoCtx, *mut u8)>,
}

impl<'a> InfoCtx<'a> {
    /// Wraps the context the server passed to the INFO callback.
    ///
    /// # Safety
    /// `raw` must be the live INFO context of the callback now running, valid for `'a`.
    pub(crate) unsafe fn from_raw(raw: NonNull<RedisModuleInfoCtx>) -> InfoCtx<'a> {
        InfoCtx {
            raw,
            in_dict: false,
            _callback: PhantomData,
        }
    }

    fn ptr(&self) -> *mut RedisModuleInfoCtx {
        self.raw.as_ptr()
    }

    /// Starts the section `<module>_<name>` (`""`: the section named after the module).
    ///
    /// Returns whether INFO asked for it: fields added to a section it did not ask for are
    /// dropped, so expensive ones can be skipped when this is `false`.
    pub fn section(&mut self, name: &str) -> bool {
        self.end_dict();
        let name = text(name);
        // SAFETY: live INFO context; NUL-terminated name, copied by the server.
        let status = unsafe { core_api!(InfoAddSection)(self.ptr(), name.as_ptr()) };
        status == sys::REDISMODULE_OK
    }

    /// A field whose value is a dictionary: `<module>_<name>:k1=v1,k2=v2`. The fields `fill`
    /// adds are its entries.
    pub fn dict(&mut self, name: &str, fill: impl FnOnce(&mut InfoCtx<'a>)) {
        self.end_dict();
        let name = text(name);
        // SAFETY: live INFO context; NUL-terminated name, copied by the server.
        let status = unsafe { core_api!(InfoBeginDictField)(self.ptr(), name.as_ptr()) };
        if status != sys::REDISMODULE_OK {
            return; // the section is not wanted; its fields would be dropped anyway
        }
        self.in_dict = true;
        fill(self);
        self.end_dict();
    }

    fn end_dict(&mut self) {
        if self.in_dict {
            self.in_dict = false;
            // SAFETY: live INFO context with a dictionary field open.
            unsafe { core_api!(InfoEndDictField)(self.ptr()) };
        }
    }

    /// A text field. Line breaks (and, inside a dictionary, `,` and `=`) would break the INFO
    /// format, so they are sent as spaces; NUL bytes are dropped.
    pub fn field_str(&mut self, name: &str, value: &str) {
        let name = text(name);
        let value = if self.in_dict {
            CString::new(value.replace(['\r', '\n', ',', '='], " ").replace('\0', ""))
        } else {
            CString::new(value.replace(['\r', '\n'], " ").replace('\0', ""))
        }
        .unwrap_or_default();
        // SAFETY: live INFO context; NUL-terminated strings, copied by the server.
        unsafe { core_api!(InfoAddFieldCString)(self.ptr(), name.as_ptr(), value.as_ptr()) };
    }

    /// A signed integer field.
    pub fn field_i64(&mut self, name: &str, value: i64) {
        let name = text(name);
        // SAFETY: live INFO context; NUL-terminated name, copied by the server.
        unsafe { core_api!(InfoAddFieldLongLong)(self.ptr(), name.as_ptr(), value) };
    }

    /// An unsigned integer field.
    pub fn field_u64(&mut self, name: &str, value: u64) {
        let name = text(name);
        // SAFETY: live INFO context; NUL-terminated name, copied by the server.
        unsafe { core_api!(InfoAddFieldULongLong)(self.ptr(), name.as_ptr(), value) };
    }

    /// A floating-point field (printed as the server prints doubles, `%.17g`).
    pub fn field_f64(&mut self, name: &str, value: f64) {
        let name = text(name);
        // SAFETY: live INFO context; NUL-terminated name, copied by the server.
        unsafe { core_api!(InfoAddFieldDouble)(self.ptr(), name.as_ptr(), value) };
    }
}

/// A section or field name as the INFO format allows it: no line breaks, `:`, `,`, `=` or
/// spaces (each becomes `_`), no NUL.
fn text(name: &str) -> CString {
    let cleaned: String = name
        .chars()
        .filter(|&c| c != '\0')
        .map(|c| {
            if matches!(c, '\r' | '\n' | ':' | ',' | '=' | ' ') {
                '_'
            } else {
                c
            }
        })
        .collect();
    CString::new(cleaned).expect("NUL characters were removed")
}

impl<'a> Ctx<'a> {
    /// Makes `action` the module's INFO function. Call it from a load hook
    /// ([`Module::on_load`](crate::Module::on_load)); a module has one INFO function, so a
    /// second registration replaces the first.
    ///
    /// `action` runs under the SDK's boundary: a panic is logged as a warning and the INFO
    /// reply keeps what was added before it.
    pub fn register_info<F: InfoFn>(&self, action: F) -> Result<()> {
        const { crate::boundary::stateless::<F>() };
        let _ = action; // zero-sized: the callback conjures it
        // SAFETY: live context; the callback is a plain function.
        let status =
            unsafe { core_api!(RegisterInfoFunc)(self.as_ptr(), Some(callbacks::info::<F>)) };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err("could not register the INFO function"))
        }
    }

    /// The server's own `INFO <section>` (`"server"`, `"memory"`, `"everything"`, …), to read
    /// fields from.
    ///
    /// ```no_run
    /// # use rm::{Ctx, Result};
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// let memory = ctx.server_info("memory")?;
    /// let used = memory.field_u64("used_memory");
    /// # Ok(()) }
    /// ```
    pub fn server_info(&self, section: &str) -> Result<ServerInfo<'_>> {
        let section = CString::new(section).map_err(|_| Error::err("section name has a NUL"))?;
        // SAFETY: live context; NUL-terminated section name. The data is ours to free.
        let raw = unsafe { core_api!(GetServerInfo)(self.as_ptr(), section.as_ptr()) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::err("the server returned no INFO"))?;
        Ok(ServerInfo { ctx: self, raw })
    }
}

/// The server's INFO fields of one section, freed on drop.
pub struct ServerInfo<'a> {
    ctx: &'a Ctx<'a>,
    raw: NonNull<RedisModuleServerInfoData>,
}

impl ServerInfo<'_> {
    /// A field's text (`redis_version` → `7.0.15`); `None` if there is no such field.
    pub fn field(&self, name: &str) -> Option<&str> {
        let name = CString::new(name).ok()?;
        // SAFETY: live data; the text is owned by it and lives as long as `&self`.
        unsafe {
            let value = core_api!(ServerInfoGetFieldC)(self.raw.as_ptr(), name.as_ptr());
            if value.is_null() {
                return None;
            }
            std::ffi::CStr::from_ptr(value).to_str().ok()
        }
    }

    /// A field as a signed integer; `None` if missing or not one.
    pub fn field_i64(&self, name: &str) -> Option<i64> {
        let name = CString::new(name).ok()?;
        let mut err: c_int = 0;
        // SAFETY: live data, NUL-terminated name, an out-pointer.
        let value = unsafe {
            core_api!(ServerInfoGetFieldSigned)(self.raw.as_ptr(), name.as_ptr(), &mut err)
        };
        (err == 0).then_some(value)
    }

    /// A field as an unsigned integer; `None` if missing or not one.
    pub fn field_u64(&self, name: &str) -> Option<u64> {
        let name = CString::new(name).ok()?;
        let mut err: c_int = 0;
        // SAFETY: live data, NUL-terminated name, an out-pointer.
        let value = unsafe {
            core_api!(ServerInfoGetFieldUnsigned)(self.raw.as_ptr(), name.as_ptr(), &mut err)
        };
        (err == 0).then_some(value)
    }

    /// A field as a double; `None` if missing or not one.
    pub fn field_f64(&self, name: &str) -> Option<f64> {
        let name = CString::new(name).ok()?;
        let mut err: c_int = 0;
        // SAFETY: live data, NUL-terminated name, an out-pointer.
        let value = unsafe {
            core_api!(ServerInfoGetFieldDouble)(self.raw.as_ptr(), name.as_ptr(), &mut err)
        };
        (err == 0).then_some(value)
    }
}

impl Drop for ServerInfo<'_> {
    fn drop(&mut self) {
        // SAFETY: the data from GetServerInfo with the same live context, freed once.
        unsafe { core_api!(FreeServerInfo)(self.ctx.as_ptr(), self.raw.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_break_the_info_format() {
        assert_eq!(text("hits").as_bytes(), b"hits");
        assert_eq!(text("a b:c,d=e\r\nf\0").as_bytes(), b"a_b_c_d_e__f");
    }
}
