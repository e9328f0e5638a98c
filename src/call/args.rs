//! Arguments of a called command: [`CallArg`], [`CallArgs`] and the argument vector they
//! become.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::{self, NonNull};

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
    /// Hands each argument, in order, to `out`, which makes it a server string for the call
    /// at once (no intermediate list).
    fn push_args<'s>(&'s self, out: &mut Argv<'s>);
}

impl CallArgs for () {
    #[inline]
    fn push_args<'s>(&'s self, _out: &mut Argv<'s>) {}
}

impl<T: CallArg> CallArgs for [T] {
    #[inline]
    fn push_args<'s>(&'s self, out: &mut Argv<'s>) {
        for arg in self {
            out.push(arg.as_arg());
        }
    }
}

impl<T: CallArg, const N: usize> CallArgs for [T; N] {
    #[inline]
    fn push_args<'s>(&'s self, out: &mut Argv<'s>) {
        self.as_slice().push_args(out);
    }
}

impl<T: CallArg> CallArgs for Vec<T> {
    #[inline]
    fn push_args<'s>(&'s self, out: &mut Argv<'s>) {
        self.as_slice().push_args(out);
    }
}

impl<T: CallArgs + ?Sized> CallArgs for &T {
    #[inline]
    fn push_args<'s>(&'s self, out: &mut Argv<'s>) {
        (**self).push_args(out);
    }
}

macro_rules! tuple_args {
    ($($name:ident)+) => {
        impl<$($name: CallArg),+> CallArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            #[inline]
            fn push_args<'s>(&'s self, out: &mut Argv<'s>) {
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

/// The argument vector handed to the server (`RedisModule_Call`, `Replicate`, `EmitAOF`, ACL
/// checks), filled by [`CallArgs::push_args`]: each argument becomes its string pointer as it
/// is pushed. Borrowed server strings go in as they are (alive for `'s`, which the borrow of
/// the arguments guarantees); everything else (and every argument of a copying vector) in a
/// string created for the call and released with the vector. Up to `INLINE` arguments cost no
/// allocation.
pub struct Argv<'s> {
    /// The first `len` pointers, while they fit (no `spill` then).
    inline: [*mut RedisModuleString; INLINE],
    len: usize,
    /// Bit `i` set: pointer `i` (`i < 64`) is a string created for this vector.
    created: u64,
    /// Past `INLINE` arguments (one test on drop while there is none).
    /// (Not dropped as a field: `drop` frees it off the inline path.)
    spill: ManuallyDrop<Option<Box<Spill>>>,
    /// Whether server strings are copied too (for a server that may keep them past `'s`).
    copy_all: bool,
    _borrowed: PhantomData<&'s RStr>,
}

/// The part of an [`Argv`] past `INLINE` arguments.
struct Spill {
    /// All the pointers (the inline ones moved here).
    pointers: Vec<*mut RedisModuleString>,
    /// The indexes past 63 of created strings.
    created: Vec<usize>,
}

impl<'s> Argv<'s> {
    /// The vector of `args`, after `first` if given (a command name).
    #[inline]
    pub(crate) fn new<A: CallArgs + ?Sized>(first: Option<&'s [u8]>, args: &'s A) -> Argv<'s> {
        Argv::build(first, args, false)
    }

    /// The vector of `args` with every argument copied into a new string, server strings
    /// included.
    pub(crate) fn copied<A: CallArgs + ?Sized>(args: &'s A) -> Argv<'s> {
        Argv::build(None, args, true)
    }

    #[inline(always)]
    fn build<A: CallArgs + ?Sized>(
        first: Option<&'s [u8]>,
        args: &'s A,
        copy_all: bool,
    ) -> Argv<'s> {
        let mut argv = Argv {
            inline: [ptr::null_mut(); INLINE],
            len: 0,
            created: 0,
            spill: ManuallyDrop::new(None),
            copy_all,
            _borrowed: PhantomData,
        };
        if let Some(first) = first {
            argv.push(Arg::Bytes(first));
        }
        args.push_args(&mut argv);
        argv
    }

    /// Appends `arg`: a server string's own pointer, or a new string holding its text.
    #[inline]
    pub fn push(&mut self, arg: Arg<'s>) {
        let (pointer, created) = match arg {
            Arg::String(string) if !self.copy_all => (string.as_ptr(), false),
            other => (other.to_owned_string().into_raw().as_ptr(), true),
        };
        let index = self.len;
        match self.inline.get_mut(index) {
            Some(slot) => *slot = pointer,
            None => self.push_heap(pointer),
        }
        self.len = index + 1;
        if created {
            if index < 64 {
                self.created |= 1 << index;
            } else {
                self.spill_mut().created.push(index);
            }
        }
    }

    /// Appends past the inline pointers (moving them to the heap on the first).
    #[cold]
    fn push_heap(&mut self, pointer: *mut RedisModuleString) {
        self.spill_mut().pointers.push(pointer);
    }

    /// The spilled vectors, made (with the inline pointers) on first need.
    #[cold]
    fn spill_mut(&mut self) -> &mut Spill {
        let inline = &self.inline;
        self.spill.get_or_insert_with(|| {
            let mut pointers = Vec::with_capacity(2 * INLINE);
            pointers.extend_from_slice(inline);
            Box::new(Spill {
                pointers,
                created: Vec::new(),
            })
        })
    }

    fn pointers(&self) -> &[*mut RedisModuleString] {
        match &*self.spill {
            None => &self.inline[..self.len],
            Some(spill) => &spill.pointers,
        }
    }

    /// The string pointers, for `"v"` or an argv parameter.
    pub(crate) fn as_ptr(&self) -> *mut *mut RedisModuleString {
        self.pointers().as_ptr().cast_mut()
    }

    /// The number of strings.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The string at `index`.
    pub(crate) fn get(&self, index: usize) -> &RStr {
        // SAFETY: every pointer is a live string: borrowed for 's (outliving `self`) or owned
        // by `self`.
        unsafe { RStr::from_raw(self.pointers()[index]) }
    }

    /// Releases the string at `index`, one `push` created.
    fn release(&self, index: usize) {
        let pointer = self.pointers()[index];
        // SAFETY: a string `push` created for this vector (`into_raw`), released once (from
        // `drop`); never null.
        drop(unsafe { RString::from_raw(NonNull::new_unchecked(pointer)) });
    }
}

impl Drop for Argv<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        let mut created = self.created;
        while created != 0 {
            self.release(created.trailing_zeros() as usize);
            created &= created - 1;
        }
        if self.spill.is_some() {
            self.drop_spill();
        }
    }
}

impl Argv<'_> {
    /// Releases the strings created past index 63, then frees the spill.
    #[cold]
    #[inline(never)]
    fn drop_spill(&mut self) {
        if let Some(spill) = &*self.spill {
            for &index in &spill.created {
                self.release(index);
            }
        }
        drop(self.spill.take());
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
