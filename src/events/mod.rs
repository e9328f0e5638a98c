//! Keyspace notifications, server events and post-notification jobs.
//!
//! - **Keyspace notifications**: [`Ctx::subscribe_to_keyspace_events`] runs a callback for every
//!   change of the selected [`NotifyFlags`] classes (whatever `notify-keyspace-events` says);
//!   [`Ctx::notify_keyspace_event`] emits one (to module subscribers and, where the server's
//!   `notify-keyspace-events` enables the class, to Pub/Sub clients).
//! - **Post-notification jobs** (Redis 7.2+, Valkey): [`Ctx::add_post_notification_job`] runs a
//!   closure once the current command, notifications included, is done: the place to write to
//!   the keyspace in reaction to a notification.
//! - **Server events**: [`Ctx::subscribe_to_server_event`] with one of the event types below
//!   ([`FlushDb`], [`Loading`], [`ClientChange`], [`RoleChange`], [`CronLoop`], [`Shutdown`],
//!   …); the callback gets a typed view of the event's data, borrowed for the call.
//!
//! Callbacks cannot reply to anyone: an `Err` they return, or a panic, becomes a warning in the
//! server log. Like commands, they are plain functions (or closures capturing nothing).
//!
//! Subscriptions made in a load hook take effect once the whole load succeeded: a module whose
//! load fails (a hook's `Err`, a refused config value) leaves no callback behind. (Redis 7.0
//! keeps the subscriptions of a module whose load failed, and would call into the unloaded
//! library.)
//!
//! ```no_run
//! use rm::events::{self, FlushInfo, FlushPhase};
//! use rm::{Ctx, NotifyFlags, RStr, Result};
//!
//! fn on_change(ctx: &Ctx, kind: NotifyFlags, event: &str, key: &RStr) -> Result<()> {
//!     ctx.log(rm::LogLevel::Notice, &format!("{event} on {key} ({kind:?})"));
//!     Ok(())
//! }
//!
//! fn on_flush(ctx: &Ctx, flush: FlushInfo) -> Result<()> {
//!     if flush.phase == FlushPhase::Start {
//!         ctx.log(rm::LogLevel::Notice, &format!("flushing {:?}", flush.db));
//!     }
//!     Ok(())
//! }
//!
//! fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     ctx.subscribe_to_keyspace_events(NotifyFlags::STRING | NotifyFlags::GENERIC, on_change)?;
//!     ctx.subscribe_to_server_event(events::FlushDb, on_flush)?;
//!     ctx.subscribe_to_server_event(events::CronLoop, |_ctx, cron| {
//!         let _ = cron.hz; // runs `hz` times a second
//!         Ok(())
//!     })
//! }
//! # let _ = rm::Module::new("m", 1).on_load(setup);
//! ```

pub(crate) mod callbacks;
mod decode;

use std::ffi::{c_int, c_void};
use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign};

use crate::ctx::Ctx;
use crate::string::RStr;
use crate::sys;
use crate::{Error, Result};
pub use callbacks::{KeyspaceFn, ServerEventFn};

// ---------------------------------------------------------------------------------------------
// Keyspace notifications
// ---------------------------------------------------------------------------------------------

/// A set of keyspace-notification classes: what a subscription listens to, and the class of
/// one notification. Combine with `|`.
///
/// ```
/// use rm::NotifyFlags;
/// let flags = NotifyFlags::STRING | NotifyFlags::HASH;
/// assert!(flags.contains(NotifyFlags::HASH));
/// assert!(!flags.contains(NotifyFlags::LIST));
/// assert_eq!(format!("{flags:?}"), "NotifyFlags(STRING | HASH)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NotifyFlags(c_int);

impl NotifyFlags {
    /// `K`: Pub/Sub on `__keyspace@<db>__` channels (a `notify-keyspace-events` setting).
    pub const KEYSPACE: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_KEYSPACE);
    /// `E`: Pub/Sub on `__keyevent@<db>__` channels (a `notify-keyspace-events` setting).
    pub const KEYEVENT: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_KEYEVENT);
    /// `g`: generic commands (`DEL`, `EXPIRE`, `RENAME`, …).
    pub const GENERIC: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_GENERIC);
    /// `$`: string commands.
    pub const STRING: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_STRING);
    /// `l`: list commands.
    pub const LIST: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_LIST);
    /// `s`: set commands.
    pub const SET: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_SET);
    /// `h`: hash commands.
    pub const HASH: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_HASH);
    /// `z`: sorted-set commands.
    pub const ZSET: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_ZSET);
    /// `x`: a key expired.
    pub const EXPIRED: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_EXPIRED);
    /// `e`: a key was evicted.
    pub const EVICTED: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_EVICTED);
    /// `t`: stream commands.
    pub const STREAM: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_STREAM);
    /// `m`: a key was read but missing (not part of [`NotifyFlags::ALL`]).
    pub const KEY_MISS: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_KEY_MISS);
    /// A key was loaded from a persistence file (module subscribers only).
    pub const LOADED: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_LOADED);
    /// `d`: events emitted by modules ([`Ctx::notify_keyspace_event`]).
    pub const MODULE: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_MODULE);
    /// `n`: a new key was created (not part of [`NotifyFlags::ALL`]).
    pub const NEW: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_NEW);
    /// `A`: every class above but `KEYSPACE`, `KEYEVENT`, `KEY_MISS`, `LOADED` and `NEW`.
    pub const ALL: NotifyFlags = NotifyFlags(sys::REDISMODULE_NOTIFY_ALL);

    const NAMES: [(NotifyFlags, &'static str); 15] = [
        (Self::KEYSPACE, "KEYSPACE"),
        (Self::KEYEVENT, "KEYEVENT"),
        (Self::GENERIC, "GENERIC"),
        (Self::STRING, "STRING"),
        (Self::LIST, "LIST"),
        (Self::SET, "SET"),
        (Self::HASH, "HASH"),
        (Self::ZSET, "ZSET"),
        (Self::EXPIRED, "EXPIRED"),
        (Self::EVICTED, "EVICTED"),
        (Self::STREAM, "STREAM"),
        (Self::KEY_MISS, "KEY_MISS"),
        (Self::LOADED, "LOADED"),
        (Self::MODULE, "MODULE"),
        (Self::NEW, "NEW"),
    ];

    /// No class.
    pub const fn empty() -> NotifyFlags {
        NotifyFlags(0)
    }

    /// The flags from the server's bits (`REDISMODULE_NOTIFY_*`); unknown bits are kept.
    pub const fn from_bits(bits: c_int) -> NotifyFlags {
        NotifyFlags(bits)
    }

    /// The server's bits.
    pub const fn bits(self) -> c_int {
        self.0
    }

    /// Whether every class of `other` is in `self`.
    pub const fn contains(self, other: NotifyFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any class of `other` is in `self`.
    pub const fn intersects(self, other: NotifyFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no class is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The classes of both (`|` in const contexts).
    pub const fn union(self, other: NotifyFlags) -> NotifyFlags {
        NotifyFlags(self.0 | other.0)
    }
}

impl BitOr for NotifyFlags {
    type Output = NotifyFlags;
    fn bitor(self, other: NotifyFlags) -> NotifyFlags {
        self.union(other)
    }
}

impl BitOrAssign for NotifyFlags {
    fn bitor_assign(&mut self, other: NotifyFlags) {
        *self = self.union(other);
    }
}

impl BitAnd for NotifyFlags {
    type Output = NotifyFlags;
    fn bitand(self, other: NotifyFlags) -> NotifyFlags {
        NotifyFlags(self.0 & other.0)
    }
}

impl fmt::Debug for NotifyFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NotifyFlags(")?;
        let mut rest = self.0;
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) && !flag.is_empty() {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !flag.0;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(" | ")?;
            }
            write!(f, "{rest:#x}")?;
        }
        f.write_str(")")
    }
}

/// Whether this module ever subscribed to keyspace events (see `notify_keyspace_event`).
static KEYSPACE_SUBSCRIBER: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

impl<'a> Ctx<'a> {
    /// Runs `callback` for every keyspace notification of the classes in `types`, whatever
    /// the server's `notify-keyspace-events` setting. Each call adds a subscription (they stay
    /// for the module's life); call it from a load hook (it takes effect once the load
    /// succeeded).
    ///
    /// The callback gets the context, the notification's class, the event name (`set`, `del`,
    /// `expired`, …) and the key. It runs inside the command that changed the key: keep it
    /// short, and do not write to the keyspace from it (use
    /// [`Ctx::add_post_notification_job`]). An `Err` or a panic is logged as a warning.
    ///
    /// ```no_run
    /// use rm::{Ctx, NotifyFlags, RStr, Result};
    /// fn on_hash(ctx: &Ctx, _kind: NotifyFlags, event: &str, key: &RStr) -> Result<()> {
    ///     ctx.log(rm::LogLevel::Verbose, &format!("{event} {key}"));
    ///     Ok(())
    /// }
    /// fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     ctx.subscribe_to_keyspace_events(NotifyFlags::HASH, on_hash)
    /// }
    /// ```
    pub fn subscribe_to_keyspace_events<F: KeyspaceFn>(
        &self,
        types: NotifyFlags,
        _callback: F,
    ) -> Result<()> {
        const { crate::boundary::stateless::<F>() };
        KEYSPACE_SUBSCRIBER.store(true, std::sync::atomic::Ordering::Relaxed);
        callbacks::subscribe(
            self,
            callbacks::Subscription::Keyspace(types.bits(), Some(callbacks::keyspace::<F>)),
        )
    }

    /// Emits a keyspace notification of class `kind` (usually [`NotifyFlags::MODULE`]) named
    /// `event` for `key`, in the context's database: module subscribers get it, and Pub/Sub
    /// clients do where `notify-keyspace-events` enables the class (`d` for modules).
    ///
    /// ```no_run
    /// use rm::{Ctx, Error, NotifyFlags, RStr, Result};
    /// fn touch(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    ///     let [_, key] = args else { return Err(Error::WrongArity) };
    ///     ctx.notify_keyspace_event(NotifyFlags::MODULE, "touched", key)?;
    ///     ctx.reply_ok();
    ///     Ok(())
    /// }
    /// ```
    pub fn notify_keyspace_event(&self, kind: NotifyFlags, event: &str, key: &RStr) -> Result<()> {
        let status = crate::string::with_c_str(event, |event| {
            // This module's subscribers run now and may write to any key under the open
            // handles: close them around the notification. Without subscribers (json, say),
            // closing and reopening would cost more than the rest of the command's key work.
            let _reopen = KEYSPACE_SUBSCRIBER
                .load(std::sync::atomic::Ordering::Relaxed)
                .then(|| self.open_keys().close_all(self));
            // SAFETY: live context and string; the server copies the event name (a short one
            // from a stack buffer: no allocation per notification).
            unsafe {
                core_api!(NotifyKeyspaceEvent)(
                    self.as_ptr(),
                    kind.bits(),
                    event.as_ptr(),
                    key.as_ptr(),
                )
            }
        })
        .ok_or_else(|| Error::err("event name has a NUL byte"))?;
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err("could not emit the keyspace notification"))
        }
    }

    /// Publishes `message` on the Pub/Sub `channel` (as `PUBLISH` does; in cluster mode it
    /// reaches the subscribers of every node, through the cluster bus) and returns how many
    /// clients of this node received it. Runs where the server lock is held: a callback, or a
    /// module thread through [`Locked`](crate::Locked).
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) {
    /// let receivers = ctx.publish(b"news", b"hello");
    /// # let _ = receivers;
    /// # }
    /// ```
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let channel = crate::RString::from_bytes(channel);
        let message = crate::RString::from_bytes(message);
        // SAFETY: live context (main thread or under the lock) and live strings, which the
        // server only reads (it makes its own objects for the subscribers).
        let receivers =
            unsafe { core_api!(PublishMessage)(self.as_ptr(), channel.as_ptr(), message.as_ptr()) };
        usize::try_from(receivers).unwrap_or(0)
    }

    /// The classes the server publishes to Pub/Sub (`notify-keyspace-events`).
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) {
    /// let published = ctx.keyspace_events_published();
    /// if published.contains(rm::NotifyFlags::MODULE) { /* clients can see module events */ }
    /// # }
    /// ```
    pub fn keyspace_events_published(&self) -> NotifyFlags {
        // SAFETY: no arguments; reads a server setting on the main thread (we hold a context).
        NotifyFlags(unsafe { core_api!(GetNotifyKeyspaceEvents)() })
    }

    /// Runs `job` once the current execution unit (the command, with every notification it
    /// fired) is done, in its database, inside its transaction: where a keyspace notification
    /// callback may write to the keyspace safely. Redis 7.2+ and Valkey; older servers answer
    /// [`Error::ApiUnavailable`]. The server refuses jobs while loading and on a read-only
    /// replica (`Err`; the job is dropped unrun).
    ///
    /// An `Err` from the job, or a panic, is logged as a warning.
    ///
    /// ```no_run
    /// use rm::{Ctx, NotifyFlags, RStr, RString, Result};
    /// fn on_set(ctx: &Ctx, _kind: NotifyFlags, _event: &str, key: &RStr) -> Result<()> {
    ///     let audit = RString::from_bytes(b"audit:last");
    ///     let changed = key.to_owned_string();
    ///     ctx.add_post_notification_job(move |ctx| {
    ///         ctx.open_key_writable(&audit).string_set(&changed)
    ///     })
    /// }
    /// ```
    pub fn add_post_notification_job<F>(&self, job: F) -> Result<()>
    where
        F: for<'b> FnOnce(&'b Ctx<'b>) -> Result<()> + 'static,
    {
        let add = api!(AddPostNotificationJob);
        let job = Box::into_raw(Box::new(Some(job)));
        // SAFETY: live context; `job` is a leaked box of the type the two callbacks expect:
        // the server runs the first at most once and then the second exactly once.
        let status = unsafe {
            add(
                self.as_ptr(),
                Some(callbacks::post_notification_job::<F>),
                job.cast::<c_void>(),
                Some(callbacks::free_post_notification_job::<F>),
            )
        };
        if status == sys::REDISMODULE_OK {
            return Ok(());
        }
        // Refused: the server kept nothing and calls neither callback; the box is ours.
        // SAFETY: `job` came from `Box::into_raw` above and nothing else holds it.
        drop(unsafe { Box::from_raw(job) });
        Err(Error::err(
            "post-notification jobs are refused while loading and on read-only replicas",
        ))
    }

    /// Runs `callback` on every occurrence of the server event `E` (one of the types in
    /// [`crate::events`]), with the event's data. Subscriptions add up: several callbacks for
    /// one event all run, in the order subscribed. An `Err` or a panic is logged as a warning.
    /// From a load hook, the subscription takes effect once the load succeeded.
    ///
    /// ```no_run
    /// use rm::events::{ClientChange, ClientEvent};
    /// use rm::{Ctx, RStr, Result};
    /// fn on_client(ctx: &Ctx, client: ClientEvent) -> Result<()> {
    ///     ctx.log(rm::LogLevel::Verbose, &format!("{:?} {}", client.change, client.addr));
    ///     Ok(())
    /// }
    /// fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     ctx.subscribe_to_server_event(ClientChange, on_client)
    /// }
    /// ```
    pub fn subscribe_to_server_event<E: ServerEvent, F: ServerEventFn<E>>(
        &self,
        _event: E,
        _callback: F,
    ) -> Result<()> {
        const { crate::boundary::stateless::<F>() };
        callbacks::subscribe_server_event(
            self,
            E::ID,
            E::NAME,
            callbacks::server_event_handler::<E, F>,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Server events
// ---------------------------------------------------------------------------------------------

pub(crate) mod sealed {
    /// Only the SDK defines server events: it decodes their data.
    pub trait Sealed {}
}

/// A server event one can subscribe to with [`Ctx::subscribe_to_server_event`]; implemented
/// by the unit types of this module.
pub trait ServerEvent: sealed::Sealed + Copy + 'static {
    /// What the callback receives, borrowed from the server for the call.
    type Info<'a>;
    #[doc(hidden)]
    const ID: u64;
    #[doc(hidden)]
    const NAME: &'static str;
    /// Decodes the server's data; `None` for a sub-event this SDK does not know.
    ///
    /// # Safety
    /// `data` must be what the server passes with this event and `subevent`, valid for `'a`.
    #[doc(hidden)]
    unsafe fn decode<'a>(subevent: u64, data: *mut c_void) -> Option<Self::Info<'a>>;
}

macro_rules! server_events {
    ($($(#[$doc:meta])* $name:ident => $id:ident, $info:ty, $decode:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;
        impl sealed::Sealed for $name {}
        impl ServerEvent for $name {
            type Info<'a> = $info;
            const ID: u64 = sys::$id as u64;
            const NAME: &'static str = stringify!($name);
            unsafe fn decode<'a>(subevent: u64, data: *mut c_void) -> Option<Self::Info<'a>> {
                // SAFETY: forwarded from the caller.
                unsafe { decode::$decode(subevent, data) }
            }
        }
    )*};
}

server_events! {
    /// `FLUSHALL`, `FLUSHDB` and internal flushes: [`FlushInfo`], once before and once after.
    FlushDb => REDISMODULE_EVENT_FLUSHDB, FlushInfo, decode_flush;
    /// Loading from an RDB or AOF file or from a master: [`LoadingPhase`].
    Loading => REDISMODULE_EVENT_LOADING, LoadingPhase, decode_loading;
    /// A client connected or disconnected: [`ClientEvent`].
    ClientChange => REDISMODULE_EVENT_CLIENT_CHANGE, ClientEvent<'a>, decode_client;
    /// This server became a master or a replica: [`Role`].
    RoleChange => REDISMODULE_EVENT_REPLICATION_ROLE_CHANGED, Role<'a>, decode_role;
    /// The server's cron (`serverCron`), `hz` times a second: [`CronInfo`].
    CronLoop => REDISMODULE_EVENT_CRON_LOOP, CronInfo, decode_cron;
    /// The server is shutting down (no data).
    Shutdown => REDISMODULE_EVENT_SHUTDOWN, (), decode_shutdown;
    /// Saving to RDB or rewriting the AOF: [`PersistencePhase`].
    Persistence => REDISMODULE_EVENT_PERSISTENCE, PersistencePhase, decode_persistence;
    /// The link of this replica to its master went up or down: [`MasterLink`].
    MasterLinkChange => REDISMODULE_EVENT_MASTER_LINK_CHANGE, MasterLink, decode_master_link;
    /// A replica of this server came online or went offline: [`ReplicaState`].
    ReplicaChange => REDISMODULE_EVENT_REPLICA_CHANGE, ReplicaState, decode_replica;
    /// `SWAPDB`: [`SwapDbInfo`].
    SwapDb => REDISMODULE_EVENT_SWAPDB, SwapDbInfo, decode_swapdb;
    /// A module was loaded or unloaded: [`ModuleEvent`].
    ModuleChange => REDISMODULE_EVENT_MODULE_CHANGE, ModuleEvent<'a>, decode_module;
    /// `CONFIG SET` changed settings: [`ConfigChangeInfo`].
    ConfigChange => REDISMODULE_EVENT_CONFIG, ConfigChangeInfo<'a>, decode_config;
}

/// Before or after a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPhase {
    /// About to flush: the data is still there.
    Start,
    /// Flushed.
    End,
}

/// A flush ([`FlushDb`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushInfo {
    /// Before or after.
    pub phase: FlushPhase,
    /// Synchronous (`false` for `ASYNC` flushes).
    pub sync: bool,
    /// The database flushed, `None` for all (`FLUSHALL`).
    pub db: Option<i32>,
}

/// Where loading stands ([`Loading`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadingPhase {
    /// Loading an RDB file began (at startup, `DEBUG RELOAD`, …).
    RdbStart,
    /// Loading an AOF began.
    AofStart,
    /// Loading the data sent by a master began.
    ReplStart,
    /// Loading ended.
    Ended,
    /// Loading failed.
    Failed,
}

/// Connected or disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientChangeKind {
    /// A client connected.
    Connected,
    /// A client disconnected.
    Disconnected,
}

/// A client that connected or disconnected ([`ClientChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEvent<'a> {
    /// Connected or disconnected.
    pub change: ClientChangeKind,
    /// The client id (`CLIENT ID`).
    pub id: u64,
    /// The peer's IP address (empty for a Unix socket).
    pub addr: &'a str,
    /// The peer's TCP port.
    pub port: u16,
    /// The selected database.
    pub db: u16,
    /// Over TLS.
    pub tls: bool,
    /// Over a Unix socket.
    pub unix_socket: bool,
}

/// The new replication role ([`RoleChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role<'a> {
    /// This server is now a master.
    Master,
    /// This server is now a replica of `host:port`.
    Replica {
        /// The master's host.
        host: &'a str,
        /// The master's port.
        port: u16,
    },
}

/// One cron tick ([`CronLoop`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronInfo {
    /// Ticks per second (the server's `hz`).
    pub hz: i32,
}

/// Where saving stands ([`Persistence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistencePhase {
    /// A background RDB save began.
    RdbStart,
    /// A background AOF rewrite began.
    AofStart,
    /// A foreground RDB save (`SAVE`, shutdown) began.
    SyncRdbStart,
    /// A foreground AOF rewrite began.
    SyncAofStart,
    /// Saving ended.
    Ended,
    /// Saving failed.
    Failed,
}

/// The state of the link to the master ([`MasterLinkChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterLink {
    /// Connected and in sync.
    Up,
    /// Lost.
    Down,
}

/// A replica's state ([`ReplicaChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// A replica is now online.
    Online,
    /// A replica went offline.
    Offline,
}

/// Two swapped databases ([`SwapDb`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapDbInfo {
    /// The first database.
    pub first: i32,
    /// The second database.
    pub second: i32,
}

/// A module loaded or unloaded ([`ModuleChange`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleEvent<'a> {
    /// `true` when loaded, `false` when unloaded.
    pub loaded: bool,
    /// The module's name.
    pub name: &'a str,
    /// The module's version.
    pub version: i32,
}

/// Settings changed by one `CONFIG SET` ([`ConfigChange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChangeInfo<'a> {
    /// Their names.
    pub names: Vec<&'a str>,
}
