//! RDB I/O for module data types: [`RdbWriter`] (the `RedisModule_Save*` calls) and
//! [`RdbReader`] (the `RedisModule_Load*` calls, each checked for a load error).
//!
//! Every value a data type writes is framed by the server with a one-byte opcode naming its kind
//! (unsigned, signed, float, double, string), so the reader must load exactly what the writer
//! saved, in the same order and of the same kind; anything else is a load error.
//!
//! The SDK registers data types with the server's `HANDLE_IO_ERRORS` module option: a short
//! read, a kind mismatch or a corrupt length makes the load call return `Err` (instead of the
//! server aborting), the `?` in [`DataType::rdb_load`](crate::DataType::rdb_load) ends the load,
//! and the server reports a load error: `RESTORE` answers `ERR Bad data format`, replication
//! drops the transfer, and an RDB file that fails to load stops the server with the server's
//! own "failure loading rdb" message, as it does for any corrupt file.

use std::ffi::{c_char, c_void};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::string::{RStr, RString};
use crate::sys::RedisModuleIO;
use crate::{Error, Result};

/// The error every failed load call returns.
const LOAD_ERROR: &str = "RDB load error (short read, or the data is not what the loader expects)";

/// Writes a data type's values to an RDB file, a `DUMP` payload or a replication stream.
///
/// Lent to [`DataType::rdb_save`](crate::DataType::rdb_save) and
/// [`DataType::aux_save`](crate::DataType::aux_save) for the callback's duration. Write errors
/// (a full disk, a dropped replica) are the server's to detect and report: the calls below
/// never fail from the module's point of view, and after an error they write nothing more.
///
/// ```no_run
/// # struct Point { x: i64, y: i64 }
/// fn save(point: &Point, io: &mut rm::RdbWriter) {
///     io.save_signed(point.x);
///     io.save_signed(point.y);
/// }
/// ```
pub struct RdbWriter<'a> {
    io: NonNull<RedisModuleIO>,
    // Tied to the callback and neither Send nor Sync.
    _callback: PhantomData<(&'a mut RedisModuleIO, *mut u8)>,
}

/// Reads a data type's values back: the mirror image of [`RdbWriter`], with every call checked.
///
/// Each `load_*` returns `Err` once the server reports an I/O error: the stream ended early,
/// the next value is of another kind than asked for, or its encoding is corrupt. Return that
/// error (the `?` operator does) and the server reports a load error instead of crashing.
///
/// Counts read from the stream are data, not promises: do not preallocate from them without a
/// bound (a corrupt count of 2^60 would abort the process on allocation failure).
///
/// ```no_run
/// # struct Point { x: i64, y: i64 }
/// fn load(io: &mut rm::RdbReader) -> rm::Result<Point> {
///     Ok(Point { x: io.load_signed()?, y: io.load_signed()? })
/// }
/// ```
pub struct RdbReader<'a> {
    io: NonNull<RedisModuleIO>,
    _callback: PhantomData<(&'a mut RedisModuleIO, *mut u8)>,
}

impl<'a> RdbWriter<'a> {
    /// Wraps the I/O context the server passed to a save callback.
    ///
    /// # Safety
    /// `io` must be the live I/O context of the save callback now running, valid for `'a`.
    pub(crate) unsafe fn from_raw(io: NonNull<RedisModuleIO>) -> RdbWriter<'a> {
        RdbWriter {
            io,
            _callback: PhantomData,
        }
    }

    fn ptr(&self) -> *mut RedisModuleIO {
        self.io.as_ptr()
    }

    /// Saves an unsigned 64-bit integer (the server's variable-length encoding: 1 to 9 bytes).
    #[doc(alias = "RedisModule_SaveUnsigned")]
    pub fn save_unsigned(&mut self, value: u64) {
        // SAFETY: the live I/O context of this save callback.
        unsafe { core_api!(SaveUnsigned)(self.ptr(), value) };
    }

    /// Saves a signed 64-bit integer.
    #[doc(alias = "RedisModule_SaveSigned")]
    pub fn save_signed(&mut self, value: i64) {
        // SAFETY: as above.
        unsafe { core_api!(SaveSigned)(self.ptr(), value) };
    }

    /// Saves a double, bit for bit (NaN payloads, infinities and `-0.0` survive).
    #[doc(alias = "RedisModule_SaveDouble")]
    pub fn save_double(&mut self, value: f64) {
        // SAFETY: as above.
        unsafe { core_api!(SaveDouble)(self.ptr(), value) };
    }

    /// Saves a single-precision float, bit for bit.
    #[doc(alias = "RedisModule_SaveFloat")]
    pub fn save_float(&mut self, value: f32) {
        // SAFETY: as above.
        unsafe { core_api!(SaveFloat)(self.ptr(), value) };
    }

    /// Saves a binary-safe string (the server may store it integer-encoded or compressed; it
    /// loads back byte for byte).
    #[doc(alias = "RedisModule_SaveStringBuffer")]
    pub fn save_bytes(&mut self, bytes: &[u8]) {
        // SAFETY: as above; the buffer is valid for its length and copied.
        unsafe {
            core_api!(SaveStringBuffer)(self.ptr(), bytes.as_ptr().cast::<c_char>(), bytes.len())
        };
    }

    /// Saves a Redis string; the same encoding as [`RdbWriter::save_bytes`].
    #[doc(alias = "RedisModule_SaveString")]
    pub fn save_string(&mut self, string: &RStr) {
        // SAFETY: as above, and a live string.
        unsafe { core_api!(SaveString)(self.ptr(), string.as_ptr()) };
    }

    /// The name of the key being saved, where the server provides one (not in `aux_save`, nor
    /// for `DUMP` on some servers).
    #[doc(alias = "RedisModule_GetKeyNameFromIO")]
    pub fn key_name(&self) -> Option<&RStr> {
        // SAFETY: the live I/O context; the borrow is tied to `self`, lent for the callback.
        unsafe { key_name(self.io) }
    }
}

impl<'a> RdbReader<'a> {
    /// Wraps the I/O context the server passed to a load callback.
    ///
    /// # Safety
    /// `io` must be the live I/O context of the load callback now running, valid for `'a`.
    pub(crate) unsafe fn from_raw(io: NonNull<RedisModuleIO>) -> RdbReader<'a> {
        RdbReader {
            io,
            _callback: PhantomData,
        }
    }

    fn ptr(&self) -> *mut RedisModuleIO {
        self.io.as_ptr()
    }

    /// Whether the server has reported an I/O error on this stream (every later load fails).
    #[doc(alias = "RedisModule_IsIOError")]
    pub fn has_error(&self) -> bool {
        // SAFETY: the live I/O context of this load callback.
        unsafe { core_api!(IsIOError)(self.ptr()) != 0 }
    }

    #[inline]
    fn checked<T>(&self, value: T) -> Result<T> {
        if self.has_error() {
            Err(Error::err(LOAD_ERROR))
        } else {
            Ok(value)
        }
    }

    /// Loads an unsigned 64-bit integer saved with [`RdbWriter::save_unsigned`].
    #[doc(alias = "RedisModule_LoadUnsigned")]
    pub fn load_unsigned(&mut self) -> Result<u64> {
        // SAFETY: the live I/O context; with HANDLE_IO_ERRORS set the server flags errors
        // instead of aborting, and `checked` reads the flag.
        let value = unsafe { core_api!(LoadUnsigned)(self.ptr()) };
        self.checked(value)
    }

    /// Loads a signed 64-bit integer saved with [`RdbWriter::save_signed`].
    #[doc(alias = "RedisModule_LoadSigned")]
    pub fn load_signed(&mut self) -> Result<i64> {
        // SAFETY: as above.
        let value = unsafe { core_api!(LoadSigned)(self.ptr()) };
        self.checked(value)
    }

    /// Loads a double saved with [`RdbWriter::save_double`].
    #[doc(alias = "RedisModule_LoadDouble")]
    pub fn load_double(&mut self) -> Result<f64> {
        // SAFETY: as above.
        let value = unsafe { core_api!(LoadDouble)(self.ptr()) };
        self.checked(value)
    }

    /// Loads a float saved with [`RdbWriter::save_float`].
    #[doc(alias = "RedisModule_LoadFloat")]
    pub fn load_float(&mut self) -> Result<f32> {
        // SAFETY: as above.
        let value = unsafe { core_api!(LoadFloat)(self.ptr()) };
        self.checked(value)
    }

    /// Loads a string saved with [`RdbWriter::save_bytes`] (or `save_string`) into a buffer the
    /// server allocated, without copying it; the buffer frees itself on drop.
    ///
    /// ```no_run
    /// fn load_number(io: &mut rm::RdbReader) -> rm::Result<f64> {
    ///     let text = io.load_buffer()?; // read in place, freed at the end of the scope
    ///     std::str::from_utf8(&text)?
    ///         .parse()
    ///         .map_err(|_| rm::Error::err("not a number"))
    /// }
    /// ```
    #[doc(alias = "RedisModule_LoadStringBuffer")]
    pub fn load_buffer(&mut self) -> Result<RdbBuffer> {
        let mut len = 0usize;
        // SAFETY: as above; a non-NULL result is a buffer of `len` bytes that we own and must
        // release with RedisModule_Free.
        let data = unsafe { core_api!(LoadStringBuffer)(self.ptr(), &mut len) };
        let data = NonNull::new(data.cast::<u8>());
        match data {
            Some(data) => {
                // SAFETY: the server handed us this allocation of `len` bytes.
                let buffer = unsafe { RdbBuffer::from_raw(data, len) };
                // On error the buffer (if any) is dropped, i.e. freed, here.
                self.checked(buffer)
            }
            None => Err(Error::err(LOAD_ERROR)),
        }
    }

    /// Loads a string saved with [`RdbWriter::save_bytes`] as an owned `Vec<u8>` (one copy;
    /// [`RdbReader::load_buffer`] avoids it).
    pub fn load_bytes(&mut self) -> Result<Vec<u8>> {
        Ok(self.load_buffer()?.to_vec())
    }

    /// Loads a string as UTF-8 text; `Err` if it is not valid UTF-8.
    pub fn load_utf8(&mut self) -> Result<String> {
        let buffer = self.load_buffer()?;
        Ok(std::str::from_utf8(&buffer)?.to_owned())
    }

    /// Loads a string as a Redis string (saved with [`RdbWriter::save_string`] or
    /// [`RdbWriter::save_bytes`]: the encoding is the same).
    #[doc(alias = "RedisModule_LoadString")]
    pub fn load_string(&mut self) -> Result<RString> {
        // SAFETY: as above; a non-NULL result is a new string we own (no automatic memory).
        let raw = unsafe { core_api!(LoadString)(self.ptr()) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::err(LOAD_ERROR))?;
        // SAFETY: one reference handed to us; RString releases it once.
        let string = unsafe { RString::from_raw(raw) };
        self.checked(string)
    }

    /// The name of the key being loaded, where the server provides one (not for `RESTORE` on
    /// every server, nor in `aux_load`).
    #[doc(alias = "RedisModule_GetKeyNameFromIO")]
    pub fn key_name(&self) -> Option<&RStr> {
        // SAFETY: the live I/O context; the borrow is tied to `self`, lent for the callback.
        unsafe { key_name(self.io) }
    }
}

/// The key name the server attached to an I/O context, if any.
///
/// # Safety
/// `io` must be live, and the result must not outlive the callback that lent it.
unsafe fn key_name<'s>(io: NonNull<RedisModuleIO>) -> Option<&'s RStr> {
    // SAFETY: a live I/O context (the caller's promise); the name, when there is one, lives as
    // long as the callback.
    unsafe {
        let raw = core_api!(GetKeyNameFromIO)(io.as_ptr());
        (!raw.is_null()).then(|| RStr::from_raw(raw))
    }
}

/// A string loaded by [`RdbReader::load_buffer`]: the server's allocation, read in place and
/// released with `RedisModule_Free` on drop.
pub struct RdbBuffer {
    data: NonNull<u8>,
    len: usize,
    // The allocation is the server's; keep it on the thread that loaded it.
    _not_send: PhantomData<*mut u8>,
}

impl RdbBuffer {
    /// # Safety
    /// `data` must be a buffer of `len` bytes from `RedisModule_LoadStringBuffer`, owned by the
    /// caller, released by nobody else.
    unsafe fn from_raw(data: NonNull<u8>, len: usize) -> RdbBuffer {
        RdbBuffer {
            data,
            len,
            _not_send: PhantomData,
        }
    }
}

impl Deref for RdbBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes the server wrote, owned by `self` until drop.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr(), self.len) }
    }
}

impl Drop for RdbBuffer {
    fn drop(&mut self) {
        // SAFETY: the server's allocation, released exactly once, here.
        unsafe { core_api!(Free)(self.data.as_ptr().cast::<c_void>()) };
    }
}

impl std::fmt::Debug for RdbBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RdbBuffer({:?})", String::from_utf8_lossy(self))
    }
}
