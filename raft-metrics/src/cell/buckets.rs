//! The bucket bounds of a classic [`Histogram`](crate::Histogram) and the precision of its sum.

use crate::model::BucketsError;

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
    /// Set when the bounds are one value times successive powers of a power of two.
    octaves: Option<Octaves>,
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
    /// With a factor of 2, 4, 16 or 256 an observation finds its bucket from the value's exponent
    /// bits, a few instructions whatever `count`; other layouts compare the value with each
    /// bound (up to 32 bounds, then a binary search).
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
        let octaves = Octaves::of(&bounds);
        Self { bounds, resolution, per_unit, rendered, octaves }
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

    /// Sum units per unit of value: `1 / sum_resolution`.
    #[inline]
    pub(super) fn per_unit(&self) -> f64 {
        self.per_unit
    }

    /// Converts a fixed-point sum back, through whichever of the two factors is exact.
    pub(super) fn units_to_value(&self, units: i64) -> f64 {
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
    pub(super) fn index(&self, v: f64) -> usize {
        if let Some(octaves) = self.octaves {
            return octaves.index(v, self.bounds.len());
        }
        self.compared(v)
    }

    /// [`index`](Self::index) by comparing `v` with the bounds, which any layout allows.
    #[inline]
    fn compared(&self, v: f64) -> usize {
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

/// Bounds `first · 2^(k·2^shift)` for `k = 0, 1, …`, all positive normal numbers: exponential
/// layouts with a factor of 2, 4, 16 or 256, such as every duration, size and lag histogram of
/// the Raft schema.
///
/// Multiplying a normal number by a power of two adds to its exponent and leaves its mantissa, so
/// every such bound has `first`'s mantissa bits, and for a positive `v` whether `v` is above the
/// bound `2^j` times `first` is whether `j` is below `v`'s exponent less `first`'s, plus one when
/// `v`'s mantissa bits are above `first`'s. That counts the bounds below `v` with a subtraction, a
/// comparison and a shift, where comparing with each of 12 to 16 bounds took about 26 instructions
/// more per observation, on every duration a node times (`benches/notes/raft_loop.md`, 2026-12-06). It is exact: a
/// test compares it with the bound-by-bound count on every bound, its neighbours, special values
/// and random bit patterns. Other layouts compare with each bound.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Octaves {
    /// The first bound's mantissa bits.
    mantissa: u64,
    /// What `v`'s exponent field is offset by before the shift: less the first bound's exponent
    /// field (octaves above the first bound), plus `2^shift - 1` (the shift rounds up, so
    /// that a bound counts as below `v` once `v` is past its octave). Worked out once here
    /// rather than on every observation.
    offset: i64,
    /// `log2` of the octaves between two bounds.
    shift: u32,
}

/// The mantissa bits of an `f64`.
const MANTISSA: u64 = (1 << 52) - 1;

impl Octaves {
    /// The steps of `bounds`, if they have this layout (at least two bounds).
    fn of(bounds: &[f64]) -> Option<Self> {
        let (first, second) = (*bounds.first()?, *bounds.get(1)?);
        if !(first > 0.0 && first.is_normal()) {
            return None;
        }
        // Positive normal bounds of equal mantissas differ by whole octaves in their bits.
        let step = second.to_bits().wrapping_sub(first.to_bits());
        let octaves = step >> 52;
        if step & MANTISSA != 0 || !octaves.is_power_of_two() {
            return None;
        }
        let regular = bounds
            .windows(2)
            .all(|pair| pair[1].is_normal() && pair[1].to_bits().wrapping_sub(pair[0].to_bits()) == step);
        let shift = octaves.trailing_zeros();
        #[allow(clippy::cast_possible_wrap)] // an exponent field: 11 bits
        let offset = (1 << shift) - 1 - (first.to_bits() >> 52) as i64;
        regular.then_some(Self { mantissa: first.to_bits() & MANTISSA, offset, shift })
    }

    /// The number of the `len` bounds below `v`; every bound for NaN, none for zero and below.
    #[inline]
    fn index(self, v: f64, len: usize) -> usize {
        if v <= 0.0 {
            return 0;
        }
        // A positive number's bits order as the number does; NaN, whatever its sign, and
        // infinity have the largest exponent field, so they count every bound.
        let bits = v.to_bits();
        // The octaves `v` is above the first bound (its exponent field less the first's, plus
        // one when its mantissa is above the first's), with the shift's rounding added.
        #[allow(clippy::cast_possible_wrap)] // an exponent field: 12 bits with the sign
        let octave = (bits >> 52) as i64 + self.offset + i64::from(bits & MANTISSA > self.mantissa);
        // Bound k is 2^(k << shift) times the first: those with (k << shift) < octave are below.
        let below = octave >> self.shift;
        // Not `clamp(0, len)`: that asserts its bounds' order, a test and a branch on every
        // observation.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let index = (below.max(0) as usize).min(len);
        index
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

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
    }

    /// Values around every bound, special values and random bit patterns.
    fn probes(buckets: &Buckets) -> Vec<f64> {
        let mut probes = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::INFINITY,
            -f64::INFINITY,
            f64::NAN,
            -f64::NAN,
            -1.0,
        ];
        for &bound in buckets.bounds() {
            // The neighbours by one unit in the last place (`next_up` is newer than the MSRV).
            let (up, down) = (f64::from_bits(bound.to_bits() + 1), f64::from_bits(bound.to_bits() - 1));
            probes.extend([bound, up, down, bound * 0.75, bound * 1.5, -bound]);
        }
        // xorshift: bit patterns of every kind (negative, subnormal, NaN payloads). Fewer under
        // Miri, which interprets them (`scripts/miri.sh` runs the cells' tests).
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..if cfg!(miri) { 100 } else { 20_000 } {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probes.push(f64::from_bits(x));
            // Near the bounds' own octaves too.
            probes.push(
                buckets.bounds()[0]
                    * f64::from_bits((x >> 12) | 0x3FF0_0000_0000_0000)
                    * f64::from(u8::try_from(x >> 56).unwrap() % 64),
            );
        }
        probes
    }

    #[test]
    fn octaves_count_the_bounds_below_as_comparing_does() {
        let layouts = [
            Buckets::exponential(0.0005, 2.0, 14),
            Buckets::exponential(0.0001, 2.0, 16),
            Buckets::exponential(1024.0, 4.0, 12),
            Buckets::exponential(1.0, 16.0, 8),
            Buckets::exponential(3.0, 256.0, 4),
            Buckets::exponential(1e-300, 2.0, 30),
            Buckets::exponential(1e300, 2.0, 20),
            Buckets::new(vec![0.25, 0.5]),
        ];
        for buckets in layouts {
            let buckets = buckets.unwrap();
            assert!(buckets.octaves.is_some(), "{buckets:?} has the layout");
            let len = buckets.bounds().len();
            for v in probes(&buckets) {
                assert_eq!(buckets.index(v), buckets.compared(v), "{v:e} in {buckets:?}");
                assert!(buckets.index(v) <= len);
            }
        }
    }

    #[test]
    fn other_layouts_compare_with_each_bound() {
        for buckets in [
            Buckets::exponential(1.0, 3.0, 8),
            Buckets::exponential(1.0, 8.0, 8),
            Buckets::exponential(1.0, 2.5, 8),
            Buckets::linear(1.0, 1.0, 8),
            Buckets::new(vec![0.0, 1.0, 2.0]),
            Buckets::new(vec![-2.0, -1.0]),
            Buckets::new(vec![1.0]),
            Buckets::new(vec![1.0, 2.0, 4.0, 16.0]),
            Buckets::new(vec![5e-324, 1e-323]),
        ] {
            let buckets = buckets.unwrap();
            assert!(buckets.octaves.is_none(), "{buckets:?} has no octave layout");
        }
    }

    #[test]
    fn default_sum_resolution_follows_the_smallest_bound() {
        let b = Buckets::exponential(0.0005, 2.0, 14).unwrap();
        assert!((b.sum_resolution() - 1e-7).abs() < 1e-20);
        let b = Buckets::exponential(64.0, 4.0, 8).unwrap();
        assert!((b.sum_resolution() - 1e-2).abs() < 1e-15);
        assert!((Buckets::new(vec![0.0]).unwrap().sum_resolution() - 1e-6).abs() < 1e-18);
    }
}
