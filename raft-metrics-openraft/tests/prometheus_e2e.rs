//! End to end against a real Prometheus: a live openraft `sim::Cluster` (3 nodes × 3
//! partitions, writes started every 10 ms), every node's registry served on its own ephemeral
//! 127.0.0.1 port, scraped every second by `/usr/bin/prometheus` evaluating a time-compressed
//! copy of `docs/alerts/chronik_raft_alerts.yml` (`tests/support/prom.rs`).
//!
//! The scenario: a healthy phase (every dashboard expression returns series, no alert fires),
//! then one fault at a time, checking through Prometheus' HTTP API that the alerts meant for the
//! fault reach `firing`. A second scenario (its own cluster and Prometheus) starts with slow
//! disks, a slow state machine and a slow link, so the latency alerts fire. Between them every
//! alert of the rule file fires: openraft 0.9 feeds each one (see the crate docs for the few
//! series it cannot feed; none of them is an alert's input).
//!
//! Skipped with a message when `/usr/bin/prometheus` is missing, unless `CI` is set (then it
//! fails). Every wait is bounded; Prometheus is killed and its directory removed on drop.
//!
//! ```text
//! cargo test -p raft-metrics-openraft --test prometheus_e2e -- --nocapture
//! ```

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft_metrics::{Counter, FamilySpec, MetricInfo};
use raft_metrics_openraft::sim::{Cluster, ClusterConfig, Exporters};

use support::prom::{
    alert_names, compressed_rules, dashboard_panels, faults, lock, prometheus_turn, query, wait_for, AlertLog,
    DeferredPanels, Prometheus, QueryResult, FOR, WINDOW,
};

const NODES: u64 = 3;
const PARTITIONS: u32 = 3;
/// The driver's period.
const STEP: Duration = Duration::from_millis(10);
/// Writes started per partition per step (200/s per partition).
const WRITES_PER_STEP: u64 = 2;
/// The node added as a learner in fault 2 (there is no such node: it never catches up).
const LEARNER: u64 = 9;
/// How long a client waits for a write.
const WRITE_TIMEOUT: Duration = Duration::from_millis(500);

/// The cluster, its endpoints and the load.
struct Sim {
    cluster: Cluster,
    exporters: Exporters,
    key: u64,
    /// Clients that write to this node although it cannot commit.
    failing_writes_on: Option<u64>,
}

impl Sim {
    fn step(&mut self) {
        for p in 0..PARTITIONS {
            self.key += self.cluster.propose_async(p, None, self.key, WRITES_PER_STEP, WRITE_TIMEOUT);
            if let Some(node) = self.failing_writes_on {
                self.key += self.cluster.propose_async(p, Some(node), self.key, 5, WRITE_TIMEOUT);
            }
        }
        self.exporters.sync(&self.cluster);
    }

    /// A burst of `n` writes to every partition's leader (waiting up to a minute each).
    fn burst(&mut self, n: u64) {
        for p in 0..PARTITIONS {
            self.key += self.cluster.propose_async(p, None, self.key, n, Duration::from_secs(60));
        }
    }

    fn follower_of(&self, p: u32, leader: u64) -> Option<u64> {
        self.cluster.voters(p).into_iter().find(|&n| n != leader && n <= NODES)
    }
}

/// Runs the cluster's load on a background thread; stops it and the endpoints on drop.
struct Driver {
    sim: Arc<Mutex<Sim>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Driver {
    fn start(config: ClusterConfig, setup: impl FnOnce(&mut Sim)) -> Self {
        let cluster = Cluster::new(config).expect("cluster");
        let mut sim = Sim { cluster, exporters: Exporters::new(0), key: 0, failing_writes_on: None };
        setup(&mut sim);
        sim.exporters.sync(&sim.cluster);
        assert_eq!(sim.exporters.serving(), NODES as usize, "every node serves");
        let sim = Arc::new(Mutex::new(sim));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&sim), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            // Relaxed: the flag publishes nothing else.
            while !st.load(Ordering::Relaxed) {
                lock(&s).step();
                std::thread::sleep(STEP);
            }
        });
        Self { sim, stop, thread: Some(thread) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Sim) -> T) -> T {
        f(&mut lock(&self.sim))
    }

    fn targets(&self) -> Vec<String> {
        self.with(|s| s.exporters.ports().values().map(|p| format!("127.0.0.1:{p}")).collect())
    }

    /// Waits for a leader of `p` (other than `not`) that every reachable member follows: right
    /// after a heal the old leader still leads for a moment, until the rejoining node's higher
    /// term reaches it (a fault chosen from that moment found no leader when it began).
    fn wait_leader(&self, p: u32, not: Option<u64>, timeout: Duration) -> Option<u64> {
        wait_for(timeout, || self.with(|s| s.cluster.agreed_leader(p).filter(|&l| Some(l) != not)))
    }

    /// Moves `p`'s leadership away from `from`, by `to`'s campaigns.
    ///
    /// One campaign may not be enough: the voters' leader lease rejects it (openraft 0.9's
    /// `handle_vote_req`), its higher term makes `from` step down, and then `from`, whose log is
    /// the longest (the writes never stop), can win the next election (CI saw p0 keep its
    /// leader for 10 s after one campaign). So `from`'s election timer is off until another
    /// node leads, and `to` campaigns again every 2 s. Returns the new leader and the campaigns
    /// it took.
    fn move_leader(&self, p: u32, from: u64, to: u64, timeout: Duration) -> Option<(u64, u32)> {
        self.with(|s| s.cluster.set_elect(from, p, false));
        let deadline = Instant::now() + timeout;
        let (mut moved, mut campaigns) = (None, 0);
        while moved.is_none() && Instant::now() < deadline {
            // A refused trigger (`to` busy restarting a campaign) is retried like a lost one.
            let _ = self.with(|s| s.cluster.elect(to, p));
            campaigns += 1;
            moved = self.wait_leader(p, Some(from), Duration::from_secs(2));
        }
        self.with(|s| s.cluster.set_elect(from, p, true));
        moved.map(|l| (l, campaigns))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        lock(&self.sim).exporters.shutdown();
    }
}

fn alert_log(prom: &Prometheus, phase: &str) -> AlertLog {
    AlertLog::new(prom.addr, phase)
}

#[test]
#[allow(clippy::too_many_lines)] // one scenario, read top to bottom
fn prometheus_scrapes_the_cluster_and_the_alerts_fire() {
    let Some(_serial) = prometheus_turn() else { return };
    let t0 = Instant::now();
    let rules = compressed_rules();
    let all_alerts = alert_names(&rules);
    let panels = dashboard_panels();

    // Partition p starts led by node 1 + p: n3 leads p2 (isolated, a stale leader there) and
    // follows p0 and p1.
    let config = ClusterConfig { nodes: NODES, partitions: PARTITIONS, ..ClusterConfig::default() };
    let driver = Driver::start(config, |s| assert_eq!(s.cluster.leader(2), Some(3), "n3 leads p2"));
    let prom = Prometheus::start(&driver.targets(), &rules);
    let mut log = alert_log(&prom, "healthy");
    let all_up = format!("count(up == 1) == {NODES}");
    let up = wait_for(Duration::from_secs(15), || {
        matches!(query(prom.addr, &all_up), Ok(QueryResult { series: 1, .. })).then_some(())
    });
    assert!(up.is_some(), "not every target up within 15 s; log:\n{}", prom.log());
    println!("[{:>5.1}s] Prometheus ready, {NODES} targets up", t0.elapsed().as_secs_f64());

    // ---- healthy: 20 s without alerts, then every panel expression returns series ----------
    let healthy_until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < healthy_until {
        let firing = log.poll();
        assert!(firing.is_empty(), "alerts firing in the healthy phase: {firing:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
    // A series labelled by an event's kind (snapshot trigger, configuration change, RPC error
    // type) appears with its first event: those panels are checked again after the faults.
    let mut empty = Vec::new();
    for (title, expr) in &panels {
        let r = query(prom.addr, expr).unwrap_or_else(|e| panic!("panel {title:?}: {expr}: {e}"));
        assert!(matches!(r.result_type.as_str(), "vector" | "matrix" | "scalar"), "panel {title:?}: {expr}");
        if r.series == 0 {
            empty.push((title.clone(), expr.clone()));
        }
    }
    let mut deferred = DeferredPanels::new(prom.addr, empty);
    let firing = log.poll();
    assert!(firing.is_empty(), "alerts firing in the healthy phase: {firing:?}");
    println!(
        "[{:>5.1}s] healthy: {}/{} panel expressions return series, {} deferred to the faults; no alert",
        t0.elapsed().as_secs_f64(),
        panels.len() - deferred.len(),
        panels.len(),
        deferred.len()
    );

    // ---- fault 1: isolate n3, stall n2's apply ---------------------------------------------
    // p2 elects a new leader while isolated n3 still claims it (two leaders); n3 falls behind
    // the other leaders by a burst (> 5000 entries) and for > 30 s; sends to it fail; n2's
    // apply lag stays above 1000 entries for the whole window.
    log.phase = "isolate n3".to_owned();
    driver.with(|s| {
        s.cluster.isolate(3, true);
        s.cluster.stall_apply(2, true);
    });
    assert!(driver.wait_leader(2, Some(3), Duration::from_secs(10)).is_some(), "p2 elected no new leader");
    driver.with(|s| s.burst(6000));
    let missing = log.wait_firing(faults::NODE_CUT_OFF, Duration::from_secs(70));
    assert!(missing.is_empty(), "not firing while n3 is isolated: {missing:?}");
    deferred.check(&log.phase);
    driver.with(|s| {
        s.cluster.isolate(3, false);
        s.cluster.stall_apply(2, false);
    });
    println!("[{:>5.1}s] fault 1 done: heal n3, n2 applies again", t0.elapsed().as_secs_f64());
    for p in 0..PARTITIONS {
        assert!(driver.wait_leader(p, None, Duration::from_secs(10)).is_some(), "p{p}: no leader after healing");
    }

    // ---- fault 2: crash the two nodes other than a leader -----------------------------------
    // The lone node leads one partition and follows another. Right after, it starts adding a
    // learner to the partition it leads: the entry cannot commit (a stuck configuration
    // change). Writes to it time out (where it leads) or are refused (where it follows: that
    // group has no leader, the lone node campaigns alone), and too few members report.
    // Fault 2 needs a node that leads some partitions and not others; fault 1's elections can
    // leave one node leading them all, and then another node takes partition 0.
    let leaders: Vec<Option<u64>> = driver.with(|s| (0..PARTITIONS).map(|p| s.cluster.leader(p)).collect());
    if let Some(only) = leaders[0].filter(|_| leaders.iter().all(|l| *l == leaders[0])) {
        let other = if only == 1 { 2 } else { 1 };
        let next = driver.move_leader(0, only, other, Duration::from_secs(30));
        let (next, campaigns) = next.unwrap_or_else(|| panic!("p0 kept its leader n{only} for 30 s"));
        println!(
            "[{:>5.1}s] n{only} led every partition: n{next} takes p0 ({campaigns} campaigns of n{other})",
            t0.elapsed().as_secs_f64()
        );
    }
    log.phase = "crash 2 of 3".to_owned();
    let (lone, led) = driver.with(|s| {
        let leaders: Vec<Option<u64>> = (0..PARTITIONS).map(|p| s.cluster.leader(p)).collect();
        let (lone, led) = (1..=NODES)
            .find_map(|n| {
                let led: Vec<u32> = (0..PARTITIONS).filter(|&p| leaders[p as usize] == Some(n)).collect();
                (!led.is_empty() && led.len() < PARTITIONS as usize).then(|| (n, led[0]))
            })
            .unwrap_or_else(|| panic!("one node leads every partition: {leaders:?}"));
        for n in (1..=NODES).filter(|&n| n != lone) {
            s.cluster.crash(n);
        }
        // After the crash, so that the entry cannot reach a quorum (before it, it commits in
        // milliseconds).
        s.cluster.add_learner_async(led, LEARNER).expect("start adding a learner");
        s.failing_writes_on = Some(lone);
        (lone, led)
    });
    println!(
        "[{:>5.1}s] crash the two nodes other than n{lone}; it adds a learner to p{led}",
        t0.elapsed().as_secs_f64()
    );
    let missing = log.wait_firing(faults::TWO_OF_THREE_DOWN, Duration::from_secs(30));
    assert!(missing.is_empty(), "not firing with 2 of 3 nodes down: {missing:?}");
    deferred.check(&log.phase);
    driver.with(|s| {
        s.failing_writes_on = None;
        for n in (1..=NODES).filter(|&n| n != lone) {
            s.cluster.restart(n).expect("restart");
        }
    });
    for p in 0..PARTITIONS {
        assert!(driver.wait_leader(p, None, Duration::from_secs(10)).is_some(), "p{p}: no leader after restart");
    }
    // The stuck change commits once the crashed nodes are back, unless they elected one of
    // themselves first (their two votes are a quorum) and the new leader dropped the entry it
    // never had: then the change is made again, so the configuration-change panel has data
    // either way.
    let learner_applied = || {
        driver
            .with(|s| {
                (1..=NODES).any(|n| {
                    s.cluster
                        .state_machine(n, led)
                        .is_some_and(|sm| sm.data().membership.membership().learner_ids().any(|l| l == LEARNER))
                })
            })
            .then_some(())
    };
    if wait_for(Duration::from_secs(5), learner_applied).is_none() {
        driver.with(|s| s.cluster.add_learner_async(led, LEARNER)).expect("add the learner again");
        assert!(wait_for(Duration::from_secs(10), learner_applied).is_some(), "p{led}: learner never applied");
        println!(
            "[{:>5.1}s] the new leader of p{led} dropped the stuck change: made again",
            t0.elapsed().as_secs_f64()
        );
    }

    // ---- fault 3: leader churn on p0 ---------------------------------------------------------
    log.phase = "leader churn p0".to_owned();
    for round in 0..5 {
        let leader = driver.wait_leader(0, None, Duration::from_secs(5)).expect("p0 leader");
        driver.with(|s| s.cluster.crash(leader));
        let next = driver.wait_leader(0, Some(leader), Duration::from_secs(5));
        driver.with(|s| s.cluster.restart(leader).expect("restart"));
        println!("[{:>5.1}s] churn {round}: crash n{leader} -> n{}", t0.elapsed().as_secs_f64(), next.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(1200));
    }
    let missing = log.wait_firing(faults::LEADER_CHURN, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing after 5 leader crashes: {missing:?}");
    deferred.check(&log.phase);

    // ---- fault 4: snapshots to a follower fail ----------------------------------------------
    log.phase = "snapshots".to_owned();
    // The churn crashed every node in turn, in every partition: p1's leader is waited for.
    let l1 = driver.wait_leader(1, None, Duration::from_secs(10)).expect("p1 leader");
    let f1 = driver.with(|s| s.follower_of(1, l1)).expect("p1 follower");
    driver.with(|s| s.cluster.isolate(f1, true));
    std::thread::sleep(Duration::from_millis(1500));
    driver.with(|s| {
        s.cluster.snapshot(l1, 1).expect("snapshot");
        s.cluster.fail_snapshots_to(f1, true);
        s.cluster.isolate(f1, false);
    });
    println!("[{:>5.1}s] n{f1} behind a snapshot of n{l1}/p1; sends to it fail", t0.elapsed().as_secs_f64());
    let missing = log.wait_firing(faults::SNAPSHOTS_FAIL, Duration::from_secs(30));
    assert!(missing.is_empty(), "not firing while snapshots to n{f1} fail: {missing:?}");
    driver.with(|s| s.cluster.fail_snapshots_to(f1, false));
    let sent = wait_for(Duration::from_secs(15), || {
        let q = r#"sum(increase(chronik_raft_snapshot_transfers_total{direction="send",result="success"}[1m])) > 0"#;
        matches!(query(prom.addr, q), Ok(QueryResult { series: 1, .. })).then_some(())
    });
    assert!(sent.is_some(), "no successful snapshot send seen by Prometheus");
    deferred.check(&log.phase);

    // ---- fault 5: a family over its cardinality bound ---------------------------------------
    log.phase = "cardinality".to_owned();
    let registry = driver.with(|s| s.cluster.registry(1)).expect("n1 registry");
    let info = MetricInfo::new("chronik_e2e_client_requests_total", "Requests per client (bounded at 4 clients).");
    let clients = registry
        .register(FamilySpec::<Counter, 1>::new(vec![info], ["client"], ()).max_series(4))
        .expect("register the bounded family");
    std::thread::sleep(Duration::from_millis(2500)); // two scrapes see the dropped count at 0
    for i in 0..20 {
        clients.get((format!("client-{i}"),)).inc();
    }
    let missing = log.wait_firing(faults::CARDINALITY, Duration::from_secs(20));
    assert!(missing.is_empty(), "not firing after a family overflowed: {missing:?}");

    // ---- deferred panels -------------------------------------------------------------------
    deferred.check(&log.phase);
    for line in deferred.report() {
        println!("  {line}");
    }
    let still_empty: Vec<String> =
        deferred.still_empty().iter().map(|(title, expr)| format!("{title}: {expr}")).collect();

    // ---- report ---------------------------------------------------------------------------
    let elapsed = t0.elapsed();
    drop(driver);
    drop(prom);
    println!("\n==== openraft: Prometheus end-to-end report ({:.1}s total) ====", elapsed.as_secs_f64());
    println!("-- alerts (t = seconds since Prometheus was ready; rules: for: {FOR}, long windows {WINDOW}) --");
    for name in &all_alerts {
        match log.firing.get(name) {
            Some((at, phase, labels)) => println!("  {name:<36} FIRING  at {at:>5.1}s [{phase}] {labels}"),
            None => println!("  {name:<36} left to the slow-node scenario"),
        }
    }
    let unaccounted: Vec<&String> = all_alerts
        .iter()
        .filter(|n| !log.firing.contains_key(*n) && !faults::SLOW_NODE.contains(&n.as_str()))
        .collect();
    assert!(unaccounted.is_empty(), "alerts neither fired nor left to the slow-node scenario: {unaccounted:?}");
    assert!(still_empty.is_empty(), "panels without data after every fault:\n{}", still_empty.join("\n"));
    assert!(elapsed < Duration::from_secs(240), "took {elapsed:?}");
}

/// n1 leads every partition; slow disks on n2 and n3 (every append 600 ms), a slow state
/// machine on n3 (every apply 1.1 s) and a slow link to n3 (200 ms), from before Prometheus'
/// first scrape: the fsync and apply alerts fire on them, commit latency on n1 (its quorum needs
/// a slow follower), and the round trip from n1 to n3. openraft 0.9 drops an AppendEntries that takes longer than the heartbeat
/// interval, so the heartbeat is 1 s here (elections 3–6 s): a 600 ms fsync must still be
/// acknowledged.
#[test]
fn prometheus_sees_a_slow_node() {
    let Some(_serial) = prometheus_turn() else { return };
    let t0 = Instant::now();
    let config = ClusterConfig {
        nodes: NODES,
        partitions: PARTITIONS,
        heartbeat: Duration::from_secs(1),
        election_timeout: Duration::from_secs(3),
        spread_leaders: false,
        ..ClusterConfig::default()
    };
    let driver = Driver::start(config, |s| {
        s.cluster.set_disk_latency(2, Duration::from_millis(600));
        s.cluster.set_disk_latency(3, Duration::from_millis(600));
        s.cluster.set_apply_latency(3, Duration::from_millis(1100));
        s.cluster.set_link_latency(3, Duration::from_millis(200));
    });
    let prom = Prometheus::start(&driver.targets(), &compressed_rules());
    let mut log = alert_log(&prom, "slow n2, n3");
    let missing = log.wait_firing(faults::SLOW_NODE, Duration::from_secs(90));
    let elapsed = t0.elapsed();
    drop(driver);
    drop(prom);
    println!("\n==== openraft slow node: Prometheus end-to-end report ({:.1}s total) ====", elapsed.as_secs_f64());
    for (name, (at, _, labels)) in &log.firing {
        println!("  {name:<36} FIRING  at {at:>5.1}s {labels}");
    }
    assert!(missing.is_empty(), "not firing with slow n2 and n3: {missing:?}");
}
