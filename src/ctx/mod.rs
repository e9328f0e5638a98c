//! The context of one command call: replies, replication, logging and opening keys.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_int, c_long};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx};
use crate::view;
use crate::{Error, Result};

pub(crate) mod open_keys;

use open_keys::OpenKeys;

/// The context of one callback. It is only ever lent (`&Ctx<'a>`) for the callback's duration:
/// nothing borrowed from it can outlive the call, and it cannot leave the main thread.
///
/// A context cannot be kept past its callback: `tests/ui/ctx_kept.rs` (each `tests/ui/` case
/// is a mistake with the compiler error it must give, beside a twin in `tests/ui/ok/` that
/// compiles).
///
/// Nor sent to another thread: `tests/ui/ctx_shared.rs`.
///
/// Nor can an argument or an open key: `tests/ui/arg_kept.rs`.
pub struct Ctx<'a> {
    raw: NonNull<RedisModuleCtx>,
    /// How many borrowed views of key values were alive when the callback began; any made
    /// during it are gone when it ends (they borrow this context), so `Drop` forgets the
    /// records of leaked ones (see `view`).
    views_at_entry: usize,
    /// The key handles open in this callback (see [`Key`]).
    open_keys: OpenKeys,
    /// Whether anything was replied: the boundary then never sends a second reply for an `Err`
    /// or a panic (one byte store per reply call).
    replied: Cell<bool>,
    /// Whether this is a command's context, and whether it blocked its client
    /// ([`Ctx::block_client`]): see [`ClientState`].
    client: Cell<ClientState>,
    // Tied to the callback ('a may only shrink) and neither Send nor Sync.
    _callback: PhantomData<(&'a RedisModuleCtx, *mut u8)>,
}

/// A context's client, as far as blocking it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientState {
    /// Not a command's context (a timer, an event, a reply callback, a thread-safe context):
    /// its client is the server's temporary one, which nothing would unblock.
    NotCommand,
    /// A command's context whose client is not blocked.
    Command,
    /// A command's context that blocked its client.
    Blocked,
}

/// Server log levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `verbose`
    Verbose,
    /// `notice`
    Notice,
    /// `warning`
    Warning,
}

impl LogLevel {
    fn as_cstr(self) -> &'static CStr {
        match self {
            LogLevel::Debug => c"debug",
            LogLevel::Verbose => c"verbose",
            LogLevel::Notice => c"notice",
            LogLevel::Warning => c"warning",
        }
    }
}

/// A reply aggregate whose length is set once its elements are known; see
/// [`Ctx::reply_postponed_array`].
#[must_use = "the length of a postponed reply must be set, or the client reads a broken reply"]
#[derive(Debug)]
pub struct Postponed {
    kind: Aggregate,
}

#[derive(Debug, Clone, Copy)]
enum Aggregate {
    Array,
    Map,
    Set,
}

impl<'a> Ctx<'a> {
    /// Wraps the context the server passed to a callback.
    ///
    /// # Safety
    /// `raw` must be the live context of the callback now running, valid for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(raw: NonNull<RedisModuleCtx>) -> Ctx<'a> {
        Ctx {
            raw,
            views_at_entry: view::live(),
            open_keys: OpenKeys::new(),
            replied: Cell::new(false),
            client: Cell::new(ClientState::NotCommand),
            _callback: PhantomData,
        }
    }

    #[inline(always)]
    pub(crate) fn open_keys(&self) -> &OpenKeys {
        &self.open_keys
    }

    /// Records a reply sent by a method outside this file.
    #[inline(always)]
    pub(crate) fn mark_replied(&self) {
        self.replied.set(true);
    }

    /// Records that the server called this context's callback as a command (the command
    /// boundary does).
    #[inline(always)]
    pub(crate) fn mark_command(&self) {
        self.client.set(ClientState::Command);
    }

    /// Records that this callback blocked its client.
    #[inline(always)]
    pub(crate) fn mark_blocked(&self) {
        self.client.set(ClientState::Blocked);
    }

    /// What this context's client may do ([`Ctx::block_client`]'s check).
    #[inline(always)]
    pub(crate) fn client_state(&self) -> ClientState {
        self.client.get()
    }

    /// Whether this callback has replied anything yet.
    #[inline(always)]
    pub(crate) fn has_replied(&self) -> bool {
        self.replied.get()
    }

    /// The C context, for calls into [`crate::sys`] the SDK does not wrap.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut RedisModuleCtx {
        self.raw.as_ptr()
    }

    // ---- keys: Ctx::open_key is in key/ ----

    // ---- replies: exactly one per command call (aggregates count their elements) ----

    /// `+OK`.
    #[inline(always)]
    pub fn reply_ok(&self) {
        self.reply_simple(c"OK");
    }

    /// A simple string (`+...`). It must not contain CR or LF; any that it has are sent as
    /// spaces, so the protocol stays intact.
    #[inline]
    pub fn reply_simple(&self, text: &CStr) {
        self.replied.set(true);
        if text.to_bytes().contains(&b'\r') || text.to_bytes().contains(&b'\n') {
            let fixed: Vec<u8> = text
                .to_bytes()
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            let fixed = CString::new(fixed).expect("a CStr has no NUL inside");
            // SAFETY: live context, NUL-terminated string copied by the server.
            unsafe { core_api!(ReplyWithSimpleString)(self.as_ptr(), fixed.as_ptr()) };
            return;
        }
        // SAFETY: live context, NUL-terminated string copied by the server.
        unsafe { core_api!(ReplyWithSimpleString)(self.as_ptr(), text.as_ptr()) };
    }

    /// An error reply from an [`Error`] (`ERR ...`, `WRONGTYPE ...`). Commands usually return
    /// `Err(..)` instead and let the boundary reply; this is for errors inside an aggregate.
    pub fn reply_error(&self, error: &Error) {
        self.replied.set(true);
        if *error == Error::WrongArity {
            // SAFETY: live context; the server writes its own arity message for this command.
            unsafe { core_api!(WrongArity)(self.as_ptr()) };
            return;
        }
        if *error == Error::WrongType {
            // SAFETY: live context and a static NUL-terminated message.
            unsafe { core_api!(ReplyWithError)(self.as_ptr(), WRONGTYPE_C.as_ptr()) };
            return;
        }
        // Display never has CR/LF; a NUL inside a message would cut it, so drop any.
        let mut line = error.to_string().into_bytes();
        line.retain(|&b| b != 0);
        let line = CString::new(line).expect("NUL bytes were removed");
        // SAFETY: live context, NUL-terminated line copied by the server.
        unsafe { core_api!(ReplyWithError)(self.as_ptr(), line.as_ptr()) };
    }

    /// An integer (`:n`).
    #[inline(always)]
    pub fn reply_integer(&self, value: i64) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithLongLong)(self.as_ptr(), value) };
    }

    /// A double: RESP3 double, or a bulk string on RESP2.
    #[inline(always)]
    pub fn reply_double(&self, value: f64) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithDouble)(self.as_ptr(), value) };
    }

    /// A boolean: RESP3 boolean, or the integer 1/0 on RESP2.
    #[inline(always)]
    pub fn reply_bool(&self, value: bool) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithBool)(self.as_ptr(), c_int::from(value)) };
    }

    /// A bulk string with these bytes (binary-safe).
    #[inline(always)]
    pub fn reply_bulk(&self, bytes: &[u8]) {
        self.replied.set(true);
        // SAFETY: live context; the buffer is valid for its length and copied.
        unsafe {
            core_api!(ReplyWithStringBuffer)(
                self.as_ptr(),
                bytes.as_ptr().cast::<c_char>(),
                bytes.len(),
            )
        };
    }

    /// A bulk string holding a Redis string, without copying it first.
    #[inline(always)]
    pub fn reply_string(&self, string: &RStr) {
        self.replied.set(true);
        // SAFETY: live context and live string.
        unsafe { core_api!(ReplyWithString)(self.as_ptr(), string.as_ptr()) };
    }

    /// A verbatim string (RESP3) with a three-letter format such as `txt` or `mkd`; a bulk
    /// string on RESP2.
    pub fn reply_verbatim(&self, text: &[u8], format: &str) -> Result<()> {
        let format = CString::new(format)
            .ok()
            .filter(|f| f.as_bytes().len() == 3)
            .ok_or_else(|| Error::err("verbatim format must be three characters"))?;
        self.replied.set(true);
        // SAFETY: live context; buffers valid for their lengths and copied.
        unsafe {
            core_api!(ReplyWithVerbatimStringType)(
                self.as_ptr(),
                text.as_ptr().cast::<c_char>(),
                text.len(),
                format.as_ptr(),
            )
        };
        Ok(())
    }

    /// A big number (RESP3), a bulk string on RESP2. `digits` must be a decimal integer.
    pub fn reply_big_number(&self, digits: &str) -> Result<()> {
        let valid = {
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit())
        };
        if !valid {
            return Err(Error::err("big number must be a decimal integer"));
        }
        self.replied.set(true);
        // SAFETY: live context; the buffer is valid for its length and copied.
        unsafe {
            core_api!(ReplyWithBigNumber)(
                self.as_ptr(),
                digits.as_ptr().cast::<c_char>(),
                digits.len(),
            )
        };
        Ok(())
    }

    /// The null reply (`$-1` on RESP2, `_` on RESP3).
    #[inline(always)]
    pub fn reply_null(&self) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithNull)(self.as_ptr()) };
    }

    /// An array of `len` elements; the next `len` replies are its elements. Compute what can
    /// fail first: once the array has begun, an `Err` cannot be sent (the boundary logs it, as
    /// for any error after a reply), and the client would wait for the missing elements.
    #[inline(always)]
    pub fn reply_array(&self, len: usize) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithArray)(self.as_ptr(), to_len(len)) };
    }

    /// A map of `len` key/value pairs (`2 * len` replies follow); a flat array on RESP2.
    #[inline(always)]
    pub fn reply_map(&self, len: usize) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithMap)(self.as_ptr(), to_len(len)) };
    }

    /// A set of `len` elements; an array on RESP2.
    #[inline(always)]
    pub fn reply_set(&self, len: usize) {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithSet)(self.as_ptr(), to_len(len)) };
    }

    /// An array whose length is set later with [`Ctx::set_postponed_len`].
    #[inline]
    pub fn reply_postponed_array(&self) -> Postponed {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithArray)(self.as_ptr(), POSTPONED) };
        Postponed {
            kind: Aggregate::Array,
        }
    }

    /// A map whose pair count is set later with [`Ctx::set_postponed_len`].
    #[inline]
    pub fn reply_postponed_map(&self) -> Postponed {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithMap)(self.as_ptr(), POSTPONED) };
        Postponed {
            kind: Aggregate::Map,
        }
    }

    /// A set whose length is set later with [`Ctx::set_postponed_len`].
    #[inline]
    pub fn reply_postponed_set(&self) -> Postponed {
        self.replied.set(true);
        // SAFETY: live context.
        unsafe { core_api!(ReplyWithSet)(self.as_ptr(), POSTPONED) };
        Postponed {
            kind: Aggregate::Set,
        }
    }

    /// Sets the length of the innermost postponed aggregate still open (the server's rule).
    #[inline]
    pub fn set_postponed_len(&self, postponed: Postponed, len: usize) {
        let ctx = self.as_ptr();
        let len = to_len(len);
        // SAFETY: live context; a postponed aggregate of this kind was opened in this call.
        unsafe {
            match postponed.kind {
                Aggregate::Array => core_api!(ReplySetArrayLength)(ctx, len),
                Aggregate::Map => core_api!(ReplySetMapLength)(ctx, len),
                Aggregate::Set => core_api!(ReplySetSetLength)(ctx, len),
            }
        }
    }

    /// Whether the calling client speaks RESP3 (maps, sets, doubles arrive typed).
    #[inline]
    pub fn is_resp3(&self) -> bool {
        // SAFETY: live context.
        let flags = unsafe { core_api!(GetContextFlags)(self.as_ptr()) };
        flags & sys::REDISMODULE_CTX_FLAGS_RESP3 != 0
    }

    // ---- replication and logging ----

    /// Replicates the command as the client sent it, to replicas and the AOF.
    #[inline(always)]
    pub fn replicate_verbatim(&self) {
        // SAFETY: live context.
        unsafe { core_api!(ReplicateVerbatim)(self.as_ptr()) };
    }

    /// Runs a command that answers an integer (`SADD`, `SREM`, …) through `RedisModule_Call`,
    /// in the caller's database, replicated with the calling command.
    ///
    /// Unlike [`Ctx::call`], it runs while views are alive: its callers run set commands on a
    /// key they checked is a set (or empty), which has no views (see `Key::set_add`).
    pub(crate) fn call_integer(&self, command: &CStr, args: &[&RStr]) -> Result<i64> {
        let _reopen = self.open_keys.close_all(self);
        // SAFETY: live context; "v" takes an array of string pointers and its length. The
        // reply, if any, is ours and freed below.
        unsafe {
            let reply = core_api!(Call)(
                self.as_ptr(),
                command.as_ptr(),
                c"v".as_ptr(),
                args.as_ptr(),
                args.len(),
            );
            if reply.is_null() {
                return Err(Error::err("command could not be run"));
            }
            let outcome = match core_api!(CallReplyType)(reply) {
                sys::REDISMODULE_REPLY_INTEGER => Ok(core_api!(CallReplyInteger)(reply)),
                sys::REDISMODULE_REPLY_ERROR => {
                    let mut len = 0usize;
                    let text = core_api!(CallReplyStringPtr)(reply, &mut len);
                    let text = std::slice::from_raw_parts(text.cast::<u8>(), len);
                    Err(Error::Coded(
                        String::from_utf8_lossy(text).into_owned().into(),
                    ))
                }
                _ => Err(Error::err("unexpected reply type")),
            };
            core_api!(FreeCallReply)(reply);
            outcome
        }
    }

    /// The server's clock: the Unix time in milliseconds (`RedisModule_Milliseconds`), the
    /// base of absolute expiry times ([`Key::set_abs_expire`](crate::Key::set_abs_expire)).
    #[inline]
    pub fn milliseconds(&self) -> i64 {
        // SAFETY: no arguments; the table is loaded while a context lives.
        unsafe { core_api!(Milliseconds)() }
    }

    /// Writes a line to the server log (at or above its `loglevel`).
    pub fn log(&self, level: LogLevel, message: &str) {
        log_raw(self.as_ptr(), level, message);
    }

    /// The calling client's connection: id, peer address, Unix socket or TLS.
    ///
    /// `Err` where no connection called (a timer, a thread-safe context, a module's own call).
    ///
    /// ```no_run
    /// # use rm::{Ctx, Error, RStr, Result};
    /// fn local_only(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     if !ctx.client_info()?.is_local() {
    ///         return Err(Error::err("only from this machine"));
    ///     }
    ///     ctx.reply_ok();
    ///     Ok(())
    /// }
    /// ```
    pub fn client_info(&self) -> Result<ClientInfo> {
        // SAFETY: a live context.
        let id = unsafe { core_api!(GetClientId)(self.as_ptr()) };
        let mut info = sys::RedisModuleClientInfo {
            version: 1,
            ..Default::default()
        };
        // SAFETY: `info` is a version-1 client info the server fills in.
        let found = id != 0
            && unsafe { core_api!(GetClientInfoById)(std::ptr::from_mut(&mut info).cast(), id) }
                == sys::REDISMODULE_OK;
        if !found {
            return Err(Error::err("no calling client connection"));
        }
        // The address is a fixed buffer, NUL-terminated unless full.
        let addr: Vec<u8> = info
            .addr
            .iter()
            .map(|&c| c as u8)
            .take_while(|&b| b != 0)
            .collect();
        let flags = info.flags;
        Ok(ClientInfo {
            id: info.id,
            addr: String::from_utf8_lossy(&addr).into_owned(),
            port: info.port,
            db: info.db,
            tls: flags & sys::REDISMODULE_CLIENTINFO_FLAG_SSL as u64 != 0,
            unix_socket: flags & sys::REDISMODULE_CLIENTINFO_FLAG_UNIXSOCKET as u64 != 0,
        })
    }
}

/// A client's connection, from [`Ctx::client_info`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client id (`CLIENT ID`).
    pub id: u64,
    /// The peer's IP address (for a Unix socket, whatever the server reports: not an IP).
    pub addr: String,
    /// The peer's TCP port.
    pub port: u16,
    /// The selected database.
    pub db: u16,
    /// Over TLS.
    pub tls: bool,
    /// Over a Unix socket.
    pub unix_socket: bool,
}

impl ClientInfo {
    /// Whether the client is on this machine as the server counts it for settings such as
    /// `enable-module-command local`: a Unix socket, or the peer address `127.0.0.1` or `::1`.
    pub fn is_local(&self) -> bool {
        self.unix_socket || self.addr == "127.0.0.1" || self.addr == "::1"
    }
}

/// A detached context of the loaded module, for log lines of callbacks the server gives no
/// context (timers, data-type callbacks…): the server then names the module in them, where a
/// NULL context shows `<module>`. Made once the module is registered.
static LOG_CONTEXT: AtomicPtr<RedisModuleCtx> = AtomicPtr::new(std::ptr::null_mut());

/// Records a context to log through when none is given (see [`LOG_CONTEXT`]).
///
/// # Safety
/// `ctx` must be the live load context of the module, after `RedisModule_Init`.
pub(crate) unsafe fn set_log_context(ctx: *mut RedisModuleCtx) {
    if LOG_CONTEXT.load(Ordering::Acquire).is_null() {
        // SAFETY: as the caller guarantees; a detached context lives until freed, which we
        // never do (one per loaded module, logging only).
        let detached = unsafe { core_api!(GetDetachedThreadSafeContext)(ctx) };
        LOG_CONTEXT.store(detached, Ordering::Release);
    }
}

/// Frees the log context ([`set_log_context`]) when the module unloads.
pub(crate) fn clear_log_context() {
    let detached = LOG_CONTEXT.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if !detached.is_null() {
        // SAFETY: the detached context `set_log_context` made, taken out of the static so
        // nothing logs through it any more; freed once.
        unsafe { core_api!(FreeThreadSafeContext)(detached) };
    }
}

/// Logs through the server with or without a context (without one, through the module's
/// detached log context, or as `<module>` before the module is registered).
pub(crate) fn log_raw(ctx: *mut RedisModuleCtx, level: LogLevel, message: &str) {
    let ctx = if ctx.is_null() {
        LOG_CONTEXT.load(Ordering::Acquire)
    } else {
        ctx
    };
    let mut bytes = message.as_bytes().to_vec();
    bytes.retain(|&b| b != 0);
    let message = CString::new(bytes).expect("NUL bytes were removed");
    // SAFETY: the context is live or NULL (allowed); "%s" with a NUL-terminated string.
    unsafe {
        core_api!(Log)(
            ctx,
            level.as_cstr().as_ptr(),
            c"%s".as_ptr(),
            message.as_ptr(),
        )
    };
}

impl Drop for Ctx<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        view::restore(self.views_at_entry);
        self.open_keys.end();
    }
}

const POSTPONED: c_long = sys::REDISMODULE_POSTPONED_LEN as c_long;

static WRONGTYPE_C: &CStr = c"WRONGTYPE Operation against a key holding the wrong kind of value";

#[inline(always)]
fn to_len(len: usize) -> c_long {
    c_long::try_from(len).unwrap_or(c_long::MAX)
}
