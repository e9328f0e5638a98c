//! Module options (`RedisModule_SetModuleOptions`), which the SDK sets as features need them.

use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::ctx::Ctx;

/// The module options the SDK has set so far: `RedisModule_SetModuleOptions` replaces the whole
/// set, so each addition sends the union.
static MODULE_OPTIONS: AtomicI32 = AtomicI32::new(0);

/// Adds module options (`REDISMODULE_OPTIONS_*`) to those already set by the SDK.
pub(crate) fn add_module_options(ctx: &Ctx<'_>, options: c_int) {
    let all = MODULE_OPTIONS.fetch_or(options, Ordering::Relaxed) | options;
    // SAFETY: a live context of this module.
    unsafe { core_api!(SetModuleOptions)(ctx.as_ptr(), all) };
}
