//! A family: one group of metrics (see [`Group`]), its label names, and a growing set of series.

#[cfg(not(loom))]
mod cache;
mod export;
mod handle;
mod index;
mod lookup;
mod owned;
mod pinned;
#[cfg(not(loom))]
mod rows;
mod series;

use std::collections::VecDeque;
#[cfg(not(loom))]
use std::hash::BuildHasher;
use std::sync::Arc;

pub use export::{Export, Scrape, Shown};
pub use handle::{ClaimError, Exclusive, Handle};
pub use pinned::Pinned;

use self::index::Table;
use self::owned::Owned;
use self::series::Series;
use crate::encode::{Encoder, LabelSet, MetricText};
use crate::label::{Fingerprint, KeyBuilder, LabelValue, LabelValues};
use crate::metric::Group;
use crate::prefetch;
use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Mutex, Ordering};

/// Default bound on the label sets of one family. Past it, new label sets share one overflow
/// series. At the 1 KiB a Raft partition's series costs, the bound caps a family at ~64 MiB.
pub const DEFAULT_MAX_SERIES: usize = 65_536;
/// Label values longer than this (in bytes) are refused into the overflow series.
pub const MAX_LABEL_VALUE_LEN: usize = 1024;
/// The value every label takes in the overflow series.
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";
/// Removed series are reused oldest-first, once this many wait; the delay keeps a lookup that
/// raced with a removal far away from the slot's next owner.
const REUSE_AFTER: usize = 64;

/// How many slots ahead a scrape's copy of the live series prefetches their labels.
const PREFETCH_AHEAD: usize = 8;

/// One registered family of metrics with `N` runtime labels.
///
/// Resolving label values to a series hashes them into a [`Fingerprint`] and probes a lock-free
/// table: an existing series is found without a lock. Creating a series takes the family lock.
/// [`Family::bind`] returns a [`Handle`] that records with zero lookups; [`Family::get`] resolves
/// on every call (the integration-guide style). Cloning a family is cheap (an `Arc`).
pub struct Family<G: Group, const N: usize> {
    pub(crate) inner: Arc<FamilyInner<G>>,
    /// `inner.id`, one load closer: a guide call reaches the family through its registry's
    /// schema, and each pointer followed before the lookup can start is latency on every call.
    id: u64,
}

impl<G: Group, const N: usize> Family<G, N> {
    pub(crate) fn new(inner: Arc<FamilyInner<G>>) -> Self {
        Self { id: inner.id, inner }
    }
}

impl<G: Group, const N: usize> Clone for Family<G, N> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.inner))
    }
}

pub(crate) struct FamilyInner<G: Group> {
    texts: Box<[MetricText]>,
    label_names: Box<[Box<str>]>,
    pub(crate) layout: G::Layout,
    seed: u64,
    max_series: usize,
    /// The current table; always the last entry of `State::tables`.
    table: AtomicPtr<Table<G>>,
    live: AtomicUsize,
    overflowed: AtomicU64,
    /// Process-unique, never reused: names this family in the per-thread lookup cache.
    #[cfg_attr(loom, allow(dead_code))]
    id: u64,
    /// Strong references held by per-thread cache entries (see `cache::Ops::orphaned`).
    #[cfg_attr(loom, allow(dead_code))]
    cached: crate::sync::unmodeled::AtomicUsize,
    state: Mutex<State<G>>,
}

struct State<G> {
    /// Every series ever created, by slot. `Owned`, not `Box`: their addresses are published to
    /// lock-free readers and must survive the vector moving its elements (see `owned`).
    slab: Vec<Owned<Series<G>>>,
    /// Rendered `name="value",…` per slab slot; `None` while the slot is removed.
    labels: Vec<Option<Arc<LabelSet>>>,
    /// Removed slots, oldest first, with the scrape clock at their removal.
    retired: VecDeque<(usize, u64)>,
    /// Every table so far, the current one last; older ones stay for readers still probing them.
    /// `Owned` for the same reason as `slab`: `FamilyInner::table` publishes their addresses.
    tables: Vec<Owned<Table<G>>>,
    overflow: Option<usize>,
    /// Counts scrape starts; stamps removals.
    scrape_clock: u64,
    /// Start clocks of the scrapes encoding this family right now.
    active_scrapes: Vec<u64>,
    /// What scrapes write; everything when `None`.
    export: Option<Arc<Export<G>>>,
}

impl<G> State<G> {
    /// A slot removed at clock `r` may be in the snapshot of any scrape that started at or before
    /// `r`; it is reused only once all of those have finished, so no scrape ever writes a reused
    /// slot's values under the labels it had when the scrape copied the series list.
    fn oldest_scrape(&self) -> u64 {
        self.active_scrapes.iter().copied().min().unwrap_or(u64::MAX)
    }
}

fn next_family_id() -> u64 {
    static NEXT: crate::sync::unmodeled::AtomicU64 = crate::sync::unmodeled::AtomicU64::new(1);
    // Relaxed: only uniqueness matters.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A per-family hash seed, so no caller can aim label values at a fingerprint collision.
#[cfg(not(loom))]
fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

/// loom replays a model many times and needs every replay to make the same choices.
#[cfg(loom)]
fn random_seed() -> u64 {
    0x5eed
}

/// Cache-entry operations on a type-erased family (`Arc::as_ptr`) and series.
#[cfg(not(loom))]
unsafe fn retain<G: Group>(owner: *const ()) {
    let owner = owner.cast::<FamilyInner<G>>();
    // SAFETY: `owner` came from `Arc::as_ptr` of a family that is alive (see `cache::Ops`).
    // Strong count first: `cached` never exceeds the references it counts.
    unsafe {
        Arc::increment_strong_count(owner);
        (*owner).cached.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
unsafe fn drop_owner<G: Group>(owner: *const ()) {
    let owner = owner.cast::<FamilyInner<G>>();
    // SAFETY: gives back a reference counted by `retain` (see `cache::Ops`), which keeps the
    // family alive until the last line.
    unsafe {
        (*owner).cached.fetch_sub(1, Ordering::Relaxed);
        Arc::decrement_strong_count(owner);
    }
}

#[cfg(not(loom))]
unsafe fn orphaned<G: Group>(owner: *const ()) -> bool {
    // SAFETY: `owner` came from `Arc::as_ptr` and the caller's entry holds a strong reference
    // counted by `retain`; `ManuallyDrop` keeps that reference where it is.
    let family = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(owner.cast::<FamilyInner<G>>()) });
    // Racy (another thread may be filling or releasing), which `Ops::orphaned` allows.
    Arc::strong_count(&family) <= family.cached.load(Ordering::Relaxed)
}

#[cfg(not(loom))]
unsafe fn unpin<G: Group>(series: *const ()) {
    // SAFETY: `series` is in the slab of a family the caller still holds a reference to.
    let series = unsafe { &*series.cast::<Series<G>>() };
    // Release: our writes happen-before a reuser that sees zero and resets the cells.
    series.handles.fetch_sub(1, Ordering::Release);
}

#[cfg(not(loom))]
unsafe fn current<G: Group>(series: *const (), state: u64) -> bool {
    // SAFETY: `series` is in the slab of a family the caller still holds a reference to.
    unsafe { &*series.cast::<Series<G>>() }.is_still(state)
}

impl<G: Group> FamilyInner<G> {
    /// What this family's cache entries do with it and its series.
    #[cfg(not(loom))]
    const CACHE_OPS: &'static cache::Ops = &cache::Ops {
        retain: retain::<G>,
        unpin: unpin::<G>,
        drop_owner: drop_owner::<G>,
        current: current::<G>,
        orphaned: orphaned::<G>,
    };

    pub(crate) fn new(
        texts: Box<[MetricText]>,
        label_names: Box<[Box<str>]>,
        layout: G::Layout,
        max_series: usize,
    ) -> Self {
        let table = Owned::new(Table::with_capacity(8));
        let current = table.as_ptr();
        Self {
            texts,
            label_names,
            layout,
            seed: random_seed(),
            max_series: max_series.max(1),
            table: AtomicPtr::new(current),
            live: AtomicUsize::new(0),
            overflowed: AtomicU64::new(0),
            id: next_family_id(),
            cached: crate::sync::unmodeled::AtomicUsize::new(0),
            state: Mutex::new(State {
                slab: Vec::new(),
                labels: Vec::new(),
                retired: VecDeque::new(),
                tables: vec![table],
                overflow: None,
                scrape_clock: 0,
                active_scrapes: Vec::new(),
                export: None,
            }),
        }
    }

    #[inline]
    fn fingerprint<const N: usize>(&self, values: &impl LabelValues<N>) -> Fingerprint {
        let mut key = KeyBuilder::new();
        values.feed(&mut key);
        key.finish(self.seed)
    }

    #[inline]
    fn find(&self, fingerprint: Fingerprint) -> Option<&Series<G>> {
        // Acquire: pairs with the Release store in `grow`, publishing the filled table.
        let table = self.table.load(Ordering::Acquire);
        // SAFETY: the pointer always names a table in `State::tables`, which only grows and is
        // dropped with `self`, so it outlives this borrow of `self`.
        unsafe { &*table }.find(fingerprint)
    }

    /// Finds or creates the series for `values` and takes a pin on it (a count in `handles`),
    /// with the state it was pinned at if it is a regular series (`None` for the overflow one).
    fn resolve_pinned<const N: usize>(
        &self,
        values: &impl LabelValues<N>,
        fingerprint: Fingerprint,
    ) -> (&Series<G>, Option<u64>) {
        if let Some(series) = self.find(fingerprint) {
            if let Some(state) = series.pin(fingerprint) {
                return (series, Some(state));
            }
        }
        let mut state = self.state.lock();
        let series = self.resolve_in(&mut state, values, fingerprint);
        // Under the lock nothing is removed or reused, so the count can be taken directly.
        series.handles.fetch_add(1, Ordering::AcqRel);
        let identity = if state.overflow == Some(series.slot) { None } else { series.identity(fingerprint) };
        drop(state);
        (series, identity)
    }

    /// Finds or creates under the lock, which makes the table exact: a lock-free miss may have
    /// raced with a removal's shift.
    fn resolve_in<const N: usize>(
        &self,
        state: &mut State<G>,
        values: &impl LabelValues<N>,
        fingerprint: Fingerprint,
    ) -> &Series<G> {
        if let Some(series) = self.find(fingerprint) {
            return series;
        }
        let series = match self.render(values) {
            Some(labels) if self.live.load(Ordering::Relaxed) < self.max_series => {
                self.create(state, fingerprint, labels)
            }
            _ => {
                // Relaxed: a statistic.
                self.overflowed.fetch_add(1, Ordering::Relaxed);
                self.overflow_series(state)
            }
        };
        // SAFETY: slab entries are freed only when `self` drops, so the series outlives `&self`
        // even after the guard that protects `state` is released.
        unsafe { &*core::ptr::from_ref::<Series<G>>(series) }
    }

    fn render<const N: usize>(&self, values: &impl LabelValues<N>) -> Option<Arc<LabelSet>> {
        let mut raw: Vec<String> = Vec::with_capacity(N);
        let mut fits = true;
        values.for_each(&mut |value: &dyn LabelValue| {
            let mut text = String::new();
            value.write(&mut text);
            fits &= text.len() <= MAX_LABEL_VALUE_LEN && text != OVERFLOW_LABEL_VALUE;
            raw.push(text);
        });
        if !fits {
            return None;
        }
        Some(Arc::new(LabelSet::new(&self.label_names, raw.iter().map(String::as_str))))
    }

    fn create<'s>(&self, state: &'s mut State<G>, fingerprint: Fingerprint, labels: Arc<LabelSet>) -> &'s Series<G> {
        let slot = match self.reusable_slot(state) {
            Some(slot) => {
                let series = &state.slab[slot];
                series.cells.reset();
                series.reuse(fingerprint);
                slot
            }
            None => {
                let slot = state.slab.len();
                state.slab.push(Owned::new(Series::new(fingerprint, slot, G::new(&self.layout))));
                state.labels.push(None);
                slot
            }
        };
        state.labels[slot] = Some(labels);
        self.live.fetch_add(1, Ordering::Relaxed);
        self.insert(state, slot);
        &state.slab[slot]
    }

    /// The oldest removed slot without live handles, once enough removed slots wait.
    fn reusable_slot(&self, state: &mut State<G>) -> Option<usize> {
        if state.retired.len() <= REUSE_AFTER && state.slab.len() < self.max_series {
            return None;
        }
        for _ in 0..state.retired.len() {
            let (slot, retired_at) = state.retired.pop_front()?;
            if retired_at < state.oldest_scrape() && state.slab[slot].unpinned() {
                return Some(slot);
            }
            state.retired.push_back((slot, retired_at));
        }
        None
    }

    fn insert(&self, state: &mut State<G>, slot: usize) {
        let live = self.live.load(Ordering::Relaxed);
        let table = state.tables.last().map_or(0, |t| t.capacity());
        if live * 2 > table {
            let bigger = Owned::new(Table::with_capacity(live * 4));
            for series in state.tables.last().into_iter().flat_map(|t| t.entries()) {
                bigger.insert(series);
            }
            bigger.insert(&state.slab[slot]);
            let current = bigger.as_ptr();
            state.tables.push(bigger);
            // Release: publishes the filled table to `find`'s Acquire load.
            self.table.store(current, Ordering::Release);
        } else if let Some(table) = state.tables.last() {
            table.insert(&state.slab[slot]);
        }
    }

    fn overflow_series<'s>(&self, state: &'s mut State<G>) -> &'s Series<G> {
        let slot = match state.overflow {
            Some(slot) => slot,
            None => {
                let slot = state.slab.len();
                let values = self.label_names.iter().map(|_| OVERFLOW_LABEL_VALUE);
                let labels = LabelSet::new(&self.label_names, values);
                // The overflow series is never in the table, so its fingerprint is never matched.
                state.slab.push(Owned::new(Series::new(Fingerprint(0), slot, G::new(&self.layout))));
                state.labels.push(Some(Arc::new(labels)));
                state.overflow = Some(slot);
                slot
            }
        };
        &state.slab[slot]
    }

    /// Removes the series for `values`. Its handles keep working; their writes are not exported.
    pub(crate) fn remove<const N: usize>(&self, values: &impl LabelValues<N>) -> bool {
        let fingerprint = self.fingerprint(values);
        let mut state = self.state.lock();
        let Some(series) = self.find(fingerprint) else { return false };
        let slot = series.slot;
        self.retire(&mut state, slot);
        true
    }

    /// Removes every series whose first `K` label values are `values`; returns how many.
    pub(crate) fn remove_prefix<const K: usize>(&self, values: &impl LabelValues<K>) -> usize {
        let Some(prefix) = self.render(values) else { return 0 };
        let mut state = self.state.lock();
        let matching: Vec<usize> = state
            .labels
            .iter()
            .enumerate()
            .filter(|(slot, labels)| {
                Some(*slot) != state.overflow
                    && labels.as_deref().is_some_and(|l| {
                        let rest = l.text().strip_prefix(prefix.text());
                        rest.is_some_and(|rest| rest.is_empty() || rest.starts_with(','))
                    })
            })
            .map(|(slot, _)| slot)
            .collect();
        for &slot in &matching {
            self.retire(&mut state, slot);
        }
        matching.len()
    }

    /// Takes a live slot out of the table and queues it for reuse. Caller holds the lock.
    fn retire(&self, state: &mut State<G>, slot: usize) {
        let series: &Series<G> = &state.slab[slot];
        if let Some(table) = state.tables.last() {
            table.remove(series);
        }
        series.retire();
        state.labels[slot] = None;
        let clock = state.scrape_clock;
        state.retired.push_back((slot, clock));
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn bind<const N: usize>(self: &Arc<Self>, values: &impl LabelValues<N>) -> Handle<G> {
        let (series, _) = self.resolve_pinned(values, self.fingerprint(values));
        Handle::new(Arc::clone(self), series)
    }

    pub(crate) fn is_overflow(&self, series: &Series<G>) -> bool {
        self.state.lock().overflow == Some(series.slot)
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub(crate) fn first_name(&self) -> &str {
        self.texts.first().map_or("", MetricText::family_name)
    }

    pub(crate) fn set_export(&self, export: Option<Export<G>>) {
        self.state.lock().export = export.map(Arc::new);
    }

    /// The family name of the group's `metric`-th metric.
    pub(crate) fn metric_name(&self, metric: usize) -> &str {
        self.texts.get(metric).map_or("", MetricText::family_name)
    }

    pub(crate) fn has_labels(&self) -> bool {
        !self.label_names.is_empty()
    }

    /// Writes every metric of the family into the scrape.
    ///
    /// The lock is held only to copy the list of live series (a pointer and a label `Arc` each);
    /// encoding runs unlocked, so series creation waits at most for that copy and recording never
    /// waits. Slots removed during the scrape are not reused until it ends (see
    /// `State::oldest_scrape`), so every line carries the labels its values belong to; a series
    /// removed mid-scrape is exported one last time.
    pub(crate) fn encode(&self, encoder: &mut Encoder<'_>) {
        let (snapshot, export, scrape) = {
            let mut state = self.state.lock();
            state.scrape_clock += 1;
            let clock = state.scrape_clock;
            state.active_scrapes.push(clock);
            // Each label `Arc`'s count is a cold line at a node with thousands of series: the
            // ones a few slots ahead are prefetched (see `crate::prefetch`).
            let snapshot: Vec<(&Series<G>, Arc<LabelSet>)> = state
                .slab
                .iter()
                .zip(&state.labels)
                .enumerate()
                .filter_map(|(slot, (series, labels))| {
                    if let Some(Some(ahead)) = state.labels.get(slot + PREFETCH_AHEAD) {
                        prefetch::value(&**ahead);
                    }
                    // SAFETY: slab entries are freed only when `self` drops.
                    let series = unsafe { &*series.as_ptr() };
                    Some((series, Arc::clone(labels.as_ref()?)))
                })
                .collect();
            (snapshot, state.export.clone(), ActiveScrape { family: self, clock })
        };
        if let Some(export) = &export {
            export::encode(self, export, snapshot, encoder);
        } else if !snapshot.is_empty() {
            for (metric, text) in self.texts.iter().enumerate() {
                encoder.metric(text);
                for (series, labels) in &snapshot {
                    let mut writer = encoder.series(text, &self.label_names, labels);
                    series.cells.encode(&self.layout, metric, &mut writer);
                }
            }
        }
        drop(scrape);
    }
}

/// Marks a scrape of one family as finished, also when a group's `encode` panics.
struct ActiveScrape<'a, G: Group> {
    family: &'a FamilyInner<G>,
    clock: u64,
}

impl<G: Group> Drop for ActiveScrape<'_, G> {
    fn drop(&mut self) {
        let mut state = self.family.state.lock();
        if let Some(at) = state.active_scrapes.iter().position(|c| *c == self.clock) {
            state.active_scrapes.swap_remove(at);
        }
    }
}

impl<G: Group, const N: usize> Family<G, N> {
    /// The series for `values`, created on first use, pinned to that label set for as long as
    /// the returned [`Pinned`] guard lives. No lock when it exists.
    ///
    /// Use it for one-off recording (`family.get(("orders", 7)).inc()`, which drops the guard at
    /// the end of the statement); on a hot path, keep a [`Handle`] from [`Family::bind`] instead.
    /// If the family is full, or a value is longer than [`MAX_LABEL_VALUE_LEN`], the overflow
    /// series is returned and the overflow count grows.
    ///
    /// **A write never lands in another label set's series.** The lookup never returns a series
    /// that was removed before it checked (the per-thread cache compares the series' generation
    /// on every hit), and while the guard lives the series' slot is pinned: [`Family::remove`]
    /// can still remove the label set (writes through the guard then go to the removed series,
    /// which is no longer exported), but the slot is not handed to another label set until every
    /// guard, handle and per-thread cache entry on it is gone.
    ///
    /// Cost: a hit in the calling thread's lookup cache adds no atomic read-modify-write: the cache
    /// entry itself holds a pin on the series and the guard only counts itself in thread-local
    /// memory (a few instructions). The cache grows with the label sets the thread resolves, up to
    /// 32 768 of them (about 6.5 MiB per thread at most), so a thread that walks thousands of
    /// partitions hits it too. One or two label values that end in an integer below 8 192 (`(topic,
    /// partition)`, a node id), and three whose second is one (`(topic, partition, peer)`), are
    /// answered before the cache, by a per-thread row that the other values select and the integer
    /// indexes: no hash, about 90 instructions for `get((topic, p)).inc()` cycling 1 024 partitions
    /// (at most 4 MiB per thread). A cache miss, the overflow series, and label values too long for
    /// the cache take an atomic pin on the series and release it when the guard drops. Each cache
    /// entry also keeps a reference to its family, so a dropped family's memory is freed once each
    /// thread that used it next makes room in its cache (entries of families nothing else holds are
    /// released then) or exits. The guard is neither `Send` nor `Sync`.
    // Always inlined, with the lookup (`resolve`): called out of line, the label values went
    // to the callee as a tuple in memory, and a caller that built it from separate stores (any
    // `black_box`ed or spilled `&str`) reloaded it with one wide load the CPU cannot forward
    // from those stores: 21 ns per `get((topic, 7)).inc()` against 8.7 ns inlined (criterion
    // `labelled_inc`, 2026-12-03). The guide's calls are out of line and take the values in
    // registers, so they pay this inlining once each.
    #[inline(always)]
    pub fn get(&self, values: impl LabelValues<N>) -> Pinned<'_, G> {
        self.inner.resolve(self.id, &values)
    }

    /// A handle on the series for `values`, created on first use: recording through it does
    /// no lookup at all.
    pub fn bind(&self, values: impl LabelValues<N>) -> Handle<G> {
        self.inner.bind(&values)
    }

    /// A single-writer handle on the series for `values`: records without locked instructions.
    ///
    /// # Errors
    ///
    /// [`ClaimError::Claimed`] while another `Exclusive` owns the series;
    /// [`ClaimError::Overflow`] when the values resolved to the shared overflow series.
    pub fn claim(&self, values: impl LabelValues<N>) -> Result<Exclusive<G>, ClaimError> {
        let handle = self.inner.bind(&values);
        if self.inner.is_overflow(handle.series()) {
            return Err(ClaimError::Overflow);
        }
        Exclusive::claim(handle)
    }

    /// Sets what scrapes write of this family from the next scrape on: the metrics and series
    /// an [`Export`] selects, or everything (`None`, the default). Recording is unaffected.
    pub fn set_export(&self, export: Option<Export<G>>) {
        self.inner.set_export(export);
    }

    /// Removes the series for `values` (a partition moved away). Returns whether it existed.
    /// Outstanding handles stay valid; what they record is no longer exported.
    pub fn remove(&self, values: impl LabelValues<N>) -> bool {
        self.inner.remove(&values)
    }

    /// Removes every series whose first `K` label values are `values` (say, every peer of a
    /// partition), under the family lock; returns how many were removed.
    pub fn remove_prefix<const K: usize>(&self, values: impl LabelValues<K>) -> usize {
        self.inner.remove_prefix(&values)
    }

    /// Number of live label sets (the overflow series not included).
    pub fn len(&self) -> usize {
        self.inner.live()
    }

    /// Whether no label set has been created yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many lookups found the family full (or a value too long) and used the overflow series.
    pub fn overflowed(&self) -> u64 {
        self.inner.overflowed()
    }
}

impl<G: Group, const N: usize> core::fmt::Debug for Family<G, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Family")
            .field("name", &self.inner.first_name())
            .field("labels", &self.inner.label_names)
            .field("series", &self.len())
            .finish_non_exhaustive()
    }
}
