//! End to end against a real Prometheus: a live `sim::Cluster` (3 nodes × 3 partitions, ticked
//! every 10 ms on a background thread with continuous proposals), every node's registry served
//! on its own ephemeral 127.0.0.1 port, scraped every second by `/usr/bin/prometheus` evaluating
//! a time-compressed copy of `docs/alerts/chronik_raft_alerts.yml`.
//!
//! The scenario: a healthy phase (every dashboard expression returns series, no alert fires),
//! then one fault at a time, checking through Prometheus' HTTP API that the alerts meant for the
//! fault reach `firing`. A compact report (panels with data, alerts fired and when) is printed.
//! A second scenario (its own cluster and Prometheus, run after the first) starts with one slow
//! node: a slow disk and a slow state machine, so that every latency Prometheus sees from it is
//! slow and the latency alerts fire.
//!
//! Skipped with a message when `/usr/bin/prometheus` is missing, unless `CI` is set (then it
//! fails). Everything listens on 127.0.0.1; every wait is bounded; Prometheus is killed and the
//! temporary directory removed by a drop guard, also when the test fails.
//!
//! ```text
//! cargo test -p raft-metrics-raftrs --test prometheus_e2e -- --nocapture
//! ```

#[path = "support/e2e.rs"]
mod e2e;

use std::time::{Duration, Instant};

use e2e::*;
use raft_metrics::{Counter, FamilySpec, MetricInfo, Sampling};

/// Panels that may stay empty in this scenario, with the reason.
const NO_DATA_OK: &[(&str, &str)] = &[
    (
        "chronik_raft_log_truncations_total",
        "its series appear once a node overwrites a conflicting log tail, which the churn may not cause",
    ),
    (
        "chronik_raft_config_changes_total",
        "fault 2's stuck add-node entry may be truncated rather than committed after the restart",
    ),
];

#[test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn prometheus_scrapes_the_cluster_and_the_alerts_fire() {
    let Some(_serial) = prometheus_turn() else { return };
    let t0 = Instant::now();
    let rules = compressed_rules();
    let all_alerts = alert_names(&rules);
    let panels = dashboard_panels();

    let driver = Driver::start(|_| {});
    let targets = driver.targets();
    let prom = Prometheus::start(&targets, &rules);
    let prom_ready = t0.elapsed();
    let mut log = AlertLog::new(prom.addr, "healthy");
    let mut timeline: Vec<String> = Vec::new();
    let mut note = |log: &AlertLog, what: String| {
        let line = format!("[{:>5.1}s] {what}", log.start.elapsed().as_secs_f64());
        println!("{line}");
        timeline.push(line);
    };

    // All targets up.
    let all_up = format!("count(up == 1) == {NODES}");
    let up = wait_for(Duration::from_secs(15), || {
        matches!(query(prom.addr, &all_up), Ok(QueryResult { series: 1, .. })).then_some(())
    });
    assert!(up.is_some(), "not every target up within 15 s; log:\n{}", prom.log());
    note(&log, format!("Prometheus ready after {:.1}s, {NODES} targets up", prom_ready.as_secs_f64()));

    // ---- healthy phase: 20 s, no alert fires; then every panel expression -----------------
    let healthy_until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < healthy_until {
        let firing = log.poll();
        assert!(firing.is_empty(), "alerts firing in the healthy phase: {firing:?}");
        std::thread::sleep(Duration::from_millis(1000));
    }
    let mut panel_results: Vec<(String, String, Option<QueryResult>)> = Vec::new();
    let mut empty = Vec::new();
    for (title, expr) in &panels {
        let r = query(prom.addr, expr).unwrap_or_else(|e| panic!("panel {title:?}: {expr}: {e}"));
        assert!(
            matches!(r.result_type.as_str(), "vector" | "matrix" | "scalar"),
            "panel {title:?}: {expr}: result type {:?}",
            r.result_type
        );
        if r.series == 0 {
            empty.push((title.clone(), expr.clone()));
        }
        panel_results.push((title.clone(), expr.clone(), Some(r).filter(|r| r.series > 0)));
    }
    let mut deferred = DeferredPanels::new(prom.addr, empty);
    let firing = log.poll();
    assert!(firing.is_empty(), "alerts firing in the healthy phase: {firing:?}");
    note(
        &log,
        format!(
            "healthy: {}/{} panel expressions return series, {} deferred to the fault phases; no alert firing",
            panels.len() - deferred.len(),
            panels.len(),
            deferred.len()
        ),
    );

    // ---- fault 1: pause node 3 for ~35 s --------------------------------------------------
    // Its followers fall behind (a burst makes the entry lag > 5000), sends to it fail
    // (heartbeats, RPCs), the partition it led elects a new leader while the paused, still
    // exported node keeps claiming leadership (two leaders), and lag time passes 30 s.
    // Meanwhile n2 stops applying: its apply lag stays above 1000 entries for the whole window.
    log.phase = "pause n3".to_owned();
    driver.pause_n3_and_stall_n2();
    note(&log, "pause n3, stall n2's apply".to_owned());
    let missing = log.wait_firing(faults::NODE_CUT_OFF, Duration::from_secs(60));
    assert!(missing.is_empty(), "not firing while n3 is paused: {missing:?}");
    deferred.check(&log.phase);
    // n3 catches up and steps down.
    driver.resume_n3_and_catch_up();
    note(&log, "resume n3, n2 applies again; n3 caught up".to_owned());

    // ---- fault 2: crash the two nodes not leading p0 -------------------------------------
    // Right before, p0's leader proposes adding a node 4: the entry stays uncommitted in its log
    // alone (a stuck configuration change). The lone node loses every leadership (check-quorum),
    // too few members report, and clients keep proposing to it and are refused.
    log.phase = "crash 2 of 3".to_owned();
    let lone = driver.crash_all_but_p0_leader(true);
    note(&log, format!("n{lone} (p0 leader) proposes adding n4 to p0; crash the two other nodes"));
    let missing = log.wait_firing(faults::TWO_OF_THREE_DOWN, Duration::from_secs(25));
    assert!(missing.is_empty(), "not firing with 2 of 3 nodes down: {missing:?}");
    deferred.check(&log.phase);
    driver.restart_all_but(lone);
    note(&log, "restart them; every partition has a leader".to_owned());

    // ---- fault 3: leader churn on p0 -------------------------------------------------------
    log.phase = "leader churn p0".to_owned();
    driver.churn_p0_leader(5, |line| note(&log, line));
    let missing = log.wait_firing(faults::LEADER_CHURN, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing after 5 leader crashes: {missing:?}");
    deferred.check(&log.phase);

    // ---- fault 4: a follower of p1 paused behind a compaction catches up from a snapshot ----
    log.phase = "snapshots".to_owned();
    let (l1, f1) = driver.fail_snapshots_to_a_p1_follower();
    note(&log, format!("pause n{f1}, compact n{l1}/p1, resume n{f1}: every snapshot to it fails"));
    let missing = log.wait_firing(faults::SNAPSHOTS_FAIL, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing while snapshots to n{f1} fail: {missing:?}");
    driver.with(|s| s.cluster.fail_snapshots_to(f1, false));
    note(&log, format!("snapshots to n{f1} go through again"));
    let sent = wait_for(Duration::from_secs(10), || {
        let q = r#"sum(increase(chronik_raft_snapshot_transfers_total{direction="send",result="success"}[1m])) > 0"#;
        matches!(query(prom.addr, q), Ok(QueryResult { series: 1, .. })).then_some(())
    });
    assert!(sent.is_some(), "no successful snapshot send seen by Prometheus");
    deferred.check(&log.phase);
    note(&log, "Prometheus sees the snapshot sent".to_owned());

    // ---- fault 5: a family over its cardinality bound -------------------------------------
    // An application family on n1 keyed by client, bounded at 4 label sets, meets 20 clients.
    log.phase = "cardinality".to_owned();
    let registry = driver.with(|s| s.cluster.registry(1)).expect("n1 registry");
    let info = MetricInfo::new("chronik_e2e_client_requests_total", "Requests per client (bounded at 4 clients).");
    let clients = registry
        .register(FamilySpec::<Counter, 1>::new(vec![info], ["client"], ()).max_series(4))
        .expect("register the bounded family");
    // Two scrapes see its dropped counter at 0 before the overflow, so `increase` sees it rise.
    std::thread::sleep(Duration::from_millis(2500));
    for i in 0..20 {
        clients.get((format!("client-{i}"),)).inc();
    }
    note(&log, "20 clients into a family bounded at 4 label sets on n1".to_owned());
    let missing = log.wait_firing(faults::CARDINALITY, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing after a family overflowed: {missing:?}");

    // ---- deferred panels --------------------------------------------------------------------
    std::thread::sleep(Duration::from_secs(2));
    deferred.check(&log.phase);
    for (_, expr, r) in panel_results.iter_mut().filter(|p| p.2.is_none()) {
        *r = deferred.seen(expr).cloned();
    }
    log.poll();

    // ---- report -----------------------------------------------------------------------------
    let elapsed = t0.elapsed();
    let refused = driver.with(|s| s.proposals_refused);
    drop(driver);
    drop(prom);
    println!("\n==== Prometheus end-to-end report ({:.1}s total) ====", elapsed.as_secs_f64());
    let healthy_with_data = panel_results.len() - deferred.len();
    println!(
        "-- panels: {healthy_with_data}/{} expressions returned series in the healthy phase --",
        panel_results.len()
    );
    let mut by_title: Vec<(String, Vec<String>)> = Vec::new();
    for (title, _, r) in &panel_results {
        let cell = r.as_ref().map_or_else(|| "none".to_owned(), |r| r.series.to_string());
        match by_title.last_mut() {
            Some((t, cells)) if t == title => cells.push(cell),
            _ => by_title.push((title.clone(), vec![cell])),
        }
    }
    let cells: Vec<String> = by_title.iter().map(|(t, c)| format!("{t}: {}", c.join("+"))).collect();
    for row in cells.chunks(3) {
        println!("  {}", row.iter().map(|c| format!("{c:<44}")).collect::<String>().trim_end());
    }
    let still_empty = deferred.still_empty();
    let reason = |expr: &str| NO_DATA_OK.iter().find(|(m, _)| expr.contains(m)).map(|(_, r)| *r);
    for line in deferred.report() {
        println!("  {line}");
    }
    for (title, expr) in &still_empty {
        println!("  {title}: {}", reason(expr).unwrap_or("UNEXPLAINED"));
    }
    println!("-- alerts (t = seconds since Prometheus was ready; rules: for: {FOR}, long windows {WINDOW}) --");
    for name in &all_alerts {
        match (log.firing.get(name), log.pending.get(name)) {
            (Some((at, phase, labels)), _) => println!("  {name:<36} FIRING  at {at:>5.1}s [{phase}] {labels}"),
            (None, pending) => {
                let reason = if faults::SLOW_NODE.contains(&name.as_str()) {
                    "driven by the slow-node scenario"
                } else {
                    "UNEXPLAINED"
                };
                let pending = pending.map_or_else(String::new, |at| format!(" (pending at {at:.1}s)"));
                println!("  {name:<36} not required{pending}: {reason}");
            }
        }
    }
    println!("-- timeline --");
    for line in &timeline {
        println!("  {line}");
    }
    println!("proposals refused (no leader): {refused}");

    let unexplained: Vec<String> = still_empty
        .iter()
        .filter(|(_, expr)| reason(expr).is_none())
        .map(|(title, expr)| format!("{title}: {expr}"))
        .collect();
    assert!(unexplained.is_empty(), "panels without data after every fault:\n{}", unexplained.join("\n"));
    let unaccounted: Vec<&String> = all_alerts
        .iter()
        .filter(|n| !log.firing.contains_key(*n) && !faults::SLOW_NODE.contains(&n.as_str()))
        .collect();
    assert!(unaccounted.is_empty(), "alerts neither fired nor left to the slow-node scenario: {unaccounted:?}");
    assert!(elapsed < Duration::from_secs(180), "took {elapsed:?}");
}

/// Node 3 has a slow disk (every append 600 ms) and a slow state machine (every apply 1.1 s)
/// from before Prometheus' first scrape, so every latency observation Prometheus sees from it is
/// slow: the fsync and apply alerts fire on n3, commit latency on every leader (the single-threaded
/// cluster waits for n3 in every round), and the leaders' round trips (n3's stalls hold up the
/// answers of every peer). Every message is timed here: n3's stalls, in the one thread that
/// runs the cluster, leave it few turns, and with the default one turn in 64 timed the
/// round-trip alert fired 88 s into the 90 s it is given (here, 2026-12-07), or not at all (CI's
/// run the same day); with every turn timed, at about 16 s.
#[test]
fn prometheus_sees_a_slow_node() {
    let Some(_serial) = prometheus_turn() else { return };
    let t0 = Instant::now();
    let driver = Driver::start_with(|c| c.rpc_timing = Sampling::All, |_| {});
    for p in 0..PARTITIONS {
        assert!(driver.wait_leader(p, None, Duration::from_secs(10)).is_some(), "p{p} has no leader");
    }
    driver.with(|s| {
        s.cluster.set_disk_latency(3, Duration::from_millis(600));
        s.cluster.set_apply_latency(3, Duration::from_millis(1100));
    });
    let targets = driver.targets();
    let prom = Prometheus::start(&targets, &compressed_rules());
    let mut log = AlertLog::new(prom.addr, "healthy");
    log.phase = "slow n3".to_owned();
    let missing = log.wait_firing(faults::SLOW_NODE, Duration::from_secs(90));
    let elapsed = t0.elapsed();
    drop(driver);
    drop(prom);
    println!("\n==== slow node: Prometheus end-to-end report ({:.1}s total) ====", elapsed.as_secs_f64());
    for (name, (at, _, labels)) in &log.firing {
        println!("  {name:<36} FIRING  at {at:>5.1}s {labels}");
    }
    assert!(missing.is_empty(), "not firing with a slow n3: {missing:?}");
}
