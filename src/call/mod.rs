//! Running commands from a module: `RedisModule_Call`, with typed access to the reply.
//!
//! One file per part: [`CallOptions`] (options.rs), the arguments (args.rs), the call itself
//! (here), and the reply tree (reply.rs).

mod args;
mod options;
mod replicate;
mod reply;

use std::ffi::{CStr, c_char};
use std::ptr::NonNull;

use crate::ctx::Ctx;
use crate::sys;
use crate::{Error, Result};

pub use args::{Arg, Argv, CallArg, CallArgs};
pub use options::CallOptions;
use options::{NO_WRITES, RESPECT_OOM};
pub use reply::{CallReply, CallValue, Elements, ElementsIter, Pairs, PairsIter, Reply, ReplyKind};

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
        // `args` stays alive (borrowed) until the call has returned.
        let argv = Argv::new(None, &args);
        let (format, _) = options.format();
        let (raw, errno) = with_c_name(command, |name| {
            // SAFETY: live context, NUL-terminated name and format; "v" takes an array of live
            // string pointers and its length (the server retains what it keeps); the other
            // format characters take no arguments.
            let raw = unsafe {
                core_api!(Call)(
                    self.as_ptr(),
                    name.as_ptr(),
                    format.as_ptr().cast::<c_char>(),
                    argv.as_ptr(),
                    argv.len(),
                )
            };
            // Read errno (only needed without a reply) before anything else can change it.
            let errno = if raw.is_null() {
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
            } else {
                0
            };
            (raw, errno)
        })?;
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

/// Runs `f` with `command` as a C string (no allocation for a short name). `Err` for a name
/// with a NUL.
#[inline(always)]
fn with_c_name<R>(command: &str, f: impl FnOnce(&CStr) -> R) -> Result<R> {
    crate::string::with_c_str(command, f).ok_or_else(no_nul)
}

#[cold]
fn no_nul() -> Error {
    Error::err("command name has a NUL")
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
