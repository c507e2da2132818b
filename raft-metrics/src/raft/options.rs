//! How the Raft schema is registered: its namespace and how partition-level series are exported.

use super::{HealthThresholds, NAMESPACE};

/// How partition-level metrics are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// One series per partition (and per peer): the default.
    #[default]
    Partition,
    /// One node-wide series ([`AggregatedMetrics`](super::AggregatedMetrics)), for nodes with
    /// thousands of partitions: counters and histograms fold across partitions, follower and
    /// apply lag become distributions. The guide's per-partition gauge calls (term, indices, sizes) record
    /// nothing in this mode; pre-bound partition and peer handles still work but record into a
    /// private registry that is not exported.
    Node,
    /// For nodes with thousands of partitions whose alerts must still name the partition: the
    /// gauges of each partition and peer that is unhealthy at the time of the scrape
    /// ([`HealthThresholds`]), under their per-partition names; every counter and histogram
    /// folded at scrape time per node, or per topic ([`RaftOptions::fold_by_topic`]); the
    /// aggregate's partition counts and lag distributions. Partition and peer series record as
    /// in per-partition mode, once; a scrape decides from their values what to write.
    Unhealthy,
}

/// Where and how the Raft schema is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftOptions {
    /// Prefix of every name (default `chronik_raft`).
    pub namespace: String,
    /// Per-partition or node-wide series.
    pub aggregation: Aggregation,
    /// What counts as unhealthy in [`Aggregation::Unhealthy`] (unused otherwise).
    pub health: HealthThresholds,
    /// In [`Aggregation::Unhealthy`], fold counters and histograms per topic (a `topic` label)
    /// rather than per node (unused otherwise).
    pub fold_by_topic: bool,
}

impl Default for RaftOptions {
    fn default() -> Self {
        Self {
            namespace: NAMESPACE.to_owned(),
            aggregation: Aggregation::Partition,
            health: HealthThresholds::default(),
            fold_by_topic: false,
        }
    }
}
