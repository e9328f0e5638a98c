//! A key's value as a module data type: read, changed in place or set.

use std::ptr::NonNull;

use super::{DataType, not_registered, registered};
use crate::key::{Key, KeyType};
use crate::sys;
use crate::view::{ValueMut, ValueRef};
use crate::{Error, Result};

impl<'a> Key<'a> {
    /// The server's pointer to this key's value if it holds a `T`; `None` for an empty key;
    /// `Err(WrongType)` for any other type, including other module types.
    fn data_type_value<T: DataType>(&self) -> Result<Option<NonNull<T>>> {
        let wanted = registered::<T>().ok_or_else(not_registered::<T>)?;
        if self.ptr().is_null() {
            return Ok(None); // a missing key opened read-only
        }
        // SAFETY: an open key; the server answers NULL for a key that is not a module type.
        let found = unsafe { core_api!(ModuleTypeGetType)(self.ptr()) };
        if found != wanted.as_ptr() {
            return match self.key_type() {
                KeyType::Empty => Ok(None),
                _ => Err(Error::WrongType),
            };
        }
        // SAFETY: an open key holding a value of our type.
        let value = unsafe { core_api!(ModuleTypeGetValue)(self.ptr()) };
        Ok(NonNull::new(value.cast::<T>()))
    }

    /// The key's value as a `T`, read in place: a [`ValueRef`] that derefs to `T`; `None` if
    /// the key is empty, `Err(WrongType)` if it holds anything else (a string, another
    /// module's type, another type of this module).
    ///
    /// While the view lives, the value cannot be freed, replaced or lent mutably (see
    /// [`StrView`](crate::StrView)): drop it before writing to the key or calling a command.
    /// `Err` if a view made through another handle lends the value mutably.
    ///
    /// ```no_run
    /// # struct Counter { n: i64 }
    /// # impl rm::DataType for Counter {
    /// #     const NAME: &'static str = "counter-1";
    /// #     const ENCODING_VERSION: i32 = 1;
    /// #     fn rdb_save(&self, _io: &mut rm::RdbWriter) {}
    /// #     fn rdb_load(_io: &mut rm::RdbReader, _v: i32) -> rm::Result<Self> { Ok(Counter { n: 0 }) }
    /// # }
    /// fn get(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    ///     let key = ctx.open_key(args[1]);
    ///     match key.value::<Counter>()? {
    ///         Some(counter) => ctx.reply_integer(counter.n),
    ///         None => ctx.reply_null(),
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn value<T: DataType>(&self) -> Result<Option<ValueRef<'_, T>>> {
        match self.data_type_value::<T>()? {
            // SAFETY: the key's live value of type `T`. It stays valid and unmodified while the
            // view lives: this handle cannot free, replace or lend it mutably (those methods
            // take `&mut self`, and the view borrows `self`), and every other way of doing so
            // consults the view's record and refuses.
            Some(value) => Ok(Some(unsafe { ValueRef::new(value) }?)),
            None => Ok(None),
        }
    }

    /// The key's value as a mutable `T`, changed in place: a [`ValueMut`] that derefs to
    /// `mut T`; `None` if the key is empty, `Err(WrongType)` if it holds anything else. The key
    /// must be open for writing (so the server signals the change to `WATCH` and client caches
    /// when the key closes).
    ///
    /// `Err` while a view of the value made through another handle is alive; while the
    /// returned view lives, no other view of the value can be made and the value cannot be
    /// freed or replaced (see [`StrView`](crate::StrView)). To set a value when there is none,
    /// use `if let ... else` (see [`ValueMut`]).
    ///
    /// ```no_run
    /// # struct Counter { n: i64 }
    /// # impl rm::DataType for Counter {
    /// #     const NAME: &'static str = "counter-1";
    /// #     const ENCODING_VERSION: i32 = 1;
    /// #     fn rdb_save(&self, _io: &mut rm::RdbWriter) {}
    /// #     fn rdb_load(_io: &mut rm::RdbReader, _v: i32) -> rm::Result<Self> { Ok(Counter { n: 0 }) }
    /// # }
    /// fn incr(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    ///     let mut key = ctx.open_key_writable(args[1]);
    ///     let mut counter = key.value_mut::<Counter>()?.ok_or(rm::Error::err("no such key"))?;
    ///     counter.n += 1;
    ///     ctx.reply_integer(counter.n);
    ///     Ok(())
    /// }
    /// ```
    pub fn value_mut<T: DataType>(&mut self) -> Result<Option<ValueMut<'_, T>>> {
        self.require_writable()?;
        match self.data_type_value::<T>()? {
            // SAFETY: the key's live value of type `T`. Nothing else reaches it while the view
            // lives: this handle is borrowed mutably by the view, and every other way of
            // reading, freeing or replacing the value consults the view's record and refuses.
            Some(value) => Ok(Some(unsafe { ValueMut::new(value) }?)),
            None => Ok(None),
        }
    }

    /// Sets the key's value to `value`, replacing whatever it held (any type, like `SET`; the
    /// server frees the old value). Check the old type first with [`Key::value_mut`] where a
    /// command must answer `WRONGTYPE` instead. Like `SET`, this clears the key's expiry;
    /// changing the value in place through [`Key::value_mut`] keeps it.
    ///
    /// `Err` while a view of the old value made through another handle is alive (see
    /// [`StrView`](crate::StrView)).
    ///
    /// ```no_run
    /// # struct Counter { n: i64 }
    /// # impl rm::DataType for Counter {
    /// #     const NAME: &'static str = "counter-1";
    /// #     const ENCODING_VERSION: i32 = 1;
    /// #     fn rdb_save(&self, _io: &mut rm::RdbWriter) {}
    /// #     fn rdb_load(_io: &mut rm::RdbReader, _v: i32) -> rm::Result<Self> { Ok(Counter { n: 0 }) }
    /// # }
    /// fn reset(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    ///     let mut key = ctx.open_key_writable(args[1]);
    ///     key.value_mut::<Counter>()?; // WRONGTYPE unless empty or a Counter
    ///     key.set_value(Counter { n: 0 })?;
    ///     ctx.reply_ok();
    ///     Ok(())
    /// }
    /// ```
    #[doc(alias = "RedisModule_ModuleTypeSetValue")]
    pub fn set_value<T: DataType>(&mut self, value: T) -> Result<()> {
        let mt = registered::<T>().ok_or_else(not_registered::<T>)?;
        self.require_writable()?;
        self.ensure_value_unviewed("replace the key's value")?;
        let _reopen = self.before_write();
        let raw = Box::into_raw(Box::new(value));
        // SAFETY: an open, writable key (never NULL when writable) and our registered type; on
        // success the server owns the box and frees it through the type's free callback.
        let status = unsafe { core_api!(ModuleTypeSetValue)(self.ptr(), mt.as_ptr(), raw.cast()) };
        if status != sys::REDISMODULE_OK {
            // SAFETY: the server refused the value, so the box is still ours, reclaimed once.
            drop(unsafe { Box::from_raw(raw) });
            return Err(Error::err("could not set the key's value"));
        }
        Ok(())
    }
}
