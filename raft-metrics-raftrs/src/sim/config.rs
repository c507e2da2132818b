//! [`ClusterConfig`]: the shape of a simulated cluster and its replicas' Raft settings.

use raft_metrics::raft::{Aggregation, HealthThresholds, RaftOptions};
use raft_metrics::Sampling;

use crate::{InSync, Ticks, DEFAULT_IDLE_PUBLISH_EVERY, DEFAULT_RPC_TIMING, DEFAULT_TIMING, DEFAULT_TIMING_BUDGET};

/// The shape and Raft settings of a [`Cluster`](super::Cluster).
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Initial voters, with ids `1..=nodes`.
    pub nodes: u64,
    /// Raft groups, each replicated on every initial node.
    pub partitions: u32,
    /// The `topic` label of every group.
    pub topic: String,
    /// raft-rs `election_tick`; replica timeouts are staggered above it.
    pub election_tick: usize,
    /// raft-rs `heartbeat_tick`.
    pub heartbeat_tick: usize,
    /// raft-rs `pre_vote`.
    pub pre_vote: bool,
    /// raft-rs `check_quorum`.
    pub check_quorum: bool,
    /// raft-rs `max_size_per_msg`.
    pub max_size_per_msg: u64,
    /// raft-rs `max_inflight_msgs`.
    pub max_inflight_msgs: usize,
    /// When a follower counts in `isr_size`.
    pub in_sync: InSync<Ticks>,
    /// Per-partition series (the default) or the node-wide aggregate.
    pub aggregation: Aggregation,
    /// What counts as unhealthy in `Aggregation::Unhealthy` (bursts' window included).
    pub health: HealthThresholds,
    /// `false`: every replica is built with
    /// [`InstrumentedNode::with_recording`](crate::InstrumentedNode::with_recording)`(false)` and
    /// the driver skips its own clock reads (message send times, apply durations), so the loop
    /// runs as plain raft-rs. Registries and series are still created. For overhead benchmarks;
    /// default `true`.
    pub recording: bool,
    /// Every replica's [`InstrumentedNode::with_timing`](crate::InstrumentedNode::with_timing);
    /// default [`DEFAULT_TIMING`] (1 turn in 8). `Sampling::All` makes every duration histogram
    /// count exactly.
    pub timing: Sampling,
    /// Every replica's [`InstrumentedNode::with_rpc_timing`](crate::InstrumentedNode::with_rpc_timing);
    /// default [`DEFAULT_RPC_TIMING`] (the messages of 1 turn in 64). `Sampling::All` times
    /// every message.
    pub rpc_timing: Sampling,
    /// Every replica's
    /// [`InstrumentedNode::with_timing_budget`](crate::InstrumentedNode::with_timing_budget);
    /// default [`DEFAULT_TIMING_BUDGET`] (8 timed turns per tick for a busy group).
    pub timing_budget: u32,
    /// Every replica's
    /// [`InstrumentedNode::with_idle_publish_every`](crate::InstrumentedNode::with_idle_publish_every);
    /// default [`DEFAULT_IDLE_PUBLISH_EVERY`] (an idle group publishes at least every 10 ticks).
    pub idle_publish_every: u32,
    /// Every replica's
    /// [`InstrumentedNode::with_busy_publish_every`](crate::InstrumentedNode::with_busy_publish_every);
    /// default `None`, the wrapper's default for the export mode (1 per partition, 10 in the
    /// large-node modes).
    pub busy_publish_every: Option<u32>,
}

impl Default for ClusterConfig {
    /// Three nodes, one partition of topic `orders`, election after 10 ticks, heartbeat every 2,
    /// pre-vote and check-quorum on.
    fn default() -> Self {
        Self {
            nodes: 3,
            partitions: 1,
            topic: "orders".to_owned(),
            election_tick: 10,
            heartbeat_tick: 2,
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            in_sync: InSync::default(),
            aggregation: Aggregation::Partition,
            health: HealthThresholds::default(),
            recording: true,
            timing: DEFAULT_TIMING,
            rpc_timing: DEFAULT_RPC_TIMING,
            timing_budget: DEFAULT_TIMING_BUDGET,
            idle_publish_every: DEFAULT_IDLE_PUBLISH_EVERY,
            busy_publish_every: None,
        }
    }
}

impl ClusterConfig {
    /// The options every node registers its Raft metrics with.
    pub(super) fn raft_options(&self) -> RaftOptions {
        RaftOptions { aggregation: self.aggregation, health: self.health, ..RaftOptions::default() }
    }
}
