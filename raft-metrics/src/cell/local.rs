use core::cell::Cell;
use core::marker::PhantomData;

/// The single-writer view of a cell: recording is a relaxed load plus a relaxed store, with no
/// locked instruction, and still tear-free for a concurrent scraper.
///
/// A `Local` exists only where one writer is guaranteed: from `&mut` to a cell, or from an
/// [`Exclusive`](crate::Exclusive) claim on a series (at most one per series). It is neither
/// `Send` nor `Sync`, so it cannot leak to a second thread. A series claimed this way must not
/// also be written through shared handles: such a write can be overwritten and lost.
pub struct Local<'a, C> {
    cell: &'a C,
    // Not Sync and not Send: two threads with the same Local would lose increments.
    _single_thread: PhantomData<*const Cell<()>>,
}

impl<'a, C> Local<'a, C> {
    /// Caller guarantees no other writer uses `cell` while this view lives.
    pub(crate) fn new(cell: &'a C) -> Self {
        Self { cell, _single_thread: PhantomData }
    }

    pub(crate) fn cell(&self) -> &'a C {
        self.cell
    }

    /// Narrows the view to one cell inside this one (a field of a metric group).
    ///
    /// # Examples
    ///
    /// ```
    /// use raft_metrics::{Counter, Gauge, Local};
    ///
    /// #[derive(Default)]
    /// struct Pair { hits: Counter, depth: Gauge }
    /// let mut pair = Pair::default();
    /// let local = Local::from_mut(&mut pair);
    /// local.project(|p| &p.hits).inc();
    /// local.project(|p| &p.depth).set(3);
    /// assert_eq!(pair.hits.get(), 1);
    /// ```
    #[inline]
    pub fn project<D>(&self, field: impl FnOnce(&'a C) -> &'a D) -> Local<'a, D> {
        Local::new(field(self.cell))
    }

    /// The single-writer view of anything this code owns outright.
    pub fn from_mut(cell: &'a mut C) -> Self {
        Self::new(cell)
    }
}

impl<C: core::fmt::Debug> core::fmt::Debug for Local<'_, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Local").field(self.cell).finish()
    }
}
