//! A small per-thread cache from label bytes to series, in front of the fingerprint table.
//!
//! The integration-guide style `set_commit_index(topic, partition, v)` resolves the same few label
//! sets over and over on one thread. A hit here compares the key's words (at most 8) and skips the
//! 128-bit hash and the table probe.
//!
//! An entry names its family by a process-unique id, never reused, so an entry can only be read
//! back by the family that wrote it, and it is valid only while that family's removal count is
//! unchanged: a removal (or the reuse of a removed slot, which follows one) invalidates every
//! entry of the family. A lookup that races with a removal on another thread can still see the old
//! count and use the removed series once, exactly like an uncached lookup racing the same removal.

use core::cell::UnsafeCell;

use crate::label::CACHE_KEY_WORDS;

const ENTRIES: usize = 64;

#[derive(Clone, Copy)]
struct Entry {
    /// 0 for an empty entry; family ids start at 1.
    family: u64,
    removals: u64,
    key: [u64; CACHE_KEY_WORDS],
    series: *const (),
}

const EMPTY: Entry = Entry { family: 0, removals: 0, key: [0; CACHE_KEY_WORDS], series: core::ptr::null() };

thread_local! {
    static CACHE: UnsafeCell<[Entry; ENTRIES]> = const { UnsafeCell::new([EMPTY; ENTRIES]) };
}

#[inline(always)]
fn slot(family: u64, key: &[u64; CACHE_KEY_WORDS]) -> usize {
    // The family and the first content word pick the slot; collisions only cost a miss.
    let mixed = (family ^ key[0] ^ key[1]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // The top bits of a multiplicative hash are the well-mixed ones.
    #[allow(clippy::cast_possible_truncation)]
    let index = (mixed >> 58) as usize;
    index % ENTRIES
}

/// The series cached for `key` in `family`, if still valid at `removals`.
#[inline(always)]
pub(super) fn get(family: u64, removals: u64, key: &[u64; CACHE_KEY_WORDS]) -> Option<*const ()> {
    CACHE.with(|cache| {
        // SAFETY: the cache is this thread's own and no reference to it outlives this closure;
        // nothing called while it is borrowed can re-enter it.
        let entry = unsafe { &(*cache.get())[slot(family, key)] };
        // A branch-free word compare: array `==` would call memcmp.
        let differs = entry
            .key
            .iter()
            .zip(key)
            .fold((entry.family ^ family) | (entry.removals ^ removals), |acc, (a, b)| acc | (a ^ b));
        (differs == 0).then_some(entry.series)
    })
}

/// Remembers `series` for `key` in `family`, as found while the family had `removals` removals.
#[inline]
pub(super) fn put(family: u64, removals: u64, key: &[u64; CACHE_KEY_WORDS], series: *const ()) {
    CACHE.with(|cache| {
        // SAFETY: as in `get`.
        let entry = unsafe { &mut (*cache.get())[slot(family, key)] };
        *entry = Entry { family, removals, key: *key, series };
    });
}
