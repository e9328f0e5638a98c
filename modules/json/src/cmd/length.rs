//! The length commands: JSON.STRLEN, JSON.ARRLEN, JSON.OBJLEN.

use super::NO_KEY;
use crate::args::{budget_error, json_error, legacy_root, parse_path, utf8};
use crate::datatype::Json;
use jsondoc::JsonError;
use rm::{Ctx, Error, RStr, Result};

/// How one of the length commands behaves where RedisJSON's three differ.
struct Length {
    /// The type it measures.
    expected: jsondoc::JsonType,
    /// Its length, if `value` has the expected type.
    measure: fn(&jsondoc::ValueRef<'_>) -> Option<usize>,
    /// The error for a `$` path on a missing key.
    missing_key_dollar: &'static str,
}

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
pub(crate) fn json_strlen(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let how = Length {
        expected: jsondoc::JsonType::String,
        measure: |v| v.str_len(),
        missing_key_dollar: NO_KEY,
    };
    length(ctx, args, &how)
}

/// `JSON.ARRLEN key [path]`.
pub(crate) fn json_arrlen(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let how = Length {
        expected: jsondoc::JsonType::Array,
        measure: |v| v.array_len(),
        missing_key_dollar: NO_KEY,
    };
    length(ctx, args, &how)
}

/// `JSON.OBJLEN key [path]`.
pub(crate) fn json_objlen(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let how = Length {
        expected: jsondoc::JsonType::Object,
        measure: |v| v.object_len(),
        missing_key_dollar: "Path '$' does not exist or not an object",
    };
    length(ctx, args, &how)
}
