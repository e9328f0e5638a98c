//! `mod`: a module manager inside the server. Searches a signed registry, downloads and
//! verifies modules on a background thread (the server keeps serving), loads them through
//! the server's own `MODULE LOAD`.
//!
//! ```text
//! MOD.SEARCH [query]                              name, latest version, description per hit
//! MOD.GET <ns>/<name>[@<tag|commit>]              download + verify; the local path
//! MOD.INSTALL <ns>/<name>[@<version>] [args...]   get if needed, verify again, MODULE LOAD
//! MOD.LIST                                        downloaded, loaded and downloading versions
//! MOD.REMOVE <ns>/<name>[@<version>]              delete downloaded versions not loaded
//! ```
//!
//! Configs: `mod.registry` (a directory, a git repository or an http(s) base URL),
//! `mod.home` (default `~/.redismodule`), `mod.trusted-key` (a minisign public key or a path to
//! one), `mod.max-size` (default 256mb). The checks live in the `modreg` crate.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use modreg::fetch::{self, Got, Hit, Progress, Settings};
use modreg::names::ModuleRef;
use modreg::store::{Entry, Store};
use rm::{
    BlockOptions, CallOptions, CallValue, Command, Ctx, Error, LogLevel, Module, NumericConfig,
    RStr, Reply, Result, StringConfig, ThreadSafeContext,
};

static REGISTRY: StringConfig = StringConfig::new("registry", "").validate(check_registry);
static HOME: StringConfig = StringConfig::new("home", "~/.redismodule").validate(check_home);
static TRUSTED_KEY: StringConfig = StringConfig::new("trusted-key", "").validate(check_key);
static MAX_SIZE: NumericConfig = NumericConfig::new("max-size", 256 << 20, 1, 1 << 40).memory();

fn check_registry(value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Ok(());
    }
    modreg::source::Source::parse(value)
        .map(drop)
        .map_err(refusal)
}

fn check_home(value: &str) -> Result<()> {
    Store::new(value).map(drop).map_err(refusal)
}

fn check_key(value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Ok(());
    }
    modreg::verify::trusted_key(value)
        .map(drop)
        .map_err(refusal)
}

/// A registry refusal as an error reply.
fn refusal(error: modreg::Error) -> Error {
    Error::err(error.0)
}

/// The configs now, for a background thread.
fn settings() -> Settings {
    Settings {
        registry: REGISTRY.get(),
        home: HOME.get(),
        trusted_key: TRUSTED_KEY.get(),
        max_size: u64::try_from(MAX_SIZE.get()).unwrap_or(u64::MAX),
    }
}

// ---- downloads in flight (MOD.LIST shows them) ----

struct Download {
    id: u64,
    module: String,
    version: String,
    commit: String,
    sha256: String,
    size: u64,
    received: u64,
}

static DOWNLOADS: Mutex<Vec<Download>> = Mutex::new(Vec::new());

fn downloads() -> std::sync::MutexGuard<'static, Vec<Download>> {
    DOWNLOADS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs [`fetch::get`] for `module`, recording its progress for MOD.LIST and logging it (at
/// most once a second) through `tsc`.
fn get_with_progress(
    tsc: &ThreadSafeContext,
    settings: &Settings,
    module: &ModuleRef,
) -> Result<Got> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // MOD.LIST shows the download until this returns, or unwinds.
    struct Listed(u64);
    impl Drop for Listed {
        fn drop(&mut self) {
            downloads().retain(|d| d.id != self.0);
        }
    }
    let _listed = Listed(id);
    let log = |level, message: String| tsc.lock().log(level, &message);
    let mut version = String::new();
    let mut size = 0;
    let mut last_log = Instant::now();
    let mut on_progress = |progress: Progress| match progress {
        Progress::Started {
            version: label,
            commit,
            sha256,
            size: total,
        } => {
            log(
                LogLevel::Notice,
                format!(
                    "mod: downloading {}@{label} ({total} bytes)",
                    module.module()
                ),
            );
            downloads().push(Download {
                id,
                module: module.module(),
                version: label.clone(),
                commit: commit.unwrap_or_default(),
                sha256,
                size: total,
                received: 0,
            });
            (version, size) = (label, total);
            last_log = Instant::now();
        }
        Progress::Received(received) => {
            if let Some(download) = downloads().iter_mut().find(|d| d.id == id) {
                download.received = received;
            }
            if last_log.elapsed() >= Duration::from_secs(1) && received < size {
                last_log = Instant::now();
                log(
                    LogLevel::Notice,
                    format!(
                        "mod: downloading {}@{version}: {received} of {size} bytes ({}%)",
                        module.module(),
                        received * 100 / size.max(1)
                    ),
                );
            }
        }
    };
    let outcome = fetch::get(settings, module, &mut on_progress);
    match &outcome {
        Ok(got) if got.downloaded => log(
            LogLevel::Notice,
            format!(
                "mod: got {}@{} ({} bytes, sha256 {}) into {}",
                module.module(),
                got.entry.stored.label(),
                got.entry.stored.size,
                got.entry.stored.sha256,
                got.entry.path.display()
            ),
        ),
        Ok(_) => {}
        Err(error) => log(LogLevel::Warning, format!("mod: {module} refused: {error}")),
    }
    outcome.map_err(refusal)
}

/// Runs `work` on a new thread.
fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
        .map(drop)
        .map_err(|e| Error::err(format!("cannot start a thread: {e}")))
}

fn module_ref(arg: &RStr) -> Result<ModuleRef> {
    ModuleRef::parse(
        arg.to_str()
            .map_err(|_| Error::err("module name is not UTF-8"))?,
    )
    .map_err(refusal)
}

// ---- MOD.SEARCH ----

fn search(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let query = match args {
        [_] => None,
        [_, query] => Some(query.to_str()?.to_owned()),
        _ => return Err(Error::WrongArity),
    };
    let settings = settings();
    let blocked = ctx.block_client(BlockOptions::new(reply_hits))?;
    spawn("mod-search", move || {
        blocked.unblock(fetch::search(&settings, query.as_deref()).map_err(refusal));
    })
}

fn reply_hits(ctx: &Ctx, hits: Result<Vec<Hit>>) -> Result<()> {
    let hits = hits?;
    ctx.reply_array(hits.len());
    for hit in hits {
        ctx.reply_array(3);
        ctx.reply_bulk(hit.module.as_bytes());
        ctx.reply_bulk(hit.latest.as_bytes());
        ctx.reply_bulk(hit.description.as_bytes());
    }
    Ok(())
}

// ---- MOD.GET ----

fn get(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, module] = args else {
        return Err(Error::WrongArity);
    };
    let module = module_ref(module)?;
    may_load_modules(ctx, &module.name)?;
    let settings = settings();
    let tsc = ctx.thread_safe_context();
    let blocked = ctx.block_client(BlockOptions::new(reply_path))?;
    spawn("mod-get", move || {
        let outcome = get_with_progress(&tsc, &settings, &module);
        blocked.unblock(outcome);
    })
}

fn reply_path(ctx: &Ctx, got: Result<Got>) -> Result<()> {
    ctx.reply_bulk(got?.entry.path.to_string_lossy().as_bytes());
    Ok(())
}

// ---- MOD.INSTALL ----

/// What the install thread hands back to the main thread.
struct Install {
    got: Got,
    args: Vec<Vec<u8>>,
}

fn install(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, module, module_args @ ..] = args else {
        return Err(Error::WrongArity);
    };
    let module = module_ref(module)?;
    if module.name == "mod" {
        return Err(Error::err(
            "MOD.INSTALL cannot install or replace the mod module itself",
        ));
    }
    module_command_allowed(ctx, "MOD.INSTALL loads a module")?;
    may_load_modules(ctx, &module.name)?;
    refuse_if_loaded(ctx, &module.name)?;
    let args: Vec<Vec<u8>> = module_args.iter().map(|a| a.as_bytes().to_vec()).collect();
    let settings = settings();
    let tsc = ctx.thread_safe_context();
    let blocked = ctx.block_client(BlockOptions::new(load))?;
    spawn("mod-install", move || {
        let outcome = get_with_progress(&tsc, &settings, &module).map(|got| Install { got, args });
        blocked.unblock(outcome);
    })
}

/// On the main thread, with the downloaded and verified module: the load itself, checked
/// again as the calling client.
fn load(ctx: &Ctx, install: Result<Install>) -> Result<()> {
    let Install { got, args } = install?;
    let stored = &got.entry.stored;
    module_command_allowed(ctx, "MOD.INSTALL loads a module")?;
    refuse_if_loaded(ctx, &stored.name)?;
    if let Some(min) = &stored.min_server {
        let min = modreg::index::parse_server_version(min).map_err(refusal)?;
        let server = server_version(ctx)?;
        if server < min {
            return Err(Error::err(format!(
                "{}@{} needs server {}.{}.{} or later (this is {}.{}.{})",
                stored.module(),
                stored.label(),
                min.0,
                min.1,
                min.2,
                server.0,
                server.1,
                server.2
            )));
        }
    }
    let path = got.entry.path.to_string_lossy().into_owned();
    let mut argv: Vec<Vec<u8>> = vec![b"LOAD".to_vec(), path.clone().into_bytes()];
    argv.extend(args);
    // As the calling user: its ACL decides, as for a MODULE LOAD it typed.
    let reply = ctx.call_with(
        CallOptions::new().check_acl().errors_as_replies(),
        "MODULE",
        &argv[..],
    )?;
    let reply = reply.into_result()?;
    drop(reply);
    ctx.log(
        LogLevel::Notice,
        &format!(
            "mod: loaded {}@{} from {path}",
            stored.module(),
            stored.label()
        ),
    );
    ctx.reply_ok();
    Ok(())
}

/// What MOD.GET, MOD.INSTALL and MOD.REMOVE require of their caller: the ACL permission to
/// `MODULE LOAD` the module, since each changes which code this server has or loads (a
/// download is also up to `mod.max-size` of disk and bandwidth). Loading also needs the
/// server's `enable-module-command` ([`module_command_allowed`]); fetching and deleting files
/// in the private store do not.
fn may_load_modules(ctx: &Ctx, name: &str) -> Result<()> {
    ctx.current_user()?.check_command("MODULE", ("LOAD", name))
}

/// MODULE LOAD through a module bypasses `enable-module-command`, so the MOD commands apply it
/// themselves: `yes`, or `local` from a local connection.
fn module_command_allowed(ctx: &Ctx, what: &str) -> Result<()> {
    let reply = ctx.call("CONFIG", ("GET", "enable-module-command"))?;
    let setting = match reply.value() {
        CallValue::Array(items) => items.get(1).and_then(Reply::as_bytes).map(<[u8]>::to_vec),
        _ => None,
    }
    .unwrap_or_default();
    match &setting[..] {
        b"yes" => Ok(()),
        b"local" if ctx.client_info()?.is_local() => Ok(()),
        b"local" => Err(Error::err(format!(
            "{what}, which enable-module-command 'local' allows from local connections only"
        ))),
        _ => Err(Error::err(format!(
            "{what}, which enable-module-command does not allow (set it to 'yes' or 'local' in the config file)"
        ))),
    }
}

/// The loaded modules: name and path.
fn loaded_modules(ctx: &Ctx) -> Result<Vec<(String, PathBuf)>> {
    let reply = ctx.call("MODULE", ["LIST"])?;
    let mut modules = Vec::new();
    if let CallValue::Array(items) = reply.value() {
        for item in items.iter() {
            let CallValue::Array(fields) = item.value() else {
                continue;
            };
            let mut name = String::new();
            let mut path = PathBuf::new();
            let mut at = 0;
            while at + 1 < fields.len() {
                let key = fields.get(at).and_then(Reply::as_bytes).unwrap_or_default();
                let value = fields
                    .get(at + 1)
                    .and_then(Reply::as_bytes)
                    .unwrap_or_default();
                match key {
                    b"name" => name = String::from_utf8_lossy(value).into_owned(),
                    b"path" => path = PathBuf::from(String::from_utf8_lossy(value).into_owned()),
                    _ => {}
                }
                at += 2;
            }
            modules.push((name, path));
        }
    }
    Ok(modules)
}

fn refuse_if_loaded(ctx: &Ctx, name: &str) -> Result<()> {
    if loaded_modules(ctx)?
        .iter()
        .any(|(loaded, _)| loaded == name)
    {
        return Err(Error::err(format!(
            "a module named '{name}' is loaded already (MODULE UNLOAD it first)"
        )));
    }
    Ok(())
}

/// `redis_version` from INFO server (Valkey reports the Redis version it is compatible with).
fn server_version(ctx: &Ctx) -> Result<(u32, u32, u32)> {
    let reply = ctx.call("INFO", ["server"])?;
    let text = String::from_utf8_lossy(reply.as_bytes().unwrap_or_default()).into_owned();
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .ok_or_else(|| Error::err("INFO server has no redis_version"))?;
    modreg::index::parse_server_version(version).map_err(refusal)
}

// ---- MOD.LIST ----

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn list(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    let store = Store::new(&HOME.get()).map_err(refusal)?;
    let entries = store.list().map_err(refusal)?;
    let loaded = loaded_modules(ctx)?;
    let in_flight: Vec<(String, String, String, String, u64, u64)> = downloads()
        .iter()
        .map(|d| {
            (
                d.module.clone(),
                d.version.clone(),
                d.commit.clone(),
                d.sha256.clone(),
                d.size,
                d.received,
            )
        })
        .collect();
    ctx.reply_array(entries.len() + in_flight.len());
    for Entry { stored, path } in &entries {
        let is_loaded = loaded.iter().any(|(_, loaded)| same_file(loaded, path));
        reply_entry(
            ctx,
            &stored.module(),
            &stored.label(),
            stored.commit.as_deref().unwrap_or(""),
            &stored.sha256,
            stored.size,
            if is_loaded { "loaded" } else { "downloaded" },
            &path.to_string_lossy(),
        );
    }
    for (module, version, commit, sha256, size, received) in in_flight {
        let state = format!("downloading {received}/{size}");
        reply_entry(ctx, &module, &version, &commit, &sha256, size, &state, "");
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn reply_entry(
    ctx: &Ctx,
    module: &str,
    version: &str,
    commit: &str,
    sha256: &str,
    size: u64,
    state: &str,
    path: &str,
) {
    ctx.reply_map(7);
    for (key, value) in [
        ("module", module),
        ("version", version),
        ("commit", commit),
        ("sha256", sha256),
        ("state", state),
        ("path", path),
    ] {
        ctx.reply_bulk(key.as_bytes());
        ctx.reply_bulk(value.as_bytes());
    }
    ctx.reply_bulk(b"size");
    ctx.reply_integer(i64::try_from(size).unwrap_or(i64::MAX));
}

// ---- MOD.REMOVE ----

fn remove(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, module] = args else {
        return Err(Error::WrongArity);
    };
    let module = module_ref(module)?;
    may_load_modules(ctx, &module.name)?;
    let store = Store::new(&HOME.get()).map_err(refusal)?;
    let matching: Vec<Entry> = store
        .list()
        .map_err(refusal)?
        .into_iter()
        .filter(|e| e.stored.namespace == module.namespace && e.stored.name == module.name)
        .filter(|e| {
            module
                .version
                .as_deref()
                .is_none_or(|v| e.stored.matches(v))
        })
        .collect();
    if matching.is_empty() {
        return Err(Error::err(format!("{module} is not downloaded")));
    }
    let loaded = loaded_modules(ctx)?;
    if let Some(busy) = matching
        .iter()
        .find(|e| loaded.iter().any(|(_, path)| same_file(path, &e.path)))
    {
        return Err(Error::err(format!(
            "{}@{} is loaded from {}: MODULE UNLOAD it before removing it",
            busy.stored.module(),
            busy.stored.label(),
            busy.path.display()
        )));
    }
    for entry in &matching {
        store.remove(entry).map_err(refusal)?;
    }
    ctx.reply_integer(i64::try_from(matching.len()).unwrap_or(i64::MAX));
    Ok(())
}

// ---- the module ----

fn setup(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.register_config(&REGISTRY)?;
    ctx.register_config(&HOME)?;
    ctx.register_config(&TRUSTED_KEY)?;
    ctx.register_config(&MAX_SIZE)
}

fn module() -> Module {
    Module::new("mod", 1)
        .on_load(setup)
        .command(
            Command::new("mod.search", search)
                .usage("MOD.SEARCH [query]")
                .summary("Lists the registry's modules whose name or description matches")
                .since("0.1.0")
                .flags("admin deny-script")
                .arity(-1),
        )
        .command(
            Command::new("mod.get", get)
                .usage("MOD.GET module")
                .summary("Downloads and verifies <namespace>/<name>[@<tag|commit>]; replies with its local path")
                .since("0.1.0")
                .flags("admin deny-script")
                .arity(2),
        )
        .command(
            Command::new("mod.install", install)
                .usage("MOD.INSTALL module [arg ...]")
                .summary("Gets a module if needed, verifies it again and loads it with MODULE LOAD")
                .since("0.1.0")
                .flags("admin deny-script")
                .arity(-2),
        )
        .command(
            Command::new("mod.list", list)
                .usage("MOD.LIST")
                .summary("Lists downloaded, loaded and downloading module versions")
                .since("0.1.0")
                .flags("admin")
                .arity(1),
        )
        .command(
            Command::new("mod.remove", remove)
                .usage("MOD.REMOVE module")
                .summary("Deletes downloaded versions of a module that are not loaded")
                .since("0.1.0")
                .flags("admin")
                .arity(2),
        )
}

rm::module!(module);

#[cfg(test)]
mod definition {
    /// Usage lines and key flags as the load checks them (a bad one would refuse the load).
    #[test]
    fn is_valid() {
        super::module().check().unwrap();
    }
}
