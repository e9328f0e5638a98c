//! Writes of values: JSON.SET, JSON.MSET, JSON.MERGE.

use super::edit::deepest_first;
use super::notify;
use crate::args::{budget_error, is, json_error, parse_path, parse_value};
use crate::datatype::Json;
use crate::expiry::{ExpiryChange, take_expiry};
use jsondoc::path::{Path, Step};
use jsondoc::{Document, JsonError, Segment};
use rm::{Ctx, Error, NotifyFlags, RStr, Result};
use serde_json::Value;

/// `JSON.SET key VALUE` (whole document) or
/// `JSON.SET key path value [NX|XX] [EX s|PX ms|EXAT unix-s|PXAT unix-ms|KEEPTTL]`.
///
/// Without an expiry option the key keeps its expiry, as RedisJSON always did (`KEEPTTL` says
/// so explicitly). With one, the write sets the key's expiry, whatever the path; a write that
/// NX/XX or a missing parent refuses changes nothing, the expiry included.
pub(crate) fn json_set(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let (name, path_arg, value_arg, rest) = match args {
        [_, name, value] => (*name, None, *value, &[][..]),
        [_, name, path, value, rest @ ..] => (*name, Some(*path), *value, rest),
        _ => return Err(Error::WrongArity),
    };
    // The root written out (`$`, `.`: the whole-document SET) needs no parse.
    let literal_root = path_arg.is_none_or(|arg| matches!(arg.as_bytes(), b"$" | b"."));
    let path = if literal_root {
        None
    } else {
        path_arg.map(parse_path).transpose()?
    };
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
    // One lookup: the stored document, or none (WRONGTYPE for another type).
    let changed = if let Some(mut json) = key.value_mut::<Json>()? {
        match &path {
            Some(path) if !root => set_at(&mut json.0, path, &value, nx, xx)?,
            // The root always exists (NX refuses, XX agrees): replacing it is a move (no
            // lookup, no clone).
            _ if nx => false,
            _ => {
                json.0 = value;
                true
            }
        }
    } else {
        if !root {
            return Err(Error::err("new objects must be created at the root"));
        }
        if xx {
            false
        } else {
            key.set_value(Json(value))?;
            true
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
            ctx.replicate("JSON.SET", (name, path_arg, value_arg, "PXAT", at))?;
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

/// `JSON.MSET key path value [key path value ...]`: every triplet applied in order, all or
/// nothing across keys (the new documents are built first, then stored).
pub(crate) fn json_mset(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
pub(crate) fn json_merge(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
