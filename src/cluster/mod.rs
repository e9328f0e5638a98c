//! The cluster API: this node's id, the other nodes and what the server knows of them, key
//! slots, and module messages over the cluster bus.
//!
//! Outside cluster mode (`cluster-enabled no`) there is no node id, the node list is empty and
//! sending fails.
//!
//! ```no_run
//! use rm::cluster::NodeId;
//! use rm::{Ctx, RStr, Result};
//!
//! const PING: u8 = 1;
//!
//! fn on_message(ctx: &Ctx, sender: &NodeId, _kind: u8, payload: &[u8]) -> Result<()> {
//!     let text = String::from_utf8_lossy(payload);
//!     ctx.log(rm::LogLevel::Notice, &format!("{sender} says {text}"));
//!     Ok(())
//! }
//!
//! fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     ctx.register_cluster_message_receiver(PING, on_message);
//!     Ok(())
//! }
//!
//! fn ping_all(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
//!     ctx.send_cluster_message(None, PING, b"hello")?; // every other node
//!     for id in ctx.cluster_nodes() {
//!         let node = ctx.cluster_node_info(&id)?;
//!         ctx.log(rm::LogLevel::Notice, &format!("{id} at {}:{}", node.ip, node.port));
//!     }
//!     ctx.reply_integer(ctx.cluster_size() as i64);
//!     Ok(())
//! }
//! # let _ = rm::Module::new("m", 1).on_load(setup).command(rm::Command::new("m.ping", ping_all));
//! ```

use std::ffi::{c_char, c_int};
use std::fmt;
use std::ptr;

mod callbacks;
pub use callbacks::ClusterMessageFn;

use crate::ctx::Ctx;
use crate::sys;
use crate::{Error, Result};

const SEND_FAILED: &str =
    "cannot send the cluster message (not in cluster mode, or unknown or unlinked node)";

/// The length of a node id.
pub const NODE_ID_LEN: usize = sys::REDISMODULE_NODE_ID_LEN as usize;

/// A cluster node's id: 40 characters, as `CLUSTER NODES` and `CLUSTER MYID` show it.
///
/// ```
/// let id: rm::cluster::NodeId = "07c37dfeb235213a872192d90877d0cd55635b91".parse().unwrap();
/// assert_eq!(id.as_str(), "07c37dfeb235213a872192d90877d0cd55635b91");
/// assert!("short".parse::<rm::cluster::NodeId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; NODE_ID_LEN]);

impl NodeId {
    /// The id in these bytes: exactly 40 printable ASCII characters.
    pub fn from_bytes(bytes: &[u8]) -> Result<NodeId> {
        let bytes: [u8; NODE_ID_LEN] = bytes
            .try_into()
            .map_err(|_| Error::err(format!("a node id has {NODE_ID_LEN} characters")))?;
        if !bytes.iter().all(u8::is_ascii_graphic) {
            return Err(Error::err("a node id is printable ASCII"));
        }
        Ok(NodeId(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Built only from printable ASCII (checked above, or by `from_raw`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; NODE_ID_LEN] {
        &self.0
    }

    /// Reads an id the server handed out: exactly 40 bytes, no NUL needed.
    ///
    /// # Safety
    /// `raw` points to at least 40 readable bytes.
    pub(crate) unsafe fn from_raw(raw: *const c_char) -> Option<NodeId> {
        if raw.is_null() {
            return None;
        }
        let mut bytes = [0u8; NODE_ID_LEN];
        // SAFETY: 40 readable bytes, as the caller guarantees; `bytes` is ours.
        unsafe { ptr::copy_nonoverlapping(raw.cast::<u8>(), bytes.as_mut_ptr(), NODE_ID_LEN) };
        bytes
            .iter()
            .all(u8::is_ascii_graphic)
            .then_some(NodeId(bytes))
    }

    /// The id NUL-terminated, as the server looks ids up.
    fn to_c(self) -> [c_char; NODE_ID_LEN + 1] {
        let mut c = [0 as c_char; NODE_ID_LEN + 1];
        for (to, from) in c.iter_mut().zip(self.0) {
            *to = from as c_char;
        }
        c
    }
}

impl std::str::FromStr for NodeId {
    type Err = Error;
    fn from_str(text: &str) -> Result<NodeId> {
        NodeId::from_bytes(text.as_bytes())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.as_str())
    }
}

/// What the server knows of a node's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeFlags {
    /// This node.
    pub myself: bool,
    /// A master.
    pub master: bool,
    /// A replica.
    pub replica: bool,
    /// Possibly failing (this node's view).
    pub pfail: bool,
    /// Failing (the cluster's agreement).
    pub fail: bool,
    /// A replica that will not fail over.
    pub no_failover: bool,
}

/// A cluster node as this node sees it ([`Ctx::cluster_node_info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its id.
    pub id: NodeId,
    /// Its IP address.
    pub ip: String,
    /// Its client port.
    pub port: u16,
    /// For a replica, its master's id.
    pub master: Option<NodeId>,
    /// Its state.
    pub flags: NodeFlags,
}

impl<'a> Ctx<'a> {
    /// This node's id, or `None` outside cluster mode.
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) {
    /// match ctx.cluster_node_id() {
    ///     Some(id) => println!("node {id}"),
    ///     None => println!("not a cluster"),
    /// }
    /// # }
    /// ```
    pub fn cluster_node_id(&self) -> Option<NodeId> {
        // SAFETY: no arguments; reads server state on the main thread (we hold a context).
        let raw = unsafe { core_api!(GetMyClusterID)() };
        // SAFETY: NULL or the node's 40-byte name, alive while the server runs.
        unsafe { NodeId::from_raw(raw) }
    }

    /// The nodes of the cluster this node knows an address for (itself included; nodes still
    /// in handshake are left out); empty outside cluster mode.
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) {
    /// let peers = ctx.cluster_nodes().into_iter().filter(|id| Some(*id) != ctx.cluster_node_id());
    /// # }
    /// ```
    pub fn cluster_nodes(&self) -> Vec<NodeId> {
        let mut count = 0usize;
        // SAFETY: live context; the list, if any, is ours until freed below.
        let list = unsafe { core_api!(GetClusterNodesList)(self.as_ptr(), &mut count) };
        if list.is_null() {
            return Vec::new();
        }
        // SAFETY: `count` pointers to 40-byte ids, freed (once) right after reading.
        unsafe {
            let ids = std::slice::from_raw_parts(list, count)
                .iter()
                .filter_map(|&id| NodeId::from_raw(id))
                .collect();
            core_api!(FreeClusterNodesList)(list);
            ids
        }
    }

    /// What this node knows of node `id`: address, master, state. `Err` for an unknown node
    /// (or one without an address yet), and outside cluster mode.
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) -> rm::Result<()> {
    /// for id in ctx.cluster_nodes() {
    ///     let node = ctx.cluster_node_info(&id)?;
    ///     if node.flags.replica {
    ///         println!("{id} replicates {:?}", node.master);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn cluster_node_info(&self, id: &NodeId) -> Result<NodeInfo> {
        // Outside cluster mode the server has no node table to look in (Redis 7.0 crashes).
        if !self.in_cluster_mode() {
            return Err(Error::err(format!("unknown cluster node {id}")));
        }
        let c_id = id.to_c();
        // The server writes up to 46 bytes of address (NUL-terminated unless full) and exactly
        // 40 of master id.
        let mut ip = [0 as c_char; 64];
        let mut master = [0 as c_char; NODE_ID_LEN + 1];
        let mut port: c_int = 0;
        let mut flags: c_int = 0;
        // SAFETY: live context, a NUL-terminated id, and buffers larger than the server fills.
        let status = unsafe {
            core_api!(GetClusterNodeInfo)(
                self.as_ptr(),
                c_id.as_ptr(),
                ip.as_mut_ptr(),
                master.as_mut_ptr(),
                &mut port,
                &mut flags,
            )
        };
        if status != sys::REDISMODULE_OK {
            return Err(Error::err(format!("unknown cluster node {id}")));
        }
        let ip_bytes: Vec<u8> = ip
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let has = |flag: c_int| flags & flag != 0;
        Ok(NodeInfo {
            id: *id,
            ip: String::from_utf8_lossy(&ip_bytes).into_owned(),
            port: u16::try_from(port).unwrap_or(0),
            // SAFETY: `master` holds 40 readable bytes (all zero when there is no master, which
            // `from_raw` rejects as not printable).
            master: unsafe { NodeId::from_raw(master.as_ptr()) },
            flags: NodeFlags {
                myself: has(sys::REDISMODULE_NODE_MYSELF),
                master: has(sys::REDISMODULE_NODE_MASTER),
                replica: has(sys::REDISMODULE_NODE_SLAVE),
                pfail: has(sys::REDISMODULE_NODE_PFAIL),
                fail: has(sys::REDISMODULE_NODE_FAIL),
                no_failover: has(sys::REDISMODULE_NODE_NOFAILOVER),
            },
        })
    }

    /// Whether the server runs in cluster mode (`cluster-enabled yes`).
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) {
    /// if !ctx.in_cluster_mode() { /* a single server: every key is local */ }
    /// # }
    /// ```
    pub fn in_cluster_mode(&self) -> bool {
        // SAFETY: live context.
        let flags = unsafe { core_api!(GetContextFlags)(self.as_ptr()) };
        flags & sys::REDISMODULE_CTX_FLAGS_CLUSTER != 0
    }

    /// How many nodes this node knows (in any state); 0 outside cluster mode.
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx) {
    /// let quorum = ctx.cluster_size() / 2 + 1;
    /// # }
    /// ```
    pub fn cluster_size(&self) -> usize {
        // SAFETY: no arguments; reads server state on the main thread (we hold a context).
        unsafe { core_api!(GetClusterSize)() }
    }

    /// Sends a module message of type `kind` over the cluster bus: to `target`, or with `None`
    /// to every other node. Nodes running this module receive it in the receiver registered
    /// for `kind` ([`Ctx::register_cluster_message_receiver`]). `Err` outside cluster mode, for
    /// an unknown target, or one this node has no link to.
    ///
    /// ```no_run
    /// # fn f(ctx: &rm::Ctx, peer: &rm::cluster::NodeId) -> rm::Result<()> {
    /// ctx.send_cluster_message(Some(peer), 7, b"invalidate:users")?;
    /// # Ok(()) }
    /// ```
    pub fn send_cluster_message(
        &self,
        target: Option<&NodeId>,
        kind: u8,
        payload: &[u8],
    ) -> Result<()> {
        if !self.in_cluster_mode() {
            return Err(Error::err(SEND_FAILED));
        }
        let len = u32::try_from(payload.len())
            .map_err(|_| Error::err("cluster message larger than 4 GiB"))?;
        let target = target.map(|id| id.to_c());
        let target_ptr = target.as_ref().map_or(ptr::null(), |id| id.as_ptr());
        // SAFETY: live context; a NUL-terminated id or NULL; the payload is valid for `len`
        // bytes and copied by the server.
        let status = unsafe {
            core_api!(SendClusterMessage)(
                self.as_ptr(),
                target_ptr,
                kind,
                payload.as_ptr().cast::<c_char>(),
                len,
            )
        };
        if status == sys::REDISMODULE_OK {
            Ok(())
        } else {
            Err(Error::err(SEND_FAILED))
        }
    }

    /// Runs `receiver` for every module message of type `kind` from another node, with the
    /// sender's id and the payload. The server keeps one receiver per type: registering again
    /// replaces it. An `Err` or a panic in the receiver is logged as a warning. From a load
    /// hook, the receiver is registered once the load succeeded.
    ///
    /// ```no_run
    /// use rm::cluster::NodeId;
    /// use rm::{Ctx, RStr, Result};
    /// fn on_invalidate(_ctx: &Ctx, _from: &NodeId, _kind: u8, _what: &[u8]) -> Result<()> {
    ///     Ok(())
    /// }
    /// fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ///     ctx.register_cluster_message_receiver(7, on_invalidate);
    ///     Ok(())
    /// }
    /// ```
    pub fn register_cluster_message_receiver<F: ClusterMessageFn>(&self, kind: u8, _receiver: F) {
        const { crate::boundary::stateless::<F>() };
        let receiver = Some(callbacks::cluster_message::<F> as _);
        let subscription = crate::events::callbacks::Subscription::ClusterReceiver(kind, receiver);
        // Registering a receiver cannot fail.
        let _ = crate::events::callbacks::subscribe(self, subscription);
    }
}

/// The hash slot of `key` as the server computes it (`RedisModule_ClusterKeySlot`, Redis 7.4+
/// and Valkey 8+; [`Error::ApiUnavailable`] elsewhere). [`key_slot`] gives the same answer on
/// every server without a call; this one asks the authority.
pub fn server_key_slot(key: &crate::RStr) -> Result<u16> {
    let slot_of = api!(ClusterKeySlot);
    // SAFETY: `key` is a live server string (borrowed for the call); the entry only reads it.
    let slot = unsafe { slot_of(key.as_ptr()) };
    // The server's slots are below 16384: anything else is not a slot.
    u16::try_from(slot)
        .ok()
        .filter(|slot| *slot < 16384)
        .ok_or_else(|| Error::err(format!("the server gave slot {slot}")))
}

/// A short key name the server hashes to `slot` (`RedisModule_ClusterCanonicalKeyNameInSlot`,
/// Redis 7.4+ and Valkey 8+): a name to put in a hash tag (`{name}…`) so that keys land in
/// that slot. [`Error::ApiUnavailable`] where the server lacks it; an error for a slot of
/// 16384 or more.
pub fn canonical_key_name_in_slot(slot: u16) -> Result<&'static std::ffi::CStr> {
    if slot >= 16384 {
        return Err(Error::err(format!(
            "slot {slot} is out of range (0..16384)"
        )));
    }
    let name_of = api!(ClusterCanonicalKeyNameInSlot);
    // SAFETY: a slot in range; the server returns a pointer into its static table of names
    // (valid for the process's life), or null.
    let name = unsafe { name_of(u32::from(slot)) };
    if name.is_null() {
        return Err(Error::err(format!(
            "the server has no name for slot {slot}"
        )));
    }
    // SAFETY: non-null, NUL-terminated, static (see above).
    Ok(unsafe { std::ffi::CStr::from_ptr(name) })
}

/// The hash slot (0..16384) of a key, as the cluster computes it: CRC16 of the key, or of its
/// hash tag (the part between the first `{` and the next `}`, when not empty), modulo 16384.
///
/// ```
/// use rm::cluster::key_slot;
/// assert_eq!(key_slot(b"user:1000"), 1649);
/// assert_eq!(key_slot(b"{user:1000}.following"), key_slot(b"user:1000"));
/// assert_eq!(key_slot(b"{}x"), key_slot(b"{}x")); // an empty tag hashes the whole key
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16(hashed) & 0x3fff
}

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the cluster's key hash.
fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| {
        (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ byte)]
    })
}

const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_is_xmodem() {
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3fff);
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{unclosed"), crc16(b"{unclosed") & 0x3fff);
    }
}
