//! Arguments of a called command: [`CallArg`], [`CallArgs`] and the argument vector they
//! become.

use std::marker::PhantomData;

use crate::string::{RStr, RString};
use crate::sys::RedisModuleString;

/// One argument of a called command, as [`CallArg`] presents it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Arg<'s> {
    /// A server string, passed without a copy.
    String(&'s RStr),
    /// Bytes, copied into a server string for the call.
    Bytes(&'s [u8]),
    /// A signed integer, in decimal.
    Integer(i64),
    /// An unsigned integer, in decimal.
    Unsigned(u64),
    /// A double, in the shortest decimal that reads back the same (`inf`, `-inf`, `nan`).
    Double(f64),
}

impl Arg<'_> {
    /// A new server string holding this argument's text (a copy even of a server string).
    pub(crate) fn to_owned_string(self) -> RString {
        match self {
            Arg::String(string) => RString::from_bytes(string.as_bytes()),
            Arg::Bytes(bytes) => RString::from_bytes(bytes),
            Arg::Integer(n) => RString::from_bytes(n.to_string().as_bytes()),
            Arg::Unsigned(n) => RString::from_bytes(n.to_string().as_bytes()),
            Arg::Double(d) => RString::from_bytes(double_text(d).as_bytes()),
        }
    }
}

/// A value usable as one argument of [`Ctx::call`](crate::Ctx::call): server strings
/// ([`RStr`], [`RString`]), text and bytes (`str`, `String`, `[u8]`, `Vec<u8>`, `[u8; N]`),
/// integers and `f64`.
pub trait CallArg {
    /// The argument this value stands for.
    fn as_arg(&self) -> Arg<'_>;
}

impl CallArg for RStr {
    fn as_arg(&self) -> Arg<'_> {
        Arg::String(self)
    }
}

impl CallArg for RString {
    fn as_arg(&self) -> Arg<'_> {
        Arg::String(self)
    }
}

impl CallArg for str {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self.as_bytes())
    }
}

impl CallArg for String {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self.as_bytes())
    }
}

impl CallArg for [u8] {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self)
    }
}

impl CallArg for Vec<u8> {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self)
    }
}

impl<const N: usize> CallArg for [u8; N] {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Bytes(self)
    }
}

macro_rules! signed_arg {
    ($($t:ty)*) => {$(
        impl CallArg for $t {
            fn as_arg(&self) -> Arg<'_> {
                Arg::Integer(i64::from(*self))
            }
        }
    )*};
}
signed_arg!(i8 i16 i32 i64);

macro_rules! unsigned_arg {
    ($($t:ty)*) => {$(
        impl CallArg for $t {
            fn as_arg(&self) -> Arg<'_> {
                Arg::Unsigned(*self as u64)
            }
        }
    )*};
}
unsigned_arg!(u16 u32 u64 usize);

impl CallArg for f64 {
    fn as_arg(&self) -> Arg<'_> {
        Arg::Double(*self)
    }
}

impl<T: CallArg + ?Sized> CallArg for &T {
    fn as_arg(&self) -> Arg<'_> {
        (**self).as_arg()
    }
}

/// The arguments of a called command (after its name): an array, slice or `Vec` of one
/// [`CallArg`] type, a tuple of mixed ones, or `()` for none.
///
/// ```no_run
/// # use rm::{Ctx, RStr, Result};
/// # fn f(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
/// ctx.call("PING", ())?;
/// ctx.call("GET", ["greeting"])?;
/// ctx.call("DEL", &args[1..])?; // forward the command's own arguments
/// ctx.call("SET", (args[1], "value", "EX", 60))?;
/// # Ok(()) }
/// ```
pub trait CallArgs {
    /// Appends each argument to `out`.
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>);
}

impl CallArgs for () {
    fn push_args<'s>(&'s self, _out: &mut Vec<Arg<'s>>) {}
}

impl<T: CallArg> CallArgs for [T] {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        out.extend(self.iter().map(CallArg::as_arg));
    }
}

impl<T: CallArg, const N: usize> CallArgs for [T; N] {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        out.extend(self.iter().map(CallArg::as_arg));
    }
}

impl<T: CallArg> CallArgs for Vec<T> {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        out.extend(self.iter().map(CallArg::as_arg));
    }
}

impl<T: CallArgs + ?Sized> CallArgs for &T {
    fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
        (**self).push_args(out);
    }
}

macro_rules! tuple_args {
    ($($name:ident)+) => {
        impl<$($name: CallArg),+> CallArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn push_args<'s>(&'s self, out: &mut Vec<Arg<'s>>) {
                let ($($name,)+) = self;
                $(out.push($name.as_arg());)+
            }
        }
    };
}
tuple_args!(A);
tuple_args!(A B);
tuple_args!(A B C);
tuple_args!(A B C D);
tuple_args!(A B C D E);
tuple_args!(A B C D E F);
tuple_args!(A B C D E F G);
tuple_args!(A B C D E F G H);
tuple_args!(A B C D E F G H I);
tuple_args!(A B C D E F G H I J);
tuple_args!(A B C D E F G H I J K);
tuple_args!(A B C D E F G H I J K L);

/// The argument vector handed to `RedisModule_Call`: borrowed server strings as they are
/// (alive for `'s`, which the borrow of the arguments guarantees), everything else in strings
/// created for the call and released with the vector.
pub(crate) struct Argv<'s> {
    pointers: Vec<*mut RedisModuleString>,
    _created: Vec<RString>,
    _borrowed: PhantomData<&'s RStr>,
}

impl<'s> Argv<'s> {
    /// The vector of `args`, after `first` if given (a command name).
    pub(crate) fn new<A: CallArgs + ?Sized>(first: Option<&[u8]>, args: &'s A) -> Argv<'s> {
        let mut collected = Vec::new();
        if let Some(first) = first {
            collected.push(Arg::Bytes(first));
        }
        args.push_args(&mut collected);
        let mut pointers = Vec::with_capacity(collected.len());
        let mut created = Vec::new();
        for arg in &collected {
            let owned = match *arg {
                Arg::String(string) => {
                    pointers.push(string.as_ptr());
                    continue;
                }
                Arg::Bytes(bytes) => RString::from_bytes(bytes),
                Arg::Integer(n) => RString::from_bytes(n.to_string().as_bytes()),
                Arg::Unsigned(n) => RString::from_bytes(n.to_string().as_bytes()),
                Arg::Double(d) => RString::from_bytes(double_text(d).as_bytes()),
            };
            pointers.push(owned.as_ptr());
            created.push(owned);
        }
        Argv {
            pointers,
            _created: created,
            _borrowed: PhantomData,
        }
    }

    /// The string pointers, for `"v"` or an argv parameter.
    pub(crate) fn as_ptr(&self) -> *mut *mut RedisModuleString {
        self.pointers.as_ptr().cast_mut()
    }

    /// The number of strings.
    pub(crate) fn len(&self) -> usize {
        self.pointers.len()
    }

    /// The string at `index`.
    pub(crate) fn get(&self, index: usize) -> &RStr {
        // SAFETY: every pointer is a live string: borrowed for 's (outliving `self`) or owned
        // by `self`.
        unsafe { RStr::from_raw(self.pointers[index]) }
    }
}

fn double_text(d: f64) -> String {
    if d.is_nan() {
        "nan".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_shortest() {
        assert_eq!(double_text(2.5), "2.5");
        assert_eq!(double_text(0.1), "0.1");
        assert_eq!(double_text(f64::INFINITY), "inf");
        assert_eq!(double_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(double_text(f64::NAN), "nan");
        assert_eq!(double_text(-3.0), "-3");
    }
}
