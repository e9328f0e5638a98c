//! The scan of a key's elements (hash fields, set and sorted-set members).

use std::ffi::c_void;

use super::ScanCursor;
use super::callbacks::{self, Fields};
use crate::key::{Key, KeyType};
use crate::string::RStr;
use crate::{Error, Result};

impl Key<'_> {
    /// Calls `visit` with every element of a hash (field, `Some(value)`), set (member,
    /// `None`) or sorted set (member, `Some(score)` as text), in no particular order. A
    /// missing key has none; other types are `Err(WRONGTYPE)`. An `Err` from `visit` stops
    /// and is returned.
    ///
    /// The elements are copied out before `visit` first runs, so it may change the key.
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn field_bytes(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let key = ctx.open_key(args[1]);
    ///     let mut total = 0;
    ///     key.scan_fields(|field, value| {
    ///         total += field.as_bytes().len() + value.map_or(0, |v| v.as_bytes().len());
    ///         Ok(())
    ///     })?;
    ///     ctx.reply_integer(total as i64);
    ///     Ok(())
    /// }
    /// ```
    pub fn scan_fields(
        &self,
        mut visit: impl FnMut(&RStr, Option<&RStr>) -> Result<()>,
    ) -> Result<()> {
        match self.key_type() {
            KeyType::Hash | KeyType::Set | KeyType::ZSet => {}
            KeyType::Empty => return Ok(()),
            _ => return Err(Error::WrongType),
        }
        let cursor = ScanCursor::new();
        let mut fields: Fields = Vec::new();
        // SAFETY: an open key of a scannable type and a live cursor; the callback only
        // appends to `fields`, which lives across the calls and is not otherwise touched
        // during them. No module code runs between the steps, so the key cannot change.
        unsafe {
            while core_api!(ScanKey)(
                self.ptr(),
                cursor.raw.as_ptr(),
                Some(callbacks::collect_field),
                (&raw mut fields).cast::<c_void>(),
            ) != 0
            {}
        }
        drop(cursor);
        for (field, value) in &fields {
            visit(field, value.as_deref())?;
        }
        Ok(())
    }
}
