//! Typed command arguments: [`FromArg`] reads one argument as a value, [`Args`] walks a
//! command's arguments, and [`Command::fixed`](crate::Command::fixed) hands a handler exactly
//! `N` arguments as an array, with the arity derived from `N`.
//!
//! Errors are the server's own texts: a missing argument is the server's wrong-arity error for
//! the command, a bad integer `ERR value is not an integer or out of range`, a bad float
//! `ERR value is not a valid float`, an unexpected word `ERR syntax error`.
//!
//! ```no_run
//! use rm::{Args, Ctx, RStr, Result};
//!
//! rm::keywords! {
//!     /// `NX` or `XX`.
//!     pub enum Condition { Nx = "NX", Xx = "XX" }
//! }
//!
//! /// `MYSET key value [NX | XX] [LIMIT count]`
//! fn myset(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
//!     let mut args = Args::new(args);
//!     let key: &RStr = args.take()?;
//!     let value: &RStr = args.take()?;
//!     let condition: Option<Condition> = args.next_keyword();
//!     let limit: Option<i64> = args.value_of("LIMIT")?;
//!     args.finish()?;
//!     let _ = (key, value, condition, limit);
//!     ctx.reply_ok();
//!     Ok(())
//! }
//! ```

use crate::string::RStr;
use crate::{Error, Result};

/// A value read from one command argument.
pub trait FromArg<'a>: Sized {
    /// Reads `arg`; `Err` with the server's text for that kind of value.
    fn from_arg(arg: &'a RStr) -> Result<Self>;
}

impl<'a> FromArg<'a> for &'a RStr {
    #[inline(always)]
    fn from_arg(arg: &'a RStr) -> Result<Self> {
        Ok(arg)
    }
}

impl<'a> FromArg<'a> for &'a [u8] {
    #[inline(always)]
    fn from_arg(arg: &'a RStr) -> Result<Self> {
        Ok(arg.as_bytes())
    }
}

impl<'a> FromArg<'a> for &'a str {
    fn from_arg(arg: &'a RStr) -> Result<Self> {
        arg.to_str()
    }
}

impl FromArg<'_> for i64 {
    fn from_arg(arg: &RStr) -> Result<Self> {
        arg.parse_i64()
    }
}

impl FromArg<'_> for u64 {
    /// A non-negative integer; a negative one is the server's out-of-range error.
    fn from_arg(arg: &RStr) -> Result<Self> {
        u64::try_from(arg.parse_i64()?)
            .map_err(|_| Error::err("value is out of range, must be positive"))
    }
}

impl FromArg<'_> for f64 {
    fn from_arg(arg: &RStr) -> Result<Self> {
        arg.parse_f64()
    }
}

/// A set of keywords read from one argument, case-insensitively; made by [`crate::keywords!`].
pub trait Keyword: Sized + Copy + 'static {
    /// Every keyword with its spelling.
    const ALL: &'static [(&'static str, Self)];

    /// The keyword `arg` spells, if any.
    fn parse(arg: &RStr) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(word, _)| arg.eq_ignore_case(word))
            .map(|(_, keyword)| *keyword)
    }
}

/// An enum of keywords that reads from an argument (`ERR syntax error` for any other word).
///
/// ```
/// rm::keywords! {
///     /// How a value is printed.
///     pub enum Format { Json = "JSON", Text = "TEXT" }
/// }
/// ```
#[macro_export]
macro_rules! keywords {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }

        impl $crate::Keyword for $name {
            const ALL: &'static [(&'static str, Self)] = &[$(($word, $name::$variant)),+];
        }

        impl<'a> $crate::FromArg<'a> for $name {
            fn from_arg(arg: &'a $crate::RStr) -> $crate::Result<Self> {
                <$name as $crate::Keyword>::parse(arg)
                    .ok_or_else(|| $crate::Error::err("syntax error"))
            }
        }
    };
}

/// A cursor over a command's arguments (after its name), reading typed values in order.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    rest: &'a [&'a RStr],
}

impl<'a> Args<'a> {
    /// The arguments of a command as the handler got them (`args[0]`, the name, is skipped).
    #[inline(always)]
    pub fn new(args: &'a [&'a RStr]) -> Args<'a> {
        Args {
            rest: args.get(1..).unwrap_or(&[]),
        }
    }

    /// How many arguments are left.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.rest.len()
    }

    /// Whether every argument was read.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next argument as a `T`; the server's wrong-arity error when there is none.
    #[inline]
    pub fn take<T: FromArg<'a>>(&mut self) -> Result<T> {
        let (first, rest) = self.rest.split_first().ok_or(Error::WrongArity)?;
        let value = T::from_arg(first)?;
        self.rest = rest;
        Ok(value)
    }

    /// The next argument as a `T` if there is one.
    pub fn optional<T: FromArg<'a>>(&mut self) -> Result<Option<T>> {
        if self.rest.is_empty() {
            Ok(None)
        } else {
            self.take().map(Some)
        }
    }

    /// Takes the next argument if it is `word` (any case).
    pub fn keyword(&mut self, word: &str) -> bool {
        match self.rest.split_first() {
            Some((first, rest)) if first.eq_ignore_case(word) => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    /// Takes the next argument if it is one of `K`'s keywords.
    pub fn next_keyword<K: Keyword>(&mut self) -> Option<K> {
        let found = self.rest.first().and_then(|first| K::parse(first));
        if found.is_some() {
            self.rest = &self.rest[1..];
        }
        found
    }

    /// `word value`: when the next argument is `word`, the one after it as a `T` (a missing
    /// value is `ERR syntax error`, as the server says for `SET k v EX`).
    pub fn value_of<T: FromArg<'a>>(&mut self, word: &str) -> Result<Option<T>> {
        if !self.keyword(word) {
            return Ok(None);
        }
        let (first, rest) = self
            .rest
            .split_first()
            .ok_or_else(|| Error::err("syntax error"))?;
        let value = T::from_arg(first)?;
        self.rest = rest;
        Ok(Some(value))
    }

    /// Every argument left, taken.
    pub fn rest(&mut self) -> &'a [&'a RStr] {
        std::mem::take(&mut self.rest)
    }

    /// Ends the reading: `ERR syntax error` if arguments are left over.
    pub fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::err("syntax error"))
        }
    }
}
