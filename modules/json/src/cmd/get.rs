//! Reads: JSON.GET, JSON.GETEX, JSON.MGET, JSON.RESP, json.path, json.fmt.

use crate::args::{budget_error, is, legacy_root, parse_path, parse_path_cached, path_error, utf8};
use crate::config::dialect;
use crate::datatype::Json;
use crate::expiry::{ExpiryChange, take_expiry};
use crate::format::Format;
use crate::resp3::{ReplyFormat, expanded_matches, reply_expanded, reply_number};
use jsondoc::Document;
use jsondoc::path::Path;
use rm::{Ctx, Error, NotifyFlags, RStr, Result};
use serde_json::Value;

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

/// JSON.GET's reply for one path that is a simple chain (`$.a.b[1]`, `.a.b[1]`), compact: the
/// stored text of the match (no `Value`), `[…]` around it for a `$` path, `ERR Path '…' does
/// not exist` for a legacy path that finds nothing.
fn write_simple_match(doc: &Document, path: &Path, out: &mut Vec<u8>) -> Result<()> {
    let found = path.as_simple().and_then(|steps| doc.find(steps));
    out.reserve(found.map_or(0, |value| value.compact_len_hint()) + 2);
    match (found, path.is_legacy()) {
        (Some(value), true) => value.write_compact(out),
        (None, true) => {
            let shown = path.rewritten_text();
            return Err(Error::err(format!("Path '{shown}' does not exist")));
        }
        (found, false) => {
            out.push(b'[');
            if let Some(value) = found {
                value.write_compact(out);
            }
            out.push(b']');
        }
    }
    Ok(())
}

/// [`write_simple_match`] sent as the reply, without a heap buffer when the match is stored as
/// text: a legacy path's match is sent from where it lies, a `$` path's small one is bracketed
/// in a stack buffer.
fn reply_simple_match(ctx: &Ctx, doc: &Document, path: &Path) -> Result<()> {
    /// Matches up to this long are bracketed on the stack (names, numbers, small values); the
    /// buffer is small enough to be zeroed in a few stores.
    const STACK: usize = 64;
    let found = path.as_simple().and_then(|steps| doc.find(steps));
    match (
        found.and_then(|value| value.compact_text()),
        path.is_legacy(),
    ) {
        (Some(text), true) => ctx.reply_bulk(text.as_bytes()),
        (Some(text), false) if text.len() + 2 <= STACK => {
            let mut buffer = [0u8; STACK];
            buffer[0] = b'[';
            buffer[1..=text.len()].copy_from_slice(text.as_bytes());
            buffer[text.len() + 1] = b']';
            ctx.reply_bulk(&buffer[..text.len() + 2]);
        }
        _ => {
            let mut out = Vec::new();
            write_simple_match(doc, path, &mut out)?;
            ctx.reply_bulk(&out);
        }
    }
    Ok(())
}

/// The words JSON.GET reads as options rather than paths.
const GET_OPTIONS: [&str; 6] = ["PRETTY", "INDENT", "NEWLINE", "SPACE", "FORMAT", "NOESCAPE"];

/// Whether `arg` is one of [`GET_OPTIONS`] (its bytes fetched once, not once per word).
fn is_get_option(arg: &[u8]) -> bool {
    GET_OPTIONS
        .iter()
        .any(|word| arg.eq_ignore_ascii_case(word.as_bytes()))
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
                write_simple_match(doc, path, &mut out)?;
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
pub(crate) fn json_get(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, rest @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if rest.is_empty() {
        // The common read, `JSON.GET key`: the stored text is the reply, sent from where it
        // lies (no request to build, no copy for a document kept as one blob).
        let key = ctx.open_key(name);
        match key.value::<Json>()? {
            Some(json) => match json.0.compact_text() {
                Some(text) => ctx.reply_bulk(text.as_bytes()),
                None => {
                    let mut out = Vec::new();
                    json.0.to_compact(&mut out);
                    ctx.reply_bulk(&out);
                }
            },
            None => ctx.reply_null(),
        }
        return Ok(());
    }
    // The other common read, one simple path (`$.a.b[1]`): answered without building a
    // request (same errors, in the same order: the path is read before the key).
    if let [only] = rest
        && !is_get_option(only.as_bytes())
    {
        let path = parse_path_cached(only)?;
        if path.as_simple().is_none() {
            let request = GetRequest {
                format: Format::COMPACT,
                reply_format: ReplyFormat::String,
                texts: vec![*only],
                paths: vec![Path::clone(&path)],
            };
            return answer_get(ctx, name, &request);
        }
        let key = ctx.open_key(name);
        let Some(json) = key.value::<Json>()? else {
            ctx.reply_null();
            return Ok(());
        };
        return reply_simple_match(ctx, &json.0, &path);
    }
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
    answer_get(ctx, name, &request)
}

/// JSON.GET's reply to `request` for the key `name` (nil for a missing key).
fn answer_get(ctx: &Ctx, name: &RStr, request: &GetRequest) -> Result<()> {
    let key = ctx.open_key(name);
    let Some(json) = key.value::<Json>()? else {
        ctx.reply_null();
        return Ok(());
    };
    request.answer(&json.0)?.send(ctx, request);
    Ok(())
}

/// `JSON.GETEX key [EX s|PX ms|EXAT unix-s|PXAT unix-ms|PERSIST] [INDENT s] [NEWLINE s]
/// [SPACE s] [FORMAT f] [path ...]`: JSON.GET's reply, then the key's expiry changed as
/// GETEX changes it. Replicated as its effect, as GETEX is: `PEXPIREAT key unix-ms`,
/// `PERSIST key` (only if an expiry was removed), `DEL key` (a time already past deletes the
/// key); nothing without an option.
pub(crate) fn json_getex(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
            ctx.replicate("DEL", [name])?;
        }
        ExpiryChange::At(at) => {
            key.set_abs_expire(Some(at))?;
            ctx.notify_keyspace_event(NotifyFlags::GENERIC, "expire", name)?;
            ctx.replicate("PEXPIREAT", (name, at))?;
        }
        ExpiryChange::Persist => {
            if key.expire().is_some() {
                key.set_expire(None)?;
                ctx.notify_keyspace_event(NotifyFlags::GENERIC, "persist", name)?;
                ctx.replicate("PERSIST", [name])?;
            }
        }
    }
    answer.send(ctx, &request);
    Ok(())
}

/// `json.path key PATH [PRETTY]`: the value(s) at PATH.
pub(crate) fn json_path(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_fmt(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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

/// `JSON.MGET key [key ...] path`: one entry per key (nil for a missing key, a key of another
/// type, a legacy path that matches nothing, or a bad path).
pub(crate) fn json_mget(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_resp(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
