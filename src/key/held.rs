//! An iteration whose state the server keeps in a key's handle (a stream iterator, a
//! sorted-set range): how it knows the handle is still the one it started on.
//!
//! Another handle's write to the same key, `Ctx::call`, a scan or a keyspace notification
//! closes and reopens this handle (see [`OpenKeys`](super::OpenKeys)), and the server drops
//! the iteration with the old handle. The iteration then answers `Err` instead of stopping
//! early as if the range had ended.

use super::Key;
use crate::ctx::open_keys::closed;
use crate::sys::RedisModuleKey;
use crate::{Error, Result};

/// The handle an iteration started on.
pub(super) struct Held {
    reopens: u32,
}

impl Key<'_> {
    /// Marks the handle as the one an iteration starts on now.
    pub(super) fn hold(&self) -> Held {
        Held {
            reopens: self.slot.reopens.get(),
        }
    }

    /// The server's handle, if it is still open and the one `held` started on.
    pub(super) fn held_ptr(&self, held: &Held) -> Option<*mut RedisModuleKey> {
        let raw = self.ptr();
        (self.slot.reopens.get() == held.reopens && !raw.is_null() && raw != closed())
            .then_some(raw)
    }

    /// As [`held_ptr`](Self::held_ptr), or the error an iteration step answers.
    pub(super) fn held_or_err(&self, held: &Held) -> Result<*mut RedisModuleKey> {
        self.held_ptr(held).ok_or_else(changed)
    }
}

/// The error of an iteration whose handle was reopened.
#[cold]
pub(super) fn changed() -> Error {
    Error::err(
        "the key changed during the iteration (written through another handle, or by a \
         command); start the iteration again",
    )
}
