//! RESP3 reply shapes: numbers as RedisJSON types them, JSON.GET's `FORMAT EXPAND`/`EXPAND1`.

use crate::args::{budget_error, is, legacy_root};
use crate::format::Format;
use jsondoc::Document;
use jsondoc::path::Path;
use rm::{Ctx, Error, RStr, Result};
use serde_json::Value;

/// A number as RedisJSON replies it: an integer if it fits i64, else a double (RESP3 double,
/// RESP2 bulk text formatted by the server).
pub(crate) fn reply_number(ctx: &Ctx, number: &serde_json::Number) {
    match number.as_i64() {
        Some(integer) => ctx.reply_integer(integer),
        None => ctx.reply_double(number.as_f64().unwrap_or(f64::NAN)),
    }
}

/// JSON.GET's `FORMAT` (RESP3 only).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyFormat {
    /// JSON text, as under RESP2.
    String,
    /// Scalars as RESP3 values, strings and containers as JSON text.
    Expand1,
    /// Everything as RESP3 values: maps, arrays, booleans, doubles.
    Expand,
}

impl ReplyFormat {
    /// `FORMAT value`; RedisJSON refuses the option under RESP2.
    pub(crate) fn parse(ctx: &Ctx, value: Option<&&RStr>) -> Result<ReplyFormat> {
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
pub(crate) fn expanded_matches(doc: &Document, paths: &[Path]) -> Result<Vec<Vec<Value>>> {
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
pub(crate) fn reply_expanded(
    ctx: &Ctx,
    matches: &[Vec<Value>],
    format: &Format,
    reply_format: ReplyFormat,
) {
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
pub(crate) fn reply_expand(ctx: &Ctx, value: &Value) {
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
