//! `Ctx::replicate`: a command sent to replicas and the AOF, with its arguments given as
//! `Ctx::call` takes them (so it lives with call, not with the core `Ctx`).

use super::{Argv, CallArgs};
use crate::ctx::Ctx;
use crate::string::with_c_str;
use crate::sys;
use crate::{Error, Result};

impl Ctx<'_> {
    /// Replicates `command args...` instead of the command as sent (for non-deterministic
    /// commands, replicate their effect).
    ///
    /// `args` as [`Ctx::call`] takes them ([`CallArgs`](crate::CallArgs)): the command's own
    /// arguments (`&args[1..]`, an array of `&RStr`) pass as they are, other values (`&str`,
    /// bytes, integers, `f64`, in a tuple when mixed) become strings for the call.
    ///
    /// ```no_run
    /// # use rm::{Ctx, RStr, Result};
    /// # fn f(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    /// ctx.replicate("DEL", &args[1..])?;
    /// ctx.replicate("PEXPIREAT", (args[1], 1_700_000_000_000u64))?;
    /// # Ok(()) }
    /// ```
    pub fn replicate<A: CallArgs>(&self, command: &str, args: A) -> Result<()> {
        let argv = Argv::new(None, &args);
        let status = with_c_str(command, |command| {
            // SAFETY: live context; "v" takes an array of string pointers and its length, which
            // `argv` holds alive until the call returns (the server retains what it keeps).
            unsafe {
                core_api!(Replicate)(
                    self.as_ptr(),
                    command.as_ptr(),
                    c"v".as_ptr(),
                    argv.as_ptr(),
                    argv.len(),
                )
            }
        })
        .ok_or_else(|| Error::err("command name has a NUL"))?;
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err("no such command to replicate"))
        }
    }
}
