// Found by the `cells` fuzz target (input: base64 in `cells-count-overflow`; replay with
// `base64 -d fuzz/regressions/cells-count-overflow > /tmp/in && cargo fuzz run --sanitizer none cells /tmp/in`).
//
// `Histogram::count()` (raft-metrics/src/cell/histogram.rs) is `bucket_counts().iter().sum()`,
// which panics with "attempt to add with overflow" in debug builds (and in cargo-fuzz's default
// build) once the bucket counts add up past u64::MAX, e.g. after `observe_n` with a huge weight;
// every other count path wraps (`SeriesWriter::histogram` uses `wrapping_add`, counters wrap by
// design). `Local::<Histogram<N>>::count()` goes through the same code. Fix: fold with
// `wrapping_add` (and document the wrap, like `Counter`'s).
// A unit test for raft-metrics/src/cell/histogram.rs `mod tests`:
#[test]
fn count_wraps_like_the_exposition() {
    let h = histogram([1.0]);
    h.observe_n(0.5, u64::MAX);
    h.observe_n(2.0, 1);
    assert_eq!(h.bucket_counts(), vec![u64::MAX, 1]);
    assert_eq!(h.count(), 0); // debug: panics "attempt to add with overflow"
}
