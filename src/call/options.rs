//! [`CallOptions`]: how `RedisModule_Call` runs a command, as its format string.

/// How [`Ctx::call_with`](crate::Ctx::call_with) runs a command: each option is one
/// `RedisModule_Call` format flag. All of them exist on Redis 7.0 and later.
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
    pub(super) flags: u16,
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
pub(super) const NO_WRITES: u16 = 1 << 5;
pub(super) const RESPECT_OOM: u16 = 1 << 6;
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
    /// forwarded with [`Ctx::reply_call_reply`](crate::Ctx::reply_call_reply) whatever the
    /// client speaks.
    pub const fn auto_protocol(mut self) -> CallOptions {
        self.protocol = Protocol::Auto;
        self
    }

    /// The format string: `v` (the argument vector) and one character per option.
    pub(super) fn format(self) -> ([u8; 16], usize) {
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
}
