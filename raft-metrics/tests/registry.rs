//! Every registration error path returns a value; none panics.

use std::sync::Arc;

use raft_metrics::advanced::ByLabelLayout;
use raft_metrics::{
    Buckets, BucketsError, ByLabel, Counter, EnumLabel, FamilySpec, Gauge, Histogram, MetricInfo, RegistrationError,
    Registry, Unit,
};

#[path = "support/faulty.rs"]
mod faulty;
use faulty::{Faulty, UNLUCKY};

fn invalid_name(result: Result<impl Sized, RegistrationError>) -> String {
    match result.err() {
        Some(RegistrationError::InvalidMetricName { name, .. }) => name,
        other => panic!("expected InvalidMetricName, got {other:?}"),
    }
}

#[test]
fn invalid_metric_names_are_refused_with_the_reason() {
    let r = Registry::new();
    for bad in ["", "9lives", "has-dash", "has space", "ünï", "__reserved", "raft_latency_ms", "raft_size_kilobytes"]
    {
        assert_eq!(invalid_name(r.register_with::<Gauge, 0>(MetricInfo::new(bad, "help"), [], ())), bad);
    }
    assert_eq!(invalid_name(r.register_with::<Gauge, 0>(MetricInfo::new("g_total", "help"), [], ())), "g_total");
    assert_eq!(invalid_name(r.register_with::<Counter, 0>(MetricInfo::new("_total", "help"), [], ())), "_total");
    let h = |name: &str| r.histogram::<1, 0>(MetricInfo::new(name, "help"), [], Buckets::new(vec![1.0]).unwrap());
    for bad in ["h_bucket", "h_sum", "h_count", "h_created"] {
        assert_eq!(invalid_name(h(bad)), bad);
    }
    for bad in ["leader_count", "bytes_sum"] {
        assert_eq!(invalid_name(r.register_with::<Gauge, 0>(MetricInfo::new(bad, "help"), [], ())), bad);
    }
    let unit = r.register_with::<Gauge, 0>(MetricInfo::new("raft_lag", "help").with_unit(Unit::Seconds), [], ());
    assert_eq!(invalid_name(unit), "raft_lag");
    let err =
        r.register_with::<Gauge, 0>(MetricInfo::new("raft_lag", "help").with_unit(Unit::Seconds), [], ()).unwrap_err();
    assert!(err.to_string().contains("_seconds"), "{err}");
}

#[test]
fn invalid_label_names_are_refused() {
    let r = Registry::new();
    for bad in ["", "le", "quantile", "__name__", "a-b", "a:b", "9x"] {
        let err = r.register_with::<Counter, 1>(MetricInfo::new("c", "help"), [bad], ()).unwrap_err();
        assert!(matches!(err, RegistrationError::InvalidLabelName { .. }), "{bad}: {err:?}");
    }
    let err = r.register_with::<Counter, 2>(MetricInfo::new("c", "help"), ["topic", "topic"], ()).unwrap_err();
    assert_eq!(err, RegistrationError::DuplicateLabel("topic".into()));
    #[derive(Clone, Copy)]
    enum One {
        A,
    }
    impl EnumLabel for One {
        const VALUES: &'static [&'static str] = &["a"];
        fn index(self) -> usize {
            self as usize
        }
    }
    let _ = One::A;
    assert!(ByLabelLayout::<One, ()>::new("le", ()).is_err());
    let wrong_size = r.register_with::<ByLabel<One, Counter, 2>, 0>(
        MetricInfo::new("c", "help"),
        [],
        ByLabelLayout::new("k", ()).unwrap(),
    );
    assert_eq!(wrong_size.unwrap_err(), RegistrationError::LabelCardinality { expected: 2, found: 1 });
}

#[test]
fn duplicates_and_sample_name_collisions_are_refused() {
    let r = Registry::new();
    r.register_with::<Counter, 0>(MetricInfo::new("raft_commits_total", "help"), [], ()).unwrap();
    for clash in ["raft_commits", "raft_commits_total"] {
        let err = r.register_with::<Counter, 0>(MetricInfo::new(clash, "help"), [], ()).unwrap_err();
        assert!(matches!(err, RegistrationError::Duplicate(_)), "{clash}: {err:?}");
    }
    let err = r.register_with::<Gauge, 0>(MetricInfo::new("raft_commits", "help"), [], ()).unwrap_err();
    assert!(matches!(err, RegistrationError::Duplicate(_)));
    r.histogram::<1, 0>(MetricInfo::new("raft_apply_seconds", "help"), [], Buckets::new(vec![1.0]).unwrap()).unwrap();
    for clash in ["raft_apply_seconds_sum", "raft_apply_seconds_count", "raft_apply_seconds_bucket"] {
        let err = r.register_with::<Gauge, 0>(MetricInfo::new(clash, "help"), [], ()).unwrap_err();
        assert!(matches!(err, RegistrationError::InvalidMetricName { .. }), "{clash}: histogram suffixes are reserved");
    }
    let err = r.register_with::<Gauge, 0>(MetricInfo::new("raft_apply_seconds", "help"), [], ()).unwrap_err();
    assert!(matches!(err, RegistrationError::Duplicate(_)));
    let err =
        r.register_with::<Gauge, 0>(MetricInfo::new("raft_metrics_dropped_label_sets", "help"), [], ()).unwrap_err();
    assert!(matches!(err, RegistrationError::Duplicate(_)), "the registry's own metric is reserved");
    // A failed registration leaves the registry usable and unchanged.
    r.register_with::<Gauge, 0>(MetricInfo::new("raft_term", "help"), [], ()).unwrap();
}

#[test]
fn missing_help_and_wrong_metric_counts_are_refused() {
    let r = Registry::new();
    let err = r.register_with::<Gauge, 0>(MetricInfo::new("g", "  "), [], ()).unwrap_err();
    assert_eq!(err, RegistrationError::MissingHelp("g".into()));
    let err = r.register(FamilySpec::<Gauge, 0>::new(vec![], [], ())).unwrap_err();
    assert_eq!(err, RegistrationError::MetricCount { expected: 1, found: 0 });
}

#[test]
fn bad_buckets_are_refused() {
    let r = Registry::new();
    assert_eq!(Buckets::new(vec![2.0, 1.0]), Err(BucketsError::NotIncreasing { index: 1 }));
    assert_eq!(Buckets::new(vec![f64::NAN]), Err(BucketsError::NotFinite { index: 0 }));
    assert_eq!(Buckets::new(Vec::new()), Err(BucketsError::Empty));
    let three = Arc::new(Buckets::linear(1.0, 1.0, 3).unwrap());
    let err = r.register_with::<Histogram<4>, 0>(MetricInfo::new("h", "help"), [], three).unwrap_err();
    assert!(matches!(err, RegistrationError::InvalidBuckets(_)), "{err:?}");
    assert!(Buckets::new(vec![1.0]).unwrap().with_sum_resolution(0.0).is_err());
    assert!(Buckets::new(vec![1.0]).unwrap().with_sum_resolution(f64::NAN).is_err());
}

#[test]
fn global_registry_is_one_instance() {
    assert!(std::ptr::eq(Registry::global(), Registry::global()));
}

/// A group whose encoding panics (a user's hand-written `Group`) unwinds out of the scrape
/// that hit it, and leaves the registry, its locks and the other families fully usable.
#[test]
fn a_panicking_group_does_not_poison_the_registry() {
    let r = Registry::new();
    let faulty =
        r.register(FamilySpec::<Faulty, 1>::new(vec![MetricInfo::new("faulty_total", "help")], ["k"], ())).unwrap();
    let fine = r.counter("fine_total", "help").unwrap();
    fine.inc();
    faulty.get(("a",)).0.add(UNLUCKY);
    let scrape =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.encode_to_string(raft_metrics::Format::Prometheus)));
    assert!(scrape.is_err(), "the panic reaches the caller (the HTTP server turns it into a 500)");
    faulty.get(("a",)).0.inc();
    faulty.get(("b",)).0.inc();
    assert!(faulty.remove(("b",)), "the family lock is free");
    let _late = r.gauge("registered_after_panic", "help").unwrap();
    let text = r.encode_to_string(raft_metrics::Format::Prometheus);
    assert!(
        text.contains("faulty_total{k=\"a\"} 14")
            && text.contains("fine_total 1")
            && text.contains("registered_after_panic 0")
    );
}
