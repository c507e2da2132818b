//! The raft-rs side of the real-Prometheus end-to-end tests: the cluster served on ephemeral
//! ports and driven in real time, with the faults the scenarios share; the Prometheus harness
//! itself is `raft-metrics-e2e`, re-exported here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft_metrics::http::Endpoints;
use raft_metrics::raft::{Aggregation, HealthThresholds};
pub(crate) use raft_metrics_e2e::*;
use raft_metrics_raftrs::sim::{proposal, Cluster, ClusterConfig, HostStatus};

pub(crate) const NODES: u64 = 3;
pub(crate) const PARTITIONS: u32 = 3;
/// Logical tick length, as in `examples/cluster.rs`.
pub(crate) const TICK: Duration = Duration::from_millis(10);
/// Proposals per partition per tick (200/s per partition).
pub(crate) const PROPOSALS_PER_TICK: u32 = 2;

// ---- the cluster, served -------------------------------------------------------------------

/// The cluster and one `/metrics` server per running node. A crashed node's server is down; a
/// restarted node serves its fresh registry again on the same port.
pub(crate) struct Sim {
    pub(crate) cluster: Cluster,
    pub(crate) endpoints: Endpoints,
    /// Extra proposals to make per partition on the next tick.
    pub(crate) burst: u32,
    pub(crate) key: u16,
    pub(crate) proposals_refused: u64,
    /// Clients that keep proposing to this node although it cannot commit.
    pub(crate) failing_proposals_on: Option<u64>,
}

impl Sim {
    /// Starts, restarts or stops servers to match the cluster. A port still held (a restart
    /// right after a crash) is retried on the next tick.
    pub(crate) fn sync(&mut self) {
        let c = &self.cluster;
        let running = c
            .node_ids()
            .into_iter()
            .filter(|&n| n <= NODES && c.status(n) != Some(HostStatus::Crashed))
            .filter_map(|n| c.registry(n).map(|r| (n, r)));
        self.endpoints.sync(running);
    }

    pub(crate) fn step(&mut self) {
        let per_partition = PROPOSALS_PER_TICK + std::mem::take(&mut self.burst);
        let value = [0x5a_u8; 64];
        for p in 0..PARTITIONS {
            for _ in 0..per_partition {
                self.key = self.key.wrapping_add(1) % 1024;
                if self.cluster.propose(p, proposal(self.key, &value)).is_err() {
                    self.proposals_refused += 1;
                }
            }
        }
        if let Some(node) = self.failing_proposals_on {
            for p in 0..PARTITIONS {
                for _ in 0..10 {
                    // Refused by raft-rs (no leader): counted in proposals_failed.
                    let _ = self.cluster.propose_on(node, p, proposal(0, &value));
                }
            }
        }
        self.cluster.tick();
        self.sync();
    }

    pub(crate) fn follower_of(&self, partition: u32, leader: u64) -> Option<u64> {
        self.cluster.members(partition).into_iter().find(|&n| n != leader && n <= NODES)
    }
}

/// Runs the cluster in real time on a background thread; stops it and its servers on drop.
pub(crate) struct Driver {
    pub(crate) sim: Arc<Mutex<Sim>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

impl Driver {
    /// Starts the cluster, after `setup` (faults from the first tick on).
    pub(crate) fn start(setup: impl FnOnce(&mut Cluster)) -> Self {
        Self::start_with(|_| {}, setup)
    }

    /// Starts the cluster with the scenarios' configuration as `configure` leaves it, after
    /// `setup`.
    pub(crate) fn start_with(configure: impl FnOnce(&mut ClusterConfig), setup: impl FnOnce(&mut Cluster)) -> Self {
        // A burst ends after the compressed rules' long window ([30s]), as in production after
        // the rules' 15 minutes.
        let health = HealthThresholds { burst_window_millis: 30_000, ..HealthThresholds::default() };
        let mut config = ClusterConfig {
            nodes: NODES,
            partitions: PARTITIONS,
            aggregation: Aggregation::Partition,
            health,
            ..ClusterConfig::default()
        };
        configure(&mut config);
        let mut cluster = Cluster::new(config).expect("cluster");
        setup(&mut cluster);
        let mut sim = Sim {
            cluster,
            endpoints: Endpoints::new(SocketAddr::from(([127, 0, 0, 1], 0))),
            burst: 0,
            key: 0,
            proposals_refused: 0,
            failing_proposals_on: None,
        };
        sim.sync();
        assert_eq!(sim.endpoints.serving(), NODES as usize, "every node serves");
        let sim = Arc::new(Mutex::new(sim));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&sim), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now();
            // Relaxed: the flag publishes nothing else.
            while !st.load(Ordering::Relaxed) {
                lock(&s).step();
                next += TICK;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        });
        Self { sim, stop, thread: Some(thread) }
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Sim) -> T) -> T {
        f(&mut lock(&self.sim))
    }

    pub(crate) fn targets(&self) -> Vec<String> {
        self.with(|s| s.endpoints.ports().values().map(|p| format!("127.0.0.1:{p}")).collect())
    }

    /// Fault 1 of the scenarios: pauses n3 (its followers fall behind, a burst making the entry
    /// lag > 5000; sends to it fail; the partition it led elects a new leader while the paused,
    /// still exported node keeps claiming leadership) and stalls n2's apply.
    pub(crate) fn pause_n3_and_stall_n2(&self) {
        self.with(|s| {
            s.cluster.pause(3);
            s.cluster.stall_apply(2, true);
        });
        for _ in 0..4 {
            self.with(|s| s.burst = 2000);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends fault 1 and waits (bounded) until n3 has caught up.
    pub(crate) fn resume_n3_and_catch_up(&self) {
        self.with(|s| {
            s.cluster.resume(3);
            s.cluster.stall_apply(2, false);
        });
        let caught_up = wait_for(Duration::from_secs(15), || {
            self.with(|s| (0..PARTITIONS).all(|p| s.cluster.max_lag(p).is_some_and(|(_, lag)| lag < 500)).then_some(()))
        });
        assert!(caught_up.is_some(), "n3 did not catch up");
    }

    /// Fault 2: p0's leader proposes adding a node 4 (the entry stays uncommitted in its log
    /// alone: a stuck configuration change), then the two other nodes crash; with
    /// `failing_proposals`, clients keep proposing to the lone node and are refused. Returns
    /// the lone node.
    pub(crate) fn crash_all_but_p0_leader(&self, failing_proposals: bool) -> u64 {
        self.with(|s| {
            let lone = s.cluster.leader(0).expect("p0 leader");
            s.cluster.add_node(0, NODES + 1).expect("propose adding node 4 to p0");
            for n in (1..=NODES).filter(|&n| n != lone) {
                s.cluster.crash(n);
            }
            s.failing_proposals_on = failing_proposals.then_some(lone);
            lone
        })
    }

    /// Ends fault 2: restarts every node but `lone` and waits (bounded) for every leader.
    pub(crate) fn restart_all_but(&self, lone: u64) {
        self.with(|s| {
            s.failing_proposals_on = None;
            for n in (1..=NODES).filter(|&n| n != lone) {
                s.cluster.restart(n).expect("restart");
            }
        });
        for p in 0..PARTITIONS {
            assert!(self.wait_leader(p, None, Duration::from_secs(10)).is_some(), "p{p} has no leader after restart");
        }
    }

    /// Fault 3: crashes p0's leader `rounds` times, restarting it each time, 1.2 s apart (every
    /// member sees a leader change per round), telling `round_done` about each.
    pub(crate) fn churn_p0_leader(&self, rounds: usize, mut round_done: impl FnMut(String)) {
        for round in 0..rounds {
            let leader = self.wait_leader(0, None, Duration::from_secs(5)).expect("p0 leader");
            self.with(|s| s.cluster.crash(leader));
            let next = self.wait_leader(0, Some(leader), Duration::from_secs(5));
            self.with(|s| s.cluster.restart(leader).expect("restart"));
            round_done(format!("churn {round}: crash n{leader} (p0 leader) -> n{}, restart", next.unwrap_or(0)));
            std::thread::sleep(Duration::from_millis(1200));
        }
    }

    /// Fault 4: a follower of p1 paused behind a compaction of its leader's log must catch up
    /// from a snapshot, and every snapshot sent to it fails. Returns (leader, follower).
    pub(crate) fn fail_snapshots_to_a_p1_follower(&self) -> (u64, u64) {
        let (leader, follower) = self.with(|s| {
            let l = s.cluster.leader(1).expect("p1 leader");
            (l, s.follower_of(1, l).expect("p1 follower"))
        });
        self.with(|s| s.cluster.pause(follower));
        std::thread::sleep(Duration::from_millis(1500));
        self.with(|s| {
            s.cluster.compact(leader, 1, 0).expect("compact");
            s.cluster.fail_snapshots_to(follower, true);
            s.cluster.resume(follower);
        });
        (leader, follower)
    }

    /// Waits (bounded) until `partition` has a leader other than `not`.
    pub(crate) fn wait_leader(&self, partition: u32, not: Option<u64>, timeout: Duration) -> Option<u64> {
        wait_for(timeout, || self.with(|s| s.cluster.leader(partition).filter(|&l| Some(l) != not)))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        lock(&self.sim).endpoints.shutdown();
    }
}
