//! The built-in Raft schema, declared with our own derive. Every HELP says when the value changes.

use crate::{ByLabel, Counter, FloatGauge, Gauge, Histogram, LabelValue, RaftMetrics};

/// A node's role in one Raft group, as `set_node_state` encodes it: 1 leader, 2 candidate,
/// 3 follower (0 when unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum NodeState {
    /// The node leads the group.
    Leader,
    /// The node is campaigning.
    Candidate,
    /// The node follows a leader (or waits for one).
    Follower,
}

impl NodeState {
    /// The guide's numeric encoding.
    pub fn code(self) -> i64 {
        match self {
            Self::Leader => 1,
            Self::Candidate => 2,
            Self::Follower => 3,
        }
    }
}

/// Why a follower rejected an AppendEntries request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum RejectReason {
    /// The request's term was older than the follower's.
    StaleTerm,
    /// The follower's log did not contain the request's previous entry.
    LogInconsistency,
    /// Any other reason.
    Other,
}

impl RejectReason {
    /// Parses the guide's reason strings; unknown reasons are `Other`.
    pub fn parse(reason: &str) -> Self {
        match reason {
            "stale_term" | "StaleTerm" | "term" => Self::StaleTerm,
            "log_inconsistency" | "LogInconsistency" | "log_mismatch" | "mismatch" => Self::LogInconsistency,
            _ => Self::Other,
        }
    }
}

/// Whether an operation succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed.
    Failure,
}

impl From<bool> for Outcome {
    fn from(success: bool) -> Self {
        if success {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

/// How an election this node ran ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum ElectionResult {
    /// This node became leader.
    Won,
    /// It did not.
    Lost,
}

/// Why a proposal failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum ProposalFailure {
    /// This node is not the leader.
    NotLeader,
    /// Raft dropped it (a leadership transfer in progress, a full queue).
    Dropped,
    /// It did not commit in time.
    Timeout,
    /// Any other reason.
    Other,
}

/// Which way a snapshot travelled, as `record_snapshot_transfer` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum SnapshotDirection {
    /// This node sent it (a leader catching up a follower).
    Send,
    /// This node received and installed it.
    Receive,
}

/// What started a snapshot creation, as the guide's `record_snapshot_create` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum SnapshotTrigger {
    /// The log outgrew its size threshold.
    Size,
    /// A snapshot interval elapsed.
    Time,
    /// An operator asked for it.
    Manual,
}

/// One kind of configuration change, as `record_config_change` labels it. `AddNode` and
/// `RemoveNode` are the guide's; the rest are what raft-rs and openraft distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
#[label(crate = crate, rename_all = "snake_case")]
pub enum ConfigChangeKind {
    /// The group grew (the guide's `add_node`).
    AddNode,
    /// The group shrank.
    RemoveNode,
    /// A voter joined.
    AddVoter,
    /// A learner (non-voting member) joined.
    AddLearner,
    /// Joint consensus began.
    EnterJoint,
    /// Joint consensus ended.
    LeaveJoint,
}

/// Metrics of one Raft group (a partition) on this node.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(topic: &str, partition: u32))]
pub struct PartitionMetrics {
    /// Current Raft term on this node; set whenever the term changes.
    #[metric(gauge)]
    pub current_term: Gauge,
    /// Last index in this node's log (committed or not); set when the log grows or is truncated.
    #[metric(gauge)]
    pub last_index: Gauge,
    /// Highest log index known committed on this node; set when the commit index advances.
    #[metric(gauge)]
    pub commit_index: Gauge,
    /// Highest log index applied to the state machine on this node; set after each apply.
    #[metric(gauge)]
    pub last_applied: Gauge,
    /// Committed entries not yet applied (commit index minus last applied); updated with either.
    #[metric(gauge)]
    pub apply_lag_entries: Gauge,
    /// 1 while this node knows a leader for the group, 0 while it knows none.
    #[metric(gauge)]
    pub has_leader: Gauge,
    /// 1 while this node leads the group, 0 otherwise.
    #[metric(gauge)]
    pub is_leader: Gauge,
    /// Leader changes this node observed, counted on every member (including elections it lost).
    #[metric(counter)]
    pub leader_changes_seen: Counter,
    /// In-sync replicas: voters whose lag is within the configured bound; set by the leader.
    #[metric(gauge)]
    pub isr_size: Gauge,
    /// Largest follower lag in entries; set by the leader after each replication round.
    #[metric(gauge)]
    pub max_follower_lag_entries: Gauge,
    /// Votes this node received in its current or last election.
    #[metric(gauge)]
    pub votes_received: Gauge,
    /// Members of the group's configuration (voters and learners); set on every configuration change.
    #[metric(gauge)]
    pub cluster_size: Gauge,
    /// Voters in the group's configuration; set on every configuration change.
    #[metric(gauge)]
    pub voters: Gauge,
    /// Learners in the group's configuration; set on every configuration change.
    #[metric(gauge)]
    pub learners: Gauge,
    /// 1 while a configuration change is proposed but not yet applied, 0 otherwise.
    #[metric(gauge)]
    pub config_change_in_progress: Gauge,
    /// Elections this node started, by result; counted when the election ends.
    #[metric(counter, label(result: ElectionResult))]
    pub elections: ByLabel<ElectionResult, Counter, 2>,
    /// Pre-vote rounds this node started (they do not change the term).
    #[metric(counter)]
    pub pre_votes: Counter,
    /// Time from becoming candidate to the election's end.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.01, 2.0, 12))]
    pub election_duration: Histogram<12>,
    /// Proposals committed on this node's log (leader side); counted at commit.
    #[metric(counter)]
    pub proposals_committed: Counter,
    /// Proposals applied to the state machine on this node; counted after apply.
    #[metric(counter)]
    pub proposals_applied: Counter,
    /// Proposals accepted but not yet committed; set by the leader.
    #[metric(gauge)]
    pub proposals_pending: Gauge,
    /// Proposals that failed, by reason; counted when the failure is returned to the client.
    #[metric(counter, label(reason: ProposalFailure))]
    pub proposals_failed: ByLabel<ProposalFailure, Counter, 4>,
    /// Time from proposal to commit; observed once per committed proposal (on the leader that proposed it).
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0005, 2.0, 14))]
    pub commit_latency: Histogram<14>,
    /// Entries per committed batch; observed once per batch.
    #[metric(histogram, buckets = exponential(1.0, 2.0, 12))]
    pub commit_batch_entries: Histogram<12>,
    /// Time to append entries to the log and make them durable (write plus fsync).
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0001, 2.0, 16))]
    pub log_append_duration: Histogram<16>,
    /// Time to apply one batch of committed entries to the state machine.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0001, 2.0, 16))]
    pub apply_duration: Histogram<16>,
    /// AppendEntries requests this follower rejected, by reason.
    #[metric(counter, label(reason: RejectReason))]
    pub append_entries_rejected: ByLabel<RejectReason, Counter, 3>,
    /// Entries in the log (after compaction); set when the log grows or is compacted.
    #[metric(gauge)]
    pub log_entries: Gauge,
    /// Payload bytes (entry data and context) in the log; set when the log grows or is compacted.
    #[metric(gauge, unit = "bytes")]
    pub log_size: Gauge,
    /// Log compactions (entries discarded after a snapshot).
    #[metric(counter)]
    pub log_compactions: Counter,
    /// Log truncations: uncommitted entries a follower dropped because they conflicted with the leader.
    #[metric(counter)]
    pub log_truncations: Counter,
    /// Raft messages dropped before sending (full queue, unreachable peer).
    #[metric(counter)]
    pub messages_dropped: Counter,
    /// Time to create a snapshot.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.01, 2.0, 14))]
    pub snapshot_create_duration: Histogram<14>,
    /// Size of created snapshots.
    #[metric(histogram, unit = "bytes", buckets = exponential(1024.0, 4.0, 12))]
    pub snapshot_size: Histogram<12>,
    /// Time to apply (install) a received snapshot.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.01, 2.0, 14))]
    pub snapshot_apply_duration: Histogram<14>,
    /// Last log index covered by the newest snapshot; set when a snapshot is created or installed.
    #[metric(gauge)]
    pub snapshot_last_index: Gauge,
    /// Unix time of the newest snapshot; set when a snapshot is created or installed.
    #[metric(gauge, unit = "seconds", name = "snapshot_last_timestamp")]
    pub snapshot_last_timestamp: FloatGauge,
    /// 1 while a snapshot is being created, sent, received or applied, 0 otherwise.
    #[metric(gauge)]
    pub snapshot_in_progress: Gauge,
    /// Unix time this follower last heard from the leader (leader: last quorum acknowledgement).
    #[metric(gauge, unit = "seconds", name = "last_contact_timestamp")]
    pub last_contact_timestamp: FloatGauge,
    /// 1 while the application hibernates the group (it stops ticking it, as TiKV does with its
    /// idle regions: no heartbeats flow, so the last contact ages), 0 otherwise. Unhealthy-only
    /// mode does not judge a hibernating partition by its last contact.
    #[metric(gauge)]
    pub hibernating: Gauge,
    /// Leader changes seen in the partition's current burst (changes less than the burst window
    /// apart, 15 minutes by default), as counted by the scrapes. Unhealthy-only mode only.
    #[metric(gauge)]
    pub burst_leader_changes: Gauge,
    /// Proposals failed in the partition's current burst of failures (failures less than the
    /// burst window apart), as counted by the scrapes. Unhealthy-only mode only.
    #[metric(gauge)]
    pub burst_proposals_failed: Gauge,
    /// Proposals committed since the partition's current burst of failures began, as counted by
    /// the scrapes. Unhealthy-only mode only.
    #[metric(gauge)]
    pub burst_proposals_committed: Gauge,
    /// Internal, never exported: the scrapes' state of the bursts (`leader_changes_seen`,
    /// `proposals_failed` and `proposals_committed` at the last scrape, and when each burst last
    /// grew).
    #[metric(gauge)]
    pub burst_seen_leader_changes: Gauge,
    /// Internal, never exported (see `burst_seen_leader_changes`).
    #[metric(gauge)]
    pub burst_seen_proposals_failed: Gauge,
    /// Internal, never exported (see `burst_seen_leader_changes`).
    #[metric(gauge)]
    pub burst_seen_proposals_committed: Gauge,
    /// Internal, never exported (see `burst_seen_leader_changes`).
    #[metric(gauge, unit = "seconds", name = "burst_leader_changes_last_timestamp")]
    pub burst_leader_changes_at: FloatGauge,
    /// Internal, never exported (see `burst_seen_leader_changes`).
    #[metric(gauge, unit = "seconds", name = "burst_proposals_failed_last_timestamp")]
    pub burst_proposals_failed_at: FloatGauge,
    /// Internal, never exported (see `burst_seen_leader_changes`): the last scrape.
    #[metric(gauge, unit = "seconds", name = "burst_scrape_timestamp")]
    pub burst_scraped_at: FloatGauge,
}

/// Metrics of one peer of a Raft group, as seen by this node (follower lag on the leader,
/// traffic in both directions).
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(topic: &str, partition: u32, peer: &str))]
pub struct PeerMetrics {
    /// Entries the peer is behind this leader's last index; set by the leader after each round.
    #[metric(gauge)]
    pub follower_lag_entries: Gauge,
    /// How far the peer is behind this leader in time: the age of the oldest entry it lacks, or,
    /// when that is unknown (the collector), the time since its last acknowledgement.
    #[metric(gauge, unit = "seconds", name = "follower_lag")]
    pub follower_lag: FloatGauge,
    /// Unix time of the last heartbeat response from the peer (leader side).
    #[metric(gauge, unit = "seconds", name = "last_heartbeat_timestamp")]
    pub last_heartbeat_timestamp: FloatGauge,
    /// AppendEntries requests sent to the peer.
    #[metric(counter)]
    pub append_entries_sent: Counter,
    /// Payload bytes of AppendEntries requests sent to the peer.
    #[metric(counter, unit = "bytes", name = "append_entries_sent")]
    pub append_entries_sent_bytes: Counter,
    /// AppendEntries requests received from the peer (the leader, on a follower).
    #[metric(counter)]
    pub append_entries_received: Counter,
    /// Heartbeats sent to the peer.
    #[metric(counter)]
    pub heartbeats_sent: Counter,
    /// Heartbeats to the peer that could not be sent or got no response.
    #[metric(counter)]
    pub heartbeat_failures: Counter,
    /// Round trip of requests to the peer (send to response).
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0001, 2.0, 16))]
    pub peer_round_trip: Histogram<16>,
}

/// This node's role in one group.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(topic: &str, partition: u32, node: &str))]
pub struct ReplicaMetrics {
    /// The node's role in the group: 1 leader, 2 candidate, 3 follower; set on every role change.
    #[metric(gauge)]
    pub node_state: Gauge,
}

/// Node-wide counts.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(node: &str))]
pub struct NodeMetrics {
    /// Groups (partitions) this node leads; set when leadership changes.
    #[metric(gauge)]
    pub leader_partitions: Gauge,
    /// Groups (partitions) this node follows; set when leadership changes.
    #[metric(gauge)]
    pub follower_partitions: Gauge,
}

/// RPCs this node sent, by method and target.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(method: &str, target: &str))]
pub struct RpcMetrics {
    /// RPCs sent, by outcome; counted when the response (or failure) arrives.
    #[metric(counter, label(result: Outcome))]
    pub rpc_calls: ByLabel<Outcome, Counter, 2>,
    /// Time from sending an RPC to its response or failure.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0001, 2.0, 16))]
    pub rpc_duration: Histogram<16>,
}

/// RPC errors by type.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(method: &str, target: &str, error_type: &str))]
pub struct RpcErrorMetrics {
    /// RPC errors, by error type.
    #[metric(counter)]
    pub rpc_errors: Counter,
}

/// Snapshots created, by what triggered them.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(topic: &str, partition: u32, trigger: &str))]
pub struct SnapshotCreateMetrics {
    /// Snapshots created, by trigger.
    #[metric(counter)]
    pub snapshot_creations: Counter,
}

/// Snapshot transfers, by direction.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(topic: &str, partition: u32, direction: &str))]
pub struct SnapshotTransferMetrics {
    /// Snapshot transfers finished, by direction (`send`, `receive`) and outcome.
    #[metric(counter, label(result: Outcome))]
    pub snapshot_transfers: ByLabel<Outcome, Counter, 2>,
    /// Snapshot transfers (in this direction) failed in the partition's current burst of
    /// transfers (transfers less than the burst window apart), as counted by the scrapes.
    /// Unhealthy-only mode only.
    #[metric(gauge)]
    pub burst_snapshot_transfer_failures: Gauge,
    /// Snapshot transfers (in this direction) that succeeded in the same burst. Unhealthy-only
    /// mode only.
    #[metric(gauge)]
    pub burst_snapshot_transfer_successes: Gauge,
    /// Internal, never exported: the scrapes' state of the burst (failed and successful
    /// transfers at the last scrape, when the burst last grew).
    #[metric(gauge)]
    pub burst_seen_snapshot_transfer_failures: Gauge,
    /// Internal, never exported (see `burst_seen_snapshot_transfer_failures`).
    #[metric(gauge)]
    pub burst_seen_snapshot_transfer_successes: Gauge,
    /// Internal, never exported (see `burst_seen_snapshot_transfer_failures`).
    #[metric(gauge, unit = "seconds", name = "burst_snapshot_transfers_last_timestamp")]
    pub burst_snapshot_transfers_at: FloatGauge,
    /// Internal, never exported (see `burst_seen_snapshot_transfer_failures`): the last scrape.
    #[metric(gauge, unit = "seconds", name = "burst_snapshot_scrape_timestamp")]
    pub burst_scraped_at: FloatGauge,
}

/// Configuration changes, by kind.
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft", labels(topic: &str, partition: u32, kind: &str))]
pub struct ConfigChangeMetrics {
    /// Configuration changes applied, by kind (`add_voter`, `add_learner`, `remove_node`, …).
    #[metric(counter)]
    pub config_changes: Counter,
}

/// Node-wide aggregates of every partition, for nodes with thousands of partitions
/// ([`Aggregation::Node`](super::Aggregation::Node)): counters and histograms fold across
/// partitions, and per-partition gauges that cannot be summed become distributions (TiKV-style).
#[derive(Debug, RaftMetrics)]
#[raft_metrics(crate = crate, namespace = "chronik_raft")]
pub struct AggregatedMetrics {
    /// Partitions hosted on this node; set whenever one is added or removed.
    #[metric(gauge)]
    pub partitions: Gauge,
    /// Partitions on this node that know no leader; set when a partition's leader appears or goes.
    #[metric(gauge)]
    pub partitions_without_leader: Gauge,
    /// Partitions on this node whose group the application hibernates (stops ticking while it
    /// is idle); set when one goes to sleep or wakes.
    #[metric(gauge)]
    pub hibernating_partitions: Gauge,
    /// Leader changes observed, summed over partitions.
    #[metric(counter)]
    pub leader_changes_seen: Counter,
    /// Elections this node started, by result, summed over partitions.
    #[metric(counter, label(result: ElectionResult))]
    pub elections: ByLabel<ElectionResult, Counter, 2>,
    /// Time from becoming candidate to the election's end, over all partitions.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.01, 2.0, 12))]
    pub election_duration: Histogram<12>,
    /// Time from proposal to commit, over all partitions.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0005, 2.0, 14))]
    pub commit_latency: Histogram<14>,
    /// Entries per committed batch, over all partitions.
    #[metric(histogram, buckets = exponential(1.0, 2.0, 12))]
    pub commit_batch_entries: Histogram<12>,
    /// Distribution of follower lag in entries over partitions: one observation per follower
    /// per report. (Named apart from the per-partition gauge `follower_lag_entries`, which
    /// [`Aggregation::Unhealthy`](super::Aggregation::Unhealthy) exports beside it.)
    #[metric(histogram, name = "partition_follower_lag_entries", buckets = exponential(1.0, 4.0, 12))]
    pub follower_lag_entries: Histogram<12>,
    /// Distribution of follower lag in time over partitions: one observation per follower per
    /// report.
    #[metric(histogram, unit = "seconds", name = "partition_follower_lag", buckets = exponential(0.001, 2.0, 16))]
    pub follower_lag: Histogram<16>,
    /// Distribution of apply lag (commit index minus last applied) over partitions: one
    /// observation per report.
    #[metric(histogram, name = "partition_apply_lag_entries", buckets = exponential(1.0, 4.0, 12))]
    pub apply_lag_entries: Histogram<12>,
    /// AppendEntries requests rejected, by reason, summed over partitions.
    #[metric(counter, label(reason: RejectReason))]
    pub append_entries_rejected: ByLabel<RejectReason, Counter, 3>,
    /// AppendEntries requests sent, summed over partitions and peers.
    #[metric(counter)]
    pub append_entries_sent: Counter,
    /// Payload bytes of AppendEntries requests sent, summed over partitions and peers.
    #[metric(counter, unit = "bytes", name = "append_entries_sent")]
    pub append_entries_sent_bytes: Counter,
    /// AppendEntries requests received, summed over partitions.
    #[metric(counter)]
    pub append_entries_received: Counter,
    /// Log compactions, summed over partitions.
    #[metric(counter)]
    pub log_compactions: Counter,
    /// Snapshots created, summed over partitions and triggers.
    #[metric(counter)]
    pub snapshot_creations: Counter,
    /// Time to create a snapshot, over all partitions.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.01, 2.0, 14))]
    pub snapshot_create_duration: Histogram<14>,
    /// Size of created snapshots, over all partitions.
    #[metric(histogram, unit = "bytes", buckets = exponential(1024.0, 4.0, 12))]
    pub snapshot_size: Histogram<12>,
    /// Time to apply a received snapshot, over all partitions.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.01, 2.0, 14))]
    pub snapshot_apply_duration: Histogram<14>,
    /// Snapshot transfers finished, by outcome, summed over partitions and directions.
    #[metric(counter, label(result: Outcome))]
    pub snapshot_transfers: ByLabel<Outcome, Counter, 2>,
    /// Configuration changes applied, summed over partitions and kinds.
    #[metric(counter)]
    pub config_changes: Counter,
}
