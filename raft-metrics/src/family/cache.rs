//! A small per-thread cache from label bytes to series, in front of the fingerprint table.
//!
//! The integration-guide style `set_commit_index(topic, partition, v)` resolves the same few label
//! sets over and over on one thread. A hit here compares the key's words (at most 8) and skips the
//! 128-bit hash and the table probe.
//!
//! An entry names its family by a process-unique id, never reused, so an entry can only be read
//! back by the family that wrote it. It also records the series' `state` (generation) as it was
//! when the series was found holding the key, and the caller uses the entry only if the series'
//! state is still that value: removal changes the state, so a hit never returns a series that was
//! removed before the check. Removing one label set leaves every other entry valid.
//!
//! Every filled entry holds a real pin on its series (a count in `Series::handles`, taken with
//! the pin protocol on the miss that filled it) and a strong reference to the family, so the
//! slot is never reused for another label set while the entry exists and the later unpin never
//! touches freed memory. A [`Pinned`](super::Pinned) made from a hit only bumps the entry's
//! `in_use`, a plain thread-local count: no atomic read-modify-write on the hot path. An entry
//! in use is never replaced; the miss that wanted its place pins on its own instead. An entry is
//! released (unpinned, family reference dropped) when it is replaced, and when the thread exits
//! unless it is still in use then, in which case its pin is leaked: that slot is never reused,
//! which is safe, and costs at most `ENTRIES` series per thread.

use core::cell::UnsafeCell;

use crate::label::CACHE_KEY_WORDS;

const ENTRIES: usize = 64;

/// What an entry does with its type-erased family (`Arc::as_ptr`) and series.
#[derive(Clone, Copy)]
pub(super) struct Ops {
    /// Counts one more strong reference to a live family.
    pub(super) retain: unsafe fn(owner: *const ()),
    /// Gives back the pin on a series of a family the entry still holds.
    pub(super) unpin: unsafe fn(series: *const ()),
    /// Gives back a strong reference counted by `retain`.
    pub(super) drop_owner: unsafe fn(owner: *const ()),
}

pub(super) struct Entry {
    /// 0 for an empty entry; family ids start at 1.
    family: u64,
    key: [u64; CACHE_KEY_WORDS],
    pub(super) series: *const (),
    /// The series' `state` when it was found holding `key`.
    pub(super) state: u64,
    /// Live `Pinned`s made from this entry (this thread's only).
    pub(super) in_use: usize,
    /// The family (`Arc::as_ptr`), one strong reference of which the entry holds.
    owner: *const (),
    ops: Option<Ops>,
}

const EMPTY: Entry = Entry {
    family: 0,
    key: [0; CACHE_KEY_WORDS],
    series: core::ptr::null(),
    state: 0,
    in_use: 0,
    owner: core::ptr::null(),
    ops: None,
};

thread_local! {
    // No destructor of its own, so a hit pays no registration check; `Cleanup` releases it.
    static CACHE: UnsafeCell<[Entry; ENTRIES]> = const { UnsafeCell::new([EMPTY; ENTRIES]) };
    static CLEANUP: Cleanup = const { Cleanup };
}

/// Releases this thread's entries when it exits (registered by the first fill).
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        // A const thread-local without a destructor stays accessible during thread exit.
        let _ = CACHE.try_with(|cache| {
            let base = cache.get().cast::<Entry>();
            for i in 0..ENTRIES {
                // SAFETY: `i < ENTRIES`; the cache is this thread's own, accessed only through
                // raw pointers, and nothing else runs on this thread meanwhile.
                let entry = unsafe { base.add(i) };
                // SAFETY: as above.
                unsafe {
                    // Entries still in use keep their pin (leaked): their slot is never reused.
                    if (*entry).in_use == 0 {
                        let old = core::ptr::replace(entry, EMPTY);
                        let old = Old { family: old.family, series: old.series, owner: old.owner, ops: old.ops };
                        release(&old, false);
                    } else {
                        // A hit on it can still occur; no fill replaces it any more.
                        (*entry).family = u64::MAX;
                    }
                }
            }
        });
    }
}

/// What releasing a replaced entry needs.
struct Old {
    family: u64,
    series: *const (),
    owner: *const (),
    ops: Option<Ops>,
}

/// Unpins the entry's series, then drops its family reference unless `keep_owner`.
///
/// # Safety
/// `entry` was filled by `put` (or is empty) and has just been taken out of the cache.
unsafe fn release(entry: &Old, keep_owner: bool) {
    if let Some(ops) = entry.ops {
        // SAFETY: `put`'s caller gave an owner it counted and a series it pinned, matching `ops`;
        // the series is unpinned while the family reference still keeps it alive.
        unsafe {
            (ops.unpin)(entry.series);
            if !keep_owner {
                (ops.drop_owner)(entry.owner);
            }
        }
    }
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

/// The entry for `key` in `family`, if cached. The caller checks its `state` against the
/// series' before using it. The pointer stays valid for the thread's lifetime; it must only be
/// used on this thread, through raw accesses.
#[inline(always)]
pub(super) fn get(family: u64, key: &[u64; CACHE_KEY_WORDS]) -> Option<*mut Entry> {
    CACHE.with(|cache| {
        // SAFETY: in bounds (`slot < ENTRIES`); the cache is this thread's own and only ever
        // accessed through raw pointers, so no reference to it is invalidated or outstanding.
        let entry = unsafe { cache.get().cast::<Entry>().add(slot(family, key)) };
        // SAFETY: as above; reading plain fields.
        let (stored, words) = unsafe { ((*entry).family, &(*entry).key) };
        // A branch-free word compare: array `==` would call memcmp.
        let differs = words.iter().zip(key).fold(stored ^ family, |acc, (a, b)| acc | (a ^ b));
        (differs == 0).then_some(entry)
    })
}

/// Stores `series` for `key` in `family`, as found holding `key` while its state was `state`,
/// with one use already counted, and returns the entry. Takes over the caller's pin on `series`
/// and counts a strong reference to the family `owner` (alive: the caller borrows it), both
/// given back through `ops` when the entry is released. Returns `None`, taking nothing, if the
/// place is in use or the thread is exiting.
#[inline(never)]
pub(super) fn put(
    family: u64,
    key: &[u64; CACHE_KEY_WORDS],
    series: *const (),
    state: u64,
    owner: *const (),
    ops: Ops,
) -> Option<*mut Entry> {
    // Registers the destructor; fails once the thread is exiting.
    CLEANUP.try_with(|_| ()).ok()?;
    let (entry, old) = CACHE.with(|cache| {
        // SAFETY: as in `get`.
        let entry = unsafe { cache.get().cast::<Entry>().add(slot(family, key)) };
        // SAFETY: as in `get`: raw field accesses to this thread's entry. A `Pinned` from the
        // entry keeps it (and its pin) in place. Field by field, not a whole-entry copy: the
        // miss path runs for every lookup of a working set larger than the cache.
        unsafe {
            if (*entry).in_use != 0 {
                return None;
            }
            let old =
                Old { family: (*entry).family, series: (*entry).series, owner: (*entry).owner, ops: (*entry).ops };
            (*entry).family = family;
            (*entry).key = *key;
            (*entry).series = series;
            (*entry).state = state;
            (*entry).in_use = 1;
            (*entry).owner = owner;
            (*entry).ops = Some(ops);
            Some((entry, old))
        }
    })?;
    // The same family: the old entry's reference carries over to the new one.
    let same_family = old.family == family;
    if !same_family {
        // SAFETY: the caller borrows the family, so it is alive.
        unsafe { (ops.retain)(owner) };
    }
    // Outside the cache access: releasing may drop the last reference to a family.
    // SAFETY: `old` was filled by `put` (or is empty) and is out of the cache now.
    unsafe { release(&old, same_family) };
    Some(entry)
}
