use crate::label::Fingerprint;
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// `state` bit set while a series is removed and its slot awaits reuse.
pub(crate) const RETIRED: u64 = 1;

/// One label set's storage plus the bookkeeping that makes lock-free lookup and slot reuse safe.
///
/// A series lives in its family's slab until the family is dropped; only its identity changes
/// when a removed slot is reused. `state` is `generation << 1 | RETIRED`: the generation grows on
/// every removal and every reuse, so a state read twice tells whether the series changed between.
pub(crate) struct Series<G> {
    fingerprint_low: AtomicU64,
    fingerprint_high: AtomicU64,
    pub(crate) state: AtomicU64,
    /// Live [`Handle`](crate::Handle)s. A removed series is reused only when this is zero.
    pub(crate) handles: AtomicUsize,
    /// Whether an [`Exclusive`](crate::Exclusive) single-writer handle owns this series.
    pub(crate) claimed: AtomicBool,
    /// Position in the family's slab.
    pub(crate) slot: usize,
    pub(crate) cells: G,
}

impl<G> Series<G> {
    pub(crate) fn new(fingerprint: Fingerprint, slot: usize, cells: G) -> Self {
        Self {
            fingerprint_low: AtomicU64::new(fingerprint.low()),
            fingerprint_high: AtomicU64::new(fingerprint.high()),
            state: AtomicU64::new(0),
            handles: AtomicUsize::new(0),
            claimed: AtomicBool::new(false),
            slot,
            cells,
        }
    }

    /// Whether this series currently holds `fingerprint`. Relaxed: the slot pointer that led here
    /// was loaded with Acquire, which publishes the fingerprint written before insertion; a reuse
    /// racing with this read can only make the comparison fail.
    #[inline]
    pub(crate) fn holds(&self, fingerprint: Fingerprint) -> bool {
        self.fingerprint_low.load(Ordering::Relaxed) == fingerprint.low()
            && self.fingerprint_high.load(Ordering::Relaxed) == fingerprint.high()
    }

    pub(crate) fn home(&self, mask: usize) -> usize {
        // Truncation is the hash-table index.
        #[allow(clippy::cast_possible_truncation)]
        let low = self.fingerprint_low.load(Ordering::Relaxed) as usize;
        low & mask
    }

    /// Gives a removed series a new identity. Called under the family lock, with no handles.
    pub(crate) fn reuse(&self, fingerprint: Fingerprint) {
        self.fingerprint_low.store(fingerprint.low(), Ordering::Relaxed);
        self.fingerprint_high.store(fingerprint.high(), Ordering::Relaxed);
        // SeqCst: pairs with `Family::pin`'s SeqCst increment-then-load (see there).
        self.state.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks the series removed. Called under the family lock.
    pub(crate) fn retire(&self) {
        // SeqCst: the Dekker pair with `Family::pin`; after this store, either the recycler sees
        // the pinner's handle count or the pinner sees RETIRED.
        self.state.fetch_add(1, Ordering::SeqCst);
    }
}
