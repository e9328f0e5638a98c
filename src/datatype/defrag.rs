//! Active defragmentation of data type values: the [`Defrag`] handle lent to
//! [`DataType::defrag`](crate::DataType::defrag).
//!
//! With `activedefrag yes` the server walks its keyspace and moves allocations that sit in
//! sparsely used allocator pages into fuller ones (jemalloc tells it which), so freed memory
//! returns to the system. It moves its own objects; a module value's inner blocks only the
//! module can move, because only it knows where the pointers to them are. Each `Defrag` method
//! hands one block to `RedisModule_DefragAlloc` and, when the server moved it, rewrites the
//! owner (`Box`, `Vec`, `String`) to the new address, in place.
//!
//! **When blocks move.** Only when the module's global allocator is the server's
//! ([`crate::server_allocator!`]): otherwise Rust's blocks are not the server's to move and
//! every method returns `false` (the SDK does not even register the callback). Only servers
//! built with jemalloc's defrag support run active defrag at all (Redis built from source with
//! its bundled jemalloc; not Debian's package, whose system jemalloc lacks it).
//!
//! Blocks that are never handed to the server, each for a reason: empty buffers (`Vec` with
//! capacity 0, `Box<str>` of `""`, zero-sized types: no allocation, the pointer is dangling),
//! and types aligned beyond what the server's blocks are (see [`crate::alloc`]: those are
//! over-allocated and their address is an offset into the server's block).

use std::ffi::c_ulong;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, align_of, size_of};
use std::num::NonZeroU64;
use std::ptr::NonNull;

use crate::sys::{self, RedisModuleDefragCtx};

/// What [`DataType::defrag`](crate::DataType::defrag) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefragStatus {
    /// Every block was visited (or the value chose to stop for good).
    Done,
    /// Stopped early because [`Defrag::should_stop`] said so; the server calls again later
    /// with this cursor in [`Defrag::cursor`]. Only meaningful when `cursor()` is `Some`
    /// (incremental mode); in one-shot mode it counts as `Done`.
    Paused(NonZeroU64),
}

/// The defrag context of one [`DataType::defrag`](crate::DataType::defrag) call: moves the
/// value's heap blocks, tells when to stop, and carries the cursor of an incremental pass.
///
/// The server calls `defrag` in one of two modes:
/// * **one-shot** ([`Defrag::cursor`] is `None`) for values whose
///   [`DataType::free_effort`](crate::DataType::free_effort) is at most the server's
///   `active-defrag-max-scan-fields` (1000 by default): the whole value in one call, and
///   [`Defrag::should_stop`] never says stop. Small values belong here.
/// * **incremental** (`cursor()` is `Some(0)` on the first call, then what the previous call
///   returned in [`DefragStatus::Paused`]) for values with a larger effort: the call has a
///   time budget; check `should_stop` every few dozen blocks and return `Paused` with a
///   cursor that says where to go on. The value may have changed between two calls (commands
///   run in between): treat the cursor as a hint and never index with it unchecked.
///
/// ```no_run
/// # use rm::{Defrag, DefragStatus, RdbReader, RdbWriter, Result};
/// struct Names { all: Vec<Box<str>> }
///
/// impl rm::DataType for Names {
///     const NAME: &'static str = "names-typ";
///     const ENCODING_VERSION: i32 = 1;
/// #   fn rdb_save(&self, _io: &mut RdbWriter) {}
/// #   fn rdb_load(_io: &mut RdbReader, _v: i32) -> Result<Self> { Ok(Names { all: Vec::new() }) }
///     // ... rdb_save, rdb_load ...
///     fn free_effort(&self) -> usize {
///         self.all.len().max(1) // one block per name: big values go incremental
///     }
///     fn defrag(&mut self, defrag: &mut Defrag<'_>) -> DefragStatus {
///         let start = defrag.cursor().unwrap_or(0) as usize;
///         if start == 0 {
///             defrag.vec(&mut self.all); // the buffer of pointers
///         }
///         for (i, name) in self.all.iter_mut().enumerate().skip(start) {
///             if i % 64 == 0 && i > start && defrag.should_stop() {
///                 return DefragStatus::Paused((i as u64).try_into().unwrap());
///             }
///             defrag.boxed_str(name);
///         }
///         DefragStatus::Done
///     }
/// }
/// ```
pub struct Defrag<'a> {
    raw: NonNull<RedisModuleDefragCtx>,
    moved: usize,
    _callback: PhantomData<(&'a mut RedisModuleDefragCtx, *mut u8)>,
}

impl<'a> Defrag<'a> {
    /// # Safety
    /// `raw` must be the live defrag context of the callback now running, valid for `'a`, and
    /// the module's global allocator the server's ([`crate::alloc::is_global`]).
    pub(crate) unsafe fn from_raw(raw: NonNull<RedisModuleDefragCtx>) -> Defrag<'a> {
        Defrag {
            raw,
            moved: 0,
            _callback: PhantomData,
        }
    }

    /// Whether the call's time budget is spent: stop, and return [`DefragStatus::Paused`].
    /// Always `false` in one-shot mode. A clock read: call it every few dozen blocks, not
    /// for each.
    #[doc(alias = "RedisModule_DefragShouldStop")]
    pub fn should_stop(&self) -> bool {
        let Some(should_stop) = crate::api::table().DefragShouldStop else {
            return false;
        };
        // SAFETY: the live defrag context.
        unsafe { should_stop(self.raw.as_ptr()) != 0 }
    }

    /// The cursor of an incremental pass: `Some(0)` when it starts, `Some(c)` after a call
    /// returned `Paused(c)`; `None` in one-shot mode.
    #[doc(alias = "RedisModule_DefragCursorGet")]
    pub fn cursor(&self) -> Option<u64> {
        let get = crate::api::table().DefragCursorGet?;
        let mut cursor: c_ulong = 0;
        // SAFETY: the live defrag context and a local to write to; ERR in one-shot mode.
        let status = unsafe { get(self.raw.as_ptr(), &mut cursor) };
        #[allow(clippy::useless_conversion)] // `unsigned long` is 32 bits on some targets
        (status == sys::REDISMODULE_OK).then_some(u64::from(cursor))
    }

    /// Stores the cursor the next call sees; `false` in one-shot mode (or if it does not fit
    /// the server's `unsigned long`).
    pub(crate) fn set_cursor(&mut self, cursor: NonZeroU64) -> bool {
        let (Some(set), Ok(cursor)) = (
            crate::api::table().DefragCursorSet,
            c_ulong::try_from(cursor.get()),
        ) else {
            return false;
        };
        // SAFETY: the live defrag context.
        unsafe { set(self.raw.as_ptr(), cursor) == sys::REDISMODULE_OK }
    }

    /// How many blocks this call has moved so far (for a module's own statistics).
    pub fn moved(&self) -> usize {
        self.moved
    }

    /// Offers the block at `block` (of a type aligned to `align`) to the server; its new
    /// address if the server moved it (the old block is then freed and must not be used).
    ///
    /// # Safety
    /// `block` is a live, non-empty heap block of the module's global allocator (the server's)
    /// allocated for a layout aligned to `align`, and nothing reads or writes it until the
    /// owner is updated with the result.
    unsafe fn offer(&mut self, block: *mut u8, align: usize) -> Option<NonNull<u8>> {
        if !crate::alloc::serves_directly(align) {
            return None; // over-allocated: `block` is not where the server's block starts
        }
        let alloc = crate::api::table().DefragAlloc?;
        // SAFETY: the live defrag context and a server block (the caller's promise); the
        // server either leaves it alone (NULL) or copies it to a new block and frees it.
        let moved = unsafe { alloc(self.raw.as_ptr(), block.cast()) }.cast::<u8>();
        let moved = NonNull::new(moved)?;
        crate::alloc::check_moved(moved.as_ptr(), align);
        self.moved += 1;
        Some(moved)
    }

    /// Moves the value a `Box` points at; `true` if it moved. Zero-sized values never move.
    pub fn boxed<T>(&mut self, boxed: &mut Box<T>) -> bool {
        if size_of::<T>() == 0 {
            return false; // a dangling pointer, no block
        }
        let block: *mut T = &mut **boxed;
        // SAFETY: a live non-empty block of the global allocator (the server's, as this handle
        // exists only then) allocated for `T`'s layout; `boxed` is borrowed mutably, so nothing
        // else touches it until it is rewritten below.
        let Some(moved) = (unsafe { self.offer(block.cast(), align_of::<T>()) }) else {
            return false;
        };
        // SAFETY: the new block holds the old one's bytes (a valid `T`) and is a block of the
        // global allocator of the same size class; the old box must not be dropped (its block
        // is freed already), so it is overwritten without running its destructor.
        unsafe { std::ptr::write(boxed, Box::from_raw(moved.as_ptr().cast::<T>())) };
        true
    }

    /// Moves the elements of a boxed slice; `true` if they moved. Empty slices never move.
    pub fn boxed_slice<T>(&mut self, boxed: &mut Box<[T]>) -> bool {
        let len = boxed.len();
        if size_of::<T>() == 0 || len == 0 {
            return false; // a dangling pointer, no block
        }
        // SAFETY: as in `boxed`, for the slice's block.
        let Some(moved) = (unsafe { self.offer(boxed.as_mut_ptr().cast(), align_of::<T>()) })
        else {
            return false;
        };
        let slice = std::ptr::slice_from_raw_parts_mut(moved.as_ptr().cast::<T>(), len);
        // SAFETY: as in `boxed`: the same `len` elements at the new address.
        unsafe { std::ptr::write(boxed, Box::from_raw(slice)) };
        true
    }

    /// Moves the text of a `Box<str>`; `true` if it moved. `""` never moves.
    pub fn boxed_str(&mut self, text: &mut Box<str>) -> bool {
        let len = text.len();
        if len == 0 {
            return false;
        }
        // SAFETY: as in `boxed`, for the text's block (alignment 1).
        let Some(moved) = (unsafe { self.offer(text.as_mut_ptr(), 1) }) else {
            return false;
        };
        let bytes = std::ptr::slice_from_raw_parts_mut(moved.as_ptr(), len) as *mut str;
        // SAFETY: the same UTF-8 bytes at the new address (a block of the global allocator).
        unsafe { std::ptr::write(text, Box::from_raw(bytes)) };
        true
    }

    /// Moves a `Vec`'s buffer (its whole capacity, which stays the same); `true` if it moved.
    /// A `Vec` that has not allocated never moves. The elements' own blocks are not touched:
    /// visit them too where they own some.
    pub fn vec<T>(&mut self, items: &mut Vec<T>) -> bool {
        let (len, capacity) = (items.len(), items.capacity());
        if size_of::<T>() == 0 || capacity == 0 {
            return false; // a dangling pointer, no block
        }
        // SAFETY: as in `boxed`, for the buffer's block (allocated for `capacity` elements).
        let Some(moved) = (unsafe { self.offer(items.as_mut_ptr().cast(), align_of::<T>()) })
        else {
            return false;
        };
        // The old Vec's buffer is freed already: forget it, then rebuild over the new block.
        let _old = ManuallyDrop::new(std::mem::take(items));
        // SAFETY: the new block holds the same `len` initialised elements, has room for
        // `capacity` (same size class) and is a block of the global allocator.
        *items = unsafe { Vec::from_raw_parts(moved.as_ptr().cast::<T>(), len, capacity) };
        true
    }

    /// Moves a `String`'s buffer; `true` if it moved (see [`Defrag::vec`]).
    pub fn string(&mut self, text: &mut String) -> bool {
        // SAFETY: moving the buffer keeps its bytes, so they stay UTF-8.
        self.vec(unsafe { text.as_mut_vec() })
    }
}
