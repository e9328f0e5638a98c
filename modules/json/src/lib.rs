//! `json`: JSON documents as a key type, the first slice of RedisJSON compatibility.
//!
//! Values are [`jsondoc::Document`]s stored under the data type `ReJSON-RL`, encoding version 3,
//! written exactly as RedisJSON 2.8 writes them (one RDB string holding the compact JSON), so
//! RDB files and `DUMP` payloads interchange with `rejson.so`. See `README.md` next to this
//! crate for the commands, their replies and where they differ from RedisJSON.
#![forbid(unsafe_code)]

mod legacy_rdb;

use jsondoc::path::{Dialect, Path, Step};
use jsondoc::{Document, JsonError, Location, Relocate, RelocatePosition, Segment};
use rm::{
    AofWriter, Command, Ctx, DataType, Defrag, DefragStatus, Digest, EnumConfig, Error, Module,
    NotifyFlags, NumericConfig, RStr, RString, RdbReader, RdbWriter, Result,
};
use serde_json::Value;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// The value of a JSON key.
struct Json(Document);

impl DataType for Json {
    const NAME: &'static str = "ReJSON-RL";
    const ENCODING_VERSION: i32 = 3;

    fn rdb_save(&self, io: &mut RdbWriter<'_>) {
        let mut text = Vec::new();
        self.0.to_compact(&mut text);
        io.save_bytes(&text);
    }

    fn rdb_load(io: &mut RdbReader<'_>, encver: i32) -> Result<Self> {
        let text = match encver {
            3 => io.load_bytes()?,
            2 => {
                // RedisJSON 2.0: the JSON, then a count; a non-zero count is followed by two
                // strings of RediSearch index data, which are read and dropped.
                let text = io.load_bytes()?;
                if io.load_unsigned()? > 0 {
                    io.load_bytes()?;
                    io.load_bytes()?;
                }
                text
            }
            0 => legacy_rdb::load(io, jsondoc::MAX_TRUSTED_DEPTH)?,
            // 1 is the only other version the server hands us (newer ones it refuses before
            // calling): no RedisJSON or valkey-json release wrote it.
            other => {
                return Err(Error::err(format!(
                    "ReJSON-RL encoding version {other} was never written by RedisJSON or \
                     valkey-json; this module loads versions 0, 2 and 3"
                )));
            }
        };
        Document::from_saved_json(&text)
            .map(Json)
            .map_err(|error| Error::err(format!("bad ReJSON-RL payload: {error}")))
    }

    fn aof_rewrite(&self, key: &RStr, aof: &mut AofWriter<'_>) -> Result<()> {
        let mut text = Vec::new();
        self.0.to_compact(&mut text);
        aof.emit("JSON.SET", &[key.as_bytes(), b"$", &text])
    }

    fn mem_usage(&self) -> usize {
        self.0.memory_usage()
    }

    fn digest(&self, digest: &mut Digest<'_>) {
        let mut text = Vec::new();
        self.0.to_compact(&mut text);
        digest.add_bytes(&text);
        digest.end_sequence();
    }

    fn copy(&self) -> Option<Self> {
        Some(Json(self.0.clone()))
    }

    /// One per heap block: a blob document frees (and defragments) in one step, a big expanded
    /// one is freed in the background by `UNLINK`/lazy free (above 64) and defragmented
    /// incrementally (above `active-defrag-max-scan-fields`, 1000 by default). The server asks
    /// for every key its defrag scan visits, so the count stops at 100 000 blocks (a walk of
    /// at most that many nodes, ~0.1 ms) rather than walk a huge document each time.
    fn free_effort(&self) -> usize {
        self.0.heap_blocks(100_000)
    }

    fn defrag(&mut self, defrag: &mut Defrag<'_>) -> DefragStatus {
        defrag_document(&mut self.0, defrag)
    }
}

// ---------------------------------------------------------------------------------------------
// Active defragmentation

/// Values the defrag callback visited (`keys_defrag` of `JSON.DEBUG DEFRAG_INFO`).
static KEYS_DEFRAGGED: AtomicU64 = AtomicU64::new(0);

/// Where the incremental pass over a big document paused, and the cursor handed to the server
/// for it. The server defragments one key at a time, so one slot is enough; a cursor that is
/// not ours (another key, or a pass the server abandoned) starts the document from the top.
static PAUSED: Mutex<(u64, RelocatePosition)> = Mutex::new((0, RelocatePosition::start()));

/// Offers a document's blocks to the server's defrag handle.
struct ServerRelocator<'d, 'a>(&'d mut Defrag<'a>);

impl Relocate for ServerRelocator<'_, '_> {
    fn relocate_str(&mut self, text: &mut Box<str>) {
        self.0.boxed_str(text);
    }

    fn relocate_vec<T>(&mut self, items: &mut Vec<T>) {
        self.0.vec(items);
    }

    fn should_pause(&mut self) -> bool {
        self.0.should_stop()
    }
}

fn defrag_document(document: &mut Document, defrag: &mut Defrag<'_>) -> DefragStatus {
    KEYS_DEFRAGGED.fetch_add(1, Ordering::Relaxed);
    let mut paused = PAUSED.lock().unwrap_or_else(PoisonError::into_inner);
    let from = match defrag.cursor() {
        Some(cursor) if cursor != 0 && cursor == paused.0 => std::mem::take(&mut paused.1),
        _ => RelocatePosition::start(),
    };
    match document.relocate(&from, &mut ServerRelocator(defrag)) {
        None => DefragStatus::Done,
        Some(next) => {
            // A fresh nonzero cursor per pause: a stale one never matches.
            paused.0 = paused.0.wrapping_add(1).max(1);
            paused.1 = next;
            DefragStatus::Paused(NonZeroU64::new(paused.0).expect("nonzero by construction"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

// Every error reply starts with a code (`ERR`, `WRONGTYPE`). RedisJSON sends several of its
// messages bare — serde's parse errors, path syntax errors, `Couldn't parse as …`,
// `bad input number` — which clients read as an error whose code is the message's first word
// ("trailing", "Error"); we send the same message text after `ERR `.

fn utf8(arg: &RStr) -> Result<&str> {
    std::str::from_utf8(arg.as_bytes()).map_err(|_| Error::err("Couldn't parse as UTF-8 string"))
}

fn path_error(error: impl std::fmt::Display) -> Error {
    Error::err(error.to_string())
}

/// A path evaluation over its budget (`json.path-budget`, `json.path-max-bytes`).
fn budget_error(error: jsondoc::path::BudgetExceeded) -> Error {
    Error::err(error.to_string())
}

fn parse_path(arg: &RStr) -> Result<Path> {
    Path::parse_in(utf8(arg)?, dialect()).map_err(path_error)
}

/// The default path of the commands whose path is optional (legacy `.`, also under RESP3).
fn legacy_root() -> Result<Path> {
    Path::parse(".").map_err(path_error)
}

fn parse_value(arg: &RStr) -> Result<Document> {
    Document::from_json_str(utf8(arg)?).map_err(json_error)
}

/// A document error as a reply: parse errors (serde's bare text) behind `ERR `; the others'
/// texts already start with their code.
fn json_error(error: JsonError) -> Error {
    match error {
        JsonError::Parse(message) => Error::err(message),
        other => Error::Coded(other.to_string().into()),
    }
}

fn is(arg: &RStr, word: &str) -> bool {
    arg.as_bytes().eq_ignore_ascii_case(word.as_bytes())
}

fn notify(ctx: &Ctx, event: &str, key: &RStr) -> Result<()> {
    ctx.notify_keyspace_event(NotifyFlags::MODULE, event, key)
}

/// The JSON text formats of JSON.GET.
struct Format {
    indent: Vec<u8>,
    newline: Vec<u8>,
    space: Vec<u8>,
}

impl Format {
    const COMPACT: Format = Format {
        indent: Vec::new(),
        newline: Vec::new(),
        space: Vec::new(),
    };

    /// `PRETTY`: two-space indent, `\n`, one space after `:`.
    fn pretty() -> Format {
        Format {
            indent: b"  ".to_vec(),
            newline: b"\n".to_vec(),
            space: b" ".to_vec(),
        }
    }

    fn is_compact(&self) -> bool {
        self.indent.is_empty() && self.newline.is_empty() && self.space.is_empty()
    }

    fn write(&self, document: &Document, out: &mut Vec<u8>) {
        if self.is_compact() {
            document.to_compact(out);
        } else {
            document.to_pretty(&self.indent, &self.newline, &self.space, out);
        }
    }
}

/// Document order of locations: an ancestor before its descendants, siblings by index or name.
fn location_cmp(a: &Location, b: &Location) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (Segment::Index(x), Segment::Index(y)) => x.cmp(y),
            (Segment::Key(x), Segment::Key(y)) => x.cmp(y),
            (Segment::Index(_), Segment::Key(_)) => std::cmp::Ordering::Less,
            (Segment::Key(_), Segment::Index(_)) => std::cmp::Ordering::Greater,
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

// ---------------------------------------------------------------------------------------------
// Expiry options (JSON.SET, JSON.GETEX), read and checked as SET and GETEX read them

/// `EX`, `PX`, `EXAT`, `PXAT`: how a time argument counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// One expiry option: a time with its argument, `KEEPTTL` (JSON.SET) or `PERSIST` (JSON.GETEX).
#[derive(Clone, Copy)]
enum Expiry<'a> {
    Time(TimeKind, &'a RStr),
    KeepTtl,
    Persist,
}

/// What a command does to the key's expiry once it has done its work.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpiryChange {
    /// Leave it as it is (no option, or `KEEPTTL`).
    Keep,
    /// Expire at this Unix time in milliseconds.
    At(i64),
    /// Remove it (`PERSIST`).
    Persist,
}

/// Takes an expiry option at the head of `args` into `option`: how many arguments it used, 0
/// if the head is none. Besides the times, `word` (`KEEPTTL` for JSON.SET, `PERSIST` for
/// JSON.GETEX) is one. As SET's parser: the same option again replaces the first (`EX 10 EX
/// 20` is 20 seconds), another one is a syntax error, and so is a time without its argument.
fn take_expiry<'a>(
    args: &[&'a RStr],
    option: &mut Option<Expiry<'a>>,
    word: &str,
) -> Result<usize> {
    let Some(head) = args.first() else {
        return Ok(0);
    };
    let kind = [
        ("EX", TimeKind::Ex),
        ("PX", TimeKind::Px),
        ("EXAT", TimeKind::ExAt),
        ("PXAT", TimeKind::PxAt),
    ]
    .into_iter()
    .find(|(name, _)| is(head, name))
    .map(|(_, kind)| kind);
    let (found, used) = match kind {
        Some(kind) => {
            let time = args.get(1).ok_or_else(|| Error::err("syntax error"))?;
            (Expiry::Time(kind, time), 2)
        }
        None if !is(head, word) => return Ok(0),
        None if word == "KEEPTTL" => (Expiry::KeepTtl, 1),
        None => (Expiry::Persist, 1),
    };
    let same = match (*option, found) {
        (None, _) => true,
        (Some(Expiry::Time(a, _)), Expiry::Time(b, _)) => a == b,
        (Some(Expiry::KeepTtl), Expiry::KeepTtl) | (Some(Expiry::Persist), Expiry::Persist) => true,
        _ => false,
    };
    if !same {
        return Err(Error::err("syntax error"));
    }
    *option = Some(found);
    Ok(used)
}

impl Expiry<'_> {
    /// The change this option asks for, with a time made absolute from the server's clock.
    /// Errors are the server's own, naming `command` as it does: `ERR value is not an integer
    /// or out of range`, `ERR invalid expire time in 'json.set' command` (zero, negative, or
    /// past the 64-bit range once in milliseconds from the epoch).
    fn change(&self, ctx: &Ctx, command: &str) -> Result<ExpiryChange> {
        let (kind, arg) = match *self {
            Expiry::KeepTtl => return Ok(ExpiryChange::Keep),
            Expiry::Persist => return Ok(ExpiryChange::Persist),
            Expiry::Time(kind, arg) => (kind, arg),
        };
        let invalid = || Error::err(format!("invalid expire time in '{command}' command"));
        let value = arg.parse_i64()?;
        if value <= 0 {
            return Err(invalid());
        }
        let ms = match kind {
            TimeKind::Ex | TimeKind::ExAt => value.checked_mul(1000).ok_or_else(invalid)?,
            TimeKind::Px | TimeKind::PxAt => value,
        };
        let at = match kind {
            TimeKind::Ex | TimeKind::Px => {
                ms.checked_add(ctx.milliseconds()).ok_or_else(invalid)?
            }
            TimeKind::ExAt | TimeKind::PxAt => ms,
        };
        Ok(ExpiryChange::At(at))
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.SET

/// `JSON.SET key VALUE` (whole document) or
/// `JSON.SET key path value [NX|XX] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]`.
///
/// Without an expiry option the key keeps its expiry, as RedisJSON always did (`KEEPTTL` says
/// so explicitly). With one, the write sets the key's expiry, whatever the path; a write that
/// NX/XX or a missing parent refuses changes nothing, the expiry included.
fn json_set(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path_arg, value_arg, rest) = match args {
        [_, name, value] => (*name, None, *value, &[][..]),
        [_, name, path, value, rest @ ..] => (*name, Some(*path), *value, rest),
        _ => return Err(Error::WrongArity),
    };
    let path = path_arg.map(parse_path).transpose()?;
    let (mut nx, mut xx) = (false, false);
    let mut expiry = None;
    let mut i = 0;
    while i < rest.len() {
        let taken = take_expiry(&rest[i..], &mut expiry, "KEEPTTL")?;
        if taken > 0 {
            i += taken;
            continue;
        }
        let option = rest[i];
        if is(option, "NX") && !nx && !xx {
            nx = true;
        } else if is(option, "XX") && !nx && !xx {
            xx = true;
        } else if is(option, "FORMAT") && rest.get(i + 1).is_some_and(|f| is(f, "JSON")) {
            // RedisJSON's default input format; BSON is not supported.
            i += 1;
        } else {
            return Err(Error::err("syntax error"));
        }
        i += 1;
    }
    // As SET: a bad time is an error before the key is looked at.
    let change = match expiry {
        Some(expiry) => expiry.change(ctx, "json.set")?,
        None => ExpiryChange::Keep,
    };
    let value = parse_value(value_arg)?;
    let mut key = ctx.open_key_writable(name);
    let root = path.as_ref().is_none_or(Path::is_root);
    let exists = key.value::<Json>()?.is_some();
    let changed = if !exists {
        if !root {
            return Err(Error::err("new objects must be created at the root"));
        }
        if xx {
            false
        } else {
            key.set_value(Json(value))?;
            true
        }
    } else {
        let mut json = key.value_mut::<Json>()?.ok_or(Error::WrongType)?;
        match &path {
            // The root always exists: replacing it is a move (no lookup, no clone).
            None => {
                json.0 = value;
                true
            }
            Some(path) if path.is_root() && !nx => {
                json.0 = value;
                true
            }
            Some(path) => set_at(&mut json.0, path, &value, nx, xx)?,
        }
    };
    if !changed {
        ctx.reply_null();
        return Ok(());
    }
    if let ExpiryChange::At(at) = change {
        key.set_abs_expire(Some(at))?;
    }
    // Replicated first, so nothing that fails after the write leaves it unreplicated.
    match (change, path_arg) {
        (ExpiryChange::At(at), Some(path_arg)) => {
            // As SET: a relative time replicated as the absolute one, so replicas and the AOF
            // expire the key at the same instant. NX/XX are left out (this write happened; the
            // replica's copy is the same) as SET does.
            let pxat = RString::from_bytes(b"PXAT");
            let at = RString::from_bytes(at.to_string().as_bytes());
            ctx.replicate("JSON.SET", &[name, path_arg, value_arg, &pxat, &at])?;
        }
        _ => ctx.replicate_verbatim(),
    }
    notify(ctx, "json.set", name)?;
    if let ExpiryChange::At(_) = change {
        // As SET: "expire" after the write's event.
        ctx.notify_keyspace_event(NotifyFlags::GENERIC, "expire", name)?;
    }
    // Last: an error above is then the only reply.
    ctx.reply_ok();
    Ok(())
}

/// Sets `value` at every match of `path`; `Ok(false)` when NX/XX or a missing parent says no.
fn set_at(doc: &mut Document, path: &Path, value: &Document, nx: bool, xx: bool) -> Result<bool> {
    let locations = path.query_document(doc).map_err(budget_error)?;
    if !locations.is_empty() {
        if nx {
            return Ok(false);
        }
        if let [location] = locations.as_slice() {
            // One edit applies fully or not at all: no copy needed.
            doc.set(location, value).map_err(json_error)?;
        } else {
            doc.transaction(|doc| {
                deepest_first(&locations)
                    .into_iter()
                    .try_for_each(|i| doc.set(&locations[i], value))
            })
            .map_err(json_error)?;
        }
        return Ok(true);
    }
    if xx {
        return Ok(false);
    }
    let Some(steps) = path.as_simple() else {
        return Err(Error::err("wrong static path"));
    };
    let Some((last, parent_steps)) = steps.split_last() else {
        return Ok(false);
    };
    // An index that matched nothing is RedisJSON's error whatever the parent is (an array
    // too short, another type, or missing).
    let Step::Key(name) = last else {
        return Err(json_error(JsonError::ArrayIndexOutOfRange));
    };
    let Some((mut location, _)) = doc.walk(parent_steps) else {
        return Ok(false);
    };
    location.push(Segment::Key(name.clone()));
    match doc.set(&location, value) {
        Ok(()) => Ok(true),
        Err(JsonError::NoSuchPath) => Ok(false),
        Err(error) => Err(json_error(error)),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.GET, json.path

/// What a path selects, as the reply shapes need it.
enum Selected {
    /// A `$` path: every match.
    All(Vec<Value>),
    /// A legacy path: the first match.
    First(Value),
}

fn select(doc: &Document, path: &Path, shown: &str) -> Result<Selected> {
    if path.is_legacy() {
        let location = path
            .query_first_document(doc)
            .map_err(budget_error)?
            .ok_or_else(|| Error::err(format!("Path '{shown}' does not exist")))?;
        Ok(Selected::First(
            doc.value_at(&location)
                .map(|v| v.to_value())
                .unwrap_or(Value::Null),
        ))
    } else {
        Ok(Selected::All(
            path.query_document(doc)
                .map_err(budget_error)?
                .iter()
                .filter_map(|location| doc.value_at(location).map(|v| v.to_value()))
                .collect(),
        ))
    }
}

/// The options and paths of JSON.GET (and JSON.GETEX, which adds its expiry options).
struct GetRequest<'a> {
    format: Format,
    reply_format: ReplyFormat,
    /// The paths as given (the member names of a several-path reply).
    texts: Vec<&'a RStr>,
    paths: Vec<Path>,
}

impl<'a> GetRequest<'a> {
    /// Reads `[INDENT indent] [NEWLINE newline] [SPACE space] [FORMAT f] [NOESCAPE] [path ...]`, options in
    /// any order and any case, the last of each winning. `extra` sees each argument first
    /// (with those after it) and answers how many it took as its own option, 0 if none.
    fn parse(
        ctx: &Ctx,
        rest: &[&'a RStr],
        mut extra: impl FnMut(&[&'a RStr]) -> Result<usize>,
    ) -> Result<GetRequest<'a>> {
        let mut format = Format::COMPACT;
        let mut reply_format = ReplyFormat::String;
        let mut texts: Vec<&RStr> = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            let taken = extra(&rest[i..])?;
            if taken > 0 {
                i += taken;
                continue;
            }
            let arg = rest[i];
            let slot = if is(arg, "INDENT") {
                Some(&mut format.indent)
            } else if is(arg, "NEWLINE") {
                Some(&mut format.newline)
            } else if is(arg, "SPACE") {
                Some(&mut format.space)
            } else {
                None
            };
            match slot {
                Some(slot) => {
                    let value = rest.get(i + 1).ok_or(Error::WrongArity)?;
                    *slot = value.as_bytes().to_vec();
                    i += 2;
                }
                // Under RESP2 a FORMAT after the first path is ignored, as RedisJSON does
                // (before it, it is refused: RESP2 has no other format).
                None if is(arg, "FORMAT") && !ctx.is_resp3() && !texts.is_empty() => i += 2,
                None if is(arg, "FORMAT") => {
                    reply_format = ReplyFormat::parse(ctx, rest.get(i + 1))?;
                    i += 2;
                }
                None if is(arg, "NOESCAPE") => i += 1,
                None => {
                    texts.push(arg);
                    i += 1;
                }
            }
        }
        Ok(GetRequest {
            format,
            reply_format,
            texts,
            paths: Vec::new(),
        })
    }

    /// Parses the paths (before the key is opened: a bad path is an error for any key).
    fn parse_paths(&mut self) -> Result<()> {
        self.paths = self
            .texts
            .iter()
            .map(|p| parse_path(p))
            .collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// The reply for `doc`, whole: every error comes before the first byte is sent, so
    /// JSON.GETEX changes the expiry only of a key it answers.
    fn answer(&self, doc: &Document) -> Result<GetReply> {
        if self.reply_format != ReplyFormat::String {
            return expanded_matches(doc, &self.paths).map(GetReply::Expanded);
        }
        let format = &self.format;
        let mut out = Vec::new();
        match self.paths.as_slice() {
            [] => format.write(doc, &mut out),
            [path] if path.is_root() && path.is_legacy() => format.write(doc, &mut out),
            // A simple chain, compact: the stored text of the match is the reply (no Value).
            [path] if format.is_compact() && path.as_simple().is_some() => {
                let found = path.as_simple().and_then(|steps| doc.find(steps));
                out.reserve(found.map_or(0, |value| value.compact_len_hint()) + 2);
                match (found, path.is_legacy()) {
                    (Some(value), true) => value.write_compact(&mut out),
                    (None, true) => {
                        let shown = path.rewritten_text();
                        return Err(Error::err(format!("Path '{shown}' does not exist")));
                    }
                    (found, false) => {
                        out.push(b'[');
                        if let Some(value) = found {
                            value.write_compact(&mut out);
                        }
                        out.push(b']');
                    }
                }
            }
            [path] => {
                let value = match select(doc, path, path.rewritten_text())? {
                    Selected::All(values) => Value::Array(values),
                    Selected::First(value) => value,
                };
                format.write(&Document::from_value(&value), &mut out);
            }
            several => {
                let any_dollar = several.iter().any(|p| !p.is_legacy());
                let mut object = serde_json::Map::new();
                for (path, text) in several.iter().zip(&self.texts) {
                    let text = utf8(text)?;
                    let value = if any_dollar {
                        Value::Array(
                            path.query_document(doc)
                                .map_err(budget_error)?
                                .iter()
                                .filter_map(|l| doc.value_at(l).map(|v| v.to_value()))
                                .collect(),
                        )
                    } else {
                        match select(doc, path, text)? {
                            Selected::First(value) => value,
                            Selected::All(values) => Value::Array(values),
                        }
                    };
                    object.insert(text.to_owned(), value);
                }
                format.write(&Document::from_value(&Value::Object(object)), &mut out);
            }
        }
        Ok(GetReply::Text(out))
    }
}

/// A JSON.GET reply, computed before any of it is sent.
enum GetReply {
    /// The JSON text (`FORMAT STRING`, RESP2).
    Text(Vec<u8>),
    /// `FORMAT EXPAND`/`EXPAND1`: every match of each path.
    Expanded(Vec<Vec<Value>>),
}

impl GetReply {
    fn send(&self, ctx: &Ctx, request: &GetRequest) {
        match self {
            GetReply::Text(out) => ctx.reply_bulk(out),
            GetReply::Expanded(matches) => {
                reply_expanded(ctx, matches, &request.format, request.reply_format);
            }
        }
    }
}

/// `JSON.GET key [PRETTY]` or `JSON.GET key [INDENT indent] [NEWLINE newline] [SPACE space] [path ...]`.
fn json_get(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, rest @ ..] = args else {
        return Err(Error::WrongArity);
    };
    let mut request = match rest {
        [only] if is(only, "PRETTY") => GetRequest {
            format: Format::pretty(),
            reply_format: ReplyFormat::String,
            texts: Vec::new(),
            paths: Vec::new(),
        },
        _ => GetRequest::parse(ctx, rest, |_| Ok(0))?,
    };
    request.parse_paths()?;
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        ctx.reply_null();
        return Ok(());
    };
    request.answer(&json.0)?.send(ctx, &request);
    Ok(())
}

/// `JSON.GETEX key [EX s|PX ms|EXAT unix-s|PXAT unix-ms|PERSIST] [INDENT s] [NEWLINE s]
/// [SPACE s] [FORMAT f] [path ...]`: JSON.GET's reply, then the key's expiry changed as
/// GETEX changes it. Replicated as its effect, as GETEX is: `PEXPIREAT key unix-ms`,
/// `PERSIST key` (only if an expiry was removed), `DEL key` (a time already past deletes the
/// key); nothing without an option.
fn json_getex(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, rest @ ..] = args else {
        return Err(Error::WrongArity);
    };
    let mut expiry = None;
    let mut request =
        GetRequest::parse(ctx, rest, |args| take_expiry(args, &mut expiry, "PERSIST"))?;
    // A bad time is an error for any key, missing ones included (Valkey's GETEX; Redis's
    // answers nil for a missing key before it reads the time).
    let change = match expiry {
        Some(expiry) => expiry.change(ctx, "json.getex")?,
        None => ExpiryChange::Keep,
    };
    request.parse_paths()?;
    let mut key = ctx.open_key_writable(name);
    let answer = match key.value::<Json>()? {
        Some(json) => request.answer(&json.0)?,
        None => {
            ctx.reply_null();
            return Ok(());
        }
    };
    match change {
        ExpiryChange::Keep => {}
        // As GETEX: a time already past deletes the key now, with the "del" event.
        ExpiryChange::At(at) if at <= ctx.milliseconds() => {
            key.delete()?;
            ctx.notify_keyspace_event(NotifyFlags::GENERIC, "del", name)?;
            ctx.replicate("DEL", &[name])?;
        }
        ExpiryChange::At(at) => {
            key.set_abs_expire(Some(at))?;
            ctx.notify_keyspace_event(NotifyFlags::GENERIC, "expire", name)?;
            let at = RString::from_bytes(at.to_string().as_bytes());
            ctx.replicate("PEXPIREAT", &[name, &at])?;
        }
        ExpiryChange::Persist => {
            if key.expire().is_some() {
                key.set_expire(None)?;
                ctx.notify_keyspace_event(NotifyFlags::GENERIC, "persist", name)?;
                ctx.replicate("PERSIST", &[name])?;
            }
        }
    }
    answer.send(ctx, &request);
    Ok(())
}

/// `json.path key PATH [PRETTY]`: the value(s) at PATH.
fn json_path(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path, format) = match args {
        [_, name, path] => (*name, *path, Format::COMPACT),
        [_, name, path, pretty] if is(pretty, "PRETTY") => (*name, *path, Format::pretty()),
        [_, _, _, _] => return Err(Error::err("syntax error")),
        _ => return Err(Error::WrongArity),
    };
    let path = parse_path(path)?;
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        ctx.reply_null();
        return Ok(());
    };
    let value = match select(&json.0, &path, path.rewritten_text())? {
        Selected::All(values) => Value::Array(values),
        Selected::First(value) => value,
    };
    let mut out = Vec::new();
    format.write(&Document::from_value(&value), &mut out);
    ctx.reply_bulk(&out);
    Ok(())
}

/// `json.fmt key TEMPLATE`: each `{{PATH}}` replaced by the (first) value at PATH.
fn json_fmt(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, template] = args else {
        return Err(Error::WrongArity);
    };
    let template = utf8(template)?;
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        ctx.reply_null();
        return Ok(());
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| Error::err("unterminated {{ in template"))?;
        let text = &after[..end];
        let path = Path::parse_in(text, dialect()).map_err(path_error)?;
        let value = path
            .query_first_document(&json.0)
            .map_err(budget_error)?
            .and_then(|location| json.0.value_at(&location))
            .ok_or_else(|| Error::err(format!("Path '{text}' does not exist")))?;
        match value.as_string() {
            Some(string) => out.push_str(&string),
            None => out.push_str(&value.to_compact_string()),
        }
        // Placeholders repeat: the output is bounded as a path's results are.
        let (_, max_bytes) = jsondoc::path::budget::limits();
        if out.len() as u64 > max_bytes {
            return Err(Error::err(format!(
                "the filled template would be longer than {max_bytes} bytes (json.path-max-bytes)"
            )));
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    ctx.reply_bulk(out.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON.DEL, JSON.TYPE

/// `JSON.DEL key [path]` (also `JSON.FORGET`): the number of values deleted.
fn json_del(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path) = match args {
        [_, name] => (*name, None),
        [_, name, path, ..] => (*name, Some(parse_path(path)?)),
        _ => return Err(Error::WrongArity),
    };
    let mut key = ctx.open_key_writable(name);
    let exists = key.value::<Json>()?.is_some();
    let deleted = match &path {
        _ if !exists => 0,
        Some(path) if !path.is_root() => {
            let mut json = key.value_mut::<Json>()?.ok_or(Error::WrongType)?;
            let mut locations = path.query_document(&json.0).map_err(budget_error)?;
            locations.sort_by(location_cmp);
            locations.dedup();
            // A value inside another deleted value is not counted (RedisJSON: `$..a` on
            // nested a's deletes the outer ones). Sorted, an ancestor directly precedes its
            // descendants.
            let mut outer: Vec<Location> = Vec::with_capacity(locations.len());
            for location in locations {
                if !outer.last().is_some_and(|o| location.starts_with(o)) {
                    outer.push(location);
                }
            }
            // Later siblings first, so earlier locations stay valid.
            outer.reverse();
            let locations = outer;
            let count = locations.len();
            json.0
                .transaction(|doc| locations.iter().try_for_each(|l| doc.delete(l)))
                .map_err(json_error)?;
            count
        }
        _ => {
            key.delete()?;
            1
        }
    };
    if deleted > 0 {
        ctx.replicate_verbatim();
        notify(ctx, "json.del", name)?;
    }
    ctx.reply_integer(deleted as i64);
    Ok(())
}

/// `JSON.TYPE key [path]`.
fn json_type(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path) = match args {
        [_, name] => (*name, None),
        [_, name, path, ..] => (*name, Some(parse_path(path)?)),
        _ => return Err(Error::WrongArity),
    };
    let key = ctx.open_key(name);
    let json = key.value::<Json>()?;
    if ctx.is_resp3() {
        // RedisJSON's RESP3 JSON.TYPE: the RESP2 reply inside one more array.
        ctx.reply_array(1);
    }
    let Some(json) = json else {
        ctx.reply_null();
        return Ok(());
    };
    let doc = &json.0;
    match &path {
        None => ctx.reply_bulk(doc.root_ref().json_type().name().as_bytes()),
        Some(path) => {
            let type_of = |l: &Location| doc.value_at(l).map(|v| v.json_type().name());
            if path.is_legacy() {
                match path
                    .query_first_document(doc)
                    .map_err(budget_error)?
                    .as_ref()
                    .and_then(type_of)
                {
                    Some(name) => ctx.reply_bulk(name.as_bytes()),
                    None => ctx.reply_null(),
                }
            } else {
                let names: Vec<_> = path
                    .query_document(doc)
                    .map_err(budget_error)?
                    .iter()
                    .filter_map(type_of)
                    .collect();
                ctx.reply_array(names.len());
                for name in names {
                    ctx.reply_bulk(name.as_bytes());
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON.STRLEN, JSON.ARRLEN, JSON.OBJLEN

/// How one of the length commands behaves where RedisJSON's three differ.
struct Length {
    /// The type it measures.
    expected: jsondoc::JsonType,
    /// Its length, if `value` has the expected type.
    measure: fn(&jsondoc::ValueRef<'_>) -> Option<usize>,
    /// The error for a `$` path on a missing key.
    missing_key_dollar: &'static str,
}

const NO_KEY: &str = "could not perform this operation on a key that doesn't exist";

fn length(ctx: &Ctx, args: &[&RStr], how: &Length) -> Result<()> {
    let (name, path_arg) = match args {
        [_, name] => (*name, None),
        [_, name, path, ..] => (*name, Some(*path)),
        _ => return Err(Error::WrongArity),
    };
    let path = match path_arg {
        Some(arg) => parse_path(arg)?,
        None => legacy_root()?,
    };
    let typed = path_arg.map_or(Ok("."), utf8)?;
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        if path.is_legacy() {
            ctx.reply_null();
            return Ok(());
        }
        return Err(Error::err(how.missing_key_dollar));
    };
    let doc = &json.0;
    if !path.is_legacy() {
        let locations = path.query_document(doc).map_err(budget_error)?;
        ctx.reply_array(locations.len());
        for location in &locations {
            match doc.value_at(location).as_ref().and_then(how.measure) {
                Some(n) => ctx.reply_integer(n as i64),
                None => ctx.reply_null(),
            }
        }
        return Ok(());
    }
    let array = how.expected == jsondoc::JsonType::Array;
    let Some(value) = path
        .query_first_document(doc)
        .map_err(budget_error)?
        .and_then(|location| doc.value_at(&location))
    else {
        if how.expected == jsondoc::JsonType::Object {
            ctx.reply_null();
            return Ok(());
        }
        let shown = if array { typed } else { path.rewritten_text() };
        return Err(Error::err(format!("Path '{shown}' does not exist")));
    };
    match (how.measure)(&value) {
        Some(n) => ctx.reply_integer(n as i64),
        None if array => {
            return Err(Error::err(format!(
                "Path '{typed}' does not exist or not an array"
            )));
        }
        None => {
            return Err(json_error(JsonError::WrongType {
                expected: how.expected,
                found: value.json_type(),
            }));
        }
    }
    Ok(())
}

/// `JSON.STRLEN key [path]`: byte length of strings.
fn json_strlen(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let how = Length {
        expected: jsondoc::JsonType::String,
        measure: |v| v.str_len(),
        missing_key_dollar: NO_KEY,
    };
    length(ctx, args, &how)
}

/// `JSON.ARRLEN key [path]`.
fn json_arrlen(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let how = Length {
        expected: jsondoc::JsonType::Array,
        measure: |v| v.array_len(),
        missing_key_dollar: NO_KEY,
    };
    length(ctx, args, &how)
}

/// `JSON.OBJLEN key [path]`.
fn json_objlen(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let how = Length {
        expected: jsondoc::JsonType::Object,
        measure: |v| v.object_len(),
        missing_key_dollar: "Path '$' does not exist or not an object",
    };
    length(ctx, args, &how)
}

// ---------------------------------------------------------------------------------------------
// JSON.NUMINCRBY, JSON.NUMMULTBY, JSON.ARRAPPEND

/// Applies `edit` to every match of `path` (all-or-nothing); `None` for a match it skipped
/// (wrong type). Emits the event and replicates when something changed.
fn edit_matches<R>(
    ctx: &Ctx,
    name: &RStr,
    path: &Path,
    event: &str,
    edit: impl Fn(&mut Document, &Location) -> std::result::Result<Option<R>, JsonError>,
) -> Result<Vec<Option<R>>> {
    edit_matches_if(ctx, name, path, event, edit, |_| true)
}

/// [`edit_matches`] where `changed` says whether a match's result changed the document.
fn edit_matches_if<R>(
    ctx: &Ctx,
    name: &RStr,
    path: &Path,
    event: &str,
    edit: impl Fn(&mut Document, &Location) -> std::result::Result<Option<R>, JsonError>,
    changed: impl Fn(&R) -> bool,
) -> Result<Vec<Option<R>>> {
    let mut key = ctx.open_key_writable(name);
    let Some(mut json) = key.value_mut::<Json>()? else {
        return Err(Error::err(NO_KEY));
    };
    let locations = path.query_document(&json.0).map_err(budget_error)?;
    let results = if let [location] = locations.as_slice() {
        // One edit applies fully or not at all: no copy of the document needed.
        vec![edit(&mut json.0, location).map_err(json_error)?]
    } else {
        json.0
            .transaction(|doc| {
                // Applied deepest first, answered in match order.
                let mut results: Vec<Option<R>> = locations.iter().map(|_| None).collect();
                for i in deepest_first(&locations) {
                    results[i] = edit(doc, &locations[i])?;
                }
                Ok(results)
            })
            .map_err(json_error)?
    };
    drop(json);
    if results.iter().flatten().any(changed) {
        ctx.replicate_verbatim();
        notify(ctx, event, name)?;
    }
    Ok(results)
}

/// The order to apply an edit at several matches in: deepest first (stable), so that no edit
/// moves or replaces what a later one addresses — a match inside another (`$..*`) is edited
/// before its container, as RedisJSON 2.8.19 does.
fn deepest_first(locations: &[Location]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..locations.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(locations[i].len()));
    order
}

/// Skips a match of the wrong type; other errors abort the command.
fn skip_wrong_type<R>(
    result: std::result::Result<R, JsonError>,
) -> std::result::Result<Option<R>, JsonError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(JsonError::WrongType { .. } | JsonError::NoSuchPath) => Ok(None),
        Err(error) => Err(error),
    }
}

fn num(ctx: &Ctx, args: &[&RStr], op: jsondoc::NumOp, event: &str) -> Result<()> {
    let [_, name, path, number, ..] = args else {
        return Err(Error::WrongArity);
    };
    let path = parse_path(path)?;
    let by = match serde_json::from_str::<Value>(utf8(number)?) {
        Ok(Value::Number(by)) => by,
        Ok(_) => return Err(Error::err("bad input number")),
        Err(error) => return Err(Error::err(error.to_string())),
    };
    let results = edit_matches(ctx, name, &path, event, |doc, location| {
        skip_wrong_type(doc.num_op(location, op, &by))
    })?;
    if ctx.is_resp3() {
        // RedisJSON's RESP3 reply: every match's new value typed, legacy paths included.
        ctx.reply_array(results.len());
        for result in &results {
            match result {
                Some(number) => reply_number(ctx, number),
                None => ctx.reply_null(),
            }
        }
        return Ok(());
    }
    let text = if path.is_legacy() {
        match results.iter().rev().flatten().next() {
            Some(last) => jsondoc::format_number(last),
            None => {
                return Err(Error::err(format!(
                    "Path '{}' does not exist or does not contains a number",
                    path.rewritten_text()
                )));
            }
        }
    } else {
        let items: Vec<String> = results
            .iter()
            .map(|r| {
                r.as_ref()
                    .map_or_else(|| "null".to_owned(), jsondoc::format_number)
            })
            .collect();
        format!("[{}]", items.join(","))
    };
    ctx.reply_bulk(text.as_bytes());
    Ok(())
}

/// `JSON.NUMINCRBY key path number`.
fn json_numincrby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    num(ctx, args, jsondoc::NumOp::Add, "json.numincrby")
}

/// `JSON.NUMMULTBY key path number`.
fn json_nummultby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    num(ctx, args, jsondoc::NumOp::Mul, "json.nummultby")
}

/// `JSON.ARRAPPEND key path value [value ...]`.
fn json_arrappend(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path_arg, values @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if values.is_empty() {
        return Err(Error::WrongArity);
    }
    let path = parse_path(path_arg)?;
    let values = values
        .iter()
        .map(|v| parse_value(v))
        .collect::<Result<Vec<_>>>()?;
    let results = edit_matches(ctx, name, &path, "json.arrappend", |doc, location| {
        skip_wrong_type(doc.arr_append(location, &values))
    })?;
    if path.is_legacy() {
        match results.iter().rev().flatten().next() {
            Some(len) => ctx.reply_integer(*len as i64),
            None => {
                return Err(Error::err(format!(
                    "Path '{}' does not exist or not an array",
                    utf8(path_arg)?
                )));
            }
        }
    } else {
        ctx.reply_array(results.len());
        for result in &results {
            match result {
                Some(len) => ctx.reply_integer(*len as i64),
                None => ctx.reply_null(),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON.STRAPPEND, JSON.TOGGLE, JSON.CLEAR, JSON.OBJKEYS

/// `JSON.STRAPPEND key [path] json-string`.
fn json_strappend(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path, suffix) = match args {
        [_, name, suffix] => (*name, legacy_root()?, *suffix),
        [_, name, path, suffix, ..] => (*name, parse_path(path)?, *suffix),
        _ => return Err(Error::WrongArity),
    };
    let suffix = match serde_json::from_str::<Value>(utf8(suffix)?) {
        Ok(Value::String(text)) => text,
        Ok(other) => {
            return Err(Error::coded(
                "WRONGTYPE",
                &format!("wrong type of path value - expected string but found {other}"),
            ));
        }
        Err(error) => return Err(Error::err(error.to_string())),
    };
    let results = edit_matches(ctx, name, &path, "json.strappend", |doc, location| {
        skip_wrong_type(doc.str_append(location, &suffix))
    })?;
    reply_counts(ctx, &path, &results, "not a string")
}

/// The reply of the commands answering one integer per match: an array for `$` paths, the
/// last one for legacy paths (an error naming the rewritten path when none qualified).
fn reply_counts(ctx: &Ctx, path: &Path, results: &[Option<usize>], what: &str) -> Result<()> {
    if path.is_legacy() {
        match results.iter().rev().flatten().next() {
            Some(n) => ctx.reply_integer(*n as i64),
            None => {
                return Err(Error::err(format!(
                    "Path '{}' does not exist or {what}",
                    path.rewritten_text()
                )));
            }
        }
    } else {
        ctx.reply_array(results.len());
        for result in results {
            match result {
                Some(n) => ctx.reply_integer(*n as i64),
                None => ctx.reply_null(),
            }
        }
    }
    Ok(())
}

/// `JSON.TOGGLE key path`.
fn json_toggle(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path, ..] = args else {
        return Err(Error::WrongArity);
    };
    let path = parse_path(path)?;
    let results = edit_matches(ctx, name, &path, "json.toggle", |doc, location| {
        skip_wrong_type(doc.toggle(location))
    })?;
    if path.is_legacy() {
        match results.iter().rev().flatten().next() {
            Some(value) => ctx.reply_bulk(if *value { b"true" } else { b"false" }),
            None => {
                return Err(Error::err(format!(
                    "Path '{}' does not exist or not a bool",
                    path.rewritten_text()
                )));
            }
        }
    } else {
        let counts: Vec<Option<usize>> = results.iter().map(|r| r.map(usize::from)).collect();
        reply_counts(ctx, &path, &counts, "not a bool")?;
    }
    Ok(())
}

/// `JSON.CLEAR key [path]`: the number of containers emptied and numbers zeroed.
fn json_clear(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path) = match args {
        [_, name] => (*name, Path::parse("$").map_err(path_error)?),
        [_, name, path, ..] => (*name, parse_path(path)?),
        _ => return Err(Error::WrongArity),
    };
    let results = edit_matches(ctx, name, &path, "json.clear", |doc, location| {
        Ok(doc.clear(location)?.then_some(()))
    })?;
    ctx.reply_integer(results.iter().flatten().count() as i64);
    Ok(())
}

/// `JSON.OBJKEYS key [path]`.
fn json_objkeys(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path) = match args {
        [_, name] => (*name, legacy_root()?),
        [_, name, path, ..] => (*name, parse_path(path)?),
        _ => return Err(Error::WrongArity),
    };
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        if path.is_legacy() {
            ctx.reply_null();
            return Ok(());
        }
        return Err(Error::err(NO_KEY));
    };
    let doc = &json.0;
    let reply_keys = |keys: &[String]| {
        ctx.reply_array(keys.len());
        for key in keys {
            ctx.reply_bulk(key.as_bytes());
        }
    };
    if path.is_legacy() {
        let Some(value) = path
            .query_first_document(doc)
            .map_err(budget_error)?
            .and_then(|l| doc.value_at(&l))
        else {
            ctx.reply_null();
            return Ok(());
        };
        let keys = value.object_keys().ok_or_else(|| {
            Error::err(format!(
                "Path '{}' does not exist or not an object",
                path.rewritten_text()
            ))
        })?;
        reply_keys(&keys);
    } else {
        let locations = path.query_document(doc).map_err(budget_error)?;
        ctx.reply_array(locations.len());
        for location in &locations {
            match doc.value_at(location).and_then(|v| v.object_keys()) {
                Some(keys) => reply_keys(&keys),
                None => ctx.reply_null(),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON.ARRPOP, JSON.ARRINSERT, JSON.ARRTRIM, JSON.ARRINDEX

fn integer(arg: &RStr) -> Result<i64> {
    utf8(arg)?
        .parse()
        .map_err(|_| Error::err("Couldn't parse as integer"))
}

fn not_an_array(path: &Path) -> Error {
    Error::err(format!(
        "Path '{}' does not exist or not an array",
        path.rewritten_text()
    ))
}

/// `JSON.ARRPOP key [FORMAT STRINGS|EXPAND1|EXPAND] [path [index]]`: the popped values as JSON
/// (an unparsable index is -1); with `FORMAT` (RESP3, JSONPath only; the path defaults to `$`)
/// as JSON text (`STRINGS`), as RESP3 values (`EXPAND`), or scalars as values and the rest as
/// text (`EXPAND1`), as JSON.GET's `FORMAT`.
fn json_arrpop(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    if let [_, name, option, format, rest @ ..] = args
        && is(option, "FORMAT")
    {
        // The value is checked first, then the protocol (RedisJSON's order).
        let format = if is(format, "STRINGS") {
            ReplyFormat::String
        } else if is(format, "EXPAND1") {
            ReplyFormat::Expand1
        } else if is(format, "EXPAND") {
            ReplyFormat::Expand
        } else {
            return Err(Error::err("wrong reply format"));
        };
        if !ctx.is_resp3() {
            return Err(Error::err("FORMAT argument is not supported on RESP2"));
        }
        let mut plain: Vec<&RStr> = vec![args[0], name];
        plain.extend_from_slice(rest);
        return arrpop(ctx, &plain, Some(format));
    }
    arrpop(ctx, args, None)
}

fn arrpop(ctx: &Ctx, args: &[&RStr], format: Option<ReplyFormat>) -> Result<()> {
    let (name, path, index) = match args {
        [_, name] if format.is_some() => (*name, Path::parse("$").map_err(path_error)?, -1),
        [_, name] => (*name, legacy_root()?, -1),
        [_, name, path] => (*name, parse_path(path)?, -1),
        [_, name, path, index, ..] => (
            *name,
            parse_path(path)?,
            utf8(index).ok().and_then(|i| i.parse().ok()).unwrap_or(-1),
        ),
        _ => return Err(Error::WrongArity),
    };
    // Refused before anything is popped.
    if format.is_some() && path.is_legacy() {
        return Err(Error::err(
            "FORMAT needs a JSONPath ($...), not a legacy path",
        ));
    }
    let results = edit_matches_if(
        ctx,
        name,
        &path,
        "json.arrpop",
        |doc, location| skip_wrong_type(doc.arr_pop(location, index)),
        |popped: &Option<String>| popped.is_some(),
    )?;
    if let Some(format) = format {
        ctx.reply_array(results.len());
        for result in &results {
            let Some(Some(popped)) = result else {
                ctx.reply_null();
                continue;
            };
            let value = serde_json::from_str::<Value>(popped).unwrap_or(Value::Null);
            match (format, &value) {
                (ReplyFormat::Expand, _) => reply_expand(ctx, &value),
                (ReplyFormat::Expand1, Value::Bool(_) | Value::Number(_) | Value::Null) => {
                    reply_expand(ctx, &value)
                }
                _ => ctx.reply_bulk(popped.as_bytes()),
            }
        }
        return Ok(());
    }
    if path.is_legacy() {
        match results.iter().rev().flatten().next() {
            Some(Some(popped)) => ctx.reply_bulk(popped.as_bytes()),
            Some(None) => ctx.reply_null(),
            None => return Err(not_an_array(&path)),
        }
    } else {
        ctx.reply_array(results.len());
        for result in &results {
            match result {
                Some(Some(popped)) => ctx.reply_bulk(popped.as_bytes()),
                _ => ctx.reply_null(),
            }
        }
    }
    Ok(())
}

/// `JSON.ARRINSERT key path index value [value ...]`: new lengths.
fn json_arrinsert(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path, index, values @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if values.is_empty() {
        return Err(Error::WrongArity);
    }
    let path = parse_path(path)?;
    let index = integer(index)?;
    let values = values
        .iter()
        .map(|v| parse_value(v))
        .collect::<Result<Vec<_>>>()?;
    let results = edit_matches(ctx, name, &path, "json.arrinsert", |doc, location| {
        skip_wrong_type(doc.arr_insert(location, index, &values))
    })?;
    reply_counts(ctx, &path, &results, "not an array")
}

/// `JSON.ARRTRIM key path start stop`: new lengths.
fn json_arrtrim(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path, start, stop, ..] = args else {
        return Err(Error::WrongArity);
    };
    let path = parse_path(path)?;
    let (start, stop) = (integer(start)?, integer(stop)?);
    let results = edit_matches(ctx, name, &path, "json.arrtrim", |doc, location| {
        skip_wrong_type(doc.arr_trim(location, start, stop))
    })?;
    reply_counts(ctx, &path, &results, "not an array")
}

/// The first index of `wanted` in `array[start..stop)` (RedisJSON's rules: negatives from the
/// end, a too-negative start is 0, stop 0 means the end); -1 if absent.
fn array_index(
    array: &jsondoc::ValueRef<'_>,
    wanted: &jsondoc::ValueRef<'_>,
    start: i64,
    stop: i64,
) -> Option<i64> {
    let items = array.elements()?;
    let length = items.len() as i64;
    let start = if start < 0 { length + start } else { start }.max(0);
    let stop = if stop == 0 {
        length
    } else if stop < 0 {
        length + stop
    } else {
        stop.min(length)
    };
    Some(
        (start..stop.max(start))
            .find(|&i| items[i as usize].json_eq(wanted))
            .unwrap_or(-1),
    )
}

/// `JSON.ARRINDEX key path value [start [stop]]`.
fn json_arrindex(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path_arg, value, range @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if range.len() > 2 {
        return Err(Error::WrongArity);
    }
    let path = parse_path(path_arg)?;
    let wanted = Document::from_json(utf8(value)?.as_bytes()).map_err(json_error)?;
    let start = range.first().map(|a| integer(a)).transpose()?.unwrap_or(0);
    let stop = range.get(1).map(|a| integer(a)).transpose()?.unwrap_or(0);
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        return Err(Error::err(format!(
            "Path '{}' does not exist",
            utf8(path_arg)?
        )));
    };
    let doc = &json.0;
    let wanted = wanted.root_ref();
    if path.is_legacy() {
        let value = path
            .query_first_document(doc)
            .map_err(budget_error)?
            .and_then(|l| doc.value_at(&l))
            .ok_or_else(|| {
                Error::err(format!("Path '{}' does not exist", path.rewritten_text()))
            })?;
        let found = array_index(&value, &wanted, start, stop).ok_or_else(|| {
            json_error(JsonError::WrongType {
                expected: jsondoc::JsonType::Array,
                found: value.json_type(),
            })
        })?;
        ctx.reply_integer(found);
    } else {
        let locations = path.query_document(doc).map_err(budget_error)?;
        ctx.reply_array(locations.len());
        for location in &locations {
            match doc
                .value_at(location)
                .and_then(|v| array_index(&v, &wanted, start, stop))
            {
                Some(found) => ctx.reply_integer(found),
                None => ctx.reply_null(),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JSON.MGET, JSON.MSET, JSON.MERGE, JSON.NUMPOWBY

/// `JSON.MGET key [key ...] path`: one entry per key (nil for a missing key, a key of another
/// type, a legacy path that matches nothing, or a bad path).
fn json_mget(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, names @ .., path] = args else {
        return Err(Error::WrongArity);
    };
    if names.is_empty() {
        return Err(Error::WrongArity);
    }
    let path = parse_path(path).ok();
    ctx.reply_array(names.len());
    for name in names {
        let key = ctx.open_key(name);
        let (Some(path), Ok(Some(json))) = (&path, key.value::<Json>()) else {
            ctx.reply_null();
            continue;
        };
        let doc = &json.0;
        let value = match select(doc, path, path.rewritten_text()) {
            Ok(Selected::All(values)) => Value::Array(values),
            Ok(Selected::First(value)) => value,
            Err(_) => {
                ctx.reply_null();
                continue;
            }
        };
        ctx.reply_bulk(Document::from_value(&value).to_compact_string().as_bytes());
    }
    Ok(())
}

/// `JSON.MSET key path value [key path value ...]`: every triplet applied in order, all or
/// nothing across keys (the new documents are built first, then stored).
fn json_mset(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let triplets = &args[1..];
    if triplets.is_empty() || !triplets.len().is_multiple_of(3) {
        return Err(Error::WrongArity);
    }
    let parsed = triplets
        .chunks(3)
        .map(|t| Ok((t[0], parse_path(t[1])?, parse_value(t[2])?)))
        .collect::<Result<Vec<_>>>()?;
    // (key, its document as edited so far, whether it changed)
    let mut work: Vec<(&RStr, Option<Document>, bool)> = Vec::new();
    for (name, path, value) in &parsed {
        let slot = match work
            .iter()
            .position(|(n, _, _)| n.as_bytes() == name.as_bytes())
        {
            Some(slot) => slot,
            None => {
                let key = ctx.open_key(name);
                let doc = key.value::<Json>()?.map(|json| json.0.clone());
                work.push((name, doc, false));
                work.len() - 1
            }
        };
        let (_, doc, changed) = &mut work[slot];
        match doc {
            None if !path.is_root() => {
                return Err(Error::err("new objects must be created at the root"));
            }
            None => {
                *doc = Some(value.clone());
                *changed = true;
            }
            Some(doc) => *changed |= set_at(doc, path, value, false, false)?,
        }
    }
    let mut written = Vec::new();
    for (name, doc, changed) in work {
        let (Some(doc), true) = (doc, changed) else {
            continue;
        };
        let mut key = ctx.open_key_writable(name);
        if key.value::<Json>()?.is_some() {
            let mut json = key.value_mut::<Json>()?.ok_or(Error::WrongType)?;
            json.0 = doc;
        } else {
            key.set_value(Json(doc))?;
        }
        written.push(name);
    }
    // Replicated before anything that can fail, and the reply last: an error then is the
    // only reply, and never leaves a write unreplicated.
    if !written.is_empty() {
        ctx.replicate_verbatim();
    }
    for name in written {
        notify(ctx, "json.mset", name)?;
    }
    ctx.reply_ok();
    Ok(())
}

/// `patch` applied to nothing: what MERGE stores where no value was (nulls removed).
fn merged_into_nothing(patch: &Value) -> Document {
    let mut value = Value::Null;
    jsondoc::merge_patch(&mut value, patch);
    Document::from_value(&value)
}

/// `JSON.MERGE key path value`: RFC 7386 merge patch at every match.
fn json_merge(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path, patch, ..] = args else {
        return Err(Error::WrongArity);
    };
    let path = parse_path(path)?;
    let patch = parse_value(patch)?;
    let mut key = ctx.open_key_writable(name);
    let changed = if key.value::<Json>()?.is_none() {
        if !path.is_root() {
            return Err(Error::err("new objects must be created at the root"));
        }
        key.set_value(Json(merged_into_nothing(&patch.to_value())))?;
        true
    } else {
        {
            let mut json = key.value_mut::<Json>()?.ok_or(Error::WrongType)?;
            let locations = path.query_document(&json.0).map_err(budget_error)?;
            if locations.is_empty() {
                let value = merged_into_nothing(&patch.to_value());
                set_at(&mut json.0, &path, &value, false, false)?
            } else {
                json.0
                    .transaction(|doc| {
                        deepest_first(&locations)
                            .into_iter()
                            .try_for_each(|i| doc.merge(&locations[i], &patch))
                    })
                    .map_err(json_error)?;
                true
            }
        }
    };
    if changed {
        ctx.replicate_verbatim();
        notify(ctx, "json.merge", name)?;
        ctx.reply_ok();
    } else {
        ctx.reply_null();
    }
    Ok(())
}

/// `JSON.NUMPOWBY key path number` (deprecated in RedisJSON, still registered).
fn json_numpowby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    num(ctx, args, jsondoc::NumOp::Pow, "json.numpowby")
}

// ---------------------------------------------------------------------------------------------
// RESP3 reply shapes

/// A number as RedisJSON replies it: an integer if it fits i64, else a double (RESP3 double,
/// RESP2 bulk text formatted by the server).
fn reply_number(ctx: &Ctx, number: &serde_json::Number) {
    match number.as_i64() {
        Some(integer) => ctx.reply_integer(integer),
        None => ctx.reply_double(number.as_f64().unwrap_or(f64::NAN)),
    }
}

/// JSON.GET's `FORMAT` (RESP3 only).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReplyFormat {
    /// JSON text, as under RESP2.
    String,
    /// Scalars as RESP3 values, strings and containers as JSON text.
    Expand1,
    /// Everything as RESP3 values: maps, arrays, booleans, doubles.
    Expand,
}

impl ReplyFormat {
    /// `FORMAT value`; RedisJSON refuses the option under RESP2.
    fn parse(ctx: &Ctx, value: Option<&&RStr>) -> Result<ReplyFormat> {
        if !ctx.is_resp3() {
            return Err(Error::err("FORMAT argument is not supported on RESP2"));
        }
        match value {
            None => Err(Error::WrongArity),
            Some(value) if is(value, "STRING") => Ok(ReplyFormat::String),
            Some(value) if is(value, "EXPAND1") => Ok(ReplyFormat::Expand1),
            Some(value) if is(value, "EXPAND") => Ok(ReplyFormat::Expand),
            Some(_) => Err(Error::err("wrong reply format")),
        }
    }
}

/// JSON.GET with `FORMAT EXPAND`/`EXPAND1`: every match of each path (the root if none),
/// legacy paths included, as RedisJSON does.
fn expanded_matches(doc: &Document, paths: &[Path]) -> Result<Vec<Vec<Value>>> {
    let root = [legacy_root()?];
    let paths = if paths.is_empty() { &root[..] } else { paths };
    let whole = doc.to_value();
    paths
        .iter()
        .map(|path| {
            let locations = path.query(&whole).map_err(budget_error)?;
            Ok(locations
                .iter()
                .map(|location| {
                    doc.value_at(location)
                        .map(|v| v.to_value())
                        .unwrap_or(Value::Null)
                })
                .collect())
        })
        .collect()
}

/// Sends [`expanded_matches`]: one array per path.
fn reply_expanded(ctx: &Ctx, matches: &[Vec<Value>], format: &Format, reply_format: ReplyFormat) {
    ctx.reply_array(matches.len());
    for values in matches {
        ctx.reply_array(values.len());
        for value in values {
            match (reply_format, value) {
                (ReplyFormat::Expand, _) => reply_expand(ctx, value),
                (_, Value::String(_) | Value::Array(_) | Value::Object(_)) => {
                    let mut out = Vec::new();
                    format.write(&Document::from_value(value), &mut out);
                    ctx.reply_bulk(&out);
                }
                _ => reply_expand(ctx, value),
            }
        }
    }
}

/// One JSON value as RESP3 data: objects as maps, booleans as booleans, null as null.
fn reply_expand(ctx: &Ctx, value: &Value) {
    match value {
        Value::Null => ctx.reply_null(),
        Value::Bool(flag) => ctx.reply_bool(*flag),
        Value::Number(number) => reply_number(ctx, number),
        Value::String(text) => ctx.reply_bulk(text.as_bytes()),
        Value::Array(items) => {
            ctx.reply_array(items.len());
            for item in items {
                reply_expand(ctx, item);
            }
        }
        Value::Object(members) => {
            ctx.reply_map(members.len());
            for (name, member) in members {
                ctx.reply_bulk(name.as_bytes());
                reply_expand(ctx, member);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.RESP, JSON.DEBUG

/// One JSON value as RedisJSON's RESP form: `+[` / `+{` headed arrays, `+true`/`+false`,
/// integers, doubles (formatted by the server), bulk strings, nil.
fn reply_resp(ctx: &Ctx, value: &Value) {
    match value {
        Value::Null => ctx.reply_null(),
        Value::Bool(true) => ctx.reply_simple(c"true"),
        Value::Bool(false) => ctx.reply_simple(c"false"),
        Value::Number(number) => reply_number(ctx, number),
        Value::String(text) => ctx.reply_bulk(text.as_bytes()),
        Value::Array(items) => {
            ctx.reply_array(items.len() + 1);
            ctx.reply_simple(c"[");
            for item in items {
                reply_resp(ctx, item);
            }
        }
        Value::Object(members) => {
            ctx.reply_array(2 * members.len() + 1);
            ctx.reply_simple(c"{");
            for (name, member) in members {
                ctx.reply_bulk(name.as_bytes());
                reply_resp(ctx, member);
            }
        }
    }
}

/// `JSON.RESP key [path]`: the value(s) as RESP structures (further paths are ignored).
fn json_resp(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path) = match args {
        [_, name] => (*name, legacy_root()?),
        [_, name, path, ..] => (*name, parse_path(path)?),
        _ => return Err(Error::WrongArity),
    };
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        ctx.reply_null();
        return Ok(());
    };
    match select(&json.0, &path, path.rewritten_text())? {
        Selected::First(value) => reply_resp(ctx, &value),
        Selected::All(values) => {
            ctx.reply_array(values.len());
            for value in &values {
                reply_resp(ctx, value);
            }
        }
    }
    Ok(())
}

/// `JSON.DEBUG MEMORY key [path]` (bytes of the value(s) in this module's representation),
/// `JSON.DEBUG DEFRAG_INFO` (active defrag counters, RedisJSON's fields) or `JSON.DEBUG HELP`.
fn json_debug(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, sub, rest @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if is(sub, "HELP") {
        ctx.reply_array(2);
        ctx.reply_bulk(b"MEMORY <key> [path] - reports memory usage");
        ctx.reply_bulk(b"HELP                - this message");
        return Ok(());
    }
    if is(sub, "DEFRAG_INFO") {
        // RedisJSON's fields. Passes started/ended need Redis 8's start/end callbacks, which
        // this module does not register: always 0 (RedisJSON's tests read only keys_defrag).
        ctx.reply_map(3);
        for (field, n) in [
            (&b"defrag_started"[..], 0),
            (b"defrag_ended", 0),
            (b"keys_defrag", KEYS_DEFRAGGED.load(Ordering::Relaxed)),
        ] {
            ctx.reply_bulk(field);
            ctx.reply_integer(n as i64);
        }
        return Ok(());
    }
    if !is(sub, "MEMORY") {
        return Err(Error::err("unknown subcommand - try `JSON.DEBUG HELP`"));
    }
    let (name, path) = match rest {
        [name] => (*name, legacy_root()?),
        [name, path, ..] => (*name, parse_path(path)?),
        [] => return Err(Error::WrongArity),
    };
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        if path.is_legacy() {
            ctx.reply_integer(0);
        } else {
            ctx.reply_array(0);
        }
        return Ok(());
    };
    let doc = &json.0;
    if path.is_legacy() {
        let value = path
            .query_first_document(doc)
            .map_err(budget_error)?
            .and_then(|l| doc.value_at(&l))
            .ok_or_else(|| {
                Error::err(format!("Path '{}' does not exist", path.rewritten_text()))
            })?;
        ctx.reply_integer(value.memory_usage() as i64);
    } else {
        let locations = path.query_document(doc).map_err(budget_error)?;
        ctx.reply_array(locations.len());
        for location in &locations {
            let bytes = doc.value_at(location).map_or(0, |v| v.memory_usage());
            ctx.reply_integer(bytes as i64);
        }
    }
    Ok(())
}

/// The metadata every command shares: flags, key position (1,1,1) and how the key is used
/// (key-spec flags as core commands of the same kind have them: a read that returns data is
/// `RO ACCESS`, a length `RO`, an append `RW INSERT`, a pop `RW ACCESS DELETE`), docs.
fn describe(
    command: Command,
    flags: &'static str,
    key_flags: &'static str,
    usage: &'static str,
    summary: &'static str,
) -> Command {
    command
        .usage(usage)
        .summary(summary)
        .since("0.1.0")
        .flags(flags)
        .keys(1, 1, 1)
        .key_flags(key_flags)
        .arity(-2)
}

fn module() -> Module {
    const WRITE: &str = "write deny-oom";
    const READ: &str = "readonly";
    Module::new("json", 1)
        .command(describe(
            Command::new("json.set", json_set),
            WRITE,
            "RW UPDATE",
            "JSON.SET key value | JSON.SET key path value [NX | XX] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
            "Sets a whole JSON document, or the value(s) at a path",
        ))
        .command(describe(
            Command::new("json.get", json_get),
            READ,
            "RO ACCESS",
            "JSON.GET key [PRETTY] | JSON.GET key [INDENT indent] [NEWLINE newline] [SPACE space] [path [path ...]]",
            "Returns a JSON document or the values at paths",
        ))
        .command(describe(
            Command::new("json.getex", json_getex),
            // A write: it changes the key's expiry (GETEX's flags).
            "write",
            "RW ACCESS UPDATE",
            "JSON.GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST] [INDENT indent] [NEWLINE newline] [SPACE space] [path [path ...]]",
            "Returns the values at paths, like JSON.GET, and sets or removes the key's expiry",
        ))
        .command(describe(
            Command::new("json.path", json_path),
            READ,
            "RO ACCESS",
            "JSON.PATH key path [PRETTY]",
            "Returns the value(s) at a path",
        ))
        .command(describe(
            Command::new("json.fmt", json_fmt),
            READ,
            "RO ACCESS",
            "JSON.FMT key template",
            "Fills a template's {{path}} placeholders from a JSON document",
        ))
        .command(describe(
            Command::new("json.del", json_del),
            "write",
            "RW DELETE",
            "JSON.DEL key [path]",
            "Deletes the values at a path (the key for the root)",
        ))
        .command(describe(
            Command::new("json.forget", json_del),
            "write",
            "RW DELETE",
            "JSON.FORGET key [path]",
            "Deletes the values at a path (alias of JSON.DEL)",
        ))
        .command(describe(
            Command::new("json.type", json_type),
            READ,
            "RO",
            "JSON.TYPE key [path]",
            "Returns the JSON type of the value(s) at a path",
        ))
        .command(describe(
            Command::new("json.strlen", json_strlen),
            READ,
            "RO",
            "JSON.STRLEN key [path]",
            "Returns the byte length of the string(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrlen", json_arrlen),
            READ,
            "RO",
            "JSON.ARRLEN key [path]",
            "Returns the length of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.objlen", json_objlen),
            READ,
            "RO",
            "JSON.OBJLEN key [path]",
            "Returns the number of members of the object(s) at a path",
        ))
        .command(describe(
            Command::new("json.numincrby", json_numincrby),
            "write",
            "RW ACCESS UPDATE",
            "JSON.NUMINCRBY key path number",
            "Adds a number to the number(s) at a path",
        ))
        .command(describe(
            Command::new("json.nummultby", json_nummultby),
            "write",
            "RW ACCESS UPDATE",
            "JSON.NUMMULTBY key path number",
            "Multiplies the number(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrappend", json_arrappend),
            WRITE,
            "RW INSERT",
            "JSON.ARRAPPEND key path value [value ...]",
            "Appends values to the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.strappend", json_strappend),
            WRITE,
            "RW INSERT",
            "JSON.STRAPPEND key [path] json-string",
            "Appends a string to the string(s) at a path",
        ))
        .command(describe(
            Command::new("json.toggle", json_toggle),
            WRITE,
            "RW ACCESS UPDATE",
            "JSON.TOGGLE key path",
            "Flips the boolean(s) at a path",
        ))
        .command(describe(
            Command::new("json.clear", json_clear),
            "write",
            "RW UPDATE",
            "JSON.CLEAR key [path]",
            "Empties the containers and zeroes the numbers at a path",
        ))
        .command(describe(
            Command::new("json.objkeys", json_objkeys),
            READ,
            "RO ACCESS",
            "JSON.OBJKEYS key [path]",
            "Returns the member names of the object(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrpop", json_arrpop),
            "write",
            "RW ACCESS DELETE",
            "JSON.ARRPOP key [FORMAT <STRINGS | EXPAND1 | EXPAND>] [path [index]]",
            "Removes and returns an element of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrinsert", json_arrinsert),
            WRITE,
            "RW INSERT",
            "JSON.ARRINSERT key path index value [value ...]",
            "Inserts values before an index of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrtrim", json_arrtrim),
            "write",
            "RW DELETE",
            "JSON.ARRTRIM key path start stop",
            "Keeps only the elements start..=stop of the array(s) at a path",
        ))
        .command(describe(
            Command::new("json.arrindex", json_arrindex),
            READ,
            "RO",
            "JSON.ARRINDEX key path value [start [stop]]",
            "Returns the first index of a value in the array(s) at a path",
        ))
        .command(
            describe(
                Command::new("json.mget", json_mget),
                READ,
                "RO ACCESS",
                "JSON.MGET key [key ...] path",
                "Returns the value(s) at a path in several keys",
            )
            .keys(1, -2, 1)
            .arity(-3),
        )
        .command(
            describe(
                Command::new("json.mset", json_mset),
                WRITE,
                "RW UPDATE",
                "JSON.MSET key path value [key path value ...]",
                "Sets values at paths in several keys, all or nothing",
            )
            .keys(1, -1, 3)
            .arity(-4),
        )
        .command(describe(
            Command::new("json.merge", json_merge),
            WRITE,
            "RW UPDATE",
            "JSON.MERGE key path value",
            "Merges a JSON value into the value(s) at a path (RFC 7386)",
        ))
        .command(describe(
            Command::new("json.numpowby", json_numpowby),
            "write",
            "RW ACCESS UPDATE",
            "JSON.NUMPOWBY key path number",
            "Raises the number(s) at a path to a power",
        ))
        .command(describe(
            Command::new("json.resp", json_resp),
            READ,
            "RO ACCESS",
            "JSON.RESP key [path]",
            "Returns the value(s) at a path as RESP structures",
        ))
        .command(
            describe(
                Command::new("json.debug", json_debug),
                READ,
                "RO",
                "JSON.DEBUG MEMORY key [path] | JSON.DEBUG HELP",
                "Reports the memory used by JSON values",
            )
            .keys(2, 2, 1),
        )
        .on_load(|ctx, _args| ctx.create_data_type::<Json>())
        .on_load(register_limits)
}

/// `json.path-budget`: the JSON nodes one path evaluation may visit and return (each result
/// counts its whole value); `ERR the path would visit or return more than …` past it.
static PATH_BUDGET: NumericConfig = NumericConfig::new(
    "path-budget",
    jsondoc::path::budget::DEFAULT_NODES as i64,
    1_000,
    i64::MAX,
)
.apply(apply_limits);

/// `json.path-max-bytes`: the bytes the results of one path evaluation may hold.
static PATH_MAX_BYTES: NumericConfig = NumericConfig::new(
    "path-max-bytes",
    jsondoc::path::budget::DEFAULT_BYTES as i64,
    1_024,
    i64::MAX,
)
.memory()
.apply(apply_limits);

fn apply_limits(_ctx: &Ctx) -> Result<()> {
    jsondoc::path::budget::set_limits(
        PATH_BUDGET.get().unsigned_abs(),
        PATH_MAX_BYTES.get().unsigned_abs(),
    );
    Ok(())
}

/// `json.path-dialect redisjson|rfc9535`: how `$` paths are read. `redisjson` (the default: a
/// user replacing RedisJSON keeps every path their application sends) also accepts RedisJSON's
/// spellings (`$.[1]`, `$.2.3`, `$.a-b`, `$.$a`, `@.["k"]`); `rfc9535` is the standard alone.
static PATH_DIALECT: EnumConfig =
    EnumConfig::new("path-dialect", 0, &[("redisjson", 0), ("rfc9535", 1)]);

/// The dialect `json.path-dialect` selects.
fn dialect() -> Dialect {
    if PATH_DIALECT.get() == 1 {
        Dialect::Rfc9535
    } else {
        Dialect::RedisJson
    }
}

fn register_limits(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.register_config(&PATH_BUDGET)?;
    ctx.register_config(&PATH_MAX_BYTES)?;
    ctx.register_config(&PATH_DIALECT)?;
    apply_limits(ctx)
}

rm::module!(module);
// Documents live on the heap: allocate through the server so they count in `used_memory`.
rm::server_allocator!();

#[cfg(test)]
mod definition {
    /// Usage lines and key flags as the load checks them (a bad one would refuse the load).
    #[test]
    fn is_valid() {
        super::module().check().unwrap();
    }
}
