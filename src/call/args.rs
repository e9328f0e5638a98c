//! Arguments of a called command: [`CallArg`], [`CallArgs`] and the argument vector they
//! become.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

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

/// Pointers kept inline in an [`Argv`]: more arguments take a heap vector.
const INLINE: usize = 8;

/// The capacity of the reusable argument buffer ([`SCRATCH`]).
const SCRATCH_LEN: usize = 16;

/// A spare buffer of `SCRATCH_LEN` `Arg`s (empty, any lifetime: it holds no values), or null.
/// [`CallArgs::push_args`] collects into a `Vec`; taking this one instead of allocating makes
/// a call's argument vector cost no allocation. A nested call (a command the call runs makes
/// a call of its own) finds it taken and allocates its own.
static SCRATCH: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());

/// The spare buffer, or a new one.
fn take_scratch<'s>() -> Vec<Arg<'s>> {
    match NonNull::new(SCRATCH.swap(ptr::null_mut(), Ordering::Acquire)) {
        // SAFETY: `give_back` stored it: the buffer of a `Vec<Arg>` of capacity `SCRATCH_LEN`
        // from the global allocator, emptied; the swap made it ours alone. `Arg`'s layout does
        // not depend on its lifetime, and the vector is empty.
        Some(buffer) => unsafe { Vec::from_raw_parts(buffer.as_ptr().cast(), 0, SCRATCH_LEN) },
        None => Vec::with_capacity(SCRATCH_LEN),
    }
}

/// Keeps `args`' buffer as the spare one if it has the spare's size and there is none yet.
fn give_back(mut args: Vec<Arg<'_>>) {
    if args.capacity() != SCRATCH_LEN {
        return;
    }
    args.clear();
    let mut args = ManuallyDrop::new(args);
    let buffer = args.as_mut_ptr().cast::<u8>();
    if SCRATCH
        .compare_exchange(
            ptr::null_mut(),
            buffer,
            Ordering::Release,
            Ordering::Relaxed,
        )
        .is_err()
    {
        // SAFETY: the buffer `args` owned (not stored: another call stored its own first).
        drop(unsafe { Vec::from_raw_parts(buffer.cast::<Arg<'_>>(), 0, SCRATCH_LEN) });
    }
}

/// The argument vector handed to `RedisModule_Call`: borrowed server strings as they are
/// (alive for `'s`, which the borrow of the arguments guarantees), everything else in strings
/// created for the call and released with the vector. Up to `INLINE` arguments cost no
/// allocation.
pub(crate) struct Argv<'s> {
    /// The arguments, in order (the created strings are those not `Arg::String`).
    args: Vec<Arg<'s>>,
    /// `args.len()` pointers, here when they fit, else in `heap`.
    inline: [*mut RedisModuleString; INLINE],
    heap: Vec<*mut RedisModuleString>,
    /// How many pointers are set (all but while `new` runs): what `Drop` releases.
    filled: usize,
    _borrowed: PhantomData<&'s RStr>,
}

impl<'s> Argv<'s> {
    /// The vector of `args`, after `first` if given (a command name).
    pub(crate) fn new<A: CallArgs + ?Sized>(first: Option<&'s [u8]>, args: &'s A) -> Argv<'s> {
        let mut collected = take_scratch();
        if let Some(first) = first {
            collected.push(Arg::Bytes(first));
        }
        args.push_args(&mut collected);
        let count = collected.len();
        let mut argv = Argv {
            args: collected,
            inline: [ptr::null_mut(); INLINE],
            heap: if count > INLINE {
                Vec::with_capacity(count)
            } else {
                Vec::new()
            },
            filled: 0,
            _borrowed: PhantomData,
        };
        for index in 0..count {
            let pointer = match argv.args[index] {
                Arg::String(string) => string.as_ptr(),
                Arg::Bytes(bytes) => RString::from_bytes(bytes).into_raw().as_ptr(),
                Arg::Integer(n) => RString::from_bytes(n.to_string().as_bytes())
                    .into_raw()
                    .as_ptr(),
                Arg::Unsigned(n) => RString::from_bytes(n.to_string().as_bytes())
                    .into_raw()
                    .as_ptr(),
                Arg::Double(d) => RString::from_bytes(double_text(d).as_bytes())
                    .into_raw()
                    .as_ptr(),
            };
            match argv.inline.get_mut(index) {
                Some(slot) if count <= INLINE => *slot = pointer,
                _ => argv.heap.push(pointer),
            }
            argv.filled = index + 1;
        }
        argv
    }

    fn pointers(&self) -> &[*mut RedisModuleString] {
        if self.args.len() <= INLINE {
            &self.inline[..self.filled]
        } else {
            &self.heap
        }
    }

    /// The string pointers, for `"v"` or an argv parameter.
    pub(crate) fn as_ptr(&self) -> *mut *mut RedisModuleString {
        self.pointers().as_ptr().cast_mut()
    }

    /// The number of strings.
    pub(crate) fn len(&self) -> usize {
        self.filled
    }

    /// The string at `index`.
    pub(crate) fn get(&self, index: usize) -> &RStr {
        // SAFETY: every pointer is a live string: borrowed for 's (outliving `self`) or owned
        // by `self`.
        unsafe { RStr::from_raw(self.pointers()[index]) }
    }
}

impl Drop for Argv<'_> {
    fn drop(&mut self) {
        for index in 0..self.filled {
            if !matches!(self.args[index], Arg::String(_)) {
                let pointer = self.pointers()[index];
                // SAFETY: a string `new` created for this vector (`into_raw`), released once,
                // here; never null.
                drop(unsafe { RString::from_raw(NonNull::new_unchecked(pointer)) });
            }
        }
        give_back(std::mem::take(&mut self.args));
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
