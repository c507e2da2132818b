//! [`Families`]: the Raft schema's families registered in a registry, exported as the
//! [`Aggregation`] asks (per partition, node-wide, or unhealthy partitions only).

use super::{
    burst, health, AggregatedMetrics, Aggregation, ConfigChangeMetrics, ConfigChangeMetricsFamily, NodeMetrics,
    NodeMetricsFamily, PartitionMetrics, PartitionMetricsFamily, PeerMetrics, PeerMetricsFamily, RaftOptions,
    ReplicaMetrics, ReplicaMetricsFamily, RpcErrorMetrics, RpcErrorMetricsFamily, RpcMetrics, RpcMetricsFamily,
    SnapshotCreateMetrics, SnapshotCreateMetricsFamily, SnapshotTransferMetrics, SnapshotTransferMetricsFamily,
};
use crate::family::Export;
use crate::{Handle, RegistrationError, Registry};

/// The registered families of the Raft schema.
#[derive(Debug)]
pub struct Families {
    /// Per group (partition).
    pub partitions: PartitionMetricsFamily,
    /// Per group and peer.
    pub peers: PeerMetricsFamily,
    /// Per group and node: the node's role.
    pub replicas: ReplicaMetricsFamily,
    /// Per node.
    pub nodes: NodeMetricsFamily,
    /// Per RPC method and target.
    pub rpcs: RpcMetricsFamily,
    /// Per RPC method, target and error type.
    pub rpc_errors: RpcErrorMetricsFamily,
    /// Per group and snapshot trigger.
    pub snapshot_creates: SnapshotCreateMetricsFamily,
    /// Per group and transfer direction.
    pub snapshot_transfers: SnapshotTransferMetricsFamily,
    /// Per group and configuration-change kind.
    pub config_changes: ConfigChangeMetricsFamily,
    /// The node-wide aggregate, in [`Aggregation::Node`] and [`Aggregation::Unhealthy`] modes.
    pub aggregated: Option<Handle<AggregatedMetrics>>,
    /// How partition-level series are exported; in [`Aggregation::Node`] the guide's calls
    /// record only into the aggregate.
    pub aggregation: Aggregation,
}

impl Families {
    pub(super) fn register(registry: &Registry, options: &RaftOptions) -> Result<Self, RegistrationError> {
        let namespace = options.namespace.as_str();
        // In the node-wide modes the partition-level families live in a registry nobody
        // scrapes (the families outlive it through their handles); unhealthy-only mode then
        // shows parts of them in `registry` (see `health`).
        let unhealthy = options.aggregation == Aggregation::Unhealthy;
        let detached = (options.aggregation != Aggregation::Partition).then(Registry::new);
        let scoped = detached.as_ref().unwrap_or(registry);
        let aggregated = match options.aggregation {
            Aggregation::Partition => None,
            Aggregation::Node => Some(AggregatedMetrics::register_with_namespace(registry, namespace)?),
            // Its own registry: it shares names with the partition-level families.
            Aggregation::Unhealthy => Some(AggregatedMetrics::register_with_namespace(&Registry::new(), namespace)?),
        };
        let families = Self {
            partitions: PartitionMetrics::register_with_namespace(scoped, namespace)?,
            peers: PeerMetrics::register_with_namespace(scoped, namespace)?,
            replicas: ReplicaMetrics::register_with_namespace(scoped, namespace)?,
            nodes: NodeMetrics::register_with_namespace(registry, namespace)?,
            rpcs: RpcMetrics::register_with_namespace(registry, namespace)?,
            rpc_errors: RpcErrorMetrics::register_with_namespace(registry, namespace)?,
            snapshot_creates: SnapshotCreateMetrics::register_with_namespace(scoped, namespace)?,
            snapshot_transfers: SnapshotTransferMetrics::register_with_namespace(scoped, namespace)?,
            config_changes: ConfigChangeMetrics::register_with_namespace(scoped, namespace)?,
            aggregated: aggregated.as_ref().map(|a| a.bind(())),
            aggregation: options.aggregation,
        };
        if let (true, Some(aggregate)) = (unhealthy, &aggregated) {
            health::attach(registry, &families, aggregate, options)?;
        } else {
            // The bursts are unhealthy-only mode's: elsewhere the counters themselves name the
            // partition (or nothing does).
            let partitions = |i| !burst::is_burst(&PartitionMetrics::SCHEMA, i);
            families.partitions.family().set_export(Some(Export::metrics(partitions)));
            let transfers = |i| !burst::is_burst(&SnapshotTransferMetrics::SCHEMA, i);
            families.snapshot_transfers.family().set_export(Some(Export::metrics(transfers)));
        }
        Ok(families)
    }
}
