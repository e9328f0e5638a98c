//! The cluster-bus message receiver: one trampoline per receiver type.

use std::ffi::{c_char, c_uchar};
use std::ptr::NonNull;

use crate::Result;
use crate::boundary::conjure;
use crate::cluster::NodeId;
use crate::ctx::Ctx;
use crate::events::callbacks::run_logged;
use crate::sys::RedisModuleCtx;

/// A cluster-message receiver: the context, the sender's id, the message type and its
/// payload. Zero-sized, like a command's action.
pub trait ClusterMessageFn:
    for<'a> Fn(&'a Ctx<'a>, &'a NodeId, u8, &'a [u8]) -> Result<()> + Copy + 'static
{
}

impl<F> ClusterMessageFn for F where
    F: for<'a> Fn(&'a Ctx<'a>, &'a NodeId, u8, &'a [u8]) -> Result<()> + Copy + 'static
{
}

/// The server-facing receiver of `F`.
///
/// # Safety
/// Called by the server only, with its live context, the sender's 40-byte id and a payload of
/// `len` bytes, valid for the call.
pub(crate) unsafe extern "C" fn cluster_message<F: ClusterMessageFn>(
    ctx: *mut RedisModuleCtx,
    sender: *const c_char,
    kind: u8,
    payload: *const c_uchar,
    len: u32,
) {
    let Some(raw) = NonNull::new(ctx) else {
        return;
    };
    // SAFETY: the server's live context for this call.
    let ctx = unsafe { Ctx::from_raw(raw) };
    // SAFETY: the sender's id: 40 readable bytes.
    let Some(sender) = (unsafe { NodeId::from_raw(sender) }) else {
        return;
    };
    let payload: &[u8] = if payload.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: `len` readable bytes for the call.
        unsafe { crate::api::c_array(payload, len as usize) }
    };
    let action = conjure::<F>();
    run_logged(&ctx, "cluster message receiver", || {
        action(&ctx, &sender, kind, payload)
    });
}
