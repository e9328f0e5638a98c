//! Keyspace-notification, server-event and post-notification-job callbacks, and the decoding
//! of the data the server passes with each server event.

use std::ffi::{CStr, c_char, c_int, c_void};

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{catch, conjure, guard};
use crate::ctx::{Ctx, LogLevel};
use crate::events::{
    ClientChangeKind, ClientEvent, ConfigChangeInfo, CronInfo, FlushInfo, FlushPhase, LoadingPhase,
    MasterLink, ModuleEvent, NotifyFlags, PersistencePhase, ReplicaState, Role, ServerEvent,
    SwapDbInfo,
};
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

// ---- subscriptions made while the module loads take effect once it has loaded ----

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

/// Whether the module is loading (load hooks running): subscriptions wait in `PENDING`.
static LOADING: AtomicBool = AtomicBool::new(false);
static PENDING: Mutex<Vec<Subscription>> = Mutex::new(Vec::new());

/// Whether the module's load hooks are running.
pub(crate) fn loading() -> bool {
    LOADING.load(Ordering::Relaxed)
}

fn pending() -> MutexGuard<'static, Vec<Subscription>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes `subscription` now, or, while the module loads, once it has loaded.
pub(crate) fn subscribe(ctx: &Ctx<'_>, subscription: Subscription) -> Result<()> {
    if LOADING.load(Ordering::Relaxed) {
        pending().push(subscription);
        Ok(())
    } else {
        apply(ctx, subscription)
    }
}

fn apply(ctx: &Ctx<'_>, subscription: Subscription) -> Result<()> {
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

/// Called before the load hooks run: subscriptions wait until the load succeeded.
pub(crate) fn begin_load() {
    pending().clear();
    LOADING.store(true, Ordering::Relaxed);
}

/// Called once the load hooks and configs are done: makes the pending subscriptions if the
/// load succeeded (server events first, which can be undone should one fail), drops them
/// otherwise. Returns the load's outcome.
pub(crate) fn end_load(ctx: &Ctx<'_>, outcome: Result<()>) -> Result<()> {
    LOADING.store(false, Ordering::Relaxed);
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

fn handlers() -> MutexGuard<'static, Vec<(u64, Handler)>> {
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

// ---- decoding each event's data ----

/// A C string as `&str` (`""` for NULL or invalid UTF-8).
///
/// # Safety
/// `text` is NULL or NUL-terminated and valid for `'a`.
unsafe fn c_str<'a>(text: *const c_char) -> &'a str {
    if text.is_null() {
        return "";
    }
    // SAFETY: as the caller guarantees.
    unsafe { CStr::from_ptr(text) }.to_str().unwrap_or("")
}

/// The event's data as a `T`.
///
/// # Safety
/// `data` is NULL or points to a `T` valid for `'a`.
unsafe fn data<'a, T>(data: *mut c_void) -> Option<&'a T> {
    // SAFETY: as the caller guarantees.
    unsafe { data.cast::<T>().as_ref() }
}

fn sub(subevent: u64) -> c_int {
    c_int::try_from(subevent).unwrap_or(c_int::MAX)
}

/// # Safety
/// The data of a flush event.
pub(crate) unsafe fn decode_flush(subevent: u64, raw: *mut c_void) -> Option<FlushInfo> {
    let phase = match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_FLUSHDB_START => FlushPhase::Start,
        sys::REDISMODULE_SUBEVENT_FLUSHDB_END => FlushPhase::End,
        _ => return None,
    };
    // SAFETY: the server passes a `RedisModuleFlushInfo` with flush events.
    let info = unsafe { data::<sys::RedisModuleFlushInfo>(raw) }?;
    Some(FlushInfo {
        phase,
        sync: info.sync != 0,
        db: (info.dbnum >= 0).then_some(info.dbnum),
    })
}

/// # Safety
/// The data of a loading event (none).
pub(crate) unsafe fn decode_loading(subevent: u64, _raw: *mut c_void) -> Option<LoadingPhase> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_LOADING_RDB_START => LoadingPhase::RdbStart,
        sys::REDISMODULE_SUBEVENT_LOADING_AOF_START => LoadingPhase::AofStart,
        sys::REDISMODULE_SUBEVENT_LOADING_REPL_START => LoadingPhase::ReplStart,
        sys::REDISMODULE_SUBEVENT_LOADING_ENDED => LoadingPhase::Ended,
        sys::REDISMODULE_SUBEVENT_LOADING_FAILED => LoadingPhase::Failed,
        _ => return None,
    })
}

/// # Safety
/// The data of a client-change event, valid for `'a`.
pub(crate) unsafe fn decode_client<'a>(subevent: u64, raw: *mut c_void) -> Option<ClientEvent<'a>> {
    let change = match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_CLIENT_CHANGE_CONNECTED => ClientChangeKind::Connected,
        sys::REDISMODULE_SUBEVENT_CLIENT_CHANGE_DISCONNECTED => ClientChangeKind::Disconnected,
        _ => return None,
    };
    // SAFETY: the server passes a `RedisModuleClientInfo` (version 1) with client events.
    let info = unsafe { data::<sys::RedisModuleClientInfo>(raw) }?;
    // The address is a fixed buffer, NUL-terminated unless full.
    let addr: &[u8] =
        // SAFETY: `c_char` and `u8` have the same layout; the array lives as long as `info`.
        unsafe { std::slice::from_raw_parts(info.addr.as_ptr().cast::<u8>(), info.addr.len()) };
    let end = addr.iter().position(|&b| b == 0).unwrap_or(addr.len());
    let flags = info.flags;
    Some(ClientEvent {
        change,
        id: info.id,
        addr: std::str::from_utf8(&addr[..end]).unwrap_or(""),
        port: info.port,
        db: info.db,
        tls: flags & sys::REDISMODULE_CLIENTINFO_FLAG_SSL as u64 != 0,
        unix_socket: flags & sys::REDISMODULE_CLIENTINFO_FLAG_UNIXSOCKET as u64 != 0,
    })
}

/// # Safety
/// The data of a role-change event, valid for `'a`.
pub(crate) unsafe fn decode_role<'a>(subevent: u64, raw: *mut c_void) -> Option<Role<'a>> {
    match sub(subevent) {
        sys::REDISMODULE_EVENT_REPLROLECHANGED_NOW_MASTER => Some(Role::Master),
        sys::REDISMODULE_EVENT_REPLROLECHANGED_NOW_REPLICA => {
            // SAFETY: the server passes a `RedisModuleReplicationInfo` with role changes.
            let info = unsafe { data::<sys::RedisModuleReplicationInfo>(raw) }?;
            Some(Role::Replica {
                // SAFETY: a NUL-terminated host name owned by the server for the call.
                host: unsafe { c_str(info.masterhost) },
                port: u16::try_from(info.masterport).unwrap_or(0),
            })
        }
        _ => None,
    }
}

/// # Safety
/// The data of a cron-loop event.
pub(crate) unsafe fn decode_cron(_subevent: u64, raw: *mut c_void) -> Option<CronInfo> {
    // SAFETY: the server passes a `RedisModuleCronLoopInfo` with cron events.
    let info = unsafe { data::<sys::RedisModuleCronLoopInfo>(raw) }?;
    Some(CronInfo { hz: info.hz })
}

/// # Safety
/// The data of a shutdown event (none).
pub(crate) unsafe fn decode_shutdown(_subevent: u64, _raw: *mut c_void) -> Option<()> {
    Some(())
}

/// # Safety
/// The data of a persistence event (none).
pub(crate) unsafe fn decode_persistence(
    subevent: u64,
    _raw: *mut c_void,
) -> Option<PersistencePhase> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_RDB_START => PersistencePhase::RdbStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_AOF_START => PersistencePhase::AofStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_SYNC_RDB_START => PersistencePhase::SyncRdbStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_SYNC_AOF_START => PersistencePhase::SyncAofStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_ENDED => PersistencePhase::Ended,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_FAILED => PersistencePhase::Failed,
        _ => return None,
    })
}

/// # Safety
/// The data of a master-link event (none).
pub(crate) unsafe fn decode_master_link(subevent: u64, _raw: *mut c_void) -> Option<MasterLink> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_MASTER_LINK_UP => MasterLink::Up,
        sys::REDISMODULE_SUBEVENT_MASTER_LINK_DOWN => MasterLink::Down,
        _ => return None,
    })
}

/// # Safety
/// The data of a replica-change event (none).
pub(crate) unsafe fn decode_replica(subevent: u64, _raw: *mut c_void) -> Option<ReplicaState> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_REPLICA_CHANGE_ONLINE => ReplicaState::Online,
        sys::REDISMODULE_SUBEVENT_REPLICA_CHANGE_OFFLINE => ReplicaState::Offline,
        _ => return None,
    })
}

/// # Safety
/// The data of a swap-db event.
pub(crate) unsafe fn decode_swapdb(_subevent: u64, raw: *mut c_void) -> Option<SwapDbInfo> {
    // SAFETY: the server passes a `RedisModuleSwapDbInfo` with swap-db events.
    let info = unsafe { data::<sys::RedisModuleSwapDbInfo>(raw) }?;
    Some(SwapDbInfo {
        first: info.dbnum_first,
        second: info.dbnum_second,
    })
}

/// # Safety
/// The data of a module-change event, valid for `'a`.
pub(crate) unsafe fn decode_module<'a>(subevent: u64, raw: *mut c_void) -> Option<ModuleEvent<'a>> {
    let loaded = match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_MODULE_LOADED => true,
        sys::REDISMODULE_SUBEVENT_MODULE_UNLOADED => false,
        _ => return None,
    };
    // SAFETY: the server passes a `RedisModuleModuleChange` with module events.
    let info = unsafe { data::<sys::RedisModuleModuleChange>(raw) }?;
    Some(ModuleEvent {
        loaded,
        // SAFETY: a NUL-terminated name owned by the server for the call.
        name: unsafe { c_str(info.module_name) },
        version: info.module_version,
    })
}

/// # Safety
/// The data of a config-change event, valid for `'a`.
pub(crate) unsafe fn decode_config<'a>(
    _subevent: u64,
    raw: *mut c_void,
) -> Option<ConfigChangeInfo<'a>> {
    // SAFETY: the server passes a `RedisModuleConfigChange` with config events.
    let info = unsafe { data::<sys::RedisModuleConfigChange>(raw) }?;
    let names = if info.config_names.is_null() {
        Vec::new()
    } else {
        // SAFETY: `num_changes` NUL-terminated names, valid for the call.
        unsafe { crate::api::c_array(info.config_names, info.num_changes as usize) }
            .iter()
            // SAFETY: each is a NUL-terminated name valid for the call.
            .map(|&name| unsafe { c_str(name) })
            .collect()
    };
    Some(ConfigChangeInfo { names })
}
