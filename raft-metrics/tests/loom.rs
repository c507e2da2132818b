//! loom models of the lock-free structures. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release --test loom`
//! and a target directory of its own (see `.ci/run`).

#[cfg(loom)]
mod models {
    use std::sync::Arc;

    use loom::thread;
    use raft_metrics::advanced::Metric;
    use raft_metrics::{
        Buckets, Counter, FamilySpec, Format, Histogram, MetricInfo, NativeBuckets, NativeHistogram, Registry,
    };

    fn histogram() -> Histogram<2> {
        Histogram::new(Arc::new(Buckets::new(vec![1.0, 2.0]).unwrap())).unwrap()
    }

    /// Two observers (under loom every add to a non-empty word drains it) and a reader: every
    /// read is a state some interleaving of whole observations could produce.
    #[test]
    fn histogram_observe_drain_and_read() {
        loom::model(|| {
            let h = Arc::new(histogram());
            let observers: Vec<_> = [(0.5, 2), (1.5, 1)]
                .into_iter()
                .map(|(v, times)| {
                    let h = Arc::clone(&h);
                    thread::spawn(move || (0..times).for_each(|_| h.observe(v)))
                })
                .collect();
            let snapshot = h.snapshot();
            let (counts, sum) = (snapshot.counts, snapshot.sum);
            // Bucket 0 only ever gets 0.5s and bucket 1 only 1.5s: the sum must match the counts.
            let expected = 0.5 * counts[0] as f64 + 1.5 * counts[1] as f64;
            assert!((sum - expected).abs() < 1e-9, "sum {sum} for counts {counts:?}");
            assert!(counts[0] <= 2 && counts[1] <= 1 && counts[2] == 0);
            for o in observers {
                o.join().unwrap();
            }
            assert_eq!(h.bucket_counts(), vec![2, 1, 0]);
            assert!((h.sum() - 2.5).abs() < 1e-9);
        });
    }

    /// The same packed-word protocol under a native histogram, whose spilled sum is an `f64` and
    /// whose words live on the heap: two observers and a reader, as above.
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

    /// A lock-free lookup of an existing series while another thread creates enough series to
    /// grow the table: the reader always lands on the right series.
    #[test]
    fn lookup_during_growth() {
        loom::model(|| {
            let registry = Registry::new();
            let family = registry.register_with::<Counter, 1>(MetricInfo::new("c_total", "help"), ["k"], ()).unwrap();
            for k in 0..3u32 {
                family.get((k,));
            }
            let writer = {
                let family = family.clone();
                thread::spawn(move || {
                    for k in 3..6u32 {
                        family.get((k,)).add(10);
                    }
                })
            };
            family.get((1u32,)).inc();
            writer.join().unwrap();
            assert_eq!(family.get((1u32,)).get(), 1);
            assert_eq!(family.get((4u32,)).get(), 10);
            assert_eq!(family.len(), 6);
        });
    }

    /// Binding (lock-free pin) while the series is removed and its slot reused by a full
    /// family: the handle and the next label set never share storage outside the overflow series.
    #[test]
    fn bind_races_remove_and_reuse() {
        loom::model(|| {
            let registry = Registry::new();
            let family = registry
                .register(
                    FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("c_total", "help")], ["k"], ()).max_series(1),
                )
                .unwrap();
            family.get(("a",));
            let binder = {
                let family = family.clone();
                thread::spawn(move || {
                    let handle = family.bind(("a",));
                    handle.inc();
                    handle
                })
            };
            family.remove(("a",));
            let b: *const Counter = &*family.get(("b",));
            let handle = binder.join().unwrap();
            let shares = std::ptr::eq(&*handle, b);
            assert!(!shares || family.overflowed() > 0, "a pinned series was handed to another label set");
        });
    }

    /// `Family::get` returns a `Pinned` guard: a write through it, racing with `remove` of the
    /// same label set and the reuse of freed slots by a full family, lands in the series it was
    /// resolved to (removed or not) or in none, never in the slot's new owner. loom has no
    /// per-thread cache, so every guard here takes its own pin (`Series::pin`, or the count under
    /// the family lock); the cache path reduces to this one, because a cache entry holds exactly
    /// such a pin for as long as it exists, and nothing is released while a guard from a hit lives.
    #[test]
    fn get_then_write_never_lands_in_a_reused_slot() {
        loom::model(|| {
            let registry = Registry::new();
            let family = registry
                .register(
                    FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("c_total", "help")], ["k"], ()).max_series(1),
                )
                .unwrap();
            family.get(("a",));
            let writer = {
                let family = family.clone();
                thread::spawn(move || family.get(("a",)).inc())
            };
            family.remove(("a",));
            family.get(("b",));
            writer.join().unwrap();
            // `b` took a's slot (only once the writer's guard was gone), a new slot, or, if the
            // writer re-created `a` first, the overflow series; in no interleaving does it hold
            // a's write.
            assert_eq!(family.get(("b",)).get(), 0, "a's write landed in the new owner");
        });
    }

    /// A scrape racing with removal never exports a series under the wrong labels.
    #[test]
    fn scrape_races_remove() {
        loom::model(|| {
            let registry = Arc::new(Registry::new());
            let family = registry
                .register(
                    FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("c_total", "help")], ["k"], ()).max_series(1),
                )
                .unwrap();
            family.get(("a",)).add(7);
            let remover = {
                let family = family.clone();
                thread::spawn(move || {
                    family.remove(("a",));
                    family.get(("b",)).add(1);
                })
            };
            let text = registry.encode_to_string(Format::Prometheus);
            remover.join().unwrap();
            assert!(!text.contains("k=\"a\"} 1"), "b's value under a's labels:\n{text}");
            assert!(!text.contains("k=\"b\"} 7"), "a's value under b's labels:\n{text}");
        });
    }

    #[test]
    fn counter_is_a_plain_atomic_add() {
        loom::model(|| {
            let c = Arc::new(<Counter as Metric>::new(&()));
            let t = {
                let c = Arc::clone(&c);
                thread::spawn(move || c.inc())
            };
            c.add(2);
            t.join().unwrap();
            assert_eq!(c.get(), 3);
        });
    }
}
