//! Single values by type: JSON.TYPE, JSON.STRAPPEND, JSON.TOGGLE, JSON.CLEAR, JSON.OBJKEYS.

use super::NO_KEY;
use super::edit::{edit_matches, reply_counts, skip_wrong_type};
use crate::args::{budget_error, legacy_root, parse_path, path_error, utf8};
use crate::datatype::Json;
use jsondoc::Location;
use jsondoc::path::Path;
use rm::{Ctx, Error, RStr, Result};
use serde_json::Value;

/// `JSON.TYPE key [path]`.
pub(crate) fn json_type(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path) = match args {
        [_, name] => (*name, None),
        [_, name, path, ..] => (*name, Some(parse_path(path)?)),
        _ => return Err(Error::WrongArity),
    };
    let key = ctx.open_key(name);
    let json = key.value::<Json>()?;
    // The answer first (a path past the budget is an error), then the reply: an error after
    // the RESP3 wrapper array began could not be sent.
    enum Types {
        Missing,
        One(Option<&'static str>),
        All(Vec<&'static str>),
    }
    let types = match (&json, &path) {
        (None, _) => Types::Missing,
        (Some(json), None) => Types::One(Some(json.0.root_ref().json_type().name())),
        (Some(json), Some(path)) => {
            let doc = &json.0;
            let type_of = |l: &Location| doc.value_at(l).map(|v| v.json_type().name());
            if path.is_legacy() {
                Types::One(
                    path.query_first_document(doc)
                        .map_err(budget_error)?
                        .as_ref()
                        .and_then(type_of),
                )
            } else {
                Types::All(
                    path.query_document(doc)
                        .map_err(budget_error)?
                        .iter()
                        .filter_map(type_of)
                        .collect(),
                )
            }
        }
    };
    if ctx.is_resp3() {
        // RedisJSON's RESP3 JSON.TYPE: the RESP2 reply inside one more array.
        ctx.reply_array(1);
    }
    match types {
        Types::Missing | Types::One(None) => ctx.reply_null(),
        Types::One(Some(name)) => ctx.reply_bulk(name.as_bytes()),
        Types::All(names) => {
            ctx.reply_array(names.len());
            for name in names {
                ctx.reply_bulk(name.as_bytes());
            }
        }
    }
    Ok(())
}

/// `JSON.STRAPPEND key [path] json-string`.
pub(crate) fn json_strappend(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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

/// `JSON.TOGGLE key path`.
pub(crate) fn json_toggle(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_clear(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_objkeys(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
