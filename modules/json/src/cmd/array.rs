//! Arrays: JSON.ARRAPPEND, JSON.ARRPOP, JSON.ARRINSERT, JSON.ARRTRIM, JSON.ARRINDEX (JSON.ARRLEN
//! is with the other lengths).

use super::edit::{edit_matches, edit_matches_at, edit_matches_if, reply_counts, skip_wrong_type};
use crate::args::{
    budget_error, integer, is, json_error, legacy_root, parse_path, parse_path_cached, parse_value,
    path_error, utf8,
};
use crate::datatype::Json;
use crate::resp3::{ReplyFormat, reply_expand};
use jsondoc::path::Path;
use jsondoc::{Document, JsonError};
use rm::{Ctx, Error, RStr, Result};
use serde_json::Value;

/// `JSON.ARRAPPEND key path value [value ...]`.
pub(crate) fn json_arrappend(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, path_arg, values @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if values.is_empty() {
        return Err(Error::WrongArity);
    }
    let path = parse_path_cached(path_arg)?;
    let values = values
        .iter()
        .map(|v| parse_value(v))
        .collect::<Result<Vec<_>>>()?;
    let results = edit_matches_at(ctx, name, &path, "json.arrappend", |doc, at| {
        skip_wrong_type(doc.arr_append(at, &values))
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
pub(crate) fn json_arrpop(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_arrinsert(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_arrtrim(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_arrindex(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
