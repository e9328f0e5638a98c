//! The reply tree of a called command: [`CallReply`] (owned) and [`Reply`] (borrowed), with
//! typed values and iterators over arrays and maps.

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::ops::Deref;
use std::ptr::{self, NonNull};

use crate::string::RString;
use crate::sys::{self, RedisModuleCallReply};
use crate::{Error, Result};

/// The reply of a command run with [`Ctx::call`](crate::Ctx::call) (any command, built-in or
/// another module's), owned: freed on drop.
///
/// It derefs to [`Reply`], as every element inside it is a [`&Reply`](Reply), whose
/// [`value`](Reply::value) is a [`CallValue`]: strings, errors, integers, arrays, and the
/// RESP3 types (maps, sets, doubles, booleans, big numbers, verbatim strings, attributes).
/// Elements borrow from their parent, so they cannot outlive it.
///
/// [`Ctx::call_with`](crate::Ctx::call_with) takes [`CallOptions`](crate::CallOptions): check
/// ACLs as the calling user, replicate, return errors as replies, RESP3, script mode, no
/// writes, respect `maxmemory`.
///
/// ```no_run
/// use rm::{CallOptions, CallValue, Ctx, RStr, Result};
///
/// /// `COUNTER.BUMP key`: INCR through the server, replicated, as the calling user.
/// fn bump(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
///     let options = CallOptions::new().check_acl().replicate();
///     let reply = ctx.call_with(options, "INCR", [args[1]])?.into_result()?;
///     match reply.value() {
///         CallValue::Integer(n) => ctx.reply_integer(n * 10),
///         _ => ctx.reply_call_reply(&reply)?, // forward anything else as it is
///     }
///     Ok(())
/// }
/// ```
///
/// An element cannot outlive the reply it belongs to:
/// `tests/ui/call_value_outlives_reply.rs`.
///
/// Nor can a reply go to another thread: `tests/ui/call_reply_sent.rs`.
pub struct CallReply<'a> {
    raw: NonNull<RedisModuleCallReply>,
    // Tied to the context that made the call; main thread only.
    _ctx: PhantomData<(&'a (), *mut u8)>,
}

impl CallReply<'_> {
    /// Takes ownership of a reply.
    ///
    /// # Safety
    /// `raw` must be a reply from `RedisModule_Call` that nothing else frees.
    pub(super) unsafe fn from_raw(raw: NonNull<RedisModuleCallReply>) -> Self {
        CallReply {
            raw,
            _ctx: PhantomData,
        }
    }

    /// `Err` with the error's line if the command replied an error (`WRONGTYPE ...`,
    /// `ERR ...`), the reply otherwise: for `?` on commands that must succeed.
    ///
    /// ```no_run
    /// # use rm::{Ctx, Result};
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// let length = ctx.call("LLEN", ["queue"])?.into_result()?.as_i64(); // WRONGTYPE → Err
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn into_result(self) -> Result<Self> {
        match self.error() {
            Some(error) => Err(error),
            None => Ok(self),
        }
    }
}

impl Deref for CallReply<'_> {
    type Target = Reply;

    fn deref(&self) -> &Reply {
        // SAFETY: we own the reply, so it lives as long as `self`.
        unsafe { Reply::from_raw(self.raw.as_ptr()) }
    }
}

impl Drop for CallReply<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the reply; freed once, here (its elements with it).
        unsafe { core_api!(FreeCallReply)(self.raw.as_ptr()) };
    }
}

impl fmt::Debug for CallReply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A called command's reply or an element inside it, borrowed: `&Reply` lives no longer than
/// the [`CallReply`] it comes from. Read it with [`value`](Reply::value).
#[repr(C)]
pub struct Reply {
    // Opaque; the server parses elements lazily behind a shared reference.
    _opaque: UnsafeCell<[u8; 0]>,
    _not_send_not_unpin: PhantomData<(*mut u8, PhantomPinned)>,
}

/// The kind of a reply, as [`Reply::kind`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyKind {
    /// A bulk or simple string.
    String,
    /// An error.
    Error,
    /// An integer.
    Integer,
    /// An array.
    Array,
    /// Null.
    Null,
    /// A map (RESP3).
    Map,
    /// A set (RESP3).
    Set,
    /// A boolean (RESP3).
    Bool,
    /// A double (RESP3).
    Double,
    /// A big number (RESP3).
    BigNumber,
    /// A verbatim string (RESP3).
    Verbatim,
    /// Attributes (RESP3), only ever seen through [`Reply::attribute`].
    Attribute,
    /// Anything else (a newer server's kind, or a promise of a blocked call).
    Unknown,
}

/// What a reply holds, typed. Strings and errors are bytes as the server sent them.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum CallValue<'r> {
    /// A bulk or simple string (`+OK` is `String(b"OK")`).
    String(&'r [u8]),
    /// An error reply's line, code included: `WRONGTYPE Operation against ...`.
    Error(&'r [u8]),
    /// An integer.
    Integer(i64),
    /// A double (RESP3).
    Double(f64),
    /// A boolean (RESP3).
    Bool(bool),
    /// Null (`$-1`, `*-1` or RESP3 `_`).
    Null,
    /// An array.
    Array(Elements<'r>),
    /// A set (RESP3; an array on RESP2).
    Set(Elements<'r>),
    /// A map (RESP3; a flat array on RESP2).
    Map(Pairs<'r>),
    /// A big number's decimal digits (RESP3).
    BigNumber(&'r str),
    /// Attributes (RESP3): what [`Reply::attribute`] returns, never a reply itself.
    Attribute(Pairs<'r>),
    /// A verbatim string (RESP3): a three-letter format (`txt`, `mkd`) and the text.
    Verbatim {
        /// The format, such as `txt`.
        format: &'r str,
        /// The text.
        text: &'r [u8],
    },
    /// A kind this SDK does not know.
    Unknown,
}

impl Reply {
    /// Borrows a reply.
    ///
    /// # Safety
    /// `raw` must be a live call reply that outlives `'r`.
    unsafe fn from_raw<'r>(raw: *mut RedisModuleCallReply) -> &'r Reply {
        // SAFETY: Reply is a zero-sized view of the C object; the caller vouches for liveness.
        unsafe { &*raw.cast::<Reply>() }
    }

    /// The C pointer, for calls into [`crate::sys`].
    pub fn as_ptr(&self) -> *mut RedisModuleCallReply {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// The kind of reply.
    pub fn kind(&self) -> ReplyKind {
        // SAFETY: a live reply.
        match unsafe { core_api!(CallReplyType)(self.as_ptr()) } {
            sys::REDISMODULE_REPLY_STRING => ReplyKind::String,
            sys::REDISMODULE_REPLY_ERROR => ReplyKind::Error,
            sys::REDISMODULE_REPLY_INTEGER => ReplyKind::Integer,
            sys::REDISMODULE_REPLY_ARRAY => ReplyKind::Array,
            sys::REDISMODULE_REPLY_NULL => ReplyKind::Null,
            sys::REDISMODULE_REPLY_MAP => ReplyKind::Map,
            sys::REDISMODULE_REPLY_SET => ReplyKind::Set,
            sys::REDISMODULE_REPLY_BOOL => ReplyKind::Bool,
            sys::REDISMODULE_REPLY_DOUBLE => ReplyKind::Double,
            sys::REDISMODULE_REPLY_BIG_NUMBER => ReplyKind::BigNumber,
            sys::REDISMODULE_REPLY_VERBATIM_STRING => ReplyKind::Verbatim,
            sys::REDISMODULE_REPLY_ATTRIBUTE => ReplyKind::Attribute,
            _ => ReplyKind::Unknown,
        }
    }

    /// The reply, typed.
    ///
    /// ```no_run
    /// # use rm::{CallOptions, CallValue, Ctx, Result};
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// let reply = ctx.call_with(CallOptions::new().resp3(), "HGETALL", ["user:1"])?;
    /// if let CallValue::Map(pairs) = reply.value() {
    ///     for (field, value) in pairs {
    ///         let _ = (field.as_bytes(), value.as_bytes());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn value(&self) -> CallValue<'_> {
        let raw = self.as_ptr();
        match self.kind() {
            ReplyKind::String => CallValue::String(self.string_bytes()),
            ReplyKind::Error => CallValue::Error(self.string_bytes()),
            // SAFETY: a live integer reply.
            ReplyKind::Integer => CallValue::Integer(unsafe { core_api!(CallReplyInteger)(raw) }),
            // SAFETY: a live double reply.
            ReplyKind::Double => CallValue::Double(unsafe { core_api!(CallReplyDouble)(raw) }),
            // SAFETY: a live boolean reply.
            ReplyKind::Bool => CallValue::Bool(unsafe { core_api!(CallReplyBool)(raw) } != 0),
            ReplyKind::Null => CallValue::Null,
            ReplyKind::Array => CallValue::Array(Elements::new(self, false)),
            ReplyKind::Set => CallValue::Set(Elements::new(self, true)),
            ReplyKind::Map => CallValue::Map(Pairs::new(self, false)),
            ReplyKind::Attribute => CallValue::Attribute(Pairs::new(self, true)),
            ReplyKind::BigNumber => {
                let mut len = 0usize;
                // SAFETY: a live big-number reply; the digits live as long as the reply.
                let digits = unsafe {
                    let data = core_api!(CallReplyBigNumber)(raw, &mut len);
                    bytes(data, len)
                };
                CallValue::BigNumber(std::str::from_utf8(digits).unwrap_or(""))
            }
            ReplyKind::Verbatim => {
                let mut len = 0usize;
                let mut format: *const c_char = ptr::null();
                // SAFETY: a live verbatim reply; text and its three-byte format live as long
                // as the reply.
                let (text, format) = unsafe {
                    let data = core_api!(CallReplyVerbatim)(raw, &mut len, &mut format);
                    (
                        bytes(data, len),
                        bytes(format, if format.is_null() { 0 } else { 3 }),
                    )
                };
                CallValue::Verbatim {
                    format: std::str::from_utf8(format).unwrap_or(""),
                    text,
                }
            }
            ReplyKind::Unknown => CallValue::Unknown,
        }
    }

    fn string_bytes(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: a live string or error reply; the buffer lives as long as the reply.
        unsafe {
            let data = core_api!(CallReplyStringPtr)(self.as_ptr(), &mut len);
            bytes(data, len)
        }
    }

    /// The bytes of a string reply (bulk, simple or verbatim); `None` for other kinds.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self.value() {
            CallValue::String(bytes) => Some(bytes),
            CallValue::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The integer of an integer reply, or of a string reply holding one (`"42"`).
    pub fn as_i64(&self) -> Option<i64> {
        // The server answers LLONG_MIN for a reply that is not an integer: any other value is
        // the integer, without asking the type first.
        // SAFETY: a live reply.
        let n = unsafe { core_api!(CallReplyInteger)(self.as_ptr()) };
        if n != i64::MIN {
            return Some(n);
        }
        match self.value() {
            CallValue::Integer(n) => Some(n),
            CallValue::String(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The error reply as an [`Error`] (its line as the server sent it); `None` unless the
    /// reply is an error.
    #[inline]
    pub fn error(&self) -> Option<Error> {
        // SAFETY: a live reply.
        if unsafe { core_api!(CallReplyType)(self.as_ptr()) } != sys::REDISMODULE_REPLY_ERROR {
            return None;
        }
        self.error_slow()
    }

    #[cold]
    #[inline(never)]
    fn error_slow(&self) -> Option<Error> {
        match self.value() {
            CallValue::Error(line) => Some(Error::Coded(
                String::from_utf8_lossy(line).into_owned().into(),
            )),
            _ => None,
        }
    }

    /// The number of elements of an array or set, pairs of a map, bytes of a string; 0
    /// otherwise.
    pub fn len(&self) -> usize {
        match self.value() {
            CallValue::Array(elements) | CallValue::Set(elements) => elements.len(),
            CallValue::Map(pairs) | CallValue::Attribute(pairs) => pairs.len(),
            CallValue::String(bytes) | CallValue::Error(bytes) => bytes.len(),
            _ => 0,
        }
    }

    /// Whether [`len`](Reply::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A string reply copied into a server string (for keys, values, replication).
    pub fn to_rstring(&self) -> Option<RString> {
        self.as_bytes().map(RString::from_bytes)
    }

    /// The RESP3 attributes sent before this reply (a reply of kind
    /// [`ReplyKind::Attribute`], whose [`value`](Reply::value) is [`CallValue::Attribute`]);
    /// `None` when there are none.
    ///
    /// Redis 7.0 and Valkey 9.1 do not hand out the elements of attributes (their
    /// `RedisModule_CallReplyAttributeElement` always fails), so there the pairs are empty;
    /// [`proto`](Reply::proto) has the attributes' protocol text.
    pub fn attribute(&self) -> Option<&Reply> {
        // The server attaches attributes while parsing the reply, which asking for its type
        // does (asking for the attribute does not).
        let _ = self.kind();
        // SAFETY: a live reply; the attribute reply is owned by it.
        let raw = unsafe { core_api!(CallReplyAttribute)(self.as_ptr()) };
        // SAFETY: owned by `self`, so it lives as long as `&self`.
        (!raw.is_null()).then(|| unsafe { Reply::from_raw(raw) })
    }

    /// The reply in the protocol it arrived in (`:1\r\n`, `*2\r\n...`).
    pub fn proto(&self) -> &[u8] {
        let mut len = 0usize;
        // SAFETY: a live reply; the protocol text lives as long as the reply.
        unsafe {
            let data = core_api!(CallReplyProto)(self.as_ptr(), &mut len);
            bytes(data, len)
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value(), f)
    }
}

/// # Safety
/// `data` must be NULL or point to `len` bytes alive for `'r`.
unsafe fn bytes<'r>(data: *const c_char, len: usize) -> &'r [u8] {
    if data.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: as the caller guarantees.
        unsafe { crate::api::c_array(data.cast::<u8>(), len) }
    }
}

/// The elements of an array or set reply, borrowed from it.
#[derive(Clone, Copy)]
pub struct Elements<'r> {
    reply: &'r Reply,
    set: bool,
    len: usize,
}

impl<'r> Elements<'r> {
    fn new(reply: &'r Reply, set: bool) -> Elements<'r> {
        // SAFETY: a live array or set reply.
        let len = unsafe { core_api!(CallReplyLength)(reply.as_ptr()) };
        Elements { reply, set, len }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `index`.
    pub fn get(&self, index: usize) -> Option<&'r Reply> {
        if index >= self.len {
            return None;
        }
        // SAFETY: a live array/set reply and an index in range; the element is owned by it.
        let raw = unsafe {
            if self.set {
                core_api!(CallReplySetElement)(self.reply.as_ptr(), index)
            } else {
                core_api!(CallReplyArrayElement)(self.reply.as_ptr(), index)
            }
        };
        // SAFETY: owned by the parent reply, alive for 'r.
        (!raw.is_null()).then(|| unsafe { Reply::from_raw(raw) })
    }

    /// The elements in order.
    pub fn iter(&self) -> ElementsIter<'r> {
        ElementsIter {
            elements: *self,
            next: 0,
        }
    }
}

impl<'r> IntoIterator for Elements<'r> {
    type Item = &'r Reply;
    type IntoIter = ElementsIter<'r>;

    fn into_iter(self) -> ElementsIter<'r> {
        self.iter()
    }
}

/// Iterates over [`Elements`].
#[derive(Clone)]
pub struct ElementsIter<'r> {
    elements: Elements<'r>,
    next: usize,
}

impl<'r> Iterator for ElementsIter<'r> {
    type Item = &'r Reply;

    fn next(&mut self) -> Option<&'r Reply> {
        let element = self.elements.get(self.next)?;
        self.next += 1;
        Some(element)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.elements.len.saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for ElementsIter<'_> {}

impl fmt::Debug for Elements<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The key/value pairs of a map reply (or of attributes), borrowed from it.
#[derive(Clone, Copy)]
pub struct Pairs<'r> {
    reply: &'r Reply,
    attribute: bool,
    len: usize,
}

impl<'r> Pairs<'r> {
    fn new(reply: &'r Reply, attribute: bool) -> Pairs<'r> {
        let mut pairs = Pairs {
            reply,
            attribute,
            len: usize::MAX,
        };
        pairs.len = if attribute {
            // Count the pairs the server hands out: Redis 7.0 and Valkey 9.1 report a length
            // but hand out none (their RedisModule_CallReplyAttributeElement always fails).
            (0..).take_while(|&i| pairs.get(i).is_some()).count()
        } else {
            // SAFETY: a live map reply.
            unsafe { core_api!(CallReplyLength)(reply.as_ptr()) }
        };
        pairs
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pair at `index`.
    pub fn get(&self, index: usize) -> Option<(&'r Reply, &'r Reply)> {
        if index >= self.len {
            return None;
        }
        let mut key = ptr::null_mut();
        let mut value = ptr::null_mut();
        // SAFETY: a live map/attribute reply, an index in range and two out-pointers; the
        // elements are owned by the parent.
        let status = unsafe {
            if self.attribute {
                core_api!(CallReplyAttributeElement)(
                    self.reply.as_ptr(),
                    index,
                    &mut key,
                    &mut value,
                )
            } else {
                core_api!(CallReplyMapElement)(self.reply.as_ptr(), index, &mut key, &mut value)
            }
        };
        if status != sys::REDISMODULE_OK || key.is_null() || value.is_null() {
            return None;
        }
        // SAFETY: owned by the parent reply, alive for 'r.
        Some(unsafe { (Reply::from_raw(key), Reply::from_raw(value)) })
    }

    /// The value whose key is the string `key`.
    pub fn find(&self, key: &[u8]) -> Option<&'r Reply> {
        self.iter()
            .find(|(k, _)| k.as_bytes() == Some(key))
            .map(|(_, v)| v)
    }

    /// The pairs in order.
    pub fn iter(&self) -> PairsIter<'r> {
        PairsIter {
            pairs: *self,
            next: 0,
        }
    }
}

impl<'r> IntoIterator for Pairs<'r> {
    type Item = (&'r Reply, &'r Reply);
    type IntoIter = PairsIter<'r>;

    fn into_iter(self) -> PairsIter<'r> {
        self.iter()
    }
}

/// Iterates over [`Pairs`].
#[derive(Clone)]
pub struct PairsIter<'r> {
    pairs: Pairs<'r>,
    next: usize,
}

impl<'r> Iterator for PairsIter<'r> {
    type Item = (&'r Reply, &'r Reply);

    fn next(&mut self) -> Option<(&'r Reply, &'r Reply)> {
        let pair = self.pairs.get(self.next)?;
        self.next += 1;
        Some(pair)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.pairs.len.saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for PairsIter<'_> {}

impl fmt::Debug for Pairs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
