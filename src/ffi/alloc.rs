//! The server's allocator as Rust's global allocator, for modules that opt in with
//! [`crate::server_allocator!`].
//!
//! Memory a module takes from the system allocator is invisible to the server: `INFO memory`
//! `used_memory` leaves it out, `maxmemory` eviction does not see it, and `MEMORY STATS` cannot
//! account for it. A module whose values live on the heap (a data type) should allocate through
//! `RedisModule_Alloc` instead, as C modules do; this allocator does that for every Rust
//! allocation of the module.
//!
//! `RedisModule_Alloc(size)` promises no alignment, and the servers users run differ: Redis
//! built from source uses its bundled jemalloc, whose 24-, 40- and 56-byte size classes are
//! only 8-aligned; a libc build without `malloc_usable_size` keeps an 8-byte size header in
//! front of every block, so none of its blocks is 16-aligned; tcmalloc and glibc align 16. So
//! the alignment of every layout is made by construction, never learned from one block:
//! * **align ≤ 8**: `Alloc(max(size, align))`. Every allocator a server is built with returns
//!   8-aligned blocks on 64-bit targets, and a block of at least `align` bytes comes from a size
//!   class of at least `align` (a 4-byte block could otherwise be 4-aligned).
//! * **align = 16** (hash tables, `u128`, SIMD groups): `Alloc(size rounded up to 16)`. A
//!   size-class allocator carves a class's blocks out of page-aligned runs at multiples of the
//!   class size, and the class serving a multiple of 16 is itself a multiple of 16, so its
//!   blocks are 16-aligned (jemalloc with any quantum, tcmalloc, glibc). At load,
//!   `check_size_classes` allocates every multiple of 16 from 16 to 4096 bytes and a few
//!   large ones, and only if every block is 16-aligned does this path run; otherwise (the
//!   header-keeping libc build) 16 is served like larger alignments. Each block is checked
//!   again as it is handed out: a server that breaks the rule later aborts with a clear cause
//!   instead of faulting somewhere in a hash table.
//! * **align > 16** (std's channels pad to 128, page-aligned buffers): a block `align` bytes
//!   larger, with the server's pointer stored just before the aligned address handed out
//!   (jemalloc aligns its large blocks only to a cache line). An allocation failure would abort
//!   the server, so this must never fail where `System` would not.
//!
//! Which path a layout takes depends only on the layout and on what `check_size_classes`
//! found before the first allocation, so `dealloc` and `realloc` always take the path `alloc`
//! took.
//!
//! Active defragmentation ([`crate::Defrag`]) moves a block with `RedisModule_DefragAlloc`,
//! which copies it into a fresh block of the same size class: the same alignment argument
//! holds for the copy, so only blocks served directly (align ≤ 8, or 16 where the size
//! classes align it) are offered; over-allocated ones are not the server's block start and
//! are never offered.
//!
//! Before the server has handed the module its API (during the first instants of
//! `RedisModule_OnLoad`), allocations go to the system allocator; the SDK keeps nothing
//! allocated then alive past that point, so no pointer is freed by the other allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether blocks whose size is a multiple of 16 are 16-aligned on this server: set by
/// `check_size_classes` before the allocator starts using the server, never changed after.
static SIXTEEN_BY_SIZE: AtomicBool = AtomicBool::new(false);

/// The largest alignment served by the server's blocks themselves (8, or 16 where
/// [`SIXTEEN_BY_SIZE`]); larger ones are over-allocated.
#[inline(always)]
fn direct_align() -> usize {
    if SIXTEEN_BY_SIZE.load(Ordering::Relaxed) {
        16
    } else {
        8
    }
}

/// The size asked of the server for a layout served directly: at least `align` bytes, and a
/// multiple of 16 when 16-aligned (see the module docs).
#[inline(always)]
fn direct_size(size: usize, align: usize) -> usize {
    if align == 16 {
        // Cannot overflow past what the caller may ask: a valid layout's size rounded up to
        // its alignment is at most isize::MAX.
        (size.max(1) + 15) & !15
    } else {
        size.max(align)
    }
}

/// Learns, once at load, whether the server aligns blocks of every multiple of 16 bytes to 16
/// (called before [`crate::api`] says it is loaded, so before any Rust allocation goes to the
/// server). Every small size class is tried, each block kept until the end so that each check
/// sees a fresh block, plus sizes served by the large-block paths.
///
/// # Safety
/// The core API entries are loaded.
pub(crate) unsafe fn check_size_classes() {
    const LARGE: [usize; 6] = [8 << 10, 16 << 10, 40 << 10, 64 << 10, 1 << 20, 4 << 20];
    let mut blocks = [std::ptr::null_mut::<c_void>(); 256 + LARGE.len()];
    let sizes = (1..=256).map(|n| n * 16).chain(LARGE);
    let mut aligned = true;
    for (slot, size) in blocks.iter_mut().zip(sizes) {
        // SAFETY: the API is loaded (the caller's contract); each block is freed below.
        *slot = unsafe { core_api!(Alloc)(size) };
        aligned &= *slot as usize % 16 == 0;
    }
    for block in blocks {
        // SAFETY: allocated just above by RedisModule_Alloc, freed once.
        unsafe { core_api!(Free)(block) };
    }
    SIXTEEN_BY_SIZE.store(aligned, Ordering::Relaxed);
}

/// Set the first time the over-aligned path runs. Only a `ServerAllocator` that is the
/// module's global allocator runs it, so [`is_global`] can learn with one probe allocation
/// whether Rust's heap blocks are server blocks (a cold path: no cost to ordinary allocations).
static OVERALIGNED_SERVED: AtomicBool = AtomicBool::new(false);

/// Whether the module's global allocator is [`ServerAllocator`] (the module wrote
/// [`crate::server_allocator!`]) and serves from the server now: only then is every `Box` and
/// `Vec` buffer a server block that `RedisModule_DefragAlloc` may move. Probed once, after
/// the API is loaded.
pub(crate) fn is_global() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !crate::api::is_loaded() {
        return false;
    }
    *ANSWER.get_or_init(|| {
        if OVERALIGNED_SERVED.load(Ordering::Relaxed) {
            return true;
        }
        // An alignment no server block has: ServerAllocator takes the over-aligned path.
        let layout = Layout::from_size_align(1, 4096).expect("a valid layout");
        // SAFETY: a non-zero-sized layout; the block (if any) is freed at once with it.
        // black_box keeps the pair from being optimised away.
        unsafe {
            let block = std::hint::black_box(std::alloc::alloc(layout));
            if !block.is_null() {
                std::alloc::dealloc(block, layout);
            }
        }
        OVERALIGNED_SERVED.load(Ordering::Relaxed)
    })
}

/// Whether a heap block of a type with alignment `align` is a server block itself (so
/// `RedisModule_DefragAlloc` may move it), rather than an over-allocated one whose address is
/// an offset into the server's block.
#[inline]
pub(crate) fn serves_directly(align: usize) -> bool {
    align <= direct_align()
}

/// Checks a block the server moved for a type aligned to `align` (served directly): the new
/// block is of the old one's size class, so aligned as a fresh one (see the module docs); a
/// server that breaks that rule stops the process, as in `alloc`.
#[inline]
pub(crate) fn check_moved(block: *mut u8, align: usize) {
    if align == 16 && block as usize % 16 != 0 {
        misaligned_block();
    }
}

/// Stops the process when the server handed out a block its size class should have aligned:
/// using it would fault later where no one could tell why.
#[cold]
#[inline(never)]
fn misaligned_block() -> ! {
    eprintln_unallocated(b"rs-rm: the server allocator returned a block below 16-byte alignment for a multiple of 16 bytes; aborting\n");
    std::process::abort()
}

/// Writes to stderr without allocating (we are inside the allocator).
fn eprintln_unallocated(message: &[u8]) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(message);
}

/// `RedisModule_Alloc` / `Realloc` / `Free` as a [`GlobalAlloc`]. Install it with
/// [`crate::server_allocator!`].
pub struct ServerAllocator;

// SAFETY: every pointer returned is either from the server's allocator (a block of at least the
// layout's size, aligned as the module docs show, or over-allocated and aligned) or from
// `System` before the API is loaded; each is released by the allocator that produced it, on the
// path the layout alone selects.
unsafe impl GlobalAlloc for ServerAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !crate::api::is_loaded() {
            // SAFETY: the caller's layout contract is forwarded unchanged.
            return unsafe { System.alloc(layout) };
        }
        let align = layout.align();
        if align > direct_align() {
            // SAFETY: the API is loaded.
            return unsafe { alloc_overaligned(layout) };
        }
        // SAFETY: the API is loaded; RedisModule_Alloc may be called from any thread.
        let block = unsafe { core_api!(Alloc)(direct_size(layout.size(), align)) } as *mut u8;
        if align == 16 && block as usize % 16 != 0 {
            misaligned_block();
        }
        block
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !crate::api::is_loaded() {
            // SAFETY: allocated by `System` (the API was not loaded yet) with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        let block = if layout.align() > direct_align() {
            // SAFETY: made by `alloc_overaligned`, which stored the block's start there.
            unsafe { ptr.cast::<*mut u8>().sub(1).read() }
        } else {
            ptr
        };
        // SAFETY: `block` came from RedisModule_Alloc/Realloc (see the module docs).
        unsafe { core_api!(Free)(block as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !crate::api::is_loaded() {
            // SAFETY: allocated by `System` with `layout`; the contract is forwarded.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let align = layout.align();
        if align > direct_align() {
            // SAFETY: the caller guarantees `new_size` with this alignment is a valid layout.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
            // SAFETY: a fresh block for the new layout, the old one's bytes copied over (the
            // smaller of the two sizes), then the old block released as the caller no longer
            // uses it.
            unsafe {
                let new = alloc_overaligned(new_layout);
                if new.is_null() {
                    return new;
                }
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
                return new;
            }
        }
        // SAFETY: `ptr` came from the server's allocator on the direct path; the new size is
        // chosen as in `alloc`, so a moved block is aligned as a fresh one would be.
        let block = unsafe {
            core_api!(Realloc)(ptr as *mut c_void, direct_size(new_size, align)) as *mut u8
        };
        if align == 16 && block as usize % 16 != 0 {
            misaligned_block();
        }
        block
    }
}

/// A block for a layout aligned beyond the server's blocks: `align` bytes more than asked, the
/// returned address the first aligned one past the block's start (at least 8 bytes past it),
/// and the block's start stored in the 8 bytes before that address.
///
/// # Safety
/// The API is loaded; `layout.align() > direct_align()` (so at least 16).
unsafe fn alloc_overaligned(layout: Layout) -> *mut u8 {
    if !OVERALIGNED_SERVED.load(Ordering::Relaxed) {
        OVERALIGNED_SERVED.store(true, Ordering::Relaxed);
    }
    let Some(total) = layout.size().checked_add(layout.align()) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the API is loaded (the caller's contract).
    let block = unsafe { core_api!(Alloc)(total) } as *mut u8;
    if block.is_null() {
        return block;
    }
    // `block` is 8-aligned (at least) and `align` a larger power of two, so the offset is in
    // 8..=align, which leaves room for the stored pointer before the address and `size` bytes
    // after it.
    let offset = layout.align() - (block as usize & (layout.align() - 1));
    // SAFETY: in bounds of the block (offset ≤ align ≤ total - size), and the 8 bytes before
    // the aligned address are inside the block too (offset ≥ 8); the address is 8-aligned.
    unsafe {
        let aligned = block.add(offset);
        aligned.cast::<*mut u8>().sub(1).write(block);
        aligned
    }
}

/// Makes the server's allocator the module's global allocator ([`ServerAllocator`]), so its
/// memory counts in `used_memory` and against `maxmemory`. Write it once, next to
/// [`crate::module!`]. Not applied to the crate's own unit tests (no server there).
#[macro_export]
macro_rules! server_allocator {
    () => {
        #[cfg(not(test))]
        #[global_allocator]
        static SERVER_ALLOCATOR: $crate::alloc::ServerAllocator = $crate::alloc::ServerAllocator;
    };
}
