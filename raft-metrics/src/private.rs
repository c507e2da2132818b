//! Everything `#[derive(RaftMetrics)]` output names, under one hidden path, so generated code
//! depends on nothing the user imported. Not a public API.

pub use core::num::NonZeroU32;
pub use core::option::Option::{self, None, Some};
pub use core::result::Result::{self, Err, Ok};
pub use std::sync::Arc;
pub use std::vec::Vec;

pub use crate::cell::Metric;
pub use crate::cell::{Buckets, Local, SampleControl, SampledLayout, Sampling};
pub use crate::encode::SeriesWriter;
pub use crate::family::{ClaimError, Exclusive, Family, Handle};
pub use crate::label::{EnumLabel, LabelValue, LabelValues};
pub use crate::metric::{ByLabel, ByLabelLayout, Group, LocalFields};
pub use crate::model::{MetricInfo, MetricKind, RegistrationError, Unit};
pub use crate::registry::{FamilySpec, Registry};
pub use crate::schema::{EnumLabelSchema, MetricSchema, Schema};

/// Compile-time facts the derive checks a field's type against.
pub trait Shape {
    /// Histogram bucket count (0 for other cells).
    const BUCKETS: usize;
    /// Enum label array size (0 without one).
    const LABEL_VALUES: usize;
}

/// Cells without buckets or an enum label.
macro_rules! plain_shape {
    ($($cell:ty),*) => {$(
        impl Shape for $cell {
            const BUCKETS: usize = 0;
            const LABEL_VALUES: usize = 0;
        }
    )*};
}
plain_shape!(crate::Counter, crate::ShardedCounter, crate::Gauge, crate::FloatGauge, crate::NativeHistogram);

impl<const N: usize> Shape for crate::Histogram<N> {
    const BUCKETS: usize = N;
    const LABEL_VALUES: usize = 0;
}
impl<C: Shape> Shape for crate::Sampled<C> {
    const BUCKETS: usize = C::BUCKETS;
    const LABEL_VALUES: usize = C::LABEL_VALUES;
}
impl<E, C: Shape, const K: usize> Shape for ByLabel<E, C, K> {
    const BUCKETS: usize = C::BUCKETS;
    const LABEL_VALUES: usize = K;
}

/// Fails to compile unless `T` is a runtime label value.
pub const fn assert_label_value<T: LabelValue + ?Sized>() {}

/// Fails to compile unless `T` is a fixed-cardinality label.
pub const fn assert_enum_label<T: EnumLabel>() {}

/// Fails to compile (in a `const`) unless `name` is a valid metric name or namespace; the error
/// says which rule of the `name` module it breaks and points at the caller (`#[track_caller]`),
/// which the derive spans at the attribute that wrote the name.
///
/// # Panics
///
/// When `name` is invalid: at compile time when called from a `const`.
#[track_caller]
pub const fn assert_metric_name(name: &str) {
    if let Some(reason) = crate::name::metric_name_error(name) {
        panic!("{}", reason);
    }
}

/// Fails to compile (in a `const`) unless `name` is a valid label name.
///
/// # Panics
///
/// When `name` is invalid: at compile time when called from a `const`.
#[track_caller]
pub const fn assert_label_name(name: &str) {
    if let Some(reason) = crate::name::label_name_error(name) {
        panic!("{}", reason);
    }
}

/// Why `bounds` (a `buckets = SOME_CONST`) cannot be the buckets of a `Histogram<n>`, or `None`
/// when they can: the length is `n`, every bound is finite and each is above the one before.
const fn bucket_bounds_error(bounds: &[f64], n: usize) -> Option<&'static str> {
    if bounds.is_empty() {
        return Some("the `buckets` const is empty: a histogram needs at least one bucket bound");
    }
    if bounds.len() != n {
        return Some(
            "the `buckets` const and the field type disagree: `Histogram<N>` needs N equal to the number of bounds",
        );
    }
    let mut i = 0;
    while i < bounds.len() {
        if !bounds[i].is_finite() {
            return Some("the bounds in the `buckets` const must be finite; the +Inf bucket is implicit");
        }
        if i > 0 && bounds[i - 1] >= bounds[i] {
            return Some("the bounds in the `buckets` const must increase strictly");
        }
        i += 1;
    }
    None
}

/// Fails to compile (in a `const`) unless `bounds` are valid buckets for a `Histogram<n>`: the
/// derive calls it for `buckets = SOME_CONST`, whose values it cannot see.
///
/// # Panics
///
/// When `bucket_bounds_error` finds a problem: at compile time when called from a `const`.
#[track_caller]
pub const fn assert_bucket_bounds(bounds: &[f64], n: usize) {
    if let Some(reason) = bucket_bounds_error(bounds, n) {
        panic!("{}", reason);
    }
}

/// `namespace_name`, or `name` alone for an empty namespace.
pub fn metric_name(namespace: &str, name: &str) -> std::string::String {
    if namespace.is_empty() {
        name.into()
    } else {
        std::format!("{namespace}_{name}")
    }
}

/// Buckets built from bounds the derive already validated.
///
/// # Errors
///
/// Never for derive output; kept fallible so a bug surfaces as an error value.
pub fn buckets(bounds: &[f64], sum_resolution: Option<f64>) -> Result<Arc<Buckets>, RegistrationError> {
    let buckets = Buckets::new(bounds.to_vec())?;
    let buckets = match sum_resolution {
        Some(r) => buckets.with_sum_resolution(r)?,
        None => buckets,
    };
    Ok(Arc::new(buckets))
}

/// A native histogram's layout from the derive's `native(...)` attribute; defaults elsewhere.
///
/// # Errors
///
/// When the schema or range is out of bounds.
pub fn native_buckets(
    schema: Option<u8>,
    min_exp: Option<i32>,
    max_exp: Option<i32>,
) -> Result<Arc<crate::NativeBuckets>, RegistrationError> {
    let default = crate::NativeBuckets::default();
    let (default_min, default_max) = default.range();
    let buckets = crate::NativeBuckets::new(schema.unwrap_or(default.schema()))?
        .with_range(min_exp.unwrap_or(default_min), max_exp.unwrap_or(default_max))?;
    Ok(Arc::new(buckets))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::bucket_bounds_error;

    #[test]
    fn bucket_bounds() {
        assert_eq!(bucket_bounds_error(&[0.1, 1.0, 10.0], 3), None);
        assert!(bucket_bounds_error(&[], 0).is_some());
        assert!(bucket_bounds_error(&[0.1, 1.0], 3).is_some());
        assert!(bucket_bounds_error(&[0.1, 0.1], 2).is_some());
        assert!(bucket_bounds_error(&[1.0, 0.1], 2).is_some());
        assert!(bucket_bounds_error(&[0.1, f64::NAN], 2).is_some());
        assert!(bucket_bounds_error(&[f64::NEG_INFINITY, 0.1], 2).is_some());
        assert!(bucket_bounds_error(&[0.1, f64::INFINITY], 2).is_some());
    }
}
