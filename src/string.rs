//! Redis strings: borrowed ([`RStr`], zero-copy) and owned ([`RString`], freed on drop).

use std::cell::UnsafeCell;
use std::ffi::{CStr, CString, c_char};
use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::ops::Deref;
use std::ptr::{self, NonNull};

use crate::sys::RedisModuleString;
use crate::{Error, Result};

/// A Redis string the server owns, seen through a reference: a command's arguments arrive as
/// `&'a RStr`, valid for the callback and never copied or retained.
///
/// `&RStr` has the layout of the C `RedisModuleString *`, so the argument vector is borrowed as
/// it is. It is neither `Send` nor `Sync`: Redis strings belong to the main thread.
#[repr(C)]
pub struct RStr {
    // Opaque and mutable behind the server's back (reference counts): no bytes for Rust to
    // assume anything about, and interior mutability so a shared reference is honest.
    _opaque: UnsafeCell<[u8; 0]>,
    _not_send_not_unpin: PhantomData<(*mut u8, PhantomPinned)>,
}

impl RStr {
    /// Borrows a server string.
    ///
    /// # Safety
    /// `raw` must point to a live `RedisModuleString` that stays alive, and is not freed or
    /// modified, for `'a`.
    #[inline(always)]
    pub unsafe fn from_raw<'a>(raw: *const RedisModuleString) -> &'a RStr {
        // SAFETY: RStr is a zero-sized view of the C object; the caller vouches for liveness.
        unsafe { &*raw.cast::<RStr>() }
    }

    /// The C pointer, for calls into the API.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut RedisModuleString {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// The string's bytes, without a copy.
    #[inline(always)]
    pub fn as_bytes(&self) -> &[u8] {
        let mut len = 0usize;
        let string_ptr_len = core_api!(StringPtrLen);
        // SAFETY: `self` is a live server string; the server returns its buffer and length,
        // which stay valid while the string is neither freed nor modified, i.e. for `&self`.
        unsafe {
            let data = string_ptr_len(self.as_ptr(), &mut len);
            if len == 0 {
                return &[];
            }
            std::slice::from_raw_parts(data.cast::<u8>(), len)
        }
    }

    /// The string as UTF-8 text, or `ERR invalid UTF-8 string`.
    #[inline]
    pub fn to_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.as_bytes())?)
    }

    /// Parses the string as a signed 64-bit integer, as the server does for `INCRBY`.
    #[inline]
    pub fn parse_i64(&self) -> Result<i64> {
        let mut value = 0i64;
        // SAFETY: a live string and a valid out-pointer.
        let status = unsafe { core_api!(StringToLongLong)(self.as_ptr(), &mut value) };
        if status == crate::sys::REDISMODULE_OK {
            Ok(value)
        } else {
            Err(Error::err("value is not an integer or out of range"))
        }
    }

    /// Parses the string as a double, as the server does for `INCRBYFLOAT` (no NaN).
    #[inline]
    pub fn parse_f64(&self) -> Result<f64> {
        let mut value = 0f64;
        // SAFETY: a live string and a valid out-pointer.
        let status = unsafe { core_api!(StringToDouble)(self.as_ptr(), &mut value) };
        if status == crate::sys::REDISMODULE_OK {
            Ok(value)
        } else {
            Err(Error::err("value is not a valid float"))
        }
    }

    /// Whether the string equals `text`, ignoring ASCII case (for option keywords).
    #[inline]
    pub fn eq_ignore_case(&self, text: &str) -> bool {
        self.as_bytes().eq_ignore_ascii_case(text.as_bytes())
    }

    /// Copies the string into a new owned one.
    pub fn to_owned_string(&self) -> RString {
        RString::from_bytes(self.as_bytes())
    }
}

impl PartialEq for RStr {
    fn eq(&self, other: &RStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<[u8]> for RStr {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<str> for RStr {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for RStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for RStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// An owned Redis string: one reference the module holds, released on drop.
pub struct RString {
    raw: NonNull<RedisModuleString>,
    // Owned strings are still main-thread objects.
    _not_send: PhantomData<*mut u8>,
}

impl RString {
    /// Takes ownership of one reference to a server string.
    ///
    /// # Safety
    /// `raw` must be a live string whose reference the caller hands over (it will be released
    /// once, on drop), created with no context or with automatic memory off.
    #[inline(always)]
    pub unsafe fn from_raw(raw: NonNull<RedisModuleString>) -> RString {
        RString {
            raw,
            _not_send: PhantomData,
        }
    }

    /// A new string holding a copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> RString {
        // SAFETY: a NULL context creates a string outside automatic memory; the buffer is valid
        // for its length and copied.
        let raw = unsafe {
            core_api!(CreateString)(
                ptr::null_mut(),
                bytes.as_ptr().cast::<c_char>(),
                bytes.len(),
            )
        };
        let raw = NonNull::new(raw).expect("RedisModule_CreateString returned NULL");
        // SAFETY: a fresh string with one reference, which we own.
        unsafe { RString::from_raw(raw) }
    }

    /// Gives the reference back to the caller, who must release it (or hand it to the server).
    pub fn into_raw(self) -> NonNull<RedisModuleString> {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }
}

impl Deref for RString {
    type Target = RStr;

    #[inline(always)]
    fn deref(&self) -> &RStr {
        // SAFETY: we hold a reference, so the string lives at least as long as `self`.
        unsafe { RStr::from_raw(self.raw.as_ptr()) }
    }
}

impl Drop for RString {
    #[inline(always)]
    fn drop(&mut self) {
        let raw = self.raw.as_ptr();
        // A string may be shared with the keyspace (e.g. after `Key::string_set`), so its
        // reference count is server state: release it under the lock. On the main thread, or
        // under a `Locked` guard, that is already so (`with_server_lock` says what it tests).
        // SAFETY: we own exactly one reference; a NULL context releases it without touching
        // automatic memory, which the SDK never turns on.
        crate::thread::with_server_lock(|| unsafe { core_api!(FreeString)(ptr::null_mut(), raw) });
    }
}

impl Clone for RString {
    fn clone(&self) -> RString {
        let raw = self.raw.as_ptr();
        // SAFETY: a live string; retaining adds the reference the clone will own, under the
        // lock as for drop.
        crate::thread::with_server_lock(|| unsafe {
            core_api!(RetainString)(ptr::null_mut(), raw)
        });
        RString {
            raw: self.raw,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for RString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Runs `f` with `text` as a C string: copied into a stack buffer when short (command and
/// event names are), into a `CString` otherwise, so the common case allocates nothing.
/// `None` for a text with a NUL byte.
#[inline(always)]
pub(crate) fn with_c_str<R>(text: &str, f: impl FnOnce(&CStr) -> R) -> Option<R> {
    let bytes = text.as_bytes();
    let mut buffer = [0u8; 32];
    if bytes.len() < buffer.len() {
        buffer[..bytes.len()].copy_from_slice(bytes);
        Some(f(CStr::from_bytes_with_nul(&buffer[..=bytes.len()]).ok()?))
    } else {
        Some(f(&CString::new(text).ok()?))
    }
}
