//! The decoding of the data the server passes with each server event into the typed
//! [`ServerEvent::Info`](super::ServerEvent::Info) values.

use std::ffi::{c_int, c_void};

use super::{
    ClientChangeKind, ClientEvent, ConfigChangeInfo, CronInfo, FlushInfo, FlushPhase, LoadingPhase,
    MasterLink, ModuleEvent, PersistencePhase, ReplicaState, Role, SwapDbInfo,
};
use crate::api::c_str;
use crate::sys;

/// The event's data as a `T`.
///
/// # Safety
/// `data` is NULL or points to a `T` valid for `'a`.
unsafe fn data<'a, T>(data: *mut c_void) -> Option<&'a T> {
    // SAFETY: as the caller guarantees.
    unsafe { data.cast::<T>().as_ref() }
}

fn sub(subevent: u64) -> c_int {
    c_int::try_from(subevent).unwrap_or(c_int::MAX)
}

/// # Safety
/// The data of a flush event.
pub(crate) unsafe fn decode_flush(subevent: u64, raw: *mut c_void) -> Option<FlushInfo> {
    let phase = match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_FLUSHDB_START => FlushPhase::Start,
        sys::REDISMODULE_SUBEVENT_FLUSHDB_END => FlushPhase::End,
        _ => return None,
    };
    // SAFETY: the server passes a `RedisModuleFlushInfo` with flush events.
    let info = unsafe { data::<sys::RedisModuleFlushInfo>(raw) }?;
    Some(FlushInfo {
        phase,
        sync: info.sync != 0,
        db: (info.dbnum >= 0).then_some(info.dbnum),
    })
}

/// # Safety
/// The data of a loading event (none).
pub(crate) unsafe fn decode_loading(subevent: u64, _raw: *mut c_void) -> Option<LoadingPhase> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_LOADING_RDB_START => LoadingPhase::RdbStart,
        sys::REDISMODULE_SUBEVENT_LOADING_AOF_START => LoadingPhase::AofStart,
        sys::REDISMODULE_SUBEVENT_LOADING_REPL_START => LoadingPhase::ReplStart,
        sys::REDISMODULE_SUBEVENT_LOADING_ENDED => LoadingPhase::Ended,
        sys::REDISMODULE_SUBEVENT_LOADING_FAILED => LoadingPhase::Failed,
        _ => return None,
    })
}

/// # Safety
/// The data of a client-change event, valid for `'a`.
pub(crate) unsafe fn decode_client<'a>(subevent: u64, raw: *mut c_void) -> Option<ClientEvent<'a>> {
    let change = match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_CLIENT_CHANGE_CONNECTED => ClientChangeKind::Connected,
        sys::REDISMODULE_SUBEVENT_CLIENT_CHANGE_DISCONNECTED => ClientChangeKind::Disconnected,
        _ => return None,
    };
    // SAFETY: the server passes a `RedisModuleClientInfo` (version 1) with client events.
    let info = unsafe { data::<sys::RedisModuleClientInfo>(raw) }?;
    // The address is a fixed buffer, NUL-terminated unless full.
    let addr: &[u8] =
        // SAFETY: `c_char` and `u8` have the same layout; the array lives as long as `info`.
        unsafe { std::slice::from_raw_parts(info.addr.as_ptr().cast::<u8>(), info.addr.len()) };
    let end = addr.iter().position(|&b| b == 0).unwrap_or(addr.len());
    let flags = info.flags;
    Some(ClientEvent {
        change,
        id: info.id,
        addr: std::str::from_utf8(&addr[..end]).unwrap_or(""),
        port: info.port,
        db: info.db,
        tls: flags & sys::REDISMODULE_CLIENTINFO_FLAG_SSL as u64 != 0,
        unix_socket: flags & sys::REDISMODULE_CLIENTINFO_FLAG_UNIXSOCKET as u64 != 0,
    })
}

/// # Safety
/// The data of a role-change event, valid for `'a`.
pub(crate) unsafe fn decode_role<'a>(subevent: u64, raw: *mut c_void) -> Option<Role<'a>> {
    match sub(subevent) {
        sys::REDISMODULE_EVENT_REPLROLECHANGED_NOW_MASTER => Some(Role::Master),
        sys::REDISMODULE_EVENT_REPLROLECHANGED_NOW_REPLICA => {
            // SAFETY: the server passes a `RedisModuleReplicationInfo` with role changes.
            let info = unsafe { data::<sys::RedisModuleReplicationInfo>(raw) }?;
            Some(Role::Replica {
                // SAFETY: a NUL-terminated host name owned by the server for the call.
                host: unsafe { c_str(info.masterhost) },
                port: u16::try_from(info.masterport).unwrap_or(0),
            })
        }
        _ => None,
    }
}

/// # Safety
/// The data of a cron-loop event.
pub(crate) unsafe fn decode_cron(_subevent: u64, raw: *mut c_void) -> Option<CronInfo> {
    // SAFETY: the server passes a `RedisModuleCronLoopInfo` with cron events.
    let info = unsafe { data::<sys::RedisModuleCronLoopInfo>(raw) }?;
    Some(CronInfo { hz: info.hz })
}

/// # Safety
/// The data of a shutdown event (none).
pub(crate) unsafe fn decode_shutdown(_subevent: u64, _raw: *mut c_void) -> Option<()> {
    Some(())
}

/// # Safety
/// The data of a persistence event (none).
pub(crate) unsafe fn decode_persistence(
    subevent: u64,
    _raw: *mut c_void,
) -> Option<PersistencePhase> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_RDB_START => PersistencePhase::RdbStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_AOF_START => PersistencePhase::AofStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_SYNC_RDB_START => PersistencePhase::SyncRdbStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_SYNC_AOF_START => PersistencePhase::SyncAofStart,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_ENDED => PersistencePhase::Ended,
        sys::REDISMODULE_SUBEVENT_PERSISTENCE_FAILED => PersistencePhase::Failed,
        _ => return None,
    })
}

/// # Safety
/// The data of a master-link event (none).
pub(crate) unsafe fn decode_master_link(subevent: u64, _raw: *mut c_void) -> Option<MasterLink> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_MASTER_LINK_UP => MasterLink::Up,
        sys::REDISMODULE_SUBEVENT_MASTER_LINK_DOWN => MasterLink::Down,
        _ => return None,
    })
}

/// # Safety
/// The data of a replica-change event (none).
pub(crate) unsafe fn decode_replica(subevent: u64, _raw: *mut c_void) -> Option<ReplicaState> {
    Some(match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_REPLICA_CHANGE_ONLINE => ReplicaState::Online,
        sys::REDISMODULE_SUBEVENT_REPLICA_CHANGE_OFFLINE => ReplicaState::Offline,
        _ => return None,
    })
}

/// # Safety
/// The data of a swap-db event.
pub(crate) unsafe fn decode_swapdb(_subevent: u64, raw: *mut c_void) -> Option<SwapDbInfo> {
    // SAFETY: the server passes a `RedisModuleSwapDbInfo` with swap-db events.
    let info = unsafe { data::<sys::RedisModuleSwapDbInfo>(raw) }?;
    Some(SwapDbInfo {
        first: info.dbnum_first,
        second: info.dbnum_second,
    })
}

/// # Safety
/// The data of a module-change event, valid for `'a`.
pub(crate) unsafe fn decode_module<'a>(subevent: u64, raw: *mut c_void) -> Option<ModuleEvent<'a>> {
    let loaded = match sub(subevent) {
        sys::REDISMODULE_SUBEVENT_MODULE_LOADED => true,
        sys::REDISMODULE_SUBEVENT_MODULE_UNLOADED => false,
        _ => return None,
    };
    // SAFETY: the server passes a `RedisModuleModuleChange` with module events.
    let info = unsafe { data::<sys::RedisModuleModuleChange>(raw) }?;
    Some(ModuleEvent {
        loaded,
        // SAFETY: a NUL-terminated name owned by the server for the call.
        name: unsafe { c_str(info.module_name) },
        version: info.module_version,
    })
}

/// # Safety
/// The data of a config-change event, valid for `'a`.
pub(crate) unsafe fn decode_config<'a>(
    _subevent: u64,
    raw: *mut c_void,
) -> Option<ConfigChangeInfo<'a>> {
    // SAFETY: the server passes a `RedisModuleConfigChange` with config events.
    let info = unsafe { data::<sys::RedisModuleConfigChange>(raw) }?;
    let names = if info.config_names.is_null() {
        Vec::new()
    } else {
        // SAFETY: `num_changes` NUL-terminated names, valid for the call.
        unsafe { crate::api::c_array(info.config_names, info.num_changes as usize) }
            .iter()
            // SAFETY: each is a NUL-terminated name valid for the call.
            .map(|&name| unsafe { c_str(name) })
            .collect()
    };
    Some(ConfigChangeInfo { names })
}
