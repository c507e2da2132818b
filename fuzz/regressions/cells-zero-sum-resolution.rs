// Found by the `cells` fuzz target (input: base64 in `cells-zero-sum-resolution`; replay with
// `base64 -d fuzz/regressions/cells-zero-sum-resolution > /tmp/in &&
//  cargo fuzz run --sanitizer none cells /tmp/in`).
//
// A histogram whose "units per value" (`per_unit`, 1 / resolution) is +inf never sums anything:
// every observation scales to +inf (or NaN for 0) and takes the "not summed" path, so `sum()`
// stays 0 while the counts grow. Two ways in (raft-metrics/src/cell/histogram.rs):
// * `default_resolution` computes `10f64.powi(|exponent|)`, +inf once the smallest positive |bound|
//   is below ~1e-305, so the default resolution is 0 (documented as positive) and `per_unit` +inf;
// * `with_sum_resolution(r)` accepts any positive finite `r`, also a subnormal whose 1/r overflows.
// Fix: clamp the default exponent, and refuse (or clamp) resolutions whose reciprocal is infinite.
// Unit tests for raft-metrics/src/cell/histogram.rs `mod tests`:
#[test]
fn tiny_bounds_keep_a_positive_sum_resolution() {
    let buckets = Buckets::new(vec![1e-306]).unwrap();
    let r = buckets.sum_resolution();
    assert!(r > 0.0 && r.is_finite(), "sum_resolution {r}"); // fails: 0
    let h = Histogram::<1>::new(Arc::new(buckets)).unwrap();
    h.observe(1e-306);
    assert!(h.sum() > 0.0, "sum {}", h.sum()); // fails: 0
}

#[test]
fn a_resolution_without_a_finite_reciprocal_is_refused() {
    let b = Buckets::new(vec![1.0]).unwrap();
    assert!(b.with_sum_resolution(1e-310).is_err()); // fails: accepted, and every sum is then 0
}
