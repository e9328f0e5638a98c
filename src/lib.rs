//! rs-rm — write Redis modules in Rust as easily as a CLI program, at the cost of a C module.
//!
//! A complete module (this is `modules/hashex`):
//!
//! ```no_run
//! #![forbid(unsafe_code)]
//! use rm::{Command, Ctx, Error, KeyType, Module, RStr, Result};
//!
//! /// HGETSET key field value: set a hash field, reply with its old value.
//! fn hgetset(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let [_, key, field, value] = args else { return Err(Error::WrongArity) };
//!     let key = ctx.open_key_writable(key);
//!     key.expect_type(KeyType::Hash)?; // WRONGTYPE ... otherwise
//!     let old = key.hash_get(field)?;
//!     key.hash_set(field, value)?;
//!     match old {
//!         Some(old) => ctx.reply_string(&old),
//!         None => ctx.reply_null(),
//!     }
//!     ctx.replicate_verbatim();
//!     Ok(())
//! }
//!
//! fn module() -> Module {
//!     Module::new("hashex", 1).command(
//!         Command::new("hgetset", hgetset)
//!             .usage("HGETSET key field value") // becomes COMMAND DOCS arguments
//!             .summary("Sets a hash field to a value and returns its old value")
//!             .flags("write fast deny-oom")
//!             .keys(1, 1, 1)
//!             .arity(4),
//!     )
//! }
//!
//! rm::module!(module); // exports RedisModule_OnLoad
//! ```
//!
//! Build it as a `cdylib` and `redis-server --loadmodule target/release/libhashex.so`. The
//! crate's `examples/` are complete modules to start from (`hello`, `counter`, `background`),
//! and `cargo make new-module NAME [DIR]` in the repository writes a new one with its test.
//!
//! # A data type
//! A Rust type becomes a Redis type by implementing [`DataType`]: its name in `TYPE` replies
//! and RDB files, and how it is saved and loaded. Register it when the module loads; keys
//! then hold it like any other value ([`Key::value`], [`Key::value_mut`], [`Key::set_value`]),
//! and a key of another type is `WRONGTYPE`.
//!
//! ```no_run
//! use rm::{Command, Ctx, Error, Module, RStr, RdbReader, RdbWriter, Result};
//!
//! struct Counter(i64);
//!
//! impl rm::DataType for Counter {
//!     const NAME: &'static str = "counter-t"; // 9 characters
//!     const ENCODING_VERSION: i32 = 1;
//!     fn rdb_save(&self, io: &mut RdbWriter<'_>) {
//!         io.save_signed(self.0);
//!     }
//!     fn rdb_load(io: &mut RdbReader<'_>, _encver: i32) -> Result<Self> {
//!         Ok(Counter(io.load_signed()?)) // a truncated RDB is an Err, never a crash
//!     }
//! }
//!
//! /// COUNTER.GET key
//! fn get(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let [_, name] = args else { return Err(Error::WrongArity) };
//!     match ctx.open_key(name).value::<Counter>()? {
//!         Some(counter) => ctx.reply_integer(counter.0),
//!         None => ctx.reply_null(),
//!     }
//!     Ok(())
//! }
//!
//! fn module() -> Module {
//!     Module::new("counter", 1)
//!         .command(Command::new("counter.get", get).flags("readonly").keys(1, 1, 1).arity(2))
//!         .on_load(|ctx, _args| ctx.create_data_type::<Counter>())
//! }
//! rm::module!(module);
//! ```
//!
//! # Background work
//! A slow command blocks only its client: [`Ctx::block_client`] gives a `Send` handle, a
//! thread does the work and [`BlockedClient::unblock`]s it with the result, and the reply
//! callback answers on the main thread. A thread never holds a [`Ctx`] unless it takes the
//! server lock ([`Ctx::thread_safe_context`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use rm::{BlockOptions, Ctx, Error, RStr, Result};
//!
//! /// SLOW.LEN text: the text's length, after slow work on a thread.
//! fn slow_len(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let [_, text] = args else { return Err(Error::WrongArity) };
//!     let text = text.as_bytes().to_vec(); // arguments do not outlive the callback: copy
//!     let blocked = ctx.block_client(BlockOptions::new(|ctx: &Ctx, len: usize| {
//!         ctx.reply_integer(len as i64);
//!         Ok(())
//!     }))?;
//!     std::thread::spawn(move || {
//!         std::thread::sleep(Duration::from_millis(100)); // a network call, a disk read, …
//!         blocked.unblock(text.len());
//!     });
//!     Ok(()) // no reply here
//! }
//! ```
//!
//! # Configs
//! A module's settings are server settings: `CONFIG GET/SET mymod.name`, the config file,
//! `--loadmodule mymod.so name value` ([`config`]).
//!
//! ```no_run
//! use rm::{Ctx, Module, NumericConfig, RStr, Result};
//!
//! static LIMIT: NumericConfig = NumericConfig::new("limit", 100, 1, 10_000);
//!
//! fn limit(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     ctx.reply_integer(LIMIT.get()); // CONFIG SET mymod.limit 5 changes it
//!     Ok(())
//! }
//!
//! fn module() -> Module {
//!     Module::new("mymod", 1)
//!         .command(rm::Command::new("mymod.limit", limit).flags("readonly").arity(1))
//!         .on_load(|ctx, _args| ctx.register_config(&LIMIT))
//! }
//! rm::module!(module);
//! ```
//!
//! # What the SDK guarantees
//! - **No panic reaches the server.** Every callback runs under `catch_unwind`; an `Err(e)`
//!   becomes the error reply `e` displays as, a panic becomes `ERR panic: <message>` plus a
//!   warning in the server log, and the server keeps serving. (Replies sent before the panic
//!   stay sent: validate before you reply.)
//! - **Borrowed handles cannot escape their callback.** [`Ctx`], argument strings ([`RStr`])
//!   and [`Key`]s are tied to the call's lifetime and are neither `Send` nor `Sync`.
//! - **A borrowed view of a value stays valid.** While a [`StrView`] or [`ValueRef`] points
//!   into a key's value, nothing the SDK offers can free or replace that value: its own key by
//!   the borrow checker, other handles and [`Ctx::call`] by a run-time check (`Err`).
//! - **A missing API is an error, not a crash.** The function table is filled from the running
//!   server; an entry it lacks yields [`Error::ApiUnavailable`], so a module loads on Redis 7.0
//!   and uses newer calls where present ([`api::available`]).
//! - **Zero overhead.** Arguments are borrowed as the server passed them (no copy, no retain);
//!   each wrapper is one call into the server, inlined into the command. `BENCHMARKS.md` holds
//!   the measurement against a C module making the same calls.
//!
//! # Layers
//! `ffi` ([`sys`], generated and raw; [`api`], the function table and availability; [`alloc`])
//! → the core handles ([`Ctx`], [`RStr`]/[`RString`], [`Key`], views, [`Error`]) → `boundary`
//! (the one panic catch every `extern "C"` callback runs under) → one folder per feature, each
//! with its own callbacks → modules. Imports point down only. See `ARCHITECTURE.md`.

// The layers, lowest first (ARCHITECTURE.md; `layers_check` enforces them): ffi, core handles,
// boundary, features; this file only declares and re-exports.
#[macro_use]
mod ffi;
pub use ffi::{alloc, api, sys};

mod args;
mod ctx;
mod error;
mod key;
mod send_string;
mod string;
mod thread;
mod view;

mod boundary;

mod acl;
mod blocked;
mod call;
pub mod cluster;
mod command_flags;
pub mod config;
mod datatype;
pub mod events;
mod filter;
mod info;
mod module;
mod scan;
mod spawn;
mod timer;

#[cfg(test)]
mod layers_check;

pub use acl::{KeyAccess, User};
pub use args::{Args, FromArg, Keyword};
pub use blocked::{BlockOptions, BlockedClient, BlockedReplyFn, BlockedTimeoutFn};
pub use boundary::{CommandFn, FixedCommandFn, LoadFn, UnloadFn};
pub use call::{
    Arg, Argv, CallArg, CallArgs, CallOptions, CallReply, CallValue, Elements, ElementsIter, Pairs,
    PairsIter, Reply, ReplyKind,
};
pub use command_flags::CommandFlags;
pub use config::{BoolConfig, EnumConfig, NumericConfig, StringConfig};
pub use ctx::{ClientInfo, Ctx, LogLevel, Postponed};
pub use datatype::defrag::{Defrag, DefragStatus};
pub use datatype::rdb::{RdbBuffer, RdbReader, RdbWriter};
pub use datatype::{AofWriter, AuxTriggers, AuxWhen, DataType, Digest};
pub use error::{Error, Result, WRONGTYPE_MESSAGE};
pub use events::NotifyFlags;
pub use filter::{CommandFilter, FilterArgs, FilterFlags, FilterFn};
pub use info::{InfoCtx, InfoFn, ServerInfo};
pub use key::{
    End, Key, KeyType, ScoreBound, StreamEntry, StreamId, StreamIter, StreamTrim, ZAdd, ZsetRange,
};
pub use module::{Command, Module};
pub use scan::ScanCursor;
pub use send_string::SendString;
pub use spawn::spawn;
pub use string::{RStr, RString};
pub use thread::{Locked, ThreadSafeContext};
pub use timer::every::{Every, EveryFn};
pub use timer::{TimerFn, TimerId};
pub use view::{StrView, StrViewMut, ValueMut, ValueRef};

#[doc(hidden)]
pub mod __private {
    pub use crate::module::load::{on_load, on_unload};
}

/// Exports a module: defines `RedisModule_OnLoad`, which the server calls on `--loadmodule`.
///
/// `$define` is a `fn() -> rm::Module`.
#[macro_export]
macro_rules! module {
    ($define:path) => {
        // Every callback catches panics and turns them into error replies or log lines; with
        // panic = "abort" there is nothing to catch, and the first panic would take the whole
        // server down without a word.
        #[cfg(panic = "abort")]
        compile_error!(
            "rs-rm modules must be built with panic = \"unwind\": under panic = \"abort\" the \
             first panic in module code aborts the whole Redis server instead of becoming an \
             error reply. Remove `panic = \"abort\"` from this crate's [profile] settings."
        );

        /// Called by the server to load the module.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn RedisModule_OnLoad(
            ctx: *mut $crate::sys::RedisModuleCtx,
            argv: *mut *mut $crate::sys::RedisModuleString,
            argc: ::std::ffi::c_int,
        ) -> ::std::ffi::c_int {
            // SAFETY: the server calls this once per load with its own arguments.
            unsafe { $crate::__private::on_load(ctx, argv, argc, $define) }
        }

        /// Called by the server on `MODULE UNLOAD`: runs the module's unload hooks.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn RedisModule_OnUnload(
            ctx: *mut $crate::sys::RedisModuleCtx,
        ) -> ::std::ffi::c_int {
            // SAFETY: the server calls this on MODULE UNLOAD with its own context.
            unsafe { $crate::__private::on_unload(ctx) }
        }
    };
}
