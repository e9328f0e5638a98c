//! Repeating timers: run a callback on the main thread every interval, with state of your own,
//! until stopped — built on one-shot [timers](crate::TimerId), re-armed after each run.
//!
//! ```no_run
//! use std::time::Duration;
//! use rm::{Ctx, Every, LogLevel, RStr, Result};
//!
//! /// Counts ticks; `TICKER.START` / `TICKER.STOP` (the handle kept in a static).
//! static TICKER: std::sync::Mutex<Option<Every<u64>>> = std::sync::Mutex::new(None);
//!
//! fn start(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     let every = ctx.every(Duration::from_secs(1), 0u64, |ctx: &Ctx, ticks: &mut u64| {
//!         *ticks += 1;
//!         ctx.log(LogLevel::Verbose, &format!("tick {ticks}"));
//!         Ok(())
//!     });
//!     *TICKER.lock().unwrap() = Some(every);
//!     ctx.reply_ok();
//!     Ok(())
//! }
//!
//! fn stop(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     let every = TICKER.lock().unwrap().take();
//!     let ticks = every.and_then(|every| ctx.stop_every(every));
//!     ctx.reply_integer(ticks.unwrap_or(0) as i64);
//!     Ok(())
//! }
//! ```

use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Result;
use crate::boundary::conjure;
use crate::ctx::{Ctx, LogLevel};
use crate::timer::TimerId;

/// A repeating timer's callback: gets the state mutably on the main thread. An `Err` is
/// logged and the timer goes on; a panic is logged and stops it (the state is dropped), so a
/// bug does not repeat forever.
///
/// It must be zero-sized (a function item or a closure capturing nothing): the state carries
/// the data.
pub trait EveryFn<T>: for<'a> Fn(&'a Ctx<'a>, &mut T) -> Result<()> + Copy + 'static {}

impl<T, F> EveryFn<T> for F where F: for<'a> Fn(&'a Ctx<'a>, &mut T) -> Result<()> + Copy + 'static {}

/// A running repeating timer, for [`Ctx::stop_every`]. `Copy`, `Send`: keep it anywhere.
pub struct Every<T> {
    serial: u64,
    _state: PhantomData<fn() -> T>,
}

impl<T> Clone for Every<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Every<T> {}

impl<T> std::fmt::Debug for Every<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Every")
            .field("serial", &self.serial)
            .finish()
    }
}

/// What the one-shot timer of the current round carries.
struct Round<T> {
    serial: u64,
    interval: Duration,
    state: T,
}

/// Where each repeating timer is: its pending one-shot timer, or inside its callback (the
/// state is out, being used), and whether it was asked to stop meanwhile.
#[derive(Clone, Copy)]
enum Phase {
    /// The pending timer (its id's parts: the server's number and our serial).
    Armed(TimerId<()>),
    Running {
        stop: bool,
    },
}

/// Every repeating timer by serial. Touched on the main thread only (commands, timers), so the
/// lock is never contended; a `Vec` because there are few and it needs no allocation to start.
static TIMERS: Mutex<Vec<(u64, Phase)>> = Mutex::new(Vec::new());
static SERIAL: AtomicU64 = AtomicU64::new(1);

fn with_timers<R>(f: impl FnOnce(&mut Vec<(u64, Phase)>) -> R) -> R {
    f(&mut TIMERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()))
}

fn phase_of(timers: &mut [(u64, Phase)], serial: u64) -> Option<&mut Phase> {
    timers
        .iter_mut()
        .find(|(s, _)| *s == serial)
        .map(|(_, phase)| phase)
}

impl<'a> Ctx<'a> {
    /// Runs `callback` with `state` every `interval` (whole milliseconds, at least 1), on the
    /// main thread, until [`Ctx::stop_every`]. Each round starts `interval` after the previous
    /// callback returned, so a slow callback never piles rounds up.
    pub fn every<T, F>(&self, interval: Duration, state: T, callback: F) -> Every<T>
    where
        T: Send + 'static,
        F: EveryFn<T>,
    {
        const { crate::boundary::stateless::<F>() };
        let _ = callback;
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let interval = interval.max(Duration::from_millis(1));
        let round = Round {
            serial,
            interval,
            state,
        };
        let id = self.create_timer(interval, round, fire::<T, F>);
        with_timers(|timers| timers.push((serial, Phase::Armed(id.erase()))));
        Every {
            serial,
            _state: PhantomData,
        }
    }

    /// Stops a repeating timer and gives its state back; `None` if it was stopped already, or
    /// when called from its own callback (the callback holds the state: the timer stops after
    /// it returns, and the state is dropped).
    pub fn stop_every<T: Send + 'static>(&self, every: Every<T>) -> Option<T> {
        let phase = with_timers(|timers| {
            let phase = phase_of(timers, every.serial)?;
            let now = *phase;
            match now {
                Phase::Running { .. } => *phase = Phase::Running { stop: true },
                Phase::Armed(_) => timers.retain(|(s, _)| *s != every.serial),
            }
            Some(now)
        })?;
        match phase {
            Phase::Armed(id) => self
                .stop_timer(id.restore::<Round<T>>())
                .map(|round| round.state),
            Phase::Running { .. } => None,
        }
    }
}

/// One round: run the callback, then arm the next round unless it was stopped meanwhile.
fn fire<T: Send + 'static, F: EveryFn<T>>(ctx: &Ctx<'_>, mut round: Round<T>) -> Result<()> {
    let serial = round.serial;
    let known = with_timers(|timers| match phase_of(timers, serial) {
        Some(phase) => {
            *phase = Phase::Running { stop: false };
            true
        }
        None => false,
    });
    if !known {
        return Ok(());
    }
    // A panic unwinds out of here: the timer's boundary logs it, the entry below is never
    // re-armed — remove it first so a stop finds nothing rather than a dead round.
    struct Forget(u64);
    impl Drop for Forget {
        fn drop(&mut self) {
            if std::thread::panicking() {
                with_timers(|timers| timers.retain(|(s, _)| *s != self.0));
            }
        }
    }
    let forget = Forget(serial);
    if let Err(error) = conjure::<F>()(ctx, &mut round.state) {
        ctx.log(
            LogLevel::Warning,
            &format!("repeating timer callback failed (it goes on): {error}"),
        );
    }
    drop(forget);
    let stop = with_timers(|timers| {
        matches!(
            phase_of(timers, serial),
            Some(Phase::Running { stop: true }) | None
        )
    });
    if stop {
        with_timers(|timers| timers.retain(|(s, _)| *s != serial));
        return Ok(());
    }
    let interval = round.interval;
    let id = ctx.create_timer(interval, round, fire::<T, F>);
    with_timers(|timers| {
        if let Some(phase) = phase_of(timers, serial) {
            *phase = Phase::Armed(id.erase());
        }
    });
    Ok(())
}
