//! Typed access to a key's value: strings, hashes, lists, sets and sorted sets.

use std::ffi::{CStr, c_int, c_void};
use std::ptr::{self, NonNull};

use super::{End, Key, KeyType, ZAdd};
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleString};
use crate::view::{StrView, StrViewMut};
use crate::{Error, Result};

impl<'a> Key<'a> {
    // ---- strings ----

    /// The string value's bytes, read in place: a [`StrView`] that derefs to `[u8]`. Empty for
    /// a missing key.
    ///
    /// While the view lives, the value cannot be freed or replaced (see [`StrView`]): drop it
    /// (or copy it out with `to_vec()`) before writing to the key or calling a command.
    /// `Err(WrongType)` for a key of another type; `Err` if a view made through another handle
    /// lends the value mutably ([`Key::string_buffer_mut`]).
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn strlen_plus(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let key = ctx.open_key(args[1]);
    ///     let bytes = key.string_get()?;
    ///     ctx.reply_integer(bytes.len() as i64 + 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn string_get(&self) -> Result<StrView<'_>> {
        self.expect_type(KeyType::String)?;
        if self.absent() {
            return Ok(StrView::empty());
        }
        let _reopen = self.before_write();
        let mut len = 0usize;
        // SAFETY: an open string (or empty) key.
        let data = unsafe { core_api!(StringDMA)(self.ptr(), &mut len, sys::REDISMODULE_READ) };
        match NonNull::new(data.cast::<u8>()) {
            // SAFETY: the value's buffer of `len` bytes. It stays valid and unmodified while
            // the view lives: this handle cannot free or change it (those methods take
            // `&mut self`, and the view borrows `self`), and every other way of doing so
            // consults the view's record and refuses.
            Some(data) if len > 0 => unsafe { StrView::new(data, len) },
            _ => Ok(StrView::empty()),
        }
    }

    /// Sets the key to a string value (replacing any type, like `SET`).
    ///
    /// Takes `&mut self`, unlike the element writes ([`Key::hash_set`], [`Key::list_push`], …):
    /// it frees the old value, which a view made through this handle
    /// ([`Key::string_get`]) may still be reading, so the borrow checker must see it as a write
    /// of the handle. `Err` while a view of the old value made through another handle is alive (see
    /// [`StrView`]).
    pub fn string_set(&mut self, value: &RStr) -> Result<()> {
        self.require_writable()?;
        self.ensure_value_unviewed("replace the key's value")?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable key and a live string.
        let status = unsafe { core_api!(StringSet)(self.ptr(), value.as_ptr()) };
        Self::check(status, "could not set string")
    }

    /// Resizes the string value to `len` bytes (zero-padded) and lends its buffer for writing
    /// in place: a [`StrViewMut`] that derefs to `mut [u8]`.
    ///
    /// `Err` while a view of the value made through another handle is alive (resizing moves
    /// the buffer); while the returned view lives, no other view of the value can be made and
    /// the value cannot be freed or replaced (see [`StrView`]).
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn upcase(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let mut key = ctx.open_key_writable(args[1]);
    ///     let len = key.len();
    ///     key.string_buffer_mut(len)?.make_ascii_uppercase();
    ///     ctx.reply_ok();
    ///     Ok(())
    /// }
    /// ```
    pub fn string_buffer_mut(&mut self, len: usize) -> Result<StrViewMut<'_>> {
        self.require_writable()?;
        self.expect_type(KeyType::String)?;
        self.ensure_value_unviewed("resize the string")?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable, string-or-empty key.
        let status = unsafe { core_api!(StringTruncate)(self.ptr(), len) };
        Self::check(status, "string exceeds maximum allowed size")?;
        let mut got = 0usize;
        // SAFETY: as above.
        let data = unsafe {
            core_api!(StringDMA)(
                self.ptr(),
                &mut got,
                sys::REDISMODULE_READ | sys::REDISMODULE_WRITE,
            )
        };
        match NonNull::new(data.cast::<u8>()) {
            // SAFETY: the value's buffer of `got` writable bytes (a write-mode DMA unshares
            // it). It stays valid and is touched by nothing else while the view lives: this
            // handle is borrowed mutably by the view, and every other way of reaching the value
            // consults the view's record and refuses.
            Some(data) if got > 0 => unsafe { StrViewMut::new(data, got) },
            _ => Ok(StrViewMut::empty()),
        }
    }

    // ---- hashes ----
    //
    // `&self` even for writes: a view exists only of a string or module value, and HashSet on
    // a key of another type fails without touching it. Deleting the last field deletes the key,
    // which then held a hash, of which there are no views.

    /// The value of one hash field, or `None`.
    #[inline(always)]
    pub fn hash_get(&self, field: &RStr) -> Result<Option<RString>> {
        if self.absent() {
            return Ok(None);
        }
        let mut value: *mut RedisModuleString = ptr::null_mut();
        // SAFETY: an open key; the variadic list is (field, out-pointer) pairs ended by NULL,
        // as the API documents. The server hands us one reference, which RString releases.
        let status = unsafe {
            core_api!(HashGet)(
                self.ptr(),
                sys::REDISMODULE_HASH_NONE,
                field.as_ptr(),
                &mut value as *mut *mut RedisModuleString,
                ptr::null_mut::<c_void>(),
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(self.hash_error());
        }
        // SAFETY: a non-NULL result is a new reference we own.
        Ok(NonNull::new(value).map(|raw| unsafe { RString::from_raw(raw) }))
    }

    /// The values of several fields at once, in order.
    pub fn hash_get_many(&self, fields: &[&RStr]) -> Result<Vec<Option<RString>>> {
        fields.iter().map(|field| self.hash_get(field)).collect()
    }

    /// Whether the hash has this field.
    pub fn hash_exists(&self, field: &RStr) -> Result<bool> {
        if self.absent() {
            return Ok(false);
        }
        let mut exists: c_int = 0;
        // SAFETY: an open key; with HASH_EXISTS the out-pointer is an int.
        let status = unsafe {
            core_api!(HashGet)(
                self.ptr(),
                sys::REDISMODULE_HASH_EXISTS,
                field.as_ptr(),
                &mut exists as *mut c_int,
                ptr::null_mut::<c_void>(),
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(self.hash_error());
        }
        Ok(exists != 0)
    }

    /// Sets a hash field (creating the hash if needed). Returns whether the field existed and
    /// was overwritten.
    ///
    /// Takes `&self`, as every element operation on hashes, lists, sets and sorted sets does:
    /// views exist only of string and module values, and this fails (`WRONGTYPE`) without
    /// touching a key of another type, so no view can dangle. Writes that replace or free the
    /// whole value ([`Key::string_set`], [`Key::set_value`], [`Key::delete`]) take `&mut self`.
    #[inline(always)]
    pub fn hash_set(&self, field: &RStr, value: &RStr) -> Result<bool> {
        self.hash_set_raw(sys::REDISMODULE_HASH_NONE, field.as_ptr(), value.as_ptr())
    }

    /// Sets several fields at once. Returns how many existed and were overwritten.
    pub fn hash_set_many(&self, pairs: &[(&RStr, &RStr)]) -> Result<usize> {
        self.expect_type(KeyType::Hash)?;
        let mut updated = 0;
        for (field, value) in pairs {
            updated += usize::from(self.hash_set(field, value)?);
        }
        Ok(updated)
    }

    /// Deletes a hash field; returns whether it existed.
    pub fn hash_del(&self, field: &RStr) -> Result<bool> {
        self.hash_set_raw(
            sys::REDISMODULE_HASH_NONE,
            field.as_ptr(),
            // REDISMODULE_HASH_DELETE: the API's marker (the address 1) for "delete the field".
            ptr::without_provenance_mut(1),
        )
    }

    #[inline(always)]
    fn hash_set_raw(
        &self,
        flags: c_int,
        field: *mut RedisModuleString,
        value: *mut RedisModuleString,
    ) -> Result<bool> {
        self.require_writable()?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable key; (field, value) pairs ended by NULL.
        let changed = unsafe {
            core_api!(HashSet)(self.ptr(), flags, field, value, ptr::null_mut::<c_void>())
        };
        // Nothing changed: an update of an existing field, or a key of another type (the type
        // code compared as it comes, as C does: mapping it to `KeyType` costs more than the test).
        if changed == 0 {
            let found = self.raw_type();
            if found != sys::REDISMODULE_KEYTYPE_HASH && found != sys::REDISMODULE_KEYTYPE_EMPTY {
                return Err(Error::WrongType);
            }
        }
        Ok(changed > 0)
    }

    fn hash_error(&self) -> Error {
        if self.key_type() == KeyType::Hash || self.is_empty() {
            Error::err("hash access failed")
        } else {
            Error::WrongType
        }
    }

    // ---- lists ----
    //
    // `&self` even for writes: each checks the key is a list (or empty) first, and a list has
    // no views; popping the last element deletes a list.

    /// Pushes an element onto one end of the list (creating it if needed).
    pub fn list_push(&self, end: End, element: &RStr) -> Result<()> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable list-or-empty key and a live string.
        let status = unsafe { core_api!(ListPush)(self.ptr(), end.raw(), element.as_ptr()) };
        Self::check(status, "could not push onto list")
    }

    /// Pops an element from one end of the list; `None` if empty.
    pub fn list_pop(&self, end: End) -> Result<Option<RString>> {
        self.require_writable()?;
        self.expect_type(KeyType::List)?;
        let _reopen = self.before_write();
        // SAFETY: an open, writable list-or-empty key; a non-NULL result is ours to release.
        let raw = unsafe { core_api!(ListPop)(self.ptr(), end.raw()) };
        // SAFETY: a non-NULL result is a new reference we own.
        Ok(NonNull::new(raw).map(|raw| unsafe { RString::from_raw(raw) }))
    }

    // ---- sets (the API has no low-level set access: through the command, as a C module) ----
    //
    // `&self` even for writes, and run while views are alive (unlike `Ctx::call`): each checks
    // the key is a set (or empty) first, and the command touches that key only. The keyspace
    // notifications it fires reach this module's subscribers through the SDK, whose every
    // write consults the views' record.

    /// Adds a member to the set; returns whether it was new.
    pub fn set_add(&self, member: &RStr) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::Set)?;
        Ok(self.call_on_key(c"SADD", member)? == 1)
    }

    /// Removes a member from the set; returns whether it was there.
    pub fn set_remove(&self, member: &RStr) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::Set)?;
        Ok(self.call_on_key(c"SREM", member)? == 1)
    }

    /// Runs `command key member`. The call closes every open handle first (see [`OpenKeys`]),
    /// this one included: an open handle keeps the value it was opened on, so after a command
    /// that creates the key (`SADD` on an empty key) it would answer "empty", and after one
    /// that deletes it (`SREM` of the last member) it would point at the freed value, which
    /// even closing it reads. It reopens when next used.
    fn call_on_key(&self, command: &CStr, member: &RStr) -> Result<i64> {
        self.ctx.call_integer(command, &[self.name, member])
    }

    /// Whether the set has this member.
    pub fn set_is_member(&self, member: &RStr) -> Result<bool> {
        self.expect_type(KeyType::Set)?;
        if self.absent() {
            return Ok(false);
        }
        Ok(self.ctx.call_integer(c"SISMEMBER", &[self.name, member])? == 1)
    }

    // ---- sorted sets ----
    //
    // `&self` even for writes: each checks the key is a sorted set (or empty) first, and a
    // sorted set has no views.

    /// Adds a member with a score, or updates its score.
    pub fn zset_add(&self, score: f64, member: &RStr) -> Result<ZAdd> {
        self.require_writable()?;
        self.expect_type(KeyType::ZSet)?;
        if score.is_nan() {
            return Err(Error::err("value is not a valid float"));
        }
        let _reopen = self.before_write();
        let mut flags: c_int = 0;
        // SAFETY: an open, writable zset-or-empty key, a live string and an in/out flag word.
        let status = unsafe { core_api!(ZsetAdd)(self.ptr(), score, member.as_ptr(), &mut flags) };
        Self::check(status, "could not add to sorted set")?;
        Ok(if flags & sys::REDISMODULE_ZADD_ADDED != 0 {
            ZAdd::Added
        } else if flags & sys::REDISMODULE_ZADD_UPDATED != 0 {
            ZAdd::Updated
        } else {
            ZAdd::Unchanged
        })
    }

    /// A member's score, or `None`.
    pub fn zset_score(&self, member: &RStr) -> Result<Option<f64>> {
        self.expect_type(KeyType::ZSet)?;
        if self.absent() {
            return Ok(None);
        }
        let mut score = 0f64;
        // SAFETY: an open key, a live string and an out-pointer.
        let status = unsafe { core_api!(ZsetScore)(self.ptr(), member.as_ptr(), &mut score) };
        Ok((status == sys::REDISMODULE_OK).then_some(score))
    }

    /// Removes a member; returns whether it was there.
    pub fn zset_remove(&self, member: &RStr) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::ZSet)?;
        let _reopen = self.before_write();
        let mut deleted: c_int = 0;
        // SAFETY: an open, writable key, a live string and an out-pointer.
        let status = unsafe { core_api!(ZsetRem)(self.ptr(), member.as_ptr(), &mut deleted) };
        Self::check(status, "could not remove from sorted set")?;
        Ok(deleted != 0)
    }

    /// Members with `min <= score <= max`, lowest first (or highest first with `reverse`),
    /// with their scores.
    pub fn zset_range_by_score(
        &self,
        min: f64,
        max: f64,
        reverse: bool,
    ) -> Result<Vec<(RString, f64)>> {
        self.expect_type(KeyType::ZSet)?;
        if self.is_empty() {
            return Ok(Vec::new());
        }
        // SAFETY: an open zset key; the range is stopped below on every path.
        let status = unsafe {
            if reverse {
                core_api!(ZsetLastInScoreRange)(self.ptr(), min, max, 0, 0)
            } else {
                core_api!(ZsetFirstInScoreRange)(self.ptr(), min, max, 0, 0)
            }
        };
        Self::check(status, "invalid score range")?;
        let mut members = Vec::new();
        // SAFETY: iterating the range opened above, then stopping it.
        unsafe {
            while core_api!(ZsetRangeEndReached)(self.ptr()) == 0 {
                let mut score = 0f64;
                let raw = core_api!(ZsetRangeCurrentElement)(self.ptr(), &mut score);
                if let Some(raw) = NonNull::new(raw) {
                    members.push((RString::from_raw(raw), score));
                }
                let more = if reverse {
                    core_api!(ZsetRangePrev)(self.ptr())
                } else {
                    core_api!(ZsetRangeNext)(self.ptr())
                };
                if more == 0 {
                    break;
                }
            }
            core_api!(ZsetRangeStop)(self.ptr());
        }
        Ok(members)
    }
}

impl End {
    fn raw(self) -> c_int {
        match self {
            End::Head => sys::REDISMODULE_LIST_HEAD,
            End::Tail => sys::REDISMODULE_LIST_TAIL,
        }
    }
}
