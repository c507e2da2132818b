//! Prefetching: asking the processor for memory a scrape reads a few steps later, so that the
//! pass over thousands of cold series overlaps its cache misses instead of waiting on each.
//!
//! Hand-written: `core::intrinsics::prefetch_read_data` is unstable, and no well-kept crate
//! offers more than this one instruction. A prefetch is only a hint: it changes no value and
//! cannot fault, so a wrong or stale address costs time, never correctness. Elsewhere than
//! x86-64 (and under Miri, which does not model it) it does nothing.

/// The cache line the prefetches step by (64 bytes on every x86-64 processor in use).
#[cfg(all(target_arch = "x86_64", not(miri)))]
const LINE: usize = 64;

/// The most bytes of one value prefetched: a scrape asks for a few series ahead, and what it
/// asks for should stay within the core's first caches until read (a series of the Raft schema
/// is under 4 KiB). A larger value's rest comes in with the processor's own stream prefetching
/// once its reads begin.
const MOST: usize = 8 << 10;

/// Prefetches the cache lines of `value` (its own bytes, not what it points to), up to
/// [`MOST`] bytes.
#[inline]
pub(crate) fn value<T: ?Sized>(value: &T) {
    bytes(core::ptr::from_ref(value).cast::<u8>(), core::mem::size_of_val(value).min(MOST));
}

/// Prefetches the cache lines of the `len` bytes from `start`.
#[inline]
fn bytes(start: *const u8, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let mut offset = 0;
        while offset < len {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 processor has (the target's
            // baseline enables it). A prefetch reads nothing the program can observe and never
            // faults, whatever the address; `wrapping_add` forms it without a bounds claim.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset).cast::<i8>()) };
            offset += LINE;
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = (start, len);
}
