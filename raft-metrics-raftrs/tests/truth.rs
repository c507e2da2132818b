//! Truth tests: drive real raft-rs groups through the deterministic cluster and check that each
//! node's parsed scrape says what actually happened.

use std::collections::BTreeMap;

use raft::eraftpb::MessageType;
use raft_metrics::advanced::parse::{self, Scrape};
use raft_metrics::{Format, Sampling};
use raft_metrics_raftrs::sim::{proposal, Cluster, ClusterConfig, Event, HostStatus};

/// Every turn timed (`Sampling::All`), so duration histograms count exactly.
fn cluster(partitions: u32) -> Cluster {
    Cluster::new(ClusterConfig {
        partitions,
        timing: Sampling::All,
        rpc_timing: Sampling::All,
        ..ClusterConfig::default()
    })
    .expect("cluster")
}

/// Runs until every partition has a leader known to all its running members, then one more tick:
/// the leader refreshes follower lag and ISR from raft-rs's progress once per tick.
fn elect(c: &mut Cluster) {
    let partitions = c.config().partitions;
    let settled = c.run_until(300, |c| {
        (0..partitions).all(|p| {
            c.leader(p).is_some_and(|leader| {
                c.members(p)
                    .iter()
                    .filter(|&&n| c.status(n) == Some(HostStatus::Up))
                    .all(|&n| c.replica_node(n, p).is_some_and(|r| r.raw().raft.leader_id == leader))
            })
        })
    });
    assert!(settled, "no stable leaders after 300 ticks");
    c.tick();
}

/// Node `node`'s scrape, parsed strictly.
fn scrape(c: &Cluster, node: u64) -> Scrape {
    let text = c.scrape(node).expect("node exists");
    parse::parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("node {node}: invalid exposition: {e}\n{text}"))
}

/// The value of `name` for partition `p` (plus `labels`); 0 when the series does not exist.
fn get(s: &Scrape, name: &str, p: u32, labels: &[(&str, &str)]) -> f64 {
    let partition = p.to_string();
    let mut all = vec![("topic", "orders"), ("partition", partition.as_str())];
    all.extend_from_slice(labels);
    let n = s.lines().filter(|x| x.name == name && all.iter().all(|(k, v)| x.label(k) == Some(*v))).count();
    assert!(n <= 1, "{name} {all:?} matches {n} series");
    s.value(name, &all).unwrap_or(0.0)
}

fn term(c: &Cluster, node: u64, p: u32) -> u64 {
    c.replica_node(node, p).expect("replica").raw().raft.term
}

fn followers(c: &Cluster, p: u32) -> Vec<u64> {
    let leader = c.leader(p).expect("leader");
    c.members(p).into_iter().filter(|&n| n != leader).collect()
}

/// Proposes `n` entries to partition `p`, one tick every `per_tick`, settles and ticks once more
/// (so the leader's per-tick lag and ISR see the last acknowledgements); returns how many the
/// leader accepted.
fn propose(c: &mut Cluster, p: u32, n: u64, per_tick: u64) -> u64 {
    let mut accepted = 0;
    for i in 0..n {
        let key = u16::try_from(i % 64).unwrap_or(0);
        if c.propose(p, proposal(key, b"value")).is_ok() {
            accepted += 1;
        }
        if (i + 1) % per_tick == 0 {
            c.tick();
        }
    }
    c.settle();
    c.tick();
    accepted
}

#[test]
fn election_sets_leadership_on_every_member() {
    let mut c = cluster(3);
    elect(&mut c);
    for p in 0..3 {
        let leader = c.leader(p).expect("leader");
        // Timeouts are staggered so that node 1 + (3 - p) % 3 always wins partition p.
        assert_eq!(leader, 1 + (3 - u64::from(p)) % 3);
        let mut leaders = 0;
        for node in 1..=3 {
            let s = scrape(&c, node);
            let label = node.to_string();
            assert_eq!(get(&s, "chronik_raft_has_leader", p, &[]), 1.0, "node {node} p{p}");
            assert_eq!(get(&s, "chronik_raft_current_term", p, &[]) as u64, term(&c, leader, p));
            assert!(get(&s, "chronik_raft_leader_changes_seen_total", p, &[]) >= 1.0, "node {node} p{p}");
            let state = get(&s, "chronik_raft_node_state", p, &[("node", &label)]);
            let is_leader = get(&s, "chronik_raft_is_leader", p, &[]);
            if node == leader {
                leaders += 1;
                assert_eq!((state, is_leader), (1.0, 1.0));
                assert_eq!(get(&s, "chronik_raft_elections_total", p, &[("result", "won")]), 1.0);
                assert_eq!(get(&s, "chronik_raft_elections_total", p, &[("result", "lost")]), 0.0);
                assert_eq!(get(&s, "chronik_raft_election_duration_seconds_count", p, &[]), 1.0);
                assert_eq!(get(&s, "chronik_raft_pre_votes_total", p, &[]), 1.0);
                // Itself plus at least one granted vote: a quorum of three.
                assert!(get(&s, "chronik_raft_votes_received", p, &[]) >= 2.0);
                assert_eq!(get(&s, "chronik_raft_isr_size", p, &[]), 3.0);
            } else {
                assert_eq!((state, is_leader), (3.0, 0.0));
                assert_eq!(get(&s, "chronik_raft_elections_total", p, &[("result", "won")]), 0.0);
            }
        }
        assert_eq!(leaders, 1, "partition {p}");
    }
    // Node-wide: each node leads one partition and follows two.
    for node in 1..=3 {
        let s = scrape(&c, node);
        let label = node.to_string();
        assert_eq!(s.value("chronik_raft_leader_partitions", &[("node", &label)]), Some(1.0));
        assert_eq!(s.value("chronik_raft_follower_partitions", &[("node", &label)]), Some(2.0));
    }
}

#[test]
fn steady_proposals_commit_apply_and_time_every_proposal() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let proposed = propose(&mut c, 0, 200, 4);
    assert_eq!(proposed, 200);
    c.run(5);

    let committed = c.replica_node(leader, 0).expect("leader").raw().raft.raft_log.committed;
    for node in 1..=3 {
        let s = scrape(&c, node);
        assert_eq!(get(&s, "chronik_raft_commit_index", 0, &[]) as u64, committed, "node {node}");
        assert_eq!(get(&s, "chronik_raft_last_index", 0, &[]) as u64, committed, "node {node}");
        assert_eq!(get(&s, "chronik_raft_last_applied", 0, &[]) as u64, committed, "node {node}");
        assert_eq!(get(&s, "chronik_raft_apply_lag_entries", 0, &[]), 0.0);
        assert_eq!(get(&s, "chronik_raft_proposals_applied_total", 0, &[]) as u64, proposed, "node {node}");
        assert!(get(&s, "chronik_raft_apply_duration_seconds_count", 0, &[]) >= 1.0);
        assert!(get(&s, "chronik_raft_log_append_duration_seconds_count", 0, &[]) >= 1.0);
        // Nothing compacted: the log holds every entry after the bootstrap snapshot (index 1).
        assert_eq!(get(&s, "chronik_raft_log_entries", 0, &[]) as u64, committed - 1);
        assert!(get(&s, "chronik_raft_log_size_bytes", 0, &[]) > committed as f64);
        assert_eq!(c.state_machine(node, 0), c.state_machine(leader, 0));
    }

    let s = scrape(&c, leader);
    assert_eq!(get(&s, "chronik_raft_commit_latency_seconds_count", 0, &[]) as u64, proposed);
    assert_eq!(get(&s, "chronik_raft_proposals_committed_total", 0, &[]) as u64, proposed);
    assert_eq!(get(&s, "chronik_raft_proposals_pending", 0, &[]), 0.0);
    assert_eq!(get(&s, "chronik_raft_proposals_failed_total", 0, &[("reason", "dropped")]), 0.0);
    // Every committed batch is observed once; together they hold every entry.
    let batches = get(&s, "chronik_raft_commit_batch_entries_count", 0, &[]);
    let entries = get(&s, "chronik_raft_commit_batch_entries_sum", 0, &[]);
    assert!(batches >= 1.0 && batches <= entries);
    assert_eq!(entries as u64, committed - 1);
    for f in followers(&c, 0) {
        let peer = f.to_string();
        assert!(get(&s, "chronik_raft_append_entries_sent_total", 0, &[("peer", &peer)]) >= 1.0);
        // Payload bytes: every 7-byte proposal reached every follower at least once.
        assert!(get(&s, "chronik_raft_append_entries_sent_bytes_total", 0, &[("peer", &peer)]) >= 200.0 * 7.0);
        assert_eq!(get(&s, "chronik_raft_follower_lag_entries", 0, &[("peer", &peer)]), 0.0);
        assert_eq!(get(&s, "chronik_raft_follower_lag_seconds", 0, &[("peer", &peer)]), 0.0);
        assert!(get(&s, "chronik_raft_heartbeats_sent_total", 0, &[("peer", &peer)]) >= 1.0);
        assert!(get(&s, "chronik_raft_peer_round_trip_seconds_count", 0, &[("peer", &peer)]) >= 1.0);
        let fs = scrape(&c, f);
        let from = leader.to_string();
        assert!(get(&fs, "chronik_raft_append_entries_received_total", 0, &[("peer", &from)]) >= 1.0);
        assert_eq!(get(&fs, "chronik_raft_commit_latency_seconds_count", 0, &[]), 0.0, "followers time nothing");
    }
    // A follower forwards proposals: the leader finds them among the entries it appends and
    // tracks them as its own.
    let f = followers(&c, 0)[0];
    c.propose_on(f, 0, proposal(1, b"forwarded")).expect("forwarded");
    c.settle();
    c.tick();
    let s = scrape(&c, leader);
    assert_eq!(get(&s, "chronik_raft_commit_latency_seconds_count", 0, &[]) as u64, proposed + 1);
    assert_eq!(get(&s, "chronik_raft_proposals_committed_total", 0, &[]) as u64, proposed + 1);
    assert_eq!(get(&s, "chronik_raft_proposals_pending", 0, &[]), 0.0);
    assert_eq!(get(&scrape(&c, f), "chronik_raft_commit_latency_seconds_count", 0, &[]), 0.0);
}

#[test]
fn paused_follower_lags_then_catches_up() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let [paused, other] = followers(&c, 0)[..] else { panic!("two followers") };
    propose(&mut c, 0, 20, 4);
    let peer = paused.to_string();
    let before = scrape(&c, leader);
    assert_eq!(get(&before, "chronik_raft_isr_size", 0, &[]), 3.0);
    assert_eq!(get(&before, "chronik_raft_follower_lag_entries", 0, &[("peer", &peer)]), 0.0);
    let contact_before = get(&scrape(&c, paused), "chronik_raft_last_contact_timestamp_seconds", 0, &[]);
    assert!(contact_before > 0.0);

    c.pause(paused);
    let paused_at = std::time::Instant::now();
    let heartbeat_at_pause =
        get(&scrape(&c, leader), "chronik_raft_last_heartbeat_timestamp_seconds", 0, &[("peer", &peer)]);
    let during = propose(&mut c, 0, 60, 2);
    let mid = scrape(&c, leader);
    assert_eq!(get(&mid, "chronik_raft_follower_lag_entries", 0, &[("peer", &peer)]) as u64, during);
    assert_eq!(get(&mid, "chronik_raft_max_follower_lag_entries", 0, &[]) as u64, during);
    assert_eq!(get(&mid, "chronik_raft_follower_lag_entries", 0, &[("peer", &other.to_string())]), 0.0);
    assert_eq!(get(&mid, "chronik_raft_isr_size", 0, &[]), 2.0, "silent for 30 ticks > 10");
    // The age of the oldest entry it lacks: appended after the pause began.
    let lag_seconds = get(&mid, "chronik_raft_follower_lag_seconds", 0, &[("peer", &peer)]);
    assert!(lag_seconds > 0.0 && lag_seconds <= paused_at.elapsed().as_secs_f64());
    assert_eq!(
        get(&mid, "chronik_raft_last_index", 0, &[]) - get(&scrape(&c, paused), "chronik_raft_last_index", 0, &[]),
        during as f64
    );
    // The paused follower's last heartbeat response stays put while the other's advances.
    assert_eq!(get(&mid, "chronik_raft_last_heartbeat_timestamp_seconds", 0, &[("peer", &peer)]), heartbeat_at_pause);
    assert!(
        get(&mid, "chronik_raft_last_heartbeat_timestamp_seconds", 0, &[("peer", &other.to_string())])
            > heartbeat_at_pause
    );
    assert!(get(&mid, "chronik_raft_heartbeat_failures_total", 0, &[("peer", &peer)]) >= 1.0);
    assert!(get(&mid, "chronik_raft_messages_dropped_total", 0, &[]) >= 1.0);
    // Its own view froze: its last contact with the leader ages.
    assert_eq!(get(&scrape(&c, paused), "chronik_raft_last_contact_timestamp_seconds", 0, &[]), contact_before);
    c.run(3);
    let later = get(&scrape(&c, leader), "chronik_raft_follower_lag_seconds", 0, &[("peer", &peer)]);
    assert!(later > lag_seconds, "lag time grows while paused: {later} <= {lag_seconds}");

    c.resume(paused);
    c.run(20);
    let after = scrape(&c, leader);
    assert_eq!(get(&after, "chronik_raft_follower_lag_entries", 0, &[("peer", &peer)]), 0.0);
    assert_eq!(get(&after, "chronik_raft_follower_lag_seconds", 0, &[("peer", &peer)]), 0.0);
    assert_eq!(get(&after, "chronik_raft_max_follower_lag_entries", 0, &[]), 0.0);
    assert_eq!(get(&after, "chronik_raft_isr_size", 0, &[]), 3.0);
    assert!(get(&scrape(&c, paused), "chronik_raft_last_contact_timestamp_seconds", 0, &[]) > contact_before);
    assert_eq!(c.state_machine(paused, 0), c.state_machine(leader, 0));
}

#[test]
fn compaction_sends_a_snapshot_to_a_lagging_follower() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let lagging = followers(&c, 0)[0];
    propose(&mut c, 0, 10, 2);
    c.pause(lagging);
    propose(&mut c, 0, 40, 2);
    let first = c.compact(leader, 0, 0).expect("compact");
    let behind = c.replica_node(lagging, 0).expect("replica").raw().raft.raft_log.last_index();
    assert!(first > behind + 1, "the log the follower needs is gone: first {first}, follower at {behind}");
    let s = scrape(&c, leader);
    assert_eq!(get(&s, "chronik_raft_log_compactions_total", 0, &[]), 1.0);
    let last = c.replica_node(leader, 0).expect("leader").raw().raft.raft_log.last_index();
    assert_eq!(get(&s, "chronik_raft_log_entries", 0, &[]) as u64, last - first + 1);
    assert_eq!(get(&s, "chronik_raft_snapshot_creations_total", 0, &[("trigger", "follower_catch_up")]), 0.0);

    c.resume(lagging);
    c.run(20);
    let s = scrape(&c, leader);
    assert!(get(&s, "chronik_raft_snapshot_creations_total", 0, &[("trigger", "follower_catch_up")]) >= 1.0);
    assert!(get(&s, "chronik_raft_snapshot_size_bytes_count", 0, &[]) >= 1.0);
    assert!(get(&s, "chronik_raft_snapshot_size_bytes_sum", 0, &[]) > 64.0, "the state machine rides along");
    assert!(get(&s, "chronik_raft_snapshot_create_duration_seconds_count", 0, &[]) >= 1.0);
    assert!(get(&s, "chronik_raft_snapshot_last_index", 0, &[]) as u64 >= first);
    assert!(
        get(&s, "chronik_raft_snapshot_transfers_total", 0, &[("direction", "send"), ("result", "success")]) >= 1.0
    );
    assert_eq!(get(&s, "chronik_raft_snapshot_in_progress", 0, &[]), 0.0);

    let f = scrape(&c, lagging);
    assert_eq!(
        get(&f, "chronik_raft_snapshot_transfers_total", 0, &[("direction", "receive"), ("result", "success")]),
        1.0
    );
    assert_eq!(get(&f, "chronik_raft_snapshot_apply_duration_seconds_count", 0, &[]), 1.0);
    assert!(get(&f, "chronik_raft_snapshot_last_index", 0, &[]) as u64 >= first);
    assert!(get(&f, "chronik_raft_snapshot_last_timestamp_seconds", 0, &[]) > 0.0);
    assert_eq!(get(&f, "chronik_raft_snapshot_in_progress", 0, &[]), 0.0);
    assert_eq!(get(&f, "chronik_raft_commit_index", 0, &[]), get(&s, "chronik_raft_commit_index", 0, &[]));
    assert_eq!(c.state_machine(lagging, 0), c.state_machine(leader, 0), "restored from the snapshot's payload");
}

#[test]
fn adding_then_removing_a_node_changes_the_configuration() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let new = c.next_node_id();
    assert_eq!(new, 4);
    // Keep the change from committing for a moment to see it in progress.
    for f in followers(&c, 0) {
        c.cut(leader, f);
    }
    c.add_node(0, new).expect("propose add");
    c.settle();
    // The next tick publishes the state gauges.
    c.tick();
    let s = scrape(&c, leader);
    assert_eq!(get(&s, "chronik_raft_config_change_in_progress", 0, &[]), 1.0);
    assert_eq!(get(&s, "chronik_raft_cluster_size", 0, &[]), 3.0);
    c.heal_all();
    c.run(20);
    for node in [1, 2, 3, new] {
        let s = scrape(&c, node);
        assert_eq!(get(&s, "chronik_raft_cluster_size", 0, &[]), 4.0, "node {node}");
        assert_eq!(get(&s, "chronik_raft_voters", 0, &[]), 4.0);
        assert_eq!(get(&s, "chronik_raft_learners", 0, &[]), 0.0);
        assert_eq!(get(&s, "chronik_raft_config_change_in_progress", 0, &[]), 0.0);
        // The new node learned the configuration from a snapshot, not by applying the change.
        let (applied, snapshots) = if node == new { (0.0, 1.0) } else { (1.0, 0.0) };
        assert_eq!(get(&s, "chronik_raft_config_changes_total", 0, &[("kind", "add_voter")]), applied, "node {node}");
        let received = [("direction", "receive"), ("result", "success")];
        assert_eq!(get(&s, "chronik_raft_snapshot_transfers_total", 0, &received), snapshots, "node {node}");
    }
    let s = scrape(&c, leader);
    assert_eq!(get(&s, "chronik_raft_isr_size", 0, &[]), 4.0);
    assert_eq!(get(&s, "chronik_raft_follower_lag_entries", 0, &[("peer", "4")]), 0.0);
    // A second change while one is pending is turned into an empty entry by raft-rs.
    c.cut(leader, 2);
    c.cut(leader, 3);
    c.remove_node(0, new).expect("propose remove");
    c.remove_node(0, new).expect("raft-rs accepts, then ignores");
    c.settle();
    assert_eq!(get(&scrape(&c, leader), "chronik_raft_proposals_failed_total", 0, &[("reason", "dropped")]), 1.0);
    c.heal_all();
    c.run(20);

    for node in 1..=3 {
        let s = scrape(&c, node);
        assert_eq!(get(&s, "chronik_raft_cluster_size", 0, &[]), 3.0, "node {node}");
        assert_eq!(get(&s, "chronik_raft_config_changes_total", 0, &[("kind", "add_voter")]), 1.0);
        assert_eq!(get(&s, "chronik_raft_config_changes_total", 0, &[("kind", "remove_node")]), 1.0);
        assert!(s.lines().all(|x| x.label("peer") != Some("4")), "node {node} still exports peer 4");
    }
    assert_eq!(c.status(new), None, "the node that left everything ended");
    assert_eq!(c.members(0), [1, 2, 3]);
}

#[test]
fn rejections_are_counted_exactly_when_raft_rs_produces_them() {
    let mut c = cluster(1);
    c.trace();
    elect(&mut c);
    let old = c.leader(0).expect("leader");
    propose(&mut c, 0, 10, 2);
    // The old leader's messages are held (delivered late) and nothing reaches it.
    for f in followers(&c, 0) {
        c.cut(old, f);
        c.delay(old, f);
    }
    for i in 0..3 {
        c.propose_on(old, 0, proposal(i, b"lost")).expect("appended on the old leader only");
    }
    assert!(c.run_until(100, |c| c.leader(0).is_some_and(|l| l != old)), "a new leader");
    let new = c.leader(0).expect("new leader");
    assert!(term(&c, new, 0) > term(&c, old, 0));
    propose(&mut c, 0, 6, 2);
    c.heal_all();
    c.run(30);
    assert_eq!(c.leader(0), Some(new));
    assert_eq!(c.state_machine(old, 0), c.state_machine(new, 0));
    // The old leader's three uncommitted entries were overwritten: a truncation, yet no
    // rejection, since the unreachable reports sent the new leader's probe back to the start.
    assert_eq!(get(&scrape(&c, old), "chronik_raft_log_truncations_total", 0, &[]), 1.0);

    // A follower that missed entries rejects the first append of a new leader whose log is
    // longer than its own.
    let [lagging, next] = followers(&c, 0)[..] else { panic!("two followers") };
    c.pause(lagging);
    propose(&mut c, 0, 10, 2);
    c.crash(new);
    c.resume(lagging);
    assert!(c.run_until(100, |c| c.leader(0) == Some(next)), "the up-to-date follower wins");
    c.run(10);

    // Count independently, from the messages raft-rs actually sent and received.
    let mut stale: BTreeMap<u64, f64> = BTreeMap::new();
    let mut inconsistent: BTreeMap<u64, f64> = BTreeMap::new();
    for event in c.take_trace() {
        match event {
            Event::Delivered { msg, receiver_term, .. }
                if matches!(msg.get_msg_type(), MessageType::MsgAppend | MessageType::MsgHeartbeat)
                    && msg.term != 0
                    && msg.term < receiver_term =>
            {
                *stale.entry(msg.to).or_default() += 1.0;
            }
            Event::Sent { msg, .. } if msg.get_msg_type() == MessageType::MsgAppendResponse && msg.reject => {
                *inconsistent.entry(msg.from).or_default() += 1.0;
            }
            _ => {}
        }
    }
    assert!(stale.values().sum::<f64>() >= 1.0, "the held messages arrived stale");
    assert!(inconsistent.get(&lagging).copied().unwrap_or(0.0) >= 1.0, "the lagging follower rejected");
    for node in 1..=3 {
        let s = scrape(&c, node);
        let reason = |r| get(&s, "chronik_raft_append_entries_rejected_total", 0, &[("reason", r)]);
        assert_eq!(reason("stale_term"), stale.get(&node).copied().unwrap_or(0.0), "node {node}");
        assert_eq!(reason("log_inconsistency"), inconsistent.get(&node).copied().unwrap_or(0.0), "node {node}");
        assert_eq!(reason("other"), 0.0);
        assert!(get(&s, "chronik_raft_leader_changes_seen_total", 0, &[]) >= 2.0, "node {node} saw the failover");
    }
    let s = scrape(&c, old);
    assert_eq!(get(&s, "chronik_raft_elections_total", 0, &[("result", "won")]), 1.0);
    assert_eq!(get(&s, "chronik_raft_is_leader", 0, &[]), 0.0);
    assert_eq!(get(&s, "chronik_raft_isr_size", 0, &[]), 0.0, "leader-only gauges reset on step-down");
    assert_eq!(c.state_machine(lagging, 0), c.state_machine(next, 0));
}

#[test]
fn a_restarted_node_starts_fresh_counters_and_rejoins() {
    let mut c = cluster(2);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    propose(&mut c, 0, 10, 2);
    c.crash(leader);
    assert!(c.run_until(100, |c| c.leader(0).is_some_and(|l| l != leader)));
    let new = c.leader(0).expect("new leader");
    propose(&mut c, 0, 10, 2);
    let old_registry = c.registry(leader).expect("registry");
    c.restart(leader).expect("restart");
    assert!(!std::sync::Arc::ptr_eq(&old_registry, &c.registry(leader).expect("registry")));
    c.run(30);
    let s = scrape(&c, leader);
    let label = leader.to_string();
    assert_eq!(get(&s, "chronik_raft_node_state", 0, &[("node", &label)]), 3.0);
    assert_eq!(get(&s, "chronik_raft_has_leader", 0, &[]), 1.0);
    assert_eq!(get(&s, "chronik_raft_elections_total", 0, &[("result", "won")]), 0.0, "a new process");
    assert_eq!(get(&s, "chronik_raft_current_term", 0, &[]) as u64, term(&c, new, 0));
    let committed = c.replica_node(new, 0).expect("leader").raw().raft.raft_log.committed;
    assert_eq!(get(&s, "chronik_raft_last_applied", 0, &[]) as u64, committed);
    // The restarted node read its log back for the size gauges.
    assert_eq!(get(&s, "chronik_raft_log_entries", 0, &[]) as u64, committed - 1);
    assert_eq!(c.state_machine(leader, 0), c.state_machine(new, 0));
}

#[test]
fn every_scrape_passes_promtool() {
    let Ok(output) = std::process::Command::new("promtool").arg("--version").output() else {
        eprintln!("promtool not installed: skipped");
        return;
    };
    assert!(output.status.success());
    let mut c = cluster(2);
    elect(&mut c);
    propose(&mut c, 0, 20, 2);
    let leader = c.leader(1).expect("leader");
    c.add_node(1, 4).expect("add");
    c.run(10);
    c.crash(followers(&c, 0)[0]);
    propose(&mut c, 0, 20, 2);
    c.compact(c.leader(0).expect("leader"), 0, 0).expect("compact");
    c.run(5);
    assert_eq!(c.leader(1), Some(leader));
    let config = ClusterConfig {
        aggregation: raft_metrics::raft::Aggregation::Node,
        timing: Sampling::All,
        rpc_timing: Sampling::All,
        ..ClusterConfig::default()
    };
    let mut node_wide = Cluster::new(config).expect("cluster");
    elect(&mut node_wide);
    propose(&mut node_wide, 0, 20, 2);
    for (mode, cluster) in [("partition", &c), ("node", &node_wide)] {
        for node in cluster.node_ids() {
            let text = cluster.scrape(node).expect("scrape");
            let mut child = std::process::Command::new("promtool")
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("promtool");
            std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes()).expect("write");
            let out = child.wait_with_output().expect("promtool");
            let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && said.is_empty(), "{mode} mode, node {node}: promtool: {said}");
        }
    }
}

/// A 4-partition cluster exporting in a node-wide mode, after 100 proposals: every node's scrape
/// carries no partition and folds every partition's counters and distributions exactly.
fn node_wide_totals(aggregation: raft_metrics::raft::Aggregation) -> Cluster {
    let config = ClusterConfig {
        partitions: 4,
        aggregation,
        timing: Sampling::All,
        rpc_timing: Sampling::All,
        ..ClusterConfig::default()
    };
    let mut c = Cluster::new(config).expect("cluster");
    elect(&mut c);
    let mut proposed_by_leader: BTreeMap<u64, u64> = BTreeMap::new();
    for p in 0..4 {
        let leader = c.leader(p).expect("leader");
        *proposed_by_leader.entry(leader).or_default() += propose(&mut c, p, 25, 5);
    }
    c.run(12);
    let (mut won, mut committed) = (0.0, 0.0);
    for node in 1..=3 {
        let s = scrape(&c, node);
        assert!(s.lines().all(|x| x.label("partition").is_none()), "node {node}: a per-partition series");
        assert_eq!(s.value("chronik_raft_partitions", &[]), Some(4.0));
        assert_eq!(s.value("chronik_raft_partitions_without_leader", &[]), Some(0.0));
        assert!(s.value("chronik_raft_leader_changes_seen_total", &[]).unwrap_or(0.0) >= 4.0);
        assert!(s.value("chronik_raft_partition_follower_lag_entries_count", &[]).unwrap_or(0.0) >= 1.0, "node {node}");
        // One apply-lag observation per partition per tick, idle ticks too (those an idle group
        // skipped are observed at its next publication, at most `idle_publish_every - 1` ago).
        let ticks = c.ticks() as f64;
        let skipped = f64::from(c.config().idle_publish_every - 1);
        if aggregation == raft_metrics::raft::Aggregation::Node {
            let lags = s.value("chronik_raft_partition_apply_lag_entries_count", &[]).unwrap_or(0.0);
            assert!((4.0 * (ticks - skipped)..=4.0 * ticks).contains(&lags), "node {node}: {lags} for {ticks} ticks");
        }
        won += s.value("chronik_raft_elections_total", &[("result", "won")]).unwrap_or(0.0);
        let latency = s.value("chronik_raft_commit_latency_seconds_count", &[]).unwrap_or(0.0);
        assert_eq!(latency as u64, proposed_by_leader.get(&node).copied().unwrap_or(0), "node {node}");
        committed += latency;
    }
    assert_eq!(won, 4.0, "one election won per partition");
    assert_eq!(committed, 100.0);
    c
}

/// An idle group publishes every `idle_publish_every` ticks, and each publication stands for
/// the ticks it skipped: in a node-wide mode the leader observes each follower's lag, and every
/// node its apply lag, once per tick, exactly (the skipped ticks and the current one folded into
/// one observation while nothing lags), also when a follower falls behind after skipped ticks.
#[test]
fn an_idle_group_observes_each_tick_once() {
    // Every tick of a lagging group published (its own rule: a busy group publishing every N
    // ticks observes the same ticks, N at a time: `a_busy_group_publishes_every_n_ticks...`).
    let config = ClusterConfig {
        aggregation: raft_metrics::raft::Aggregation::Node,
        busy_publish_every: Some(1),
        ..ClusterConfig::default()
    };
    let mut c = Cluster::new(config).expect("cluster");
    elect(&mut c);
    c.run(30);
    let (leader, every) = (c.leader(0).expect("leader"), u64::from(c.config().idle_publish_every));
    assert!(every > 1, "ticks are skipped");
    let counts = |c: &Cluster| {
        let s = scrape(c, leader);
        let count = |name: &str| s.value(name, &[]).unwrap_or(0.0);
        [
            "chronik_raft_partition_apply_lag_entries_count",
            "chronik_raft_partition_follower_lag_entries_count",
            "chronik_raft_partition_follower_lag_seconds_count",
        ]
        .map(count)
    };
    // Up to a publication (the counts move only then), then whole periods.
    let mut at = counts(&c);
    for _ in 0..every {
        c.tick();
        let now = counts(&c);
        if now != at {
            at = now;
            break;
        }
    }
    let periods = 4;
    c.run(periods * every);
    let after = counts(&c);
    let ticks = (periods * every) as f64;
    assert_eq!(after[0] - at[0], ticks, "apply lag: one per tick");
    assert_eq!(after[1] - at[1], 2.0 * ticks, "follower lag: one per follower per tick");
    assert_eq!(after[2] - at[2], 2.0 * ticks, "follower lag in seconds: one per follower per tick");
    assert_eq!(leader, c.leader(0).expect("leader"), "the group stayed idle under one leader");
    // A follower falls behind after skipped ticks: the publication that follows observes the
    // skipped ticks at no lag and the current one at its lag, then every tick while it lags.
    c.run(every / 2);
    c.crash(followers(&c, 0)[0]);
    c.propose(0, proposal(1, b"value")).expect("propose");
    c.run(every);
    let lagging = counts(&c);
    let ticks = (every / 2 + every) as f64;
    assert_eq!(lagging[0] - after[0], ticks, "apply lag: one per tick");
    assert_eq!(lagging[1] - after[1], 2.0 * ticks, "follower lag: one per follower per tick");
    assert_eq!(lagging[2] - after[2], 2.0 * ticks, "follower lag in seconds: one per follower per tick");
    assert_eq!(leader, c.leader(0).expect("leader"), "the leader kept its quorum");
}

#[test]
fn node_wide_aggregation_folds_every_partition() {
    node_wide_totals(raft_metrics::raft::Aggregation::Node);
}

/// Unhealthy-only mode: the same totals, folded at scrape time from the partition series
/// (recorded once), and no partition in the scrape while every partition is healthy; a paused
/// follower brings its partition into its leader's scrape.
#[test]
fn unhealthy_only_mode_folds_every_partition_and_shows_none_while_healthy() {
    let mut c = node_wide_totals(raft_metrics::raft::Aggregation::Unhealthy);
    for node in 1..=3 {
        // Folded per peer: heartbeats by peer, without partition labels.
        let s = scrape(&c, node);
        assert!(s.lines().any(|x| x.name == "chronik_raft_heartbeats_sent_total" && x.label("peer").is_some()));
    }

    // Pause a follower of p0 and write on: p0's leader counts fewer voters in sync, so p0 shows
    // on it.
    let leader = c.leader(0).expect("leader");
    let follower = c.members(0).into_iter().find(|&n| n != leader).expect("a follower");
    c.pause(follower);
    // Past `HealthThresholds::follower_lag_entries` (1 000), so the peer row shows too.
    propose(&mut c, 0, 1_500, 50);
    c.run(40);
    let s = scrape(&c, leader);
    let shown: std::collections::BTreeSet<&str> =
        s.lines().filter(|x| x.name == "chronik_raft_has_leader").filter_map(|x| x.label("partition")).collect();
    assert!(shown.contains("0"), "p0 with a paused follower does not show on its leader n{leader}: {shown:?}");
    let lagging =
        s.lines().filter(|x| x.name == "chronik_raft_follower_lag_entries" && x.label("partition") == Some("0"));
    assert!(lagging.count() >= 1, "no peer row for the paused follower");
}

#[test]
fn slow_disk_and_slow_state_machine_show_in_their_histograms() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let before = scrape(&c, leader);
    let (appends, applies) = (
        get(&before, "chronik_raft_log_append_duration_seconds_count", 0, &[]),
        get(&before, "chronik_raft_apply_duration_seconds_count", 0, &[]),
    );
    let latency = std::time::Duration::from_millis(3);
    c.set_disk_latency(leader, latency);
    c.set_apply_latency(leader, latency);
    propose(&mut c, 0, 4, 1);
    let s = scrape(&c, leader);
    // Every append and apply since the faults took at least the latency: none is in a bucket
    // below it (log append buckets start at 0.1 ms, apply buckets at 0.1 ms: 0.0016 < 3 ms).
    let slow_appends = get(&s, "chronik_raft_log_append_duration_seconds_count", 0, &[]) - appends;
    let slow_applies = get(&s, "chronik_raft_apply_duration_seconds_count", 0, &[]) - applies;
    assert!(slow_appends >= 4.0 && slow_applies >= 4.0, "{slow_appends} appends, {slow_applies} applies");
    let fast_appends = get(&s, "chronik_raft_log_append_duration_seconds_bucket", 0, &[("le", "0.0016")]);
    let fast_before = get(&before, "chronik_raft_log_append_duration_seconds_bucket", 0, &[("le", "0.0016")]);
    assert_eq!(fast_appends, fast_before, "no append under the disk latency");
    let fast_applies = get(&s, "chronik_raft_apply_duration_seconds_bucket", 0, &[("le", "0.0016")]);
    let fast_before = get(&before, "chronik_raft_apply_duration_seconds_bucket", 0, &[("le", "0.0016")]);
    assert_eq!(fast_applies, fast_before, "no apply under the state machine's latency");
    // A proposal waits for the leader's own append: its commit latency includes the disk's.
    let commits = get(&s, "chronik_raft_commit_latency_seconds_count", 0, &[]);
    let fast_commits = get(&s, "chronik_raft_commit_latency_seconds_bucket", 0, &[("le", "0.002")]);
    assert_eq!(commits, 4.0);
    assert_eq!(fast_commits, 0.0, "every commit took longer than the 3 ms append");
}

#[test]
fn stalled_apply_shows_as_apply_lag_until_it_catches_up() {
    let mut c = cluster(1);
    elect(&mut c);
    let follower = followers(&c, 0)[0];
    let applied_before = get(&scrape(&c, follower), "chronik_raft_last_applied", 0, &[]);
    c.stall_apply(follower, true);
    let proposed = propose(&mut c, 0, 50, 5);
    let s = scrape(&c, follower);
    assert_eq!(get(&s, "chronik_raft_apply_lag_entries", 0, &[]) as u64, proposed, "exactly the proposals");
    assert_eq!(get(&s, "chronik_raft_last_applied", 0, &[]), applied_before);
    assert_eq!(get(&s, "chronik_raft_commit_index", 0, &[]), applied_before + proposed as f64);

    c.stall_apply(follower, false);
    c.settle();
    // Applied at once; the next tick publishes the indexes.
    c.tick();
    let s = scrape(&c, follower);
    assert_eq!(get(&s, "chronik_raft_apply_lag_entries", 0, &[]), 0.0);
    assert_eq!(get(&s, "chronik_raft_last_applied", 0, &[]), get(&s, "chronik_raft_commit_index", 0, &[]));
    let leader = c.leader(0).expect("leader");
    assert_eq!(c.state_machine(follower, 0), c.state_machine(leader, 0));
}

#[test]
fn link_latency_shows_in_the_round_trip_of_every_heartbeat() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let follower = followers(&c, 0)[0];
    let peer = follower.to_string();
    let rtt = |c: &Cluster, name: &str, le: Option<&str>| {
        let labels: Vec<(&str, &str)> = [("peer", peer.as_str())].into_iter().chain(le.map(|le| ("le", le))).collect();
        get(&scrape(c, leader), name, 0, &labels)
    };
    let count_before = rtt(&c, "chronik_raft_peer_round_trip_seconds_count", None);
    let fast_before = rtt(&c, "chronik_raft_peer_round_trip_seconds_bucket", Some("0.0256"));
    // Responses from the follower arrive 30 ms late; heartbeats go out every few ticks meanwhile,
    // so several are in flight at once.
    c.set_link_latency(follower, leader, std::time::Duration::from_millis(30));
    for _ in 0..40 {
        c.tick();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // The responses still travelling arrive; no tick, so no new heartbeat goes out.
    std::thread::sleep(std::time::Duration::from_millis(35));
    c.settle();
    let slow = rtt(&c, "chronik_raft_peer_round_trip_seconds_count", None) - count_before;
    assert!(slow >= 3.0, "{slow} round trips measured");
    // Each response is matched with its own heartbeat, not the newest one sent.
    assert_eq!(rtt(&c, "chronik_raft_peer_round_trip_seconds_bucket", Some("0.0256")), fast_before);
    assert_eq!(c.leader(0), Some(leader), "late responses are not silence: no election");
}

#[test]
fn failed_snapshot_transfers_are_counted_on_the_sender() {
    let mut c = cluster(1);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let lagging = followers(&c, 0)[0];
    c.pause(lagging);
    propose(&mut c, 0, 40, 2);
    c.compact(leader, 0, 0).expect("compact");
    c.fail_snapshots_to(lagging, true);
    c.resume(lagging);
    c.run(30);
    let send = |c: &Cluster, result: &str| {
        get(
            &scrape(c, leader),
            "chronik_raft_snapshot_transfers_total",
            0,
            &[("direction", "send"), ("result", result)],
        )
    };
    assert!(send(&c, "failure") >= 1.0);
    assert_eq!(send(&c, "success"), 0.0);
    assert_eq!(get(&scrape(&c, leader), "chronik_raft_snapshot_in_progress", 0, &[]), 0.0, "a failed send ends");

    c.fail_snapshots_to(lagging, false);
    c.run(30);
    assert!(send(&c, "success") >= 1.0, "a later snapshot goes through");
    assert_eq!(c.state_machine(lagging, 0), c.state_machine(leader, 0));
}

/// The default timing (one turn in 8, weight 8, paced to 8 timed turns per tick: here 200 turns
/// per tick, so one in 25 with weight 25 after the first tick; messages of one turn in 64,
/// weight 64): counters stay exact, duration histograms count about every event. Deterministic
/// (each node's sampler has a fixed seed), so the bounds are not a flaky tolerance: they are
/// what a broken weight (the configured 8 where 25 was sampled: count / 3) or a stuck sampler (0
/// or every turn) would miss by far.
#[test]
fn sampled_timing_keeps_counters_exact_and_histogram_counts_unbiased() {
    let mut c = Cluster::new(ClusterConfig::default()).expect("cluster");
    assert_eq!(c.config().timing, raft_metrics_raftrs::DEFAULT_TIMING);
    elect(&mut c);
    let leader = c.leader(0).expect("leader");
    let before = scrape(&c, leader);
    let mut accepted = 0u64;
    for i in 0..4_000u64 {
        let key = u16::try_from(i % 64).unwrap_or(0);
        accepted += u64::from(c.propose(0, proposal(key, b"value")).is_ok());
        // Small entries at a high rate: each proposal in its own turns, a tick per 100.
        if (i + 1) % 100 == 0 {
            c.tick();
        } else {
            c.settle();
        }
    }
    c.settle();
    c.tick();
    let s = scrape(&c, leader);
    let delta = |name: &str, labels: &[(&str, &str)]| get(&s, name, 0, labels) - get(&before, name, 0, labels);
    assert_eq!(delta("chronik_raft_proposals_committed_total", &[]) as u64, accepted, "exact");
    let near = |estimate: f64, truth: f64, what: &str| {
        assert!((estimate - truth).abs() <= 0.2 * truth, "{what}: estimate {estimate} for {truth}");
    };
    let near_weighted = |weight: f64, estimate: f64, truth: f64, what: &str| {
        assert!(estimate % weight == 0.0, "{what}: weight {weight} per observation, got {estimate}");
        near(estimate, truth, what);
    };
    near(delta("chronik_raft_commit_latency_seconds_count", &[]), accepted as f64, "commit latency");
    // Every proposal is one append on the leader (it is alone in its turn).
    near(delta("chronik_raft_log_append_duration_seconds_count", &[]), accepted as f64, "log append");
    let follower = followers(&c, 0)[0].to_string();
    let rpc = |s: &Scrape, name: &str| {
        s.value(name, &[("method", "append_entries"), ("target", follower.as_str()), ("result", "success")])
            .or_else(|| s.value(name, &[("method", "append_entries"), ("target", follower.as_str())]))
            .unwrap_or(0.0)
    };
    let calls = rpc(&s, "chronik_raft_rpc_calls_total") - rpc(&before, "chronik_raft_rpc_calls_total");
    let sent = delta("chronik_raft_append_entries_sent_total", &[("peer", follower.as_str())]);
    assert_eq!(calls, sent, "every append sent to the follower was delivered and counted");
    let timed =
        rpc(&s, "chronik_raft_rpc_duration_seconds_count") - rpc(&before, "chronik_raft_rpc_duration_seconds_count");
    // Messages have their own sampler: the messages of one turn in 64, weight 64.
    assert_eq!(c.config().rpc_timing, raft_metrics_raftrs::DEFAULT_RPC_TIMING);
    near_weighted(64.0, timed, calls, "rpc duration");
}

/// An idle group publishes every `idle_publish_every` ticks: the heartbeats sent in between
/// reach `rpc_calls_total` at the next publication, every one of them (counted from the
/// messages raft-rs sent), and its gauges stay right; a proposal, which moves the indexes,
/// shows at the very next tick.
#[test]
fn an_idle_group_publishes_every_n_ticks_and_what_moves_at_once() {
    const EVERY: u64 = 5;
    let mut c = Cluster::new(ClusterConfig {
        idle_publish_every: u32::try_from(EVERY).unwrap_or(5),
        ..ClusterConfig::default()
    })
    .expect("cluster");
    elect(&mut c);
    propose(&mut c, 0, 3, 3);
    c.run(2 * EVERY);
    let leader = c.leader(0).expect("leader");
    let follower = followers(&c, 0)[0];
    let target = follower.to_string();
    let heartbeats = |c: &Cluster| {
        scrape(c, leader)
            .value(
                "chronik_raft_rpc_calls_total",
                &[("method", "heartbeat"), ("target", &target), ("result", "success")],
            )
            .unwrap_or(0.0)
    };
    c.trace();
    let before = heartbeats(&c);
    let mut seen = vec![before];
    for _ in 0..4 * EVERY {
        c.tick();
        seen.push(heartbeats(&c));
    }
    let moves = seen.windows(2).filter(|w| w[1] != w[0]).count() as u64;
    assert!((3..=4).contains(&moves), "published on {moves} of {} idle ticks: {seen:?}", 4 * EVERY);
    // A publication every EVERY ticks: run to the next one, then every heartbeat is counted.
    let mut ticks = 0;
    while heartbeats(&c) == seen[seen.len() - 1] && ticks <= EVERY {
        c.tick();
        ticks += 1;
    }
    let sent = c
        .take_trace()
        .iter()
        .filter(|e| matches!(e, Event::Sent { msg, .. } if msg.get_msg_type() == MessageType::MsgHeartbeat && msg.to == follower && msg.from == leader))
        .count() as f64;
    assert!(ticks <= EVERY, "no publication within {EVERY} ticks");
    // Every heartbeat but those of the publishing tick's own turn (sent after its tick).
    let counted = heartbeats(&c) - before;
    assert!(counted <= sent && sent - counted <= 1.0, "counted {counted} of {sent} heartbeats");
    // The gauges of an idle group are those of its last change.
    let s = scrape(&c, follower);
    let commit = c.commit_index(0) as f64;
    assert_eq!(get(&s, "chronik_raft_commit_index", 0, &[]), commit);
    assert_eq!(get(&s, "chronik_raft_last_applied", 0, &[]), commit);
    // A proposal moves the indexes: the next tick publishes them, wherever the idle count is.
    assert!(c.propose(0, proposal(1, b"moved")).is_ok());
    c.settle();
    c.tick();
    let commit = c.commit_index(0) as f64;
    for node in [leader, follower] {
        assert_eq!(get(&scrape(&c, node), "chronik_raft_commit_index", 0, &[]), commit, "node {node}");
    }
}

/// A busy group publishing at most every `busy_publish_every` ticks: with proposals at every
/// tick its gauges move at every N-th tick only, and once the last change is published every
/// count and gauge is the cluster's, as at the default.
#[test]
fn a_busy_group_publishes_every_n_ticks_and_exactly() {
    const EVERY: u64 = 4;
    let mut c = Cluster::new(ClusterConfig {
        busy_publish_every: Some(u32::try_from(EVERY).unwrap_or(4)),
        ..ClusterConfig::default()
    })
    .expect("cluster");
    elect(&mut c);
    c.run(2 * EVERY);
    let leader = c.leader(0).expect("leader");
    let published = |c: &Cluster| get(&scrape(c, leader), "chronik_raft_commit_index", 0, &[]);
    let mut seen = vec![published(&c)];
    let mut accepted = 0;
    for key in 0..4 * EVERY {
        if c.propose(0, proposal(u16::try_from(key).unwrap_or(0), b"busy")).is_ok() {
            accepted += 1;
        }
        c.settle();
        c.tick();
        seen.push(published(&c));
    }
    assert_eq!(accepted, 4 * EVERY);
    let moves = seen.windows(2).filter(|w| w[1] != w[0]).count() as u64;
    assert!((3..=4).contains(&moves), "published on {moves} of {} busy ticks: {seen:?}", 4 * EVERY);
    // The next publication (within EVERY ticks) brings every series to the cluster's state.
    c.run(EVERY);
    let committed = c.commit_index(0);
    for node in c.members(0) {
        let s = scrape(&c, node);
        assert_eq!(get(&s, "chronik_raft_commit_index", 0, &[]) as u64, committed, "node {node}");
        assert_eq!(get(&s, "chronik_raft_last_applied", 0, &[]) as u64, committed, "node {node}");
        assert_eq!(get(&s, "chronik_raft_last_index", 0, &[]) as u64, committed, "node {node}");
        assert_eq!(get(&s, "chronik_raft_proposals_applied_total", 0, &[]) as u64, accepted, "node {node}");
    }
    let s = scrape(&c, leader);
    assert_eq!(get(&s, "chronik_raft_proposals_committed_total", 0, &[]) as u64, accepted);
    assert_eq!(get(&s, "chronik_raft_proposals_pending", 0, &[]), 0.0);
}

/// Hibernation (the application stops ticking idle groups, as TiKV does): going to sleep
/// publishes what the ticks since the last publication kept, so every RPC count is exact while
/// the groups sleep; the sleeping partitions are `hibernating` on every member and counted
/// node-wide; unhealthy-only mode does not show them for their aging contact, while a node that
/// stopped unannounced (paused) does show its partitions; the next tick wakes them, with contact
/// counted from the wake.
#[test]
fn hibernating_groups_keep_exact_counts_and_are_not_out_of_contact() {
    use raft_metrics::raft::{Aggregation, HealthThresholds};
    let health = HealthThresholds { contact_millis: 300, ..HealthThresholds::default() };
    let config =
        ClusterConfig { partitions: 2, aggregation: Aggregation::Unhealthy, health, ..ClusterConfig::default() };
    let mut c = Cluster::new(config).expect("cluster");
    c.trace();
    elect(&mut c);
    propose(&mut c, 0, 10, 5);
    // Fewer ticks than an idle group's publication period: counts are kept, not yet published.
    c.run(u64::from(c.config().idle_publish_every) / 2);
    for p in 0..2 {
        c.hibernate(p);
    }
    c.run(3);
    let mut sent: BTreeMap<(u64, u64, &str), f64> = BTreeMap::new();
    for event in c.take_trace() {
        if let Event::Sent { msg, .. } = event {
            let method = match msg.get_msg_type() {
                MessageType::MsgHeartbeat => "heartbeat",
                MessageType::MsgHeartbeatResponse => "heartbeat_response",
                MessageType::MsgAppend => "append_entries",
                MessageType::MsgAppendResponse => "append_entries_response",
                _ => continue,
            };
            *sent.entry((msg.from, msg.to, method)).or_default() += 1.0;
        }
    }
    assert!(sent.keys().any(|&(_, _, method)| method == "heartbeat"), "heartbeats flowed before the sleep");
    let rpcs = |s: &Scrape, from: u64, to: u64, method: &str| {
        let target = to.to_string();
        let labels = [("method", method), ("target", target.as_str()), ("result", "success")];
        let value = s.value("chronik_raft_rpc_calls_total", &labels).unwrap_or(0.0);
        assert_eq!(value, sent.get(&(from, to, method)).copied().unwrap_or(0.0), "{method} {from} -> {to}");
    };
    for node in 1..=3 {
        let s = scrape(&c, node);
        for to in (1..=3).filter(|&to| to != node) {
            for method in ["heartbeat", "heartbeat_response", "append_entries", "append_entries_response"] {
                rpcs(&s, node, to, method);
            }
        }
        assert_eq!(s.value("chronik_raft_hibernating_partitions", &[]), Some(2.0), "node {node}");
        for p in 0..2 {
            let replica = c.replica_node(node, p).expect("replica");
            assert!(replica.hibernating());
            assert_eq!(replica.metrics().hibernating.get(), 1, "node {node} p{p}");
        }
    }
    let shown = |c: &Cluster, node: u64| -> Vec<String> {
        let s = scrape(c, node);
        s.lines()
            .filter(|x| x.name == "chronik_raft_has_leader")
            .filter_map(|x| x.label("partition"))
            .map(str::to_owned)
            .collect()
    };
    std::thread::sleep(std::time::Duration::from_millis(400));
    for node in 1..=3 {
        assert!(shown(&c, node).is_empty(), "node {node}: asleep past the contact threshold, yet shown");
    }

    // The next tick wakes them: not hibernating, contact from the wake, nothing shown.
    for p in 0..2 {
        c.wake(p);
    }
    c.tick();
    for node in 1..=3 {
        assert_eq!(scrape(&c, node).value("chronik_raft_hibernating_partitions", &[]), Some(0.0), "node {node}");
        assert!(!c.replica_node(node, 0).expect("replica").hibernating());
        assert_eq!(c.replica_node(node, 1).expect("replica").metrics().hibernating.get(), 0);
        assert!(shown(&c, node).is_empty(), "node {node}: woken, yet shown");
    }
    // A node that stops without a word (paused: no ticks, no messages) is out of contact.
    let leader = c.leader(0).expect("leader");
    let follower = followers(&c, 0)[0];
    c.pause(follower);
    c.run(2);
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(shown(&c, follower), ["0", "1"], "the paused follower's partitions are out of contact");
    assert_eq!(c.leader(0), Some(leader));
}
