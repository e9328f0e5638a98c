//! Streams: add, delete and trim entries, and iterate a range of them in ID order (deleting as
//! it goes).

use std::fmt;
use std::ptr::{self, NonNull};

use super::held::Held;
use super::{Key, KeyType};
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleStreamID, RedisModuleString};
use crate::{Error, Result};

/// A stream entry's ID: milliseconds and a sequence number, shown as `ms-seq`. Ordered as the
/// stream orders its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence number within the millisecond.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`, below every entry (`-` in `XRANGE`).
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID (`+` in `XRANGE`).
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// Parses `ms-seq`, `ms` (sequence 0), `-` or `+`, as `XADD` and the start of `XRANGE`
    /// read them; otherwise the server's `ERR Invalid stream ID …`.
    pub fn parse(text: &[u8]) -> Result<StreamId> {
        Self::parse_with(text, 0)
    }

    /// As [`StreamId::parse`], but `ms` alone means the last ID of that millisecond, as the
    /// end of `XRANGE` reads it.
    pub fn parse_end(text: &[u8]) -> Result<StreamId> {
        Self::parse_with(text, u64::MAX)
    }

    fn parse_with(text: &[u8], missing_seq: u64) -> Result<StreamId> {
        match text {
            b"-" => return Ok(Self::MIN),
            b"+" => return Ok(Self::MAX),
            _ => {}
        }
        let number = |part: &[u8]| -> Option<u64> {
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(part).ok()?.parse().ok()
        };
        let id = match text.iter().position(|&b| b == b'-') {
            Some(dash) => number(&text[..dash])
                .zip(number(&text[dash + 1..]))
                .map(|(ms, seq)| StreamId { ms, seq }),
            None => number(text).map(|ms| StreamId {
                ms,
                seq: missing_seq,
            }),
        };
        id.ok_or_else(|| Error::err("Invalid stream ID specified as stream command argument"))
    }

    fn raw(self) -> RedisModuleStreamID {
        RedisModuleStreamID {
            ms: self.ms,
            seq: self.seq,
        }
    }

    fn from_raw(raw: RedisModuleStreamID) -> StreamId {
        StreamId {
            ms: raw.ms,
            seq: raw.seq,
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One stream entry, copied out of the stream: its ID and its field-value pairs in order.
#[derive(Debug, Clone)]
pub struct StreamEntry {
    /// The entry's ID.
    pub id: StreamId,
    /// The field-value pairs, in the order they were added.
    pub fields: Vec<(RString, RString)>,
}

/// How [`Key::stream_trim`] trims a stream, from its oldest entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamTrim {
    /// Keep at most this many entries (`XTRIM MAXLEN`).
    MaxLen(u64),
    /// Remove the entries with a smaller ID (`XTRIM MINID`).
    MinId(StreamId),
}

// errno values on Linux (the servers' platform), as the stream calls set them.
const ENOENT: i32 = 2;
const EFBIG: i32 = 27;
const ERANGE: i32 = 34;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

impl<'a> Key<'a> {
    // `&self` even for writes, as for the other aggregates: each checks the key is a stream (or
    // empty) first, and a stream has no views. An iteration (which the server keeps in this
    // handle) borrows the handle mutably, so none of these runs under one.

    /// Adds an entry: `fields` is field, value, field, value… (as `XADD`'s arguments, e.g.
    /// `&args[3..]`, read in place). `None` lets the server choose the ID (`XADD key *`);
    /// `Some(id)` must be above the stream's last ID. Creates the stream if needed. Returns
    /// the new entry's ID.
    ///
    /// `Err` for an odd or empty `fields`, an ID at or below the last one (the server's `XADD`
    /// message), a key of another type (`WRONGTYPE`).
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn add(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let key = ctx.open_key_writable(args[1]);
    ///     let id = key.stream_add(None, &args[2..])?;
    ///     ctx.reply_bulk(id.to_string().as_bytes());
    ///     Ok(())
    /// }
    /// ```
    #[doc(alias = "RedisModule_StreamAdd")]
    pub fn stream_add(&self, id: Option<StreamId>, fields: &[&RStr]) -> Result<StreamId> {
        self.require_writable()?;
        self.expect_type(KeyType::Stream)?;
        if fields.is_empty() || fields.len() % 2 != 0 {
            return Err(Error::err("a stream entry needs field-value pairs"));
        }
        if id == Some(StreamId::MIN) {
            return Err(Error::err(
                "The ID specified in XADD must be greater than 0-0",
            ));
        }
        let add = api!(StreamAdd);
        let flags = match id {
            None => sys::REDISMODULE_STREAM_ADD_AUTOID,
            Some(_) => 0,
        };
        let mut raw = id.unwrap_or_default().raw();
        let _reopen = self.before_write();
        // SAFETY: an open, writable, stream-or-empty key; `fields` is an array of
        // `2 * numfields` live strings (`&RStr` has the layout of `RedisModuleString *`), which
        // the server only reads (it copies the bytes into the stream) despite the `**`.
        let status = unsafe {
            add(
                self.ptr(),
                flags,
                &mut raw,
                fields.as_ptr().cast::<*mut RedisModuleString>().cast_mut(),
                (fields.len() / 2) as _,
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(Error::err(match errno() {
                EFBIG => "The stream has exhausted the last possible ID, unable to add more items",
                ERANGE => "Elements are too large to be stored",
                _ => "The ID specified in XADD is equal or smaller than the target stream top item",
            }));
        }
        Ok(StreamId::from_raw(raw))
    }

    /// Deletes the entry `id`; returns whether it was there (`XDEL` of one ID).
    #[doc(alias = "RedisModule_StreamDelete")]
    pub fn stream_delete(&self, id: StreamId) -> Result<bool> {
        self.require_writable()?;
        self.expect_type(KeyType::Stream)?;
        if self.is_empty() {
            return Ok(false);
        }
        let delete = api!(StreamDelete);
        self.stop_stale_stream_iterator();
        let _reopen = self.before_write();
        let mut raw = id.raw();
        // SAFETY: an open, writable stream key with no iterator (stopped above) and an ID.
        let status = unsafe { delete(self.ptr(), &mut raw) };
        if status == sys::REDISMODULE_OK {
            return Ok(true);
        }
        match errno() {
            ENOENT => Ok(false),
            _ => Err(Error::err("could not delete the stream entry")),
        }
    }

    /// Trims the stream from its oldest entries (`XTRIM`); returns how many it removed. With
    /// `approx` (`XTRIM … ~`) the server removes only whole internal nodes, which is cheaper
    /// and may leave more entries than asked. A missing key has none to remove.
    #[doc(alias = "RedisModule_StreamTrimByLength")]
    #[doc(alias = "RedisModule_StreamTrimByID")]
    pub fn stream_trim(&self, trim: StreamTrim, approx: bool) -> Result<u64> {
        self.require_writable()?;
        self.expect_type(KeyType::Stream)?;
        if self.is_empty() {
            return Ok(0);
        }
        let flags = if approx {
            sys::REDISMODULE_STREAM_TRIM_APPROX
        } else {
            0
        };
        let removed = match trim {
            // More than a stream can hold: nothing to remove.
            StreamTrim::MaxLen(len) if len > i64::MAX as u64 => return Ok(0),
            StreamTrim::MaxLen(len) => {
                let by_length = api!(StreamTrimByLength);
                let _reopen = self.before_write();
                // SAFETY: an open, writable stream key and a non-negative length.
                unsafe { by_length(self.ptr(), flags, len as i64) }
            }
            StreamTrim::MinId(id) => {
                let by_id = api!(StreamTrimByID);
                let _reopen = self.before_write();
                let mut raw = id.raw();
                // SAFETY: an open, writable stream key and an ID.
                unsafe { by_id(self.ptr(), flags, &mut raw) }
            }
        };
        u64::try_from(removed).map_err(|_| Error::err("could not trim the stream"))
    }

    /// Iterates the entries with `start <= ID <= end` (`start` is the lower bound also with
    /// `reverse`), oldest first, or newest first with `reverse` (as `XRANGE key start end` and
    /// `XREVRANGE key end start`). A missing key has none; another type is `WRONGTYPE`.
    ///
    /// The iteration lives in this handle, so it borrows the key mutably, and stops when
    /// dropped (also on a panic). [`StreamIter::delete_current`] deletes the entry just read
    /// without disturbing the iteration. A write to the key through another handle, or a
    /// command run meanwhile, ends it: its next step is `Err`.
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result, StreamId};
    /// fn drop_field(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let mut key = ctx.open_key_writable(args[1]);
    ///     let mut entries = key.stream_range(StreamId::MIN, StreamId::MAX, false)?;
    ///     let mut deleted = 0;
    ///     while let Some(entry) = entries.next_entry()? {
    ///         if entry.fields.iter().any(|(field, _)| field.as_bytes() == b"drop") {
    ///             entries.delete_current()?;
    ///             deleted += 1;
    ///         }
    ///     }
    ///     ctx.reply_integer(deleted);
    ///     Ok(())
    /// }
    /// ```
    #[doc(alias = "RedisModule_StreamIteratorStart")]
    pub fn stream_range(
        &mut self,
        start: StreamId,
        end: StreamId,
        reverse: bool,
    ) -> Result<StreamIter<'_, 'a>> {
        self.expect_type(KeyType::Stream)?;
        let mut iter = StreamIter {
            key: self,
            held: self.hold(),
            started: false,
            done: true,
            fields_left: 0,
        };
        if self.is_empty() {
            return Ok(iter);
        }
        let begin = api!(StreamIteratorStart);
        // Checked now, so that the steps and the drop find them.
        api!(StreamIteratorNextID);
        api!(StreamIteratorNextField);
        self.stop_stale_stream_iterator();
        let flags = if reverse {
            sys::REDISMODULE_STREAM_ITERATOR_REVERSE
        } else {
            0
        };
        let (mut lower, mut upper) = (start.raw(), end.raw());
        // SAFETY: an open stream key with no iterator (stopped above) and two IDs, which the
        // server copies. The iterator is stopped by `StreamIter`'s drop.
        let status = unsafe { begin(self.ptr(), flags, &mut lower, &mut upper) };
        if status != sys::REDISMODULE_OK {
            return Err(Error::err("could not start the stream iteration"));
        }
        iter.started = true;
        iter.done = false;
        Ok(iter)
    }

    /// Stops an iteration a `StreamIter` leaked with `mem::forget` left in this handle (its
    /// `StreamIter` is gone: nothing can step it again), so the server's checks for one pass.
    fn stop_stale_stream_iterator(&self) {
        if let Some(stop) = crate::api::table().StreamIteratorStop {
            // SAFETY: an open stream key; without an iterator the server answers an error and
            // changes nothing.
            unsafe { stop(self.ptr()) };
        }
    }
}

/// An iteration over a range of a stream's entries, from [`Key::stream_range`]; stopped when
/// dropped.
///
/// Each step is a `Result`: `Err` if the key was written through another handle or by a
/// command since the iteration started (the server dropped it then). After an `Err` the
/// iteration has ended.
pub struct StreamIter<'k, 'a> {
    key: &'k Key<'a>,
    held: Held,
    /// Whether the server has an iterator to stop.
    started: bool,
    done: bool,
    /// Fields of the current entry not read yet: the server's iterator finds the next entry
    /// only from the end of the current one (stepping over unread fields asserts and
    /// crashes the server), so the next step reads them first.
    fields_left: usize,
}

impl StreamIter<'_, '_> {
    /// The next entry's ID, without reading its fields; `None` at the end.
    pub fn next_id(&mut self) -> Result<Option<StreamId>> {
        Ok(self.step()?.map(|(id, _)| id))
    }

    /// The next entry with its fields; `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<StreamEntry>> {
        let Some((id, count)) = self.step()? else {
            return Ok(None);
        };
        let next_field = api!(StreamIteratorNextField);
        let key = self.key.held_or_err(&self.held)?;
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let mut field: *mut RedisModuleString = ptr::null_mut();
            let mut value: *mut RedisModuleString = ptr::null_mut();
            // SAFETY: the handle the iteration started on, positioned on an entry with
            // `count` fields; two out-pointers.
            let status = unsafe { next_field(key, &mut field, &mut value) };
            match (status, NonNull::new(field), NonNull::new(value)) {
                (sys::REDISMODULE_OK, Some(field), Some(value)) => {
                    self.fields_left -= 1;
                    // SAFETY: new strings the server hands us (no automatic memory in SDK
                    // contexts), each released once by its RString.
                    fields.push(unsafe { (RString::from_raw(field), RString::from_raw(value)) });
                }
                _ => break,
            }
        }
        Ok(Some(StreamEntry { id, fields }))
    }

    /// Advances: the next entry's ID and field count.
    fn step(&mut self) -> Result<Option<(StreamId, usize)>> {
        if self.done {
            return Ok(None);
        }
        let next_id = api!(StreamIteratorNextID);
        let key = match self.key.held_or_err(&self.held) {
            Ok(key) => key,
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        if self.fields_left > 0 {
            let next_field = api!(StreamIteratorNextField);
            for _ in 0..std::mem::take(&mut self.fields_left) {
                // SAFETY: the handle the iteration started on, positioned on an entry with
                // unread fields; NULL out-pointers skip a field without making strings.
                unsafe { next_field(key, ptr::null_mut(), ptr::null_mut()) };
            }
        }
        let mut raw = StreamId::MIN.raw();
        let mut count: std::ffi::c_long = 0;
        // SAFETY: the handle the iteration started on, which still holds it; out-pointers.
        let status = unsafe { next_id(key, &mut raw, &mut count) };
        if status != sys::REDISMODULE_OK {
            self.done = true;
            return Ok(None);
        }
        self.fields_left = usize::try_from(count).unwrap_or(0);
        Ok(Some((StreamId::from_raw(raw), self.fields_left)))
    }

    /// Deletes the entry the last step returned (`XDEL` of its ID); the iteration goes on with
    /// the next one. `Err` if the key is open read-only, before the first step, at the end,
    /// or for an entry already deleted.
    #[doc(alias = "RedisModule_StreamIteratorDelete")]
    pub fn delete_current(&mut self) -> Result<()> {
        self.key.require_writable()?;
        let delete = api!(StreamIteratorDelete);
        let key = self.key.held_or_err(&self.held)?;
        if self.done {
            return Err(Error::err("no current stream entry to delete"));
        }
        // Other handles on the key cache the stream, and an iteration of theirs points into it.
        let _reopen = self.key.before_write();
        // SAFETY: the writable handle the iteration started on, which still holds it.
        let status = unsafe { delete(key) };
        if status != sys::REDISMODULE_OK {
            return Err(Error::err("no current stream entry to delete"));
        }
        // The server re-seeks its iterator past the deleted entry.
        self.fields_left = 0;
        Ok(())
    }
}

impl Iterator for StreamIter<'_, '_> {
    type Item = Result<StreamEntry>;

    fn next(&mut self) -> Option<Result<StreamEntry>> {
        self.next_entry().transpose()
    }
}

impl Drop for StreamIter<'_, '_> {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        // A reopened handle has no iteration: the server stopped it when closing the old one.
        if let (Some(key), Some(stop)) = (
            self.key.held_ptr(&self.held),
            crate::api::table().StreamIteratorStop,
        ) {
            // SAFETY: the handle the iteration started on, which still holds it; stopped once.
            unsafe { stop(key) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StreamId;

    #[test]
    fn parses_ids_as_xrange_does() {
        let id = |ms, seq| StreamId { ms, seq };
        assert_eq!(StreamId::parse(b"-"), Ok(StreamId::MIN));
        assert_eq!(StreamId::parse(b"+"), Ok(StreamId::MAX));
        assert_eq!(StreamId::parse(b"5"), Ok(id(5, 0)));
        assert_eq!(StreamId::parse_end(b"5"), Ok(id(5, u64::MAX)));
        assert_eq!(StreamId::parse(b"5-7"), Ok(id(5, 7)));
        assert_eq!(
            StreamId::parse(b"18446744073709551615-18446744073709551615"),
            Ok(StreamId::MAX)
        );
        for bad in [
            &b""[..],
            b"-5",
            b"5-",
            b"5-x",
            b"x",
            b"+5",
            b"1-2-3",
            b"18446744073709551616",
        ] {
            assert!(StreamId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(id(1, 2).to_string(), "1-2");
        assert!(id(1, u64::MAX) < id(2, 0));
    }
}
