//! JSON.DEL (and its alias JSON.FORGET).

use super::notify;
use crate::args::{budget_error, json_error, parse_path};
use crate::datatype::Json;
use jsondoc::{Location, Segment};
use rm::{Ctx, Error, RStr, Result};

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

/// `JSON.DEL key [path]` (also `JSON.FORGET`): the number of values deleted.
pub(crate) fn json_del(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
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
