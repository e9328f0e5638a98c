//! Module data types: a Rust type stored as a key's value, persisted in RDB files, rewritten
//! into the AOF, copied, digested, measured and freed by the server through one trait.
//!
//! Implement [`DataType`], register it once while the module loads
//! ([`Ctx::create_data_type`], from a [`Module::on_load`](crate::Module::on_load) hook), then
//! read and write values through [`Key::value`], [`Key::value_mut`] and [`Key::set_value`].
//! The SDK generates every callback the server needs; each runs under the boundary's rules (a
//! panic is logged and never reaches the server; see [`DataType`] for each fallback).

use std::any::TypeId;
use std::ffi::{CString, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::OnceLock;

use crate::ctx::Ctx;
use crate::module::options::add_module_options;
use crate::string::RStr;
use crate::sys::{self, RedisModuleDigest, RedisModuleIO, RedisModuleType};
use crate::{Error, Result};

mod callbacks;
pub(crate) mod defrag;
pub(crate) mod rdb;
mod value;

use defrag::{Defrag, DefragStatus};
use rdb::{RdbReader, RdbWriter};

/// A module data type: a Rust value the server stores under a key.
///
/// Two methods are required (`rdb_save`, `rdb_load`); the others have defaults, listed with
/// the fallback the SDK uses when the method panics (a panic is always logged at warning level
/// with the type's name and never reaches the server):
///
/// | method | server use | default | on panic |
/// |---|---|---|---|
/// | `rdb_save` | RDB, `DUMP`, full sync | required | see below |
/// | `rdb_load` | RDB load, `RESTORE` | required | load error |
/// | `aof_rewrite` | `BGREWRITEAOF` without RDB preamble | `Err`: the rewrite fails | the rewrite fails |
/// | `mem_usage` | `MEMORY USAGE`, eviction | `size_of::<Self>()` | `0` |
/// | `digest` | `DEBUG DIGEST(-VALUE)` | adds nothing | adds nothing more |
/// | `copy` | `COPY` | `None`: `ERR module key failed to copy` | same as `None` |
/// | `free_effort` | `UNLINK`, lazy free | `1`: freed at once | `1` |
/// | `unlink` | key removed from the keyspace | nothing | nothing |
/// | `defrag` | active defragmentation (`activedefrag yes`) | moves nothing inside (the SDK still moves the value's own box) | `Done`: the pass goes on with the next key |
/// | `aux_save`/`aux_load` | module-global data in the RDB, if [`DataType::AUX`] says so | nothing / `Err` | as `rdb_save` / load error |
/// | `Drop` | free | — | logged; the rest of the value leaks |
///
/// **A panicking `rdb_save` (or `aux_save`)** cannot be undone: part of the value may be
/// written already, and the server offers no way to fail the save from inside the callback.
/// In a fork child (`BGSAVE`, `BGREWRITEAOF` with the RDB preamble, replication full sync) the
/// SDK therefore ends the child with an error, so the save fails like a full disk would and the
/// previous RDB file stays in place. In the main process (`SAVE`, `DUMP`, `DEBUG RELOAD`,
/// `SHUTDOWN`) the value is left truncated: loading it later fails with a load error naming the
/// type (`RESTORE` answers `ERR Bad data format`) rather than producing a wrong value. Write
/// `rdb_save` so it cannot panic.
///
/// The same holds for `aof_rewrite` returning `Err` or panicking: the rewrite child exits with
/// an error, the server keeps the old AOF and reports `aof_last_bgrewrite_status:err`, instead
/// of writing an AOF that silently lacks the key.
///
/// **`Send`**: the server frees values on its lazy-free thread (`FLUSHALL ASYNC`, and
/// `UNLINK` or a lazy-free delete of a value whose `free_effort` is 0 or above 64), so `Drop`
/// may run off the main thread. Every other method runs on the main thread, or in a fork child
/// for saves and rewrites.
///
/// # Example
/// A complete module with a counter type:
///
/// ```no_run
/// #![forbid(unsafe_code)]
/// use rm::{AofWriter, Command, Ctx, DataType, Digest, Error, Module, RStr, RdbReader,
///          RdbWriter, Result};
///
/// /// A counter with a label.
/// struct Counter { label: Vec<u8>, n: i64 }
///
/// impl DataType for Counter {
///     const NAME: &'static str = "counter-1"; // exactly 9 characters: A-Z a-z 0-9 - _
///     const ENCODING_VERSION: i32 = 1;
///
///     fn rdb_save(&self, io: &mut RdbWriter) {
///         io.save_bytes(&self.label);
///         io.save_signed(self.n);
///     }
///     fn rdb_load(io: &mut RdbReader, _encver: i32) -> Result<Self> {
///         Ok(Counter { label: io.load_bytes()?, n: io.load_signed()? })
///     }
///     fn aof_rewrite(&self, key: &RStr, aof: &mut AofWriter) -> Result<()> {
///         aof.emit("counter.set", (key, &self.label, self.n))
///     }
///     fn mem_usage(&self) -> usize { size_of::<Self>() + self.label.capacity() }
///     fn digest(&self, digest: &mut Digest) {
///         digest.add_bytes(&self.label);
///         digest.add_i64(self.n);
///         digest.end_sequence();
///     }
///     fn copy(&self) -> Option<Self> { Some(Counter { label: self.label.clone(), n: self.n }) }
/// }
///
/// /// COUNTER.INCR key label: adds one, creating the counter; replies with the new count.
/// fn incr(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
///     let [_, name, label] = args else { return Err(Error::WrongArity) };
///     let mut key = ctx.open_key_writable(name);
///     // WRONGTYPE for any other type
///     let n = if let Some(mut counter) = key.value_mut::<Counter>()? {
///         counter.n += 1;
///         counter.n
///     } else {
///         key.set_value(Counter { label: label.as_bytes().to_vec(), n: 1 })?;
///         1
///     };
///     ctx.reply_integer(n);
///     ctx.replicate_verbatim();
///     Ok(())
/// }
///
/// fn module() -> Module {
///     Module::new("counter", 1)
///         .command(Command::new("counter.incr", incr).flags("write deny-oom").keys(1, 1, 1))
///         .on_load(|ctx, _args| ctx.create_data_type::<Counter>())
/// }
/// rm::module!(module);
/// ```
pub trait DataType: Sized + Send + 'static {
    /// The type's name in RDB files and `TYPE` replies: exactly 9 characters from
    /// `A-Z a-z 0-9 - _`, unique among the types every loaded module registers. Checked at
    /// registration.
    const NAME: &'static str;

    /// The encoding version [`DataType::rdb_save`] writes, `0..=1023`. Raise it when the
    /// encoding changes; `rdb_load` receives the version a value was written with. Values
    /// written by a newer version than this are refused (load error) without calling
    /// `rdb_load`.
    const ENCODING_VERSION: i32;

    /// When [`DataType::aux_save`] runs: never by default.
    const AUX: AuxTriggers = AuxTriggers::NONE;

    /// Writes the value; [`DataType::rdb_load`] reads it back. Must not panic (see above).
    fn rdb_save(&self, io: &mut RdbWriter<'_>);

    /// Reads a value written with encoding version `encver` (at most
    /// [`DataType::ENCODING_VERSION`]): match on it to read older encodings. An `Err` (such as
    /// the one every [`RdbReader`] call returns on corrupt or truncated data) is a load error.
    ///
    /// ```no_run
    /// # use rm::{RdbReader, RdbWriter, Result};
    /// struct Point { x: i64, y: i64, label: String }
    ///
    /// impl rm::DataType for Point {
    ///     const NAME: &'static str = "point-xyz";
    ///     const ENCODING_VERSION: i32 = 2; // 1 had no label
    ///
    ///     fn rdb_save(&self, io: &mut RdbWriter) {
    ///         io.save_signed(self.x);
    ///         io.save_signed(self.y);
    ///         io.save_bytes(self.label.as_bytes());
    ///     }
    ///     fn rdb_load(io: &mut RdbReader, encver: i32) -> Result<Self> {
    ///         let (x, y) = (io.load_signed()?, io.load_signed()?);
    ///         let label = match encver {
    ///             1 => String::new(),
    ///             _ => io.load_utf8()?,
    ///         };
    ///         Ok(Point { x, y, label })
    ///     }
    /// }
    /// ```
    fn rdb_load(io: &mut RdbReader<'_>, encver: i32) -> Result<Self>;

    /// Rewrites the value as commands that recreate it (`key` is its name), for an AOF rewrite
    /// without RDB preamble (`aof-use-rdb-preamble no`; with the preamble, the default, the
    /// server uses `rdb_save`). Default: `Err`, which fails the rewrite (see above) rather than
    /// leave the key out of the new AOF.
    fn aof_rewrite(&self, key: &RStr, aof: &mut AofWriter<'_>) -> Result<()> {
        let _ = (key, aof);
        Err(Error::err(
            "this type cannot rewrite itself as commands; use aof-use-rdb-preamble yes",
        ))
    }

    /// Bytes the value uses, for `MEMORY USAGE` and eviction; include the heap it owns.
    fn mem_usage(&self) -> usize {
        size_of::<Self>()
    }

    /// Feeds the value to `DEBUG DIGEST` / `DEBUG DIGEST-VALUE`, which compare datasets (for
    /// example a primary and its replica): equal values must add the same elements.
    fn digest(&self, digest: &mut Digest<'_>) {
        let _ = digest;
    }

    /// A copy for `COPY`; `None` makes `COPY` answer `ERR module key failed to copy`.
    fn copy(&self) -> Option<Self> {
        None
    }

    /// How much work freeing the value is (e.g. its element count). Above the server's lazy
    /// free threshold (64) `UNLINK` and lazy-free deletes drop it on the server's background
    /// thread; **0 means always in the background** (the server's rule). The default, 1,
    /// frees it at once on the main thread.
    ///
    /// ```no_run
    /// # use rm::{RdbReader, RdbWriter, Result};
    /// struct Log(Vec<Vec<u8>>);
    ///
    /// impl rm::DataType for Log {
    ///     const NAME: &'static str = "appendlog";
    ///     const ENCODING_VERSION: i32 = 1;
    /// #   fn rdb_save(&self, _io: &mut RdbWriter) {}
    /// #   fn rdb_load(_io: &mut RdbReader, _v: i32) -> Result<Self> { Ok(Log(Vec::new())) }
    ///     // ... rdb_save, rdb_load ...
    ///     fn free_effort(&self) -> usize {
    ///         self.0.len().max(1) // one allocation per entry; never 0
    ///     }
    ///     fn unlink(&self) {
    ///         // e.g. drop this key from a module-side index (main thread)
    ///     }
    /// }
    /// ```
    fn free_effort(&self) -> usize {
        1
    }

    /// Called on the main thread when the key is removed from the keyspace (before the value
    /// is freed, possibly on another thread).
    fn unlink(&self) {}

    /// Moves the value's heap blocks to where the allocator wants them, during active
    /// defragmentation: offer each `Box`, `Vec` and `String` the value owns to the
    /// [`Defrag`] handle (which rewrites the owner in place when the server moves the block),
    /// depth first, checking [`Defrag::should_stop`] every few dozen blocks in incremental
    /// mode. The SDK has already moved the value's own box (the `T` itself) when this runs.
    ///
    /// The server picks the mode by [`DataType::free_effort`]: up to its
    /// `active-defrag-max-scan-fields` (1000) the whole value in one call; above it, calls with
    /// a time budget and a cursor ([`Defrag`] explains both). So a type with big values
    /// should return an effort that grows with its block count, and pause when told to.
    ///
    /// Nothing moves unless the module uses the server's allocator
    /// ([`crate::server_allocator!`]); without it the SDK does not register the callback.
    /// The default visits nothing: only the box moves. Runs on the main thread, between
    /// commands (no [`ValueRef`](crate::ValueRef) or [`ValueMut`](crate::ValueMut) of the
    /// value is alive).
    fn defrag(&mut self, defrag: &mut Defrag<'_>) -> DefragStatus {
        let _ = defrag;
        DefragStatus::Done
    }

    /// Writes module-global data into the RDB, before or after the keys ([`DataType::AUX`]).
    /// Such an RDB needs the module to load.
    fn aux_save(io: &mut RdbWriter<'_>, when: AuxWhen) {
        let _ = (io, when);
    }

    /// Reads what [`DataType::aux_save`] wrote (`encver` as for `rdb_load`). Default: `Err`
    /// (a type that sets [`DataType::AUX`] implements both).
    fn aux_load(io: &mut RdbReader<'_>, encver: i32, when: AuxWhen) -> Result<()> {
        let _ = (io, encver, when);
        Err(Error::err("this type has no aux_load"))
    }
}

/// When a type's [`DataType::aux_save`] runs while the server writes an RDB.
///
/// Aux data is module-global state saved with every RDB (files, full syncs), once before
/// and/or once after the keys, and handed to [`DataType::aux_load`] when that RDB loads:
///
/// ```no_run
/// # use rm::{AuxTriggers, AuxWhen, RdbReader, RdbWriter, Result};
/// use std::sync::atomic::{AtomicI64, Ordering};
///
/// static GENERATION: AtomicI64 = AtomicI64::new(0);
/// # struct Item;
///
/// impl rm::DataType for Item {
///     const NAME: &'static str = "item-type";
///     const ENCODING_VERSION: i32 = 1;
///     const AUX: AuxTriggers = AuxTriggers::BEFORE_RDB;
/// #   fn rdb_save(&self, _io: &mut RdbWriter) {}
/// #   fn rdb_load(_io: &mut RdbReader, _v: i32) -> Result<Self> { Ok(Item) }
///     // ... rdb_save, rdb_load ...
///     fn aux_save(io: &mut RdbWriter, _when: AuxWhen) {
///         io.save_signed(GENERATION.load(Ordering::Relaxed));
///     }
///     fn aux_load(io: &mut RdbReader, _encver: i32, _when: AuxWhen) -> Result<()> {
///         GENERATION.store(io.load_signed()?, Ordering::Relaxed);
///         Ok(())
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxTriggers(c_int);

impl AuxTriggers {
    /// Never (the default).
    pub const NONE: AuxTriggers = AuxTriggers(0);
    /// Before the keys.
    pub const BEFORE_RDB: AuxTriggers = AuxTriggers(sys::REDISMODULE_AUX_BEFORE_RDB);
    /// After the keys.
    pub const AFTER_RDB: AuxTriggers = AuxTriggers(sys::REDISMODULE_AUX_AFTER_RDB);
    /// Both before and after the keys.
    pub const BOTH: AuxTriggers =
        AuxTriggers(sys::REDISMODULE_AUX_BEFORE_RDB | sys::REDISMODULE_AUX_AFTER_RDB);

    /// The server's flag word.
    pub const fn bits(self) -> c_int {
        self.0
    }

    /// Whether no trigger is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Which of the two aux points is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuxWhen {
    /// Before the keys.
    BeforeRdb,
    /// After the keys.
    AfterRdb,
}

impl AuxWhen {
    pub(crate) fn from_raw(when: c_int) -> AuxWhen {
        if when == sys::REDISMODULE_AUX_AFTER_RDB {
            AuxWhen::AfterRdb
        } else {
            AuxWhen::BeforeRdb
        }
    }
}

/// The digest `DEBUG DIGEST-VALUE` builds, lent to [`DataType::digest`].
///
/// Elements added in a row form an ordered sequence; [`Digest::end_sequence`] closes it and
/// mixes it into the value's digest, where sequences are combined without regard to order. So
/// a list adds its elements and ends one sequence; a hash-like value adds each field and its
/// value and ends a sequence per pair.
///
/// ```no_run
/// # struct Pairs(Vec<(Vec<u8>, i64)>);
/// fn digest(pairs: &Pairs, digest: &mut rm::Digest) {
///     for (field, n) in &pairs.0 {
///         digest.add_bytes(field);
///         digest.add_i64(*n);
///         digest.end_sequence();
///     }
/// }
/// ```
pub struct Digest<'a> {
    raw: NonNull<RedisModuleDigest>,
    _callback: PhantomData<(&'a mut RedisModuleDigest, *mut u8)>,
}

impl<'a> Digest<'a> {
    /// # Safety
    /// `raw` must be the live digest of the callback now running, valid for `'a`.
    pub(crate) unsafe fn from_raw(raw: NonNull<RedisModuleDigest>) -> Digest<'a> {
        Digest {
            raw,
            _callback: PhantomData,
        }
    }

    /// Adds a binary string to the current sequence.
    #[doc(alias = "RedisModule_DigestAddStringBuffer")]
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        // SAFETY: the live digest; the buffer is valid for its length and only read.
        unsafe {
            core_api!(DigestAddStringBuffer)(self.raw.as_ptr(), bytes.as_ptr().cast(), bytes.len())
        };
    }

    /// Adds an integer to the current sequence (as its decimal text, so it digests like the
    /// string of the same number).
    #[doc(alias = "RedisModule_DigestAddLongLong")]
    pub fn add_i64(&mut self, value: i64) {
        // SAFETY: the live digest.
        unsafe { core_api!(DigestAddLongLong)(self.raw.as_ptr(), value) };
    }

    /// Ends the current sequence and mixes it into the value's digest.
    #[doc(alias = "RedisModule_DigestEndSequence")]
    pub fn end_sequence(&mut self) {
        // SAFETY: the live digest.
        unsafe { core_api!(DigestEndSequence)(self.raw.as_ptr()) };
    }
}

/// Writes commands into a rewritten AOF, lent to [`DataType::aof_rewrite`].
///
/// ```no_run
/// # struct Set(Vec<Vec<u8>>);
/// fn rewrite(set: &Set, key: &rm::RStr, aof: &mut rm::AofWriter) -> rm::Result<()> {
///     for member in &set.0 {
///         aof.emit("myset.add", (key, member))?;
///     }
///     Ok(())
/// }
/// ```
pub struct AofWriter<'a> {
    io: NonNull<RedisModuleIO>,
    _callback: PhantomData<(&'a mut RedisModuleIO, *mut u8)>,
}

impl<'a> AofWriter<'a> {
    /// # Safety
    /// `io` must be the live I/O context of the AOF rewrite callback now running, valid for
    /// `'a`.
    pub(crate) unsafe fn from_raw(io: NonNull<RedisModuleIO>) -> AofWriter<'a> {
        AofWriter {
            io,
            _callback: PhantomData,
        }
    }

    /// Appends the command `command args...` to the new AOF; replaying the AOF runs it.
    /// `Err` if the server knows no such command or the write failed (the rewrite then fails).
    ///
    /// `args` as [`Ctx::call`] takes them ([`CallArgs`](crate::CallArgs)): a tuple of mixed
    /// values (`(key, "$", &text)`, integers written in decimal), an array or a `Vec` of one
    /// kind (`&[&[u8]]` too). Each is copied into a new string, the key included: the server
    /// may hand the rewrite a key name on its stack, which it cannot retain.
    #[doc(alias = "RedisModule_EmitAOF")]
    pub fn emit<A: crate::CallArgs>(&mut self, command: &str, args: A) -> Result<()> {
        let name = CString::new(command).map_err(|_| Error::err("command name has a NUL"))?;
        let argv = crate::call::Argv::copied(&args);
        // SAFETY: the live I/O context; "v" takes an array of string pointers and its length,
        // both alive until the call returns (the server copies what it writes).
        unsafe {
            core_api!(EmitAOF)(
                self.io.as_ptr(),
                name.as_ptr(),
                c"v".as_ptr(),
                argv.as_ptr(),
                argv.len(),
            )
        };
        // SAFETY: the live I/O context.
        if unsafe { core_api!(IsIOError)(self.io.as_ptr()) } != 0 {
            return Err(Error::err(format!(
                "could not emit '{command}' to the AOF (unknown command or write error)"
            )));
        }
        Ok(())
    }
}

// ---- registration ----

/// The most data types one module can register.
const MAX_TYPES: usize = 32;

/// A registered type: the Rust type and the server's handle for it.
struct Registered {
    id: TypeId,
    raw: NonNull<RedisModuleType>,
}

// SAFETY: the handle is an opaque pointer the server keeps alive while the module is loaded (a
// module with data types cannot be unloaded); the SDK only compares it and hands it back to the
// server from the main thread, so sharing the address between threads is harmless.
unsafe impl Send for Registered {}
// SAFETY: as above; `Registered` is never mutated after it is stored.
unsafe impl Sync for Registered {}

/// Every data type this module registered, in order. Slots are filled once each, on the main
/// thread, and never change afterwards, so lookups take no lock.
static TYPES: [OnceLock<Registered>; MAX_TYPES] = [const { OnceLock::new() }; MAX_TYPES];

/// The server's handle for `T`, if registered.
pub(crate) fn registered<T: DataType>() -> Option<NonNull<RedisModuleType>> {
    let id = TypeId::of::<T>();
    TYPES
        .iter()
        .map_while(OnceLock::get)
        .find(|entry| entry.id == id)
        .map(|entry| entry.raw)
}

pub(crate) fn not_registered<T: DataType>() -> Error {
    Error::err(format!(
        "data type '{}' is not registered (call ctx.create_data_type in the module's load hook)",
        T::NAME
    ))
}

/// The characters a type name may use, as the server defines them.
const NAME_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Checks a type name and encoding version as the server will, with a clearer message.
fn validate(name: &str, encver: i32) -> Result<()> {
    if name.len() != 9 || !name.bytes().all(|b| NAME_CHARS.contains(&b)) {
        return Err(Error::err(format!(
            "invalid data type name '{name}': it must be exactly 9 characters from A-Z a-z 0-9 - _"
        )));
    }
    if !(0..=1023).contains(&encver) {
        return Err(Error::err(format!(
            "invalid encoding version {encver} for data type '{name}': it must be 0..=1023"
        )));
    }
    Ok(())
}

impl<'a> Ctx<'a> {
    /// Registers the data type `T` with the server. Call it from a
    /// [`Module::on_load`](crate::Module::on_load) hook: the server accepts new types only while
    /// the module loads.
    ///
    /// `Err` for a name that is not 9 characters of `A-Z a-z 0-9 - _`, an encoding version
    /// outside `0..=1023`, a type registered twice, a name another module took, or a call
    /// outside a load hook (on every server: Redis 7.0 would still accept a type after load,
    /// newer servers refuse it, and the SDK refuses it everywhere). Registering also turns on the server's I/O-error handling for the module, so a
    /// corrupt payload is a load error for [`DataType::rdb_load`] to return, never an abort.
    ///
    /// ```no_run
    /// # struct Counter;
    /// # impl rm::DataType for Counter {
    /// #     const NAME: &'static str = "counter-1";
    /// #     const ENCODING_VERSION: i32 = 1;
    /// #     fn rdb_save(&self, _io: &mut rm::RdbWriter) {}
    /// #     fn rdb_load(_io: &mut rm::RdbReader, _v: i32) -> rm::Result<Self> { Ok(Counter) }
    /// # }
    /// fn module() -> rm::Module {
    ///     rm::Module::new("counter", 1).on_load(|ctx, _args| ctx.create_data_type::<Counter>())
    /// }
    /// ```
    #[doc(alias = "RedisModule_CreateDataType")]
    pub fn create_data_type<T: DataType>(&self) -> Result<()> {
        validate(T::NAME, T::ENCODING_VERSION)?;
        if registered::<T>().is_some() {
            return Err(Error::err(format!(
                "data type '{}' is already registered",
                T::NAME
            )));
        }
        if !crate::boundary::loading() {
            return Err(Error::err(format!(
                "data type '{}' can only be registered while the module loads (call \
                 ctx.create_data_type from a Module::on_load hook)",
                T::NAME
            )));
        }
        let Some(slot) = TYPES.iter().find(|slot| slot.get().is_none()) else {
            return Err(Error::err(format!(
                "cannot register data type '{}': a module registers at most {MAX_TYPES} types",
                T::NAME
            )));
        };
        let name = CString::new(T::NAME).expect("validated: no NUL");
        let mut methods = callbacks::methods::<T>();
        // SAFETY: a live context; the server copies the name and the method table.
        let raw = unsafe {
            core_api!(CreateDataType)(
                self.as_ptr(),
                name.as_ptr(),
                T::ENCODING_VERSION,
                &mut methods,
            )
        };
        let Some(raw) = NonNull::new(raw) else {
            return Err(Error::err(format!(
                "the server refused data type '{}': is the name taken by another module?",
                T::NAME
            )));
        };
        add_module_options(self, sys::REDISMODULE_OPTIONS_HANDLE_IO_ERRORS);
        slot.set(Registered {
            id: TypeId::of::<T>(),
            raw,
        })
        .map_err(|_| Error::err("data type registry changed during registration"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_are_checked_like_the_server_does() {
        assert!(validate("rmtest-ty", 0).is_ok());
        assert!(validate("ReJSON-RL", 3).is_ok());
        assert!(validate("A_b-9zZ09", 1023).is_ok());
        assert_eq!(
            validate("short", 1).unwrap_err().to_string(),
            "ERR invalid data type name 'short': it must be exactly 9 characters from A-Z a-z \
             0-9 - _"
        );
        assert!(validate("ten-chars!", 1).is_err());
        assert!(validate("nine.char", 1).is_err());
        assert!(validate("ninechär", 1).is_err()); // 9 bytes, but not the charset
        assert_eq!(
            validate("rmtest-ty", 1024).unwrap_err().to_string(),
            "ERR invalid encoding version 1024 for data type 'rmtest-ty': it must be 0..=1023"
        );
        assert!(validate("rmtest-ty", -1).is_err());
    }

    #[test]
    fn aux_triggers_are_the_servers_flags() {
        assert_eq!(AuxTriggers::NONE.bits(), 0);
        assert_eq!(AuxTriggers::BOTH.bits(), 3);
        assert!(AuxTriggers::NONE.is_empty());
        assert!(!AuxTriggers::AFTER_RDB.is_empty());
        assert_eq!(AuxWhen::from_raw(2), AuxWhen::AfterRdb);
        assert_eq!(AuxWhen::from_raw(1), AuxWhen::BeforeRdb);
    }
}
