//! [`CommandFlags`]: a command's flags as a typed set, spelled as the server spells them.

use std::borrow::Cow;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// The flags of a [`Command`](crate::Command), as a set: `CommandFlags::WRITE |
/// CommandFlags::DENY_OOM`. [`Command::flags`](crate::Command::flags) takes this or the
/// server's own words (`"write deny-oom"`, the form go-rm and C modules use).
///
/// Each constant is one word of `RedisModule_CreateCommand`'s flag string; the set becomes
/// that string at registration, so it costs nothing at run time. The server checks the
/// words: a flag the running server does not know (`GETCHANNELS_API` before Redis 7.2,
/// e.g.) fails the module's load, as the same word in a string does.
///
/// ```
/// use rm::CommandFlags;
/// let flags = CommandFlags::WRITE | CommandFlags::DENY_OOM | CommandFlags::FAST;
/// assert_eq!(flags.to_string(), "write deny-oom fast");
/// assert!(flags.contains(CommandFlags::WRITE));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CommandFlags(u32);

/// Each flag's bit and word, in the order the module API documents them.
const WORDS: [(CommandFlags, &str); 20] = [
    (CommandFlags::WRITE, "write"),
    (CommandFlags::READONLY, "readonly"),
    (CommandFlags::ADMIN, "admin"),
    (CommandFlags::DENY_OOM, "deny-oom"),
    (CommandFlags::DENY_SCRIPT, "deny-script"),
    (CommandFlags::ALLOW_LOADING, "allow-loading"),
    (CommandFlags::PUBSUB, "pubsub"),
    (CommandFlags::RANDOM, "random"),
    (CommandFlags::ALLOW_STALE, "allow-stale"),
    (CommandFlags::NO_MONITOR, "no-monitor"),
    (CommandFlags::NO_SLOWLOG, "no-slowlog"),
    (CommandFlags::FAST, "fast"),
    (CommandFlags::GETKEYS_API, "getkeys-api"),
    (CommandFlags::NO_CLUSTER, "no-cluster"),
    (CommandFlags::NO_AUTH, "no-auth"),
    (CommandFlags::MAY_REPLICATE, "may-replicate"),
    (CommandFlags::NO_MANDATORY_KEYS, "no-mandatory-keys"),
    (CommandFlags::BLOCKING, "blocking"),
    (CommandFlags::ALLOW_BUSY, "allow-busy"),
    (CommandFlags::GETCHANNELS_API, "getchannels-api"),
];

impl CommandFlags {
    /// No flags.
    pub const NONE: CommandFlags = CommandFlags(0);
    /// `write`: the command may modify the data set.
    pub const WRITE: CommandFlags = CommandFlags(1);
    /// `readonly`: the command only reads keys.
    pub const READONLY: CommandFlags = CommandFlags(1 << 1);
    /// `admin`: an administrative command (replication, configuration…).
    pub const ADMIN: CommandFlags = CommandFlags(1 << 2);
    /// `deny-oom`: refused when the server is out of memory (commands that may use more).
    pub const DENY_OOM: CommandFlags = CommandFlags(1 << 3);
    /// `deny-script`: not allowed in Lua scripts.
    pub const DENY_SCRIPT: CommandFlags = CommandFlags(1 << 4);
    /// `allow-loading`: allowed while the server loads data.
    pub const ALLOW_LOADING: CommandFlags = CommandFlags(1 << 5);
    /// `pubsub`: publishes on Pub/Sub channels.
    pub const PUBSUB: CommandFlags = CommandFlags(1 << 6);
    /// `random`: deprecated since Redis 7.0, which accepts and ignores it (use command tips).
    pub const RANDOM: CommandFlags = CommandFlags(1 << 7);
    /// `allow-stale`: allowed on a replica serving stale data.
    pub const ALLOW_STALE: CommandFlags = CommandFlags(1 << 8);
    /// `no-monitor`: not shown in `MONITOR` (sensitive arguments).
    pub const NO_MONITOR: CommandFlags = CommandFlags(1 << 9);
    /// `no-slowlog`: not logged in the slow log (sensitive arguments).
    pub const NO_SLOWLOG: CommandFlags = CommandFlags(1 << 10);
    /// `fast`: O(1) or O(log N), never blocks or delays.
    pub const FAST: CommandFlags = CommandFlags(1 << 11);
    /// `getkeys-api`: the command answers key-position requests itself.
    pub const GETKEYS_API: CommandFlags = CommandFlags(1 << 12);
    /// `no-cluster`: refused in cluster mode.
    pub const NO_CLUSTER: CommandFlags = CommandFlags(1 << 13);
    /// `no-auth`: runs without authentication.
    pub const NO_AUTH: CommandFlags = CommandFlags(1 << 14);
    /// `may-replicate`: may replicate (or otherwise write) without being a write command.
    pub const MAY_REPLICATE: CommandFlags = CommandFlags(1 << 15);
    /// `no-mandatory-keys`: its key arguments are optional.
    pub const NO_MANDATORY_KEYS: CommandFlags = CommandFlags(1 << 16);
    /// `blocking`: may block the client.
    pub const BLOCKING: CommandFlags = CommandFlags(1 << 17);
    /// `allow-busy`: allowed while a script or module command keeps the server busy.
    pub const ALLOW_BUSY: CommandFlags = CommandFlags(1 << 18);
    /// `getchannels-api`: the command answers channel-position requests itself (Redis 7.2+).
    pub const GETCHANNELS_API: CommandFlags = CommandFlags(1 << 19);

    /// Whether every flag of `other` is in `self`.
    pub const fn contains(self, other: CommandFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `self` and `other` together (`|` in a `const`).
    pub const fn union(self, other: CommandFlags) -> CommandFlags {
        CommandFlags(self.0 | other.0)
    }

    /// The flag named by the server's `word` (`"deny-oom"`; any case), if it is one of these.
    pub fn from_word(word: &str) -> Option<CommandFlags> {
        WORDS
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(word))
            .map(|&(flag, _)| flag)
    }
}

impl BitOr for CommandFlags {
    type Output = CommandFlags;
    fn bitor(self, other: CommandFlags) -> CommandFlags {
        self.union(other)
    }
}

impl BitOrAssign for CommandFlags {
    fn bitor_assign(&mut self, other: CommandFlags) {
        *self = self.union(other);
    }
}

/// The server's words, space-separated: the string `RedisModule_CreateCommand` takes.
impl fmt::Display for CommandFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut words = WORDS.iter().filter(|(flag, _)| self.contains(*flag));
        if let Some((_, first)) = words.next() {
            f.write_str(first)?;
            for (_, word) in words {
                write!(f, " {word}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CommandFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandFlags({:?})", self.to_string())
    }
}

/// What [`Command::flags`](crate::Command::flags) takes: the set as the server's words.
impl From<CommandFlags> for Cow<'static, str> {
    fn from(flags: CommandFlags) -> Cow<'static, str> {
        Cow::Owned(flags.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_is_one_bit_with_its_own_word() {
        let mut all = CommandFlags::NONE;
        for (flag, word) in WORDS {
            assert_eq!(flag.0.count_ones(), 1, "{word}");
            assert!(!all.contains(flag), "{word} shares a bit");
            all |= flag;
            assert_eq!(flag.to_string(), word);
            assert_eq!(CommandFlags::from_word(&word.to_uppercase()), Some(flag));
        }
        assert_eq!(CommandFlags::from_word("bogus"), None);
        assert_eq!(CommandFlags::NONE.to_string(), "");
        assert!(CommandFlags::NONE.is_empty());
    }

    #[test]
    fn a_set_prints_its_words_in_the_apis_order() {
        let flags = CommandFlags::FAST | CommandFlags::WRITE | CommandFlags::DENY_OOM;
        assert_eq!(flags.to_string(), "write deny-oom fast");
        assert_eq!(
            format!("{flags:?}"),
            "CommandFlags(\"write deny-oom fast\")"
        );
        assert!(flags.contains(CommandFlags::WRITE | CommandFlags::FAST));
        assert!(!flags.contains(CommandFlags::READONLY));
        const CONST: CommandFlags = CommandFlags::READONLY.union(CommandFlags::FAST);
        assert_eq!(CONST.to_string(), "readonly fast");
    }
}
