//! ACL checks: may a user run a command, touch a key, use a channel?

use std::marker::PhantomData;
use std::ops::BitOr;
use std::ptr::NonNull;

use crate::call::{Argv, CallArg, CallArgs};
use crate::ctx::Ctx;
use crate::string::{RStr, RString};
use crate::sys::{self, RedisModuleUser};
use crate::{Error, Result};

/// What a key is checked for with [`User::check_key`]; combine with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAccess(u64);

impl KeyAccess {
    /// Any access: the key matches one of the user's key patterns, whatever it allows.
    pub const ANY: KeyAccess = KeyAccess(0);
    /// Reading the value (`%R~` or `~` patterns).
    pub const READ: KeyAccess = KeyAccess(sys::REDISMODULE_CMD_KEY_ACCESS as u64);
    /// Adding data (`%W~` or `~`).
    pub const INSERT: KeyAccess = KeyAccess(sys::REDISMODULE_CMD_KEY_INSERT as u64);
    /// Changing existing data (`%W~` or `~`).
    pub const UPDATE: KeyAccess = KeyAccess(sys::REDISMODULE_CMD_KEY_UPDATE as u64);
    /// Removing data (`%W~` or `~`).
    pub const DELETE: KeyAccess = KeyAccess(sys::REDISMODULE_CMD_KEY_DELETE as u64);
    /// Any write: insert, update and delete.
    pub const WRITE: KeyAccess = KeyAccess(
        (sys::REDISMODULE_CMD_KEY_INSERT
            | sys::REDISMODULE_CMD_KEY_UPDATE
            | sys::REDISMODULE_CMD_KEY_DELETE) as u64,
    );
}

impl BitOr for KeyAccess {
    type Output = KeyAccess;

    fn bitor(self, other: KeyAccess) -> KeyAccess {
        KeyAccess(self.0 | other.0)
    }
}

/// An ACL user, by name. Each check looks the user up again, so it sees the user's rules as
/// they are at that moment and a user deleted meanwhile is an error, never a dangling pointer.
///
/// [`Ctx::user`] names an ACL user (`ACL SETUSER ...`); [`User`]'s checks answer `Ok(())` or
/// `Err(NOPERM ...)`, ready for `?`. [`Ctx::current_user_name`] is the calling client's user.
///
/// ```no_run
/// use rm::{Ctx, KeyAccess, RStr, Result};
///
/// /// `VAULT.READ key`: refuses keys the calling user may not read, even though the module
/// /// reads them on the user's behalf.
/// fn vault_read(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
///     let user = ctx.current_user()?;
///     user.check_key(args[1], KeyAccess::READ)?; // NOPERM ... otherwise
///     user.check_command("GET", [args[1]])?;
///     let reply = ctx.call("GET", [args[1]])?;
///     ctx.reply_call_reply(&reply)
/// }
/// ```
pub struct User<'a> {
    name: RString,
    // Tied to the callback that looked it up; main thread only.
    _ctx: PhantomData<&'a Ctx<'a>>,
}

/// A user looked up for one check, released on drop.
struct Resolved(NonNull<RedisModuleUser>);

impl Drop for Resolved {
    fn drop(&mut self) {
        // SAFETY: a user from GetModuleUserFromUserName, freed once (the ACL user itself is
        // not freed by this).
        unsafe { core_api!(FreeModuleUser)(self.0.as_ptr()) };
    }
}

impl<'a> Ctx<'a> {
    /// The ACL user called `name` (a [`CallArg`]: `&RStr`, `&str`, bytes…); `Err` if there is
    /// none. A disabled user (`off`) is found too: its rules still apply.
    ///
    /// ```no_run
    /// # use rm::{Ctx, KeyAccess, Result};
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// let alice = ctx.user("alice")?;
    /// alice.check_key("config:main", KeyAccess::WRITE)?;
    /// # Ok(()) }
    /// ```
    pub fn user(&self, name: impl CallArg) -> Result<User<'_>> {
        let name = Argv::new(None, &[name]).get(0).to_owned_string();
        let user = User {
            name,
            _ctx: PhantomData,
        };
        user.resolve()?;
        Ok(user)
    }

    /// The user the calling client is authenticated as (`default` unless it ran `AUTH`).
    ///
    /// `Err` where there is no calling client (a timer, a background context).
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// fn whoami(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     let name = ctx.current_user_name()?;
    ///     ctx.reply_string(&name);
    ///     Ok(())
    /// }
    /// ```
    pub fn current_user_name(&self) -> Result<RString> {
        // SAFETY: live context; a non-NULL result is a new string we own.
        let raw = unsafe { core_api!(GetCurrentUserName)(self.as_ptr()) };
        NonNull::new(raw)
            // SAFETY: a new string with one reference, ours.
            .map(|raw| unsafe { RString::from_raw(raw) })
            .ok_or_else(|| Error::err("no calling client, so no current user"))
    }

    /// The calling client's user, for checks.
    pub fn current_user(&self) -> Result<User<'_>> {
        let name = self.current_user_name()?;
        let user = User {
            name,
            _ctx: PhantomData,
        };
        user.resolve()?;
        Ok(user)
    }
}

impl User<'_> {
    /// The user's name.
    pub fn name(&self) -> &RStr {
        &self.name
    }

    fn resolve(&self) -> Result<Resolved> {
        // SAFETY: a live string; a non-NULL result is ours to free.
        let raw = unsafe { core_api!(GetModuleUserFromUserName)(self.name.as_ptr()) };
        NonNull::new(raw)
            .map(Resolved)
            .ok_or_else(|| Error::err(format!("no such user '{}'", &*self.name)))
    }

    /// `Ok(())` if the user may run `command` with `args` (see [`CallArgs`]): the command or
    /// subcommand, and every key and channel among its arguments.
    ///
    /// `Err(NOPERM ...)` if not, `ERR unknown command ...` if there is no such command.
    ///
    /// ```no_run
    /// # use rm::{Ctx, Result};
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// ctx.user(b"alice")?.check_command("SET", ("greeting", "hello"))?;
    /// # Ok(()) }
    /// ```
    pub fn check_command<A: CallArgs>(&self, command: &str, args: A) -> Result<()> {
        let user = self.resolve()?;
        let argv = Argv::new(Some(command.as_bytes()), &args);
        let argc = i32::try_from(argv.len()).unwrap_or(i32::MAX);
        // SAFETY: a live user and `argc` live strings; the server only reads them.
        let status =
            unsafe { core_api!(ACLCheckCommandPermissions)(user.0.as_ptr(), argv.as_ptr(), argc) };
        let errno = last_errno();
        if status == sys::REDISMODULE_OK {
            return Ok(());
        }
        let command = command.replace(['\r', '\n'], " ");
        Err(if errno == ENOENT {
            Error::err(format!("unknown command '{command}'"))
        } else {
            Error::coded(
                "NOPERM",
                &format!(
                    "User {} has no permissions to run the '{command}' command with these arguments",
                    &*self.name
                ),
            )
        })
    }

    /// `Ok(())` if the user may access `key` (a [`CallArg`]) as `access` says;
    /// `Err(NOPERM ...)` if not.
    ///
    /// ```no_run
    /// # use rm::{Ctx, KeyAccess, Result};
    /// # fn f(ctx: &Ctx) -> Result<()> {
    /// ctx.current_user()?.check_key("orders:17", KeyAccess::READ | KeyAccess::UPDATE)?;
    /// # Ok(()) }
    /// ```
    pub fn check_key(&self, key: impl CallArg, access: KeyAccess) -> Result<()> {
        let user = self.resolve()?;
        let keys = [key];
        let argv = Argv::new(None, &keys);
        let key = argv.get(0);
        let flags = i32::try_from(access.0).expect("key access flags fit an int");
        // SAFETY: a live user and string.
        let status =
            unsafe { core_api!(ACLCheckKeyPermissions)(user.0.as_ptr(), key.as_ptr(), flags) };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::coded(
                "NOPERM",
                &format!(
                    "User {} has no permissions to access the '{key}' key",
                    &*self.name
                ),
            ))
        }
    }

    /// `Ok(())` if the user may publish or subscribe to `channel`; `Err(NOPERM ...)` if not.
    pub fn check_channel(&self, channel: impl CallArg) -> Result<()> {
        self.channel(channel, 0)
    }

    /// `Ok(())` if the user may subscribe to the pattern `pattern` (`PSUBSCRIBE`): the pattern
    /// must be one of the user's channel patterns, literally.
    pub fn check_channel_pattern(&self, pattern: impl CallArg) -> Result<()> {
        self.channel(pattern, sys::REDISMODULE_CMD_CHANNEL_PATTERN)
    }

    fn channel(&self, channel: impl CallArg, flags: i32) -> Result<()> {
        let user = self.resolve()?;
        let channels = [channel];
        let argv = Argv::new(None, &channels);
        let channel = argv.get(0);
        // SAFETY: a live user and string.
        let status = unsafe {
            core_api!(ACLCheckChannelPermissions)(user.0.as_ptr(), channel.as_ptr(), flags)
        };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::coded(
                "NOPERM",
                &format!(
                    "User {} has no permissions to access the '{channel}' channel",
                    &*self.name
                ),
            ))
        }
    }
}

const ENOENT: i32 = 2;

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
