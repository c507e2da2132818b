//! [`InstrumentedStorage`]: a [`Storage`] wrapper that records every snapshot it hands to raft-rs.

use std::time::Instant;

use protobuf::Message as _;
use raft::eraftpb::{Entry, Snapshot};
use raft::{GetEntriesContext, RaftState, Storage};
use raft_metrics::raft::{AggregatedMetrics, Aggregation, PartitionMetrics, RaftMetrics, SnapshotCreateMetrics};
use raft_metrics::Handle;

/// The `trigger` label of snapshots raft-rs requests from the storage: a follower is behind the
/// leader's first log index (compacted away), so it must catch up from a snapshot.
pub const TRIGGER_FOLLOWER_CATCH_UP: &str = "follower_catch_up";

/// A [`Storage`] that records each snapshot its inner storage creates.
///
/// raft-rs calls [`Storage::snapshot`] on the leader when a follower needs entries the log no
/// longer holds. Each successful call counts in `snapshot_creations_total{trigger="follower_catch_up"}`
/// and observes `snapshot_create_duration_seconds` (the call's duration), `snapshot_size_bytes`
/// (the encoded snapshot: metadata plus data), `snapshot_last_index` and
/// `snapshot_last_timestamp_seconds` (and, in `Aggregation::Node` mode, the node-wide
/// aggregate's snapshot metrics). A `SnapshotTemporarilyUnavailable` answer is passed on and not
/// counted. Every other method delegates without recording.
///
/// # Examples
///
/// ```
/// use raft::storage::MemStorage;
/// use raft_metrics::raft::RaftMetrics;
/// use raft_metrics::Registry;
/// use raft_metrics_raftrs::InstrumentedStorage;
///
/// let registry = Registry::new();
/// let metrics = RaftMetrics::with_registry(&registry)?;
/// let store = InstrumentedStorage::new(MemStorage::new_with_conf_state((vec![1], vec![])), &metrics, "orders", 0);
/// # let _ = store;
/// # Ok::<(), raft_metrics::RegistrationError>(())
/// ```
pub struct InstrumentedStorage<S> {
    inner: S,
    partition: Handle<PartitionMetrics>,
    creations: Handle<SnapshotCreateMetrics>,
    /// The node-wide aggregate, in `Aggregation::Node` mode.
    aggregate: Option<Handle<AggregatedMetrics>>,
}

impl<S> InstrumentedStorage<S> {
    /// Wraps `inner`, recording into the series of (`topic`, `partition`) in `metrics`.
    pub fn new(inner: S, metrics: &RaftMetrics, topic: &str, partition: u32) -> Self {
        Self {
            inner,
            partition: metrics.partition(topic, partition),
            creations: metrics.families().snapshot_creates.bind((topic, partition, TRIGGER_FOLLOWER_CATCH_UP)),
            // Snapshot events count node-wide only where the node exports the aggregate's;
            // unhealthy-only mode folds the partition series instead.
            aggregate: metrics
                .families()
                .aggregated
                .clone()
                .filter(|_| metrics.families().aggregation == Aggregation::Node),
        }
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped storage, mutably.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the storage.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> core::fmt::Debug for InstrumentedStorage<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InstrumentedStorage").finish_non_exhaustive()
    }
}

impl<S: Storage> Storage for InstrumentedStorage<S> {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.inner.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.inner.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.inner.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.inner.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.inner.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let start = Instant::now();
        let snapshot = self.inner.snapshot(request_index, to)?;
        let elapsed = start.elapsed();
        let size = f64::from(snapshot.compute_size());
        let p = &self.partition;
        self.creations.snapshot_creations.inc();
        p.snapshot_create_duration.observe_duration(elapsed);
        p.snapshot_size.observe(size);
        if let Some(a) = &self.aggregate {
            a.snapshot_creations.inc();
            a.snapshot_create_duration.observe_duration(elapsed);
            a.snapshot_size.observe(size);
        }
        p.snapshot_last_index.set_u64(snapshot.get_metadata().index);
        p.snapshot_last_timestamp.set(crate::unix_now());
        Ok(snapshot)
    }
}
