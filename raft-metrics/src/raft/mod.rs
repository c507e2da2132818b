//! The built-in Raft schema and the integration guide's API.
//!
//! [`RaftMetrics`] is the entry point: `RaftMetrics::new()` at every integration point (it is a
//! copy of a `&'static`, no allocation), string-labelled calls such as
//! `set_commit_index(topic, partition, index)` that resolve their series through the per-thread
//! cache, and pre-bound handles (`partition`, `peer`, `node`) for loops that record with zero
//! lookups. Latencies arrive in milliseconds, as the guide passes them, and are exported in
//! seconds; sizes in bytes.
//!
//! ```
//! use raft_metrics::raft::RaftMetrics;
//! use raft_metrics::{Format, Registry};
//!
//! let registry = Registry::new();
//! let metrics = RaftMetrics::with_registry(&registry)?;
//! metrics.set_commit_index("orders", 7, 1200);
//! metrics.record_commit_latency("orders", 7, 3.5, 16);
//! let p = metrics.partition("orders", 7); // bound: no lookups from here on
//! p.has_leader.set(1);
//! let text = registry.encode_to_string(Format::Prometheus);
//! assert!(text.contains(r#"chronik_raft_commit_index{topic="orders",partition="7"} 1200"#));
//! # Ok::<(), raft_metrics::RegistrationError>(())
//! ```

mod args;
mod burst;
mod collector;
mod families;
mod health;
mod in_sync;
mod log_size;
mod options;
mod schema;

pub use args::{Count, Millis, Named, NodeId, PartitionId, StateCode};

#[cfg(feature = "tokio")]
pub use collector::TokioCollector;
pub use collector::{collect, FollowerStatus, PartitionStatus, RaftMetricsCollector, RaftNodeView};
pub use families::Families;
pub use health::HealthThresholds;
pub use in_sync::{InSync, Ticks};
pub use log_size::LogSize;
pub use options::{Aggregation, RaftOptions};

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

pub use schema::{
    AggregatedMetrics, AggregatedMetricsFamily, AggregatedMetricsLocal, ConfigChangeKind, ConfigChangeMetrics,
    ConfigChangeMetricsFamily, ElectionResult, NodeMetrics, NodeMetricsFamily, NodeState, Outcome, PartitionMetrics,
    PartitionMetricsFamily, PartitionMetricsLocal, PeerMetrics, PeerMetricsFamily, PeerMetricsLocal, ProposalFailure,
    RejectReason, ReplicaMetrics, ReplicaMetricsFamily, RpcErrorMetrics, RpcErrorMetricsFamily, RpcMetrics,
    RpcMetricsFamily, SnapshotCreateMetrics, SnapshotCreateMetricsFamily, SnapshotDirection, SnapshotTransferMetrics,
    SnapshotTransferMetricsFamily, SnapshotTrigger,
};

use crate::schema::Schema;
use crate::{ClaimError, Exclusive, Handle, Pinned, RegistrationError, Registry};

/// The default namespace of every Raft metric.
pub const NAMESPACE: &str = "chronik_raft";

/// Every group of the Raft schema, for documentation and dashboard checks.
pub const SCHEMAS: &[Schema] = &[
    PartitionMetrics::SCHEMA,
    PeerMetrics::SCHEMA,
    ReplicaMetrics::SCHEMA,
    NodeMetrics::SCHEMA,
    RpcMetrics::SCHEMA,
    RpcErrorMetrics::SCHEMA,
    SnapshotCreateMetrics::SCHEMA,
    SnapshotTransferMetrics::SCHEMA,
    ConfigChangeMetrics::SCHEMA,
    AggregatedMetrics::SCHEMA,
];

#[derive(Clone, Debug)]
enum Inner {
    Global(&'static Families),
    Owned(Arc<Families>),
}

/// The Raft metrics of a registry, with the integration guide's calls.
///
/// Cheap to create and to clone: [`RaftMetrics::new`] copies a `&'static` to the families
/// registered once on [`Registry::global`].
#[derive(Clone, Debug)]
pub struct RaftMetrics {
    inner: Inner,
}

/// An index as a gauge holds it, as `Gauge::set_u64` stores it: saturated at `i64::MAX`.
fn saturate(index: u64) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX)
}

static GLOBAL: OnceLock<Result<Families, RegistrationError>> = OnceLock::new();
/// Where the global schema lands if registering it on the global registry failed (a name taken
/// by the application): recording still works, it is just not exported.
static DETACHED: OnceLock<(Registry, Families)> = OnceLock::new();

impl Default for RaftMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RaftMetrics {
    /// The Raft metrics on the process-wide registry, registered on first use.
    ///
    /// Never fails and never allocates after the first call. If registration on the global
    /// registry failed (see [`RaftMetrics::global_registration_error`]), the metrics record into
    /// a private registry that nothing exports.
    pub fn new() -> Self {
        let families = match GLOBAL.get_or_init(|| Families::register(Registry::global(), &RaftOptions::default())) {
            Ok(families) => families,
            Err(_) => {
                let (_, families) = DETACHED.get_or_init(|| {
                    let registry = Registry::new();
                    let families = Families::register(&registry, &RaftOptions::default());
                    // A fresh registry has no names taken, so this cannot fail.
                    (registry, families.unwrap_or_else(|e| unreachable!("fresh registry refused the schema: {e}")))
                });
                families
            }
        };
        Self { inner: Inner::Global(families) }
    }

    /// Why registering on the global registry failed, if it did.
    pub fn global_registration_error() -> Option<&'static RegistrationError> {
        GLOBAL.get().and_then(|r| r.as_ref().err())
    }

    /// The Raft metrics on `registry`, under the default namespace.
    ///
    /// # Errors
    ///
    /// When a name is already taken in `registry`.
    pub fn with_registry(registry: &Registry) -> Result<Self, RegistrationError> {
        Self::with_namespace(registry, NAMESPACE)
    }

    /// The Raft metrics on `registry`, under `namespace` instead of `chronik_raft`.
    ///
    /// # Errors
    ///
    /// When `namespace` makes invalid names or a name is already taken.
    pub fn with_namespace(registry: &Registry, namespace: &str) -> Result<Self, RegistrationError> {
        Self::with_options(registry, &RaftOptions { namespace: namespace.to_owned(), ..RaftOptions::default() })
    }

    /// The Raft metrics on `registry` with explicit options (namespace, aggregation).
    ///
    /// # Errors
    ///
    /// When the namespace makes invalid names or a name is already taken.
    pub fn with_options(registry: &Registry, options: &RaftOptions) -> Result<Self, RegistrationError> {
        Ok(Self { inner: Inner::Owned(Arc::new(Families::register(registry, options)?)) })
    }

    /// The node-wide aggregate, in [`Aggregation::Node`] and [`Aggregation::Unhealthy`] modes.
    pub fn aggregate(&self) -> Option<&AggregatedMetrics> {
        self.families().aggregated.as_deref()
    }

    /// The aggregate where it is what the node exports ([`Aggregation::Node`]): the guide's calls
    /// record there instead of per partition. Unhealthy-only mode folds the partition series at
    /// scrape time instead, and uses the aggregate only for what folding cannot give (lag
    /// distributions, partition counts).
    fn node_wide(&self) -> Option<&AggregatedMetrics> {
        self.aggregate().filter(|_| self.families().aggregation == Aggregation::Node)
    }

    /// The registered families, for direct use.
    pub fn families(&self) -> &Families {
        match &self.inner {
            Inner::Global(families) => families,
            Inner::Owned(families) => families,
        }
    }

    // ---- pre-bound handles -------------------------------------------------------------------

    /// A bound handle on a partition's metrics: record with zero lookups.
    pub fn partition(&self, topic: &str, partition: impl PartitionId) -> Handle<PartitionMetrics> {
        self.families().partitions.family().bind((topic, partition))
    }

    /// The single-writer handle on a partition's metrics, for the loop that owns the partition.
    ///
    /// # Errors
    ///
    /// When another single-writer handle owns the series, or the family is full.
    pub fn claim_partition(
        &self,
        topic: &str,
        partition: impl PartitionId,
    ) -> Result<Exclusive<PartitionMetrics>, ClaimError> {
        self.families().partitions.family().claim((topic, partition))
    }

    /// A bound handle on a peer's metrics.
    pub fn peer(&self, topic: &str, partition: impl PartitionId, peer: impl NodeId) -> Handle<PeerMetrics> {
        self.families().peers.family().bind((topic, partition, peer.label()))
    }

    /// The single-writer handle on a peer's metrics.
    ///
    /// # Errors
    ///
    /// When another single-writer handle owns the series, or the family is full.
    pub fn claim_peer(
        &self,
        topic: &str,
        partition: impl PartitionId,
        peer: impl NodeId,
    ) -> Result<Exclusive<PeerMetrics>, ClaimError> {
        self.families().peers.family().claim((topic, partition, peer.label()))
    }

    /// A bound handle on a node's metrics.
    pub fn node(&self, node_id: impl NodeId) -> Handle<NodeMetrics> {
        self.families().nodes.family().bind((node_id.label(),))
    }

    /// The single-writer handle on a node's metrics.
    ///
    /// # Errors
    ///
    /// When another single-writer handle owns the series, or the family is full.
    pub fn claim_node(&self, node_id: impl NodeId) -> Result<Exclusive<NodeMetrics>, ClaimError> {
        self.families().nodes.family().claim((node_id.label(),))
    }

    /// Removes every series of a partition (it moved to another node): partition, peer, replica,
    /// snapshot and configuration-change series. Outstanding handles stay valid, unexported.
    /// Returns how many series were removed.
    pub fn remove_partition(&self, topic: &str, partition: impl PartitionId) -> usize {
        let f = self.families();
        let prefix = (topic, partition);
        usize::from(f.partitions.family().remove(prefix))
            + f.peers.family().remove_prefix(prefix)
            + f.replicas.family().remove_prefix(prefix)
            + f.snapshot_creates.family().remove_prefix(prefix)
            + f.snapshot_transfers.family().remove_prefix(prefix)
            + f.config_changes.family().remove_prefix(prefix)
    }

    /// Removes a peer's series of one partition (the peer left the group).
    pub fn remove_peer(&self, topic: &str, partition: impl PartitionId, peer: impl NodeId) -> bool {
        self.families().peers.family().remove((topic, partition, peer.label()))
    }

    // ---- the integration guide ---------------------------------------------------------------
    //
    // Each call takes the argument types of `args`, so the guide's code compiles with whatever
    // integer, id and duration types the caller has; the series are resolved through the
    // families' lookup (per-thread cache, then the lock-free table). The lookup returns a
    // `Pinned` guard, held for the whole call: its writes stay with the label set it resolved.
    //
    // Each call is `#[inline(never)]`: being generic, it is compiled in the caller's crate, and
    // inlined into a caller's loop the lookup ran about 30 % slower in wall time (fewer
    // instructions, but slower: `benches/guide_calls_ab.sh`); out of line it runs as the
    // concrete functions did.

    fn partition_of(&self, topic: &str, partition: impl PartitionId) -> Pinned<'_, PartitionMetrics> {
        self.families().partitions.family().get((topic, partition))
    }

    fn peer_of(&self, topic: &str, partition: impl PartitionId, peer: &impl NodeId) -> Pinned<'_, PeerMetrics> {
        self.families().peers.family().get((topic, partition, peer.label()))
    }

    /// Sets this node's role in a group: 1 leader, 2 candidate, 3 follower, as the guide's
    /// integer or a [`NodeState`]. Also sets `is_leader`.
    #[inline(never)]
    pub fn set_node_state(
        &self,
        topic: &str,
        partition: impl PartitionId,
        node_id: impl NodeId,
        state: impl StateCode,
    ) {
        let f = self.families();
        let code = state.code();
        f.replicas.family().get((topic, partition, node_id.label())).node_state.set(code);
        self.partition_of(topic, partition).is_leader.set(i64::from(code == NodeState::Leader.code()));
    }

    /// Sets how many groups `node_id` leads.
    #[inline(never)]
    pub fn set_leader_count(&self, node_id: impl NodeId, n: impl Count) {
        self.families().nodes.family().get((node_id.label(),)).leader_partitions.set_u64(n.to_u64());
    }

    /// Sets how many groups `node_id` follows.
    #[inline(never)]
    pub fn set_follower_count(&self, node_id: impl NodeId, n: impl Count) {
        self.families().nodes.family().get((node_id.label(),)).follower_partitions.set_u64(n.to_u64());
    }

    /// Sets the current term.
    #[inline(never)]
    pub fn set_current_term(&self, topic: &str, partition: impl PartitionId, term: impl Count) {
        self.partition_of(topic, partition).current_term.set_u64(term.to_u64());
    }

    /// Sets the in-sync replica count.
    #[inline(never)]
    pub fn set_isr_size(&self, topic: &str, partition: impl PartitionId, n: impl Count) {
        self.partition_of(topic, partition).isr_size.set_u64(n.to_u64());
    }

    /// Sets the commit index (and the apply lag).
    #[inline(never)]
    pub fn set_commit_index(&self, topic: &str, partition: impl PartitionId, index: impl Count) {
        let p = self.partition_of(topic, partition);
        // The lag from the value set, not read back: a load right after the store to the same
        // cell would wait on it.
        let commit = saturate(index.to_u64());
        p.commit_index.set(commit);
        p.apply_lag_entries.set(commit.saturating_sub(p.last_applied.get()));
    }

    /// Sets the last applied index (and the apply lag).
    #[inline(never)]
    pub fn set_last_applied(&self, topic: &str, partition: impl PartitionId, index: impl Count) {
        let p = self.partition_of(topic, partition);
        let applied = saturate(index.to_u64());
        p.last_applied.set(applied);
        p.apply_lag_entries.set(p.commit_index.get().saturating_sub(applied));
    }

    /// Sets how many entries `follower` is behind (leader side).
    #[inline(never)]
    pub fn set_follower_lag_entries(
        &self,
        topic: &str,
        partition: impl PartitionId,
        follower: impl NodeId,
        n: impl Count,
    ) {
        if let Some(a) = self.aggregate() {
            #[allow(clippy::cast_precision_loss)] // lags are far below 2^53
            a.follower_lag_entries.observe(n.to_u64() as f64);
            if self.families().aggregation == Aggregation::Node {
                return;
            }
        }
        self.peer_of(topic, partition, &follower).follower_lag_entries.set_u64(n.to_u64());
    }

    /// Sets how far behind `follower` is, in milliseconds (exported in seconds).
    #[inline(never)]
    pub fn set_follower_lag_ms(
        &self,
        topic: &str,
        partition: impl PartitionId,
        follower: impl NodeId,
        ms: impl Millis,
    ) {
        if let Some(a) = self.aggregate() {
            a.follower_lag.observe(ms.to_seconds());
            if self.families().aggregation == Aggregation::Node {
                return;
            }
        }
        self.peer_of(topic, partition, &follower).follower_lag.set(ms.to_seconds());
    }

    /// Records a heartbeat response from `follower` at `now_ms`, milliseconds since the Unix
    /// epoch (exported as Unix seconds).
    #[inline(never)]
    pub fn update_last_heartbeat(
        &self,
        topic: &str,
        partition: impl PartitionId,
        follower: impl NodeId,
        now_ms: impl Millis,
    ) {
        self.peer_of(topic, partition, &follower).last_heartbeat_timestamp.set(now_ms.to_seconds());
    }

    /// Sets the largest follower lag, in entries.
    #[inline(never)]
    pub fn set_max_follower_lag(&self, topic: &str, partition: impl PartitionId, n: impl Count) {
        self.partition_of(topic, partition).max_follower_lag_entries.set_u64(n.to_u64());
    }

    /// Records an election this node ran: its result and duration in milliseconds.
    #[inline(never)]
    pub fn record_election(&self, topic: &str, partition: impl PartitionId, success: bool, latency_ms: impl Millis) {
        let result = if success { ElectionResult::Won } else { ElectionResult::Lost };
        if let Some(a) = self.node_wide() {
            a.elections.get(result).inc();
            a.election_duration.observe(latency_ms.to_seconds());
            return;
        }
        let p = self.partition_of(topic, partition);
        p.elections.get(result).inc();
        p.election_duration.observe(latency_ms.to_seconds());
    }

    /// Sets the votes received in the current election.
    #[inline(never)]
    pub fn set_votes_received(&self, topic: &str, partition: impl PartitionId, n: impl Count) {
        self.partition_of(topic, partition).votes_received.set_u64(n.to_u64());
    }

    /// Records a committed batch of `batch_size` proposals that took `latency_ms` milliseconds
    /// from proposal to commit: `commit_latency_seconds` once per proposal (one weighted
    /// observation), `proposals_committed` by the batch size, `commit_batch_entries` once.
    #[inline(never)]
    pub fn record_commit_latency(
        &self,
        topic: &str,
        partition: impl PartitionId,
        latency_ms: impl Millis,
        batch_size: impl Count,
    ) {
        let batch_size = batch_size.to_u64();
        #[allow(clippy::cast_precision_loss)] // batch sizes are far below 2^53
        let entries = batch_size as f64;
        if let Some(a) = self.node_wide() {
            if batch_size > 0 {
                a.commit_latency.observe_n(latency_ms.to_seconds(), batch_size);
            }
            a.commit_batch_entries.observe(entries);
            return;
        }
        let p = self.partition_of(topic, partition);
        if batch_size > 0 {
            p.commit_latency.observe_n(latency_ms.to_seconds(), batch_size);
        }
        p.proposals_committed.add(batch_size);
        p.commit_batch_entries.observe(entries);
    }

    /// Sets whether the group has a leader this node knows of (`has_leader`, which the
    /// `NoLeader` alert watches).
    #[inline(never)]
    pub fn set_has_leader(&self, topic: &str, partition: impl PartitionId, has_leader: bool) {
        self.partition_of(topic, partition).has_leader.set(i64::from(has_leader));
    }

    /// Marks the group hibernating (its application stopped ticking it while it is idle, as TiKV
    /// does with its regions) or awake again: the partition's `hibernating` gauge, and in the
    /// node-wide modes `hibernating_partitions` by the change. Unhealthy-only mode does not judge
    /// a hibernating partition by its last contact, which ages while no heartbeats flow. (The
    /// raft-rs wrapper does this itself: `InstrumentedNode::hibernate`.)
    #[inline(never)]
    pub fn set_hibernating(&self, topic: &str, partition: impl PartitionId, hibernating: bool) {
        let now = i64::from(hibernating);
        let was = self.partition_of(topic, partition).hibernating.swap(now);
        if let (true, Some(a)) = (was != now, self.aggregate()) {
            a.hibernating_partitions.add(now - was);
        }
    }

    /// Records a snapshot creation: trigger (text or [`SnapshotTrigger`]), size, duration in
    /// milliseconds, last included index.
    #[inline(never)]
    pub fn record_snapshot_create(
        &self,
        topic: &str,
        partition: impl PartitionId,
        trigger: impl Named<SnapshotTrigger>,
        size_bytes: impl Count,
        latency_ms: impl Millis,
        last_index: impl Count,
    ) {
        #[allow(clippy::cast_precision_loss)] // sizes are far below 2^53 bytes
        let size = size_bytes.to_u64() as f64;
        if let Some(a) = self.node_wide() {
            a.snapshot_creations.inc();
            a.snapshot_size.observe(size);
            a.snapshot_create_duration.observe(latency_ms.to_seconds());
            return;
        }
        let f = self.families();
        f.snapshot_creates.family().get((topic, partition, trigger)).snapshot_creations.inc();
        let p = self.partition_of(topic, partition);
        p.snapshot_size.observe(size);
        p.snapshot_create_duration.observe(latency_ms.to_seconds());
        p.snapshot_last_index.set_u64(last_index.to_u64());
        p.snapshot_last_timestamp.set(unix_now());
    }

    /// Records the installation of a received snapshot, taking `latency_ms`.
    #[inline(never)]
    pub fn record_snapshot_apply(&self, topic: &str, partition: impl PartitionId, latency_ms: impl Millis) {
        if let Some(a) = self.node_wide() {
            a.snapshot_apply_duration.observe(latency_ms.to_seconds());
            return;
        }
        let p = self.partition_of(topic, partition);
        p.snapshot_apply_duration.observe(latency_ms.to_seconds());
        p.snapshot_last_timestamp.set(unix_now());
    }

    /// Records a finished snapshot transfer in `direction` (`"send"` or `"receive"`, or a
    /// [`SnapshotDirection`]).
    #[inline(never)]
    pub fn record_snapshot_transfer(
        &self,
        topic: &str,
        partition: impl PartitionId,
        direction: impl Named<SnapshotDirection>,
        success: bool,
    ) {
        if let Some(a) = self.node_wide() {
            a.snapshot_transfers.get(Outcome::from(success)).inc();
            return;
        }
        let transfers = self.families().snapshot_transfers.family().get((topic, partition, direction));
        transfers.snapshot_transfers.get(Outcome::from(success)).inc();
    }

    /// Records an AppendEntries request sent to `target`, carrying `size_bytes`.
    ///
    /// `size_bytes` is a `u64`, not any [`Count`]: the guide computes it as
    /// `entries.iter().map(|e| e.data.len() as u64).sum()`, and `sum` needs a concrete parameter
    /// type to infer what it sums into.
    #[inline(never)]
    pub fn record_append_entries_sent(
        &self,
        topic: &str,
        partition: impl PartitionId,
        target: impl NodeId,
        size_bytes: u64,
    ) {
        if let Some(a) = self.node_wide() {
            a.append_entries_sent.inc();
            a.append_entries_sent_bytes.add(size_bytes);
            return;
        }
        let peer = self.peer_of(topic, partition, &target);
        peer.append_entries_sent.inc();
        peer.append_entries_sent_bytes.add(size_bytes);
    }

    /// Records an RPC to `target`: its outcome and duration in milliseconds.
    #[inline(never)]
    pub fn record_rpc_call(&self, method: &str, target: impl NodeId, success: bool, latency_ms: impl Millis) {
        let rpc = self.families().rpcs.family().get((method, target.label()));
        rpc.rpc_calls.get(Outcome::from(success)).inc();
        rpc.rpc_duration.observe(latency_ms.to_seconds());
    }

    /// Records an RPC error of `error_type`.
    #[inline(never)]
    pub fn record_rpc_error(&self, method: &str, target: impl NodeId, error_type: &str) {
        self.families().rpc_errors.family().get((method, target.label(), error_type)).rpc_errors.inc();
    }

    /// Records an AppendEntries request received from `leader_id`.
    #[inline(never)]
    pub fn record_append_entries_received(&self, topic: &str, partition: impl PartitionId, leader_id: impl NodeId) {
        if let Some(a) = self.node_wide() {
            a.append_entries_received.inc();
            return;
        }
        self.peer_of(topic, partition, &leader_id).append_entries_received.inc();
    }

    /// Records a rejected AppendEntries request; `reason` is a [`RejectReason`] or its text,
    /// `stale_term` or `log_inconsistency` (any other text counts as `other`).
    #[inline(never)]
    pub fn record_append_entries_rejected(
        &self,
        topic: &str,
        partition: impl PartitionId,
        reason: impl Into<RejectReason>,
    ) {
        let reason = reason.into();
        if let Some(a) = self.node_wide() {
            a.append_entries_rejected.get(reason).inc();
            return;
        }
        self.partition_of(topic, partition).append_entries_rejected.get(reason).inc();
    }

    /// Sets the log's size in entries and bytes.
    #[inline(never)]
    pub fn set_log_size(&self, topic: &str, partition: impl PartitionId, entries: impl Count, bytes: impl Count) {
        let p = self.partition_of(topic, partition);
        p.log_entries.set_u64(entries.to_u64());
        p.log_size.set_u64(bytes.to_u64());
    }

    /// Records a log compaction.
    #[inline(never)]
    pub fn record_log_compaction(&self, topic: &str, partition: impl PartitionId) {
        if let Some(a) = self.node_wide() {
            a.log_compactions.inc();
            return;
        }
        self.partition_of(topic, partition).log_compactions.inc();
    }

    /// Sets the group's member count.
    #[inline(never)]
    pub fn set_cluster_size(&self, topic: &str, partition: impl PartitionId, n: impl Count) {
        self.partition_of(topic, partition).cluster_size.set_u64(n.to_u64());
    }

    /// Sets the group's configuration: `voters` (which the quorum size of the alert rules is
    /// computed from), `learners` and `cluster_size` (their sum).
    #[inline(never)]
    pub fn set_membership(&self, topic: &str, partition: impl PartitionId, voters: impl Count, learners: impl Count) {
        let (voters, learners) = (voters.to_u64(), learners.to_u64());
        let p = self.partition_of(topic, partition);
        p.voters.set_u64(voters);
        p.learners.set_u64(learners);
        p.cluster_size.set_u64(voters.saturating_add(learners));
    }

    /// Records an applied configuration change of `kind` (text such as the guide's `"add_node"`,
    /// or a [`ConfigChangeKind`]).
    #[inline(never)]
    pub fn record_config_change(&self, topic: &str, partition: impl PartitionId, kind: impl Named<ConfigChangeKind>) {
        if let Some(a) = self.node_wide() {
            a.config_changes.inc();
            return;
        }
        self.families().config_changes.family().get((topic, partition, kind)).config_changes.inc();
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
