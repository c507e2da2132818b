//! Lock-free lookup from fingerprint to series: open addressing with linear probing.
//!
//! Readers never lock: they load the table pointer and the slots with Acquire. Writers (insert,
//! remove, grow) run under the family lock. Growing publishes a new table and keeps the old one
//! alive until the family drops, so a reader holding it stays valid; tables double, so the old
//! ones take at most as much memory as the current one. Removal shifts later entries back instead
//! of leaving tombstones, so churn never degrades probes. A reader racing with a shift can miss an
//! entry; a miss falls back to the locked path, which is authoritative, so no lookup ever returns
//! a wrong series.

use super::series::Series;
use crate::label::Fingerprint;
use crate::sync::{AtomicPtr, Ordering};

pub(crate) struct Table<G> {
    slots: Box<[AtomicPtr<Series<G>>]>,
    mask: usize,
}

impl<G> Table<G> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.next_power_of_two().max(8);
        Self { slots: (0..capacity).map(|_| AtomicPtr::new(core::ptr::null_mut())).collect(), mask: capacity - 1 }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Finds the series holding `fingerprint`, if any.
    #[inline]
    pub(crate) fn find(&self, fingerprint: Fingerprint) -> Option<&Series<G>> {
        #[allow(clippy::cast_possible_truncation)] // the low bits are the home slot
        let mut i = fingerprint.low() as usize & self.mask;
        for _ in 0..self.slots.len() {
            // Acquire: pairs with the Release store in `insert`/`remove`, which publishes the
            // series' initialised fields.
            let series = self.slots[i].load(Ordering::Acquire);
            if series.is_null() {
                return None;
            }
            // SAFETY: non-null slots point to series owned by the family's slab, which
            // frees them only when the family itself drops; `&self` borrows a table the family
            // also keeps until then, so the series outlives the returned reference.
            let series = unsafe { &*series };
            if series.holds(fingerprint) {
                return Some(series);
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Adds a series. Caller holds the family lock and keeps the table under 1/2 full.
    pub(crate) fn insert(&self, series: &Series<G>) {
        let mut i = series.home(self.mask);
        while !self.slots[i].load(Ordering::Relaxed).is_null() {
            i = (i + 1) & self.mask;
        }
        // Release: publishes the series' fields to readers that Acquire-load this slot.
        self.slots[i].store(core::ptr::from_ref(series).cast_mut(), Ordering::Release);
    }

    /// Removes a series, shifting later entries of its probe run back. Caller holds the lock.
    pub(crate) fn remove(&self, series: &Series<G>) -> bool {
        let target = core::ptr::from_ref(series).cast_mut();
        let mut hole = series.home(self.mask);
        loop {
            let here = self.slots[hole].load(Ordering::Relaxed);
            if here.is_null() {
                return false;
            }
            if here == target {
                break;
            }
            hole = (hole + 1) & self.mask;
        }
        let mut next = hole;
        loop {
            next = (next + 1) & self.mask;
            let candidate = self.slots[next].load(Ordering::Relaxed);
            if candidate.is_null() {
                break;
            }
            // SAFETY: as in `find`; we hold the family lock, so nothing is freed meanwhile.
            let home = unsafe { &*candidate }.home(self.mask);
            // The candidate may move into the hole only if the hole lies on its probe path,
            // i.e. cyclically in [home, next).
            let distance_to_hole = hole.wrapping_sub(home) & self.mask;
            let distance_to_next = next.wrapping_sub(home) & self.mask;
            if distance_to_hole < distance_to_next {
                // Release: the moved series was published before; readers may see it twice.
                self.slots[hole].store(candidate, Ordering::Release);
                hole = next;
            }
        }
        self.slots[hole].store(core::ptr::null_mut(), Ordering::Release);
        true
    }

    /// Every series in the table, for rebuilding into a larger one.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Series<G>> + '_ {
        self.slots.iter().filter_map(|slot| {
            let series = slot.load(Ordering::Relaxed);
            // SAFETY: as in `find`.
            (!series.is_null()).then(|| unsafe { &*series })
        })
    }
}
