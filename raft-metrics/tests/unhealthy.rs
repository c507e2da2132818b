//! `Aggregation::Unhealthy`: node-wide series, plus the gauges of the partitions and peers that
//! are unhealthy at the time of the scrape, under their per-partition names.

use std::collections::BTreeSet;

use raft_metrics::advanced::parse::parse;
use raft_metrics::raft::{Aggregation, HealthThresholds, NodeState, RaftMetrics, RaftOptions};
use raft_metrics::{Format, Registry};

fn unhealthy_mode(registry: &Registry) -> RaftMetrics {
    let options = RaftOptions { aggregation: Aggregation::Unhealthy, ..RaftOptions::default() };
    RaftMetrics::with_options(registry, &options).expect("register")
}

/// A leader of a 3-voter group, every voter in sync, nothing to apply: healthy.
fn healthy(m: &RaftMetrics, partition: u32) {
    m.set_node_state("orders", partition, "n1", NodeState::Leader);
    m.set_has_leader("orders", partition, true);
    let p = m.partition("orders", partition);
    p.voters.set(3);
    p.isr_size.set(3);
    m.set_commit_index("orders", partition, 100);
    m.set_last_applied("orders", partition, 100);
    for peer in ["n2", "n3"] {
        m.set_follower_lag_entries("orders", partition, peer, 0);
        m.set_follower_lag_ms("orders", partition, peer, 0.0);
    }
    m.record_commit_latency("orders", partition, 2.0, 1);
}

/// The `(topic, partition)` pairs of the scrape's samples named `name`.
fn partitions_of(text: &str, name: &str) -> BTreeSet<String> {
    let scrape = parse(text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"));
    scrape
        .lines()
        .filter(|s| s.name == name)
        .map(|s| {
            let label = |key: &str| s.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.to_string());
            format!("{}/{}", label("topic").unwrap_or_default(), label("partition").unwrap_or_default())
        })
        .collect()
}

#[test]
fn a_scrape_names_exactly_the_unhealthy_partitions() {
    let r = Registry::new();
    let m = unhealthy_mode(&r);
    for partition in 0..1000 {
        healthy(&m, partition);
    }
    // Sick in one way each.
    m.set_has_leader("orders", 1, false);
    m.set_last_applied("orders", 2, 100 - 101); // saturates: the apply lag is the commit index
    m.set_commit_index("orders", 3, 100_000);
    m.partition("orders", 4).isr_size.set(1);
    m.set_follower_lag_entries("orders", 5, "n3", 5_000);
    m.partition("orders", 5).max_follower_lag_entries.set(5_000);
    m.partition("orders", 6).config_change_in_progress.set(1);
    m.set_follower_lag_ms("orders", 7, "n2", 45_000.0);

    let text = r.encode_to_string(Format::Prometheus);
    let expected: BTreeSet<String> = [1, 3, 4, 5, 6].iter().map(|p| format!("orders/{p}")).collect();
    assert_eq!(partitions_of(&text, "chronik_raft_has_leader"), expected, "{text}");
    // A peer row carries all its gauges: lag in entries (5) or in time (7) brings it in.
    let lagging: BTreeSet<String> = ["orders/5".to_owned(), "orders/7".to_owned()].into();
    assert_eq!(partitions_of(&text, "chronik_raft_follower_lag_entries"), lagging);
    assert_eq!(partitions_of(&text, "chronik_raft_follower_lag_seconds"), lagging);
    // Partition 2's lag saturated at 0 (applied past committed): healthy.
    assert!(!partitions_of(&text, "chronik_raft_apply_lag_entries").contains("orders/2"));
    // Only gauges per partition; counters and histograms folded per node, from every partition.
    assert!(partitions_of(&text, "chronik_raft_commit_latency_seconds_count") == ["/".to_owned()].into(), "{text}");
    assert!(!text.contains("chronik_raft_proposals_committed_total{"), "{text}");
    assert!(!text.contains("chronik_raft_node_state{"), "{text}");
    // The node-wide aggregate folds every partition.
    assert!(text.contains("chronik_raft_commit_latency_seconds_count 1000\n"), "{text}");
    // Every family name appears once (the node-wide lag distributions are named apart).
    let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let unique: BTreeSet<&str> = types.iter().map(|l| l.split(' ').nth(2).unwrap_or_default()).collect();
    assert_eq!(types.len(), unique.len(), "{text}");
    // Every counter and histogram folded per node (per peer for peer series) is about 25 KB;
    // the unhealthy partitions add about 1 KB each.
    assert!(text.len() < 40_000, "{} bytes for 1 000 partitions, 6 of them unhealthy", text.len());
}

#[test]
fn a_partition_leaves_the_scrape_when_it_heals_and_returns_when_it_sickens() {
    let r = Registry::new();
    let m = unhealthy_mode(&r);
    healthy(&m, 0);
    let scrape = || partitions_of(&r.encode_to_string(Format::Prometheus), "chronik_raft_has_leader");
    assert!(scrape().is_empty());
    m.set_has_leader("orders", 0, false);
    assert_eq!(scrape(), ["orders/0".to_owned()].into());
    m.set_has_leader("orders", 0, true);
    assert!(scrape().is_empty());
    // Values kept recording while out of the scrape.
    m.set_commit_index("orders", 0, 5_000);
    let text = r.encode_to_string(Format::Prometheus);
    assert!(text.contains("chronik_raft_commit_index{topic=\"orders\",partition=\"0\"} 5000\n"), "{text}");
}

#[test]
fn thresholds_are_configurable() {
    let r = Registry::new();
    let health = HealthThresholds { apply_lag_entries: 10, ..HealthThresholds::default() };
    let options = RaftOptions { aggregation: Aggregation::Unhealthy, health, ..RaftOptions::default() };
    let m = RaftMetrics::with_options(&r, &options).unwrap();
    healthy(&m, 0);
    m.set_commit_index("orders", 0, 111);
    let text = r.encode_to_string(Format::Prometheus);
    assert_eq!(partitions_of(&text, "chronik_raft_apply_lag_entries"), ["orders/0".to_owned()].into(), "{text}");
}

#[test]
fn a_partition_out_of_contact_is_unhealthy() {
    let r = Registry::new();
    let m = unhealthy_mode(&r);
    healthy(&m, 0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let scrape = || partitions_of(&r.encode_to_string(Format::Prometheus), "chronik_raft_is_leader");
    // Never recorded: not judged by it.
    assert!(scrape().is_empty());
    m.partition("orders", 0).last_contact_timestamp.set(now - 1.0);
    assert!(scrape().is_empty());
    // A leader whose quorum went quiet a minute ago (a stale leader, cut off) shows.
    m.partition("orders", 0).last_contact_timestamp.set(now - 60.0);
    assert_eq!(scrape(), ["orders/0".to_owned()].into());
}

/// A hibernating partition (its application stopped ticking it) is not judged by its last
/// contact, which ages by design; every other rule still holds for it.
#[test]
fn a_hibernating_partition_is_not_judged_by_its_contact() {
    let r = Registry::new();
    let m = unhealthy_mode(&r);
    healthy(&m, 0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let scrape = || partitions_of(&r.encode_to_string(Format::Prometheus), "chronik_raft_is_leader");
    let p = m.partition("orders", 0);
    p.last_contact_timestamp.set(now - 3_600.0);
    p.hibernating.set(1);
    assert!(scrape().is_empty(), "asleep for an hour: not out of contact");
    // Asleep without a leader: shown, with its state.
    m.set_has_leader("orders", 0, false);
    assert_eq!(scrape(), ["orders/0".to_owned()].into());
    let text = r.encode_to_string(Format::Prometheus);
    assert_eq!(partitions_of(&text, "chronik_raft_hibernating"), ["orders/0".to_owned()].into(), "{text}");
    m.set_has_leader("orders", 0, true);
    // Awake with the same old contact: out of contact again.
    p.hibernating.set(0);
    assert_eq!(scrape(), ["orders/0".to_owned()].into());
}

/// The guide-style call counts each partition's change of state once in the node-wide count,
/// however often it is repeated.
#[test]
fn set_hibernating_counts_each_sleeping_partition_once() {
    let r = Registry::new();
    let m = unhealthy_mode(&r);
    let count = || {
        let text = r.encode_to_string(Format::Prometheus);
        parse(&text, Format::Prometheus).expect("scrape").value("chronik_raft_hibernating_partitions", &[])
    };
    for partition in 0..3 {
        healthy(&m, partition);
        m.set_hibernating("orders", partition, true);
        m.set_hibernating("orders", partition, true);
    }
    assert_eq!(count(), Some(3.0));
    m.set_hibernating("orders", 1, false);
    m.set_hibernating("orders", 1, false);
    m.set_hibernating("orders", 7, false);
    assert_eq!(count(), Some(2.0));
    assert_eq!(m.partition("orders", 0).hibernating.get(), 1);
    assert_eq!(m.partition("orders", 1).hibernating.get(), 0);
}

#[test]
fn counters_and_histograms_fold_per_topic_when_asked() {
    let r = Registry::new();
    let options = RaftOptions { aggregation: Aggregation::Unhealthy, fold_by_topic: true, ..RaftOptions::default() };
    let m = RaftMetrics::with_options(&r, &options).unwrap();
    for (topic, partitions) in [("orders", 3), ("payments", 2)] {
        for p in 0..partitions {
            m.set_has_leader(topic, p, true);
            m.record_commit_latency(topic, p, 2.0, 1);
            m.record_append_entries_sent(topic, p, "n2", 100);
        }
    }
    let text = r.encode_to_string(Format::Prometheus);
    assert!(text.contains("chronik_raft_commit_latency_seconds_count{topic=\"orders\"} 3\n"), "{text}");
    assert!(text.contains("chronik_raft_commit_latency_seconds_count{topic=\"payments\"} 2\n"), "{text}");
    assert!(text.contains("chronik_raft_append_entries_sent_total{topic=\"payments\",peer=\"n2\"} 2\n"), "{text}");
    assert!(!text.contains("partition=\""), "{text}");
}

// ---- bursts: the alerts on per-partition counters ------------------------------------------------

/// Unhealthy-only mode with a burst window of `window_millis`.
fn with_window(registry: &Registry, window_millis: u64) -> RaftMetrics {
    let health = HealthThresholds { burst_window_millis: window_millis, ..HealthThresholds::default() };
    let options = RaftOptions { aggregation: Aggregation::Unhealthy, health, ..RaftOptions::default() };
    RaftMetrics::with_options(registry, &options).expect("register")
}

/// The value of the sample `name` with exactly the labels `labels` (`k=v,…`), if scraped.
fn value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let scrape = parse(text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let found = scrape.lines().find(|s| {
        let rendered: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.name == name && rendered.join(",") == labels
    });
    found.map(|s| s.value)
}

const P0: &str = "topic=orders,partition=0";

#[test]
fn a_burst_of_leader_changes_names_the_partition_until_a_window_passes() {
    let r = Registry::new();
    let m = with_window(&r, 400);
    healthy(&m, 0);
    let p = m.partition("orders", 0);
    // Before the first scrape: the baseline, not a burst (as `increase()` would not see them).
    p.leader_changes_seen.add(5);
    let scrape = || r.encode_to_string(Format::Prometheus);
    assert_eq!(value(&scrape(), "chronik_raft_burst_leader_changes", P0), None);
    // A rolling restart's 3 changes: below the alert's (and the threshold's) 4.
    for _ in 0..3 {
        p.leader_changes_seen.inc();
        assert_eq!(value(&scrape(), "chronik_raft_burst_leader_changes", P0), None);
    }
    p.leader_changes_seen.inc();
    let text = scrape();
    assert_eq!(value(&text, "chronik_raft_burst_leader_changes", P0), Some(4.0), "{text}");
    // The partition's other gauges come with it; the scrapes' own state never does.
    assert_eq!(value(&text, "chronik_raft_has_leader", P0), Some(1.0));
    let internal = ["burst_seen", "burst_scrape", "burst_leader_changes_last", "burst_proposals_failed_last"];
    assert!(internal.iter().all(|name| !text.contains(name)), "{text}");
    p.leader_changes_seen.add(2);
    assert_eq!(value(&scrape(), "chronik_raft_burst_leader_changes", P0), Some(6.0));
    // No change for a window: the burst is over and the partition leaves the scrape.
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(value(&scrape(), "chronik_raft_burst_leader_changes", P0), None);
    // Changes after a scrape gap longer than the window start no burst either.
    p.leader_changes_seen.add(5);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(value(&scrape(), "chronik_raft_burst_leader_changes", P0), None);
}

#[test]
fn a_burst_of_failed_proposals_counts_the_commits_since_it_began() {
    use raft_metrics::raft::ProposalFailure;
    let r = Registry::new();
    let m = with_window(&r, 60_000);
    healthy(&m, 0);
    healthy(&m, 1);
    let (p0, p1) = (m.partition("orders", 0), m.partition("orders", 1));
    p0.proposals_committed.add(1_000);
    let scrape = || r.encode_to_string(Format::Prometheus);
    let _ = scrape();
    // Commits without failures: no burst.
    p0.proposals_committed.add(50);
    assert_eq!(value(&scrape(), "chronik_raft_burst_proposals_failed", P0), None);
    p0.proposals_failed.get(ProposalFailure::NotLeader).add(4);
    p0.proposals_committed.add(20);
    assert_eq!(value(&scrape(), "chronik_raft_burst_proposals_failed", P0), None, "4 failures: below 45");
    p0.proposals_failed.get(ProposalFailure::Timeout).add(50);
    p0.proposals_committed.add(30);
    // A busy partition's 50 failures are under 5 % of its proposals: not in the scrape.
    p1.proposals_failed.get(ProposalFailure::Dropped).add(50);
    p1.proposals_committed.add(2_000);
    let text = scrape();
    // Every reason, and the commits from the scrape that saw the first failure on.
    assert_eq!(value(&text, "chronik_raft_burst_proposals_failed", P0), Some(54.0), "{text}");
    assert_eq!(value(&text, "chronik_raft_burst_proposals_committed", P0), Some(50.0), "{text}");
    assert_eq!(value(&text, "chronik_raft_burst_proposals_failed", "topic=orders,partition=1"), None, "{text}");
}

#[test]
fn a_failed_snapshot_transfer_names_the_partition_and_its_direction() {
    let r = Registry::new();
    let m = with_window(&r, 60_000);
    healthy(&m, 0);
    m.record_snapshot_transfer("orders", 0, "send", true);
    let scrape = || r.encode_to_string(Format::Prometheus);
    let _ = scrape();
    let send = "topic=orders,partition=0,direction=send";
    m.record_snapshot_transfer("orders", 0, "send", true);
    assert_eq!(value(&scrape(), "chronik_raft_burst_snapshot_transfer_successes", send), None, "no failure");
    m.record_snapshot_transfer("orders", 0, "send", false);
    let text = scrape();
    assert_eq!(value(&text, "chronik_raft_burst_snapshot_transfer_failures", send), Some(1.0), "{text}");
    // The success before it is in the same burst.
    assert_eq!(value(&text, "chronik_raft_burst_snapshot_transfer_successes", send), Some(1.0), "{text}");
    // Folded per direction as before.
    assert_eq!(value(&text, "chronik_raft_snapshot_transfers_total", "direction=send,result=failure"), Some(1.0));
}

#[test]
fn bursts_are_unhealthy_only_mode_s() {
    let r = Registry::new();
    let m = RaftMetrics::with_registry(&r).unwrap();
    healthy(&m, 0);
    m.partition("orders", 0).leader_changes_seen.add(10);
    m.record_snapshot_transfer("orders", 0, "send", false);
    for _ in 0..3 {
        let text = r.encode_to_string(Format::Prometheus);
        assert!(!text.contains("burst"), "{text}");
        assert!(text.contains("chronik_raft_leader_changes_seen_total{topic=\"orders\",partition=\"0\"} 10\n"));
    }
}

#[test]
fn concurrent_scrapes_count_every_event_once() {
    let r = Registry::new();
    let m = with_window(&r, 60_000);
    healthy(&m, 0);
    let _ = r.encode_to_string(Format::Prometheus);
    let p = m.partition("orders", 0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..200 {
                    let _ = r.encode_to_string(Format::Prometheus);
                }
            });
        }
        for _ in 0..1_000 {
            p.leader_changes_seen.inc();
        }
    });
    let text = r.encode_to_string(Format::Prometheus);
    assert_eq!(value(&text, "chronik_raft_burst_leader_changes", P0), Some(1_000.0), "{text}");
}

#[test]
fn a_node_wide_incident_shows_at_most_max_shown_partitions_the_same_ones_each_scrape() {
    let r = Registry::new();
    let health = HealthThresholds { max_shown: 10, ..HealthThresholds::default() };
    let options = RaftOptions { aggregation: Aggregation::Unhealthy, health, ..RaftOptions::default() };
    let m = RaftMetrics::with_options(&r, &options).unwrap();
    for partition in 0..50 {
        healthy(&m, partition);
        m.set_has_leader("orders", partition, false);
        m.set_follower_lag_entries("orders", partition, "n2", 50_000);
    }
    let first = r.encode_to_string(Format::Prometheus);
    let shown = partitions_of(&first, "chronik_raft_has_leader");
    assert_eq!(shown.len(), 10, "{first}");
    assert_eq!(partitions_of(&first, "chronik_raft_follower_lag_entries").len(), 10, "{first}");
    // The first ones created, every scrape.
    let expected: BTreeSet<String> = (0..10).map(|p| format!("orders/{p}")).collect();
    assert_eq!(shown, expected);
    let second = r.encode_to_string(Format::Prometheus);
    assert_eq!(partitions_of(&second, "chronik_raft_has_leader"), expected);
    // One heals: the next in line takes its place.
    m.set_has_leader("orders", 3, true);
    let third = r.encode_to_string(Format::Prometheus);
    let mut next = expected.clone();
    next.remove("orders/3");
    next.insert("orders/10".to_owned());
    assert_eq!(partitions_of(&third, "chronik_raft_has_leader"), next);
}
