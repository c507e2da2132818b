//! A per-thread direct index in front of the lookup cache, for label sets of one or two values
//! that end in an integer, the guide's `(topic, partition)`, and of three whose second is one,
//! `(topic, partition, peer)`, indexed by the partition under the prefix `(topic, peer)` (see
//! `LabelValues::feed_split`).
//!
//! A thread that serves many partitions resolves `(topic, p)` for every `p` in turn. The cache
//! (`cache`) answers each from its hash table, hashing and comparing the whole key; here the
//! label values before the integer (the prefix, `topic`) are compared once against the row that
//! the family last used them with, and the integer indexes the row: about half the
//! instructions of a cache hit, and a row's slots are 16 bytes, so a thousand partitions' fit in
//! the first-level data cache where the cache's entries (104 bytes) do not.
//!
//! A row holds no pins and no family references: each slot copies a cache entry (the series and
//! its recorded state) and is stamped with the cache's epoch at the copy. The entry pins the
//! series (wherever the cache moves it), and the cache moves its epoch on before it releases
//! entries together, and empties the one slot that may copy an entry it releases alone
//! ([`forget`]), so a slot whose stamp equals the current epoch names a series its entry still
//! pins; the recorded state then tells, as in the cache, whether the series was removed since.
//! So a row only ever needs to be freed, at thread exit with the cache.
//!
//! Rows are direct-mapped by family id and prefix ([`ROWS`] of them, see [`row_of`]), and a row
//! keeps one prefix: another prefix takes the row over only after [`TAKEOVER_AFTER`] fills in a row
//! while the row's own prefix is not used, so two topics used in turn keep the row on one of them
//! instead of each clearing it for the other. Memory is bounded: integers from [`SPAN`] up are not
//! indexed, and a row's slots grow (doubling) only as far as the largest integer filled, so at most
//! `ROWS × SPAN × 16` bytes (4 MiB) per thread, and as much as the largest partition number needs
//! in practice. Hand-written for the same reason as the cache: a hit must be a few instructions.

use core::cell::UnsafeCell;

use super::cache;
use crate::label::CACHE_KEY_WORDS;

/// Rows per thread.
const ROWS: usize = 32;
/// Integers from this one up are looked up in the cache only.
pub(super) const SPAN: u64 = 1 << 13;
/// Fills into a row held by another prefix, while that prefix is not used, before it gives way.
const TAKEOVER_AFTER: u32 = 16;
/// A row's first allocation, in slots.
const MIN_SLOTS: usize = 16;
/// The words of a prefix a row keeps: one label value's, at most (a string of up to 32 bytes
/// is 5, see `KeyBuilder::str`). A lookup's words past these are known to be zero where it is
/// inlined, so a hit compares 5 words rather than the cache's 8.
const PREFIX_WORDS: usize = 5;

#[derive(Clone, Copy)]
struct Slot {
    series: *const (),
    /// The low half of the state the cache entry recorded. While the entry pins the series the
    /// state changes at most once (a removal; reuse needs the pin gone), so the low half tells
    /// as much as the whole.
    state: u32,
    /// The cache's epoch when copied; 0 for an empty slot (the epoch is never 0).
    stamp: u32,
}

const EMPTY: Slot = Slot { series: core::ptr::null(), state: 0, stamp: 0 };

struct Row {
    /// 0 while unused; family ids start at 1.
    family: u64,
    prefix: [u64; PREFIX_WORDS],
    /// `len` slots, or dangling while `len` is 0.
    slots: *mut Slot,
    len: usize,
    /// Fills for other prefixes since this prefix was last used (a hit or a fill).
    contested: u32,
}

const UNUSED: Row = Row { family: 0, prefix: [0; PREFIX_WORDS], slots: core::ptr::null_mut(), len: 0, contested: 0 };

thread_local! {
    // No destructor of its own (a hit pays no registration check): the cache's thread-exit
    // cleanup calls `release`.
    static TABLE: UnsafeCell<[Row; ROWS]> = const { UnsafeCell::new([UNUSED; ROWS]) };
}

#[cfg(test)]
thread_local! {
    /// Slots filled on this thread, for tests of the hit rate.
    static FILLS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// The row for `prefix` in `family`, whose index was the `middle` value of three (`(topic,
/// partition, peer)`, the prefix `(topic, peer)`) or the last. The last: a row per family (ids
/// are handed out in sequence, so the families of one registry rarely share a row). The middle:
/// a row per family and value after the index, that value's words moving the row, so that a
/// thread setting each partition's peers in turn keeps a row for each peer. `middle` is known
/// where a lookup is compiled, so the rows of the last pay nothing for it.
#[inline(always)]
fn row_of(family: u64, prefix: &[u64; CACHE_KEY_WORDS], middle: bool) -> *mut Row {
    // After a string of up to 16 bytes the words are an integer's tag, 1, and the id: node ids 1
    // to 5 land 0, 27, 18, 13 and 4 rows past the family's, clear of the families registered
    // just after it. The multiply by 9 is one address computation.
    let moved = if middle { (prefix[3] ^ prefix[4]).wrapping_mul(9) } else { 0 };
    #[allow(clippy::cast_possible_truncation)] // the low bits pick the row
    row_at(family.wrapping_add(moved) as usize % ROWS)
}

/// The row at `at` (below `ROWS`) of this thread's table; the pointer is used only through raw
/// accesses on this thread.
#[inline(always)]
fn row_at(at: usize) -> *mut Row {
    debug_assert!(at < ROWS);
    // SAFETY: `at < ROWS` (callers take it modulo `ROWS` or count below it).
    TABLE.with(|table| unsafe { table.get().cast::<Row>().add(at) })
}

#[inline(always)]
fn holds(row: &Row, family: u64, prefix: &[u64; CACHE_KEY_WORDS]) -> bool {
    let ([a, b, c, d, e], rest) = split(prefix);
    // Branch-free, as `cache::same_key`.
    let differs = (row.family ^ family)
        | (row.prefix[0] ^ a)
        | (row.prefix[1] ^ b)
        | (row.prefix[2] ^ c)
        | (row.prefix[3] ^ d)
        | (row.prefix[4] ^ e)
        | rest.iter().fold(0, |acc, word| acc | word);
    differs == 0
}

/// The words a row keeps of `prefix`, if it has no more.
fn kept(prefix: &[u64; CACHE_KEY_WORDS]) -> Option<[u64; PREFIX_WORDS]> {
    let (kept, rest) = split(prefix);
    rest.iter().all(|&word| word == 0).then_some(kept)
}

#[inline(always)]
fn split(prefix: &[u64; CACHE_KEY_WORDS]) -> ([u64; PREFIX_WORDS], [u64; CACHE_KEY_WORDS - PREFIX_WORDS]) {
    let [a, b, c, d, e, f, g, h] = *prefix;
    ([a, b, c, d, e], [f, g, h])
}

/// The series at `index` of `family`'s row for `prefix` (`middle`: see [`row_of`]), if its cache
/// entry still pins it and `accept(series, state)` takes it; then one guard is counted in the
/// cache, given back with `cache::end_use`. `accept` compares the low half of the series' current
/// state.
#[inline(always)]
pub(super) fn get(
    family: u64,
    prefix: &[u64; CACHE_KEY_WORDS],
    index: u64,
    middle: bool,
    accept: impl FnOnce(*const (), u32) -> bool,
) -> Option<*const ()> {
    let row = row_of(family, prefix, middle);
    // SAFETY: this thread's row, raw accesses only; `index < len` keeps the slot read inside the
    // row's `len` slots.
    unsafe {
        if !holds(&*row, family, prefix) {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)] // below `len`, a `usize`
        let slot = match index < (*row).len as u64 {
            true => *(*row).slots.add(index as usize),
            false => return None,
        };
        if slot.stamp != cache::epoch() || !accept(slot.series, slot.state) {
            return None;
        }
        (*row).contested = 0;
        cache::begin_use();
        Some(slot.series)
    }
}

/// Copies a cache entry of `family` (full key `prefix` then `index`, `index < SPAN`) into the
/// row: `series` and the `state` recorded with it. The entry must exist now, unchanged since the
/// caller read it from the cache or stored it there, so that the current epoch vouches for it.
#[inline(never)]
pub(super) fn fill(
    family: u64,
    prefix: &[u64; CACHE_KEY_WORDS],
    index: u64,
    middle: bool,
    series: *const (),
    state: u64,
) {
    debug_assert!(index < SPAN);
    #[allow(clippy::cast_possible_truncation)] // below `SPAN`
    let index = index as usize;
    let Some(kept) = kept(prefix) else { return };
    let row = row_of(family, prefix, middle);
    // SAFETY: this thread's row, raw accesses only; slots are written below `len` after `grow`.
    unsafe {
        if holds(&*row, family, prefix) {
            (*row).contested = 0;
        } else {
            if (*row).family != 0 {
                (*row).contested += 1;
                if (*row).contested < TAKEOVER_AFTER {
                    return;
                }
            }
            // The row changes hands: its old slots must not answer for the new prefix.
            for i in 0..(*row).len {
                *(*row).slots.add(i) = EMPTY;
            }
            (*row).family = family;
            (*row).prefix = kept;
            (*row).contested = 0;
        }
        if index >= (*row).len {
            grow(row, index + 1);
        }
        #[allow(clippy::cast_possible_truncation)] // the low half, see `Slot::state`
        let state = state as u32;
        *(*row).slots.add(index) = Slot { series, state, stamp: cache::epoch() };
        #[cfg(test)]
        FILLS.with(|fills| fills.set(fills.get() + 1));
    }
}

/// Grows the row to at least `needed` slots (at most `SPAN`), the new ones empty.
///
/// # Safety
/// `row` is this thread's; `needed <= SPAN`.
#[cold]
unsafe fn grow(row: *mut Row, needed: usize) {
    #[allow(clippy::cast_possible_truncation)] // `SPAN` is small
    let len = needed.next_power_of_two().clamp(MIN_SLOTS, SPAN as usize);
    let mut slots = vec![EMPTY; len];
    // SAFETY: as the caller promises; the old slots are `len` valid ones from `allocate`.
    unsafe {
        let old = (*row).len;
        if old != 0 {
            slots[..old].copy_from_slice(core::slice::from_raw_parts((*row).slots, old));
            free((*row).slots, old);
        }
        (*row).slots = Box::into_raw(slots.into_boxed_slice()).cast::<Slot>();
        (*row).len = len;
    }
}

/// # Safety
/// `slots` came from `grow` with `len` slots and is not used afterwards.
unsafe fn free(slots: *mut Slot, len: usize) {
    // SAFETY: as the caller promises; `Slot` has no destructor.
    drop(unsafe { Box::from_raw(core::ptr::slice_from_raw_parts_mut(slots, len)) });
}

/// Empties the slot of `family`'s row that may copy the cache entry for the full key `key` and
/// `series`, which the cache is about to release on its own (without moving its epoch on).
///
/// A slot copies an entry of its row's family at the index of the entry's key (the key's words are
/// the prefix's, then the index as an integer value: two words, the second the index), in the row
/// of that prefix. The prefix's length is not stored, so each place the index could be in is tried,
/// with the prefix before it and either row, and a slot is emptied if it names `series`: only the
/// entry's own slot can (one series, one label set, one split key, and a row's slots are all its
/// family's), and emptying any slot is always safe.
pub(super) fn forget(family: u64, key: &[u64; CACHE_KEY_WORDS], series: *const ()) {
    // A kept prefix has at most `PREFIX_WORDS` words, so the index is one of these.
    for at in 1..=PREFIX_WORDS + 1 {
        let index = key[at];
        let mut prefix = [0; CACHE_KEY_WORDS];
        prefix[..at - 1].copy_from_slice(&key[..at - 1]);
        for middle in [false, true] {
            let row = row_of(family, &prefix, middle);
            // SAFETY: this thread's row, raw accesses, within its `len` slots.
            unsafe {
                if (*row).family == family && index < (*row).len as u64 {
                    #[allow(clippy::cast_possible_truncation)] // below `len`, a `usize`
                    let slot = (*row).slots.add(index as usize);
                    if (*slot).series == series {
                        *slot = EMPTY;
                    }
                }
            }
        }
    }
}

/// Empties every slot of every row (the cache's epoch wrapped around).
pub(super) fn clear() {
    for at in 0..ROWS {
        let row = row_at(at);
        // SAFETY: this thread's row, raw accesses, within its `len` slots.
        unsafe {
            for i in 0..(*row).len {
                *(*row).slots.add(i) = EMPTY;
            }
        }
    }
}

/// Frees every row (the thread is exiting): later lookups on this thread find no slot.
pub(super) fn release() {
    for at in 0..ROWS {
        let row = row_at(at);
        // SAFETY: this thread's row, raw accesses; the slots are freed once and forgotten.
        unsafe {
            if (*row).len != 0 {
                free((*row).slots, (*row).len);
            }
            *row = UNUSED;
        }
    }
}

/// Slots filled on this thread so far, for tests.
#[cfg(test)]
pub(super) fn fills() -> u64 {
    FILLS.with(core::cell::Cell::get)
}

/// The series that this thread's slots stamped with the current epoch name, for tests.
#[cfg(test)]
pub(super) fn current() -> Vec<*const ()> {
    let epoch = cache::epoch();
    let mut named = Vec::new();
    for at in 0..ROWS {
        let row = row_at(at);
        // SAFETY: this thread's row, raw reads within its `len` slots.
        unsafe {
            for i in 0..(*row).len {
                let slot = *(*row).slots.add(i);
                if slot.stamp == epoch {
                    named.push(slot.series);
                }
            }
        }
    }
    named
}

/// The slots allocated in `family`'s rows on this thread, for tests of the bound.
#[cfg(test)]
pub(super) fn slots(family: u64) -> usize {
    // SAFETY: this thread's rows, raw reads.
    (0..ROWS).map(row_at).filter(|&row| unsafe { (*row).family } == family).map(|row| unsafe { (*row).len }).sum()
}

#[cfg(test)]
mod tests {
    use super::{fills, SPAN, TAKEOVER_AFTER};
    use crate::{Counter, Family, MetricInfo, Registry};

    /// Partitions per test: a Raft thread's, at a size Miri finishes.
    const PARTITIONS: u32 = if cfg!(miri) { 20 } else { 2048 };

    fn register<const N: usize>(registry: &Registry, name: &str, labels: [&str; N]) -> Family<Counter, N> {
        registry.register_with::<Counter, N>(MetricInfo::new(name, "help"), labels, ()).expect("register")
    }

    fn family(registry: &Registry, name: &str) -> Family<Counter, 2> {
        register(registry, name, ["topic", "partition"])
    }

    fn on_a_thread(test: impl FnOnce() + Send + 'static) {
        std::thread::spawn(test).join().unwrap();
    }

    /// After one pass over the partitions every lookup is answered by the row (no fill), and
    /// every write lands in its own series.
    #[test]
    fn a_thread_cycling_partitions_is_answered_by_the_row_from_the_second_pass() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_total");
            for p in 0..PARTITIONS {
                f.get(("orders", p)).inc();
            }
            assert_eq!(fills(), u64::from(PARTITIONS));
            for round in 1..4 {
                for p in 0..PARTITIONS {
                    f.get(("orders", p)).add(round);
                }
            }
            assert_eq!(fills(), u64::from(PARTITIONS), "a lookup missed the row after the first pass");
            for p in 0..PARTITIONS {
                assert_eq!(f.get(("orders", p)).get(), 1 + 1 + 2 + 3);
                assert_eq!(f.get(("orders", p.to_string().as_str())).get(), 1 + 1 + 2 + 3, "the string spelling");
            }
        });
    }

    fn peer_family(registry: &Registry, name: &str) -> Family<Counter, 3> {
        register(registry, name, ["topic", "partition", "peer"])
    }

    /// A leader's thread setting each partition's two followers in turn: after one pass every
    /// lookup is answered by the rows (a row per peer), and every write lands in its own series.
    #[test]
    fn a_thread_walking_each_partitions_peers_is_answered_by_the_rows_from_the_second_pass() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = peer_family(&registry, "rows_peers_total");
            for p in 0..PARTITIONS {
                for peer in [2u64, 3] {
                    f.get(("orders", p, peer)).inc();
                }
            }
            assert_eq!(fills(), 2 * u64::from(PARTITIONS));
            let missed = crate::family::lookup::missed();
            for round in 1..4 {
                for p in 0..PARTITIONS {
                    for peer in [2u64, 3] {
                        f.get(("orders", p, peer)).add(round * peer);
                    }
                }
            }
            assert_eq!(fills(), 2 * u64::from(PARTITIONS), "a lookup missed the rows after the first pass");
            assert_eq!(crate::family::lookup::missed(), missed, "a lookup went past the rows");
            assert_eq!(f.len(), 2 * PARTITIONS as usize);
            for p in 0..PARTITIONS {
                for peer in [2u64, 3] {
                    assert_eq!(f.get(("orders", p, peer)).get(), 1 + 6 * peer);
                    assert_eq!(
                        f.get(("orders", p.to_string().as_str(), peer)).get(),
                        1 + 6 * peer,
                        "the string spelling"
                    );
                }
            }
        });
    }

    /// Three values are cached in the split's order, `(topic, peer, partition)`: such a key is
    /// never the declared-order key of another label set (`("t", "7", 9)` is fed as `t, 7, 9`,
    /// as `("t", 9, 7)` split would be without its index's out-of-place mark), and a lookup
    /// finds the series that `bind`, which fingerprints in the declared order, finds.
    #[test]
    fn a_split_key_is_no_other_label_sets_key() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = peer_family(&registry, "rows_split_total");
            for _ in 0..2 {
                f.get(("t", "7", 9u64)).inc();
                f.get(("t", 9u32, 7u64)).inc();
            }
            assert_eq!(f.get(("t", "7", 9u64)).get(), 2);
            assert_eq!(f.get(("t", 9u32, 7u64)).get(), 2);
            assert_eq!(f.get(("t", 7u32, 9u64)).get(), 2, "the split spelling of the first");
            assert_eq!(f.get(("t", "9", 7u64)).get(), 2, "the declared spelling of the second");
            let bound = f.bind(("t", 5u32, 2u64));
            f.get(("t", 5u32, 2u64)).inc();
            f.get(("t", 5u32, 2u64)).inc();
            assert_eq!(bound.get(), 2);
            assert_eq!(f.len(), 3);
        });
    }

    /// A topic that starts like an integer (`2024-orders`, `7`) leaves the quick key to a full
    /// build out of line: still answered by the row after one pass, and `"7"` and `7` still name
    /// one series.
    #[test]
    fn a_prefix_that_starts_like_an_integer_is_answered_by_the_row() {
        on_a_thread(|| {
            let registry = Registry::new();
            let topics = ["2024-orders", "7", "-"];
            let families: Vec<_> =
                (0..topics.len()).map(|i| family(&registry, &format!("rows_digits_{i}_total"))).collect();
            for (f, topic) in families.iter().zip(topics) {
                for p in 0..PARTITIONS {
                    f.get((topic, p)).inc();
                }
            }
            let filled = fills();
            for (f, topic) in families.iter().zip(topics) {
                for p in 0..PARTITIONS {
                    f.get((topic, p)).inc();
                }
            }
            assert_eq!(fills(), filled, "a lookup missed the row after the first pass");
            assert_eq!(families[1].get(("7", 3u32)).get(), 2);
            assert_eq!(families[1].get((7u64, 3u32)).get(), 2, "the integer spelling");
            assert!(families.iter().all(|f| f.len() == PARTITIONS as usize));
        });
    }

    /// A topic that spells an integer names the integer's series, and one that only starts
    /// like it names its own, whichever the row holds: the quick key's unparsed spelling of
    /// `"7"` never answers for another prefix.
    #[test]
    fn a_topic_that_spells_an_integer_never_takes_another_prefix_series() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_spelled_total");
            for round in 0..3u64 {
                for p in 0..PARTITIONS {
                    f.get(("7", p)).inc();
                    f.get((7u32, p)).add(10);
                    f.get(("07", p)).add(100);
                    f.get(("-7", p)).add(1000);
                    f.get((-7i64, p)).add(10_000);
                    f.get(("-07", p)).add(100_000);
                }
                for p in 0..PARTITIONS {
                    let n = round + 1;
                    assert_eq!(f.get(("7", p)).get(), 11 * n);
                    assert_eq!(f.get(("07", p)).get(), 100 * n);
                    assert_eq!(f.get(("-7", p)).get(), 11_000 * n);
                    assert_eq!(f.get(("-07", p)).get(), 100_000 * n);
                }
            }
            assert_eq!(f.len(), 4 * PARTITIONS as usize);
        });
    }

    /// A label set removed after its row slot was filled is not found through the slot: the
    /// next lookup creates the series again, starting from zero.
    #[test]
    fn a_removed_series_is_not_found_through_its_row() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_removed_total");
            f.get(("orders", 5u32)).add(10);
            f.get(("orders", 5u32)).add(10);
            let filled = fills();
            assert!(f.remove(("orders", 5u32)));
            f.get(("orders", 5u32)).inc();
            assert_eq!(f.get(("orders", 5u32)).get(), 1, "a write went to the removed series");
            assert_eq!(fills(), filled + 1, "the slot was filled again for the new series");
            assert_eq!(f.len(), 1);
        });
    }

    /// When the cache releases or moves entries (here: entries of removed series released as
    /// the table makes room), every row slot stops answering and is filled again from the
    /// cache, and lookups stay exact.
    #[test]
    fn the_cache_releasing_entries_empties_the_rows() {
        on_a_thread(|| {
            let registry = Registry::new();
            let kept = family(&registry, "rows_kept_total");
            let churned = family(&registry, "rows_churned_total");
            for p in 0..PARTITIONS {
                kept.get(("orders", p)).inc();
            }
            // Label sets that come and go in another family, until the cache has purged them.
            for round in 0..if cfg!(miri) { 2u32 } else { 4 } {
                let topic = format!("t{round}");
                for p in 0..PARTITIONS * 2 {
                    churned.get((topic.as_str(), p)).inc();
                }
                for p in 0..PARTITIONS * 2 {
                    assert!(churned.remove((topic.as_str(), p)));
                }
            }
            let filled = fills();
            for p in 0..PARTITIONS {
                kept.get(("orders", p)).inc();
            }
            assert_eq!(fills(), filled + u64::from(PARTITIONS), "a slot outlived the cache's purge");
            for p in 0..PARTITIONS {
                assert_eq!(kept.get(("orders", p)).get(), 2);
            }
        });
    }

    /// Two topics used in turn: the row stays with one of them (its lookups answered by the
    /// row), the other resolves through the cache, and neither clears the row for the other.
    #[test]
    fn two_prefixes_used_in_turn_keep_the_row_on_one() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_two_topics_total");
            for p in 0..PARTITIONS {
                f.get(("orders", p)).inc();
                f.get(("payments", p)).inc();
            }
            let filled = fills();
            for _ in 0..3 {
                for p in 0..PARTITIONS {
                    f.get(("orders", p)).inc();
                    f.get(("payments", p)).inc();
                }
            }
            assert_eq!(fills(), filled, "the row changed hands");
            for p in 0..PARTITIONS {
                assert_eq!(f.get(("orders", p)).get(), 4);
                assert_eq!(f.get(("payments", p)).get(), 4);
            }
        });
    }

    /// A prefix used alone for long enough takes the row over.
    #[test]
    fn a_prefix_used_alone_takes_the_row_over() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_takeover_total");
            f.get(("orders", 0u32)).inc();
            let partitions = TAKEOVER_AFTER * 2;
            for p in 0..partitions {
                f.get(("payments", p)).inc();
            }
            let filled = fills();
            for p in 0..partitions {
                f.get(("payments", p)).inc();
            }
            // Filled again once each after the takeover, then answered by the row.
            assert!(fills() - filled <= u64::from(TAKEOVER_AFTER), "{} fills", fills() - filled);
            let filled = fills();
            for p in 0..partitions {
                f.get(("payments", p)).inc();
            }
            assert_eq!(fills(), filled);
            assert_eq!(f.get(("orders", 0u32)).get(), 1);
            for p in 0..partitions {
                assert_eq!(f.get(("payments", p)).get(), 3);
            }
        });
    }

    /// A row's memory is bounded by `SPAN` slots whatever the integers, and follows the largest
    /// one used below it.
    #[test]
    fn a_row_never_grows_past_the_span() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_bound_total");
            f.get(("orders", 5u32)).inc();
            assert_eq!(super::slots(f.id), 16, "the first allocation");
            f.get(("orders", 100u32)).inc();
            assert_eq!(super::slots(f.id), 128, "doubled to the largest integer used");
            for p in [SPAN - 1, SPAN, SPAN + 1, u64::MAX / 2, u64::MAX] {
                f.get(("orders", p)).inc();
            }
            assert_eq!(super::slots(f.id), SPAN as usize);
            assert_eq!(f.get(("orders", SPAN - 1)).get(), 1);
            assert_eq!(f.get(("orders", u64::MAX)).get(), 1);
        });
    }

    /// Integers from `SPAN` up, and label sets without a trailing integer, are looked up in the
    /// cache alone; memory stays bounded whatever the integers.
    #[test]
    fn integers_past_the_span_are_not_indexed() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_span_total");
            let far = [SPAN, SPAN + 1, u64::MAX / 3, u64::MAX];
            for _ in 0..2 {
                for p in far {
                    f.get(("orders", p)).inc();
                }
                f.get(("orders", "seven")).inc();
            }
            assert_eq!(fills(), 0);
            for p in far {
                assert_eq!(f.get(("orders", p)).get(), 2);
            }
            assert_eq!(f.get(("orders", "seven")).get(), 2);
        });
    }

    /// When the cache's epoch wraps around, every row slot is emptied, so a stamp from before
    /// the wrap can never match again.
    #[test]
    fn the_epoch_wrapping_around_empties_every_row() {
        on_a_thread(|| {
            let registry = Registry::new();
            let f = family(&registry, "rows_wrap_total");
            // Stamped with the thread's first epoch: nothing was released yet.
            for p in 0..PARTITIONS {
                f.get(("orders", p)).inc();
            }
            let first = super::cache::epoch();
            // As if the cache had released entries 2^32 - 2 times since.
            super::cache::set_epoch(u32::MAX);
            // A label set removed, then the table made room: its entry is released, the one
            // move of the epoch, which wraps it round to the first epoch's value.
            assert!(f.remove(("orders", 0u32)));
            let other = family(&registry, "rows_wrap_other_total");
            for p in 0..PARTITIONS * 4 {
                other.get(("orders", p)).inc();
            }
            assert_eq!(super::cache::epoch(), first, "the epoch wrapped round to the first stamps");
            let filled = fills();
            for p in 1..PARTITIONS {
                f.get(("orders", p)).inc();
            }
            assert_eq!(fills(), filled + u64::from(PARTITIONS - 1), "a slot stamped before the wrap answered");
            for p in 1..PARTITIONS {
                assert_eq!(f.get(("orders", p)).get(), 2);
            }
        });
    }
}
