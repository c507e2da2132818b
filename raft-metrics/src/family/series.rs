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
    /// Pins: live [`Handle`](crate::Handle)s, [`Pinned`](crate::Pinned) guards that hold their
    /// own pin, and per-thread cache entries. A removed series is reused only when this is zero;
    /// every access is a read-modify-write so the pin protocol needs no SeqCst (see `pin`).
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

    /// The state to remember with this series as the one holding `fingerprint`, or `None` if it
    /// does not hold it (removed, reused, or the overflow series). The Acquire load pairs with
    /// `reuse`'s Release: a state written by a reuse comes with the new fingerprint, which then
    /// fails the comparison; a state from before the removal stays valid only until it changes.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline]
    pub(crate) fn identity(&self, fingerprint: Fingerprint) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        (state & RETIRED == 0 && self.holds(fingerprint)).then_some(state)
    }

    /// Whether the series still has the identity `identity` returned: neither removed nor reused
    /// since. The state only grows, so equality means no removal happened in between.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn is_still(&self, state: u64) -> bool {
        self.state.load(Ordering::Acquire) == state
    }

    /// `is_still` by the low half of the state: enough while something pins the series, which
    /// then changes state at most once (a removal; a reuse needs every pin gone).
    #[cfg_attr(loom, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn is_still_low(&self, state: u32) -> bool {
        // Truncation keeps the low half, which is the point.
        #[allow(clippy::cast_possible_truncation)]
        let low = self.state.load(Ordering::Acquire) as u32;
        low == state
    }

    /// Gives a removed series a new identity. Called under the family lock, with no handles.
    pub(crate) fn reuse(&self, fingerprint: Fingerprint) {
        self.fingerprint_low.store(fingerprint.low(), Ordering::Relaxed);
        self.fingerprint_high.store(fingerprint.high(), Ordering::Relaxed);
        // Release: a pinner that Acquire-loads the new state also sees the new fingerprint.
        self.state.fetch_add(1, Ordering::Release);
    }

    /// Pins this series for a handle. Lock-free; fails if the series was removed or reused since
    /// `fingerprint` found it.
    ///
    /// Every access to `handles` is a read-modify-write, so all of them are totally ordered in
    /// that atomic's modification order. Our increment either comes before the reuser's RMW in
    /// [`Series::unpinned`] (which then reads a non-zero count and skips the slot) or after it, in
    /// which case it reads from that AcqRel RMW and synchronizes with it: the retirement, which
    /// happens-before the reuser's RMW (program order or the family lock), happens-before our
    /// state load below, which therefore sees RETIRED or a newer generation and backs off.
    ///
    /// Returns the state the series was pinned at (its identity, as `identity` gives it).
    pub(crate) fn pin(&self, fingerprint: Fingerprint) -> Option<u64> {
        let state = self.state.load(Ordering::Acquire);
        if state & RETIRED != 0 {
            return None;
        }
        self.handles.fetch_add(1, Ordering::AcqRel);
        if self.state.load(Ordering::Acquire) == state && self.holds(fingerprint) {
            return Some(state);
        }
        self.handles.fetch_sub(1, Ordering::Release);
        None
    }

    /// Whether no handle pins this removed series, so its slot may be reused. An RMW, not a load:
    /// it reads the latest count and orders the retirement before any later pin (see `pin`).
    pub(crate) fn unpinned(&self) -> bool {
        self.handles.fetch_add(0, Ordering::AcqRel) == 0
    }

    /// Marks the series removed. Called under the family lock.
    pub(crate) fn retire(&self) {
        // Ordered before the reuser's `handles` RMW by the family lock; see `FamilyInner::pin`.
        self.state.fetch_add(1, Ordering::Release);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// The pin protocol alone: a pinner against a remover that then reuses the slot if unpinned.
    /// Never both: a successful pin on a series that is then handed to another label set.
    #[test]
    fn pin_versus_retire_and_reuse() {
        loom::model(|| {
            let a = Fingerprint(1);
            let series = Arc::new(Series::new(a, 0, ()));
            let pinner = {
                let series = Arc::clone(&series);
                loom::thread::spawn(move || series.pin(a).is_some())
            };
            series.retire();
            let reused = series.unpinned();
            if reused {
                series.reuse(Fingerprint(2));
            }
            let pinned = pinner.join().unwrap();
            assert!(!(pinned && reused), "a pinned series was reused");
        });
    }
}
