//! `Export`: a scrape writes the selected metrics of the series a filter accepts, decided from
//! the series' values at each scrape; `Registry::attach` shows a family in a second registry,
//! claiming only the names it writes.

use raft_metrics::{Counter, Export, Format, Gauge, MetricInfo, RaftMetrics, RegistrationError, Registry};

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
