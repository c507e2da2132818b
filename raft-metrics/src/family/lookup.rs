//! A lookup from label values to a pinned series: the per-thread row (`rows`), then the
//! per-thread cache (`cache`), then the family's lock-free table. The hits are inlined into the
//! caller; every miss is out of line and builds its key again, so a hit never stores its key.

use std::sync::Arc;

#[cfg(not(loom))]
use super::{cache, rows, Series};
use super::{FamilyInner, Pinned};
#[cfg(not(loom))]
use crate::label::Fingerprint;
use crate::label::{KeyBuilder, LabelValues};
use crate::metric::Group;

impl<G: Group> FamilyInner<G> {
    /// Finds or creates the series for `values` (past the bound, the overflow series) and pins
    /// it for the returned guard: its slot is not reused for another label set until the guard
    /// drops.
    ///
    /// A per-thread cache hit adds no atomic read-modify-write: the cache entry itself holds a
    /// pin on the series (taken on the miss that filled it) and the guard only counts itself in
    /// plain thread-local memory (see `cache`). Every other path takes a pin of
    /// its own with the pin protocol (`Series::pin`), as `bind` does.
    // Always inlined: with the key's words in registers, a hit is a handful of compares. The
    // misses are out of line and build the key again, so that a hit never stores it.
    #[inline(always)]
    pub(crate) fn resolve<const N: usize>(self: &Arc<Self>, id: u64, values: &impl LabelValues<N>) -> Pinned<'_, G> {
        debug_assert_eq!(id, self.id);
        let mut key = KeyBuilder::quick();
        let index = values.feed_split(&mut key);
        if key.deferred() {
            return self.resolve_spelled(values);
        }
        if let Some(index) = index {
            #[cfg(not(loom))]
            if let Some(series) = self.row_hit(id, &key, index) {
                return series;
            }
            #[cfg(loom)]
            let _ = index;
            return self.resolve_indexed(values);
        }
        self.resolve_unindexed(id, values, &key)
    }

    /// The series in this thread's row for `key` (the values before the index) and `index`.
    #[cfg(not(loom))]
    #[inline(always)]
    fn row_hit(&self, id: u64, key: &KeyBuilder, index: u64) -> Option<Pinned<'_, G>> {
        let prefix = key.cache_key().filter(|_| index < rows::SPAN)?;
        // Not removed since its cache entry was filled (the state's low half: see `rows::Slot`).
        // It cannot have been reused: the entry pins it.
        let current = |series: *const (), state| {
            // SAFETY: rows only return slots to the family (unique id) that filled them; they
            // point into this family's slab, which lives as long as `self`.
            unsafe { &*series.cast::<Series<G>>() }.is_still_low(state)
        };
        let series = rows::get(id, prefix, index, current)?;
        // SAFETY: as above.
        Some(Pinned::cached(unsafe { &*series.cast::<Series<G>>() }))
    }

    /// Label values without a trailing index, `key` fed with all of them: the per-thread cache,
    /// then the family's table.
    #[inline(always)]
    fn resolve_unindexed<const N: usize>(
        self: &Arc<Self>,
        id: u64,
        values: &impl LabelValues<N>,
        key: &KeyBuilder,
    ) -> Pinned<'_, G> {
        #[cfg(loom)]
        let _ = id;
        #[cfg(not(loom))]
        if let Some(words) = key.cache_key() {
            // Not removed since it was found holding these label values. It cannot have been
            // reused: the entry pins it.
            // SAFETY: entries are only returned to the family (unique id) that stored them; they
            // point into this family's slab, which lives as long as `self`.
            let current = |series: *const (), state| unsafe { &*series.cast::<Series<G>>() }.is_still(state);
            if let Some((series, _)) = cache::get(id, words, current) {
                // SAFETY: as above.
                return Pinned::cached(unsafe { &*series.cast::<Series<G>>() });
            }
            return self.resolve_and_cache(values, words, key.finish(self.seed)).0;
        }
        Pinned::held(self.resolve_pinned(values, key.finish(self.seed)).0)
    }

    /// A lookup whose quick key was deferred (a string that may spell an integer): the key
    /// built in full, then the same paths.
    #[inline(never)]
    fn resolve_spelled<const N: usize>(self: &Arc<Self>, values: &impl LabelValues<N>) -> Pinned<'_, G> {
        let mut key = KeyBuilder::new();
        match values.feed_split(&mut key) {
            Some(index) => {
                #[cfg(not(loom))]
                if let Some(series) = self.row_hit(self.id, &key, index) {
                    return series;
                }
                #[cfg(loom)]
                let _ = index;
                self.resolve_indexed(values)
            }
            None => self.resolve_unindexed(self.id, values, &key),
        }
    }

    /// The row-miss path of label values that end in an index: the whole key through the
    /// cache, then the cache's entry copied into the row.
    #[inline(never)]
    fn resolve_indexed<const N: usize>(self: &Arc<Self>, values: &impl LabelValues<N>) -> Pinned<'_, G> {
        let mut key = KeyBuilder::new();
        let Some(index) = values.feed_split(&mut key) else {
            // `resolve` found an index; a value whose `as_index` changed since is looked up whole.
            return self.resolve_unindexed(self.id, values, &key);
        };
        #[cfg(not(loom))]
        let prefix = key.cache_key().copied();
        key.int(index);
        #[cfg(not(loom))]
        if let Some(words) = key.cache_key() {
            // SAFETY: as in `resolve`.
            let current = |series: *const (), state| unsafe { &*series.cast::<Series<G>>() }.is_still(state);
            let (pinned, entry) = match cache::get(self.id, words, current) {
                // SAFETY: as in `resolve`.
                Some((series, state)) => (Pinned::cached(unsafe { &*series.cast::<Series<G>>() }), Some(state)),
                None => self.resolve_and_cache(values, words, key.finish(self.seed)),
            };
            if let (Some(state), Some(prefix), true) = (entry, prefix, index < rows::SPAN) {
                rows::fill(self.id, &prefix, index, core::ptr::from_ref(pinned.series()).cast(), state);
            }
            return pinned;
        }
        Pinned::held(self.resolve_pinned(values, key.finish(self.seed)).0)
    }

    /// The cache-miss path: resolves and pins, then hands the pin to a cache entry. Returns the
    /// state recorded in the entry when one was filled.
    #[cfg(not(loom))]
    #[inline(never)]
    fn resolve_and_cache<const N: usize>(
        self: &Arc<Self>,
        values: &impl LabelValues<N>,
        words: &[u64; crate::label::CACHE_KEY_WORDS],
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
