//! A small per-thread cache from label bytes to series, in front of the fingerprint table.
//!
//! The integration-guide style `set_commit_index(topic, partition, v)` resolves the same few label
//! sets over and over on one thread. A hit here compares the key's words (at most 8) and skips the
//! 128-bit hash and the table probe.
//!
//! An entry names its family by a process-unique id, never reused, so an entry can only be read
//! back by the family that wrote it. It also records the series' `state` (generation) as it was
//! when the series was found holding the key, and the caller uses the entry only if the series'
//! state is still that value: removal and reuse both change the state, so a hit never returns a
//! series that was removed or handed to another label set before the check. Removing one label
//! set leaves every other entry valid.

use core::cell::UnsafeCell;

use crate::label::CACHE_KEY_WORDS;

const ENTRIES: usize = 64;

#[derive(Clone, Copy)]
struct Entry {
    /// 0 for an empty entry; family ids start at 1.
    family: u64,
    key: [u64; CACHE_KEY_WORDS],
    series: *const (),
    /// The series' `state` when it was found holding `key`.
    state: u64,
}

const EMPTY: Entry = Entry { family: 0, key: [0; CACHE_KEY_WORDS], series: core::ptr::null(), state: 0 };

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

/// The series cached for `key` in `family`, with the state it had when it held `key`. The caller
/// checks that state before using the series.
#[inline(always)]
pub(super) fn get(family: u64, key: &[u64; CACHE_KEY_WORDS]) -> Option<(*const (), u64)> {
    CACHE.with(|cache| {
        // SAFETY: the cache is this thread's own and no reference to it outlives this closure;
        // nothing called while it is borrowed can re-enter it.
        let entry = unsafe { &(*cache.get())[slot(family, key)] };
        // A branch-free word compare: array `==` would call memcmp.
        let differs = entry.key.iter().zip(key).fold(entry.family ^ family, |acc, (a, b)| acc | (a ^ b));
        (differs == 0).then_some((entry.series, entry.state))
    })
}

/// Remembers `series` for `key` in `family`, as found holding `key` while its state was `state`.
#[inline]
pub(super) fn put(family: u64, key: &[u64; CACHE_KEY_WORDS], series: *const (), state: u64) {
    CACHE.with(|cache| {
        // SAFETY: as in `get`.
        let entry = unsafe { &mut (*cache.get())[slot(family, key)] };
        *entry = Entry { family, key: *key, series, state };
    });
}
