//! Blocked clients: a command hands its work to another thread and answers later.
//!
//! [`Ctx::block_client`] blocks the calling client (the server goes on serving everyone else)
//! and returns a [`BlockedClient<T>`], which is `Send`. Whatever thread finishes the work calls
//! [`BlockedClient::unblock`] with the result, a `T`; on the main thread the server then runs
//! the reply callback, which gets the `T` and a normal `&Ctx` to reply with. The reply comes
//! only from there: the blocked client itself has no reply method, and a background thread
//! has no `Ctx` at all unless it holds the server lock (see
//! [`ThreadSafeContext`](crate::ThreadSafeContext)).
//!
//! ```no_run
//! use std::time::Duration;
//! use rm::{BlockOptions, Ctx, Error, RStr, Result};
//!
//! /// SLOWECHO text: answers `text` after a second, without blocking the server.
//! fn slow_echo(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let [_, text] = args else { return Err(Error::WrongArity) };
//!     let text = text.as_bytes().to_vec();
//!     let blocked = ctx.block_client(
//!         BlockOptions::new(reply)
//!             .timeout(Duration::from_secs(5), |_ctx: &Ctx| Err(Error::err("timeout"))),
//!     )?;
//!     std::thread::spawn(move || {
//!         std::thread::sleep(Duration::from_secs(1)); // network, disk, …
//!         blocked.unblock(text);
//!     });
//!     Ok(()) // no reply here: the reply callback answers
//! }
//!
//! fn reply(ctx: &Ctx, text: Vec<u8>) -> Result<()> {
//!     ctx.reply_bulk(&text);
//!     Ok(())
//! }
//! ```
//!
//! # What happens to the value
//! The `T` handed to `unblock` is dropped exactly once, on the main thread: by the reply
//! callback (it receives it by value), or — when the client timed out or disconnected before
//! the value arrived, so there is no one to reply to — by the SDK right after. A
//! `BlockedClient` dropped without `unblock` (the thread returned early, or panicked) still
//! unblocks its client, which gets `ERR background work ended without a result`: a client never
//! hangs because a thread forgot it.
//!
//! # Rules the types enforce
//! A blocked client is unblocked once:
//!
//! Checked by `tests/ui/blocked_unblocked_twice.rs`.
//!
//! It cannot reply from the thread:
//!
//! Checked by `tests/ui/blocked_replies_from_thread.rs`.
//!
//! The value must be `Send`: a server string cannot be smuggled to the main thread in it.
//!
//! Checked by `tests/ui/blocked_value_not_send.rs`.
//!
//! And the reply callback's `Ctx` is lent for the callback only:
//!
//! Checked by `tests/ui/blocked_reply_ctx_kept.rs`.

use std::ffi::c_longlong;
use std::marker::PhantomData;
use std::ptr::{self, NonNull};
use std::time::Duration;

use crate::ctx::{ClientState, Ctx};
use crate::sys::{self, RedisModuleBlockedClient, RedisModuleCmdFunc};
use crate::{Error, Result};

mod callbacks;

/// The longest timeout or timer delay, in milliseconds (about 31 years): the server adds it to
/// the current time, which must not overflow.
pub(crate) const MAX_MS: i64 = 1_000_000_000_000;

/// What a client whose [`BlockedClient`] was dropped without a value gets.
pub(crate) const NO_RESULT: &str = "background work ended without a result";

/// The reply callback of a blocked client: gets the value passed to
/// [`BlockedClient::unblock`] and replies, on the main thread. An `Err` is replied as the error
/// it displays; a panic is logged and replied as `ERR panic: <message>`.
///
/// Like a command's action it must be zero-sized (a function item or a closure capturing
/// nothing): the value carries the data.
pub trait BlockedReplyFn<T>: for<'a> Fn(&'a Ctx<'a>, T) -> Result<()> + Copy + 'static {}

impl<T, F> BlockedReplyFn<T> for F where F: for<'a> Fn(&'a Ctx<'a>, T) -> Result<()> + Copy + 'static
{}

/// The timeout callback of a blocked client: replies when no value came in time. It must
/// reply (or return `Err`, which is replied); an `Err` or a panic is handled as for commands.
pub trait BlockedTimeoutFn: for<'a> Fn(&'a Ctx<'a>) -> Result<()> + Copy + 'static {}

impl<F> BlockedTimeoutFn for F where F: for<'a> Fn(&'a Ctx<'a>) -> Result<()> + Copy + 'static {}

/// How to block a client: its reply callback and, optionally, a timeout with its callback.
///
/// ```no_run
/// use std::time::Duration;
/// use rm::{BlockOptions, Ctx, Result};
///
/// fn reply(ctx: &Ctx, n: i64) -> Result<()> {
///     ctx.reply_integer(n);
///     Ok(())
/// }
/// fn timed_out(ctx: &Ctx) -> Result<()> {
///     ctx.reply_null();
///     Ok(())
/// }
/// let options = BlockOptions::new(reply).timeout(Duration::from_millis(500), timed_out);
/// ```
pub struct BlockOptions<T> {
    reply: RedisModuleCmdFunc,
    on_timeout: RedisModuleCmdFunc,
    timeout_ms: c_longlong,
    _value: PhantomData<fn(T)>,
}

impl<T: Send + 'static> BlockOptions<T> {
    /// Block until [`BlockedClient::unblock`] (or the `BlockedClient`'s drop), then reply
    /// through `on_reply`. No timeout.
    pub fn new<R>(on_reply: R) -> BlockOptions<T>
    where
        R: for<'a> Fn(&'a Ctx<'a>, T) -> Result<()> + Copy + 'static,
    {
        const { crate::boundary::stateless::<R>() };
        let _ = on_reply;
        BlockOptions {
            reply: Some(callbacks::blocked_reply::<T, R>),
            on_timeout: None,
            timeout_ms: 0,
            _value: PhantomData,
        }
    }

    /// Give up after `after`: `on_timeout` replies instead, and a value that arrives later is
    /// dropped unseen. A zero duration means no timeout; anything shorter than a millisecond
    /// counts as one, and it is capped at about 31 years.
    pub fn timeout<O>(self, after: Duration, on_timeout: O) -> BlockOptions<T>
    where
        O: for<'a> Fn(&'a Ctx<'a>) -> Result<()> + Copy + 'static,
    {
        const { crate::boundary::stateless::<O>() };
        let _ = on_timeout;
        let ms = after.as_nanos().div_ceil(1_000_000);
        let timeout_ms = c_longlong::try_from(ms).map_or(MAX_MS, |ms| ms.min(MAX_MS));
        BlockOptions {
            on_timeout: (timeout_ms > 0).then_some(callbacks::blocked_timeout::<O> as _),
            timeout_ms,
            ..self
        }
    }
}

/// A client blocked by [`Ctx::block_client`], waiting for a `T`. `Send`: move it to the thread
/// doing the work, which calls [`unblock`](BlockedClient::unblock) once done.
///
/// Dropping it without `unblock` unblocks the client with the error
/// `ERR background work ended without a result`.
#[must_use = "dropping a BlockedClient unblocks its client at once, with an error reply"]
pub struct BlockedClient<T: Send + 'static> {
    raw: NonNull<RedisModuleBlockedClient>,
    _value: PhantomData<fn(T)>,
}

// SAFETY: the server lets any thread unblock a blocked client, once, which is all this handle
// does (it consumes itself); the value it carries is `Send`.
unsafe impl<T: Send + 'static> Send for BlockedClient<T> {}

impl<T: Send + 'static> BlockedClient<T> {
    /// Unblocks the client with `value`: the reply callback gets it on the main thread. Callable
    /// from any thread, without the server lock.
    pub fn unblock(self, value: T) {
        let slot = Box::into_raw(Box::new(Some(value)));
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        // SAFETY: a blocked client not yet unblocked (this handle was its only owner and is
        // consumed). The server hands `slot` to the reply callback and then to `blocked_free`,
        // which reclaims the box once.
        unsafe { core_api!(UnblockClient)(raw, slot.cast()) };
    }
}

impl<T: Send + 'static> Drop for BlockedClient<T> {
    fn drop(&mut self) {
        // SAFETY: a blocked client not yet unblocked; no value: the reply callback sees NULL
        // and replies the "no result" error.
        unsafe { core_api!(UnblockClient)(self.raw.as_ptr(), ptr::null_mut()) };
    }
}

impl<'a> Ctx<'a> {
    /// Blocks the client that called this command; the reply comes from `options`' reply (or
    /// timeout) callback. Once the client is blocked the command must not reply: an `Err` or
    /// a panic after blocking is logged, not replied (the callback's reply is the one the
    /// client gets; a `BlockedClient` dropped without a value answers the "no result" error).
    ///
    /// `Err` where the client cannot block: inside `MULTI`, a script or a module's
    /// `RedisModule_Call` (`ERR this client cannot be blocked here (MULTI, script or module
    /// call)`; a call that allows blocking, the `K` flag of Redis 7.2+, may block), from a context that is not a client's command (timers, the reply callback
    /// itself, a thread-safe context), or when the client is blocked already. The module can
    /// then do the work in place.
    ///
    /// ```no_run
    /// use rm::{BlockOptions, Ctx, RStr, Result};
    ///
    /// fn reply(ctx: &Ctx, sum: u64) -> Result<()> {
    ///     ctx.reply_integer(sum as i64);
    ///     Ok(())
    /// }
    ///
    /// /// BG.SUM n: sums 1..=n on another thread.
    /// fn bg_sum(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let n = args[1].parse_i64()?.max(0) as u64;
    ///     let blocked = ctx.block_client(BlockOptions::new(reply))?;
    ///     std::thread::spawn(move || blocked.unblock((1..=n).sum()));
    ///     Ok(())
    /// }
    /// ```
    pub fn block_client<T: Send + 'static>(
        &self,
        options: BlockOptions<T>,
    ) -> Result<BlockedClient<T>> {
        self.check_can_block()?;
        // SAFETY: a live context of a command called by a connected, unblocked client
        // (checked); the callbacks match the server's signatures and `blocked_free::<T>` frees
        // exactly what `unblock` hands over.
        let raw = unsafe {
            core_api!(BlockClient)(
                self.as_ptr(),
                options.reply,
                options.on_timeout,
                Some(callbacks::blocked_free::<T>),
                options.timeout_ms,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| Error::err("the server did not block"))?;
        // The reply now belongs to the callbacks: an `Err` or a panic after this point is
        // logged by the boundary, never sent as a second reply.
        self.mark_replied();
        self.mark_blocked();
        Ok(BlockedClient {
            raw,
            _value: PhantomData,
        })
    }

    /// `Ok` if this context belongs to a command run by a connected client that may block.
    fn check_can_block(&self) -> Result<()> {
        // SAFETY: a live context.
        let flags = unsafe { core_api!(GetContextFlags)(self.as_ptr()) };
        let denied = sys::REDISMODULE_CTX_FLAGS_MULTI
            | sys::REDISMODULE_CTX_FLAGS_LUA
            | sys::REDISMODULE_CTX_FLAGS_DENY_BLOCKING;
        if flags & denied != 0 {
            return Err(Error::err(
                "this client cannot be blocked here (MULTI, script or module call)",
            ));
        }
        // Only a command's own context has a client that a connection (or, from 7.2, a
        // module's blocking-allowed `RedisModule_Call`) waits on; every other callback runs
        // with a temporary client of the server's. The fake clients that run commands for
        // `RedisModule_Call`, AOF loading, scripts and MULTI are refused by the flags above.
        // While a command runs, its client is blocked only if this callback blocked it. (The
        // SDK tracks both rather than asking the server: `GetClientInfoById` formats the
        // client's address, ~2000 instructions.)
        match self.client_state() {
            ClientState::Command => {}
            ClientState::Blocked => return Err(Error::err("the client is blocked already")),
            ClientState::NotCommand => {
                return Err(Error::err("only a client's command can block the client"));
            }
        }
        Ok(())
    }
}
