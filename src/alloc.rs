//! The server's allocator as Rust's global allocator, for modules that opt in with
//! [`crate::server_allocator!`].
//!
//! Memory a module takes from the system allocator is invisible to the server: `INFO memory`
//! `used_memory` leaves it out, `maxmemory` eviction does not see it, and `MEMORY STATS` cannot
//! account for it. A module whose values live on the heap (a data type) should allocate through
//! `RedisModule_Alloc` instead, as C modules do; this allocator does that for every Rust
//! allocation of the module.
//!
//! Rules it relies on:
//! * Before the server has handed the module its API (during the first instants of
//!   `RedisModule_OnLoad`), allocations go to the system allocator; the SDK keeps nothing
//!   allocated then alive past that point, so no pointer is freed by the other allocator.
//! * The server's allocator aligns to 16 bytes (jemalloc; glibc malloc) or, where the server
//!   keeps a size header in front of each block (libc builds without `malloc_usable_size`), to
//!   8: probed once at load ([`probe`]). A layout that needs more (hash tables want 16, std's
//!   channels pad to 128) gets a block `align` bytes larger, with the server's pointer stored
//!   just before the aligned address it hands out: an allocation failure would abort the
//!   server, so this must never fail where `System` would not.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The alignment of the server's blocks: 16 or 8, set by [`probe`] before the allocator starts
/// using the server, never changed after.
static SERVER_ALIGN: AtomicUsize = AtomicUsize::new(8);

#[inline(always)]
fn server_align() -> usize {
    SERVER_ALIGN.load(Ordering::Relaxed)
}

/// Learns the server allocator's alignment (called once at load, before [`crate::api`] says it
/// is loaded, so before any Rust allocation goes to the server): a size header in front of the
/// blocks shifts every one of them by the same 8 bytes, so one block tells.
///
/// # Safety
/// The core API entries are loaded.
pub(crate) unsafe fn probe() {
    // SAFETY: the API is loaded (the caller's contract); the block is freed at once.
    let align = unsafe {
        let block = core_api!(Alloc)(64);
        let align = if block as usize % 16 == 0 { 16 } else { 8 };
        core_api!(Free)(block);
        align
    };
    SERVER_ALIGN.store(align, Ordering::Relaxed);
}

/// `RedisModule_Alloc` / `Realloc` / `Free` as a [`GlobalAlloc`]. Install it with
/// [`crate::server_allocator!`].
pub struct ServerAllocator;

// SAFETY: every pointer returned is either from the server's allocator (size ≥ the layout's,
// aligned to the server's alignment when that is enough, else over-allocated and aligned) or from `System` before the API is
// loaded; each is released by the allocator that produced it (see the module docs).
unsafe impl GlobalAlloc for ServerAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !crate::api::is_loaded() {
            // SAFETY: the caller's layout contract is forwarded unchanged.
            return unsafe { System.alloc(layout) };
        }
        if layout.align() > server_align() {
            // SAFETY: the API is loaded.
            return unsafe { alloc_overaligned(layout) };
        }
        // At least `align` bytes: a smaller block may come from a size class aligned below the
        // server's usual alignment (jemalloc's 8-byte class is 8-aligned).
        // SAFETY: the API is loaded; RedisModule_Alloc may be called from any thread.
        unsafe { core_api!(Alloc)(layout.size().max(layout.align())) as *mut u8 }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !crate::api::is_loaded() {
            // SAFETY: allocated by `System` (the API was not loaded yet) with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        let block = if layout.align() > server_align() {
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
        if layout.align() > server_align() {
            // SAFETY: the caller guarantees `new_size` with this alignment is a valid layout.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
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
        // SAFETY: `ptr` came from the server's allocator; at least `align` bytes, as in
        // `alloc`, keep the block aligned.
        unsafe { core_api!(Realloc)(ptr as *mut c_void, new_size.max(layout.align())) as *mut u8 }
    }
}

/// A block for a layout aligned beyond the server's blocks: `align` bytes more than asked, the
/// returned address the first aligned one past the block's start (at least 8 bytes past it),
/// and the block's start stored in the 8 bytes before that address.
///
/// # Safety
/// The API is loaded; `layout.align() > server_align()`.
unsafe fn alloc_overaligned(layout: Layout) -> *mut u8 {
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
