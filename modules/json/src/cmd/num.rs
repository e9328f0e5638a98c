//! Arithmetic: JSON.NUMINCRBY, JSON.NUMMULTBY, JSON.NUMPOWBY.

use super::edit::{edit_matches_at, skip_wrong_type};
use crate::args::{parse_path_cached, utf8};
use crate::resp3::reply_number;
use rm::{Ctx, Error, RStr, Result};
use serde_json::Value;

fn num(ctx: &Ctx, args: &[&RStr], op: jsondoc::NumOp, event: &str) -> Result<()> {
    let [_, name, path, number, ..] = args else {
        return Err(Error::WrongArity);
    };
    let path = parse_path_cached(path)?;
    let number = utf8(number)?;
    // The usual argument (`1`) is read without serde_json; anything else (and every error) by it.
    let by = match jsondoc::plain_integer(number) {
        Some(integer) => serde_json::Number::from(integer),
        None => match serde_json::from_str::<Value>(number) {
            Ok(Value::Number(by)) => by,
            Ok(_) => return Err(Error::err("bad input number")),
            Err(error) => return Err(Error::err(error.to_string())),
        },
    };
    let results = edit_matches_at(ctx, name, &path, event, |doc, at| {
        skip_wrong_type(doc.num_op(at, op, &by))
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
    // The reply is written into one buffer (no string per match, no `format!`).
    let mut text = Vec::with_capacity(24);
    if path.is_legacy() {
        match results.iter().rev().flatten().next() {
            Some(last) => jsondoc::write_number(&mut text, last),
            None => {
                return Err(Error::err(format!(
                    "Path '{}' does not exist or does not contains a number",
                    path.rewritten_text()
                )));
            }
        }
    } else {
        text.push(b'[');
        for (i, result) in results.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            match result {
                Some(number) => jsondoc::write_number(&mut text, number),
                None => text.extend_from_slice(b"null"),
            }
        }
        text.push(b']');
    }
    ctx.reply_bulk(&text);
    Ok(())
}

/// `JSON.NUMINCRBY key path number`.
pub(crate) fn json_numincrby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    num(ctx, args, jsondoc::NumOp::Add, "json.numincrby")
}

/// `JSON.NUMMULTBY key path number`.
pub(crate) fn json_nummultby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    num(ctx, args, jsondoc::NumOp::Mul, "json.nummultby")
}

/// `JSON.NUMPOWBY key path number` (deprecated in RedisJSON, still registered).
pub(crate) fn json_numpowby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    num(ctx, args, jsondoc::NumOp::Pow, "json.numpowby")
}
