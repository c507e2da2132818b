//! The bucket layout of a [`NativeHistogram`](crate::NativeHistogram): schema, range, and the
//! tables that find a value's bucket.
//!
//! # Finding the bucket
//!
//! From the float's bits, with no logarithm and no search: the exponent gives the power of two,
//! and the top `schema + 1` mantissa bits select a cell of a 32-entry table holding how many
//! sub-bucket bounds lie below the cell and the one bound (at most) inside it; one comparison with
//! that bound finishes. The bounds are client_golang's, so a value lands in the same bucket as it
//! would there, boundaries included (upper bounds are inclusive).

use crate::model::BucketsError;

/// An observation adds between `2^(PRECISION-1)` and `2^PRECISION` sum units.
const PRECISION: i32 = 20;

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
    pub(super) schema: u8,
    min_exp: i32,
    max_exp: i32,
    negative: bool,
    text_step: u32,
    /// Buckets per sign.
    pub(super) width: usize,
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
    pub(super) le: Box<[Box<str>]>,
    pub(super) le_positive: Box<[usize]>,
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
    ///
    /// [`NativeSnapshot::positive`]: crate::advanced::NativeSnapshot::positive
    /// [`NativeSnapshot::negative`]: crate::advanced::NativeSnapshot::negative
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

    /// The word `v` is recorded in and the sum units it adds there; `None` for the cold path
    /// (NaN, infinities, beyond the range).
    #[inline(always)]
    pub(super) fn locate(&self, v: f64) -> Option<(usize, u64)> {
        let bits = v.to_bits();
        let magnitude = bits & !SIGN_BIT;
        let negative = bits != magnitude;
        if magnitude <= self.zero_bits || (negative && !self.negative && magnitude <= INFINITY_BITS) {
            return Some((0, 0));
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
        Some((word, units))
    }

    /// The value of one sum unit in word `word` (signed), 0 for the zero bucket.
    pub(super) fn unit_value(&self, word: usize) -> f64 {
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

    pub(super) fn words(&self) -> usize {
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
}
