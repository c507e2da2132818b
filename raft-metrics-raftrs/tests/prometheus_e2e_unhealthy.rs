//! End to end against a real Prometheus in unhealthy-only mode (`Aggregation::Unhealthy`): the
//! same live cluster, rules and dashboard as `prometheus_e2e.rs`, with every node exporting its
//! node-wide series plus the gauges of the partitions unhealthy at each scrape.
//!
//! The scenario: while healthy, no partition appears in any scrape and no alert fires; under the
//! faults of the per-partition scenario (a paused node with a stalled apply; two crashed nodes, a
//! stuck configuration change and clients refused by the lone node; leader churn; failing
//! snapshot transfers) every alert that applies fires and names the partition: the alerts on
//! gauges as in per-partition mode, the alerts on per-partition counters through the bursts the
//! scrapes count (the folded per-node counters carry no partition and the rules leave them out).
//! Once healed, the partitions leave the scrape again. Every dashboard expression returns data at
//! some point of the scenario (per-partition panels while partitions are unhealthy), but for the
//! ones `NO_DATA_OK` explains.
//!
//! ```text
//! cargo test -p raft-metrics-raftrs --test prometheus_e2e_unhealthy -- --nocapture
//! ```

#[path = "support/e2e.rs"]
#[allow(dead_code)] // the per-partition scenarios use the rest
mod e2e;

use std::time::{Duration, Instant};

use e2e::*;
use raft_metrics::raft::Aggregation;

/// The alerts that name the partition in this mode: on gauges, and on the bursts of per-partition
/// counters.
const NAMING: &[&str] = &[
    "ChronikRaftFollowerLagging",
    "ChronikRaftFollowerLaggingTime",
    "ChronikRaftMultipleLeaders",
    "ChronikRaftApplyLagging",
    "ChronikRaftNoLeader",
    "ChronikRaftConfigChangeStuck",
    "ChronikRaftProposalFailures",
    "ChronikRaftHighLeaderChanges",
    "ChronikRaftSnapshotTransferFailures",
];

/// Panels that may have no data in this mode, with the reason.
const NO_DATA_OK: &[(&str, &str)] = &[(
    "chronik_raft_config_changes_total",
    "the stuck add-node entry may be truncated rather than committed after the restart",
)];

/// The expressions of `panels` that return series now.
fn panels_with_data(prom: std::net::SocketAddr, panels: &[(String, String)]) -> std::collections::BTreeSet<String> {
    panels
        .iter()
        .filter(|(title, expr)| query(prom, expr).unwrap_or_else(|e| panic!("panel {title:?}: {expr}: {e}")).series > 0)
        .map(|(_, expr)| expr.clone())
        .collect()
}

/// Partitions present in the scrape: series of `chronik_raft_has_leader`.
fn partitions_shown(prom: std::net::SocketAddr) -> usize {
    query(prom, "chronik_raft_has_leader").map_or(usize::MAX, |r| r.series)
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn prometheus_names_the_unhealthy_partitions_in_unhealthy_only_mode() {
    let Some(_serial) = prometheus_turn() else { return };
    let t0 = Instant::now();
    let driver = Driver::start_with(|c| c.aggregation = Aggregation::Unhealthy, |_| {});
    let prom = Prometheus::start(&driver.targets(), &compressed_rules());
    let mut log = AlertLog::new(prom.addr, "healthy");
    let all_up = format!("count(up == 1) == {NODES}");
    let up = wait_for(Duration::from_secs(15), || {
        matches!(query(prom.addr, &all_up), Ok(QueryResult { series: 1, .. })).then_some(())
    });
    assert!(up.is_some(), "not every target up within 15 s; log:\n{}", prom.log());

    // ---- healthy: node-wide series only, no alert -------------------------------------------
    let partitions = format!("sum(chronik_raft_partitions) == {}", NODES * u64::from(PARTITIONS));
    let counted = wait_for(Duration::from_secs(15), || {
        matches!(query(prom.addr, &partitions), Ok(QueryResult { series: 1, .. })).then_some(())
    });
    assert!(counted.is_some(), "the node-wide partition counts never added up");
    // Elections are over once no partition shows (a leaderless partition is unhealthy).
    let settled = wait_for(Duration::from_secs(20), || (partitions_shown(prom.addr) == 0).then_some(()));
    assert!(settled.is_some(), "partitions still in the scrape of a healthy cluster");
    let healthy_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < healthy_until {
        let firing = log.poll();
        assert!(firing.is_empty(), "alerts firing in the healthy phase: {firing:?}");
        assert_eq!(partitions_shown(prom.addr), 0, "a healthy partition in the scrape");
        std::thread::sleep(Duration::from_millis(1000));
    }
    // Latency panels read the node-wide histograms.
    let p99 = "histogram_quantile(0.99, sum without (topic, partition) (rate(chronik_raft_commit_latency_seconds_bucket[30s])))";
    let r = query(prom.addr, p99).expect("query");
    assert!(r.series > 0, "no node-wide commit latency");

    // ---- fault 1: pause n3, stall n2's apply ------------------------------------------------
    log.phase = "pause n3".to_owned();
    driver.pause_n3_and_stall_n2();
    let missing = log.wait_firing(
        &[
            "ChronikRaftFollowerLagging",
            "ChronikRaftFollowerLaggingTime",
            "ChronikRaftMultipleLeaders",
            "ChronikRaftApplyLagging",
            "ChronikRaftRpcFailures",
        ],
        Duration::from_secs(60),
    );
    assert!(missing.is_empty(), "not firing while n3 is paused: {missing:?}");
    let shown = partitions_shown(prom.addr);
    assert!(shown > 0 && shown != usize::MAX, "no partition in the scrape while n3 is paused");
    // The per-partition panels show the unhealthy partitions now.
    let panels = dashboard_panels();
    let mut with_data = panels_with_data(prom.addr, &panels);
    driver.resume_n3_and_catch_up();
    // Healed partitions leave the scrape (Prometheus marks their series stale).
    let left = wait_for(Duration::from_secs(20), || (partitions_shown(prom.addr) == 0).then_some(()));
    assert!(left.is_some(), "healed partitions still in the scrape: {}", partitions_shown(prom.addr));

    // ---- fault 2: crash the two nodes not leading p0, p0 stuck adding n4 ---------------------
    // Clients keep proposing to the lone node: a burst of failed proposals in every partition.
    // Not `ChronikRaftInsufficientMembers`: its "reporting" half counts `node_state`, which this
    // mode does not export, and its in-sync half needs a leader, which the lone node stops being
    // (check-quorum); `ChronikRaftNoLeader` names the partition instead.
    log.phase = "crash 2 of 3".to_owned();
    let lone = driver.crash_all_but_p0_leader(true);
    let missing = log.wait_firing(
        &["ChronikRaftNoLeader", "ChronikRaftConfigChangeStuck", "ChronikRaftProposalFailures"],
        Duration::from_secs(25),
    );
    assert!(missing.is_empty(), "not firing with 2 of 3 nodes down: {missing:?}");
    driver.restart_all_but(lone);
    let total = query(prom.addr, "sum(increase(chronik_raft_leader_changes_seen_total[1m])) > 0").expect("query");
    assert_eq!(total.series, 1, "no node-wide leader changes seen");

    // ---- fault 3: leader churn on p0 ----------------------------------------------------------
    // The folded leader-change total rose with every election so far; the rule reads p0's
    // burst of changes, which names it.
    log.phase = "leader churn p0".to_owned();
    driver.churn_p0_leader(5, |_| {});
    let missing = log.wait_firing(faults::LEADER_CHURN, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing after 5 leader crashes: {missing:?}");

    // ---- fault 4: every snapshot to a follower of p1 fails ------------------------------------
    log.phase = "snapshots".to_owned();
    let (_, follower) = driver.fail_snapshots_to_a_p1_follower();
    let missing = log.wait_firing(faults::SNAPSHOTS_FAIL, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing while snapshots to n{follower} fail: {missing:?}");
    driver.with(|s| s.cluster.fail_snapshots_to(follower, false));
    log.poll();

    // Counters and histograms are folded per node: their panels have data whatever the health.
    with_data.extend(panels_with_data(prom.addr, &panels));
    let empty: Vec<String> = panels
        .iter()
        .filter(|(_, expr)| !with_data.contains(expr))
        .map(|(title, expr)| format!("{title}: {expr}"))
        .collect();

    // ---- report -----------------------------------------------------------------------------
    let elapsed = t0.elapsed();
    drop(driver);
    drop(prom);
    println!("\n==== unhealthy-only mode: Prometheus end-to-end report ({:.1}s total) ====", elapsed.as_secs_f64());
    println!("-- {}/{} dashboard expressions returned series; empty:", panels.len() - empty.len(), panels.len());
    for e in &empty {
        println!("  {e}");
    }
    let unexplained: Vec<&String> =
        empty.iter().filter(|e| !NO_DATA_OK.iter().any(|(metric, _)| e.contains(metric))).collect();
    assert!(unexplained.is_empty(), "panels without data in unhealthy-only mode: {unexplained:#?}");
    for (name, (at, phase, labels)) in &log.firing {
        println!("  {name:<36} FIRING  at {at:>5.1}s [{phase}] {labels}");
    }
    for name in NAMING {
        let (_, _, labels) = &log.firing[*name];
        assert!(
            labels.contains("topic=orders") && labels.contains("partition="),
            "{name} does not name the partition: {labels}"
        );
    }
    assert!(elapsed < Duration::from_secs(180), "took {elapsed:?}");
}
