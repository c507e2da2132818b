//! A histogram that records with one relaxed `fetch_add` and no compare-and-swap loop.
//!
//! # Layout
//!
//! Each bucket has one *packed* word: the observation count in the top 24 bits and the sum of the
//! bucket's observations, as a fixed-point integer, in the low 40 bits. Observing adds
//! `1 << 40 | fixed(v)` to the bucket's word: the count and the sum move together in one locked
//! instruction. The previous value tells the observer when either field passed half its range;
//! that observer then *drains* the word (swaps it to zero) into 64-bit *spilled* totals, allocated
//! on the first drain (a histogram that never drains stays 13 words for 12 buckets). Drains
//! happen once per 2^23 observations per bucket, or per 2^39 sum units, so their cost vanishes.
//!
//! A weighted observation (`observe_n`, used by sampling) adds `n << 40 | fixed(n·v)` the same
//! way, for weights up to 2^16.
//!
//! Negative, non-finite and very large observations (over 2^32 sum units, i.e. four million times
//! the smallest bucket bound) skip the packed word and go straight to the spilled totals.
//!
//! # Reading
//!
//! A scrape reads every bucket as `spilled + packed` inside a drain stamp (a seqlock whose writers
//! never wait for each other): the high 32 bits count finished drains, the low 32 bits count drains
//! in progress. A drain adds 1 when it starts and `2^32 - 1` when it ends. A reader waits while
//! drains are in progress and retries when the stamp moved, so a value is never seen both in its
//! packed word and in its spilled total, nor in neither. `_count` is the sum of the buckets, so it
//! always equals the `+Inf` bucket, and every count is monotonic across scrapes.
//! Observations that land while a scrape reads are either in it or in the next one.
//!
//! # Special values
//!
//! * NaN lands in the `+Inf` bucket and adds nothing to the sum.
//! * `+inf` lands in the `+Inf` bucket and `-inf` in the first bucket; neither adds to the sum.
//! * Negative values land in the bucket their value selects and subtract from the sum.
//! * Values too large to express in sum units (beyond ~10^305) are counted but not summed; a sum
//!   past 9.2·10^18 units wraps (at the default resolution, 29 years of 1 s observations per 0.1 µs).
//! * The sum is exact to one sum unit per observation (see [`Buckets::sum_resolution`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Metric;
use crate::encode::SampleWriter;
use crate::model::{BucketsError, MetricKind};
use crate::sync::{fence, yield_now, AtomicI64, AtomicPtr, AtomicU64, Ordering};

use super::Local;

const SUM_BITS: u32 = 40;
const SUM_MASK: u64 = (1 << SUM_BITS) - 1;
/// Bit 63 is set once the count field reaches 2^23; bit 39 once the sum field reaches 2^39.
#[cfg(not(loom))]
const DRAIN_MASK: u64 = (1 << 63) | (1 << (SUM_BITS - 1));
/// Under loom, drain whenever the word already holds a sum, so small models exercise drains.
#[cfg(loom)]
const DRAIN_MASK: u64 = (1 << 63) | SUM_MASK;
/// Largest sum contribution that takes the packed path. With 2^39 of headroom, 128 observers of
/// this size would all have to stall between their add and their drain to overflow the field.
const FAST_LIMIT: f64 = (1u64 << 32) as f64;
/// Largest weight that takes the packed path: with the count field draining at 2^23, 128 weighted
/// observers would have to stall between add and drain to overflow it.
const MAX_PACKED_WEIGHT: u64 = 1 << 16;
const DRAINS_IN_PROGRESS: u64 = (1 << 32) - 1;
const DRAIN_START: u64 = 1;
const DRAIN_END: u64 = (1 << 32) - 1;

/// Above this many bounds a binary search beats the branch-free linear count.
const LINEAR_SEARCH_MAX: usize = 32;

/// The upper bounds of a histogram's buckets, fixed at registration, plus the precision of its sum.
///
/// Bounds are finite and strictly increasing; the `+Inf` bucket is implicit. Build them with
/// [`Buckets::new`], [`Buckets::linear`] or [`Buckets::exponential`].
#[derive(Clone, PartialEq)]
pub struct Buckets {
    bounds: Box<[f64]>,
    resolution: f64,
    per_unit: f64,
    rendered: Box<[Box<str>]>,
}

impl Buckets {
    /// Buckets with the given upper bounds. A trailing `+Inf` is accepted and dropped.
    ///
    /// # Errors
    ///
    /// [`BucketsError`] when the bounds are empty, not finite or not strictly increasing.
    pub fn new(bounds: impl Into<Vec<f64>>) -> Result<Self, BucketsError> {
        let mut bounds = bounds.into();
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        if bounds.is_empty() {
            return Err(BucketsError::Empty);
        }
        for (index, pair) in bounds.iter().enumerate() {
            if !pair.is_finite() {
                return Err(BucketsError::NotFinite { index });
            }
            if index > 0 && bounds[index - 1] >= *pair {
                return Err(BucketsError::NotIncreasing { index });
            }
        }
        let (resolution, per_unit) = default_resolution(&bounds);
        Ok(Self::with_parts(bounds.into_boxed_slice(), resolution, per_unit))
    }

    /// `count` buckets `start, start + width, …`.
    ///
    /// # Errors
    ///
    /// When `count` is zero, or `width` is not positive, or a bound is not finite.
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Self, BucketsError> {
        if width.is_nan() || width <= 0.0 {
            return Err(BucketsError::InvalidParameters("linear buckets need a positive width"));
        }
        #[allow(clippy::cast_precision_loss)] // bucket counts are small
        Self::new((0..count).map(|i| start + width * i as f64).collect::<Vec<_>>())
    }

    /// `count` buckets `start, start * factor, start * factor², …`.
    ///
    /// # Errors
    ///
    /// When `count` is zero, `start` is not positive, `factor` is not above 1, or a bound
    /// overflows to infinity.
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Self, BucketsError> {
        if start.is_nan() || start <= 0.0 {
            return Err(BucketsError::InvalidParameters("exponential buckets need a positive start"));
        }
        if factor.is_nan() || factor <= 1.0 {
            return Err(BucketsError::InvalidParameters("exponential buckets need a factor above 1"));
        }
        let mut bound = start;
        let mut bounds = Vec::with_capacity(count);
        for index in 0..count {
            if !bound.is_finite() {
                return Err(BucketsError::NotFinite { index });
            }
            bounds.push(bound);
            bound *= factor;
        }
        Self::new(bounds)
    }

    /// Sets the precision of `_sum`: every observation is rounded to a multiple of `resolution`.
    ///
    /// The default is a thousandth of the smallest bound's order of magnitude (bounds starting at
    /// 0.5 ms give 0.1 µs); the sum then holds 9.2·10^18 units before it wraps.
    ///
    /// # Errors
    ///
    /// When `resolution` is not a positive finite number.
    pub fn with_sum_resolution(self, resolution: f64) -> Result<Self, BucketsError> {
        // Normal and with a finite reciprocal: a subnormal resolution would make every sum zero.
        if !(resolution.is_normal() && resolution > 0.0 && (1.0 / resolution).is_finite()) {
            return Err(BucketsError::InvalidParameters("the sum resolution must be positive and finite"));
        }
        Ok(Self::with_parts(self.bounds, resolution, 1.0 / resolution))
    }

    fn with_parts(bounds: Box<[f64]>, resolution: f64, per_unit: f64) -> Self {
        let rendered = bounds
            .iter()
            .map(|b| crate::encode::format_float(*b).into_boxed_str())
            .chain(core::iter::once(Box::from("+Inf")))
            .collect();
        Self { bounds, resolution, per_unit, rendered }
    }

    /// The finite upper bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// The precision of `_sum` (see [`Buckets::with_sum_resolution`]).
    pub fn sum_resolution(&self) -> f64 {
        self.resolution
    }

    /// The bounds as exposition `le` values, ending with `+Inf`.
    pub(crate) fn rendered(&self) -> &[Box<str>] {
        &self.rendered
    }

    /// Converts a fixed-point sum back, through whichever of the two factors is exact.
    fn units_to_value(&self, units: i64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // the sum is reported as a float anyway
        let units = units as f64;
        if self.per_unit >= 1.0 {
            units / self.per_unit
        } else {
            units * self.resolution
        }
    }

    /// The bucket `v` falls in: the number of bounds below it, or every bound for NaN.
    #[inline]
    fn index(&self, v: f64) -> usize {
        // `!(v <= b)` is `b < v` for numbers and true for NaN, which sends NaN to +Inf.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let above = |b: &f64| !(v <= *b);
        if self.bounds.len() <= LINEAR_SEARCH_MAX {
            self.bounds.iter().filter(|b| above(b)).count()
        } else {
            self.bounds.partition_point(above)
        }
    }
}

/// `(resolution, 1 / resolution)` with the larger of the two an exact power of ten, so that
/// converting the fixed-point sum back divides or multiplies by an exact number.
fn default_resolution(bounds: &[f64]) -> (f64, f64) {
    let smallest = bounds.iter().map(|b| b.abs()).filter(|b| *b > 0.0).fold(f64::INFINITY, f64::min);
    // Clamped so that both 10^|exponent| and its reciprocal are normal, finite numbers (bounds
    // below 1e-297 get a coarser sum); a finite f64's decimal exponent is within ±324.
    #[allow(clippy::cast_possible_truncation)]
    let exponent = if smallest.is_finite() { (smallest.log10().floor() as i32 - 3).clamp(-300, 300) } else { -6 };
    let exact = 10f64.powi(exponent.abs());
    if exponent < 0 {
        (1.0 / exact, exact)
    } else {
        (exact, 1.0 / exact)
    }
}

impl core::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Buckets").field("bounds", &self.bounds).field("sum_resolution", &self.resolution).finish()
    }
}

/// `N` bucket words followed by the `+Inf` word, addressable as one slice.
#[repr(C)]
struct Row<const N: usize> {
    finite: [AtomicU64; N],
    inf: AtomicU64,
}

impl<const N: usize> Row<N> {
    fn new() -> Self {
        Self { finite: core::array::from_fn(|_| AtomicU64::new(0)), inf: AtomicU64::new(0) }
    }

    #[inline]
    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `Row` is `repr(C)`: `finite` starts at offset 0 and `inf` follows at
        // `N * size_of::<AtomicU64>()`, which is a multiple of the element's alignment, so there is
        // no padding and the struct is `N + 1` contiguous, initialised `AtomicU64`s that live as
        // long as `&self`.
        unsafe { core::slice::from_raw_parts(core::ptr::from_ref(self).cast::<AtomicU64>(), N + 1) }
    }
}

/// A distribution of observations over `N` fixed buckets plus `+Inf`.
///
/// Shared recording through `&self` is one relaxed `fetch_add` (see the module documentation for
/// how count and sum share it); single-writer recording through [`Local`] is a load and a store.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use raft_metrics::{Buckets, Histogram};
///
/// let buckets = Arc::new(Buckets::exponential(0.001, 2.0, 4)?); // 1, 2, 4, 8 ms
/// let latency = Histogram::<4>::new(buckets)?;
/// latency.observe(0.0015);
/// latency.observe(f64::NAN); // counted in +Inf, adds nothing to the sum
/// assert_eq!(latency.count(), 2);
/// assert_eq!(latency.bucket_counts(), vec![0, 1, 0, 0, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Histogram<const N: usize> {
    packed: Row<N>,
    /// Allocated by the first drain or spilled observation: most histograms never need it, and
    /// keeping it out of line halves a histogram's size.
    spill: AtomicPtr<Spill<N>>,
    drain_stamp: AtomicU64,
    buckets: Arc<Buckets>,
}

impl<const N: usize> Histogram<N> {
    /// A histogram over `buckets`, which must hold exactly `N` bounds.
    ///
    /// # Errors
    ///
    /// [`BucketsError::InvalidParameters`] when the bound count is not `N`.
    pub fn new(buckets: Arc<Buckets>) -> Result<Self, BucketsError> {
        check_len::<N>(&buckets)?;
        Ok(Self::from_checked(buckets))
    }

    fn from_checked(buckets: Arc<Buckets>) -> Self {
        Self {
            packed: Row::new(),
            spill: AtomicPtr::new(core::ptr::null_mut()),
            drain_stamp: AtomicU64::new(0),
            buckets,
        }
    }

    /// The spilled totals, allocating them on first use.
    #[inline]
    fn spill(&self) -> &Spill<N> {
        self.spill_if_any().unwrap_or_else(|| self.allocate_spill())
    }

    #[inline]
    fn spill_if_any(&self) -> Option<&Spill<N>> {
        // Acquire: pairs with the AcqRel publish in `allocate_spill`: the zeroed words are visible.
        let spill = self.spill.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` in `allocate_spill` and is freed
        // only in `Drop`, which cannot run while `&self` is borrowed.
        (!spill.is_null()).then(|| unsafe { &*spill })
    }

    #[cold]
    #[inline(never)]
    fn allocate_spill(&self) -> &Spill<N> {
        let fresh = Box::into_raw(Box::new(Spill { counts: Row::new(), sum: AtomicI64::new(0) }));
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

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.record(v, 1, Write::Shared);
    }

    /// Records `n` observations of `v` at once: the weighted form sampling uses.
    #[inline]
    pub fn observe_n(&self, v: f64, n: u64) {
        self.record(v, n, Write::Shared);
    }

    /// Records a duration given in milliseconds, for histograms in seconds.
    #[inline]
    pub fn observe_ms(&self, ms: f64) {
        self.observe(ms / 1000.0);
    }

    /// Records a duration, in seconds.
    #[inline]
    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// Starts a timer that records the elapsed seconds when dropped (or [`Timer::stop`]ped).
    /// Reads the clock twice; see [`Sampled`](crate::Sampled) for timing only sampled events.
    #[inline]
    pub fn start_timer(&self) -> Timer<'_, N> {
        Timer { histogram: self, weight: 1, started: Some(Instant::now()) }
    }

    /// The one recording path: `Write::Shared` adds with one `fetch_add`, `Write::Single` with a
    /// load and a store (the caller guarantees it is the only writer).
    #[inline(always)]
    fn record(&self, v: f64, n: u64, write: Write) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::histogram();
        let buckets = &*self.buckets;
        let index = buckets.index(v);
        #[allow(clippy::cast_precision_loss)] // weights are small; beyond 2^53 precision is moot
        let scaled = v * buckets.per_unit * n as f64;
        if n <= MAX_PACKED_WEIGHT && (0.0..FAST_LIMIT).contains(&scaled) {
            // Truncating `scaled + 0.5` rounds half up; both are below 2^33, so the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let add = (n << SUM_BITS) | (scaled + 0.5) as u64;
            let word = &self.packed.words()[index];
            let prev = match write {
                // Relaxed: the word publishes no other memory; drains order themselves (`drain`).
                Write::Shared => word.fetch_add(add, Ordering::Relaxed),
                Write::Single => {
                    let prev = word.load(Ordering::Relaxed);
                    word.store(prev.wrapping_add(add), Ordering::Relaxed);
                    prev
                }
            };
            if prev & DRAIN_MASK != 0 {
                self.drain(index);
            }
        } else {
            self.observe_spilled(index, scaled, n);
        }
    }

    /// The buckets this histogram was built with.
    pub fn buckets(&self) -> &Arc<Buckets> {
        &self.buckets
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        // Wrapping, like the exposition: weighted observations can pass u64::MAX.
        self.bucket_counts().iter().fold(0, |sum, n| sum.wrapping_add(*n))
    }

    /// Sum of observations (see the module docs for NaN and infinities).
    pub fn sum(&self) -> f64 {
        self.snapshot().sum
    }

    /// Observations per bucket (not cumulative), the `+Inf` bucket last.
    pub fn bucket_counts(&self) -> Vec<u64> {
        self.snapshot().counts
    }

    /// Counts and sum read together, from one drain-free window.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut counts = vec![0; N + 1];
        let sum = self.read_into(&mut counts);
        HistogramSnapshot { counts, sum }
    }

    /// Reads per-bucket counts into `counts` (length `N + 1`) and returns the sum, from one
    /// drain-free window (see the module docs).
    fn read_into(&self, counts: &mut [u64]) -> f64 {
        loop {
            // Acquire pairs with the Release store that ends a drain: its moves are visible.
            let before = self.drain_stamp.load(Ordering::Acquire);
            if before & DRAINS_IN_PROGRESS != 0 {
                yield_now();
                continue;
            }
            let spill = self.spill_if_any();
            let mut sum = spill.map_or(0, |s| s.sum.load(Ordering::Relaxed));
            for (index, (count, packed)) in counts.iter_mut().zip(self.packed.words()).enumerate() {
                let word = packed.load(Ordering::Relaxed);
                let spilled = spill.map_or(0, |s| s.counts.words()[index].load(Ordering::Relaxed));
                *count = spilled.wrapping_add(word >> SUM_BITS);
                #[allow(clippy::cast_possible_wrap)] // the field is 40 bits wide
                let part = (word & SUM_MASK) as i64;
                sum = sum.wrapping_add(part);
            }
            // Acquire fence: if any load above saw a drain's move, that drain's start (sequenced
            // before its Release fence) is visible to the stamp load below.
            fence(Ordering::Acquire);
            if self.drain_stamp.load(Ordering::Relaxed) == before {
                return self.buckets.units_to_value(sum);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn observe_spilled(&self, index: usize, scaled: f64, n: u64) {
        let spill = self.spill();
        spill.counts.words()[index].fetch_add(n, Ordering::Relaxed);
        if scaled.is_finite() {
            // `as` saturates beyond the i64 range; NaN and infinities never reach here.
            #[allow(clippy::cast_possible_truncation)]
            let units = scaled.round() as i64;
            spill.sum.fetch_add(units, Ordering::Relaxed);
        }
    }

    /// Moves a packed word into the spilled totals (see the module docs for the stamp protocol).
    #[cold]
    #[inline(never)]
    fn drain(&self, index: usize) {
        // Allocated before the stamp moves, so a reader never waits on an allocation.
        let spill = self.spill();
        self.drain_stamp.fetch_add(DRAIN_START, Ordering::Relaxed);
        // Release fence: a reader that sees any move below also sees the start above.
        fence(Ordering::Release);
        let moved = self.packed.words()[index].swap(0, Ordering::Relaxed);
        spill.counts.words()[index].fetch_add(moved >> SUM_BITS, Ordering::Relaxed);
        #[allow(clippy::cast_possible_wrap)] // the field is 40 bits wide
        spill.sum.fetch_add((moved & SUM_MASK) as i64, Ordering::Relaxed);
        // Release: a reader that sees the end sees the moves.
        self.drain_stamp.fetch_add(DRAIN_END, Ordering::Release);
    }

    /// The single-writer view of a histogram this code owns outright.
    pub fn local(&mut self) -> Local<'_, Self> {
        Local::new(self)
    }
}

impl<const N: usize> Local<'_, Histogram<N>> {
    /// Records one observation with a relaxed load and store: no locked instruction.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.cell().record(v, 1, Write::Single);
    }

    /// Records `n` observations of `v` at once.
    #[inline]
    pub fn observe_n(&self, v: f64, n: u64) {
        self.cell().record(v, n, Write::Single);
    }

    /// Records a duration given in milliseconds, for histograms in seconds.
    #[inline]
    pub fn observe_ms(&self, ms: f64) {
        self.observe(ms / 1000.0);
    }

    /// Records a duration, in seconds.
    #[inline]
    pub fn observe_duration(&self, elapsed: Duration) {
        self.observe(elapsed.as_secs_f64());
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.cell().count()
    }
}

#[derive(Clone, Copy)]
enum Write {
    Shared,
    Single,
}

/// Records the seconds since it started into its histogram when dropped.
#[must_use = "a timer records when dropped; dropping it at once records ~0"]
pub struct Timer<'a, const N: usize> {
    histogram: &'a Histogram<N>,
    weight: u64,
    /// `None` for an event that sampling skipped: no clock was read and nothing is recorded.
    started: Option<Instant>,
}

impl<'a, const N: usize> Timer<'a, N> {
    /// A timer for an event sampling kept, recorded with `weight`.
    pub(crate) fn weighted(histogram: &'a Histogram<N>, weight: u64) -> Self {
        Self { histogram, weight, started: Some(Instant::now()) }
    }

    /// A timer for an event sampling skipped: reads no clock, records nothing.
    pub(crate) fn skipped(histogram: &'a Histogram<N>) -> Self {
        Self { histogram, weight: 0, started: None }
    }

    /// Records now and consumes the timer.
    pub fn stop(self) {}

    /// Forgets the event: nothing is recorded.
    pub fn discard(mut self) {
        self.started = None;
    }
}

impl<const N: usize> Drop for Timer<'_, N> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            self.histogram.observe_n(started.elapsed().as_secs_f64(), self.weight);
        }
    }
}

impl<const N: usize> core::fmt::Debug for Timer<'_, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Timer").field("weight", &self.weight).field("started", &self.started).finish()
    }
}

fn check_len<const N: usize>(buckets: &Buckets) -> Result<(), BucketsError> {
    if buckets.bounds.len() == N {
        Ok(())
    } else {
        Err(BucketsError::InvalidParameters("the histogram's bucket count does not match its bounds"))
    }
}

/// Per-bucket counts and the sum moved out of the packed words.
struct Spill<const N: usize> {
    counts: Row<N>,
    sum: AtomicI64,
}

impl<const N: usize> Drop for Histogram<N> {
    fn drop(&mut self) {
        let spill = self.spill.load(Ordering::Acquire);
        if !spill.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` and `&mut self` proves no reader is left.
            drop(unsafe { Box::from_raw(spill) });
        }
    }
}

/// Counts and sum of a histogram, read together.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Observations per bucket (not cumulative), the `+Inf` bucket last.
    pub counts: Vec<u64>,
    /// Sum of observations.
    pub sum: f64,
}

impl<const N: usize> Metric for Histogram<N> {
    type Layout = Arc<Buckets>;
    const KIND: MetricKind = MetricKind::Histogram;

    fn check(layout: &Arc<Buckets>) -> Result<(), crate::model::RegistrationError> {
        check_len::<N>(layout).map_err(crate::model::RegistrationError::InvalidBuckets)
    }

    fn new(layout: &Arc<Buckets>) -> Self {
        Self::from_checked(Arc::clone(layout))
    }

    fn reset(&self) {
        for word in self.packed.words() {
            word.store(0, Ordering::Relaxed);
        }
        if let Some(spill) = self.spill_if_any() {
            for word in spill.counts.words() {
                word.store(0, Ordering::Relaxed);
            }
            spill.sum.store(0, Ordering::Relaxed);
        }
    }

    fn encode(&self, _layout: &Arc<Buckets>, out: &mut SampleWriter<'_>) {
        // A stack buffer for the usual sizes keeps scrapes allocation-free.
        let mut stack = [0u64; 65];
        let mut heap = Vec::new();
        let counts: &mut [u64] = if N < stack.len() {
            &mut stack[..=N]
        } else {
            heap.resize(N + 1, 0);
            &mut heap
        };
        let sum = self.read_into(counts);
        out.histogram(self.buckets.rendered(), counts, sum);
    }
}

impl<const N: usize> core::fmt::Debug for Histogram<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("Histogram")
            .field("bounds", &self.buckets.bounds)
            .field("counts", &snapshot.counts)
            .field("sum", &snapshot.sum)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn histogram<const N: usize>(bounds: [f64; N]) -> Histogram<N> {
        Histogram::new(Arc::new(Buckets::new(bounds.to_vec()).unwrap())).unwrap()
    }

    #[test]
    fn bucket_bounds_are_validated() {
        assert_eq!(Buckets::new(vec![]), Err(BucketsError::Empty));
        assert_eq!(Buckets::new(vec![f64::INFINITY]), Err(BucketsError::Empty));
        assert_eq!(Buckets::new(vec![1.0, f64::NAN]), Err(BucketsError::NotFinite { index: 1 }));
        assert_eq!(Buckets::new(vec![1.0, 1.0]), Err(BucketsError::NotIncreasing { index: 1 }));
        assert_eq!(Buckets::new(vec![2.0, 1.0]), Err(BucketsError::NotIncreasing { index: 1 }));
        assert!(Buckets::new(vec![1.0, 2.0, f64::INFINITY]).is_ok());
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert!(Buckets::linear(0.0, 1.0, 0).is_err());
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1e300, 3).is_err(), "overflows to infinity");
        assert_eq!(Buckets::exponential(1.0, 2.0, 4).unwrap().bounds(), &[1.0, 2.0, 4.0, 8.0]);
        assert_eq!(Buckets::linear(5.0, 5.0, 3).unwrap().bounds(), &[5.0, 10.0, 15.0]);
        assert!(Histogram::<3>::new(Arc::new(Buckets::linear(1.0, 1.0, 2).unwrap())).is_err());
    }

    #[test]
    fn observations_land_in_le_buckets() {
        let h = histogram([1.0, 2.0, 4.0]);
        for v in [0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 4.5, -7.0] {
            h.observe(v);
        }
        assert_eq!(h.bucket_counts(), vec![3, 2, 2, 1]);
        assert_eq!(h.count(), 8);
        assert!((h.sum() - 9.5).abs() < 1e-9, "sum {}", h.sum());
    }

    #[test]
    fn special_values_are_counted_but_not_summed() {
        let h = histogram([1.0, 2.0]);
        h.observe(f64::NAN);
        h.observe(f64::INFINITY);
        h.observe(f64::NEG_INFINITY);
        h.observe(f64::MAX);
        h.observe(5e-324);
        assert_eq!(h.bucket_counts(), vec![2, 0, 3]);
        assert_eq!(h.sum(), 0.0, "f64::MAX overflows the sum units: counted, not summed");
        let h = histogram([1.0]);
        h.observe(f64::NAN);
        h.observe(-0.0);
        assert_eq!(h.sum(), 0.0);
    }

    #[test]
    fn drains_keep_count_and_sum_exact() {
        let h = histogram([1.0]);
        // Sum units are 1e-3 here; 2^39 units is 5.5e8: values of 1e6 drain every ~550 observations.
        let big = 1.0e6;
        for _ in 0..10_000 {
            h.observe(big);
        }
        // And enough small observations to cross the count threshold (2^23) once.
        let mut owned = histogram([1.0]);
        for _ in 0..(1 << 23) + 5 {
            owned.local().observe(0.25);
        }
        assert_eq!(h.count(), 10_000);
        assert!((h.sum() - 1e10).abs() < 1.0, "sum {}", h.sum());
        assert_eq!(owned.count(), (1 << 23) + 5);
        assert!((owned.sum() - 0.25 * f64::from((1 << 23) + 5)).abs() < 1.0);
        assert!(owned.spill_if_any().unwrap().counts.words()[0].load(Ordering::Relaxed) > 0, "a drain happened");
        assert!(histogram([1.0]).spill_if_any().is_none(), "no spill until one is needed");
    }

    /// Found by fuzzing: weights past u64::MAX, and bounds or resolutions so small that the
    /// sum's units overflowed to infinity.
    #[test]
    fn extreme_weights_and_resolutions() {
        let h = histogram([1.0]);
        h.observe_n(0.5, u64::MAX);
        h.observe_n(2.0, 1);
        assert_eq!(h.count(), 0, "wraps like the exposition");
        let tiny = Buckets::new(vec![1e-306]).unwrap();
        assert!(tiny.sum_resolution() > 0.0 && (1.0 / tiny.sum_resolution()).is_finite());
        let h = Histogram::<1>::new(Arc::new(tiny)).unwrap();
        h.observe(1e-290);
        assert!(h.sum() > 0.0);
        assert!(Buckets::new(vec![1.0]).unwrap().with_sum_resolution(1e-310).is_err());
    }

    #[test]
    fn default_sum_resolution_follows_the_smallest_bound() {
        let b = Buckets::exponential(0.0005, 2.0, 14).unwrap();
        assert!((b.sum_resolution() - 1e-7).abs() < 1e-20);
        let b = Buckets::exponential(64.0, 4.0, 8).unwrap();
        assert!((b.sum_resolution() - 1e-2).abs() < 1e-15);
        assert!((Buckets::new(vec![0.0]).unwrap().sum_resolution() - 1e-6).abs() < 1e-18);
    }

    #[test]
    fn large_bucket_counts_use_binary_search() {
        let b = Arc::new(Buckets::linear(1.0, 1.0, 40).unwrap());
        let h = Histogram::<40>::new(b).unwrap();
        h.observe(39.5);
        h.observe(f64::NAN);
        h.observe(0.0);
        let counts = h.bucket_counts();
        assert_eq!((counts[0], counts[39], counts[40]), (1, 1, 1));
    }
}
