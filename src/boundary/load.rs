//! The load-time state: whether the module is loading, the subscriptions held until its load
//! succeeded, the undo list of a failed load, and the unload hooks of a loaded module.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::events::{Subscription, apply, handlers};
use super::{UnloadFn, guard};
use crate::Result;
use crate::ctx::Ctx;
use crate::sys::RedisModuleEvent;

// ---- what a failed load leaves behind ----
//
// Redis 7.0 drops a failed module's commands and configs, but not its command filters, timers
// or event subscriptions, which would then call into the unloaded library. Subscriptions wait
// until the load succeeded (below); registrations that hand back a handle at once (filters,
// timers) leave an undo action here, run if the load fails.

type Undo = Box<dyn FnOnce(&Ctx<'_>) + Send>;

static LOAD_UNDO: std::sync::Mutex<Vec<Undo>> = std::sync::Mutex::new(Vec::new());

fn load_undo() -> std::sync::MutexGuard<'static, Vec<Undo>> {
    LOAD_UNDO
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Remembers how to take back a registration made while the module loads, should the load
/// fail. Outside a load it does nothing.
pub(crate) fn undo_if_load_fails(undo: impl FnOnce(&Ctx<'_>) + Send + 'static) {
    if loading() {
        load_undo().push(Box::new(undo));
    }
}

/// Called before the load hooks run.
pub(crate) fn begin_load() {
    load_undo().clear();
    begin_subscriptions();
}

/// Called once the load hooks and configs are done with their outcome; returns the load's
/// outcome, having taken back what the hooks registered if it failed.
pub(crate) fn end_load(ctx: &Ctx<'_>, outcome: Result<()>) -> Result<()> {
    let outcome = end_subscriptions(ctx, outcome);
    let undo = std::mem::take(&mut *load_undo());
    if outcome.is_err() {
        for action in undo.into_iter().rev() {
            guard("undoing a registration of a failed load", (), || {
                action(ctx)
            });
        }
    }
    outcome
}

// ---- subscriptions made while the module loads take effect once it has loaded ----

/// Whether the module is loading (load hooks running): subscriptions wait in `PENDING`.
static LOADING: AtomicBool = AtomicBool::new(false);
static PENDING: Mutex<Vec<Subscription>> = Mutex::new(Vec::new());

/// Whether the module's load hooks are running.
pub(crate) fn loading() -> bool {
    LOADING.load(Ordering::Relaxed)
}

pub(super) fn pending() -> MutexGuard<'static, Vec<Subscription>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Called before the load hooks run: subscriptions wait until the load succeeded.
fn begin_subscriptions() {
    pending().clear();
    LOADING.store(true, Ordering::Relaxed);
}

/// Called once the load hooks and configs are done: makes the pending subscriptions if the
/// load succeeded (server events first, which can be undone should one fail), drops them
/// otherwise. Returns the load's outcome.
fn end_subscriptions(ctx: &Ctx<'_>, outcome: Result<()>) -> Result<()> {
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

// ---- unload hooks ----

/// The unload hooks of the loaded module, recorded once its load succeeded.
pub(super) static UNLOAD_HOOKS: Mutex<Vec<UnloadFn>> = Mutex::new(Vec::new());

/// Records the hooks `RedisModule_OnUnload` runs (called once the load succeeded).
pub(crate) fn set_unload_hooks(hooks: Vec<UnloadFn>) {
    *UNLOAD_HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = hooks;
}
