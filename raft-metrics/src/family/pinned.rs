//! The guard `Family::get` returns: a series pinned against reuse while a write goes through it.

use super::series::Series;
use crate::metric::Group;
use crate::sync::Ordering;

/// The series [`Family::get`](crate::Family::get) resolved, pinned for as long as this guard
/// lives: its slot cannot be handed to another label set meanwhile, so every write through the
/// guard lands in the series of the label values it was resolved from (or, if that label set is
/// removed meanwhile, in the removed series, which is no longer exported), never in another
/// label set's series.
///
/// Dereferences to the series' storage, so `family.get(values).inc()` records as before. It is
/// neither `Send` nor `Sync`: the pin it holds may be an entry of this thread's lookup cache.
/// Keep it for a statement or a few; to record to one series for long, use a
/// [`Handle`](crate::Handle) from [`Family::bind`](crate::Family::bind).
pub struct Pinned<'a, G: Group> {
    series: &'a Series<G>,
    /// Whether this thread's lookup cache pins the series and counts this guard (see `cache`);
    /// otherwise the guard holds a pin of its own in `Series::handles`.
    cached: bool,
    /// `!Send` and `!Sync`: a cached guard is counted in a thread-local.
    _thread: core::marker::PhantomData<*const ()>,
}

impl<'a, G: Group> Pinned<'a, G> {
    /// Caller has counted this guard in `series.handles`.
    #[inline]
    pub(super) fn held(series: &'a Series<G>) -> Self {
        Self { series, cached: false, _thread: core::marker::PhantomData }
    }

    /// The cache counted this guard (`cache::get` or `cache::put`); an entry pins `series`.
    #[cfg(not(loom))]
    #[inline(always)]
    pub(super) fn cached(series: &'a Series<G>) -> Self {
        Self { series, cached: true, _thread: core::marker::PhantomData }
    }

    /// The series this guard pins.
    #[cfg(not(loom))]
    pub(super) fn series(&self) -> &'a Series<G> {
        self.series
    }
}

impl<G: Group> core::ops::Deref for Pinned<'_, G> {
    type Target = G;

    #[inline(always)]
    fn deref(&self) -> &G {
        &self.series.cells
    }
}

impl<G: Group> Drop for Pinned<'_, G> {
    #[inline(always)]
    fn drop(&mut self) {
        if !self.cached {
            // Release: our writes happen-before a reuser that sees zero and resets the cells.
            self.series.handles.fetch_sub(1, Ordering::Release);
        } else {
            // The guard is `!Send`: this is the thread that counted it.
            #[cfg(not(loom))]
            super::cache::end_use();
        }
    }
}

impl<G: Group + core::fmt::Debug> core::fmt::Debug for Pinned<'_, G> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Pinned").field(&**self).finish()
    }
}
