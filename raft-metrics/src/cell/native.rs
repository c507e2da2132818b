//! A native (sparse exponential) histogram that records with one relaxed `fetch_add`.
//!
//! # Buckets
//!
//! Prometheus native histograms split every power of two into `2^schema` buckets whose bounds
//! grow by the factor `2^(2^-schema)`; bucket `i` holds `(2^((i-1)/2^schema), 2^(i/2^schema)]`.
//! [`NativeBuckets`] fixes the schema (0 to 4) and a range `(2^min_exp, 2^max_exp]` at
//! registration, and every series preallocates one word per bucket of that range (plus the zero
//! bucket, plus the mirror image for negative values if enabled). Nothing is allocated while
//! recording, except the spill area of the first drain (below).
//!
//! # One word per bucket
//!
//! Each bucket word packs the count (top 20 bits) with the sum of the bucket's observations (low
//! 44 bits), so one `fetch_add` records both; the protocol, its drains and its reads are
//! [`Histogram`](crate::Histogram)'s, from `super::packed`. The sum is kept *relative to each
//! bucket's power of two*: an observation `v` in the octave `(2^(e-1), 2^e]` adds
//! `round(v · 2^(20-e))`, between 2^19 and 2^20 units. The sum therefore has the same relative
//! precision everywhere in the range, 2^-20 per observation or better (a millionth), unlike a
//! fixed-point sum. `super::native_buckets` finds the bucket from the float's bits.
//!
//! When the previous word shows 2^19 observations (or, never first, 2^43 units), the observer
//! *drains* the word into 64-bit spilled counts and a spilled `f64` sum, allocated by the first
//! drain. A scrape never sees an observation twice or not at all, so the count, which is the sum
//! of the buckets, is exact and monotonic.
//!
//! # Special values
//!
//! * `|v| <= zero_threshold` (`2^min_exp`) lands in the zero bucket and adds nothing to the sum.
//! * Without negative buckets ([`NativeBuckets::with_negative`]), negative values, `-inf`
//!   included, are recorded as zero: zero bucket, nothing added to the sum.
//! * Finite values beyond `2^max_exp` are clamped into the last bucket (of their sign) and added
//!   to the sum exactly; `±inf` is clamped likewise and adds nothing. These take a cold path of two
//!   atomic operations, so a scrape may see the count before the sum.
//! * NaN is dropped and counted apart ([`NativeHistogram::nan_count`]); it is not exported, so
//!   the exported count always equals the sum of the exported buckets.
//!
//! # Memory
//!
//! `8 · (1 + buckets)` bytes of words per series plus 48 bytes, where `buckets` is
//! `(max_exp - min_exp) · 2^schema`, doubled with negative buckets. The default (schema 3,
//! `2^-20..2^20`, no negative buckets) is 321 words: 2.6 KiB. A drained series adds as much again
//! for its spill area.

use core::time::Duration;
use std::sync::Arc;

use super::packed::{PackedState, Scale, Write};
use super::{Local, Metric, NativeBuckets};
use crate::encode::{NativeValue, SeriesWriter};
use crate::model::MetricKind;
use crate::sync::{AtomicU64, Ordering};

/// Units are relative to each octave (`unit_value`), so a read adds one octave's units as integers
/// (at most 2^48) before scaling them; the spilled sum is an `f64`'s bits.
impl Scale for NativeBuckets {
    /// The count takes the top 20 bits and drains at 2^19; the sum drains at 2^43 units, 2^23
    /// observations of at most 2^20 units each.
    const SUM_BITS: u32 = 44;

    /// The sum so far and the units of the octave being read.
    type Total = (f64, u64);

    fn spill(&self, sum: &AtomicU64, index: usize, units: u64) {
        #[allow(clippy::cast_precision_loss)] // 44 bits: exact
        let value = units as f64 * self.unit_value(index);
        add_f64(sum, value);
    }

    fn total(&self, spilled: u64) -> (f64, u64) {
        (f64::from_bits(spilled), 0)
    }

    fn add(&self, (sum, octave_units): &mut (f64, u64), index: usize, units: u64) {
        // The zero bucket (word 0) holds no units; an octave's last bucket closes the octave.
        if index > 0 {
            *octave_units += units;
            if index & ((1 << self.schema) - 1) == 0 {
                #[allow(clippy::cast_precision_loss)] // reported as a float anyway
                let units = *octave_units as f64;
                *sum += units * self.unit_value(index);
                *octave_units = 0;
            }
        }
    }

    fn value(&self, (sum, _): (f64, u64)) -> f64 {
        sum
    }
}

/// A native (sparse exponential) histogram: Prometheus' high-resolution histogram type.
///
/// Shared recording through `&self` is a bucket lookup from the float's bits plus one relaxed
/// `fetch_add` that adds to count and sum at once (see the module documentation); single-writer
/// recording through [`Local`] is a load and a store. Exported in [`Format::Protobuf`] as a
/// native histogram, and in the text formats as a classic histogram with an `le` bound every
/// few powers of two ([`NativeBuckets::with_text_step`]), whose counts are exact.
///
/// [`Format::Protobuf`]: crate::Format
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use raft_metrics::{NativeBuckets, NativeHistogram};
///
/// let latency = NativeHistogram::new(Arc::new(NativeBuckets::new(3)?));
/// latency.observe(0.003);
/// latency.observe(0.0);
/// latency.observe(f64::NAN); // dropped, counted apart
/// assert_eq!(latency.count(), 2);
/// assert_eq!(latency.nan_count(), 1);
/// let snapshot = latency.snapshot();
/// assert_eq!(snapshot.zero_count, 1);
/// assert!((snapshot.sum - 0.003).abs() < 1e-8);
/// # Ok::<(), raft_metrics::BucketsError>(())
/// ```
pub struct NativeHistogram {
    /// The spill area is allocated by the first drain or clamped observation.
    state: PackedState<Box<[AtomicU64]>, NativeBuckets>,
    nan: AtomicU64,
    buckets: Arc<NativeBuckets>,
}

impl NativeHistogram {
    /// An empty histogram over `buckets`.
    pub fn new(buckets: Arc<NativeBuckets>) -> Self {
        Self { state: PackedState::new(buckets.words()), nan: AtomicU64::new(0), buckets }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.record(v, Write::Shared);
    }

    duration_observers!();

    #[inline(always)]
    fn record(&self, v: f64, write: Write) {
        let buckets = &*self.buckets;
        let Some((index, units)) = buckets.locate(v) else {
            return self.observe_cold(v);
        };
        self.state.record(index, 1, units, write, buckets);
    }

    /// NaN, infinities and values beyond the range.
    #[cold]
    #[inline(never)]
    fn observe_cold(&self, v: f64) {
        if v.is_nan() {
            // Relaxed: a statistic.
            self.nan.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let buckets = &*self.buckets;
        let index = if v.is_sign_negative() { 2 * buckets.width } else { buckets.width };
        // Count and sum are two operations here (documented).
        let sum = self.state.record_spilled(index, 1);
        if v.is_finite() {
            add_f64(sum, v);
        }
    }

    /// Bucket counts and sum, read together.
    pub fn snapshot(&self) -> NativeSnapshot {
        let mut counts = vec![0; self.state.len()];
        let sum = self.state.read_into(&mut counts, &self.buckets);
        let width = self.buckets.width;
        NativeSnapshot {
            zero_count: counts[0],
            positive: counts[1..=width].to_vec(),
            negative: counts[width + 1..].to_vec(),
            sum,
        }
    }

    /// Number of observations (NaN not included): the sum of the buckets.
    pub fn count(&self) -> u64 {
        self.snapshot().count()
    }

    /// Sum of observations (see the module docs for the precision and special values).
    pub fn sum(&self) -> f64 {
        self.snapshot().sum
    }

    /// NaN observations, dropped and not exported.
    pub fn nan_count(&self) -> u64 {
        self.nan.load(Ordering::Relaxed)
    }

    /// The buckets this histogram was built with.
    pub fn buckets(&self) -> &Arc<NativeBuckets> {
        &self.buckets
    }

    /// The single-writer view of a histogram this code owns outright.
    pub fn local(&mut self) -> Local<'_, Self> {
        Local::new(self)
    }
}

/// Adds to an `f64` stored as bits; cold paths only (drains, clamped values).
fn add_f64(cell: &AtomicU64, v: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + v).to_bits();
        // Relaxed: the stamp, not this word, orders drains against readers.
        match cell.compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

impl Local<'_, NativeHistogram> {
    /// Records one observation with a relaxed load and store: no locked instruction.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.cell().record(v, Write::Single);
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

/// Bucket counts and sum of a [`NativeHistogram`], read together.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeSnapshot {
    /// Observations with `|v| <= zero_threshold` (and negative ones without negative buckets).
    pub zero_count: u64,
    /// Positive buckets; position `p` is Prometheus index `first_index + p`
    /// ([`NativeBuckets::first_index`]).
    pub positive: Vec<u64>,
    /// Negative buckets by magnitude, indexed like `positive`; empty without negative buckets.
    pub negative: Vec<u64>,
    /// Sum of observations.
    pub sum: f64,
}

impl NativeSnapshot {
    /// Number of observations: the zero bucket plus every bucket.
    pub fn count(&self) -> u64 {
        self.positive.iter().chain(&self.negative).fold(self.zero_count, |a, c| a.wrapping_add(*c))
    }
}

impl Metric for NativeHistogram {
    type Layout = Arc<NativeBuckets>;
    const KIND: MetricKind = MetricKind::Histogram;

    fn new(layout: &Arc<NativeBuckets>) -> Self {
        Self::new(Arc::clone(layout))
    }

    fn reset(&self) {
        self.state.reset();
        // Relaxed: a statistic, like the increment.
        self.nan.store(0, Ordering::Relaxed);
    }

    fn encode(&self, _layout: &Arc<NativeBuckets>, out: &mut SeriesWriter<'_>) {
        let buckets = &*self.buckets;
        let mut counts = vec![0; self.state.len()];
        let sum = self.state.read_into(&mut counts, buckets);
        let count = counts.iter().fold(0u64, |a, c| a.wrapping_add(*c));
        let (positive, negative) = counts[1..].split_at(buckets.width);
        out.native_histogram(&NativeValue {
            schema: i32::from(buckets.schema),
            zero_threshold: buckets.zero_threshold(),
            zero_count: counts[0],
            first_index: buckets.first_index(),
            positive,
            negative,
            count,
            sum,
            le: &buckets.le,
            le_positive: &buckets.le_positive,
        });
    }
}

impl core::fmt::Debug for NativeHistogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let snapshot = self.snapshot();
        f.debug_struct("NativeHistogram")
            .field("buckets", &self.buckets)
            .field("count", &snapshot.count())
            .field("sum", &snapshot.sum)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn special_values_have_defined_places() {
        let buckets = Arc::new(NativeBuckets::new(0).unwrap().with_range(-2, 2).unwrap());
        let h = NativeHistogram::new(Arc::clone(&buckets));
        for v in [0.0, -0.0, 0.25, -0.25, -3.0, f64::NEG_INFINITY, 1e-300, 5e-324] {
            h.observe(v); // zero bucket: small, or negative without negative buckets
        }
        h.observe(f64::NAN);
        h.observe(f64::INFINITY); // clamped, not summed
        h.observe(100.0); // clamped, summed
        h.observe(4.0); // the last bucket's upper bound
        h.observe(0.25000000000000006); // just above the zero threshold
        let s = h.snapshot();
        assert_eq!(s.zero_count, 8);
        assert_eq!(s.positive, vec![1, 0, 0, 3]);
        assert!(s.negative.is_empty());
        assert_eq!(h.nan_count(), 1);
        assert_eq!(h.count(), 12);
        assert!((s.sum - (104.0 + 0.25)).abs() < 1e-5, "sum {}", s.sum);

        let negative = NativeHistogram::new(Arc::new(
            NativeBuckets::new(0).unwrap().with_range(-2, 2).unwrap().with_negative(true),
        ));
        for v in [-3.0, -0.5, 0.5, f64::NEG_INFINITY, -9.0] {
            negative.observe(v);
        }
        let s = negative.snapshot();
        assert_eq!((s.zero_count, s.positive.clone(), s.negative.clone()), (0, vec![1, 0, 0, 0], vec![1, 0, 0, 3]));
        assert!((s.sum - (-3.0 - 0.5 + 0.5 - 9.0)).abs() < 1e-5, "sum {}", s.sum);
    }

    #[test]
    fn sum_has_relative_precision_everywhere() {
        let h = NativeHistogram::new(Arc::new(NativeBuckets::default()));
        let values = [1.5e-6, 0.003, 0.1, 1.0, 7.25, 1000.0, 1e6];
        let mut expected = 0.0;
        for (i, v) in values.iter().enumerate() {
            for _ in 0..=i {
                h.observe(*v);
                expected += v;
            }
        }
        let sum = h.sum();
        assert!(((sum - expected) / expected).abs() < 1e-6, "sum {sum} vs {expected}");
        assert!((h.snapshot().sum - expected).abs() / expected < 1e-6);
        let tiny = NativeHistogram::new(Arc::new(NativeBuckets::default()));
        tiny.observe(1.5e-6);
        assert!((tiny.sum() - 1.5e-6).abs() < 1.5e-12);
    }

    #[test]
    fn drains_keep_count_and_sum_exact() {
        let mut h = NativeHistogram::new(Arc::new(NativeBuckets::default()));
        let n = (1u64 << 19) * 2 + 5;
        for _ in 0..n {
            h.local().observe(0.75);
        }
        for _ in 0..1000 {
            h.observe(0.75);
        }
        assert!(h.state.has_spilled(), "a drain happened");
        let total = n + 1000;
        assert_eq!(h.count(), total);
        #[allow(clippy::cast_precision_loss)]
        let expected = 0.75 * total as f64;
        assert!((h.sum() - expected).abs() < 1e-6, "sum {}", h.sum());
        Metric::reset(&h);
        assert_eq!((h.count(), h.sum()), (0, 0.0));
        assert!(!NativeHistogram::new(Arc::new(NativeBuckets::default())).state.has_spilled());
    }

    #[test]
    fn text_exposition_is_a_strict_classic_histogram() {
        use crate::{Format, MetricInfo, Registry};
        let registry = Registry::new();
        let family = registry
            .register_with::<NativeHistogram, 1>(
                MetricInfo::new("t_apply_seconds", "Apply."),
                ["topic"],
                Arc::new(NativeBuckets::default().with_negative(true)),
            )
            .unwrap();
        for v in [0.0, -2.0, 1e-3, 0.02, 0.02, 3.0, 1e9, f64::INFINITY, f64::NAN] {
            family.get(("a",)).observe(v);
        }
        family.get(("b",));
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let text = registry.encode_to_string(format);
            let scrape = crate::encode::parse::parse(&text, format).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let count = |topic| scrape.value("t_apply_seconds_count", &[("topic", topic)]);
            assert_eq!((count("a"), count("b")), (Some(8.0), Some(0.0)), "{text}");
            // 2^-20 and then every second power of two up to 2^20, plus +Inf.
            let a_buckets =
                scrape.lines().filter(|s| s.name == "t_apply_seconds_bucket" && s.label("topic") == Some("a"));
            assert_eq!(a_buckets.count(), 22);
            let le = |bound| scrape.value("t_apply_seconds_bucket", &[("topic", "a"), ("le", bound)]);
            assert_eq!(le("9.5367431640625e-7"), Some(2.0), "zero and the negative value\n{text}");
            assert_eq!(le("0.0009765625"), Some(2.0));
            assert_eq!(le("0.00390625"), Some(3.0));
            assert_eq!(le("0.0625"), Some(5.0));
            assert_eq!(le("4.0"), Some(6.0));
            assert_eq!(le("1048576.0"), Some(8.0), "clamped into the last bucket");
        }
    }

    #[test]
    fn memory_is_bounded_by_the_range() {
        let h = NativeHistogram::new(Arc::new(NativeBuckets::default()));
        assert_eq!(h.state.len() * 8, 2568);
        assert_eq!(core::mem::size_of::<NativeHistogram>(), 48);
    }
}
