//! The group's identity (topic, partition, the metrics its handles are bound from) and the
//! series that every state of the wrapper records into.

use raft_metrics::raft::{AggregatedMetrics, Aggregation, PartitionMetrics, RaftMetrics};
use raft_metrics::Handle;

use super::series::Series;

/// What every state of the wrapper shares: the group's labels and its partition series.
///
/// The states own their other series (peers, snapshot transfers, RPC targets, ...); the
/// partition series is one claim, so it lives here and is lent to each state's methods.
pub(super) struct GroupSeries {
    /// The families new peers, RPC targets and configuration-change kinds are bound from.
    pub(super) metrics: RaftMetrics,
    pub(super) topic: String,
    pub(super) partition: u32,
    /// The group's partition series as the user sees it
    /// ([`InstrumentedNode::metrics`](super::InstrumentedNode::metrics)).
    pub(super) handle: Handle<PartitionMetrics>,
    /// The same series as the wrapper records into it (claimed when possible: see
    /// [`series`](super::series)).
    pub(super) series: Series<PartitionMetrics>,
    /// The node-wide aggregate, in `Aggregation::Node` mode (where the partition and peer series
    /// are not exported) and `Aggregation::Unhealthy` (partition counts and lag distributions).
    agg: Option<Handle<AggregatedMetrics>>,
    /// `Aggregation::Node`: events are also counted in the aggregate (unhealthy-only mode folds
    /// the partition series at scrape time instead).
    counts_node_wide: bool,
}

impl GroupSeries {
    pub(super) fn new(metrics: &RaftMetrics, topic: &str, partition: u32) -> Self {
        Self {
            metrics: metrics.clone(),
            topic: topic.to_owned(),
            partition,
            handle: metrics.partition(topic, partition),
            series: Series::new(metrics.partition(topic, partition), metrics.claim_partition(topic, partition)),
            agg: metrics.families().aggregated.clone(),
            counts_node_wide: metrics.families().aggregation == Aggregation::Node,
        }
    }

    /// The node-wide aggregate, for what only it exports: partition counts, lag distributions.
    #[inline]
    pub(super) fn agg(&self) -> Option<&AggregatedMetrics> {
        self.agg.as_deref()
    }

    /// The node-wide aggregate where events are counted in it too (`Aggregation::Node`).
    #[inline]
    pub(super) fn node_wide(&self) -> Option<&AggregatedMetrics> {
        self.agg.as_deref().filter(|_| self.counts_node_wide)
    }
}
