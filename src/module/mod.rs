//! Module and command definitions, in the spirit of go-rm's `rm.Module` and `rm.Command`.

use std::borrow::Cow;
use std::ffi::{CString, c_int};
use std::ptr;

use crate::boundary::{self, CommandFn, LoadFn, UnloadFn};
use crate::ctx::{Ctx, LogLevel};
use crate::string::RStr;
use crate::sys::{self, RedisModuleCmdFunc, RedisModuleCommandArg, RedisModuleCommandInfo};
use crate::{Error, Result};

pub(crate) mod load;
pub(crate) mod options;
mod usage;

use usage::Keys;

/// A module: its name, version, commands and an optional load hook.
pub struct Module {
    name: &'static str,
    version: i32,
    commands: Vec<Command>,
    on_load: Vec<LoadFn>,
    on_unload: Vec<UnloadFn>,
}

/// One command: name, documentation, flags, key positions and the action that runs it.
pub struct Command {
    name: &'static str,
    callback: RedisModuleCmdFunc,
    usage: &'static str,
    summary: &'static str,
    since: &'static str,
    complexity: &'static str,
    flags: Cow<'static, str>,
    keys: (c_int, c_int, c_int),
    key_flags: &'static str,
    arity: c_int,
}

impl Module {
    /// A module called `name` (what `MODULE LIST` shows) at `version`.
    pub fn new(name: &'static str, version: i32) -> Module {
        Module {
            name,
            version,
            commands: Vec::new(),
            on_load: Vec::new(),
            on_unload: Vec::new(),
        }
    }

    /// Adds a command.
    pub fn command(mut self, command: Command) -> Module {
        self.commands.push(command);
        self
    }

    /// Runs `hook` once the commands are registered, with the arguments given after the path
    /// in `--loadmodule` / `MODULE LOAD`; hooks run in the order added. An error refuses the
    /// load. This is where data types, configs, events and the like are registered.
    pub fn on_load(mut self, hook: LoadFn) -> Module {
        self.on_load.push(hook);
        self
    }

    /// Runs `hook` on `MODULE UNLOAD` (hooks run in the order added): the place to stop the
    /// module's own threads, which must not outlive its code. An error refuses the unload.
    /// Not called when the server shuts down (subscribe to
    /// [`events::Shutdown`](crate::events::Shutdown) for that).
    ///
    /// Hooks run on the main thread with the server lock held: signal your threads to stop and
    /// join only threads that never wait for the lock meanwhile (one blocked in
    /// [`ThreadSafeContext::lock`](crate::ThreadSafeContext::lock) would never return, and the
    /// join would hang the server). A refusal by a later hook does not undo what earlier hooks
    /// did: refuse before stopping anything (one hook doing both is simplest). The
    /// [`module!`](crate::module!) macro exports `RedisModule_OnUnload` for these hooks, so a
    /// module must not define its own.
    pub fn on_unload(mut self, hook: UnloadFn) -> Module {
        self.on_unload.push(hook);
        self
    }

    /// Checks what can be checked without a server: each command's usage line and key flags.
    /// The load checks them too and fails on the first problem; call this from a unit test
    /// (`module().check().unwrap()`) to find them at `cargo test`.
    pub fn check(&self) -> Result<()> {
        for command in &self.commands {
            command.parse_key_flags()?;
            command.parse_usage()?;
        }
        Ok(())
    }

    /// Registers everything with the server; called by the boundary during load.
    pub(crate) fn register(self, ctx: &Ctx<'_>, args: &[&RStr]) -> Result<()> {
        let name = c_string(self.name)?;
        // SAFETY: live load context and a NUL-terminated name.
        if unsafe { core_api!(IsModuleNameBusy)(name.as_ptr()) } != 0 {
            return Err(Error::err(format!(
                "a module named '{}' is already loaded",
                self.name
            )));
        }
        // SAFETY: as above; the server copies the name.
        unsafe {
            core_api!(SetModuleAttribs)(
                ctx.as_ptr(),
                name.as_ptr(),
                self.version,
                sys::REDISMODULE_APIVER_1,
            )
        };
        for command in &self.commands {
            command.register(ctx)?;
        }
        // Subscriptions made by the hooks take effect only if the whole load succeeds.
        crate::events::callbacks::begin_subscriptions();
        boundary::begin_load();
        let outcome = self
            .on_load
            .into_iter()
            .try_for_each(|hook| boundary::run_load_hook(hook, ctx, args))
            // Module configs get their startup values (or defaults) once all are registered.
            .and_then(|()| crate::config::load_registered(ctx, self.name, args));
        let outcome = boundary::end_load(ctx, outcome, crate::events::callbacks::end_subscriptions);
        if outcome.is_ok() {
            boundary::set_unload_hooks(self.on_unload);
        }
        outcome
    }
}

impl Command {
    /// A command `name` run by `action`.
    ///
    /// Defaults: no flags, no keys, any arity; set them with the builder methods.
    /// The action runs as the server's command callback, which carries no user data, so it
    /// must be a `fn` or a closure that captures nothing; one that captures variables fails to
    /// compile, with an error at this call saying where to keep state instead.
    pub fn new<F: CommandFn>(name: &'static str, _action: F) -> Command {
        const { boundary::stateless::<F>() };
        Command {
            name,
            callback: Some(boundary::command::<F>),
            usage: "",
            summary: "",
            since: "",
            complexity: "",
            flags: Cow::Borrowed(""),
            keys: (0, 0, 0),
            key_flags: "",
            arity: 0,
        }
    }

    /// A command `name` whose action takes exactly `N` arguments after the name, as an array:
    /// the arity is `N + 1`, derived here, and the server refuses other counts with its own
    /// error before the action runs.
    ///
    /// ```no_run
    /// use rm::{Command, Ctx, RStr, Result};
    /// fn hgetset(ctx: &Ctx, [key, field, value]: &[&RStr; 3]) -> Result<()> {
    ///     # let _ = (key, field, value);
    ///     ctx.reply_null();
    ///     Ok(())
    /// }
    /// let command = Command::fixed("hgetset", hgetset).keys(1, 1, 1);
    /// ```
    pub fn fixed<const N: usize, F: boundary::FixedCommandFn<N>>(
        name: &'static str,
        _action: F,
    ) -> Command {
        const { boundary::stateless::<F>() };
        let mut command = Command::new(name, boundary::fixed_action::<N, F>);
        command.arity = c_int::try_from(N + 1).unwrap_or(c_int::MAX);
        command
    }

    /// The usage line in the grammar of Redis's command docs, e.g. `HGETSET key field value`
    /// or `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | KEEPTTL]`: `COMMAND
    /// DOCS` shows it as the command's arguments. Words with a lower-case letter are values
    /// (`key`, `destkey`, `key2` are keys), other words are tokens (a token takes the values
    /// right after it: `EX seconds`, `LIMIT offset count`), `[...]` is optional, `<...>` a
    /// required group, `a | b` a choice (`|` binds loosest), `x [x ...]` one or more,
    /// `[x ...]` zero or more; `CMD form | CMD other form` documents several forms of the
    /// command. The grammar in full, and what a usage line cannot express: `src/usage.rs`.
    ///
    /// A line that cannot be read (an unbalanced bracket, an empty alternative, a `...` with
    /// nothing to repeat, several keys where [`Command::keys`] declares one) fails the module's
    /// load, with the command and the problem in the server's log. [`Module::check`] finds the
    /// same problems in a unit test.
    pub fn usage(mut self, usage: &'static str) -> Command {
        self.usage = usage;
        self
    }

    /// A one-line description (`COMMAND DOCS` summary).
    pub fn summary(mut self, summary: &'static str) -> Command {
        self.summary = summary;
        self
    }

    /// The module version that introduced the command (`COMMAND DOCS` since).
    pub fn since(mut self, since: &'static str) -> Command {
        self.since = since;
        self
    }

    /// The time complexity (`COMMAND DOCS` complexity).
    pub fn complexity(mut self, complexity: &'static str) -> Command {
        self.complexity = complexity;
        self
    }

    /// The command's flags: a typed set, `CommandFlags::WRITE | CommandFlags::DENY_OOM`
    /// ([`CommandFlags`](crate::CommandFlags)), or the server's words as go-rm and C modules
    /// write them, `"write deny-oom"`. The server checks the words when the module loads: one
    /// it does not know fails the load, naming the command and its flags.
    pub fn flags(mut self, flags: impl Into<Cow<'static, str>>) -> Command {
        self.flags = flags.into();
        self
    }

    /// Key positions: first key, last key (negative counts from the end), step.
    pub fn keys(mut self, first: i32, last: i32, step: i32) -> Command {
        self.keys = (first, last, step);
        self
    }

    /// How the command uses the keys of [`Command::keys`], in the words of the server's key-spec
    /// flags: one of `RO`, `RW`, `OW` (overwrites), `RM` (removes), then any of `ACCESS` (reads
    /// or returns user data), `UPDATE`, `INSERT`, `DELETE`, `NOT_KEY`, `INCOMPLETE`,
    /// `VARIABLE_FLAGS` — e.g. `"RO ACCESS"` for a read, `"RW UPDATE"` for an edit.
    ///
    /// `COMMAND INFO` and `COMMAND GETKEYSANDFLAGS` show them, ACL key permissions (`%R~`,
    /// `%W~`) check them, and cluster clients read them. Without this call the server describes
    /// every key as `RW ACCESS UPDATE`. A word it does not know fails the module's load.
    pub fn key_flags(mut self, flags: &'static str) -> Command {
        self.key_flags = flags;
        self
    }

    /// Arity as the server counts it (the name included): `n` exactly, `-n` at least `n`.
    /// The server checks it before the action runs.
    pub fn arity(mut self, arity: i32) -> Command {
        self.arity = arity;
        self
    }

    fn register(&self, ctx: &Ctx<'_>) -> Result<()> {
        let name = c_string(self.name)?;
        let flags = c_string(&self.flags)?;
        let key_flags = self.parse_key_flags()?;
        let usage = self.parse_usage()?;
        let (first, last, step) = self.keys;
        // SAFETY: live load context; the server copies the strings.
        let status = unsafe {
            core_api!(CreateCommand)(
                ctx.as_ptr(),
                name.as_ptr(),
                self.callback,
                flags.as_ptr(),
                first,
                last,
                step,
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(Error::err(format!(
                "could not register command '{}' (name taken or bad flags '{}')",
                self.name, self.flags
            )));
        }
        if let Err(error) = self.set_info(ctx, &name, key_flags, &usage) {
            // Docs are a courtesy: a server without command info still runs the command.
            ctx.log(
                LogLevel::Notice,
                &format!("command '{}': no command info ({error})", self.name),
            );
        }
        Ok(())
    }

    /// The arguments of [`Command::usage`] (none without a usage line).
    fn parse_usage(&self) -> Result<Vec<usage::Arg>> {
        let (first, last, _) = self.keys;
        let keys = match (first, last) {
            (..=0, _) => Keys::None,
            (first, last) if first == last => Keys::One,
            _ => Keys::Many,
        };
        usage::parse(self.name, self.usage, keys).map_err(|problem| {
            Error::err(format!(
                "command '{}': usage '{}': {problem}",
                self.name, self.usage
            ))
        })
    }

    /// The key-spec flags of [`Command::key_flags`] as the server's bits; `None` when not set.
    fn parse_key_flags(&self) -> Result<Option<u64>> {
        if self.key_flags.is_empty() {
            return Ok(None);
        }
        if self.keys.0 <= 0 {
            return Err(Error::err(format!(
                "command '{}': key flags without keys",
                self.name
            )));
        }
        let mut bits = 0u64;
        let mut access_kinds = 0;
        for word in self.key_flags.split_whitespace() {
            let bit = match word.to_ascii_uppercase().as_str() {
                "RO" => sys::REDISMODULE_CMD_KEY_RO,
                "RW" => sys::REDISMODULE_CMD_KEY_RW,
                "OW" => sys::REDISMODULE_CMD_KEY_OW,
                "RM" => sys::REDISMODULE_CMD_KEY_RM,
                "ACCESS" => sys::REDISMODULE_CMD_KEY_ACCESS,
                "UPDATE" => sys::REDISMODULE_CMD_KEY_UPDATE,
                "INSERT" => sys::REDISMODULE_CMD_KEY_INSERT,
                "DELETE" => sys::REDISMODULE_CMD_KEY_DELETE,
                "NOT_KEY" => sys::REDISMODULE_CMD_KEY_NOT_KEY,
                "INCOMPLETE" => sys::REDISMODULE_CMD_KEY_INCOMPLETE,
                "VARIABLE_FLAGS" => sys::REDISMODULE_CMD_KEY_VARIABLE_FLAGS,
                _ => {
                    return Err(Error::err(format!(
                        "command '{}': unknown key flag '{word}' in '{}'",
                        self.name, self.key_flags
                    )));
                }
            } as u64;
            if matches!(
                word.to_ascii_uppercase().as_str(),
                "RO" | "RW" | "OW" | "RM"
            ) {
                access_kinds += 1;
            }
            bits |= bit;
        }
        if access_kinds != 1 {
            return Err(Error::err(format!(
                "command '{}': key flags '{}' need exactly one of RO, RW, OW, RM",
                self.name, self.key_flags
            )));
        }
        Ok(Some(bits))
    }

    /// The one key spec of [`Command::keys`] with `flags`, then the zeroed entry that ends the
    /// server's table. `lastkey` counts from the first key (or from the end when negative), as
    /// the server converts a command's legacy key range.
    fn key_specs(&self, flags: u64) -> [sys::RedisModuleCommandKeySpec; 2] {
        let (first, last, step) = self.keys;
        let mut spec = sys::RedisModuleCommandKeySpec {
            flags,
            begin_search_type: sys::REDISMODULE_KSPEC_BS_INDEX,
            find_keys_type: sys::REDISMODULE_KSPEC_FK_RANGE,
            ..Default::default()
        };
        spec.bs.index.pos = first;
        spec.fk.range = sys::RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_1 {
            lastkey: if last < 0 { last } else { last - first },
            keystep: step,
            limit: 0,
        };
        [spec, Default::default()]
    }

    /// Hands arity, docs and key specs to `RedisModule_SetCommandInfo` (Redis 7.0+).
    fn set_info(
        &self,
        ctx: &Ctx<'_>,
        name: &CString,
        key_flags: Option<u64>,
        usage: &[usage::Arg],
    ) -> Result<()> {
        let set_command_info = api!(SetCommandInfo);
        let get_command = api!(GetCommand);
        // SAFETY: live load context, a command registered just now.
        let command = unsafe { get_command(ctx.as_ptr(), name.as_ptr()) };
        if command.is_null() {
            return Err(Error::err("command not found after registration"));
        }
        let summary = optional_c_string(self.summary)?;
        let since = optional_c_string(self.since)?;
        let complexity = optional_c_string(self.complexity)?;
        let mut args = UsageArgs::new(usage)?;
        let version = sys::RedisModuleCommandInfoVersion {
            version: 1,
            sizeof_historyentry: size_of::<sys::RedisModuleCommandHistoryEntry>(),
            sizeof_keyspec: size_of::<sys::RedisModuleCommandKeySpec>(),
            sizeof_arg: size_of::<RedisModuleCommandArg>(),
        };
        let mut key_specs = key_flags.map(|flags| self.key_specs(flags));
        let info = RedisModuleCommandInfo {
            version: &version,
            summary: as_ptr_or_null(&summary),
            complexity: as_ptr_or_null(&complexity),
            since: as_ptr_or_null(&since),
            arity: self.arity,
            args: args.as_ptr(),
            key_specs: key_specs
                .as_mut()
                .map_or(ptr::null_mut(), |specs| specs.as_mut_ptr()),
            ..Default::default()
        };
        // SAFETY: every pointer in `info` is NULL or points into values alive until the call
        // returns; the server copies what it keeps.
        let status = unsafe { set_command_info(command, &info) };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err("the server refused the command info"))
        }
    }
}

fn c_string(text: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::err(format!("'{text}' has a NUL byte")))
}

fn optional_c_string(text: &str) -> Result<Option<CString>> {
    if text.is_empty() {
        Ok(None)
    } else {
        c_string(text).map(Some)
    }
}

fn as_ptr_or_null(text: &Option<CString>) -> *const std::ffi::c_char {
    text.as_ref().map_or(ptr::null(), |t| t.as_ptr())
}

/// The `COMMAND DOCS` argument tables of a parsed usage line, kept alive while the server
/// copies them.
struct UsageArgs {
    /// Owned C strings the tables point into.
    _strings: Vec<CString>,
    /// Sub-argument tables of blocks and choices, each ended by a zeroed entry.
    _subtables: Vec<Vec<RedisModuleCommandArg>>,
    /// The top-level table, ended by a zeroed entry; empty when there is no usage.
    table: Vec<RedisModuleCommandArg>,
}

impl UsageArgs {
    fn new(args: &[usage::Arg]) -> Result<UsageArgs> {
        let mut tables = UsageArgs {
            _strings: Vec::new(),
            _subtables: Vec::new(),
            table: Vec::new(),
        };
        if !args.is_empty() {
            tables.table = tables.table_of(args)?;
        }
        Ok(tables)
    }

    /// `args` as a table ended by a zeroed entry; its sub-tables are kept in `self`.
    fn table_of(&mut self, args: &[usage::Arg]) -> Result<Vec<RedisModuleCommandArg>> {
        let mut table = Vec::with_capacity(args.len() + 1);
        for arg in args {
            let mut flags = 0;
            if arg.optional {
                flags |= sys::REDISMODULE_CMD_ARG_OPTIONAL;
            }
            if arg.multiple {
                flags |= sys::REDISMODULE_CMD_ARG_MULTIPLE;
            }
            if arg.multiple_token {
                flags |= sys::REDISMODULE_CMD_ARG_MULTIPLE_TOKEN;
            }
            let (kind, subargs) = match &arg.kind {
                usage::ArgKind::Key => (sys::REDISMODULE_ARG_TYPE_KEY, None),
                usage::ArgKind::String => (sys::REDISMODULE_ARG_TYPE_STRING, None),
                usage::ArgKind::PureToken => (sys::REDISMODULE_ARG_TYPE_PURE_TOKEN, None),
                usage::ArgKind::OneOf(args) => (sys::REDISMODULE_ARG_TYPE_ONEOF, Some(args)),
                usage::ArgKind::Block(args) => (sys::REDISMODULE_ARG_TYPE_BLOCK, Some(args)),
            };
            let mut entry = RedisModuleCommandArg {
                name: self.keep(&arg.name)?,
                type_: kind,
                // The command's one key spec (its own, or the one the server makes of the
                // legacy key range).
                key_spec_index: if arg.kind == usage::ArgKind::Key {
                    0
                } else {
                    -1
                },
                flags,
                ..Default::default()
            };
            if let Some(token) = &arg.token {
                entry.token = self.keep(token)?;
            }
            if let Some(args) = subargs {
                let mut subtable = self.table_of(args)?;
                // The Vec's heap buffer does not move when the Vec itself moves below.
                entry.subargs = subtable.as_mut_ptr();
                self._subtables.push(subtable);
            }
            table.push(entry);
        }
        table.push(RedisModuleCommandArg::default());
        Ok(table)
    }

    fn keep(&mut self, text: &str) -> Result<*const std::ffi::c_char> {
        let owned = c_string(text)?;
        let ptr = owned.as_ptr();
        self._strings.push(owned);
        Ok(ptr)
    }

    fn as_ptr(&mut self) -> *mut RedisModuleCommandArg {
        if self.table.is_empty() {
            ptr::null_mut()
        } else {
            self.table.as_mut_ptr()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_flags_are_checked_before_registration() {
        fn action(_: &Ctx<'_>, _: &[&RStr]) -> Result<()> {
            Ok(())
        }
        let read = Command::new("r", action)
            .keys(1, 1, 1)
            .key_flags("RO access");
        let bits = (sys::REDISMODULE_CMD_KEY_RO | sys::REDISMODULE_CMD_KEY_ACCESS) as u64;
        assert_eq!(read.parse_key_flags().ok(), Some(Some(bits)));
        let spec = read.key_specs(bits)[0];
        assert_eq!(spec.flags, bits);
        let none = Command::new("n", action).keys(1, 1, 1);
        assert_eq!(none.parse_key_flags().ok(), Some(None));
        for (flags, keys, error) in [
            ("RO RW", (1, 1, 1), "need exactly one of RO, RW, OW, RM"),
            ("ACCESS", (1, 1, 1), "need exactly one of RO, RW, OW, RM"),
            ("RO READ", (1, 1, 1), "unknown key flag 'READ'"),
            ("RO", (0, 0, 0), "key flags without keys"),
        ] {
            let (first, last, step) = keys;
            let command = Command::new("c", action)
                .keys(first, last, step)
                .key_flags(flags);
            let message = command.parse_key_flags().unwrap_err().to_string();
            assert!(message.contains(error), "{flags}: {message}");
        }
    }
}
