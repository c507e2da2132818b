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

    #[test]
    fn default_sum_resolution_follows_the_smallest_bound() {
        let b = Buckets::exponential(0.0005, 2.0, 14).unwrap();
        assert!((b.sum_resolution() - 1e-7).abs() < 1e-20);
        let b = Buckets::exponential(64.0, 4.0, 8).unwrap();
        assert!((b.sum_resolution() - 1e-2).abs() < 1e-15);
        assert!((Buckets::new(vec![0.0]).unwrap().sum_resolution() - 1e-6).abs() < 1e-18);
    }
}
