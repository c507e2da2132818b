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
//! # Finding the bucket
//!
//! From the float's bits, with no logarithm and no search: the exponent gives the power of two,
//! and the top `schema + 1` mantissa bits select a cell of a 32-entry table holding how many
//! sub-bucket bounds lie below the cell and the one bound (at most) inside it; one comparison with
//! that bound finishes. The bounds are client_golang's, so a value lands in the same bucket as it
//! would there, boundaries included (upper bounds are inclusive).
//!
//! # One word per bucket
//!
//! Like [`Histogram`](crate::Histogram), each bucket word packs the count (top 20 bits) with the
//! sum of the bucket's observations (low 44 bits), so one `fetch_add` records both. The sum is
//! kept *relative to each bucket's power of two*: an observation `v` in the octave
//! `(2^(e-1), 2^e]` adds `round(v · 2^(20-e))`, between 2^19 and 2^20 units. The sum therefore has
//! the same relative precision everywhere in the range, 2^-20 per observation or better (a
//! millionth), unlike a fixed-point sum.
//!
//! When the previous word shows 2^19 observations (or, never first, 2^43 units), the observer
//! *drains* the word (swaps it to zero) into 64-bit spilled counts and a spilled `f64` sum,
//! allocated by the first drain. A scrape reads each bucket as spilled + packed inside a drain
//! stamp, exactly as [`Histogram`](crate::Histogram) does (see its module documentation): it never
//! sees an observation twice or not at all, so the count, which is the sum of the buckets, is
//! exact and monotonic.
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

use super::Local;
use super::Metric;
use crate::encode::{NativeSample, SampleWriter};
use crate::model::BucketsError;
use crate::model::MetricKind;
use crate::sync::{fence, yield_now, AtomicPtr, AtomicU64, Ordering};

const COUNT_SHIFT: u32 = 44;
const UNITS_MASK: u64 = (1 << COUNT_SHIFT) - 1;
const ONE: u64 = 1 << COUNT_SHIFT;
/// An observation adds between `2^(PRECISION-1)` and `2^PRECISION` sum units.
const PRECISION: i32 = 20;
/// Bit 63 is set once the count field reaches 2^19; bit 43 once the sum field reaches 2^43.
/// Either way the field has as much headroom again before it would overflow.
#[cfg(not(loom))]
const DRAIN_MASK: u64 = (1 << 63) | (1 << (COUNT_SHIFT - 1));
/// Under loom, drain whenever the word already holds something, so small models exercise drains.
#[cfg(loom)]
const DRAIN_MASK: u64 = u64::MAX;
const DRAINS_IN_PROGRESS: u64 = (1 << 32) - 1;
const DRAIN_START: u64 = 1;
const DRAIN_END: u64 = (1 << 32) - 1;

const SIGN_BIT: u64 = 1 << 63;
const MANTISSA_BITS: u32 = 52;
const MANTISSA_MASK: u64 = (1 << MANTISSA_BITS) - 1;
const INFINITY_BITS: u64 = 0x7ff0_0000_0000_0000;
const EXPONENT_BIAS: i64 = 1023;

/// The largest supported schema: 16 buckets per power of two.
const MAX_SCHEMA: u8 = 4;
/// The most buckets per sign, so a series stays below 32 KiB (64 KiB with negative buckets).
const MAX_BUCKETS: usize = 4096;
/// Exponents are kept well inside the normal range, so every bound and sum scale is a normal f64.
const EXPONENT_LIMIT: i32 = 1000;

/// client_golang's `nativeHistogramBounds` for schema 4: `2^(j/16 - 1)` for `j` in `0..16`, as
/// `frexp` fractions. Schema `s < 4` uses every `2^(4-s)`-th entry.
const BOUNDS_SCHEMA_4: [f64; 16] = [
    0.5,
    0.522_136_891_213_706_9,
    0.545_253_866_332_628_8,
    0.569_394_317_378_345_8,
    0.594_603_557_501_360_5,
    0.620_928_906_036_742,
    0.648_419_777_325_504_8,
    0.677_127_773_468_446_3,
    0.707_106_781_186_547_5,
    0.738_413_072_969_749_6,
    0.771_105_412_703_970_4,
    0.805_245_165_974_627,
    0.840_896_415_253_714_4,
    0.878_126_080_186_649_5,
    0.917_004_043_204_671_1,
    0.957_603_280_698_573_5,
];

/// `2^e` for `|e| <= 1022`, exactly.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    #[allow(clippy::cast_sign_loss)] // `e + 1023` is positive in the asserted range
    f64::from_bits(((i64::from(e) + EXPONENT_BIAS) as u64) << MANTISSA_BITS)
}

/// The schema, range and text rendering of a native histogram family, fixed at registration.
///
/// # Examples
///
/// ```
/// use raft_metrics::NativeBuckets;
///
/// // 8 buckets per power of two from 1 µs (2^-20 s) to 12 days (2^20 s): 320 buckets, 2.6 KiB.
/// let buckets = NativeBuckets::new(3)?.with_range(-20, 20)?;
/// assert_eq!(buckets.bucket_count(), 320);
/// assert_eq!(buckets.zero_threshold(), 2f64.powi(-20));
/// # Ok::<(), raft_metrics::BucketsError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct NativeBuckets {
    schema: u8,
    min_exp: i32,
    max_exp: i32,
    negative: bool,
    text_step: u32,
    /// Buckets per sign.
    width: usize,
    /// Bits of the zero threshold, `2^min_exp`: a magnitude at or below it is in the zero bucket.
    zero_bits: u64,
    /// The Prometheus index of the first bucket.
    first_key: i64,
    /// Mantissa shift leaving its top `schema + 1` bits.
    cell_shift: u32,
    /// Per cell: how many sub-bucket bounds lie below it.
    below: [u8; 32],
    /// Per cell: the sub-bucket bound inside it, or `u64::MAX`.
    edge: [u64; 32],
    le: Box<[Box<str>]>,
    le_positive: Box<[usize]>,
}

impl Default for NativeBuckets {
    /// Schema 3, `2^-20..2^20`, no negative buckets, a text `le` every second power of two.
    fn default() -> Self {
        Self::build(3, -20, 20, false, 2)
    }
}

impl NativeBuckets {
    /// `2^schema` buckets per power of two over `(2^-20, 2^20]`, no negative buckets.
    ///
    /// # Errors
    ///
    /// [`BucketsError::InvalidParameters`] when `schema` is above 4.
    pub fn new(schema: u8) -> Result<Self, BucketsError> {
        let default = Self::default();
        if schema > MAX_SCHEMA {
            return Err(BucketsError::InvalidParameters("native histograms support schemas 0 to 4"));
        }
        Self::checked(schema, default.min_exp, default.max_exp, default.negative, default.text_step)
    }

    /// Buckets cover `(2^min_exp, 2^max_exp]`; `2^min_exp` is the zero threshold.
    ///
    /// # Errors
    ///
    /// [`BucketsError::InvalidParameters`] when `min_exp >= max_exp`, an exponent is beyond
    /// ±1000, or the range needs more than 4096 buckets per sign.
    pub fn with_range(self, min_exp: i32, max_exp: i32) -> Result<Self, BucketsError> {
        Self::checked(self.schema, min_exp, max_exp, self.negative, self.text_step)
    }

    /// Whether negative values get buckets of their own (doubling the memory); without them
    /// they are recorded as zero.
    #[must_use]
    pub fn with_negative(self, negative: bool) -> Self {
        Self::build(self.schema, self.min_exp, self.max_exp, negative, self.text_step)
    }

    /// The text formats export a classic histogram with an `le` bound every `octaves` powers of
    /// two (and at `2^max_exp`); the default is 2.
    ///
    /// # Errors
    ///
    /// [`BucketsError::InvalidParameters`] when `octaves` is zero.
    pub fn with_text_step(self, octaves: u32) -> Result<Self, BucketsError> {
        if octaves == 0 {
            return Err(BucketsError::InvalidParameters("the text bucket step must be at least one octave"));
        }
        Ok(Self::build(self.schema, self.min_exp, self.max_exp, self.negative, octaves))
    }

    fn checked(schema: u8, min_exp: i32, max_exp: i32, negative: bool, step: u32) -> Result<Self, BucketsError> {
        if min_exp >= max_exp || min_exp < -EXPONENT_LIMIT || max_exp > EXPONENT_LIMIT {
            return Err(BucketsError::InvalidParameters(
                "a native histogram's range needs -1000 <= min_exp < max_exp <= 1000",
            ));
        }
        let octaves = usize::try_from(max_exp.abs_diff(min_exp)).unwrap_or(usize::MAX);
        if octaves.saturating_mul(1 << schema) > MAX_BUCKETS {
            return Err(BucketsError::InvalidParameters("a native histogram holds at most 4096 buckets per sign"));
        }
        Ok(Self::build(schema, min_exp, max_exp, negative, step))
    }

    /// Derives the tables; the parameters were validated.
    fn build(schema: u8, min_exp: i32, max_exp: i32, negative: bool, text_step: u32) -> Self {
        let per_octave = 1usize << schema;
        let octaves = usize::try_from(max_exp.abs_diff(min_exp)).unwrap_or(0);
        let bounds: Vec<u64> = (0..per_octave)
            .map(|j| (BOUNDS_SCHEMA_4[j << (MAX_SCHEMA - schema)] * 2.0).to_bits() & MANTISSA_MASK)
            .collect();
        let cell_shift = MANTISSA_BITS - (u32::from(schema) + 1);
        let mut below = [0u8; 32];
        let mut edge = [u64::MAX; 32];
        for cell in 0..(2usize << schema) {
            let start = (cell as u64) << cell_shift;
            let end = (cell as u64 + 1) << cell_shift;
            // Bounds are at most 16, so the count fits.
            below[cell] = u8::try_from(bounds.iter().filter(|b| **b < start).count()).unwrap_or(u8::MAX);
            let mut inside = bounds.iter().filter(|b| (start..end).contains(*b));
            edge[cell] = inside.next().copied().unwrap_or(u64::MAX);
            debug_assert!(inside.next().is_none(), "one bound per cell: the bounds are spaced wider than the cells");
        }
        let mut exponents: Vec<i32> = (min_exp..max_exp).step_by(text_step as usize).collect();
        exponents.push(max_exp);
        let le = exponents
            .iter()
            .map(|e| crate::encode::format_float(pow2(*e)).into_boxed_str())
            .chain(core::iter::once(Box::from("+Inf")))
            .collect();
        let le_positive =
            exponents.iter().map(|e| usize::try_from(e.abs_diff(min_exp)).unwrap_or(0) << schema).collect();
        Self {
            schema,
            min_exp,
            max_exp,
            negative,
            text_step,
            width: octaves << schema,
            zero_bits: pow2(min_exp).to_bits(),
            first_key: (i64::from(min_exp) << schema) + 1,
            cell_shift,
            below,
            edge,
            le,
            le_positive,
        }
    }

    /// The schema: `2^schema` buckets per power of two.
    pub fn schema(&self) -> u8 {
        self.schema
    }

    /// `(min_exp, max_exp)`: buckets cover `(2^min_exp, 2^max_exp]`.
    pub fn range(&self) -> (i32, i32) {
        (self.min_exp, self.max_exp)
    }

    /// The zero bucket's half-width, `2^min_exp`.
    pub fn zero_threshold(&self) -> f64 {
        f64::from_bits(self.zero_bits)
    }

    /// Whether negative values have buckets of their own.
    pub fn has_negative(&self) -> bool {
        self.negative
    }

    /// Buckets per sign, the zero bucket not included.
    pub fn bucket_count(&self) -> usize {
        self.width
    }

    /// The Prometheus bucket index of position 0 of [`NativeSnapshot::positive`] (and
    /// [`NativeSnapshot::negative`]); position `p` is index `first_index() + p`.
    pub fn first_index(&self) -> i32 {
        // `min_exp << 4` is within ±16000.
        i32::try_from(self.first_key).unwrap_or(i32::MIN)
    }

    /// The inclusive upper bound (magnitude) of the bucket at `position`:
    /// `2^((first_index + position) / 2^schema)`.
    pub fn upper_bound(&self, position: usize) -> f64 {
        let per_octave = 1usize << self.schema;
        let octave = i32::try_from(position / per_octave).unwrap_or(i32::MAX);
        let top = pow2(self.min_exp.saturating_add(octave).saturating_add(1).min(1023));
        let step = (position % per_octave) + 1;
        if step == per_octave {
            top
        } else {
            (BOUNDS_SCHEMA_4[step << (MAX_SCHEMA - self.schema)]) * top
        }
    }

    /// The word `v` is recorded in and what to add to it; `None` for the cold path (NaN,
    /// infinities, beyond the range).
    #[inline(always)]
    fn locate(&self, v: f64) -> Option<(usize, u64)> {
        let bits = v.to_bits();
        let magnitude = bits & !SIGN_BIT;
        let negative = bits != magnitude;
        if magnitude <= self.zero_bits || (negative && !self.negative && magnitude <= INFINITY_BITS) {
            return Some((0, ONE));
        }
        if magnitude >= INFINITY_BITS {
            return None;
        }
        // Biased exponent: at least 1, since the magnitude is above a normal threshold.
        #[allow(clippy::cast_possible_wrap)] // 11 bits
        let exponent = (magnitude >> MANTISSA_BITS) as i64;
        let mantissa = magnitude & MANTISSA_MASK;
        #[allow(clippy::cast_possible_truncation)] // masked to 5 bits
        let cell = ((mantissa >> self.cell_shift) & 31) as usize;
        let sub = i64::from(self.below[cell]) + i64::from(mantissa > self.edge[cell]);
        let key = sub + ((exponent - EXPONENT_BIAS) << self.schema);
        // Non-negative: `v > 2^min_exp` puts `key` above `min_exp << schema`.
        let position = usize::try_from(key - self.first_key).ok().filter(|p| *p < self.width)?;
        // `v / 2^e · 2^20` for the octave `(2^(e-1), 2^e]` holding `v`, rounded half up: a power of
        // two tops its octave; otherwise `e` is one above the float's exponent.
        let units = if mantissa == 0 { 1 << PRECISION } else { ((mantissa | (1 << MANTISSA_BITS)) + (1 << 32)) >> 33 };
        let word = 1 + position + if negative { self.width } else { 0 };
        Some((word, ONE | units))
    }

    /// The value of one sum unit in word `word` (signed), 0 for the zero bucket.
    fn unit_value(&self, word: usize) -> f64 {
        if word == 0 {
            return 0.0;
        }
        let position = (word - 1) % self.width.max(1);
        let octave = i32::try_from(position >> self.schema).unwrap_or(0);
        let scale = pow2(self.min_exp + octave + 1 - PRECISION);
        if word > self.width {
            -scale
        } else {
            scale
        }
    }

    fn words(&self) -> usize {
        1 + self.width * if self.negative { 2 } else { 1 }
    }
}

impl core::fmt::Debug for NativeBuckets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NativeBuckets")
            .field("schema", &self.schema)
            .field("min_exp", &self.min_exp)
            .field("max_exp", &self.max_exp)
            .field("negative", &self.negative)
            .field("text_step", &self.text_step)
            .finish_non_exhaustive()
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
    words: Box<[AtomicU64]>,
    /// Allocated by the first drain or clamped observation.
    spill: AtomicPtr<Spill>,
    drain_stamp: AtomicU64,
    nan: AtomicU64,
    buckets: Arc<NativeBuckets>,
}

/// Counts and sum moved out of the packed words, or recorded there directly by the cold path.
struct Spill {
    counts: Box<[AtomicU64]>,
    /// An `f64`'s bits.
    sum: AtomicU64,
}

impl NativeHistogram {
    /// An empty histogram over `buckets`.
    pub fn new(buckets: Arc<NativeBuckets>) -> Self {
        Self {
            words: (0..buckets.words()).map(|_| AtomicU64::new(0)).collect(),
            spill: AtomicPtr::new(core::ptr::null_mut()),
            drain_stamp: AtomicU64::new(0),
            nan: AtomicU64::new(0),
            buckets,
        }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, v: f64) {
        self.record(v, Write::Shared);
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

    #[inline(always)]
    fn record(&self, v: f64, write: Write) {
        let Some((index, add)) = self.buckets.locate(v) else {
            return self.observe_cold(v);
        };
        let word = &self.words[index];
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
        let spill = self.spill();
        // Relaxed: as for the packed words. Count and sum are two operations here (documented).
        spill.counts[index].fetch_add(1, Ordering::Relaxed);
        if v.is_finite() {
            add_f64(&spill.sum, v);
        }
    }

    /// The spilled totals, allocating them on first use.
    #[inline]
    fn spill(&self) -> &Spill {
        self.spill_if_any().unwrap_or_else(|| self.allocate_spill())
    }

    #[inline]
    fn spill_if_any(&self) -> Option<&Spill> {
        // Acquire: pairs with the AcqRel publish in `allocate_spill`: the zeroed words are visible.
        let spill = self.spill.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `Box::into_raw` in `allocate_spill` and is freed
        // only in `Drop`, which cannot run while `&self` is borrowed.
        (!spill.is_null()).then(|| unsafe { &*spill })
    }

    #[cold]
    #[inline(never)]
    fn allocate_spill(&self) -> &Spill {
        let counts = (0..self.words.len()).map(|_| AtomicU64::new(0)).collect();
        let fresh = Box::into_raw(Box::new(Spill { counts, sum: AtomicU64::new(0f64.to_bits()) }));
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

    /// Moves a packed word into the spilled totals, inside the drain stamp: the protocol of
    /// [`Histogram`](crate::Histogram)'s drains, step for step.
    #[cold]
    #[inline(never)]
    fn drain(&self, index: usize) {
        // Allocated before the stamp moves, so a reader never waits on an allocation.
        let spill = self.spill();
        self.drain_stamp.fetch_add(DRAIN_START, Ordering::Relaxed);
        // Release fence: a reader that sees any move below also sees the start above.
        fence(Ordering::Release);
        let moved = self.words[index].swap(0, Ordering::Relaxed);
        spill.counts[index].fetch_add(moved >> COUNT_SHIFT, Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)] // 44 bits: exact
        let value = (moved & UNITS_MASK) as f64 * self.buckets.unit_value(index);
        add_f64(&spill.sum, value);
        // Release: a reader that sees the end sees the moves.
        self.drain_stamp.fetch_add(DRAIN_END, Ordering::Release);
    }

    /// Reads every word's count into `counts` (length: one per word) and returns the sum, from
    /// one drain-free window.
    fn read_into(&self, counts: &mut [u64]) -> f64 {
        let buckets = &*self.buckets;
        let per_octave = 1usize << buckets.schema;
        loop {
            // Acquire pairs with the Release increment that ends a drain: its moves are visible.
            let before = self.drain_stamp.load(Ordering::Acquire);
            if before & DRAINS_IN_PROGRESS != 0 {
                yield_now();
                continue;
            }
            let spill = self.spill_if_any();
            let mut sum = spill.map_or(0.0, |s| f64::from_bits(s.sum.load(Ordering::Relaxed)));
            // Units of one octave share a scale: add them as integers (at most 2^48), then scale.
            let mut octave_units = 0u64;
            for (index, (count, word)) in counts.iter_mut().zip(&*self.words).enumerate() {
                let word = word.load(Ordering::Relaxed);
                let spilled = spill.map_or(0, |s| s.counts[index].load(Ordering::Relaxed));
                *count = spilled.wrapping_add(word >> COUNT_SHIFT);
                if index > 0 {
                    octave_units += word & UNITS_MASK;
                    if index % per_octave == 0 {
                        #[allow(clippy::cast_precision_loss)] // reported as a float anyway
                        let units = octave_units as f64;
                        sum += units * buckets.unit_value(index);
                        octave_units = 0;
                    }
                }
            }
            // Acquire fence: if any load above saw a drain's move, that drain's start (sequenced
            // before its Release fence) is visible to the stamp load below.
            fence(Ordering::Acquire);
            if self.drain_stamp.load(Ordering::Relaxed) == before {
                return sum;
            }
        }
    }

    /// Bucket counts and sum, read together.
    pub fn snapshot(&self) -> NativeSnapshot {
        let mut counts = vec![0; self.words.len()];
        let sum = self.read_into(&mut counts);
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

#[derive(Clone, Copy)]
enum Write {
    Shared,
    Single,
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

impl Drop for NativeHistogram {
    fn drop(&mut self) {
        let spill = self.spill.load(Ordering::Acquire);
        if !spill.is_null() {
            // SAFETY: the pointer came from `Box::into_raw` and `&mut self` proves no reader is left.
            drop(unsafe { Box::from_raw(spill) });
        }
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
        for word in &*self.words {
            word.store(0, Ordering::Relaxed);
        }
        if let Some(spill) = self.spill_if_any() {
            for word in &*spill.counts {
                word.store(0, Ordering::Relaxed);
            }
            spill.sum.store(0f64.to_bits(), Ordering::Relaxed);
        }
        self.nan.store(0, Ordering::Relaxed);
    }

    fn encode(&self, _layout: &Arc<NativeBuckets>, out: &mut SampleWriter<'_>) {
        let buckets = &*self.buckets;
        let mut counts = vec![0; self.words.len()];
        let sum = self.read_into(&mut counts);
        let count = counts.iter().fold(0u64, |a, c| a.wrapping_add(*c));
        let (positive, negative) = counts[1..].split_at(buckets.width);
        out.native_histogram(&NativeSample {
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

    /// client_golang's bucket key for `v > 0` (`histogram.go`, `findBucket`), from `frexp`.
    fn reference_key(v: f64, schema: u8) -> i64 {
        let (frac, exp) = frexp(v);
        let bounds: Vec<f64> = (0..1usize << schema).map(|j| BOUNDS_SCHEMA_4[j << (MAX_SCHEMA - schema)]).collect();
        if schema == 0 {
            let key = if frac == 0.5 { exp - 1 } else { exp };
            return i64::from(key);
        }
        let search = bounds.partition_point(|b| *b < frac);
        (search as i64) + (i64::from(exp) - 1) * bounds.len() as i64
    }

    /// `v = frac · 2^exp` with `frac` in `[0.5, 1)`, for positive normal `v`.
    fn frexp(v: f64) -> (f64, i32) {
        let bits = v.to_bits();
        let exp = i32::try_from((bits >> 52) & 0x7ff).unwrap() - 1022;
        let frac = f64::from_bits((bits & MANTISSA_MASK) | (1022u64 << 52));
        (frac, exp)
    }

    fn key_of(buckets: &NativeBuckets, v: f64) -> Option<i64> {
        let (word, _) = buckets.locate(v)?;
        (word > 0).then(|| buckets.first_key + ((word - 1) % buckets.width) as i64)
    }

    #[test]
    fn bucket_index_matches_client_golang() {
        for schema in 0..=MAX_SCHEMA {
            let buckets = NativeBuckets::new(schema).unwrap().with_range(-30, 30).unwrap();
            let mut values = vec![1.0, 2.0, 0.75, 3.0, 1e-6, 123.456, 1e9 - 1.0];
            // Every sub-bucket bound, exactly and one ulp either side, over several octaves.
            for octave in -25..25 {
                for fraction in BOUNDS_SCHEMA_4 {
                    let bound = fraction * 2.0 * 2f64.powi(octave);
                    values.extend([bound, f64::from_bits(bound.to_bits() - 1), f64::from_bits(bound.to_bits() + 1)]);
                }
            }
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                values.push(f64::from_bits((x & MANTISSA_MASK) | ((1023 - 25 + (x >> 59)) << 52)));
            }
            for v in values {
                let expected = reference_key(v, schema);
                assert_eq!(key_of(&buckets, v), Some(expected), "schema {schema}, v {v:e}");
                let position = usize::try_from(expected - buckets.first_key).unwrap();
                let upper = buckets.upper_bound(position);
                assert!(v <= upper, "schema {schema}: {v:e} above its bucket's upper bound {upper:e}");
                if position > 0 {
                    assert!(v > buckets.upper_bound(position - 1), "schema {schema}: {v:e} not above its lower bound");
                }
            }
        }
    }

    #[test]
    fn ranges_are_validated() {
        assert!(NativeBuckets::new(5).is_err());
        assert!(NativeBuckets::new(3).unwrap().with_range(1, 1).is_err());
        assert!(NativeBuckets::new(3).unwrap().with_range(-1001, 0).is_err());
        assert!(NativeBuckets::new(4).unwrap().with_range(-200, 57).is_err(), "over 4096 buckets");
        assert!(NativeBuckets::new(4).unwrap().with_range(-200, 56).is_ok());
        assert!(NativeBuckets::new(3).unwrap().with_text_step(0).is_err());
        let b = NativeBuckets::default();
        assert_eq!((b.schema(), b.range(), b.bucket_count(), b.first_index()), (3, (-20, 20), 320, -159));
        assert_eq!(b.words(), 321);
        assert_eq!(b.upper_bound(319), 2f64.powi(20));
        assert_eq!(b.upper_bound(7), 2f64.powi(-19));
    }

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
        assert!(h.spill_if_any().is_some(), "a drain happened");
        let total = n + 1000;
        assert_eq!(h.count(), total);
        #[allow(clippy::cast_precision_loss)]
        let expected = 0.75 * total as f64;
        assert!((h.sum() - expected).abs() < 1e-6, "sum {}", h.sum());
        Metric::reset(&h);
        assert_eq!((h.count(), h.sum()), (0, 0.0));
        assert!(NativeHistogram::new(Arc::new(NativeBuckets::default())).spill_if_any().is_none());
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
                scrape.samples().filter(|s| s.name == "t_apply_seconds_bucket" && s.label("topic") == Some("a"));
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
        assert_eq!(h.words.len() * 8, 2568);
        assert_eq!(core::mem::size_of::<NativeHistogram>(), 48);
    }
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::thread;

    /// Two observers (under loom every add to a non-empty word drains it) and a reader: a read
    /// never sees an observation twice or not at all, and the sum always matches the counts.
    #[test]
    fn native_observe_drain_and_read() {
        loom::model(|| {
            let buckets = Arc::new(NativeBuckets::new(0).unwrap().with_range(-1, 1).unwrap());
            let h = Arc::new(NativeHistogram::new(buckets));
            let observers: Vec<_> = [(0.75, 2), (1.5, 1)]
                .into_iter()
                .map(|(v, times)| {
                    let h = Arc::clone(&h);
                    thread::spawn(move || (0..times).for_each(|_| h.observe(v)))
                })
                .collect();
            let s = h.snapshot();
            let expected = 0.75 * s.positive[0] as f64 + 1.5 * s.positive[1] as f64;
            assert!((s.sum - expected).abs() < 1e-9, "sum {} for counts {:?}", s.sum, s.positive);
            assert!(s.positive[0] <= 2 && s.positive[1] <= 1 && s.zero_count == 0);
            for o in observers {
                o.join().unwrap();
            }
            let s = h.snapshot();
            assert_eq!(s.positive, vec![2, 1]);
            assert!((s.sum - 3.0).abs() < 1e-9);
        });
    }
}
