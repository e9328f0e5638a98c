//! Keyspace-notification, server-event and post-notification-job callbacks. (The decoding of
//! each server event's data is the feature's: `crate::events::decode`.)

use std::ffi::{c_char, c_int, c_void};

use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::api::c_str;
use crate::boundary::{catch, conjure, guard, loading};
use crate::ctx::{Ctx, LogLevel};
use crate::events::{NotifyFlags, ServerEvent};
use crate::string::RStr;
use crate::sys::{self, RedisModuleCtx, RedisModuleEvent, RedisModuleString};
use crate::{Error, Result};

/// A keyspace-notification callback: the context, the notification's class, the event name
/// (`set`, `del`, `expired`, …) and the key. Zero-sized, like a command's action.
pub trait KeyspaceFn:
    for<'a> Fn(&'a Ctx<'a>, NotifyFlags, &'a str, &'a RStr) -> Result<()> + Copy + 'static
{
}

impl<F> KeyspaceFn for F where
    F: for<'a> Fn(&'a Ctx<'a>, NotifyFlags, &'a str, &'a RStr) -> Result<()> + Copy + 'static
{
}

/// A callback for the server event `E`: the context and the event's data
/// ([`ServerEvent::Info`]). Zero-sized, like a command's action.
pub trait ServerEventFn<E: ServerEvent>:
    for<'a> Fn(&'a Ctx<'a>, E::Info<'a>) -> Result<()> + Copy + 'static
{
}

impl<E: ServerEvent, F> ServerEventFn<E> for F where
    F: for<'a> Fn(&'a Ctx<'a>, E::Info<'a>) -> Result<()> + Copy + 'static
{
}

/// Runs module code that cannot reply: an `Err` or a panic becomes a warning in the server
/// log, through `ctx` (so the line names the module).
pub(crate) fn run_logged(ctx: &Ctx<'_>, what: &str, body: impl FnOnce() -> Result<()>) {
    let line = match catch(body) {
        Ok(Ok(())) => return,
        Ok(Err(error)) => format!("{what} failed: {error}"),
        Err(caught) => format!("{what} panicked: {caught}"),
    };
    ctx.log(LogLevel::Warning, &line);
}

// ---- subscriptions: made at once, or held while the module loads (see load.rs) ----

/// A subscription with the server, made at once or, during load, once the load succeeded:
/// Redis 7.0 does not drop the subscriptions of a module whose load fails, and would call
/// into the unloaded library.
#[derive(Clone, Copy)]
pub(crate) enum Subscription {
    /// `RedisModule_SubscribeToKeyspaceEvents`.
    Keyspace(c_int, sys::RedisModuleNotificationFunc),
    /// `RedisModule_SubscribeToServerEvent` with the dispatcher, for this event id.
    ServerEvent(u64),
    /// `RedisModule_RegisterClusterMessageReceiver`.
    ClusterReceiver(u8, sys::RedisModuleClusterMessageReceiver),
}

/// Makes `subscription` now, or, while the module loads, once it has loaded.
pub(crate) fn subscribe(ctx: &Ctx<'_>, subscription: Subscription) -> Result<()> {
    if loading() {
        pending().push(subscription);
        Ok(())
    } else {
        apply(ctx, subscription)
    }
}

pub(super) fn apply(ctx: &Ctx<'_>, subscription: Subscription) -> Result<()> {
    let status = match subscription {
        // SAFETY: live context; the callback is a `'static` function.
        Subscription::Keyspace(types, callback) => unsafe {
            core_api!(SubscribeToKeyspaceEvents)(ctx.as_ptr(), types, callback)
        },
        Subscription::ServerEvent(id) => {
            let event = RedisModuleEvent { id, dataver: 1 };
            // SAFETY: live context; the dispatcher is a `'static` function.
            unsafe { core_api!(SubscribeToServerEvent)(ctx.as_ptr(), event, Some(server_event)) }
        }
        Subscription::ClusterReceiver(kind, callback) => {
            // SAFETY: live context; the callback is a `'static` function.
            unsafe { core_api!(RegisterClusterMessageReceiver)(ctx.as_ptr(), kind, callback) };
            sys::REDISMODULE_OK
        }
    };
    if status == sys::REDISMODULE_OK {
        return Ok(());
    }
    Err(match subscription {
        Subscription::ServerEvent(id) => {
            Error::err(format!("this server does not offer the server event {id}"))
        }
        _ => Error::err("the server refused the subscription"),
    })
}

/// The server-facing keyspace-notification callback of `F`.
///
/// # Safety
/// Called by the server only, with its live context, a NUL-terminated event name and a live
/// key string, all valid for the call.
pub(crate) unsafe extern "C" fn keyspace<F: KeyspaceFn>(
    ctx: *mut RedisModuleCtx,
    kind: c_int,
    event: *const c_char,
    key: *mut RedisModuleString,
) -> c_int {
    let (Some(raw), false) = (NonNull::new(ctx), key.is_null()) else {
        return sys::REDISMODULE_OK;
    };
    // SAFETY: the server's live context for this call.
    let ctx = unsafe { Ctx::from_raw(raw) };
    // SAFETY: a NUL-terminated string (or NULL) valid for the call.
    let event = unsafe { c_str(event) };
    // SAFETY: a live key name for the call, not modified while the callback runs.
    let key = unsafe { RStr::from_raw(key) };
    let action = conjure::<F>();
    run_logged(&ctx, "keyspace notification callback", || {
        action(&ctx, NotifyFlags::from_bits(kind), event, key)
    });
    sys::REDISMODULE_OK
}

/// Runs the job `F` boxed by `Ctx::add_post_notification_job`.
///
/// # Safety
/// Called by the server only, with its live context and the job's privdata, a
/// `Box<Option<F>>` not freed yet.
pub(crate) unsafe extern "C" fn post_notification_job<F>(ctx: *mut RedisModuleCtx, pd: *mut c_void)
where
    F: for<'b> FnOnce(&'b Ctx<'b>) -> Result<()> + 'static,
{
    let Some(raw) = NonNull::new(ctx) else {
        return;
    };
    // SAFETY: the server's live context for this call.
    let ctx = unsafe { Ctx::from_raw(raw) };
    // SAFETY: `pd` is the leaked `Box<Option<F>>`; the server calls this at most once, before
    // the free callback, on the main thread: no other reference to it exists now.
    let slot = unsafe { &mut *pd.cast::<Option<F>>() };
    if let Some(job) = slot.take() {
        run_logged(&ctx, "post-notification job", || job(&ctx));
    }
}

/// Frees the job `F` boxed by `Ctx::add_post_notification_job` (run or not).
///
/// # Safety
/// Called by the server only, once, with the job's privdata.
pub(crate) unsafe extern "C" fn free_post_notification_job<F: 'static>(pd: *mut c_void) {
    guard("post-notification job (free)", (), || {
        // SAFETY: `pd` came from `Box::into_raw` and the server frees it exactly once, here.
        drop(unsafe { Box::from_raw(pd.cast::<Option<F>>()) })
    });
}

// ---- server events: one server callback per event, dispatching to every subscriber ----

/// A subscriber: builds the context, decodes the data for its event and runs its action.
type Handler = unsafe fn(*mut RedisModuleCtx, u64, *mut c_void);

/// Every subscription of this module: (event id, handler), in subscription order.
static HANDLERS: Mutex<Vec<(u64, Handler)>> = Mutex::new(Vec::new());

pub(super) fn handlers() -> MutexGuard<'static, Vec<(u64, Handler)>> {
    HANDLERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds `handler` for the event `id`; subscribes the dispatcher with the server on the
/// event's first subscriber (the server keeps one callback per module and event).
pub(crate) fn subscribe_server_event(
    ctx: &Ctx<'_>,
    id: u64,
    name: &str,
    handler: Handler,
) -> Result<()> {
    let first = !handlers().iter().any(|(known, _)| *known == id);
    if first {
        subscribe(ctx, Subscription::ServerEvent(id))
            .map_err(|_| Error::err(format!("this server does not offer the {name} event")))?;
    }
    handlers().push((id, handler));
    Ok(())
}

/// The one server-event callback: runs every handler subscribed to the event, in order.
///
/// # Safety
/// Called by the server only, with its live context and the event's data.
unsafe extern "C" fn server_event(
    ctx: *mut RedisModuleCtx,
    event: RedisModuleEvent,
    subevent: u64,
    data: *mut c_void,
) {
    // The lock is not held while a handler runs: a handler may subscribe more.
    let mut index = 0;
    loop {
        let handler = handlers()
            .iter()
            .filter(|(id, _)| *id == event.id)
            .nth(index)
            .map(|&(_, handler)| handler);
        let Some(handler) = handler else {
            break;
        };
        // SAFETY: the server's arguments for this event, passed on as they came.
        unsafe { handler(ctx, subevent, data) };
        index += 1;
    }
}

/// The handler of action `F` for the event `E`.
///
/// # Safety
/// `ctx`, `subevent` and `data` are what the server passed with an `E` event.
pub(crate) unsafe fn server_event_handler<E: ServerEvent, F: ServerEventFn<E>>(
    ctx: *mut RedisModuleCtx,
    subevent: u64,
    data: *mut c_void,
) {
    let Some(raw) = NonNull::new(ctx) else {
        return;
    };
    // SAFETY: the server's live context for this call.
    let ctx = unsafe { Ctx::from_raw(raw) };
    let action = conjure::<F>();
    run_logged(&ctx, E::NAME, || {
        // SAFETY: the data the server passed with this event, valid for the call.
        match unsafe { E::decode(subevent, data) } {
            Some(info) => action(&ctx, info),
            None => Ok(()), // a sub-event newer than this SDK
        }
    });
}

// ---- subscriptions made while the module loads take effect once it has loaded ----

static PENDING: Mutex<Vec<Subscription>> = Mutex::new(Vec::new());

fn pending() -> MutexGuard<'static, Vec<Subscription>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Called before the load hooks run: subscriptions wait until the load succeeded.
pub(crate) fn begin_subscriptions() {
    pending().clear();
}

/// Called once the load hooks and configs are done: makes the pending subscriptions if the
/// load succeeded (server events first, which can be undone should one fail), drops them
/// otherwise. Returns the load's outcome.
pub(crate) fn end_subscriptions(ctx: &Ctx<'_>, outcome: Result<()>) -> Result<()> {
    let subscriptions = std::mem::take(&mut *pending());
    if let Err(error) = outcome {
        handlers().clear();
        return Err(error);
    }
    let (events, others): (Vec<Subscription>, Vec<Subscription>) = subscriptions
        .into_iter()
        .partition(|s| matches!(s, Subscription::ServerEvent(_)));
    let mut done: Vec<u64> = Vec::new();
    for subscription in events {
        if let Err(error) = apply(ctx, subscription) {
            for id in done {
                let event = RedisModuleEvent { id, dataver: 1 };
                // SAFETY: live context; a NULL callback unsubscribes.
                unsafe { core_api!(SubscribeToServerEvent)(ctx.as_ptr(), event, None) };
            }
            handlers().clear();
            return Err(error);
        }
        if let Subscription::ServerEvent(id) = subscription {
            done.push(id);
        }
    }
    others
        .into_iter()
        .try_for_each(|subscription| apply(ctx, subscription))
}
