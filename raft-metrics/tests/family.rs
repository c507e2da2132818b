//! Series lifecycle: binding, removal with outstanding handles, slot reuse, the cardinality bound,
//! hostile label values and single-writer claims.

use raft_metrics::advanced::parse::parse;
use raft_metrics::{
    ClaimError, Counter, FamilySpec, Format, Gauge, MetricInfo, Registry, MAX_LABEL_VALUE_LEN, OVERFLOW_LABEL_VALUE,
};

/// Miri interprets every instruction; it checks the same code paths with fewer repetitions.
const CHURN_ROUNDS: u32 = if cfg!(miri) { 3 } else { 50 };
const LABEL_SETS: u32 = if cfg!(miri) { 40 } else { 1000 };

fn scrape(registry: &Registry) -> raft_metrics::advanced::parse::Scrape {
    let text = registry.encode_to_string(Format::Prometheus);
    parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn get_and_bind_reach_the_same_series() {
    let r = Registry::new();
    let f = r.register_with::<Counter, 2>(MetricInfo::new("c_total", "help"), ["topic", "partition"], ()).unwrap();
    let bound = f.bind(("orders", 7u32));
    bound.inc();
    f.get(("orders", 7u64)).add(2);
    f.get((String::from("orders"), 7u16)).add(3);
    assert_eq!(bound.get(), 6);
    assert_eq!(f.len(), 1);
    assert_eq!(scrape(&r).value("c_total", &[("topic", "orders"), ("partition", "7")]), Some(6.0));
}

#[test]
fn removal_keeps_handles_valid_and_stops_exporting() {
    let r = Registry::new();
    let f = r.register_with::<Gauge, 1>(MetricInfo::new("g", "help"), ["partition"], ()).unwrap();
    let moved = f.bind((1u32,));
    moved.set(5);
    assert!(f.remove((1u32,)));
    assert!(!f.remove((1u32,)), "second removal finds nothing");
    assert!(moved.is_removed());
    moved.set(9); // still valid memory, just not exported
    assert_eq!(scrape(&r).value("g", &[("partition", "1")]), None);
    // The partition comes back: a fresh series starting from zero.
    assert_eq!(f.get((1u32,)).get(), 0);
    assert_eq!(moved.get(), 9);
    assert!(!f.bind((1u32,)).is_removed());
}

#[test]
fn churn_reuses_slots_instead_of_growing() {
    let r = Registry::new();
    let f = r.register_with::<Counter, 1>(MetricInfo::new("churn_total", "help"), ["partition"], ()).unwrap();
    let pinned = f.bind((u32::MAX,));
    assert!(f.remove((u32::MAX,)));
    // 100 removals a round: more than wait before reuse, so every round after the first reuses.
    for round in 0..CHURN_ROUNDS {
        for p in 0..100u32 {
            f.get((round * 1000 + p,)).inc();
        }
        for p in 0..100u32 {
            assert!(f.remove((round * 1000 + p,)));
        }
    }
    assert_eq!(f.len(), 0);
    pinned.inc();
    assert_eq!(pinned.get(), 1, "a pinned removed slot is never handed to another label set");
    let s = scrape(&r);
    assert!(s.family("churn_total").is_none(), "no live series, no family lines");
    assert_eq!(f.overflowed(), 0);
}

#[test]
fn cardinality_bound_routes_new_label_sets_to_one_overflow_series() {
    let r = Registry::new();
    let f = r
        .register(
            FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("bounded_total", "help")], ["topic"], ()).max_series(10),
        )
        .unwrap();
    for i in 0..LABEL_SETS {
        f.get((format!("topic-{i}"),)).inc();
    }
    let dropped = u64::from(LABEL_SETS - 10);
    assert_eq!(f.len(), 10);
    assert_eq!(f.overflowed(), dropped);
    let s = scrape(&r);
    assert_eq!(s.value("bounded_total", &[("topic", OVERFLOW_LABEL_VALUE)]), Some(dropped as f64));
    assert_eq!(s.family("bounded_total").unwrap().lines.len(), 11);
    assert_eq!(s.value("raft_metrics_dropped_label_sets_total", &[("metric", "bounded")]), Some(dropped as f64));
    assert_eq!(f.claim((format!("topic-{}", LABEL_SETS - 1),)).unwrap_err(), ClaimError::Overflow);
    // Removing a series makes room again.
    assert!(f.remove(("topic-0",)));
    f.get(("newcomer",)).inc();
    assert_eq!(scrape(&r).value("bounded_total", &[("topic", "newcomer")]), Some(1.0));
}

#[test]
fn hostile_label_values_never_break_the_scrape() {
    let r = Registry::new();
    let f = r.register_with::<Counter, 1>(MetricInfo::new("hostile_total", "help"), ["v"], ()).unwrap();
    let huge = "x".repeat(MAX_LABEL_VALUE_LEN + 1);
    let just_fits = "y".repeat(MAX_LABEL_VALUE_LEN);
    let values = ["", "\"", "\\", "\n", "\\n", "}", "{a=\"b\"}", "日本", "\u{0}", "\r\t", OVERFLOW_LABEL_VALUE];
    for v in values.iter().copied().chain([huge.as_str(), just_fits.as_str()]) {
        f.get((v,)).inc();
    }
    let s = scrape(&r);
    for v in values.iter().copied().filter(|v| *v != OVERFLOW_LABEL_VALUE).chain([just_fits.as_str()]) {
        assert_eq!(s.value("hostile_total", &[("v", v)]), Some(1.0), "{v:?}");
    }
    // Too long, and the reserved overflow value itself, both land in the overflow series.
    assert_eq!(s.value("hostile_total", &[("v", OVERFLOW_LABEL_VALUE)]), Some(2.0));
    assert_eq!(f.overflowed(), 2);
}

#[test]
fn one_exclusive_writer_per_series() {
    let r = Registry::new();
    let f = r.register_with::<Counter, 1>(MetricInfo::new("owned_total", "help"), ["partition"], ()).unwrap();
    let owner = f.claim((3u32,)).unwrap();
    assert_eq!(f.claim((3u32,)).unwrap_err(), ClaimError::Claimed);
    assert!(f.claim((4u32,)).is_ok(), "other series are independent");
    owner.local().add(5);
    owner.local().inc();
    let moved = std::thread::spawn(move || {
        owner.local().inc();
        owner
    })
    .join()
    .unwrap();
    assert_eq!(moved.local().get(), 7);
    drop(moved);
    let again = f.claim((3u32,)).expect("released on drop");
    again.local().inc();
    assert_eq!(scrape(&r).value("owned_total", &[("partition", "3")]), Some(8.0));
}

#[test]
fn unlabelled_families_export_zero_from_registration() {
    let r = Registry::new();
    let _c = r.counter("idle_total", "help").unwrap();
    assert_eq!(scrape(&r).value("idle_total", &[]), Some(0.0));
}

/// The per-thread lookup cache checks the series' generation on every hit, and its entry pins the
/// series: after the label set is removed, its slot is not handed to another label set while this
/// thread's cache names it (even in a full family), and a lookup of the old label set creates a
/// new series instead of returning the cached slot.
#[test]
fn a_cached_lookup_never_returns_a_reused_slot() {
    let r = Registry::new();
    let f = r
        .register(FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("cached_total", "help")], ["k"], ()).max_series(1))
        .unwrap();
    let a: *const Counter = &*f.get(("a",));
    f.get(("a",)).add(1); // a cache hit
    assert!(f.remove(("a",)));
    let b: *const Counter = &*f.get(("b",));
    assert!(!std::ptr::eq(a, b), "the cache entry pins the removed slot");
    f.get(("b",)).add(10);
    assert!(f.remove(("b",)));
    // The cache still names `a` -> its old slot, whose generation moved on.
    f.get(("a",)).add(100);
    assert_eq!(f.get(("a",)).get(), 100, "the write went to a fresh series of `a`");
    assert_eq!(f.overflowed(), 0);
    let s = scrape(&r);
    assert_eq!(s.value("cached_total", &[("k", "a")]), Some(100.0));
    assert_eq!(s.value("cached_total", &[("k", "b")]), None);
}

/// A `Pinned` guard from `Family::get` held across the removal of its label set and many
/// creations in a full family (each of which would take a free removed slot at once): its slot
/// is never handed to another label set, and its writes never show up under one. Covers both
/// kinds of guard: a cached label set (the cache entry pins, the guard counts a use) and one too
/// long for the cache (the guard pins on its own).
#[test]
fn a_pinned_series_keeps_its_slot_across_remove_and_reuse() {
    let long = "l".repeat(200);
    for label in ["a", long.as_str()] {
        let r = Registry::new();
        let f = r
            .register(
                FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("pinned_total", "help")], ["k"], ()).max_series(1),
            )
            .unwrap();
        let guard = f.get((label,));
        let pinned: *const Counter = &*guard;
        guard.add(1);
        assert!(f.remove((label,)));
        // Any number shows it (each creation in a full family would take a free removed slot);
        // fewer under Miri, where every creation scans the growing queue of removed slots.
        let creations = if cfg!(miri) { 40 } else { 300 };
        for i in 0..creations {
            let k = format!("n{i}");
            let series = f.get((k.as_str(),));
            assert!(!std::ptr::eq(&*series, pinned), "label set {k} got the pinned slot");
            series.add(1);
            drop(series);
            assert_eq!(f.get((k.as_str(),)).get(), 1, "{k} holds only its own write");
            guard.add(1000);
            assert!(f.remove((k.as_str(),)));
        }
        assert_eq!(guard.get(), 1 + 1000 * creations, "every write through the guard went to its own series");
        drop(guard);
        assert_eq!(f.overflowed(), 0);
        assert_eq!(f.get(("fresh",)).get(), 0);
        let text = r.encode_to_string(raft_metrics::Format::Prometheus);
        let total = (1 + 1000 * creations).to_string();
        assert!(!text.contains(&total) && !text.contains("1001"), "a guard's writes were exported:\n{text}");
    }
}
