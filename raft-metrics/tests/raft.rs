//! The integration guide's operations: each changes exactly the series it should, in a scrape
//! that parses strictly. Also the pre-bound handles, removal, and the metric reference.

use std::collections::BTreeMap;

use raft_metrics::advanced::parse::parse;
use raft_metrics::advanced::MetricKind;
use raft_metrics::raft::{RaftMetrics, SCHEMAS};
use raft_metrics::{Format, Registry};

type Samples = BTreeMap<String, f64>;

fn samples(registry: &Registry) -> Samples {
    let text = registry.encode_to_string(Format::Prometheus);
    let scrape = parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"));
    scrape
        .lines()
        .filter(|s| !s.name.starts_with("raft_metrics_"))
        .map(|s| {
            let labels: Vec<_> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            (format!("{}{{{}}}", s.name, labels.join(",")), s.value)
        })
        .collect()
}

/// The samples `op` changed or created, with their new values (NaN-free).
fn changes(registry: &Registry, op: impl FnOnce()) -> BTreeMap<String, f64> {
    let before = samples(registry);
    op();
    samples(registry).into_iter().filter(|(k, v)| before.get(k) != Some(v)).collect()
}

/// Asserts the changed samples are exactly `expected` (name{labels} = value); bucket lines of
/// histograms are summarised by their `_count` and `_sum`.
fn assert_changes(registry: &Registry, op: impl FnOnce(), expected: &[(&str, f64)]) {
    let changed: BTreeMap<String, f64> =
        changes(registry, op).into_iter().filter(|(k, _)| !k.contains("_bucket{")).collect();
    let expected: BTreeMap<String, f64> = expected.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    let keys = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&changed), keys(&expected), "changed series");
    for (k, v) in &expected {
        assert!((changed[k] - v).abs() < 1e-9, "{k}: {} != {v}", changed[k]);
    }
}

const P: &str = "topic=orders,partition=7";

#[test]
fn every_guide_operation_changes_exactly_its_series() {
    let r = Registry::new();
    let m = RaftMetrics::with_registry(&r).unwrap();
    let (t, p) = ("orders", 7);
    let g = |name: &str| format!("chronik_raft_{name}{{{P}}}");
    let gl = |name: &str, extra: &str| format!("chronik_raft_{name}{{{P},{extra}}}");
    // Creating a partition's group exports all of its series at zero at once; do it first so
    // each operation below shows only what it changed.
    let _bound = m.partition(t, p);
    let _peer = m.peer(t, p, "n2");
    let _leader = m.peer(t, p, "n1");

    assert_changes(
        &r,
        || m.set_node_state(t, p, "n1", 1),
        &[(&gl("node_state", "node=n1"), 1.0), (&g("is_leader"), 1.0)],
    );
    assert_changes(
        &r,
        || m.set_leader_count("n1", 4),
        &[("chronik_raft_leader_partitions{node=n1}", 4.0), ("chronik_raft_follower_partitions{node=n1}", 0.0)],
    );
    assert_changes(&r, || m.set_follower_count("n1", 5), &[("chronik_raft_follower_partitions{node=n1}", 5.0)]);
    assert_changes(&r, || m.set_current_term(t, p, 9), &[(&g("current_term"), 9.0)]);
    assert_changes(&r, || m.set_isr_size(t, p, 3), &[(&g("isr_size"), 3.0)]);
    assert_changes(
        &r,
        || m.set_commit_index(t, p, 100),
        &[(&g("commit_index"), 100.0), (&g("apply_lag_entries"), 100.0)],
    );
    assert_changes(&r, || m.set_last_applied(t, p, 90), &[(&g("last_applied"), 90.0), (&g("apply_lag_entries"), 10.0)]);
    assert_changes(
        &r,
        || m.set_follower_lag_entries(t, p, "n2", 12),
        &[(&gl("follower_lag_entries", "peer=n2"), 12.0)],
    );
    assert_changes(&r, || m.set_follower_lag_ms(t, p, "n2", 250.0), &[(&gl("follower_lag_seconds", "peer=n2"), 0.25)]);
    assert_changes(
        &r,
        || m.update_last_heartbeat(t, p, "n2", 1_700_000_000_500u64),
        &[(&gl("last_heartbeat_timestamp_seconds", "peer=n2"), 1_700_000_000.5)],
    );
    assert_changes(&r, || m.set_max_follower_lag(t, p, 12), &[(&g("max_follower_lag_entries"), 12.0)]);
    assert_changes(
        &r,
        || m.record_election(t, p, true, 200.0),
        &[
            (&gl("elections_total", "result=won"), 1.0),
            (&g("election_duration_seconds_count"), 1.0),
            (&g("election_duration_seconds_sum"), 0.2),
        ],
    );
    assert_changes(&r, || m.set_votes_received(t, p, 2), &[(&g("votes_received"), 2.0)]);
    assert_changes(
        &r,
        || m.record_commit_latency(t, p, 4.0, 8),
        &[
            // Once per proposal of the batch.
            (&g("commit_latency_seconds_count"), 8.0),
            (&g("commit_latency_seconds_sum"), 0.032),
            (&g("proposals_committed_total"), 8.0),
            (&g("commit_batch_entries_count"), 1.0),
            (&g("commit_batch_entries_sum"), 8.0),
        ],
    );
    assert_changes(&r, || m.set_has_leader(t, p, true), &[(&g("has_leader"), 1.0)]);
    assert_changes(
        &r,
        || m.set_membership(t, p, 3, 1),
        &[(&g("voters"), 3.0), (&g("learners"), 1.0), (&g("cluster_size"), 4.0)],
    );
    let created = changes(&r, || m.record_snapshot_create(t, p, "log_size", 2048, 500.0, 77));
    for key in [
        format!("chronik_raft_snapshot_creations_total{{{P},trigger=log_size}}"),
        g("snapshot_size_bytes_count"),
        g("snapshot_create_duration_seconds_count"),
        g("snapshot_last_index"),
        g("snapshot_last_timestamp_seconds"),
    ] {
        assert!(created.contains_key(&key), "{key} in {created:?}");
    }
    assert_eq!(created[&g("snapshot_last_index")], 77.0);
    let applied = changes(&r, || m.record_snapshot_apply(t, p, 100.0));
    assert_eq!(applied.get(&g("snapshot_apply_duration_seconds_count")), Some(&1.0));
    assert_changes(
        &r,
        || m.record_snapshot_transfer(t, p, "send", false),
        &[
            (&gl("snapshot_transfers_total", "direction=send,result=failure"), 1.0),
            (&gl("snapshot_transfers_total", "direction=send,result=success"), 0.0),
        ],
    );
    assert_changes(
        &r,
        || m.record_append_entries_sent(t, p, "n2", 1000),
        &[
            (&gl("append_entries_sent_total", "peer=n2"), 1.0),
            (&gl("append_entries_sent_bytes_total", "peer=n2"), 1000.0),
        ],
    );
    assert_changes(
        &r,
        || m.record_rpc_call("vote", "n2", true, 1.5),
        &[
            ("chronik_raft_rpc_calls_total{method=vote,target=n2,result=success}", 1.0),
            ("chronik_raft_rpc_calls_total{method=vote,target=n2,result=failure}", 0.0),
            ("chronik_raft_rpc_duration_seconds_count{method=vote,target=n2}", 1.0),
            ("chronik_raft_rpc_duration_seconds_sum{method=vote,target=n2}", 0.0015),
        ],
    );
    assert_changes(
        &r,
        || m.record_rpc_error("vote", "n3", "timeout"),
        &[("chronik_raft_rpc_errors_total{method=vote,target=n3,error_type=timeout}", 1.0)],
    );
    assert_changes(
        &r,
        || m.record_append_entries_received(t, p, "n1"),
        &[(&gl("append_entries_received_total", "peer=n1"), 1.0)],
    );
    assert_changes(
        &r,
        || m.record_append_entries_rejected(t, p, "stale_term"),
        &[(&gl("append_entries_rejected_total", "reason=stale_term"), 1.0)],
    );
    assert_changes(
        &r,
        || m.record_append_entries_rejected(t, p, "log_inconsistency"),
        &[(&gl("append_entries_rejected_total", "reason=log_inconsistency"), 1.0)],
    );
    assert_changes(&r, || m.set_log_size(t, p, 50, 4096), &[(&g("log_entries"), 50.0), (&g("log_size_bytes"), 4096.0)]);
    assert_changes(&r, || m.record_log_compaction(t, p), &[(&g("log_compactions_total"), 1.0)]);
    assert_changes(&r, || m.set_cluster_size(t, p, 5), &[(&g("cluster_size"), 5.0)]);
    assert_changes(
        &r,
        || m.record_config_change(t, p, "add_voter"),
        &[(&gl("config_changes_total", "kind=add_voter"), 1.0)],
    );
}

#[test]
fn bound_handles_single_writers_and_removal() {
    let r = Registry::new();
    let m = RaftMetrics::with_registry(&r).unwrap();
    let owned = m.claim_partition("t", 1).unwrap();
    let view = owned.fields();
    view.commit_index.set(10);
    view.proposals_committed.add(3);
    view.commit_latency.observe(0.002);
    m.peer("t", 1, "a").follower_lag_entries.set(5);
    m.peer("t", 1, "b").follower_lag_entries.set(6);
    m.peer("t", 2, "a").follower_lag_entries.set(7);
    m.record_snapshot_transfer("t", 1, "receive", true);
    m.set_node_state("t", 1, "n1", 3);
    m.node("n1").leader_partitions.set(2);
    m.claim_node("n9").unwrap().fields().follower_partitions.set(3);
    assert_eq!(m.node("n9").follower_partitions.get(), 3);
    let before = samples(&r);
    assert_eq!(before.get("chronik_raft_commit_index{topic=t,partition=1}"), Some(&10.0));
    assert_eq!(m.remove_partition("t", 1), 5, "partition, 2 peers, replica, transfer");
    let after = samples(&r);
    assert!(after.keys().all(|k| !k.contains("partition=1}") && !k.contains("partition=1,")), "{after:?}");
    assert_eq!(after.get("chronik_raft_follower_lag_entries{topic=t,partition=2,peer=a}"), Some(&7.0));
    assert!(m.remove_peer("t", 2, "a"));
    assert!(owned.is_removed());
}

#[test]
fn new_is_free_and_shares_the_global_registry() {
    let a = RaftMetrics::new();
    let b = RaftMetrics::new();
    assert!(RaftMetrics::global_registration_error().is_none());
    a.set_current_term("global", 1, 4);
    assert_eq!(b.partition("global", 1).current_term.get(), 4);
    assert!(Registry::global()
        .encode_to_string(Format::Prometheus)
        .contains("chronik_raft_current_term{topic=\"global\",partition=\"1\"} 4"));
    let other = Registry::new();
    let custom = RaftMetrics::with_namespace(&other, "kv_raft").unwrap();
    custom.set_current_term("x", 0, 1);
    assert!(other.encode_to_string(Format::Prometheus).contains("kv_raft_current_term{"));
    assert!(RaftMetrics::with_registry(&other).is_ok(), "a second namespace fits beside");
    assert!(RaftMetrics::with_namespace(&other, "kv_raft").is_err(), "the same names twice do not");
}

/// The metric reference in docs/metrics.md is generated from the schema; this fails when they
/// drift. Rewrite it with `UPDATE_GOLDEN=1 cargo test --test raft`.
#[test]
fn metric_reference_matches_the_schema() {
    let mut doc = String::from("# Metric reference\n\nGenerated from `raft_metrics::raft::SCHEMAS` by `tests/raft.rs`; do not edit by hand.\nAll names carry the namespace `chronik_raft_` by default.\n");
    for schema in SCHEMAS {
        doc.push_str(&format!(
            "\n## {}\n\nLabels: {}\n\n| metric | type | labels | help |\n|---|---|---|---|\n",
            schema.type_name,
            schema.labels.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
        ));
        // The scrapes' own state (unhealthy-only mode's bursts) is never exported.
        for metric in schema.metrics.iter().filter(|m| !m.help.starts_with("Internal, never exported")) {
            let name = metric.family_name(schema.namespace);
            let exported = match metric.kind {
                MetricKind::Counter => format!("{name}_total"),
                _ => name,
            };
            let kind = match metric.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            let extra = metric.enum_label.map_or(String::new(), |l| format!("`{}` ∈ {}", l.name, l.values.join(", ")));
            doc.push_str(&format!("| `{exported}` | {kind} | {extra} | {} |\n", metric.help));
        }
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &doc).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(current == doc, "docs/metrics.md drifted from the schema; rerun with UPDATE_GOLDEN=1");
}

mod collector {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use raft_metrics::raft::{
        collect, FollowerStatus, InSync, NodeState, PartitionStatus, RaftMetrics, RaftMetricsCollector, RaftNodeView,
    };
    use raft_metrics::Registry;

    struct View {
        commit: Arc<AtomicU64>,
    }

    impl RaftNodeView for View {
        fn node_id(&self) -> String {
            "n1".into()
        }
        fn visit_partitions(&self, visit: &mut dyn FnMut(&PartitionStatus<'_>)) {
            let followers = [
                FollowerStatus { id: "n2", match_index: 100, last_contact_ms: 10.0, voter: true },
                FollowerStatus { id: "n3", match_index: 40, last_contact_ms: 900.0, voter: true },
            ];
            let commit = self.commit.load(Ordering::Relaxed);
            visit(&PartitionStatus {
                topic: "t",
                partition: 0,
                state: Some(NodeState::Leader),
                term: 3,
                leader: Some("n1"),
                last_index: 100,
                commit_index: commit,
                last_applied: 95,
                voters: 3,
                learners: 0,
                followers: &followers,
            });
            visit(&PartitionStatus {
                topic: "t",
                partition: 1,
                state: Some(NodeState::Follower),
                term: 2,
                leader: None,
                last_index: 10,
                commit_index: 10,
                last_applied: 10,
                voters: 3,
                learners: 1,
                followers: &[],
            });
        }
    }

    #[test]
    fn one_tick_sets_the_polled_gauges() {
        let r = Registry::new();
        let m = RaftMetrics::with_registry(&r).unwrap();
        collect(&m, &View { commit: Arc::new(AtomicU64::new(100)) }, InSync::default());
        let leader = m.partition("t", 0);
        assert_eq!((leader.is_leader.get(), leader.has_leader.get(), leader.apply_lag_entries.get()), (1, 1, 5));
        assert_eq!(leader.isr_size.get(), 2, "n3 is silent and behind");
        assert_eq!(leader.max_follower_lag_entries.get(), 60);
        assert_eq!(m.peer("t", 0, "n3").follower_lag_entries.get(), 60);
        let follower = m.partition("t", 1);
        assert_eq!((follower.is_leader.get(), follower.has_leader.get(), follower.cluster_size.get()), (0, 0, 4));
        assert_eq!(m.node("n1").leader_partitions.get(), 1);
        assert_eq!(m.node("n1").follower_partitions.get(), 1);
    }

    #[test]
    fn the_collector_thread_ticks_and_stops_cleanly() {
        let r = Arc::new(Registry::new());
        let m = RaftMetrics::with_registry(&r).unwrap();
        let commit = Arc::new(AtomicU64::new(1));
        let collector = RaftMetricsCollector::start(
            m.clone(),
            View { commit: Arc::clone(&commit) },
            Duration::from_millis(5),
            InSync::default(),
        )
        .unwrap();
        commit.store(77, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.partition("t", 0).commit_index.get() != 77 {
            assert!(Instant::now() < deadline, "the collector never picked up the new commit index");
            std::thread::yield_now();
        }
        let started = Instant::now();
        collector.stop();
        assert!(started.elapsed() < Duration::from_secs(5), "stop returns promptly");
    }

    /// A view that panics on its first `panics` ticks.
    struct Flaky {
        view: View,
        panics: Arc<AtomicU64>,
    }

    impl RaftNodeView for Flaky {
        fn node_id(&self) -> String {
            self.view.node_id()
        }
        fn visit_partitions(&self, visit: &mut dyn FnMut(&PartitionStatus<'_>)) {
            if self.panics.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok() {
                panic!("the Raft library's state is unreadable");
            }
            self.view.visit_partitions(visit);
        }
    }

    /// A panicking view costs ticks, never the collector thread nor the registry.
    #[test]
    fn a_panicking_view_loses_ticks_not_the_collector() {
        let r = Arc::new(Registry::new());
        let m = RaftMetrics::with_registry(&r).unwrap();
        let panics = Arc::new(AtomicU64::new(3));
        let view = Flaky { view: View { commit: Arc::new(AtomicU64::new(77)) }, panics: Arc::clone(&panics) };
        let collector =
            RaftMetricsCollector::start(m.clone(), view, Duration::from_millis(5), InSync::default()).unwrap();
        // A deadlock guard, not a timing claim: the ticks take milliseconds.
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.partition("t", 0).commit_index.get() != 77 {
            assert!(Instant::now() < deadline, "the collector stopped after a panicking tick");
            std::thread::yield_now();
        }
        assert_eq!(panics.load(Ordering::Relaxed), 0, "every panicking tick ran first");
        collector.stop();
        let text = r.encode_to_string(raft_metrics::Format::Prometheus);
        assert!(text.contains("chronik_raft_commit_index{topic=\"t\",partition=\"0\"} 77"), "{text}");
    }
}

#[test]
fn node_aggregation_folds_partitions_into_bounded_series() {
    use raft_metrics::raft::{Aggregation, RaftOptions};
    let r = Registry::new();
    let options = RaftOptions { aggregation: Aggregation::Node, ..RaftOptions::default() };
    let m = RaftMetrics::with_options(&r, &options).unwrap();
    for partition in 0..1000 {
        m.record_commit_latency("orders", partition, 2.0, 4);
        m.set_follower_lag_entries("orders", partition, "n2", partition % 7);
        m.record_append_entries_rejected("orders", partition, "stale_term");
        m.set_commit_index("orders", partition, 10); // a per-partition gauge: not exported here
    }
    let s = samples(&r);
    assert_eq!(s.get("chronik_raft_commit_latency_seconds_count{}"), Some(&4000.0), "4 proposals per batch");
    assert_eq!(s.get("chronik_raft_commit_batch_entries_sum{}"), Some(&4000.0));
    assert_eq!(s.get("chronik_raft_partition_follower_lag_entries_count{}"), Some(&1000.0));
    assert_eq!(s.get("chronik_raft_append_entries_rejected_total{reason=stale_term}"), Some(&1000.0));
    assert!(s.keys().all(|k| !k.contains("partition=")), "no per-partition series are exported");
    assert!(s.len() < 300, "{} series for 1000 partitions", s.len());
    assert!(m.aggregate().is_some());
    // Pre-bound handles still work, into the unexported per-partition families.
    m.partition("orders", 1).commit_index.set(5);
    assert!(!r.encode_to_string(Format::Prometheus).contains("chronik_raft_commit_index"));
}

#[cfg(feature = "tokio")]
#[test]
fn the_tokio_collector_ticks_and_stops() {
    use raft_metrics::raft::{FollowerStatus, InSync, NodeState, PartitionStatus, RaftNodeView, TokioCollector};
    struct One;
    impl RaftNodeView for One {
        fn node_id(&self) -> String {
            "n1".into()
        }
        fn visit_partitions(&self, visit: &mut dyn FnMut(&PartitionStatus<'_>)) {
            let followers: [FollowerStatus<'_>; 0] = [];
            visit(&PartitionStatus {
                topic: "t",
                partition: 0,
                state: Some(NodeState::Leader),
                term: 1,
                leader: Some("n1"),
                last_index: 5,
                commit_index: 5,
                last_applied: 5,
                voters: 1,
                learners: 0,
                followers: &followers,
            });
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let r = Registry::new();
    let m = RaftMetrics::with_registry(&r).unwrap();
    runtime.block_on(async {
        let collector = TokioCollector::spawn(m.clone(), One, std::time::Duration::from_millis(5), InSync::default());
        for _ in 0..1000 {
            if m.partition("t", 0).commit_index.get() == 5 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        collector.stop().await;
    });
    assert_eq!(m.partition("t", 0).commit_index.get(), 5);
}
