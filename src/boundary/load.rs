//! The load-time state: whether the module is loading, the undo list of a failed load, and the
//! unload hooks of a loaded module. (The subscriptions held until the load succeeded are the
//! events feature's: `end_load` applies them through the function it is given.)

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{UnloadFn, guard};
use crate::Result;
use crate::ctx::Ctx;

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
    LOADING.store(true, Ordering::Relaxed);
}

/// Called once the load hooks and configs are done with their outcome; returns the load's
/// outcome, having taken back what the hooks registered if it failed. `held` first applies
/// what waited for the outcome (the events feature's subscriptions).
pub(crate) fn end_load(
    ctx: &Ctx<'_>,
    outcome: Result<()>,
    held: impl FnOnce(&Ctx<'_>, Result<()>) -> Result<()>,
) -> Result<()> {
    LOADING.store(false, Ordering::Relaxed);
    let outcome = held(ctx, outcome);
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

// ---- whether the module is loading (subscriptions made meanwhile wait: events/callbacks.rs)

static LOADING: AtomicBool = AtomicBool::new(false);

pub(crate) fn loading() -> bool {
    LOADING.load(Ordering::Relaxed)
}

// ---- unload hooks ----

/// The unload hooks of the loaded module, recorded once its load succeeded.
pub(crate) static UNLOAD_HOOKS: Mutex<Vec<UnloadFn>> = Mutex::new(Vec::new());

/// Records the hooks `RedisModule_OnUnload` runs (called once the load succeeded).
pub(crate) fn set_unload_hooks(hooks: Vec<UnloadFn>) {
    *UNLOAD_HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = hooks;
}
