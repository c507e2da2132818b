//! The packed-word protocol that [`Histogram`](crate::Histogram) and
//! [`NativeHistogram`](crate::NativeHistogram) share: one word per bucket holding count and sum,
//! drains into spilled totals, and a read that sees every observation exactly once.
//!
//! # Words
//!
//! Each bucket has one *packed* word: the observation count in the top `64 - SUM_BITS` bits and
//! the sum of the bucket's observations, in integer units, in the low `SUM_BITS` bits
//! ([`Scale::SUM_BITS`] is the histogram type's choice). Recording adds `count << SUM_BITS | units`
//! with one relaxed `fetch_add` ([`Write::Shared`]) or a relaxed load and store
//! ([`Write::Single`]): count and sum move together.
//!
//! # Drains
//!
//! The previous value tells the recorder when either field passed half its range (the top bit of
//! the word, or the top bit of the sum field); that recorder then *drains* the word: swaps it to
//! zero and adds what it held to 64-bit *spilled* totals, allocated on first use (a histogram that
//! never drains holds no more than its words). The other half of each field is headroom for the
//! recorders that add between the crossing and the drain; each histogram type bounds what one
//! record adds so that the headroom cannot run out. Under loom every record to a non-empty word
//! drains, so small models exercise drains.
//!
//! The spilled sum is one 64-bit word whose meaning belongs to the histogram type ([`Scale`]): an
//! integer count of units, or an `f64`'s bits. Values the packed word cannot take go straight to
//! the spilled totals ([`PackedState::record_spilled`]); those records are two atomic operations,
//! so a read may see their count before their sum.
//!
//! # Reading
//!
//! A read takes every bucket as `spilled + packed` inside a *drain stamp* (a seqlock whose writers
//! never wait for each other): the high 32 bits count finished drains, the low 32 bits count
//! drains in progress. A drain adds 1 when it starts and `2^32 - 1` when it ends. A reader waits
//! while drains are in progress and retries when the stamp moved, so a value is never seen both in
//! its packed word and in its spilled total, nor in neither. A histogram's count is the sum of its
//! buckets, so it equals the last cumulative bucket and is monotonic across reads. Records that
//! land while a read runs are either in it or in the next one.

use core::marker::PhantomData;

use crate::sync::{fence, yield_now, AtomicPtr, AtomicU64, Ordering};

/// Adding this to the stamp starts a drain.
const DRAIN_START: u64 = 1;
/// Adding this to the stamp ends a drain: the in-progress count goes down by one and the finished
/// count up by one.
const DRAIN_END: u64 = (1 << 32) - 1;
/// The stamp's in-progress count.
const DRAINS_IN_PROGRESS: u64 = (1 << 32) - 1;

/// What a histogram type decides about its packed words: how wide the sum field is, and what its
/// units are worth. Implemented by the type's layout ([`Buckets`](crate::Buckets),
/// [`NativeBuckets`](crate::NativeBuckets)).
pub(super) trait Scale {
    /// Width of the sum field, the low bits of a packed word; the count has the rest.
    const SUM_BITS: u32;

    /// A read's running sum.
    type Total;

    /// Adds `units` moved out of word `index` to the spilled sum `sum` (a drain; cold).
    fn spill(&self, sum: &AtomicU64, index: usize, units: u64);

    /// A read's running sum, starting from the spilled sum's contents.
    fn total(&self, spilled: u64) -> Self::Total;

    /// Adds the `units` a read found in word `index`; called for every word in order.
    fn add(&self, total: &mut Self::Total, index: usize, units: u64);

    /// The read's sum as a value.
    fn value(&self, total: Self::Total) -> f64;
}

/// How a record reaches its word.
#[derive(Clone, Copy)]
pub(super) enum Write {
    /// One `fetch_add`: any number of threads may record.
    Shared,
    /// A load and a store: the caller guarantees it is the only writer ([`Local`](crate::Local)).
    Single,
}

/// Storage for a histogram's words, one per bucket: inline ([`Row`]) or on the heap
/// (`Box<[AtomicU64]>`).
pub(super) trait Words {
    /// `len` words, all zero.
    fn zeroed(len: usize) -> Self;

    /// The words, as one slice.
    fn words(&self) -> &[AtomicU64];
}

/// `N` words followed by one more (the `+Inf` bucket's), addressable as one slice, without a
/// pointer to follow.
#[repr(C)]
pub(super) struct Row<const N: usize> {
    finite: [AtomicU64; N],
    last: AtomicU64,
}

impl<const N: usize> Words for Row<N> {
    fn zeroed(len: usize) -> Self {
        debug_assert_eq!(len, N + 1);
        Self { finite: core::array::from_fn(|_| AtomicU64::new(0)), last: AtomicU64::new(0) }
    }

    #[inline]
    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `Row` is `repr(C)`: `finite` starts at offset 0 and `last` follows at
        // `N * size_of::<AtomicU64>()`, which is a multiple of the element's alignment, so there is
        // no padding and the struct is `N + 1` contiguous, initialised `AtomicU64`s that live as
        // long as `&self`.
        unsafe { core::slice::from_raw_parts(core::ptr::from_ref(self).cast::<AtomicU64>(), N + 1) }
    }
}

impl Words for Box<[AtomicU64]> {
    fn zeroed(len: usize) -> Self {
        (0..len).map(|_| AtomicU64::new(0)).collect()
    }

    #[inline]
    fn words(&self) -> &[AtomicU64] {
        self
    }
}

/// A histogram's packed words, spilled totals and drain stamp: everything but its layout.
///
/// The layout `S` is passed to each call that needs it, so the histogram keeps its own
/// `Arc` of it and this state holds no pointer it does not own.
pub(super) struct PackedState<W, S> {
    words: W,
    /// Allocated by the first drain or spilled record: most histograms never need it, and keeping
    /// it out of line halves a histogram's size.
    spill: AtomicPtr<Spill<W>>,
    drain_stamp: AtomicU64,
    scale: PhantomData<fn() -> S>,
}

/// Per-word counts and the sum moved out of the packed words, or recorded there directly.
struct Spill<W> {
    counts: W,
    /// Its meaning is the [`Scale`]'s.
    sum: AtomicU64,
}

impl<W: Words, S: Scale> PackedState<W, S> {
    const SUM_MASK: u64 = {
        assert!(S::SUM_BITS > 1 && S::SUM_BITS < 63, "both fields need a top bit of their own");
        (1 << S::SUM_BITS) - 1
    };
    /// Set in the previous word once the count field reached half its range (bit 63) or the sum
    /// field did (its top bit): either way the field has as much headroom again.
    #[cfg(not(loom))]
    const DRAIN_MASK: u64 = (1 << 63) | (1 << (S::SUM_BITS - 1));
    /// Under loom, drain whenever the word already holds something, so small models drain.
    #[cfg(loom)]
    const DRAIN_MASK: u64 = u64::MAX;

    /// `len` empty words.
    pub(super) fn new(len: usize) -> Self {
        Self {
            words: W::zeroed(len),
            spill: AtomicPtr::new(core::ptr::null_mut()),
            drain_stamp: AtomicU64::new(0),
            scale: PhantomData,
        }
    }

    /// The number of words.
    pub(super) fn len(&self) -> usize {
        self.words.words().len()
    }

    /// Adds `count` observations summing to `units` to word `index`, draining the word when it
    /// fills. The caller bounds both so the headroom above the drain threshold holds (see the
    /// module docs); `scale` is the histogram's layout.
    #[inline(always)]
    pub(super) fn record(&self, index: usize, count: u64, units: u64, write: Write, scale: &S) {
        let add = (count << S::SUM_BITS) | units;
        let word = &self.words.words()[index];
        let prev = match write {
            // Relaxed: the word publishes no other memory; drains order themselves (`drain`).
            Write::Shared => word.fetch_add(add, Ordering::Relaxed),
            Write::Single => {
                let prev = word.load(Ordering::Relaxed);
                word.store(prev.wrapping_add(add), Ordering::Relaxed);
                prev
            }
        };
        if prev & Self::DRAIN_MASK != 0 {
            self.drain(index, scale);
        }
    }

    /// Adds `count` observations straight to word `index`'s spilled count and returns the spilled
    /// sum, for the caller to add the value to in its [`Scale`]'s representation. For values the
    /// packed word cannot take; count and sum are two operations (see the module docs).
    #[inline]
    pub(super) fn record_spilled(&self, index: usize, count: u64) -> &AtomicU64 {
        let spill = self.spill();
        // Relaxed: as for the packed words.
        spill.counts.words()[index].fetch_add(count, Ordering::Relaxed);
        &spill.sum
    }

    /// Moves word `index` into the spilled totals, inside the drain stamp (see the module docs).
    #[cold]
    #[inline(never)]
    fn drain(&self, index: usize, scale: &S) {
        // Allocated before the stamp moves, so a reader never waits on an allocation.
        let spill = self.spill();
        self.drain_stamp.fetch_add(DRAIN_START, Ordering::Relaxed);
        // Release fence: a reader that sees any move below also sees the start above.
        fence(Ordering::Release);
        let moved = self.words.words()[index].swap(0, Ordering::Relaxed);
        spill.counts.words()[index].fetch_add(moved >> S::SUM_BITS, Ordering::Relaxed);
        scale.spill(&spill.sum, index, moved & Self::SUM_MASK);
        // Release: a reader that sees the end sees the moves.
        self.drain_stamp.fetch_add(DRAIN_END, Ordering::Release);
    }

    /// Reads every word's count into `counts` (one per word) and returns the sum, from one
    /// drain-free window.
    ///
    /// 1. Load the stamp (Acquire); while a drain is in progress, yield and load it again.
    /// 2. Load every spilled and packed word (Relaxed), counts into `counts`, units into the
    ///    [`Scale`]'s total.
    /// 3. Acquire fence, then load the stamp again; if it moved, a drain ran: start over.
    pub(super) fn read_into(&self, counts: &mut [u64], scale: &S) -> f64 {
        debug_assert_eq!(counts.len(), self.len());
        loop {
            // Acquire pairs with the Release add that ends a drain: its moves are visible.
            let before = self.drain_stamp.load(Ordering::Acquire);
            if before & DRAINS_IN_PROGRESS != 0 {
                yield_now();
                continue;
            }
            let spill = self.spill_if_any();
            let mut total = scale.total(spill.map_or(0, |s| s.sum.load(Ordering::Relaxed)));
            for (index, (count, packed)) in counts.iter_mut().zip(self.words.words()).enumerate() {
                let word = packed.load(Ordering::Relaxed);
                let spilled = spill.map_or(0, |s| s.counts.words()[index].load(Ordering::Relaxed));
                *count = spilled.wrapping_add(word >> S::SUM_BITS);
                scale.add(&mut total, index, word & Self::SUM_MASK);
            }
            // Acquire fence: if any load above saw a drain's move, that drain's start (sequenced
            // before its Release fence) is visible to the stamp load below.
            fence(Ordering::Acquire);
            if self.drain_stamp.load(Ordering::Relaxed) == before {
                return scale.value(total);
            }
        }
    }

    /// Zeroes every word and spilled total. Records racing with a reset may survive it.
    pub(super) fn reset(&self) {
        // Relaxed: a reset publishes nothing; a scrape racing with it sees either side.
        for word in self.words.words() {
            word.store(0, Ordering::Relaxed);
        }
        if let Some(spill) = self.spill_if_any() {
            for word in spill.counts.words() {
                word.store(0, Ordering::Relaxed);
            }
            spill.sum.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the spilled totals were allocated (by a drain or a spilled record).
    #[cfg(all(test, not(loom)))]
    pub(super) fn has_spilled(&self) -> bool {
        self.spill_if_any().is_some()
    }

    /// The spilled totals, allocating them on first use.
    #[inline]
    fn spill(&self) -> &Spill<W> {
        self.spill_if_any().unwrap_or_else(|| self.allocate_spill())
    }

    #[inline]
    fn spill_if_any(&self) -> Option<&Spill<W>> {
        // Acquire: pairs with the AcqRel publish in `allocate_spill`: the zeroed words are visible.
        let spill = self.spill.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` in `allocate_spill` and is freed
        // only in `Drop`, which cannot run while `&self` is borrowed.
        (!spill.is_null()).then(|| unsafe { &*spill })
    }

    #[cold]
    #[inline(never)]
    fn allocate_spill(&self) -> &Spill<W> {
        let fresh = Box::into_raw(Box::new(Spill { counts: W::zeroed(self.len()), sum: AtomicU64::new(0) }));
        match self.spill.compare_exchange(core::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: we just published `fresh`; it lives until `Drop` (see `spill_if_any`).
            Ok(_) => unsafe { &*fresh },
            Err(existing) => {
                // SAFETY: `fresh` lost the race and was never shared; we still own it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: the winner's pointer, live until `Drop` as above.
                unsafe { &*existing }
            }
        }
    }
}

impl<W, S> Drop for PackedState<W, S> {
    fn drop(&mut self) {
        // Acquire: pairs with the publish in `allocate_spill`, as in `spill_if_any`.
        let spill = self.spill.load(Ordering::Acquire);
        if !spill.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` and `&mut self` proves no reader is left.
            drop(unsafe { Box::from_raw(spill) });
        }
    }
}
