//! Running commands from a module: `RedisModule_Call`, with typed access to the reply.

use std::cell::UnsafeCell;
use std::ffi::{CString, c_char};
use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::ops::Deref;
use std::ptr::{self, NonNull};

use crate::ctx::Ctx;
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleCallReply, RedisModuleString};
use crate::{Error, Result};

// ---- options ----

/// How [`Ctx::call_with`] runs a command: each option is one `RedisModule_Call` format flag.
/// All of them exist on Redis 7.0 and later.
///
/// ```no_run
/// # use rm::{CallOptions, Ctx, Result};
/// # fn f(ctx: &Ctx) -> Result<()> {
/// let options = CallOptions::new().check_acl().errors_as_replies().resp3();
/// let reply = ctx.call_with(options, "HGETALL", ["user:1"])?; // a RESP3 map
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    flags: u16,
    protocol: Protocol,
}

/// The protocol the called command replies in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Protocol {
    #[default]
    Resp2,
    Resp3,
    Auto,
}

const CHECK_ACL: u16 = 1 << 0;
const REPLICATE: u16 = 1 << 1;
const NO_AOF: u16 = 1 << 2;
const NO_REPLICAS: u16 = 1 << 3;
const SCRIPT_MODE: u16 = 1 << 4;
const NO_WRITES: u16 = 1 << 5;
const RESPECT_OOM: u16 = 1 << 6;
const ERRORS_AS_REPLIES: u16 = 1 << 7;

/// Each option bit and the format character it stands for.
const FLAG_CHARS: [(u16, u8); 8] = [
    (CHECK_ACL, b'C'),
    (REPLICATE, b'!'),
    (NO_AOF, b'A'),
    (NO_REPLICAS, b'R'),
    (SCRIPT_MODE, b'S'),
    (NO_WRITES, b'W'),
    (RESPECT_OOM, b'M'),
    (ERRORS_AS_REPLIES, b'E'),
];

impl CallOptions {
    /// No flags: RESP2 replies, not replicated, run as the unrestricted user, failures before
    /// the command runs as `Err`.
    pub const fn new() -> CallOptions {
        CallOptions {
            flags: 0,
            protocol: Protocol::Resp2,
        }
    }

    const fn with(mut self, flag: u16) -> CallOptions {
        self.flags |= flag;
        self
    }

    /// `C`: check the command and its keys and channels against the ACL of the user the
    /// context runs as (the calling client's), and run it as that user. A denial is
    /// `Err(NOPERM ...)` (an error reply with [`errors_as_replies`](Self::errors_as_replies)).
    pub const fn check_acl(self) -> CallOptions {
        self.with(CHECK_ACL)
    }

    /// `!`: replicate the command to replicas and the AOF (wrapped in `MULTI`/`EXEC` with the
    /// calling command's other effects).
    pub const fn replicate(self) -> CallOptions {
        self.with(REPLICATE)
    }

    /// `A`: with [`replicate`](Self::replicate), send to replicas only, not to the AOF.
    pub const fn no_aof(self) -> CallOptions {
        self.with(NO_AOF)
    }

    /// `R`: with [`replicate`](Self::replicate), send to the AOF only, not to replicas.
    pub const fn no_replicas(self) -> CallOptions {
        self.with(NO_REPLICAS)
    }

    /// `S`: script mode: commands scripts may not run (`noscript`, such as `SHUTDOWN` or
    /// `MULTI`) are refused, and so are writes when the server cannot persist or lacks good
    /// replicas.
    ///
    /// Script mode implies [`errors_as_replies`](Self::errors_as_replies): Valkey 9.1 crashes
    /// on a script-mode refusal without it, so a refusal is always the error reply
    /// `ERR command '<name>' is not allowed on script mode`.
    pub const fn script_mode(self) -> CallOptions {
        self.with(SCRIPT_MODE).with(ERRORS_AS_REPLIES)
    }

    /// `W`: refuse write commands.
    pub const fn no_writes(self) -> CallOptions {
        self.with(NO_WRITES)
    }

    /// `M`: refuse `deny-oom` commands while the server is over `maxmemory`.
    pub const fn respect_oom(self) -> CallOptions {
        self.with(RESPECT_OOM)
    }

    /// `E`: a refusal the server explains (ACL, no writes, OOM, script mode) comes back as an
    /// error *reply* instead of `Err`. An unknown command or a wrong arity is still `Err`.
    pub const fn errors_as_replies(self) -> CallOptions {
        self.with(ERRORS_AS_REPLIES)
    }

    /// `3`: the command replies in RESP3 (maps, sets, doubles, booleans…).
    pub const fn resp3(mut self) -> CallOptions {
        self.protocol = Protocol::Resp3;
        self
    }

    /// `0`: the command replies in the calling client's protocol, so the reply can be
    /// forwarded with [`Ctx::reply_call_reply`] whatever the client speaks.
    pub const fn auto_protocol(mut self) -> CallOptions {
        self.protocol = Protocol::Auto;
        self
    }

    /// The format string: `v` (the argument vector) and one character per option.
    fn format(self) -> ([u8; 16], usize) {
        let mut format = [0u8; 16];
        format[0] = b'v';
        let mut len = 1;
        for (flag, char) in FLAG_CHARS {
            if self.flags & flag != 0 {
                format[len] = char;
                len += 1;
            }
        }
        match self.protocol {
            Protocol::Resp2 => {}
            Protocol::Resp3 => {
                format[len] = b'3';
                len += 1;
            }
            Protocol::Auto => {
                format[len] = b'0';
                len += 1;
            }
        }
        // format[len] is 0: the string is NUL-terminated.
        (format, len)
    }
}

// ---- arguments ----

/// One argument of a called command, as [`CallArg`] presents it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Arg<'s> {
    /// A server string, passed without a copy.
    String(&'s RStr),
    /// Bytes, copied into a server string for the call.
    Bytes(&'s [u8]),
    /// A signed integer, in decimal.
    Integer(i64),
    /// An unsigned integer, in decimal.
    Unsigned(u64),
    /// A double, in the shortest decimal that reads back the same (`inf`, `-inf`, `nan`).
    Double(f64),
}

/// A value usable as one argument of [`Ctx::call`]: server strings ([`RStr`], [`RString`]),
/// text and bytes (`str`, `String`, `[u8]`, `Vec<u8>`, `[u8; N]`), integers and `f64`.
pub trait CallArg {
    /// The argument this value stands for.
    fn as_arg(&self) -> Arg<'_>;
}

impl CallArg for RStr {
    fn as_arg(&self) -> Arg<'_> {
        Arg::String(self)
    }
}

impl CallArg for RString {
    fn as_arg(&self) -> Arg<'_> {
        Arg::String(self)
    }
}

impl CallArg for str {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self.as_bytes())
    }
}

impl CallArg for String {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self.as_bytes())
    }
}

impl CallArg for [u8] {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self)
    }
}

impl CallArg for Vec<u8> {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self)
    }
}

impl<const N: usize> CallArg for [u8; N] {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self)
    }
}

macro_rules! signed_arg {
    ($($t:ty)*) => {$(
        impl CallArg for $t {
            fn as_arg(&self) -> Arg<'_> {
                Arg::Integer(i64::from(*self))
            }
        }
    )*};
}
signed_arg!(i8 i16 i32 i64);

macro_rules! unsigned_arg {
    ($($t:ty)*) => {$(
        impl CallArg for $t {
            fn as_arg(&self) -> Arg<'_> {
                Arg::Unsigned(*self as u64)
            }
        }
    )*};
}
unsigned_arg!(u16 u32 u64 usize);

impl CallArg for f64 {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Double(*self)
    }
}

impl<T: CallArg + ?Sized> CallArg for &T {
    fn as_arg(&self) -> Arg<'_> {
        (**self).as_arg()
    }
}

/// The arguments of a called command (after its name): an array, slice or `Vec` of one
/// [`CallArg`] type, a tuple of mixed ones, or `()` for none.
///
/// ```no_run
/// # use rm::{Ctx, RStr, Result};
/// # fn f(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
/// ctx.call("PING", ())?;
/// ctx.call("GET", ["greeting"])?;
/// ctx.call("DEL", &args[1..])?; // forward the command's own arguments
/// ctx.call("SET", (args[1], "value", "EX", 60))?;
/// # Ok(()) }
/// ```
pub trait CallArgs {
    /// Appends each argument to `out`.
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>);
}

impl CallArgs for () {
    fn push_args<'s>(&'s self, _out: &mut Vec<Arg<'s>>) {}
}

impl<T: CallArg> CallArgs for [T] {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        out.extend(self.iter().map(CallArg::as_arg));
    }
}

impl<T: CallArg, const N: usize> CallArgs for [T; N] {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        out.extend(self.iter().map(CallArg::as_arg));
    }
}

impl<T: CallArg> CallArgs for Vec<T> {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        out.extend(self.iter().map(CallArg::as_arg));
    }
}

impl<T: CallArgs + ?Sized> CallArgs for &T {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        (**self).push_args(out);
    }
}

macro_rules! tuple_args {
    ($($name:ident)+) => {
        impl<$($name: CallArg),+> CallArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
                let ($($name,)+) = self;
                $(out.push($name.as_arg());)+
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);
tuple_args!(A B C D E F G);
tuple_args!(A B C D E F G H);
tuple_args!(A B C D E F G H I);
tuple_args!(A B C D E F G H I J);
tuple_args!(A B C D E F G H I J K);
tuple_args!(A B C D E F G H I J K L);

/// The argument vector handed to `RedisModule_Call`: borrowed server strings as they are
/// (alive for `'s`, which the borrow of the arguments guarantees), everything else in strings
/// created for the call and released with the vector.
pub(crate) struct Argv<'s> {
    pointers: Vec<*mut RedisModuleString>,
    _created: Vec<RString>,
    _borrowed: PhantomData<&'s RStr>,
}

impl<'s> Argv<'s> {
    /// The vector of `args`, after `first` if given (a command name).
    pub(crate) fn new<A: CallArgs + ?Sized>(first: Option<&[u8]>, args: &'s A) -> Argv<'s> {
        let mut collected = Vec::new();
        if let Some(first) = first {
            collected.push(Arg::Bytes(first));
        }
        args.push_args(&mut collected);
        let mut pointers = Vec::with_capacity(collected.len());
        let mut created = Vec::new();
        for arg in &collected {
            let owned = match *arg {
                Arg::String(string) => {
                    pointers.push(string.as_ptr());
                    continue;
                }
                Arg::Bytes(bytes) => RString::from_bytes(bytes),
                Arg::Integer(n) => RString::from_bytes(n.to_string().as_bytes()),
                Arg::Unsigned(n) => RString::from_bytes(n.to_string().as_bytes()),
                Arg::Double(d) => RString::from_bytes(double_text(d).as_bytes()),
            };
            pointers.push(owned.as_ptr());
            created.push(owned);
        }
        Argv {
            pointers,
            _created: created,
            _borrowed: PhantomData,
        }
    }

    /// The string pointers, for `"v"` or an argv parameter.
    pub(crate) fn as_ptr(&self) -> *mut *mut RedisModuleString {
        self.pointers.as_ptr().cast_mut()
    }

    /// The number of strings.
    pub(crate) fn len(&self) -> usize {
        self.pointers.len()
    }

    /// The string at `index`.
    pub(crate) fn get(&self, index: usize) -> &RStr {
        // SAFETY: every pointer is a live string: borrowed for 's (outliving `self`) or owned
        // by `self`.
        unsafe { RStr::from_raw(self.pointers[index]) }
    }
}

fn double_text(d: f64) -> String {
    if d.is_nan() {
        "nan".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        d.to_string()
    }
}

// ---- calling ----

impl<'a> Ctx<'a> {
    /// Runs `command` with `args` (see [`CallArgs`]) as [`call_with`](Ctx::call_with) does
    /// with default options: RESP2, not replicated, no ACL check.
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn type_of(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let reply = ctx.call("TYPE", [args[1]])?;
    ///     ctx.reply_call_reply(&reply) // "+string", "+hash", …
    /// }
    /// ```
    pub fn call<A: CallArgs>(&self, command: &str, args: A) -> Result<CallReply<'_>> {
        self.call_with(CallOptions::new(), command, args)
    }

    /// Runs `command` with `args` through `RedisModule_Call`, in the caller's database.
    ///
    /// `Ok` holds whatever the command replied, an error reply included (see
    /// [`CallReply::into_result`]). `Err` means the command did not run:
    /// - `ERR unknown command '<name>'`, `ERR wrong number of arguments for '<name>' command`;
    /// - `NOPERM ...` when [`CallOptions::check_acl`] denies it;
    /// - `ERR write command '<name>' called while writes are not allowed`
    ///   ([`CallOptions::no_writes`]), `OOM ...` ([`CallOptions::respect_oom`]), and cluster
    ///   refusals (`CLUSTERDOWN ...`, `READONLY ...`).
    ///
    /// With [`CallOptions::errors_as_replies`], ACL, no-writes, OOM and script-mode refusals
    /// come back as error replies in the server's own words instead.
    ///
    /// `Err(ERR cannot run a command: a borrowed view of the key's value is still alive ...)`
    /// while a view of a key's value ([`StrView`](crate::StrView), [`ValueRef`](crate::ValueRef),
    /// …) is alive anywhere: the command could free what it points into. Drop the view first.
    ///
    /// ```no_run
    /// # use rm::{CallOptions, Ctx, RStr, Result};
    /// fn safe_get(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     // Only what the calling user may read; never a write.
    ///     let options = CallOptions::new().check_acl().no_writes();
    ///     let reply = ctx.call_with(options, "GET", [args[1]])?;
    ///     ctx.reply_call_reply(&reply)
    /// }
    /// ```
    pub fn call_with<A: CallArgs>(
        &self,
        options: CallOptions,
        command: &str,
        args: A,
    ) -> Result<CallReply<'_>> {
        crate::view::ensure_none("run a command")?;
        // The command may delete, replace or create any key under the open handles.
        let _reopen = self.open_keys().close_all(self);
        let name = CString::new(command).map_err(|_| Error::err("command name has a NUL"))?;
        // `args` stays alive (borrowed) until the call has returned.
        let argv = Argv::new(None, &args);
        let (format, _) = options.format();
        // SAFETY: live context, NUL-terminated name and format; "v" takes an array of live
        // string pointers and its length (the server retains what it keeps); the other format
        // characters take no arguments.
        let raw = unsafe {
            core_api!(Call)(
                self.as_ptr(),
                name.as_ptr(),
                format.as_ptr().cast::<c_char>(),
                argv.as_ptr(),
                argv.len(),
            )
        };
        // Read errno before anything else can change it.
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        drop(argv);
        drop(args);
        match NonNull::new(raw) {
            // SAFETY: a reply the server handed us; we free it once, on drop.
            Some(raw) => Ok(unsafe { CallReply::from_raw(raw) }),
            None => Err(call_error(errno, command, options)),
        }
    }

    /// Sends a called command's reply (or any element of it) to the client as it is.
    ///
    /// `Err` if the reply is RESP3 and the client speaks RESP2 (call with
    /// [`CallOptions::auto_protocol`] to forward whatever the client speaks); nothing was sent
    /// then.
    ///
    /// ```no_run
    /// # use rm::{CallOptions, Ctx, RStr, Result};
    /// fn proxy(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let reply = ctx.call_with(CallOptions::new().auto_protocol(), "HGETALL", [args[1]])?;
    ///     ctx.reply_call_reply(&reply) // a map on RESP3, a flat array on RESP2
    /// }
    /// ```
    pub fn reply_call_reply(&self, reply: &Reply) -> Result<()> {
        // The servers copy the protocol text as it is, even RESP3 types to a RESP2 client,
        // who could not read them (and the connection would be out of step): refuse that.
        if !self.is_resp3() && !is_resp2(reply.proto()) {
            return Err(Error::err(
                "cannot forward a RESP3 reply to a RESP2 client (call with auto protocol)",
            ));
        }
        // SAFETY: live context and a live reply; the server copies its protocol text.
        let status = unsafe { core_api!(ReplyWithCallReply)(self.as_ptr(), reply.as_ptr()) };
        if status == sys::REDISMODULE_OK {
            self.mark_replied();
            Ok(())
        } else {
            Err(Error::err("the server could not forward the reply"))
        }
    }
}

/// Whether `proto` is exactly one reply a RESP2 client can read: only `+ - : $ *` types.
fn is_resp2(proto: &[u8]) -> bool {
    let mut pos = 0;
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let Some(kind) = proto.get(pos) else {
            return false;
        };
        let Some(end) = proto[pos..].windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let header = &proto[pos + 1..pos + end];
        pos += end + 2;
        let length = || -> Option<i64> { std::str::from_utf8(header).ok()?.parse().ok() };
        match kind {
            b'+' | b'-' | b':' => {}
            b'$' => match length() {
                Some(-1) => {}
                Some(n) if n >= 0 => {
                    pos += n as usize;
                    if proto.get(pos..pos + 2) != Some(b"\r\n") {
                        return false;
                    }
                    pos += 2;
                }
                _ => return false,
            },
            b'*' => match length() {
                Some(-1) => {}
                Some(n) if n >= 0 => pending += n as usize,
                _ => return false,
            },
            _ => return false,
        }
    }
    pos == proto.len()
}

/// The error for a call that did not run, from `errno` as `RedisModule_Call` documents it.
fn call_error(errno: i32, command: &str, options: CallOptions) -> Error {
    // errno values on Linux (the servers' platform).
    const EPERM: i32 = 1;
    const ENOENT: i32 = 2;
    const EBADF: i32 = 9;
    const EACCES: i32 = 13;
    const EINVAL: i32 = 22;
    const ENOSPC: i32 = 28;
    const ESPIPE: i32 = 29;
    const EROFS: i32 = 30;
    const ENOTSUP: i32 = 95;
    const ENETDOWN: i32 = 100;
    let command = command.replace(['\r', '\n'], " ");
    match errno {
        ENOENT => Error::err(format!("unknown command '{command}'")),
        EINVAL => Error::err(format!("wrong number of arguments for '{command}' command")),
        EACCES => Error::coded(
            "NOPERM",
            &format!(
                "the user has no permissions to run the '{command}' command or access its keys or channels"
            ),
        ),
        ENOTSUP => Error::err("no user to check ACLs for: the context has no client"),
        ENOSPC if options.flags & NO_WRITES != 0 && options.flags & RESPECT_OOM == 0 => Error::err(
            format!("write command '{command}' called while writes are not allowed"),
        ),
        ENOSPC if options.flags & NO_WRITES == 0 => {
            Error::coded("OOM", "command not allowed when used memory > 'maxmemory'.")
        }
        ENOSPC => Error::err(format!(
            "'{command}' is a write command, or the server is over 'maxmemory'"
        )),
        ESPIPE => Error::err(format!("'{command}' is not allowed in script mode now")),
        EROFS => Error::coded("READONLY", "You can't write against a read only replica."),
        EPERM => Error::err(format!(
            "a key of '{command}' is in a slot this cluster node does not serve"
        )),
        ENETDOWN => Error::coded("CLUSTERDOWN", "The cluster is down"),
        EBADF => Error::err("invalid call format (SDK bug)"),
        other => Error::err(format!("'{command}' could not be run (errno {other})")),
    }
}

// ---- replies ----

/// The reply of a command run with [`Ctx::call`] (any command, built-in or another
/// module's), owned: freed on drop.
///
/// It derefs to [`Reply`], as every element inside it is a [`&Reply`](Reply), whose
/// [`value`](Reply::value) is a [`CallValue`]: strings, errors, integers, arrays, and the
/// RESP3 types (maps, sets, doubles, booleans, big numbers, verbatim strings, attributes).
/// Elements borrow from their parent, so they cannot outlive it.
///
/// [`Ctx::call_with`] takes [`CallOptions`]: check ACLs as the calling user, replicate, return
/// errors as replies, RESP3, script mode, no writes, respect `maxmemory`.
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
/// ```compile_fail,E0597
/// // An element cannot outlive the reply it belongs to.
/// fn first(ctx: &rm::Ctx) -> rm::Result<()> {
///     let value;
///     {
///         let reply = ctx.call("LRANGE", ("list", 0, -1))?;
///         value = reply.value();
///     }
///     let _ = value;
///     Ok(())
/// }
/// ```
///
/// ```compile_fail,E0277
/// // Nor can a reply go to another thread.
/// fn send(ctx: &rm::Ctx) -> rm::Result<()> {
///     let reply = ctx.call("PING", ())?;
///     std::thread::spawn(move || drop(reply));
///     Ok(())
/// }
/// ```
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
    unsafe fn from_raw(raw: NonNull<RedisModuleCallReply>) -> Self {
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
        match self.value() {
            CallValue::Integer(n) => Some(n),
            CallValue::String(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The error reply as an [`Error`] (its line as the server sent it); `None` unless the
    /// reply is an error.
    pub fn error(&self) -> Option<Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn format(options: CallOptions) -> String {
        let (bytes, len) = options.format();
        assert_eq!(bytes[len], 0, "NUL-terminated");
        String::from_utf8(bytes[..len].to_vec()).unwrap()
    }

    #[test]
    fn options_become_format_characters() {
        assert_eq!(format(CallOptions::new()), "v");
        assert_eq!(
            format(CallOptions::new().check_acl().replicate().resp3()),
            "vC!3"
        );
        assert_eq!(
            format(
                CallOptions::new()
                    .errors_as_replies()
                    .no_writes()
                    .script_mode()
                    .respect_oom()
                    .no_aof()
                    .no_replicas()
                    .auto_protocol()
            ),
            "vARSWME0"
        );
        // Script mode brings errors as replies (Valkey 9.1 crashes without).
        assert_eq!(format(CallOptions::new().script_mode()), "vSE");
        // The protocol is one choice: the last one wins.
        assert_eq!(format(CallOptions::new().resp3().auto_protocol()), "v0");
    }

    #[test]
    fn only_resp2_types_pass_for_resp2_clients() {
        for ok in [
            &b"+OK\r\n"[..],
            b"-ERR x\r\n",
            b":-5\r\n",
            b"$3\r\na\r\n\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
            b"*0\r\n",
            b"*2\r\n$1\r\n%\r\n*1\r\n:1\r\n",
        ] {
            assert!(is_resp2(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"%1\r\n$1\r\na\r\n:1\r\n",
            b"*2\r\n:1\r\n,1.5\r\n",
            b"_\r\n",
            b"#t\r\n",
            b"|1\r\n+a\r\n+b\r\n+c\r\n",
            b"*2\r\n:1\r\n",
            b"$5\r\nab\r\n",
            b":1\r\n:2\r\n",
            b"$-2\r\n",
        ] {
            assert!(!is_resp2(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn doubles_print_shortest() {
        assert_eq!(double_text(2.5), "2.5");
        assert_eq!(double_text(0.1), "0.1");
        assert_eq!(double_text(f64::INFINITY), "inf");
        assert_eq!(double_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(double_text(f64::NAN), "nan");
        assert_eq!(double_text(-3.0), "-3");
    }
}
