use core::cell::Cell;
use core::marker::PhantomData;
use core::ptr::NonNull;
use std::sync::Arc;

use super::series::{Series, RETIRED};
use super::FamilyInner;
use crate::cell::Local;
use crate::metric::Group;
use crate::sync::Ordering;

/// A bound series: records with no lookup, no lock, no hashing.
///
/// Dereferences to the series' storage (`handle.inc()`, `handle.observe(v)`, or a group's
/// fields). The handle keeps its family alive and pins the series' slot, so it stays valid after
/// [`Family::remove`](crate::Family::remove); writes after removal are simply not exported.
#[must_use = "a handle records nothing unless it is used"]
pub struct Handle<G: Group> {
    family: Arc<FamilyInner<G>>,
    series: NonNull<Series<G>>,
}

// SAFETY: a handle is an `Arc` to the family plus a pointer into that family's slab, which the
// `Arc` keeps alive; access goes through `&G`, so sharing or sending it is as safe as sharing
// `&G` between threads, which `G: Sync` (a `Group` bound) allows.
unsafe impl<G: Group> Send for Handle<G> {}
// SAFETY: as above; every method takes `&self` and reaches only `&G` and atomics.
unsafe impl<G: Group> Sync for Handle<G> {}

impl<G: Group> Handle<G> {
    /// Caller has already counted this handle in `series.handles`.
    pub(crate) fn new(family: Arc<FamilyInner<G>>, series: &Series<G>) -> Self {
        Self { family, series: NonNull::from(series) }
    }

    pub(crate) fn series(&self) -> &Series<G> {
        // SAFETY: the series is owned by `self.family`'s slab, freed only when the family drops;
        // `self.family` keeps it alive for as long as `self` exists.
        unsafe { self.series.as_ref() }
    }

    /// Whether the series was removed from its family (its values are no longer exported).
    pub fn is_removed(&self) -> bool {
        self.series().state.load(Ordering::Acquire) & RETIRED != 0
    }
}

impl<G: Group> core::ops::Deref for Handle<G> {
    type Target = G;

    #[inline]
    fn deref(&self) -> &G {
        &self.series().cells
    }
}

impl<G: Group> Clone for Handle<G> {
    fn clone(&self) -> Self {
        // Relaxed: `self` already pins the series, so the count cannot reach zero meanwhile.
        self.series().handles.fetch_add(1, Ordering::Relaxed);
        Self { family: Arc::clone(&self.family), series: self.series }
    }
}

impl<G: Group> Drop for Handle<G> {
    fn drop(&mut self) {
        // Release: our last writes happen-before a reuser that sees zero and resets the cells.
        self.series().handles.fetch_sub(1, Ordering::Release);
    }
}

impl<G: Group + core::fmt::Debug> core::fmt::Debug for Handle<G> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handle").field("family", &self.family.first_name()).field("cells", &**self).finish()
    }
}

/// Why a single-writer claim was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimError {
    /// Another [`Exclusive`] owns the series.
    Claimed,
    /// The label values resolved to the shared overflow series, which cannot have one writer.
    Overflow,
}

impl core::fmt::Display for ClaimError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Claimed => "the series already has a single-writer handle",
            Self::Overflow => "the family is full; the overflow series cannot be claimed",
        })
    }
}

impl std::error::Error for ClaimError {}

/// The single-writer handle on a series: at most one exists per series at a time.
///
/// Recording through [`Exclusive::local`] is a relaxed load plus a relaxed store, with no locked
/// instruction, still tear-free for a concurrent scraper. The handle can move to the thread that
/// owns the Raft loop (`Send`) but not be shared (`!Sync`). Do not write the same series through
/// shared handles meanwhile: those writes can be overwritten.
#[must_use = "an exclusive handle records nothing unless it is used"]
pub struct Exclusive<G: Group> {
    handle: Handle<G>,
    _not_sync: PhantomData<Cell<()>>,
}

impl<G: Group> Exclusive<G> {
    pub(crate) fn claim(handle: Handle<G>) -> Result<Self, ClaimError> {
        // Acquire: sees the previous owner's writes (released on its drop).
        let won = handle.series().claimed.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed);
        match won {
            Ok(_) => Ok(Self { handle, _not_sync: PhantomData }),
            Err(_) => Err(ClaimError::Claimed),
        }
    }

    /// The single-writer view of the series' storage.
    #[inline]
    pub fn local(&self) -> Local<'_, G> {
        Local::new(&self.handle)
    }

    /// Whether the series was removed from its family.
    pub fn is_removed(&self) -> bool {
        self.handle.is_removed()
    }

    /// The single-writer view split into fields, for groups from `#[derive(RaftMetrics)]`.
    #[inline]
    pub fn fields(&self) -> G::Fields<'_>
    where
        G: crate::metric::LocalFields,
    {
        G::fields(self.local())
    }
}

impl<G: Group> Drop for Exclusive<G> {
    fn drop(&mut self) {
        // Release: the next owner's Acquire claim sees our last plain stores.
        self.handle.series().claimed.store(false, Ordering::Release);
    }
}

impl<G: Group + core::fmt::Debug> core::fmt::Debug for Exclusive<G> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Exclusive").field(&self.handle).finish()
    }
}
