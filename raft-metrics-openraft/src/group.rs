//! [`Group`]: one Raft group on this node, the series its wrappers and watcher record into and
//! the state they share.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::RaftTypeConfig;
use parking_lot::{Mutex, MutexGuard};
use raft_metrics::raft::{
    InSync, NodeMetrics, Outcome, PartitionMetrics, PeerMetrics, RaftMetrics, ReplicaMetrics, RpcMetrics,
};
use raft_metrics::{Handle, Sampling};

use crate::election::Election;
use crate::leaders::Leaders;
use crate::method::APPEND_ENTRIES;

/// How often the wrappers time a call by default: one call in 8 (see [`Group::with_timing`]).
pub const DEFAULT_TIMING: Sampling = Sampling::OneIn(match core::num::NonZeroU32::new(8) {
    Some(n) => n,
    None => unreachable!(),
});

/// How often the watcher reads `Raft::metrics()`: its gauges are at most this old.
pub const DEFAULT_REFRESH: Duration = Duration::from_millis(100);

/// One Raft group (a partition) on this node: wrap its storage and network with it and spawn
/// its watcher.
///
/// ```text
/// let group = Group::new(&metrics, "orders", 0, node_id);
/// let raft = Raft::new(node_id, config, group.network(network),
///                      group.log_store(log_store), group.state_machine(state_machine)).await?;
/// tokio::spawn(group.watch(raft.metrics()));
/// ```
///
/// Cloning is cheap (an `Arc`); every wrapper holds a clone. Options (`with_*`) apply to
/// wrappers created after them.
pub struct Group<C: RaftTypeConfig> {
    pub(crate) shared: Arc<Shared<C>>,
    pub(crate) options: Options<C>,
}

impl<C: RaftTypeConfig> Clone for Group<C> {
    fn clone(&self) -> Self {
        Self { shared: Arc::clone(&self.shared), options: self.options.clone() }
    }
}

impl<C: RaftTypeConfig> std::fmt::Debug for Group<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("topic", &self.shared.topic)
            .field("partition", &self.shared.partition)
            .field("node", &self.shared.node_label)
            .finish_non_exhaustive()
    }
}

/// What the wrappers copy when they are created.
pub(crate) struct Options<C: RaftTypeConfig> {
    /// [`Group::with_recording`]: read by every wrapper call and hook, which forward only when
    /// it is off.
    pub(crate) recording: bool,
    pub(crate) timing: Sampling,
    pub(crate) in_sync: InSync<Duration>,
    pub(crate) refresh: Duration,
    pub(crate) entry_size: Option<fn(&C::Entry) -> u64>,
    pub(crate) log_size: bool,
    pub(crate) snapshot_size: Option<fn(&C::SnapshotData) -> u64>,
}

impl<C: RaftTypeConfig> Clone for Options<C> {
    fn clone(&self) -> Self {
        Self {
            recording: self.recording,
            timing: self.timing,
            in_sync: self.in_sync,
            refresh: self.refresh,
            entry_size: self.entry_size,
            log_size: self.log_size,
            snapshot_size: self.snapshot_size,
        }
    }
}

/// The group's identity and what its wrappers share.
pub(crate) struct Shared<C: RaftTypeConfig> {
    pub(crate) metrics: RaftMetrics,
    pub(crate) topic: String,
    pub(crate) partition: u32,
    pub(crate) node: C::NodeId,
    pub(crate) node_label: String,
    pub(crate) series: Handle<PartitionMetrics>,
    pub(crate) replica: Handle<ReplicaMetrics>,
    pub(crate) node_series: Handle<NodeMetrics>,
    /// Peers by id, created by the first wrapper that meets them (network client or watcher).
    peers: Mutex<BTreeMap<C::NodeId, Arc<Peer>>>,
    /// The leaders whose AppendEntries this node receives, so that the receiving side
    /// (`on_append_entries`, once per request) finds its peer without the map's lock: leaders
    /// change rarely, requests arrive all the time.
    leaders: Leaders<C::NodeId, Arc<Peer>>,
    /// The election this node runs, if any: the log store opens and closes it (`save_vote`),
    /// the network client counts its granted votes.
    pub(crate) election: Mutex<Election>,
    /// A seed for the wrappers' samplers, so they do not all time the same calls.
    seed: AtomicU64,
    /// AppendEntries requests this node accepted from a leader (`on_append_entries`); the
    /// watcher turns its advances into the follower's last contact, as for [`Peer::acks`].
    contacts: AtomicU64,
}

/// One peer of the group, as this node sees it.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) label: String,
    pub(crate) series: Handle<PeerMetrics>,
    /// The AppendEntries RPCs sent to the peer (`rpc_calls_total{method="append_entries"}`).
    pub(crate) append: Handle<RpcMetrics>,
}

impl Peer {
    /// AppendEntries answers received from the peer: the RPCs that succeeded. A count, not a
    /// time: the watcher turns its advances into the time of the last answer at its refresh,
    /// so an answer costs no clock read, and no increment of its own either.
    pub(crate) fn acks(&self) -> u64 {
        self.append.rpc_calls.get(Outcome::Success).get()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
}

impl<C: RaftTypeConfig> Group<C> {
    /// The group `(topic, partition)` on node `node`, recording into `metrics`.
    ///
    /// Binds the group's partition, replica and node series at once (a registry lookup each);
    /// peers are bound when first met.
    pub fn new(metrics: &RaftMetrics, topic: &str, partition: u32, node: C::NodeId) -> Self {
        let node_label = node.to_string();
        let shared = Shared {
            metrics: metrics.clone(),
            topic: topic.to_owned(),
            partition,
            series: metrics.partition(topic, partition),
            replica: metrics.families().replicas.family().bind((topic, partition, node_label.as_str())),
            node_series: metrics.node(node_label.as_str()),
            node,
            node_label,
            peers: Mutex::new(BTreeMap::new()),
            leaders: Leaders::default(),
            election: Mutex::new(Election::default()),
            seed: AtomicU64::new(0x9e37_79b9),
            contacts: AtomicU64::new(0),
        };
        let options = Options {
            recording: true,
            timing: DEFAULT_TIMING,
            in_sync: InSync::default(),
            refresh: DEFAULT_REFRESH,
            entry_size: None,
            log_size: false,
            snapshot_size: None,
        };
        Self { shared: Arc::new(shared), options }
    }

    /// With `false`, the wrappers created after it only forward to the application's log store,
    /// state machine and network, the hooks ([`on_append_entries`](Self::on_append_entries),
    /// [`on_write_error`](Self::on_write_error), [`on_write_timeout`](Self::on_write_timeout))
    /// return at once and the watcher ends at once: nothing is recorded, not even the wrappers'
    /// own bookkeeping (the leader's pending proposals, the log's indexes). The series already
    /// bound stay, at the values they had. Default: on.
    ///
    /// This exists to measure recording's cost, as
    /// `raft_metrics_raftrs::InstrumentedNode::with_recording` does for raft-rs: the same
    /// binary and the same wrappers with recording on and off differ only in the metrics work
    /// (`benches/benches/openraft_loop_instructions.rs`, whose `bare` variant measures what the
    /// wrappers' layers cost on top, against openraft without them). It is set when the wrappers
    /// are created, not switched while they run: a wrapper that recorded only part of the time
    /// would leave the leader's pending proposals and the log's indexes wrong.
    #[must_use]
    pub fn with_recording(mut self, recording: bool) -> Self {
        self.options.recording = recording;
        self
    }

    /// Whether the wrappers created from this group record ([`with_recording`](Self::with_recording)).
    pub fn recording(&self) -> bool {
        self.options.recording
    }

    /// Which storage and network calls are timed (default [`DEFAULT_TIMING`], one in 8).
    ///
    /// A call that is not timed reads no clock. Timed calls observe `log_append_duration_seconds`
    /// (appends), `apply_duration_seconds` (applies), `rpc_duration_seconds` and
    /// `peer_round_trip_seconds` (AppendEntries) and `commit_latency_seconds` (the proposals of a
    /// timed append), each with weight 1, so those histograms' counts are about one in `n` of the
    /// events; the leader's `commit_batch_entries` is sampled alike (one commit in `n`, no clock
    /// read). `Sampling::All` times every call (the truth tests use it); `Sampling::Off` none.
    /// Elections, snapshots, votes and failures are always timed.
    #[must_use]
    pub fn with_timing(mut self, timing: Sampling) -> Self {
        self.options.timing = timing;
        self
    }

    /// The rule for `isr_size` (default: within 250 entries and heard from within 200 ms).
    #[must_use]
    pub fn with_in_sync(mut self, in_sync: InSync<Duration>) -> Self {
        self.options.in_sync = in_sync;
        self
    }

    /// How often the watcher reads openraft's metrics (default [`DEFAULT_REFRESH`]).
    #[must_use]
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.options.refresh = refresh;
        self
    }

    /// How many payload bytes an entry carries, for `append_entries_sent_bytes_total` (and,
    /// with [`with_log_size`](Self::with_log_size), `log_size_bytes`): openraft's entries are the
    /// application's type, so without this neither is recorded.
    #[must_use]
    pub fn with_entry_size(mut self, size: fn(&C::Entry) -> u64) -> Self {
        self.options.entry_size = Some(size);
        self
    }

    /// Also keeps `log_size_bytes`, sizing entries with the function given to
    /// [`with_entry_size`](Self::with_entry_size) (without it, this does nothing).
    ///
    /// The log store then sizes each entry as it appends it and reads the persisted log once at
    /// startup, 1,024 entries at a time, for the size of what is already there. The bytes are
    /// summed in blocks of consecutive indexes, at most 2 KiB per group whatever the log's length
    /// ([`raft_metrics::raft::LogSize`]: exact up to 256 entries and whenever entries are alike in
    /// size, otherwise within a block's bytes per cut block).
    ///
    /// Off by default because every appended entry on every node then pays for a call of the
    /// size function and the bookkeeping, inside openraft's append: 50 to 80 instructions per
    /// entry in the in-memory write loop, about one more point of its instructions with 100
    /// concurrent writes and 0.2 one write at a time (`openraft_loop_instructions`,
    /// `instrumented_log_size`; `benches/notes/openraft.md`), which against a real disk and
    /// network is a few nanoseconds per entry. `log_entries` is kept either way.
    #[must_use]
    pub fn with_log_size(mut self) -> Self {
        self.options.log_size = true;
        self
    }

    /// How many bytes a snapshot holds, for `snapshot_size_bytes`: without this the histogram
    /// is not recorded.
    #[must_use]
    pub fn with_snapshot_size(mut self, size: fn(&C::SnapshotData) -> u64) -> Self {
        self.options.snapshot_size = Some(size);
        self
    }

    /// The group's partition series (what the wrappers record into), for reading or for the
    /// application's own recording.
    pub fn series(&self) -> &PartitionMetrics {
        &self.shared.series
    }

    pub(crate) fn peer(&self, id: &C::NodeId) -> Arc<Peer> {
        let mut peers = lock(&self.shared.peers);
        if let Some(peer) = peers.get(id) {
            return Arc::clone(peer);
        }
        let s = &self.shared;
        let label = id.to_string();
        let series = s.metrics.peer(&s.topic, s.partition, label.as_str());
        let append = s.metrics.families().rpcs.family().bind((APPEND_ENTRIES, label.as_str()));
        let peer = Arc::new(Peer { label, series, append });
        peers.insert(id.clone(), Arc::clone(&peer));
        peer
    }

    /// Runs `f` on the peer `id`, which sends this node AppendEntries requests: without a lock
    /// or a reference count while it stays the leader (see [`Leaders`]), through the peer map
    /// when the group has met more leaders than it keeps.
    pub(crate) fn with_leader_peer(&self, id: &C::NodeId, f: impl FnOnce(&Peer)) {
        match self.shared.leaders.get(id, || self.peer(id)) {
            Some(peer) => f(peer),
            None => f(&self.peer(id)),
        }
    }

    /// Notes an accepted AppendEntries from a leader.
    pub(crate) fn contacted(&self) {
        // Relaxed: a count publishes no other memory.
        self.shared.contacts.fetch_add(1, Ordering::Relaxed);
    }

    /// Accepted AppendEntries so far.
    pub(crate) fn contacts(&self) -> u64 {
        // Relaxed: as in `contacted`.
        self.shared.contacts.load(Ordering::Relaxed)
    }

    /// A fresh seed for a wrapper's sampler.
    pub(crate) fn seed(&self) -> u32 {
        // Relaxed: only distinctness matters.
        let n = self.shared.seed.fetch_add(0x6d2b_79f5, Ordering::Relaxed);
        #[allow(clippy::cast_possible_truncation)] // the low bits are the seed
        let seed = (n ^ (n >> 29)) as u32;
        seed
    }

    /// Marks a snapshot being created, sent or installed (`snapshot_in_progress` 1) until the
    /// returned guard drops, also when openraft cancels the work by dropping its future.
    pub(crate) fn snapshot_work(&self) -> SnapshotWork<'_> {
        self.shared.series.snapshot_in_progress.set(1);
        SnapshotWork(&self.shared.series)
    }

    /// Sets `last_index` and `log_entries` from the log's last and last purged indexes (the log
    /// store at startup, then the watcher from openraft's metrics).
    pub(crate) fn set_log_indexes(&self, last: Option<u64>, purged: Option<u64>) {
        let p = &self.shared.series;
        p.last_index.set_u64(last.unwrap_or(0));
        // openraft's first index is 0, so a log never purged holds `last + 1` entries.
        let entries = match (last, purged) {
            (None, _) => 0,
            (Some(last), None) => last + 1,
            (Some(last), Some(purged)) => last.saturating_sub(purged),
        };
        p.log_entries.set_u64(entries);
    }

    /// Sets the commit index and recomputes the apply lag.
    pub(crate) fn set_commit_index(&self, index: u64) {
        let p = &self.shared.series;
        p.commit_index.set_u64(index);
        self.set_apply_lag();
    }

    /// Sets the last applied index and recomputes the apply lag.
    pub(crate) fn set_last_applied(&self, index: u64) {
        let p = &self.shared.series;
        p.last_applied.set_u64(index);
        self.set_apply_lag();
    }

    /// Commit index minus last applied, never below zero: a follower that installed a snapshot
    /// has applied past the commit index openraft last saved (it saves the next one with the
    /// next commit).
    fn set_apply_lag(&self) {
        let p = &self.shared.series;
        p.apply_lag_entries.set((p.commit_index.get() - p.last_applied.get()).max(0));
    }
}

/// See [`Group::snapshot_work`].
pub(crate) struct SnapshotWork<'a>(&'a PartitionMetrics);

impl Drop for SnapshotWork<'_> {
    fn drop(&mut self) {
        self.0.snapshot_in_progress.set(0);
    }
}
