//! A histogram that records with one relaxed `fetch_add` and no compare-and-swap loop.
//!
//! # Layout
//!
//! Each bucket has one packed word (the protocol, its drains and its reads are `super::packed`'s):
//! the observation count in the top 24 bits and the sum of the bucket's observations, as a
//! fixed-point integer, in the low 40 bits. Observing adds `1 << 40 | fixed(v)` to the bucket's
//! word. Drains happen once per 2^23 observations per bucket, or per 2^39 sum units, so their cost
//! vanishes; a histogram that never drains stays 13 words for 12 buckets.
//!
//! A weighted observation (`observe_n`, used by sampling) adds `n << 40 | fixed(n·v)` the same
//! way, for weights up to 2^16.
//!
//! Negative, non-finite and very large observations (over 2^32 sum units, i.e. four million times
//! the smallest bucket bound) skip the packed word and go straight to the spilled totals.
//!
//! # Reading
//!
//! A scrape reads every bucket inside the drain stamp, so a value is never seen twice or not at
//! all. `_count` is the sum of the buckets, so it always equals the `+Inf` bucket, and every count
//! is monotonic across scrapes. Observations that land while a scrape reads are either in it or
//! in the next one.
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
use std::time::Instant;

use super::Metric;
use crate::encode::SeriesWriter;
use crate::model::MetricKind;
use crate::sync::{AtomicU64, Ordering};

use super::packed::{PackedState, Row, Scale, Write};
use super::{Buckets, Local};
use crate::model::BucketsError;

/// Largest sum contribution that takes the packed path. With 2^39 of headroom, 128 observers of
/// this size would all have to stall between their add and their drain to overflow the field.
const FAST_LIMIT: f64 = (1u64 << 32) as f64;
/// Largest weight that takes the packed path: with the count field draining at 2^23, 128 weighted
/// observers would have to stall between add and drain to overflow it.
const MAX_PACKED_WEIGHT: u64 = 1 << 16;

/// The sum is fixed-point: a unit is [`Buckets::sum_resolution`] everywhere, and the spilled sum
/// is an `i64` count of units, kept as its bits.
impl Scale for Buckets {
    /// The count takes the top 24 bits and drains at 2^23; the sum drains at 2^39 units.
    const SUM_BITS: u32 = 40;

    type Total = i64;

    fn spill(&self, sum: &AtomicU64, _index: usize, units: u64) {
        // Relaxed: the drain stamp, not this word, orders drains against readers.
        sum.fetch_add(units, Ordering::Relaxed);
    }

    #[allow(clippy::cast_possible_wrap)] // an i64 kept as its bits
    fn total(&self, spilled: u64) -> i64 {
        spilled as i64
    }

    fn add(&self, total: &mut i64, _index: usize, units: u64) {
        #[allow(clippy::cast_possible_wrap)] // the field is 40 bits wide
        let units = units as i64;
        *total = total.wrapping_add(units);
    }

    fn value(&self, total: i64) -> f64 {
        self.units_to_value(total)
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
// `repr(C)` with the state first: `&self.state` is `self`, so the hot path passes the drain call
// its receiver without adjusting the pointer (one instruction per observe, measured).
#[repr(C)]
pub struct Histogram<const N: usize> {
    state: PackedState<Row<N>, Buckets>,
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
        Self { state: PackedState::new(N + 1), buckets }
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

    duration_observers!();

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
        // The weight bounded to what can be packed (every sampler's is), which the compiler
        // then converts as a signed number: one instruction, where `u64` to `f64` takes six on
        // x86-64. A larger weight spills, and is scaled there in full.
        #[allow(clippy::cast_precision_loss)] // at most 2^16
        let scaled = v * buckets.per_unit() * n.min(MAX_PACKED_WEIGHT) as f64;
        if n <= MAX_PACKED_WEIGHT && (0.0..FAST_LIMIT).contains(&scaled) {
            // Truncating `scaled + 0.5` rounds half up. An unchecked conversion to `i64` is one
            // instruction where `as u64` (saturating, NaN to 0) is about a dozen, and an
            // unchecked one to `u64` eight (x86-64 converts to signed integers only), on every
            // observation.
            // SAFETY: `scaled` is in `0.0..2^32` (checked above, which also excludes NaN), so
            // `scaled + 0.5` is finite, non-negative and below 2^33: it fits an `i64` once
            // truncated, as `to_int_unchecked` requires.
            let units: i64 = unsafe { (scaled + 0.5).to_int_unchecked() };
            // Non-negative, so the same value.
            #[allow(clippy::cast_sign_loss)]
            let units = units as u64;
            self.state.record(index, n, units, write, buckets);
        } else {
            #[allow(clippy::cast_precision_loss)] // weights are small; beyond 2^53 precision is moot
            let scaled = v * buckets.per_unit() * n as f64;
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
        let sum = self.state.read_into(&mut counts, &self.buckets);
        HistogramSnapshot { counts, sum }
    }

    #[cold]
    #[inline(never)]
    fn observe_spilled(&self, index: usize, scaled: f64, n: u64) {
        let sum = self.state.record_spilled(index, n);
        if scaled.is_finite() {
            // `as` saturates beyond the i64 range; NaN and infinities never reach here.
            #[allow(clippy::cast_possible_truncation)]
            let units = scaled.round() as i64;
            // The spilled sum is an i64 kept as its bits: two's complement wrapping adds agree.
            #[allow(clippy::cast_sign_loss)]
            let bits = units as u64;
            // Relaxed: as for the packed words.
            sum.fetch_add(bits, Ordering::Relaxed);
        }
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

    duration_observers!();

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.cell().count()
    }
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
    if buckets.bounds().len() == N {
        Ok(())
    } else {
        Err(BucketsError::InvalidParameters("the histogram's bucket count does not match its bounds"))
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
        self.state.reset();
    }

    fn encode(&self, _layout: &Arc<Buckets>, out: &mut SeriesWriter<'_>) {
        with_counts(N + 1, |counts| {
            let sum = self.state.read_into(counts, &self.buckets);
            out.histogram(self.buckets.rendered(), counts, sum);
        });
    }
}

/// Runs `f` on `len` zeroed counts: on the stack for the usual sizes, so that a scrape does not
/// allocate, and in a buffer barely larger than the histogram, since a scrape of thousands of
/// partitions zeroes one per histogram (65 words each took a twelfth of such a scrape).
#[inline(always)]
fn with_counts(len: usize, f: impl FnOnce(&mut [u64])) {
    if len <= 17 {
        f(&mut [0; 17][..len]);
    } else if len <= 65 {
        f(&mut [0; 65][..len]);
    } else {
        f(&mut vec![0; len]);
    }
}

impl<const N: usize> core::fmt::Debug for Histogram<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("Histogram")
            .field("bounds", &self.buckets.bounds())
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
    fn bound_count_must_match() {
        assert!(Histogram::<3>::new(Arc::new(Buckets::linear(1.0, 1.0, 2).unwrap())).is_err());
        assert!(Histogram::<2>::new(Arc::new(Buckets::linear(1.0, 1.0, 2).unwrap())).is_ok());
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
        assert!(owned.state.has_spilled(), "a drain happened");
        assert!(!histogram([1.0]).state.has_spilled(), "no spill until one is needed");
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
