//! The raft-rs ready loop workload of the overhead benches (`benches/raft_loop.rs`,
//! `benches/raft_loop_instructions.rs`): a 3-node, 1-partition [`Cluster`] (deterministic,
//! single-threaded, no sleeps) driving [`PROPOSALS`] proposals, with every integration point of
//! `raft-metrics-raftrs` recording, or the identical loop with recording off
//! (`ClusterConfig::recording = false`: the wrapper only forwards to raft-rs).

use std::hint::black_box;

use raft_metrics::Format;
use raft_metrics_raftrs::sim::{Cluster, ClusterConfig};

/// Proposals per run of the loop.
pub const PROPOSALS: usize = 2_000;
/// Bytes of each proposal's payload.
pub const PAYLOAD: usize = 16;
/// Scrape interval the scrape budget assumes, in seconds.
pub const SCRAPE_INTERVAL_SECS: f64 = 15.0;

/// How the proposals arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One proposal per round (small entries at a high rate): 2,000 rounds.
    PerRound,
    /// 100 proposals per round (batched): 20 rounds.
    Batched,
}

impl Shape {
    /// Both shapes.
    pub const ALL: [Self; 2] = [Self::PerRound, Self::Batched];

    /// Proposals per round.
    pub fn per_round(self) -> usize {
        match self {
            Self::PerRound => 1,
            Self::Batched => 100,
        }
    }

    /// The benchmark id.
    pub fn name(self) -> &'static str {
        match self {
            Self::PerRound => "one_per_round",
            Self::Batched => "batched_100",
        }
    }
}

/// A 3-node cluster with an elected leader for partition 0, recording or not.
///
/// # Panics
///
/// If raft-rs refuses the configuration or no leader is elected within 200 ticks.
pub fn cluster(recording: bool) -> Cluster {
    let mut cluster = Cluster::new(ClusterConfig { recording, ..ClusterConfig::default() }).expect("cluster");
    assert!(cluster.run_until(200, |c| c.leader(0).is_some()), "no leader elected");
    // Let the election's aftermath (the leader's empty entry, its commit) settle.
    cluster.run(5);
    cluster
}

/// The loop: per round, `shape.per_round()` proposals to the leader, then one tick of every
/// replica and a settle (every ready handled, every message delivered). Returns the commit
/// index so the work cannot be optimised away.
///
/// # Panics
///
/// If the leader refuses a proposal.
pub fn run(cluster: &mut Cluster, shape: Shape) -> u64 {
    let payload = [7u8; PAYLOAD];
    for _ in 0..PROPOSALS / shape.per_round() {
        for _ in 0..shape.per_round() {
            cluster.propose(0, black_box(payload).to_vec()).expect("proposal");
        }
        cluster.tick();
    }
    cluster.commit_index(0)
}

/// One full scrape of every node's registry (what a Prometheus scraping all 3 nodes asks for):
/// the bytes encoded.
pub fn scrape_all(cluster: &Cluster, buf: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for node in cluster.node_ids() {
        let registry = cluster.registry(node).expect("node");
        buf.clear();
        registry.encode(Format::Prometheus, buf);
        total += buf.len();
    }
    total
}
