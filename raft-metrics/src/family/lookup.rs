//! A lookup from label values to a pinned series: the per-thread row (`rows`), then the
//! per-thread cache (`cache`), then the family's lock-free table. The hits are inlined into the
//! caller; every miss is out of line and builds its key again, so a hit never stores its key.
//! A hit on a label set without a trailing index probes the cache once more on the miss (cheap
//! beside the table's lookup that follows), and a key too long for the cache is built twice.

use std::sync::Arc;

#[cfg(not(loom))]
use super::{cache, rows, Series};
use super::{FamilyInner, Pinned};
#[cfg(not(loom))]
use crate::label::CACHE_KEY_WORDS;
use crate::label::{Fingerprint, KeyBuilder, LabelValues};
use crate::metric::Group;

#[cfg(all(test, not(loom)))]
thread_local! {
    /// Lookups on this thread that the inlined hits did not answer, for tests of the hit rate.
    static MISSED: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// Lookups on this thread so far that the inlined hits did not answer, for tests.
#[cfg(all(test, not(loom)))]
pub(super) fn missed() -> u64 {
    MISSED.with(core::cell::Cell::get)
}

impl<G: Group> FamilyInner<G> {
    /// Finds or creates the series for `values` (past the bound, the overflow series) and pins
    /// it for the returned guard: its slot is not reused for another label set until the guard
    /// drops.
    ///
    /// A per-thread cache hit adds no atomic read-modify-write: the cache entry itself holds a
    /// pin on the series (taken on the miss that filled it) and the guard only counts itself in
    /// plain thread-local memory (see `cache`). Every other path takes a pin of
    /// its own with the pin protocol (`Series::pin`), as `bind` does.
    #[inline(always)]
    pub(crate) fn resolve<const N: usize>(self: &Arc<Self>, id: u64, values: &impl LabelValues<N>) -> Pinned<'_, G> {
        match self.hit(id, values) {
            Some(series) => series,
            None => self.resolve_missed(values),
        }
    }

    /// The series for `values` when this thread's row (label values that end in an index) or
    /// cache (the others) holds it; `None` sends the lookup to [`resolve_missed`].
    // Always inlined: with the key's words in registers, a hit is a handful of compares. Nothing
    // of the key outlives the hit: a miss builds it again out of line, so that a hit never
    // stores it.
    #[inline(always)]
    fn hit<const N: usize, V: LabelValues<N>>(&self, id: u64, values: &V) -> Option<Pinned<'_, G>> {
        debug_assert_eq!(id, self.id);
        #[cfg(loom)]
        {
            let _ = values;
            None
        }
        #[cfg(not(loom))]
        {
            let mut key = KeyBuilder::quick();
            match values.feed_split(&mut key) {
                // Rows hold only keys that full builds made, so the quick key's words,
                // unparsed strings and all, find the row's series or miss
                // (`KeyBuilder::spelled`): a topic that starts with a digit is answered here
                // unless it spells an integer, and the hit does not test whether the key was
                // deferred (testing it kept the flag in a register for the whole call, which
                // then saved two more registers on entry).
                Some(index) => key.spelled().and_then(|prefix| self.row_hit(id, prefix, index, V::SPLIT_REORDERS)),
                None => key.cache_key().and_then(|words| self.cache_hit(id, words)),
            }
        }
    }

    /// The series in this thread's row for `prefix` (the values but the index) and `index`,
    /// which was the `middle` value or the last (see `rows::row_of`).
    #[cfg(not(loom))]
    #[inline(always)]
    fn row_hit(&self, id: u64, prefix: &[u64; CACHE_KEY_WORDS], index: u64, middle: bool) -> Option<Pinned<'_, G>> {
        if index >= rows::SPAN {
            return None;
        }
        // Not removed since its cache entry was filled (the state's low half: see `rows::Slot`).
        // It cannot have been reused: the entry pins it.
        let current = |series: *const (), state| {
            // SAFETY: rows only return slots to the family (unique id) that filled them; they
            // point into this family's slab, which lives as long as `self`.
            unsafe { &*series.cast::<Series<G>>() }.is_still_low(state)
        };
        let series = rows::get(id, prefix, index, middle, current)?;
        // SAFETY: as above.
        Some(Pinned::cached(unsafe { &*series.cast::<Series<G>>() }))
    }

    /// The series in this thread's cache for the whole key `words`, and the state recorded
    /// with it.
    #[cfg(not(loom))]
    #[inline(always)]
    fn cache_entry(&self, id: u64, words: &[u64; CACHE_KEY_WORDS]) -> Option<(Pinned<'_, G>, u64)> {
        // Not removed since it was found holding these label values. It cannot have been
        // reused: the entry pins it.
        // SAFETY: entries are only returned to the family (unique id) that stored them; they
        // point into this family's slab, which lives as long as `self`.
        let current = |series: *const (), state| unsafe { &*series.cast::<Series<G>>() }.is_still(state);
        let (series, state) = cache::get(id, words, current)?;
        // SAFETY: as above.
        Some((Pinned::cached(unsafe { &*series.cast::<Series<G>>() }), state))
    }

    #[cfg(not(loom))]
    #[inline(always)]
    fn cache_hit(&self, id: u64, words: &[u64; CACHE_KEY_WORDS]) -> Option<Pinned<'_, G>> {
        self.cache_entry(id, words).map(|(series, _)| series)
    }

    /// What the hits did not answer: the key built in full (a string that spells an integer
    /// taken in as that integer), the row again (the quick key misses it when a string spells
    /// an integer, topic `"7"`), the cache, then the family's table; a cache entry of a label
    /// set with an index is copied into the row.
    #[inline(never)]
    fn resolve_missed<const N: usize, V: LabelValues<N>>(self: &Arc<Self>, values: &V) -> Pinned<'_, G> {
        #[cfg(all(test, not(loom)))]
        MISSED.with(|missed| missed.set(missed.get() + 1));
        let mut key = KeyBuilder::new();
        let index = values.feed_split(&mut key);
        #[cfg(not(loom))]
        {
            let prefix = key.cache_key().copied();
            if let (Some(index), Some(prefix)) = (index, &prefix) {
                if let Some(series) = self.row_hit(self.id, prefix, index, V::SPLIT_REORDERS) {
                    return series;
                }
            }
            match index {
                Some(index) if V::SPLIT_REORDERS => key.index_out_of_place(index),
                Some(index) => key.int(index),
                None => {}
            }
            if let Some(words) = key.cache_key() {
                let (pinned, entry) = match self.cache_entry(self.id, words) {
                    Some((pinned, state)) => (pinned, Some(state)),
                    None => self.resolve_and_cache(values, words, self.split_fingerprint(values, &key, index)),
                };
                if let (Some(state), Some(index), Some(prefix)) = (entry, index, prefix) {
                    if index < rows::SPAN {
                        let series = core::ptr::from_ref(pinned.series()).cast();
                        rows::fill(self.id, &prefix, index, V::SPLIT_REORDERS, series, state);
                    }
                }
                return pinned;
            }
        }
        #[cfg(loom)]
        if let Some(index) = index {
            key.int(index);
        }
        Pinned::held(self.resolve_pinned(values, self.split_fingerprint(values, &key, index)).0)
    }

    /// The family's fingerprint of `values`, whose split key (`index` included) is `key`: that
    /// key's own, unless the split fed the values in another order than the declared one.
    fn split_fingerprint<const N: usize, V: LabelValues<N>>(
        &self,
        values: &V,
        key: &KeyBuilder,
        index: Option<u64>,
    ) -> Fingerprint {
        if V::SPLIT_REORDERS && index.is_some() {
            self.fingerprint(values)
        } else {
            key.finish(self.seed)
        }
    }

    /// The cache-miss path: resolves and pins, then hands the pin to a cache entry. Returns the
    /// state recorded in the entry when one was filled.
    #[cfg(not(loom))]
    #[inline(never)]
    fn resolve_and_cache<const N: usize>(
        self: &Arc<Self>,
        values: &impl LabelValues<N>,
        words: &[u64; CACHE_KEY_WORDS],
        fingerprint: Fingerprint,
    ) -> (Pinned<'_, G>, Option<u64>) {
        let (series, identity) = self.resolve_pinned(values, fingerprint);
        // The overflow series (no identity) is not cached, so every refused lookup is counted.
        if let Some(state) = identity {
            let owner = Arc::as_ptr(self).cast::<()>();
            if cache::put(self.id, words, core::ptr::from_ref(series).cast(), state, owner, Self::CACHE_OPS) {
                return (Pinned::cached(series), Some(state));
            }
        }
        (Pinned::held(series), None)
    }
}
