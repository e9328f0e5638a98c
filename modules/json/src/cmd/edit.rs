//! Editing every match of a path (all or nothing) and the reply of one integer per match.

use super::{NO_KEY, notify};
use crate::args::{budget_error, json_error};
use crate::datatype::Json;
use jsondoc::path::Path;
use jsondoc::{At, Document, JsonError, Location};
use rm::{Ctx, Error, RStr, Result};

/// Applies `edit` to every match of `path` (all-or-nothing); `None` for a match it skipped
/// (wrong type). Emits the event and replicates when something changed.
pub(super) fn edit_matches<R>(
    ctx: &Ctx,
    name: &RStr,
    path: &Path,
    event: &str,
    edit: impl Fn(&mut Document, &Location) -> std::result::Result<Option<R>, JsonError>,
) -> Result<Vec<Option<R>>> {
    edit_matches_if(ctx, name, path, event, edit, |_| true)
}

/// [`edit_matches`] for an edit that can take a [`jsondoc::Spot`]: a simple chain (at most one
/// match) is walked once, and the edit applies where the walk stopped (no location built, no
/// second walk); any other path goes through [`edit_matches`].
pub(super) fn edit_matches_at<R>(
    ctx: &Ctx,
    name: &RStr,
    path: &Path,
    event: &str,
    edit: impl Fn(&mut Document, At<'_>) -> std::result::Result<Option<R>, JsonError>,
) -> Result<Vec<Option<R>>> {
    let Some(steps) = path.as_simple() else {
        return edit_matches(ctx, name, path, event, |doc, location| {
            edit(doc, location.into())
        });
    };
    let mut key = ctx.open_key_writable(name);
    let Some(mut json) = key.value_mut::<Json>()? else {
        return Err(Error::err(NO_KEY));
    };
    let results = match json.0.spot(steps) {
        Some(spot) => vec![edit(&mut json.0, spot.into()).map_err(json_error)?],
        None => Vec::new(),
    };
    drop(json);
    if results.iter().flatten().next().is_some() {
        ctx.replicate_verbatim();
        notify(ctx, event, name)?;
    }
    Ok(results)
}

/// [`edit_matches`] where `changed` says whether a match's result changed the document.
pub(super) fn edit_matches_if<R>(
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
pub(super) fn deepest_first(locations: &[Location]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..locations.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(locations[i].len()));
    order
}

/// Skips a match of the wrong type; other errors abort the command.
pub(super) fn skip_wrong_type<R>(
    result: std::result::Result<R, JsonError>,
) -> std::result::Result<Option<R>, JsonError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(JsonError::WrongType { .. } | JsonError::NoSuchPath) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The reply of the commands answering one integer per match: an array for `$` paths, the
/// last one for legacy paths (an error naming the rewritten path when none qualified).
pub(super) fn reply_counts(
    ctx: &Ctx,
    path: &Path,
    results: &[Option<usize>],
    what: &str,
) -> Result<()> {
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
