//! `#[derive(RaftMetrics)]` through the public API: names, HELP, labels, handles, views,
//! sampling and the schema.

use std::num::NonZeroU32;

use raft_metrics::advanced::parse::parse;
use raft_metrics::advanced::MetricKind;
use raft_metrics::{
    ByLabel, Counter, FloatGauge, Format, Gauge, Histogram, LabelValue, RaftMetrics, RegistrationError, Registry,
    Sampled, Sampling, ShardedCounter,
};

#[derive(Clone, Copy, Debug, LabelValue)]
#[label(rename_all = "snake_case")]
enum Reject {
    StaleTerm,
    LogInconsistency,
}

#[derive(Clone, Copy, Debug, LabelValue)]
enum Role {
    #[label(rename = "leader")]
    Leader,
    #[label(rename = "follower")]
    Follower,
}

/// Partition metrics used throughout.
#[derive(RaftMetrics)]
#[raft_metrics(namespace = "t", labels(topic: &str, partition: u32))]
struct Partition {
    /// Current Raft term.
    #[metric(gauge)]
    pub term: Gauge,
    /// Entries committed.
    /// Counted once each.
    #[metric(counter)]
    pub commits: Counter,
    /// Lag behind the leader.
    #[metric(gauge, unit = "seconds")]
    pub lag: FloatGauge,
    /// Time from proposal to commit.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.001, 10.0, 3))]
    pub commit_latency: Histogram<3>,
    /// Rejected appends, by reason.
    #[metric(counter, label(reason: Reject))]
    pub rejected: ByLabel<Reject, Counter, 2>,
    /// Messages sent, sampled.
    #[metric(counter, name = "messages_sent", sample = 8)]
    pub sent: Sampled<Counter>,
    /// Bytes appended.
    #[metric(histogram, unit = "bytes", buckets = [64, 1024, 65536], sample = 4)]
    pub append_size: Sampled<Histogram<3>>,
}

/// Node-wide metrics, no labels, hit by many threads.
#[derive(RaftMetrics)]
#[raft_metrics(namespace = "t_node")]
struct Node {
    /// RPCs sent.
    #[metric(counter)]
    pub rpcs: ShardedCounter,
    /// Time in each role.
    #[metric(counter, unit = "seconds", label(role: Role))]
    pub role_time: ByLabel<Role, Counter, 2>,
}

/// Metrics labelled by an enum at run time.
#[derive(RaftMetrics)]
#[raft_metrics(labels(role: Role, node: u64), max_series = 3)]
struct ByRole {
    /// Elections seen.
    #[metric(counter)]
    pub elections_total: Counter,
}

fn scrape(registry: &Registry) -> raft_metrics::advanced::parse::Scrape {
    let text = registry.encode_to_string(Format::Prometheus);
    parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn names_help_and_labels_follow_the_declaration() {
    let registry = Registry::new();
    let partitions = Partition::register(&registry).unwrap();
    let p = partitions.bind(("orders", 7));
    p.term.set(3);
    p.commits.add(2);
    p.lag.set(0.5);
    p.commit_latency.observe_ms(5.0);
    p.rejected.get(Reject::LogInconsistency).inc();
    let s = scrape(&registry);
    let labels = [("topic", "orders"), ("partition", "7")];
    assert_eq!(s.value("t_term", &labels), Some(3.0));
    assert_eq!(s.value("t_commits_total", &labels), Some(2.0));
    assert_eq!(s.value("t_lag_seconds", &labels), Some(0.5));
    assert_eq!(s.value("t_commit_latency_seconds_bucket", &[("partition", "7"), ("le", "0.01")]), Some(1.0));
    assert_eq!(s.value("t_rejected_total", &[("reason", "log_inconsistency")]), Some(1.0));
    assert_eq!(s.value("t_rejected_total", &[("reason", "stale_term")]), Some(0.0));
    assert_eq!(s.family("t_commits_total").unwrap().help.as_deref(), Some("Entries committed. Counted once each."));
    assert_eq!(s.family("t_term").unwrap().help.as_deref(), Some("Current Raft term."));
    assert!(s.family("t_messages_sent_total").is_some(), "name = overrides the field name");
    assert!(s.family("t_append_size_bytes").is_some(), "units are appended");
}

#[test]
fn get_claim_and_remove_use_the_declared_label_types() {
    let registry = Registry::new();
    let partitions = Partition::register(&registry).unwrap();
    partitions.get(("orders", 1)).commits.inc();
    let owned = partitions.claim(("orders", 1)).unwrap();
    let view = owned.fields();
    view.commits.add(4);
    view.term.set(9);
    view.rejected.get(Reject::StaleTerm).inc();
    view.commit_latency.observe(0.002);
    view.lag.set(1.5);
    assert!(partitions.claim(("orders", 1)).is_err(), "one single writer per series");
    assert_eq!(partitions.bind(("orders", 1)).commits.get(), 5);
    assert!(partitions.remove(("orders", 1)));
    assert!(owned.is_removed());
    assert!(scrape(&registry).value("t_commits_total", &[("partition", "1")]).is_none());
    assert_eq!(partitions.family().len(), 0);
}

#[test]
fn unlabelled_groups_and_enum_runtime_labels() {
    let registry = Registry::new();
    let node = Node::register(&registry).unwrap().bind(());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| (0..1000).for_each(|_| node.rpcs.inc()));
        }
    });
    node.role_time.get(Role::Leader).add(3);
    let by_role = ByRole::register(&registry).unwrap();
    by_role.get((Role::Follower, 2)).elections_total.inc();
    for node in 10..20 {
        by_role.get((Role::Leader, node)).elections_total.inc();
    }
    let s = scrape(&registry);
    assert_eq!(s.value("t_node_rpcs_total", &[]), Some(4000.0));
    assert_eq!(s.value("t_node_role_time_seconds_total", &[("role", "leader")]), Some(3.0));
    assert_eq!(s.value("elections_total", &[("role", "follower"), ("node", "2")]), Some(1.0));
    assert_eq!(by_role.family().overflowed(), 8, "max_series = 3 bounds the family");
}

#[test]
fn registering_twice_is_an_error_value_and_namespaces_are_configurable() {
    let registry = Registry::new();
    Partition::register(&registry).unwrap();
    assert!(matches!(Partition::register(&registry), Err(RegistrationError::Duplicate(_))));
    let other = Partition::register_with_namespace(&registry, "other").unwrap();
    other.get(("x", 0)).commits.inc();
    assert_eq!(scrape(&registry).value("other_commits_total", &[("topic", "x")]), Some(1.0));
    assert!(matches!(
        Partition::register_with_namespace(&registry, "bad-namespace"),
        Err(RegistrationError::InvalidMetricName { .. })
    ));
}

#[test]
fn sampled_estimates_converge_and_the_rate_changes_at_run_time() {
    let registry = Registry::new();
    let partitions = Partition::register(&registry).unwrap();
    let p = partitions.bind(("orders", 1));
    let events = 400_000u64;
    for _ in 0..events {
        p.sent.inc();
        p.append_size.observe(100.0);
    }
    // Relative standard deviation sqrt((N-1)/C): 0.42% for N = 8, 0.27% for N = 4; allow 5 sigma.
    let estimate = p.sent.inner().get() as f64;
    assert!((estimate - events as f64).abs() < 5.0 * (7.0 * events as f64).sqrt(), "estimate {estimate}");
    assert_eq!(p.sent.inner().get() % 8, 0, "kept events carry weight 8");
    let count = p.append_size.inner().count() as f64;
    assert!((count - events as f64).abs() < 5.0 * (3.0 * events as f64).sqrt(), "count {count}");
    let sum = p.append_size.inner().sum();
    assert!((sum / count - 100.0).abs() < 1e-9, "the weighted sum matches the weighted count");

    assert_eq!(registry.sampling("t_messages_sent"), Some(Sampling::OneIn(NonZeroU32::new(8).unwrap())));
    registry.set_sampling("t_messages_sent", Sampling::Off).unwrap();
    let before = p.sent.inner().get();
    (0..1000).for_each(|_| p.sent.inc());
    assert_eq!(p.sent.inner().get(), before, "off records nothing");
    registry.set_sampling("t_messages_sent", Sampling::All).unwrap();
    (0..1000).for_each(|_| p.sent.inc());
    assert_eq!(p.sent.inner().get(), before + 1000, "back on, every event, same handle");
    assert!(registry.set_sampling("t_term", Sampling::All).is_err(), "only sampled metrics have a rate");

    registry.set_sampling("t_append_size_bytes", Sampling::Off).unwrap();
    let timer = p.append_size.inner().start_timer();
    timer.discard();
    let skipped = partitions.bind(("orders", 2));
    drop(skipped.append_size.start_timer());
    assert_eq!(skipped.append_size.inner().count(), 0, "a skipped timer records nothing");
}

#[test]
fn the_schema_describes_every_metric() {
    let schema = Partition::SCHEMA;
    assert_eq!(schema.type_name, "Partition");
    assert_eq!(schema.namespace, "t");
    assert_eq!(schema.labels, &["topic", "partition"]);
    let names: Vec<_> = schema.metrics.iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        ["term", "commits", "lag_seconds", "commit_latency_seconds", "rejected", "messages_sent", "append_size_bytes"]
    );
    let latency = &schema.metrics[3];
    assert_eq!(latency.kind, MetricKind::Histogram);
    assert_eq!(latency.unit, Some("seconds"));
    assert_eq!(latency.buckets, &[0.001, 0.01, 0.1]);
    assert_eq!(latency.help, "Time from proposal to commit.");
    let rejected = schema.metrics[4].enum_label.unwrap();
    assert_eq!((rejected.name, rejected.values), ("reason", &["stale_term", "log_inconsistency"][..]));
    assert_eq!(schema.metrics[5].sample, Some(8));
    assert!(schema.sample_names("t").contains(&"t_commits_total".to_owned()));
    assert!(schema.sample_names("t").contains(&"t_commit_latency_seconds_bucket".to_owned()));
    // Every declared sample name is what a scrape exports, and nothing else is.
    let registry = Registry::new();
    let _bound = Partition::register(&registry).unwrap().bind(("a", 1));
    let exported: std::collections::BTreeSet<_> =
        scrape(&registry).lines().map(|s| s.name.clone()).filter(|n| n.starts_with("t_")).collect();
    let declared: std::collections::BTreeSet<_> = schema.sample_names("t").into_iter().collect();
    assert_eq!(exported, declared);
}

#[test]
fn a_group_is_one_allocation_per_label_set() {
    // Every field lives inline in the struct: the size is the sum of the cells, no pointers to
    // per-field allocations besides the shared bucket and sampling `Arc`s.
    let size = std::mem::size_of::<Partition>();
    assert!(size < 512, "Partition is {size} bytes");
}

/// A native histogram field: exponential buckets of its own, classic buckets in text.
#[derive(RaftMetrics)]
#[raft_metrics(namespace = "n", labels(topic: &str))]
struct Native {
    /// Commit latency, native.
    #[metric(histogram, unit = "seconds", native)]
    latency: raft_metrics::NativeHistogram,
    /// Apply latency, native with a coarser layout.
    #[metric(histogram, unit = "seconds", native(schema = 1, min_exp = -10, max_exp = 10))]
    apply: raft_metrics::NativeHistogram,
}

#[test]
fn native_histogram_fields() {
    let registry = Registry::new();
    let family = Native::register(&registry).unwrap();
    let h = family.bind("t");
    h.latency.observe(0.003);
    h.apply.observe(0.5);
    assert_eq!(h.latency.count(), 1);
    assert_eq!(h.apply.buckets().schema(), 1);
    let s = scrape(&registry);
    assert_eq!(s.value("n_latency_seconds_count", &[("topic", "t")]), Some(1.0));
    assert!(Native::SCHEMA.metrics[0].buckets.is_empty(), "native buckets are not listed");
}

#[test]
fn buckets_from_a_const_array_or_slice() {
    const LATENCY_BUCKETS: [f64; 4] = [0.001, 0.01, 0.1, 1.0];
    mod sizes {
        pub(super) const BATCH_BYTES: &[f64] = &[64.0, 4096.0];
    }

    /// Histograms whose bounds are shared consts.
    #[derive(RaftMetrics)]
    #[raft_metrics(namespace = "c")]
    struct Shared {
        /// Commit latency.
        #[metric(histogram, unit = "seconds", buckets = LATENCY_BUCKETS)]
        commit_latency: Histogram<4>,
        /// Apply latency, same bounds, sampled.
        #[metric(histogram, unit = "seconds", buckets = LATENCY_BUCKETS, sample = 1)]
        apply_latency: Sampled<Histogram<4>>,
        /// Batch sizes.
        #[metric(histogram, unit = "bytes", buckets = sizes::BATCH_BYTES)]
        batch: Histogram<2>,
    }

    let registry = Registry::new();
    let family = Shared::register(&registry).unwrap();
    let h = family.bind(());
    h.commit_latency.observe(0.05);
    h.batch.observe(100.0);
    let s = scrape(&registry);
    assert_eq!(s.value("c_commit_latency_seconds_bucket", &[("le", "0.01")]), Some(0.0));
    assert_eq!(s.value("c_commit_latency_seconds_bucket", &[("le", "0.1")]), Some(1.0));
    assert_eq!(s.value("c_batch_bytes_bucket", &[("le", "4096.0")]), Some(1.0));
    assert_eq!(Shared::SCHEMA.metrics[0].buckets, &LATENCY_BUCKETS);
    assert_eq!(Shared::SCHEMA.metrics[1].buckets, &LATENCY_BUCKETS);
    assert_eq!(Shared::SCHEMA.metrics[2].buckets, sizes::BATCH_BYTES);
}
