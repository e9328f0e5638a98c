//! Expiry options (JSON.SET, JSON.GETEX), read and checked as SET and GETEX read them.

use crate::args::is;
use rm::{Ctx, Error, RStr, Result};

/// `EX`, `PX`, `EXAT`, `PXAT`: how a time argument counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// One expiry option: a time with its argument, `KEEPTTL` (JSON.SET) or `PERSIST` (JSON.GETEX).
#[derive(Clone, Copy)]
pub(crate) enum Expiry<'a> {
    Time(TimeKind, &'a RStr),
    KeepTtl,
    Persist,
}

/// What a command does to the key's expiry once it has done its work.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpiryChange {
    /// Leave it as it is (no option, or `KEEPTTL`).
    Keep,
    /// Expire at this Unix time in milliseconds.
    At(i64),
    /// Remove it (`PERSIST`).
    Persist,
}

/// Takes an expiry option at the head of `args` into `option`: how many arguments it used, 0
/// if the head is none. Besides the times, `word` (`KEEPTTL` for JSON.SET, `PERSIST` for
/// JSON.GETEX) is one. As SET's parser: the same option again replaces the first (`EX 10 EX
/// 20` is 20 seconds), another one is a syntax error, and so is a time without its argument.
pub(crate) fn take_expiry<'a>(
    args: &[&'a RStr],
    option: &mut Option<Expiry<'a>>,
    word: &str,
) -> Result<usize> {
    let Some(head) = args.first() else {
        return Ok(0);
    };
    let kind = [
        ("EX", TimeKind::Ex),
        ("PX", TimeKind::Px),
        ("EXAT", TimeKind::ExAt),
        ("PXAT", TimeKind::PxAt),
    ]
    .into_iter()
    .find(|(name, _)| is(head, name))
    .map(|(_, kind)| kind);
    let (found, used) = match kind {
        Some(kind) => {
            let time = args.get(1).ok_or_else(|| Error::err("syntax error"))?;
            (Expiry::Time(kind, time), 2)
        }
        None if !is(head, word) => return Ok(0),
        None if word == "KEEPTTL" => (Expiry::KeepTtl, 1),
        None => (Expiry::Persist, 1),
    };
    let same = match (*option, found) {
        (None, _) => true,
        (Some(Expiry::Time(a, _)), Expiry::Time(b, _)) => a == b,
        (Some(Expiry::KeepTtl), Expiry::KeepTtl) | (Some(Expiry::Persist), Expiry::Persist) => true,
        _ => false,
    };
    if !same {
        return Err(Error::err("syntax error"));
    }
    *option = Some(found);
    Ok(used)
}

impl Expiry<'_> {
    /// The change this option asks for, with a time made absolute from the server's clock.
    /// Errors are the server's own, naming `command` as it does: `ERR value is not an integer
    /// or out of range`, `ERR invalid expire time in 'json.set' command` (zero, negative, or
    /// past the 64-bit range once in milliseconds from the epoch).
    pub(crate) fn change(&self, ctx: &Ctx, command: &str) -> Result<ExpiryChange> {
        let (kind, arg) = match *self {
            Expiry::KeepTtl => return Ok(ExpiryChange::Keep),
            Expiry::Persist => return Ok(ExpiryChange::Persist),
            Expiry::Time(kind, arg) => (kind, arg),
        };
        let invalid = || Error::err(format!("invalid expire time in '{command}' command"));
        let value = arg.parse_i64()?;
        if value <= 0 {
            return Err(invalid());
        }
        let ms = match kind {
            TimeKind::Ex | TimeKind::ExAt => value.checked_mul(1000).ok_or_else(invalid)?,
            TimeKind::Px | TimeKind::PxAt => value,
        };
        let at = match kind {
            TimeKind::Ex | TimeKind::Px => {
                ms.checked_add(ctx.milliseconds()).ok_or_else(invalid)?
            }
            TimeKind::ExAt | TimeKind::PxAt => ms,
        };
        Ok(ExpiryChange::At(at))
    }
}
