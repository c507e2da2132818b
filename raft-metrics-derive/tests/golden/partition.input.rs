/// Per-partition Raft metrics.
#[derive(RaftMetrics)]
#[raft_metrics(namespace = "chronik_raft", labels(topic: &str, partition: u32))]
pub struct PartitionMetrics {
    /// Current Raft term.
    #[metric(gauge)]
    pub current_term: Gauge,
    /// Time from proposal to commit.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0005, 2.0, 14))]
    pub commit_latency: Histogram<14>,
    /// AppendEntries requests this follower rejected.
    #[metric(counter, label(reason: RejectReason))]
    pub append_entries_rejected: ByLabel<RejectReason, Counter, 2>,
    /// Round trip of outgoing RPCs.
    #[metric(histogram, unit = "seconds", buckets = [0.001, 0.01, 0.1], sample = 16)]
    pub rpc_round_trip: Sampled<Histogram<3>>,
    /// Size of appended batches.
    #[metric(histogram, unit = "bytes", buckets = BATCH_BYTES_BUCKETS)]
    pub append_batch: Histogram<8>,
}
