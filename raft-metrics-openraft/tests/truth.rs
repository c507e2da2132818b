//! Truth tests: drive a real openraft cluster (`sim`) through faults and check each node's
//! parsed scrape against the cluster's ground truth: openraft's own state (terms, leader,
//! membership, replication progress) and what the stores hold (indexes, entries, snapshots).
//!
//! Every call is timed (`Sampling::All`), so duration histograms count exactly. The watcher
//! re-reads openraft's metrics every 100 ms, so state gauges are compared after [`fresh`].

use std::time::Duration;

use raft_metrics::advanced::parse::{self, Scrape};
use raft_metrics::{Format, Sampling};
use raft_metrics_openraft::sim::{entry_size, Cluster, ClusterConfig};

const WAIT: Duration = Duration::from_secs(10);

fn cluster() -> Cluster {
    Cluster::new(ClusterConfig { timing: Sampling::All, ..ClusterConfig::default() }).expect("cluster")
}

/// Lets the watchers publish the current state (their refresh is 100 ms).
fn fresh() {
    std::thread::sleep(Duration::from_millis(300));
}

fn scrape(c: &Cluster, node: u64) -> Scrape {
    let text = c.scrape(node).expect("node runs");
    parse::parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("node {node}: invalid exposition: {e}\n{text}"))
}

/// The value of `name` for partition 0 (plus `labels`); 0 when the series does not exist.
fn get(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut all = vec![("topic", "orders"), ("partition", "0")];
    all.extend_from_slice(labels);
    let n = s.lines().filter(|x| x.name == name && all.iter().all(|(k, v)| x.label(k) == Some(*v))).count();
    assert!(n <= 1, "{name} {all:?} matches {n} series");
    s.value(name, &all).unwrap_or(0.0)
}

fn int(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> u64 {
    let v = get(s, name, labels);
    assert!(v >= 0.0 && v.fract() == 0.0, "{name}: {v}");
    v as u64
}

/// The sum of `name` over every series with `labels` (any partition, target or method).
fn sum(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.lines().filter(|x| x.name == name && labels.iter().all(|(k, v)| x.label(k) == Some(*v))).map(|x| x.value).sum()
}

/// Ground truth of one replica from its stores and openraft.
struct Truth {
    term: u64,
    commit: u64,
    last: u64,
    applied: u64,
    entries: u64,
    /// The log's payload bytes, as `Group::with_entry_size` sizes them in the cluster.
    bytes: u64,
}

fn truth(c: &Cluster, node: u64) -> Truth {
    let m = c.raft_metrics(node, 0).expect("running");
    let log = c.log(node, 0).expect("replica");
    let d = log.data();
    let last = d.log.keys().next_back().copied().or(d.purged.map(|p| p.index)).unwrap_or(0);
    Truth {
        term: m.current_term,
        commit: d.committed.map_or(0, |c| c.index),
        last,
        applied: m.last_applied.map_or(0, |a| a.index),
        entries: d.log.len() as u64,
        bytes: d.log.values().map(entry_size).sum(),
    }
}

/// Checks every index gauge of `node` against its stores.
fn assert_indexes(c: &Cluster, node: u64) {
    let (t, s) = (truth(c, node), scrape(c, node));
    assert_eq!(int(&s, "chronik_raft_current_term", &[]), t.term, "node {node} term");
    assert_eq!(int(&s, "chronik_raft_commit_index", &[]), t.commit, "node {node} commit");
    assert_eq!(int(&s, "chronik_raft_last_index", &[]), t.last, "node {node} last index");
    assert_eq!(int(&s, "chronik_raft_last_applied", &[]), t.applied, "node {node} applied");
    // After a snapshot install openraft may save the commit index only with the next commit.
    assert_eq!(int(&s, "chronik_raft_apply_lag_entries", &[]), t.commit.saturating_sub(t.applied), "node {node}");
    assert_eq!(int(&s, "chronik_raft_log_entries", &[]), t.entries, "node {node} log entries");
    assert_eq!(int(&s, "chronik_raft_log_size_bytes", &[]), t.bytes, "node {node} log bytes");
}

fn followers(c: &Cluster, leader: u64) -> Vec<u64> {
    c.voters(0).into_iter().filter(|&n| n != leader).collect()
}

#[test]
fn election_sets_leadership_on_every_member() {
    let c = cluster();
    let leader = c.wait_leader(0, WAIT).expect("leader");
    fresh();
    let term = truth(&c, leader).term;
    for node in 1..=3 {
        let s = scrape(&c, node);
        let label = node.to_string();
        assert_eq!(get(&s, "chronik_raft_has_leader", &[]), 1.0, "node {node}");
        assert_eq!(int(&s, "chronik_raft_current_term", &[]), term, "node {node}");
        assert_eq!(int(&s, "chronik_raft_leader_changes_seen_total", &[]), 1, "node {node}: one leader, seen once");
        assert_eq!(int(&s, "chronik_raft_voters", &[]), 3);
        assert_eq!(int(&s, "chronik_raft_learners", &[]), 0);
        assert_eq!(int(&s, "chronik_raft_cluster_size", &[]), 3);
        assert_eq!(get(&s, "chronik_raft_config_change_in_progress", &[]), 0.0);
        // What openraft 0.9 cannot feed stays at its documented zero (crate docs): no pre-vote.
        assert_eq!(get(&s, "chronik_raft_pre_votes_total", &[]), 0.0);
        let state = get(&s, "chronik_raft_node_state", &[("node", &label)]);
        let is_leader = get(&s, "chronik_raft_is_leader", &[]);
        let node_label = [("node", label.as_str())];
        if node == leader {
            assert_eq!((state, is_leader), (1.0, 1.0));
            // Every candidacy is one term: the terms before this one were lost (or another's).
            let won = int(&s, "chronik_raft_elections_total", &[("result", "won")]);
            let lost = int(&s, "chronik_raft_elections_total", &[("result", "lost")]);
            assert_eq!(won, 1);
            assert!(won + lost <= term, "{won} + {lost} elections in {term} terms");
            assert_eq!(int(&s, "chronik_raft_election_duration_seconds_count", &[]), won + lost);
            assert!(get(&s, "chronik_raft_votes_received", &[]) >= 2.0, "a quorum of three");
            assert_eq!(int(&s, "chronik_raft_isr_size", &[]), 3);
            assert_eq!(s.value("chronik_raft_leader_partitions", &node_label), Some(1.0));
            assert_eq!(s.value("chronik_raft_follower_partitions", &node_label), Some(0.0));
            assert!(get(&s, "chronik_raft_last_contact_timestamp_seconds", &[]) > 0.0, "quorum acknowledged");
        } else {
            assert_eq!((state, is_leader), (3.0, 0.0));
            assert_eq!(get(&s, "chronik_raft_elections_total", &[("result", "won")]), 0.0);
            assert_eq!(s.value("chronik_raft_leader_partitions", &node_label), Some(0.0));
            assert_eq!(s.value("chronik_raft_follower_partitions", &node_label), Some(1.0));
        }
    }
}

/// `log_size_bytes` is opt-in (`Group::with_log_size`, which the cluster sets by default): off,
/// the entry count is still kept and the bytes stay at zero.
#[test]
fn log_bytes_only_when_asked() {
    let c = Cluster::new(ClusterConfig { log_size: false, ..ClusterConfig::default() }).expect("cluster");
    c.wait_leader(0, WAIT).expect("leader");
    assert_eq!(c.propose_many(0, 0, 20), 20);
    assert!(c.settle(0, WAIT));
    fresh();
    for node in 1..=3 {
        let (t, s) = (truth(&c, node), scrape(&c, node));
        assert!(t.bytes >= 20 * 16, "node {node}: {} bytes in the log", t.bytes);
        assert_eq!(int(&s, "chronik_raft_log_entries", &[]), t.entries, "node {node}");
        assert_eq!(int(&s, "chronik_raft_log_size_bytes", &[]), 0, "node {node}");
    }
}

#[test]
fn a_group_that_does_not_record_leaves_every_series_at_zero() {
    // `Group::with_recording(false)`: the same wrappers and hooks, forwarding only.
    let c = Cluster::new(ClusterConfig { recording: false, ..ClusterConfig::default() }).expect("cluster");
    let leader = c.wait_leader(0, WAIT).expect("leader");
    assert_eq!(c.propose_many(0, 0, 50), 50);
    assert!(c.settle(0, WAIT));
    let f = followers(&c, leader)[0];
    assert!(c.propose_on(f, 0, raft_metrics_openraft::sim::Put { key: 1, value: 1 }).is_err(), "refused");
    fresh();
    for node in 1..=3 {
        assert!(truth(&c, node).applied >= 50, "node {node}: openraft runs through the wrappers");
        let s = scrape(&c, node);
        let recorded: Vec<_> =
            s.lines().filter(|x| x.name.starts_with("chronik_raft_") && x.value != 0.0).map(|x| &x.name).collect();
        assert!(recorded.is_empty(), "node {node} recorded {recorded:?}");
        assert!(s.lines().any(|x| x.name == "chronik_raft_commit_index"), "node {node}: the series are bound");
    }
}

#[test]
fn proposals_commit_and_apply_exactly() {
    let c = cluster();
    let leader = c.wait_leader(0, WAIT).expect("leader");
    assert_eq!(c.propose_many(0, 0, 200), 200);
    assert!(c.settle(0, WAIT));
    fresh();
    for node in 1..=3 {
        assert_indexes(&c, node);
        let s = scrape(&c, node);
        assert_eq!(int(&s, "chronik_raft_proposals_applied_total", &[]), 200, "node {node}");
        assert_eq!(int(&s, "chronik_raft_apply_lag_entries", &[]), 0);
        let applies = int(&s, "chronik_raft_apply_duration_seconds_count", &[]);
        assert!(applies >= 1 && applies <= truth(&c, node).applied + 1, "node {node}: {applies} apply batches");
        assert!(int(&s, "chronik_raft_log_append_duration_seconds_count", &[]) >= 1);
        assert_eq!(int(&s, "chronik_raft_log_compactions_total", &[]), 0);
        assert_eq!(int(&s, "chronik_raft_log_truncations_total", &[]), 0);
    }
    let s = scrape(&c, leader);
    let t = truth(&c, leader);
    assert_eq!(int(&s, "chronik_raft_proposals_committed_total", &[]), 200);
    assert_eq!(int(&s, "chronik_raft_commit_latency_seconds_count", &[]), 200, "every proposal timed");
    assert_eq!(int(&s, "chronik_raft_proposals_pending", &[]), 0);
    assert_eq!(get(&s, "chronik_raft_proposals_failed_total", &[("reason", "dropped")]), 0.0);
    // The leader observes each commit advance once; together they cover at most the whole log.
    let batches = int(&s, "chronik_raft_commit_batch_entries_count", &[]);
    let entries = int(&s, "chronik_raft_commit_batch_entries_sum", &[]);
    assert!(batches >= 1 && batches <= entries && entries >= 200 && entries <= t.commit + 1, "{batches} {entries}");
    assert_eq!(int(&s, "chronik_raft_max_follower_lag_entries", &[]), 0);
    assert_eq!(int(&s, "chronik_raft_isr_size", &[]), 3);
    let mut unreachable = 0.0;
    for f in followers(&c, leader) {
        let peer = f.to_string();
        let p = [("peer", peer.as_str())];
        assert_eq!(int(&s, "chronik_raft_follower_lag_entries", &p), 0);
        assert_eq!(get(&s, "chronik_raft_follower_lag_seconds", &p), 0.0);
        // 16 payload bytes per put, each sent at least once to every follower.
        let bytes = int(&s, "chronik_raft_append_entries_sent_bytes_total", &p);
        assert!(bytes >= 200 * 16 && bytes % 16 == 0, "{bytes} bytes to {f}");
        let sent = int(&s, "chronik_raft_heartbeats_sent_total", &p);
        let target = [("method", "append_entries"), ("target", peer.as_str())];
        let ok = sum(&s, "chronik_raft_rpc_calls_total", &[target[0], target[1], ("result", "success")]);
        assert_eq!(ok as u64, sent, "every AppendEntries to {f} answered");
        assert_eq!(int(&s, "chronik_raft_heartbeat_failures_total", &p), 0);
        assert_eq!(int(&s, "chronik_raft_peer_round_trip_seconds_count", &p), sent);
        assert!(get(&s, "chronik_raft_last_heartbeat_timestamp_seconds", &p) > 0.0);
        // The follower counts what it received from the leader: the same requests, give or take
        // one in flight.
        let fs = scrape(&c, f);
        let from = leader.to_string();
        let received = int(&fs, "chronik_raft_append_entries_received_total", &[("peer", from.as_str())]);
        assert!(received.abs_diff(sent) <= 1, "{received} received by {f}, {sent} sent");
        assert!(get(&fs, "chronik_raft_last_contact_timestamp_seconds", &[]) > 0.0);
        assert_eq!(get(&fs, "chronik_raft_commit_latency_seconds_count", &[]), 0.0, "followers time no proposal");
        unreachable += sum(&s, "chronik_raft_rpc_errors_total", &[("target", peer.as_str())]);
    }
    assert_eq!(unreachable, 0.0);
    // A write through a follower is refused and counted there.
    let f = followers(&c, leader)[0];
    assert!(c.propose_on(f, 0, raft_metrics_openraft::sim::Put { key: 1, value: 1 }).is_err());
    assert_eq!(get(&scrape(&c, f), "chronik_raft_proposals_failed_total", &[("reason", "not_leader")]), 1.0);
}

#[test]
fn isolated_follower_lags_and_campaigns_then_rejoins() {
    let mut c = cluster();
    let leader = c.wait_leader(0, WAIT).expect("leader");
    assert_eq!(c.propose_many(0, 0, 20), 20);
    assert!(c.settle(0, WAIT));
    let f = followers(&c, leader)[0];
    let term_before = truth(&c, f).term;
    c.isolate(f, true);
    assert_eq!(c.propose_many(0, 100, 50), 50);
    std::thread::sleep(Duration::from_millis(600)); // > the 200 ms silence bound, several campaigns
    let s = scrape(&c, leader);
    let peer = f.to_string();
    let p = [("peer", peer.as_str())];
    // Lag from openraft's replication progress, exactly.
    let m = c.raft_metrics(leader, 0).expect("leader runs");
    let matched = m.replication.as_ref().and_then(|r| r.get(&f).cloned().flatten()).map_or(0, |l| l.index);
    let lag = m.last_log_index.unwrap_or(0) - matched;
    assert!(lag >= 50);
    assert_eq!(int(&s, "chronik_raft_follower_lag_entries", &p), lag);
    assert_eq!(int(&s, "chronik_raft_max_follower_lag_entries", &[]), lag);
    assert_eq!(int(&s, "chronik_raft_isr_size", &[]), 2);
    assert!(get(&s, "chronik_raft_follower_lag_seconds", &p) >= 0.4);
    let failures = int(&s, "chronik_raft_heartbeat_failures_total", &p);
    assert!(failures >= 1);
    let failed = [("method", "append_entries"), ("target", peer.as_str()), ("result", "failure")];
    assert_eq!(sum(&s, "chronik_raft_rpc_calls_total", &failed) as u64, failures);
    // Unreachable peers: each failure is a dropped message, classified as such.
    let dropped = int(&s, "chronik_raft_messages_dropped_total", &[]);
    assert_eq!(dropped as f64, sum(&s, "chronik_raft_rpc_errors_total", &[("error_type", "unreachable")]));
    assert!(dropped >= failures);

    // The isolated follower campaigns, one term per candidacy: all but the open one are lost.
    // Compared once its elections are switched off and the last candidacy is saved: openraft
    // shows a new term in its metrics just before it saves the vote.
    let campaigned = c.wait_for(WAIT, |c| truth(c, f).term >= term_before + 2);
    assert!(campaigned, "fewer than two campaigns");
    c.set_elect(f, 0, false);
    std::thread::sleep(Duration::from_millis(400));
    let fs = scrape(&c, f);
    let campaigns = truth(&c, f).term - term_before;
    assert_eq!(int(&fs, "chronik_raft_elections_total", &[("result", "lost")]), campaigns - 1);
    assert_eq!(int(&fs, "chronik_raft_election_duration_seconds_count", &[]), campaigns - 1);
    assert_eq!(int(&fs, "chronik_raft_votes_received", &[]), 1, "only its own vote");
    assert_eq!(get(&fs, "chronik_raft_is_leader", &[]), 0.0);

    // Rejoin: the cluster settles at a higher term, and every member agrees again.
    c.set_elect(f, 0, true);
    c.isolate(f, false);
    let new_leader = c.wait_leader(0, WAIT).expect("leader after rejoin");
    assert_eq!(c.propose_many(0, 200, 10), 10);
    assert!(c.settle(0, WAIT));
    fresh();
    for node in 1..=3 {
        assert_indexes(&c, node);
        let s = scrape(&c, node);
        assert_eq!(get(&s, "chronik_raft_is_leader", &[]), f64::from(u8::from(node == new_leader)));
        assert_eq!(get(&s, "chronik_raft_has_leader", &[]), 1.0);
    }
    let s = scrape(&c, new_leader);
    assert_eq!(int(&s, "chronik_raft_isr_size", &[]), 3);
    assert_eq!(int(&s, "chronik_raft_max_follower_lag_entries", &[]), 0);
}

#[test]
fn crashed_leader_is_replaced_and_restarts_fresh() {
    let mut c = cluster();
    let old = c.wait_leader(0, WAIT).expect("leader");
    assert_eq!(c.propose_many(0, 0, 20), 20);
    assert!(c.settle(0, WAIT));
    fresh();
    let survivors = followers(&c, old);
    let seen: Vec<u64> =
        survivors.iter().map(|&n| int(&scrape(&c, n), "chronik_raft_leader_changes_seen_total", &[])).collect();
    c.crash(old);
    assert!(c.scrape(old).is_none(), "a crashed node exports nothing");
    let new = c.wait_leader(0, WAIT).expect("a new leader");
    assert_ne!(new, old);
    assert_eq!(c.propose_many(0, 100, 20), 20);
    assert!(c.settle(0, WAIT));
    fresh();
    for (&n, &before) in survivors.iter().zip(&seen) {
        assert_indexes(&c, n);
        let s = scrape(&c, n);
        assert_eq!(int(&s, "chronik_raft_leader_changes_seen_total", &[]), before + 1, "node {n}");
        assert_eq!(get(&s, "chronik_raft_is_leader", &[]), f64::from(u8::from(n == new)));
    }
    let s = scrape(&c, new);
    assert_eq!(int(&s, "chronik_raft_elections_total", &[("result", "won")]), 1);
    assert_eq!(int(&s, "chronik_raft_isr_size", &[]), 2, "the crashed node is silent");
    assert_eq!(int(&s, "chronik_raft_proposals_committed_total", &[]), 20, "proposed on this leader");
    let dead = old.to_string();
    assert!(int(&s, "chronik_raft_follower_lag_entries", &[("peer", dead.as_str())]) >= 20);

    // Restarted: a fresh registry that catches up from the stores and the new leader.
    c.restart(old).expect("restart");
    assert!(c.settle(0, WAIT));
    fresh();
    assert_indexes(&c, old);
    let s = scrape(&c, old);
    assert_eq!(get(&s, "chronik_raft_is_leader", &[]), 0.0);
    assert_eq!(get(&s, "chronik_raft_has_leader", &[]), 1.0);
    assert!(int(&s, "chronik_raft_leader_changes_seen_total", &[]) >= 1);
    assert_eq!(int(&s, "chronik_raft_proposals_committed_total", &[]), 0, "counters restart at zero");
    assert_eq!(int(&scrape(&c, new), "chronik_raft_isr_size", &[]), 3);
}

#[test]
fn snapshot_catches_up_a_follower_and_failed_transfers_count() {
    let mut c = cluster();
    let leader = c.wait_leader(0, WAIT).expect("leader");
    let f = followers(&c, leader)[0];
    // The isolated follower must not campaign: back with a higher term it would force an
    // election, and a new leader with the whole log would catch it up without a snapshot.
    c.set_elect(f, 0, false);
    c.isolate(f, true);
    assert_eq!(c.propose_many(0, 0, 30), 30);
    let index = c.snapshot(leader, 0).expect("snapshot");
    c.isolate(f, false);
    let caught_up = c.wait_for(WAIT, |c| truth(c, f).applied >= index);
    assert!(caught_up, "follower did not install the snapshot");
    assert!(c.settle(0, WAIT));
    fresh();
    let s = scrape(&c, leader);
    let bytes = c.state_machine(leader, 0).expect("sm").data().snapshot.as_ref().map_or(0, |(_, b)| b.len());
    assert_eq!(get(&s, "chronik_raft_snapshot_creations_total", &[("trigger", "size")]), 1.0);
    assert_eq!(int(&s, "chronik_raft_snapshot_create_duration_seconds_count", &[]), 1);
    assert_eq!(int(&s, "chronik_raft_snapshot_size_bytes_count", &[]), 1);
    assert_eq!(get(&s, "chronik_raft_snapshot_size_bytes_sum", &[]), bytes as f64);
    assert_eq!(bytes, 30 * 16, "thirty keys of 16 bytes");
    assert_eq!(int(&s, "chronik_raft_snapshot_last_index", &[]), index);
    assert!(get(&s, "chronik_raft_snapshot_last_timestamp_seconds", &[]) > 0.0);
    assert_eq!(int(&s, "chronik_raft_log_compactions_total", &[]), 1);
    assert_eq!(get(&s, "chronik_raft_snapshot_in_progress", &[]), 0.0);
    let sent = [("direction", "send"), ("result", "success")];
    // openraft may send the same snapshot again before it sees the follower's new progress (the
    // follower then keeps the one it installed): every send is one transfer call to that peer.
    let sends = get(&s, "chronik_raft_snapshot_transfers_total", &sent);
    assert!(sends >= 1.0);
    let peer = f.to_string();
    let rpc = [("method", "install_snapshot"), ("target", peer.as_str()), ("result", "success")];
    assert_eq!(sum(&s, "chronik_raft_rpc_calls_total", &rpc), sends);
    assert_eq!(sum(&s, "chronik_raft_rpc_calls_total", &[("method", "install_snapshot")]), sends, "only to {f}");
    let fs = scrape(&c, f);
    let received = [("direction", "receive"), ("result", "success")];
    assert_eq!(get(&fs, "chronik_raft_snapshot_transfers_total", &received), 1.0);
    assert_eq!(int(&fs, "chronik_raft_snapshot_apply_duration_seconds_count", &[]), 1);
    assert_eq!(int(&fs, "chronik_raft_snapshot_last_index", &[]), index);
    for node in 1..=3 {
        assert_indexes(&c, node);
    }

    // Again, with every snapshot chunk to the follower failing: the leader counts failed sends.
    c.isolate(f, true);
    assert_eq!(c.propose_many(0, 100, 10), 10);
    c.snapshot(leader, 0).expect("second snapshot");
    c.fail_snapshots_to(f, true);
    c.isolate(f, false);
    let failed = [("direction", "send"), ("result", "failure")];
    let counted =
        c.wait_for(WAIT, |c| get(&scrape(c, leader), "chronik_raft_snapshot_transfers_total", &failed) >= 1.0);
    assert!(counted, "no failed snapshot send counted");
    let s = scrape(&c, leader);
    let errors = sum(&s, "chronik_raft_rpc_errors_total", &[("method", "install_snapshot"), ("target", peer.as_str())]);
    assert_eq!(errors, get(&s, "chronik_raft_snapshot_transfers_total", &failed));
    c.fail_snapshots_to(f, false);
    assert!(c.settle(0, WAIT));
    fresh();
    // Whether the follower catches up from a second snapshot or from the log depends on how
    // far openraft had purged; the metrics must say which, as the follower's store does.
    let fs = scrape(&c, f);
    let installed = c.state_machine(f, 0).expect("sm").data().snapshot.as_ref().and_then(|(m, _)| m.last_log_id);
    assert_eq!(int(&fs, "chronik_raft_snapshot_last_index", &[]), installed.map_or(0, |l| l.index));
    let receives = get(&fs, "chronik_raft_snapshot_transfers_total", &received);
    assert_eq!(receives, if installed.is_some_and(|l| l.index > index) { 2.0 } else { 1.0 });
    assert_eq!(int(&fs, "chronik_raft_snapshot_apply_duration_seconds_count", &[]) as f64, receives);
    assert_indexes(&c, f);
}

#[test]
fn membership_change_is_counted_on_every_member() {
    let mut c = cluster();
    c.wait_leader(0, WAIT).expect("leader");
    c.add_node(4).expect("node 4");
    c.add_learner(0, 4).expect("learner");
    assert!(c.settle(0, WAIT));
    fresh();
    for node in 1..=4 {
        let s = scrape(&c, node);
        assert_eq!(int(&s, "chronik_raft_learners", &[]), 1, "node {node}");
        assert_eq!(int(&s, "chronik_raft_cluster_size", &[]), 4);
        assert_eq!(get(&s, "chronik_raft_config_changes_total", &[("kind", "add_learner")]), 1.0, "node {node}");
    }
    c.change_membership(0, &[1, 2, 3, 4], false).expect("promote");
    assert!(c.settle(0, WAIT));
    fresh();
    for node in 1..=4 {
        assert_indexes(&c, node);
        let s = scrape(&c, node);
        assert_eq!(int(&s, "chronik_raft_voters", &[]), 4, "node {node}");
        assert_eq!(int(&s, "chronik_raft_learners", &[]), 0);
        assert_eq!(get(&s, "chronik_raft_config_changes_total", &[("kind", "enter_joint")]), 1.0);
        assert_eq!(get(&s, "chronik_raft_config_changes_total", &[("kind", "leave_joint")]), 1.0);
        assert_eq!(get(&s, "chronik_raft_config_change_in_progress", &[]), 0.0);
    }
    let leader = c.leader(0).expect("leader");
    assert_eq!(int(&scrape(&c, leader), "chronik_raft_isr_size", &[]), 4);
}
