//! Timers: run a callback on the main thread after a delay, with data of your own.
//!
//! [`Ctx::create_timer`] moves the data into the server; it comes back exactly once, either to
//! the callback when the timer fires or to [`Ctx::stop_timer`] when it is stopped first. A
//! [`TimerId<T>`] remembers the data's type, so stopping returns a `T`, and an id whose timer
//! has fired or been stopped finds nothing (even if the server reuses the number).
//!
//! ```no_run
//! use std::time::Duration;
//! use rm::{Ctx, RStr, RString, Result};
//!
//! /// EXPIRELATER key value ms: sets the key to the value after `ms` milliseconds.
//! fn set_later(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let [_, key, value, ms] = args else { return Err(rm::Error::WrongArity) };
//!     let data = (key.as_bytes().to_vec(), value.as_bytes().to_vec());
//!     let after = Duration::from_millis(ms.parse_i64()?.max(0) as u64);
//!     let _id = ctx.create_timer(after, data, fire);
//!     ctx.reply_ok();
//!     Ok(())
//! }
//!
//! fn fire(ctx: &Ctx, (key, value): (Vec<u8>, Vec<u8>)) -> Result<()> {
//!     let name = RString::from_bytes(&key);
//!     ctx.open_key_writable(&name).string_set(&RString::from_bytes(&value))
//! }
//! ```
//!
//! The timer's `Ctx` is lent for the callback only:
//!
//! Checked by `tests/ui/timer_ctx_kept.rs`.

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Result;
use crate::blocked::MAX_MS;
mod callbacks;
pub(crate) mod every;
use crate::ctx::Ctx;
use crate::sys::{self, RedisModuleTimerID, mstime_t};

/// A timer's callback: gets the timer's data on the main thread. An `Err` is logged as a
/// warning; a panic is caught and logged.
///
/// It must be zero-sized (a function item or a closure capturing nothing): the data carries
/// the state.
pub trait TimerFn<T>: for<'a> Fn(&'a Ctx<'a>, T) -> Result<()> + Copy + 'static {}

impl<T, F> TimerFn<T> for F where F: for<'a> Fn(&'a Ctx<'a>, T) -> Result<()> + Copy + 'static {}

/// A pending timer, for [`Ctx::stop_timer`] and [`Ctx::timer_remaining`]. `Copy`; knows the
/// type of its data.
pub struct TimerId<T> {
    raw: RedisModuleTimerID,
    serial: u64,
    _data: PhantomData<fn() -> T>,
}

impl<T> TimerId<T> {
    /// The id without its data type, for a table of timers of several types.
    pub(crate) fn erase(self) -> TimerId<()> {
        TimerId {
            raw: self.raw,
            serial: self.serial,
            _data: PhantomData,
        }
    }
}

impl TimerId<()> {
    /// The id of [`TimerId::erase`] with its data type again. Only the serial matters for
    /// safety: [`Ctx::stop_timer`] checks it before it trusts the type.
    pub(crate) fn restore<T>(self) -> TimerId<T> {
        TimerId {
            raw: self.raw,
            serial: self.serial,
            _data: PhantomData,
        }
    }
}

impl<T> Clone for TimerId<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for TimerId<T> {}

impl<T> PartialEq for TimerId<T> {
    fn eq(&self, other: &Self) -> bool {
        self.serial == other.serial
    }
}

impl<T> Eq for TimerId<T> {}

impl<T> fmt::Debug for TimerId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerId")
            .field("raw", &self.raw)
            .field("serial", &self.serial)
            .finish()
    }
}

/// What the server holds for a timer: the data, behind a serial number that tells this timer
/// from any later one given the same id. `repr(C)` puts the serial first whatever `T` is, so
/// it can be read before the type is known to match.
#[repr(C)]
pub(crate) struct TimerSlot<T> {
    serial: u64,
    pub(crate) value: T,
}

/// Serial numbers for timers, unique within the process.
static SERIAL: AtomicU64 = AtomicU64::new(1);

impl<'a> Ctx<'a> {
    /// Runs `callback` with `data` once, on the main thread, after `after` (rounded down to
    /// whole milliseconds, capped at about 31 years). The data is dropped exactly once: by the
    /// callback, or by whoever [stops](Ctx::stop_timer) the timer and gets it back.
    ///
    /// ```no_run
    /// # fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    /// use std::time::Duration;
    /// let id = ctx.create_timer(Duration::from_secs(1), 42u32, |ctx: &rm::Ctx, n: u32| {
    ///     ctx.log(rm::LogLevel::Notice, &format!("timer fired with {n}"));
    ///     Ok(())
    /// });
    /// assert_eq!(ctx.stop_timer(id), Some(42)); // changed our mind
    /// # Ok(()) }
    /// ```
    pub fn create_timer<T, F>(&self, after: Duration, data: T, callback: F) -> TimerId<T>
    where
        T: Send + 'static,
        F: for<'b> Fn(&'b Ctx<'b>, T) -> Result<()> + Copy + 'static,
    {
        const { crate::boundary::stateless::<F>() };
        let _ = callback;
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let slot = Box::into_raw(Box::new(TimerSlot {
            serial,
            value: data,
        }));
        let period = mstime_t::try_from(after.as_millis()).map_or(MAX_MS, |ms| ms.min(MAX_MS));
        // SAFETY: a live context (main thread or under the lock); the server hands `slot` back
        // exactly once: to `boundary::timer::<T, F>`, or to `stop_timer`.
        let raw = unsafe {
            core_api!(CreateTimer)(
                self.as_ptr(),
                period,
                Some(callbacks::timer::<T, F>),
                slot.cast(),
            )
        };
        let id = TimerId {
            raw,
            serial,
            _data: PhantomData,
        };
        // A timer of a failed load would fire into the unloaded library.
        crate::boundary::undo_if_load_fails(move |ctx| drop(ctx.stop_timer(id)));
        id
    }

    /// Stops a pending timer and gives its data back; `None` if it has fired or was stopped.
    pub fn stop_timer<T: Send + 'static>(&self, id: TimerId<T>) -> Option<T> {
        self.timer_slot(id)?;
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: a live context; the timer is ours (checked above).
        let status = unsafe { core_api!(StopTimer)(self.as_ptr(), id.raw, &mut data) };
        if status != sys::REDISMODULE_OK || data.is_null() {
            return None;
        }
        // SAFETY: the timer's data is the `TimerSlot<T>` `create_timer` boxed (its serial
        // matched, and serials are unique), and the server has just given it up: ours again.
        let slot = unsafe { Box::from_raw(data.cast::<TimerSlot<T>>()) };
        Some(slot.value)
    }

    /// How long until a pending timer fires; `None` if it has fired or was stopped.
    pub fn timer_remaining<T>(&self, id: TimerId<T>) -> Option<Duration> {
        self.timer_slot(id).map(Duration::from_millis)
    }

    /// The remaining milliseconds of timer `id` if it is still the timer `id` was made for.
    fn timer_slot<T>(&self, id: TimerId<T>) -> Option<u64> {
        let mut remaining = 0u64;
        let mut data: *mut c_void = ptr::null_mut();
        // SAFETY: a live context; the server writes both outputs only for a timer of this
        // module.
        let status =
            unsafe { core_api!(GetTimerInfo)(self.as_ptr(), id.raw, &mut remaining, &mut data) };
        if status != sys::REDISMODULE_OK || data.is_null() {
            return None;
        }
        // SAFETY: every timer of this module carries a `TimerSlot` made by `create_timer` (safe
        // code has no other way to make one), whose first field is the serial.
        let serial = unsafe { data.cast::<u64>().read() };
        (serial == id.serial).then_some(remaining)
    }
}
