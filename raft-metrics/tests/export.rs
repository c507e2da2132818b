//! `Export`: a scrape writes the selected metrics of the series a filter accepts, decided from
//! the series' values at each scrape; `Registry::attach` shows a family in a second registry,
//! claiming only the names it writes.

use raft_metrics::advanced::Export;
use raft_metrics::{Counter, Format, Gauge, MetricInfo, RaftMetrics, RegistrationError, Registry};

/// A gauge and a counter per label set.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(labels(shard: u32))]
struct Shard {
    /// Depth of the queue.
    #[metric(gauge)]
    depth: Gauge,
    /// Items served.
    #[metric(counter)]
    served: Counter,
}

#[test]
fn a_scrape_writes_only_the_selected_metrics_of_the_accepted_series() {
    let registry = Registry::new();
    let shards = Shard::register(&registry).unwrap();
    for shard in 0..10 {
        let s = shards.get(shard);
        s.depth.set(i64::from(shard));
        s.served.inc();
    }
    // Only the gauge (metric 0), only of series deeper than 7.
    shards.family().set_export(Some(Export::new(|metric| metric == 0, |s: &Shard| s.depth.get() > 7)));
    let text = registry.encode_to_string(Format::Prometheus);
    assert!(!text.contains("served"), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("depth{")).collect();
    assert_eq!(lines, ["depth{shard=\"8\"} 8", "depth{shard=\"9\"} 9"], "{text}");
    // Decided at each scrape, from the values of the moment; recording never stopped.
    shards.get(8).depth.set(0);
    shards.get(2).served.inc();
    let text = registry.encode_to_string(Format::Prometheus);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("depth{")).collect();
    assert_eq!(lines, ["depth{shard=\"9\"} 9"], "{text}");
    // Back to everything.
    shards.family().set_export(None);
    let text = registry.encode_to_string(Format::Prometheus);
    assert!(text.contains("served_total{shard=\"2\"} 2\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("depth{")).count(), 10);
}

#[test]
fn an_attached_family_claims_only_the_names_it_writes() {
    let hidden = Registry::new();
    let shown = Registry::new();
    let shards = Shard::register(&hidden).unwrap();
    shards.get(1).depth.set(3);
    // The scraped registry has its own `served` (a node-wide total, say).
    let total = shown.counter("served", "Items served by every shard.").unwrap();
    total.inc();
    let err = shown.attach(shards.family(), Export::metrics(|_| true)).unwrap_err();
    assert!(matches!(err, RegistrationError::Duplicate(ref name) if name.starts_with("served")), "{err:?}");
    shown.attach(shards.family(), Export::metrics(|metric| metric == 0)).unwrap();
    let text = shown.encode_to_string(Format::Prometheus);
    assert!(text.contains("depth{shard=\"1\"} 3\n") && text.contains("served_total 1\n"), "{text}");
    assert!(!text.contains("served_total{"), "{text}");
    // The gauge's name is now taken in the scraped registry.
    let taken = shown.register_with::<Gauge, 0>(MetricInfo::new("depth", "Depth."), [], ());
    assert!(matches!(taken, Err(RegistrationError::Duplicate(_))));
}

#[test]
fn folded_metrics_sum_every_series_by_the_labels_kept() {
    use raft_metrics::advanced::Shown;
    use raft_metrics::{Buckets, Histogram};
    let registry = Registry::new();
    let served = registry
        .register_with::<Counter, 2>(MetricInfo::new("served", "Items served."), ["zone", "shard"], ())
        .unwrap();
    let latency = registry
        .histogram::<2, 2>(
            MetricInfo::new("latency_seconds", "Latency."),
            ["zone", "shard"],
            Buckets::new(vec![0.1, 1.0]).unwrap(),
        )
        .unwrap();
    for shard in 0..10u32 {
        let zone = if shard % 2 == 0 { "a" } else { "b" };
        served.get((zone, shard)).add(u64::from(shard));
        // Binary fractions: the folded sum is exact.
        latency.get((zone, shard)).observe(0.0625);
        latency.get((zone, shard)).observe(0.5);
    }
    // Folded by zone, whatever the series filter keeps.
    let by_zone = Export::new(|_| false, |_: &Counter| false).fold(|_| true, &["zone"]);
    assert_eq!(by_zone.shows(0), Shown::Folded);
    served.set_export(Some(by_zone));
    latency.set_export(Some(Export::metrics(|_| false).fold(|_| true, &[])));
    let text = registry.encode_to_string(Format::Prometheus);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.starts_with("raft_metrics_")).collect();
    assert_eq!(
        samples,
        [
            "served_total{zone=\"a\"} 20",
            "served_total{zone=\"b\"} 25",
            "latency_seconds_bucket{le=\"0.1\"} 10",
            "latency_seconds_bucket{le=\"1.0\"} 20",
            "latency_seconds_bucket{le=\"+Inf\"} 20",
            "latency_seconds_sum 5.625",
            "latency_seconds_count 20",
        ],
        "{text}"
    );
    let _: &Histogram<2> = &latency.get(("a", 0));
    // The same in protobuf and OpenMetrics: the parser accepts both folded outputs.
    raft_metrics::advanced::parse::parse(&registry.encode_to_string(Format::OpenMetrics), Format::OpenMetrics).unwrap();
}
