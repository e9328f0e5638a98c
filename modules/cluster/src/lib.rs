//! `cluster`: create, check, fix, reshard, rebalance and monitor Redis Cluster from inside
//! Redis — what `redis-cli --cluster` does, as module commands.
//!
//! Every command that talks to the cluster runs as a background job ([`jobs`]): the client
//! waits blocked, the hosting server keeps serving. Replies are human-readable text; a `JSON`
//! argument gives one JSON document instead. Where the seed address is optional it defaults to
//! the hosting server itself.
//!
//! - `CLUSTER.CREATE host:port ... [REPLICAS n] [JSON]`
//! - `CLUSTER.CHECK [host:port] [JSON]`, `CLUSTER.INFO [host:port] [JSON]`,
//!   `CLUSTER.FIX [host:port] [FORGET-DEAD] [MOVE-STRAYS] [JSON]` ([`check`], [`dead`],
//!   [`strays`])
//! - `CLUSTER.RESHARD host:port FROM <id|host:port|ALL> TO <id|host:port> SLOTS n [JSON]`
//! - `CLUSTER.REBALANCE host:port [WEIGHT <id>=<w> ...] [USE-EMPTY-MASTERS] [THRESHOLD pct]
//!   [SIMULATE] [JSON]`
//! - `CLUSTER.ADDNODE new_host:port existing_host:port [REPLICA [MASTER id]] [JSON]`
//! - `CLUSTER.DELNODE host:port id [JSON]`, `CLUSTER.CALL host:port [JSON] command [args...]`
//! - `CLUSTER.SETTIMEOUT host:port ms [JSON]`,
//!   `CLUSTER.IMPORT host:port FROM host:port [COPY] [REPLACE] [JSON]`
//! - `CLUSTER.BACKUP host:port dir [JSON]` ([`backup`]): an RDB snapshot of every master and
//!   `nodes.json` into `dir`
//! - `CLUSTER.JOBS [JSON]`
//! - Monitoring ([`monitor`]): `CLUSTER.MONITOR [host:port] [INTERVAL ms] [JSON]`,
//!   `CLUSTER.MONITOR STOP [host:port|ALL]`, `CLUSTER.MONITOR LIST`,
//!   `CLUSTER.EVENTS [COUNT n] [SINCE seq] [JSON]`; events on the Pub/Sub channel
//!   `cluster.events`; the INFO section `cluster_monitor`.
#![forbid(unsafe_code)]

pub mod backup;
pub mod check;
pub mod create;
pub mod dead;
pub mod import;
pub mod jobs;
pub mod migrate;
pub mod monitor;
pub mod nodes;
pub mod settle;
pub mod state;
pub mod strays;
pub mod topology;
pub mod trust;

use jobs::{Format, Report};
use rm::{CallValue, Command, Ctx, Error, Module, RStr, Result, StringConfig};
use topology::Addr;

/// `cluster.user`: the ACL user the module's connections to the nodes authenticate as (empty:
/// `default`, the user `requirepass` sets), as `redis-cli --user`.
static USER: StringConfig = StringConfig::new("user", "");

/// `cluster.password`: the password for the nodes (empty: no `AUTH`), as `redis-cli -a`.
static PASSWORD: StringConfig = StringConfig::new("password", "").sensitive();

/// What the module's connections authenticate with.
pub struct Credentials {
    /// `None`: the default user.
    pub user: Option<String>,
    /// The password.
    pub password: String,
}

/// Whether `cluster.password` is set.
pub fn credentials_configured() -> bool {
    !PASSWORD.get().is_empty()
}

/// The credentials set by `cluster.user` / `cluster.password` for a connection to `addr`:
/// `None` without a password, or when `addr` is not a node the credentials may go to
/// ([`trust`]).
pub fn credentials_for(addr: &Addr) -> Option<Credentials> {
    let password = PASSWORD.get();
    if password.is_empty() || !trust::is_known(addr) {
        return None;
    }
    let user = USER.get();
    Some(Credentials {
        user: (!user.is_empty()).then_some(user),
        password,
    })
}

/// The arguments after the command name as UTF-8 strings.
fn words(args: &[&RStr]) -> Result<Vec<String>> {
    args[1..]
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_owned)
                .map_err(|_| Error::err("arguments must be UTF-8"))
        })
        .collect()
}

/// Removes a `JSON` option (anywhere) and returns the format asked for.
fn take_format(words: &mut Vec<String>) -> Format {
    let before = words.len();
    words.retain(|w| !w.eq_ignore_ascii_case("json"));
    if words.len() < before {
        Format::Json
    } else {
        Format::Text
    }
}

/// The hosting server's own address: its first bound address (loopback for wildcards) and
/// its port, from `CONFIG GET`.
fn own_addr(ctx: &Ctx) -> Result<Addr> {
    let config = |name: &str| config_get(ctx, name);
    let port: u16 = config("port")?.parse().unwrap_or(0);
    if port == 0 {
        return Err(Error::err(
            "this server has no TCP port: give the address of a cluster node",
        ));
    }
    let bind = config("bind").unwrap_or_default();
    let host = bind
        .split_whitespace()
        .map(|b| b.trim_start_matches('-'))
        .find(|b| !matches!(*b, "*" | "::*" | "0.0.0.0" | "::"))
        .unwrap_or("127.0.0.1")
        .to_owned();
    Ok(Addr { host, port })
}

/// One of the hosting server's settings (`CONFIG GET name`).
fn config_get(ctx: &Ctx, name: &str) -> Result<String> {
    let reply = ctx.call("CONFIG", ["GET", name])?.into_result()?;
    let value = match reply.value() {
        CallValue::Array(items) => items
            .get(1)
            .and_then(|v| v.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    value.ok_or_else(|| Error::err(format!("cannot read CONFIG GET {name}")))
}

/// The hosting server's working directory (`CONFIG GET dir`).
fn server_dir(ctx: &Ctx) -> Result<std::path::PathBuf> {
    config_get(ctx, "dir").map(std::path::PathBuf::from)
}

/// Takes an optional leading `host:port` seed, defaulting to the hosting server.
fn optional_seed(ctx: &Ctx, words: &mut Vec<String>) -> Result<Addr> {
    match words.first().and_then(|w| Addr::parse(w)) {
        Some(addr) => {
            words.remove(0);
            Ok(addr)
        }
        None => own_addr(ctx),
    }
}

/// Takes a required leading `host:port`.
fn required_seed(words: &mut Vec<String>, usage: &str) -> Result<Addr> {
    if words.is_empty() {
        return Err(Error::err(format!("missing address: {usage}")));
    }
    Addr::parse_arg(&words.remove(0))
}

/// `ERR unexpected argument '<w>'` for the first leftover argument.
fn no_more(words: &[String]) -> Result<()> {
    match words.first() {
        Some(w) => Err(Error::err(format!("unexpected argument '{w}'"))),
        None => Ok(()),
    }
}

fn parse_count(text: &str, what: &str) -> Result<usize> {
    text.parse().map_err(|_| {
        Error::err(format!(
            "{what} must be a non-negative integer, got '{text}'"
        ))
    })
}

fn start<F>(ctx: &Ctx, kind: &'static str, args: &[&RStr], format: Format, work: F) -> Result<()>
where
    F: FnOnce(&jobs::Job) -> Result<Report> + Send + 'static,
{
    // The addresses the caller names: every `host:port` word, but for CLUSTER.CALL only its
    // target (what follows is the called command's own arguments).
    let named = if kind == "call" {
        &args[..args.len().min(2)]
    } else {
        args
    };
    trust::authorize(ctx, named, own_addr(ctx).ok().as_ref())?;
    let text: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a.as_bytes()).into_owned())
        .collect();
    jobs::spawn(ctx, kind, text.join(" "), format, work)
}

fn cluster_create(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let mut addrs = Vec::new();
    let mut replicas = 0;
    let mut i = 0;
    while i < words.len() {
        if words[i].eq_ignore_ascii_case("replicas") {
            let n = words
                .get(i + 1)
                .ok_or_else(|| Error::err("REPLICAS needs a number"))?;
            replicas = parse_count(n, "REPLICAS")?;
            i += 2;
        } else {
            addrs.push(Addr::parse_arg(&words[i])?);
            i += 1;
        }
    }
    create::validate(&addrs, replicas)?;
    start(ctx, "create", args, format, move |job| {
        create::run(job, &addrs, replicas)
    })
}

fn cluster_check(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = optional_seed(ctx, &mut words)?;
    no_more(&words)?;
    start(ctx, "check", args, format, move |job| {
        check::check(job, &seed)
    })
}

fn cluster_info(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = optional_seed(ctx, &mut words)?;
    no_more(&words)?;
    start(ctx, "info", args, format, move |job| {
        check::info(job, &seed)
    })
}

fn cluster_fix(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = optional_seed(ctx, &mut words)?;
    let mut take = |option: &str| {
        let before = words.len();
        words.retain(|w| !w.eq_ignore_ascii_case(option));
        words.len() < before
    };
    let options = check::FixOptions {
        forget_dead: take("forget-dead"),
        move_strays: take("move-strays"),
    };
    no_more(&words)?;
    start(ctx, "fix", args, format, move |job| {
        check::fix(job, &seed, options)
    })
}

fn cluster_reshard(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    const USAGE: &str =
        "CLUSTER.RESHARD host:port FROM <id|host:port|ALL> TO <id|host:port> SLOTS n";
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = required_seed(&mut words, USAGE)?;
    let (mut from, mut to, mut slots) = (None, None, None);
    let mut rest = words.into_iter();
    while let Some(word) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| Error::err(format!("{word} needs a value: {USAGE}")))?;
        match word.to_ascii_uppercase().as_str() {
            "FROM" => from = Some(value),
            "TO" => to = Some(value),
            "SLOTS" => slots = Some(parse_count(&value, "SLOTS")?),
            _ => return Err(Error::err(format!("unexpected argument '{word}': {USAGE}"))),
        }
    }
    let (Some(from), Some(to), Some(slots)) = (from, to, slots) else {
        return Err(Error::err(format!(
            "FROM, TO and SLOTS are required: {USAGE}"
        )));
    };
    if slots == 0 || slots > usize::from(topology::SLOTS) {
        return Err(Error::err("SLOTS must be between 1 and 16384"));
    }
    let from = if from.eq_ignore_ascii_case("all") {
        migrate::Sources::All
    } else {
        migrate::Sources::Node(from)
    };
    start(ctx, "reshard", args, format, move |job| {
        migrate::reshard(job, &seed, &from, &to, slots)
    })
}

fn cluster_rebalance(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = required_seed(
        &mut words,
        "CLUSTER.REBALANCE host:port [WEIGHT <id>=<w> ...] [USE-EMPTY-MASTERS] [THRESHOLD pct] [SIMULATE]",
    )?;
    let mut options = migrate::RebalanceOptions::default();
    let mut i = 0;
    let mut in_weights = false;
    while i < words.len() {
        let word = words[i].to_ascii_uppercase();
        match word.as_str() {
            "WEIGHT" => in_weights = true,
            "USE-EMPTY-MASTERS" => {
                options.use_empty_masters = true;
                in_weights = false;
            }
            "SIMULATE" => {
                options.simulate = true;
                in_weights = false;
            }
            "THRESHOLD" => {
                let value = words
                    .get(i + 1)
                    .ok_or_else(|| Error::err("THRESHOLD needs a percentage"))?;
                options.threshold = value
                    .parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .ok_or_else(|| Error::err(format!("invalid THRESHOLD '{value}'")))?;
                in_weights = false;
                i += 1;
            }
            _ if in_weights => {
                let (node, weight) = words[i].split_once('=').ok_or_else(|| {
                    Error::err(format!("invalid weight '{}' (expected <id>=<w>)", words[i]))
                })?;
                let weight = weight
                    .parse::<f64>()
                    .ok()
                    .filter(|w| w.is_finite() && *w >= 0.0)
                    .ok_or_else(|| Error::err(format!("invalid weight '{}'", words[i])))?;
                options.weights.push((node.to_owned(), weight));
            }
            _ => return Err(Error::err(format!("unexpected argument '{}'", words[i]))),
        }
        i += 1;
    }
    start(ctx, "rebalance", args, format, move |job| {
        migrate::rebalance(job, &seed, &options)
    })
}

fn cluster_addnode(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    const USAGE: &str = "CLUSTER.ADDNODE new_host:port existing_host:port [REPLICA [MASTER id]]";
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let new = required_seed(&mut words, USAGE)?;
    let existing = required_seed(&mut words, USAGE)?;
    let mut replica = false;
    let mut master = None;
    let mut rest = words.into_iter();
    while let Some(word) = rest.next() {
        match word.to_ascii_uppercase().as_str() {
            "REPLICA" | "SLAVE" => replica = true,
            "MASTER" if replica => {
                master = Some(
                    rest.next()
                        .ok_or_else(|| Error::err("MASTER needs a node id"))?,
                );
            }
            _ => return Err(Error::err(format!("unexpected argument '{word}': {USAGE}"))),
        }
    }
    start(ctx, "addnode", args, format, move |job| {
        nodes::add_node(job, &new, &existing, replica, master.as_deref())
    })
}

fn cluster_delnode(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = required_seed(&mut words, "CLUSTER.DELNODE host:port id")?;
    let [id] = words.as_slice() else {
        return Err(Error::err("usage: CLUSTER.DELNODE host:port id"));
    };
    let id = id.clone();
    start(ctx, "delnode", args, format, move |job| {
        nodes::del_node(job, &seed, &id)
    })
}

fn cluster_call(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let seed = required_seed(&mut words, "CLUSTER.CALL host:port command [args...]")?;
    // JSON is an option only right after the address: the command's own arguments are free.
    let format = match words.first() {
        Some(w) if w.eq_ignore_ascii_case("json") => {
            words.remove(0);
            Format::Json
        }
        _ => Format::Text,
    };
    if words.is_empty() {
        return Err(Error::err(
            "usage: CLUSTER.CALL host:port command [args...]",
        ));
    }
    // The command runs on the nodes with the module's credentials: the caller must be allowed
    // to run it itself (by its ACL on this server).
    ctx.current_user()?.check_command(&words[0], &words[1..])?;
    start(ctx, "call", args, format, move |job| {
        nodes::call(job, &seed, &words)
    })
}

fn cluster_settimeout(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    const USAGE: &str = "CLUSTER.SETTIMEOUT host:port milliseconds";
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = required_seed(&mut words, USAGE)?;
    let [ms] = words.as_slice() else {
        return Err(Error::err(format!("usage: {USAGE}")));
    };
    // redis-cli's floor: below it every scheduling hiccup would count as a failure. The
    // ceiling (a day) keeps the servers' timeout arithmetic far from overflowing.
    let ms: u64 = ms
        .parse()
        .ok()
        .filter(|ms| (100..=86_400_000).contains(ms))
        .ok_or_else(|| {
            Error::err(format!(
                "the timeout must be a number of milliseconds from 100 to 86400000, got '{ms}'"
            ))
        })?;
    start(ctx, "settimeout", args, format, move |job| {
        nodes::set_timeout(job, &seed, ms)
    })
}

fn cluster_import(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    const USAGE: &str = "CLUSTER.IMPORT host:port FROM host:port [COPY] [REPLACE]";
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = required_seed(&mut words, USAGE)?;
    let mut from = None;
    let mut options = import::ImportOptions::default();
    let mut rest = words.into_iter();
    while let Some(word) = rest.next() {
        match word.to_ascii_uppercase().as_str() {
            "FROM" => {
                let addr = rest
                    .next()
                    .ok_or_else(|| Error::err(format!("FROM needs an address: {USAGE}")))?;
                from = Some(Addr::parse_arg(&addr)?);
            }
            "COPY" => options.copy = true,
            "REPLACE" => options.replace = true,
            _ => return Err(Error::err(format!("unexpected argument '{word}': {USAGE}"))),
        }
    }
    let from = from.ok_or_else(|| Error::err(format!("FROM is required: {USAGE}")))?;
    start(ctx, "import", args, format, move |job| {
        import::import(job, &seed, &from, options)
    })
}

fn cluster_backup(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    const USAGE: &str = "usage: CLUSTER.BACKUP host:port dir [JSON]";
    let mut words = words(args)?;
    let format = take_format(&mut words);
    let seed = required_seed(&mut words, USAGE)?;
    let [dir] = words.as_slice() else {
        return Err(Error::err(USAGE));
    };
    let dir = backup::validate_dir(dir, &server_dir(ctx)?)?;
    start(ctx, "backup", args, format, move |job| {
        backup::backup(job, &seed, &dir)
    })
}

fn cluster_jobs(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let mut words = words(args)?;
    let format = take_format(&mut words);
    no_more(&words)?;
    let report = jobs::jobs_report();
    match format {
        Format::Text => ctx.reply_verbatim(report.text.as_bytes(), "txt"),
        Format::Json => {
            ctx.reply_bulk(report.json.to_string().as_bytes());
            Ok(())
        }
    }
}

fn module() -> Module {
    let module = Module::new("cluster", 1)
        .on_load(|ctx, _args| {
            ctx.register_config(&USER)?;
            ctx.register_config(&PASSWORD)?;
            ctx.register_config(&state::STATE_FILE)
        })
        .command(
            Command::new("cluster.create", cluster_create)
                .flags("admin")
                .usage("CLUSTER.CREATE host:port [host:port ...] [REPLICAS n] [JSON]")
                .summary("Creates a cluster of empty nodes (at least 3 masters)")
                .since("0.1.0")
                .arity(-2),
        )
        .command(
            Command::new("cluster.check", cluster_check)
                .usage("CLUSTER.CHECK [host:port] [JSON]")
                .summary("Checks slot coverage, open slots and agreement of a cluster")
                .since("0.1.0")
                .arity(-1),
        )
        .command(
            Command::new("cluster.info", cluster_info)
                .usage("CLUSTER.INFO [host:port] [JSON]")
                .summary("Masters with their keys, slots and replicas")
                .since("0.1.0")
                .arity(-1),
        )
        .command(
            Command::new("cluster.fix", cluster_fix)
                .flags("admin")
                .usage("CLUSTER.FIX [host:port] [FORGET-DEAD] [MOVE-STRAYS] [JSON]")
                .summary("Closes open slots and assigns uncovered slots, losing no keys")
                .since("0.1.0")
                .arity(-1),
        )
        .command(
            Command::new("cluster.reshard", cluster_reshard)
                .flags("admin")
                .usage("CLUSTER.RESHARD host:port FROM from TO to SLOTS n [JSON]")
                .summary("Moves n slots with their keys to a master")
                .since("0.1.0")
                .arity(-8),
        )
        .command(
            Command::new("cluster.rebalance", cluster_rebalance)
                .flags("admin")
                .usage(
                    "CLUSTER.REBALANCE host:port [WEIGHT id=weight [id=weight ...]] [USE-EMPTY-MASTERS] \
                     [THRESHOLD pct] [SIMULATE] [JSON]",
                )
                .summary("Moves slots so masters hold them in proportion to their weights")
                .since("0.1.0")
                .arity(-2),
        )
        .command(
            Command::new("cluster.addnode", cluster_addnode)
                .flags("admin")
                .usage("CLUSTER.ADDNODE new-host:port existing-host:port [REPLICA [MASTER id]] [JSON]")
                .summary("Adds an empty node as a master or a replica")
                .since("0.1.0")
                .arity(-3),
        )
        .command(
            Command::new("cluster.delnode", cluster_delnode)
                .flags("admin")
                .usage("CLUSTER.DELNODE host:port id [JSON]")
                .summary("Removes an empty node from the cluster")
                .since("0.1.0")
                .arity(-3),
        )
        .command(
            Command::new("cluster.call", cluster_call)
                .flags("admin")
                .usage("CLUSTER.CALL host:port [JSON] command [arg ...]")
                .summary("Runs a command on every node")
                .since("0.1.0")
                .arity(-3),
        )
        .command(
            Command::new("cluster.settimeout", cluster_settimeout)
                .flags("admin")
                .usage("CLUSTER.SETTIMEOUT host:port milliseconds [JSON]")
                .summary("Sets cluster-node-timeout on every node, saved to its config file")
                .since("0.1.0")
                .arity(-3),
        )
        .command(
            Command::new("cluster.import", cluster_import)
                .flags("admin")
                .usage("CLUSTER.IMPORT host:port FROM host:port [COPY] [REPLACE] [JSON]")
                .summary("Moves (or copies) the keys of a standalone server into the cluster")
                .since("0.1.0")
                .arity(-4),
        )
        .command(
            Command::new("cluster.backup", cluster_backup)
                .flags("admin")
                .usage("CLUSTER.BACKUP host:port dir [JSON]")
                .summary("Writes an RDB snapshot of every master and nodes.json to a directory")
                .since("0.1.0")
                .arity(-3),
        );
    let module = monitor::register(module);
    module.command(
        Command::new("cluster.jobs", cluster_jobs)
            .usage("CLUSTER.JOBS [JSON]")
            .summary("Running and recently finished jobs with their progress")
            .since("0.1.0")
            .arity(-1),
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
