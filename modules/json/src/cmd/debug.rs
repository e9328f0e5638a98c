//! JSON.DEBUG: MEMORY, DEFRAG_INFO, HELP.

use crate::args::{budget_error, is, legacy_root, parse_path};
use crate::datatype::Json;
use crate::defrag::KEYS_DEFRAGGED;
use rm::{Ctx, Error, RStr, Result};
use std::sync::atomic::Ordering;

/// `JSON.DEBUG MEMORY key [path]` (bytes of the value(s) in this module's representation),
/// `JSON.DEBUG DEFRAG_INFO` (active defrag counters, RedisJSON's fields) or `JSON.DEBUG HELP`.
pub(crate) fn json_debug(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, sub, rest @ ..] = args else {
        return Err(Error::WrongArity);
    };
    if is(sub, "HELP") {
        // RedisJSON's two lines exactly (its DEFRAG_INFO is unlisted too; COMMAND DOCS shows it).
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
