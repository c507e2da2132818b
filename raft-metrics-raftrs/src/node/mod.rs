//! [`InstrumentedNode`]: a raft-rs [`RawNode`] whose transitions record the Raft metrics.

use std::collections::VecDeque;
use std::time::Duration;

use raft::eraftpb::{ConfState, Entry, Message, MessageType, Snapshot};
use raft::{LightReady, RawNode, Ready, SnapshotStatus, StateRole, Storage, INVALID_ID};
use raft_metrics::raft::{
    AggregatedMetrics, ConfigChangeMetrics, NodeMetrics, Outcome, PartitionMetrics, PeerMetrics, ProposalFailure,
    RaftMetrics, ReplicaMetrics, SnapshotTransferMetrics,
};
use raft_metrics::{Handle, Sampling};
use raft_proto::ConfChangeI;

use crate::classify;
use crate::clock::{self, Clock};
use crate::log_size::LogSize;

mod observe;
mod publish;
mod series;
mod tally;
mod timing;

use series::{rec, Series};
use tally::{PendingProposals, RpcTarget, Tally};
use timing::TurnSampler;

/// When a follower counts in `isr_size`: how far behind and how long silent it may be.
///
/// Silence is counted in ticks (raft-rs's clock), so the rule is the same in a real cluster and
/// in a simulation that runs faster than wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InSync {
    /// Most entries a voter may be behind the leader's last index.
    pub max_lag_entries: u64,
    /// Most ticks since the voter's last append or heartbeat response.
    pub max_silence_ticks: u64,
}

impl Default for InSync {
    /// 250 entries (Consul autopilot's default) and 10 ticks (raft-rs's default `election_tick`).
    fn default() -> Self {
        Self { max_lag_entries: 250, max_silence_ticks: 10 }
    }
}

/// Most heartbeats per peer awaiting a response: a heartbeat lost without the transport saying so
/// skews the round trips after it by at most this many heartbeat intervals, until one is dropped.
const MAX_HEARTBEATS_IN_FLIGHT: usize = 8;
/// How often the wrapper times a turn by default: see [`InstrumentedNode::with_timing`].
pub const DEFAULT_TIMING: Sampling = Sampling::OneIn(match core::num::NonZeroU32::new(8) {
    Some(n) => n,
    None => unreachable!(),
});
/// Most appends (batches of entries) whose time the leader keeps for `follower_lag_seconds`
/// (24 bytes each). A follower further behind gets a lower bound: the age of the oldest kept.
const MAX_APPEND_TIMES: usize = 1 << 16;

/// What the node knows about one peer of the group.
struct Peer {
    id: u64,
    metrics: Series<PeerMetrics>,
    /// The node's tick count at the peer's last append or heartbeat response (leader side).
    last_ack_tick: u64,
    /// Unix time of that response.
    last_ack_unix: f64,
    /// When the heartbeats to the peer that await a response went out ([`clock`] readings, oldest
    /// first). Responses carry nothing to match them by, so the oldest is the one answered:
    /// delivery is in order, and a heartbeat the transport failed to send is taken out.
    heartbeats_in_flight: VecDeque<u64>,
    /// Appends to and from the peer since the last tick, which records them.
    appends_sent: u64,
    append_bytes_sent: u64,
    appends_received: u64,
}

impl Peer {
    fn new(metrics: &RaftMetrics, topic: &str, partition: u32, id: u64) -> Self {
        Self {
            id,
            metrics: {
                let peer = id.to_string();
                Series::new(metrics.peer(topic, partition, &peer), metrics.claim_peer(topic, partition, &peer))
            },
            last_ack_tick: 0,
            last_ack_unix: 0.0,
            heartbeats_in_flight: VecDeque::new(),
            appends_sent: 0,
            append_bytes_sent: 0,
            appends_received: 0,
        }
    }
}

/// The peer `id` of `peers`, added (one registry lookup) the first time it is seen.
fn peer_slot<'a>(
    peers: &'a mut Vec<Peer>,
    metrics: &RaftMetrics,
    topic: &str,
    partition: u32,
    id: u64,
) -> &'a mut Peer {
    let at = peers.iter().position(|p| p.id == id).unwrap_or_else(|| {
        peers.push(Peer::new(metrics, topic, partition, id));
        peers.len() - 1
    });
    &mut peers[at]
}

/// A raft-rs [`RawNode`] that records the Raft metrics of its group, observing every transition.
///
/// Wrap the node, then drive it through the wrapper's methods instead of the `RawNode`'s: each
/// forwards to raft-rs and notes what changed. The handles are bound once, so recording does
/// no registry lookup (a peer or RPC target seen for the first time costs one).
///
/// # What reaches the series when
///
/// * At once: role, leader and term changes, elections, rejections, failures and drops,
///   snapshots, configuration changes, heartbeats and their round trips.
/// * At the next [`tick`](Self::tick) (raft-rs's clock, typically 100 ms; a scrape every 15 s
///   cannot tell): counts that move several times per turn (messages sent, received and
///   delivered, proposals committed and applied; kept in plain fields meanwhile, and recorded by
///   [`close`](Self::close) too), and the state gauges (commit and applied index, apply lag, last
///   index, log size, pending proposals, configuration change in progress, the follower's last
///   leader contact), plus the leader's follower lag and ISR from raft-rs's progress.
/// * On timed turns (about one in 8, weight 8: [`with_timing`](Self::with_timing)): append,
///   apply, commit and RPC durations and commit batch sizes.
///
/// # The ready loop
///
/// The raft-rs loop, with the wrapper's calls (this is what [`sim`](crate::sim) runs):
///
/// ```text
/// let mut rd = node.ready();                                 // a turn starts: timed or not
/// send(node.outgoing(rd.take_messages()));                   // appends sent, rejections, snapshots
/// if !rd.snapshot().is_empty() {
///     node.apply_snapshot(rd.snapshot(), |s| store.wl().apply_snapshot(s.clone()))?;
/// }
/// let entries = node.committed(rd.take_committed_entries()); // commit latency, batch size
/// apply(&mut node, &entries);                                // see below
/// node.persist_entries(rd.entries(), |e| store.wl().append(e))?; // append + fsync time, log size
/// if let Some(hs) = rd.hs() { store.wl().set_hardstate(hs.clone()); }
/// send(node.outgoing(rd.take_persisted_messages()));
/// let mut light = node.advance(rd);
/// if let Some(commit) = light.commit_index() { store.wl().mut_hard_state().set_commit(commit); }
/// send(node.outgoing(light.take_messages()));
/// let entries = node.committed(light.take_committed_entries());
/// apply(&mut node, &entries);
/// node.advance_apply();
///
/// fn apply(node, entries) {                                 // apply time, proposals applied
///     node.apply_entries(entries, |node| {
///         for entry in entries { /* state machine; conf changes: node.apply_conf_change(&cc) */ }
///     });
/// }
/// ```
///
/// Outside the loop: [`tick`](Self::tick), [`step`](Self::step), [`propose`](Self::propose) and
/// [`propose_conf_change`](Self::propose_conf_change) in place of the `RawNode`'s; the transport
/// reports each sent message's fate with [`on_delivered`](Self::on_delivered) or
/// [`on_send_failed`](Self::on_send_failed); the application reports log compaction with
/// [`observe_compaction`](Self::observe_compaction). Each method's documentation lists what it
/// records.
///
/// # Where each state comes from
///
/// Role, leader and term are compared with their last values after every `tick`, `step`,
/// `campaign`, `propose` and `apply_conf_change`, so no transition hides between two readies:
/// `node_state`, `is_leader`, `has_leader`, `current_term`, `leader_changes_seen` (every change to
/// a known leader, as etcd counts it), `pre_votes` (entering pre-candidate), elections (a candidacy
/// starts on entering candidate or a new term as candidate, is won on becoming leader, lost
/// otherwise) and the node-wide `leader_partitions` / `follower_partitions` (each group adds its
/// share). Follower lag, `isr_size` and the leader's quorum contact come from raft-rs's progress
/// tracker after each tick.
///
/// # Clock reads
///
/// An untimed turn reads no clock. A timed turn ([`with_timing`](Self::with_timing)) reads it at
/// most once, lazily, plus once where a duration it times ends (`persist_entries`,
/// `apply_entries`); so do rare events: a tick (once), a heartbeat's response, a snapshot, a
/// role change, a commit of proposals handed out on a timed turn. Everything else in the turn
/// shares the reading, and Unix timestamps are derived from it (`last_contact_timestamp` and the
/// quorum contact at tick resolution). An application timing its own work can use
/// [`apply_entries`](Self::apply_entries) and [`persist_entries`](Self::persist_entries), which
/// time on that clock, or its own clock and the `observe_*` hooks.
///
/// # Node-wide aggregation
///
/// With `Aggregation::Node` the per-partition series are not exported; the wrapper then also
/// records into the node-wide aggregate (`partitions`, `partitions_without_leader`, the folded
/// counters and histograms, and once per tick the follower-lag and apply-lag distributions).
///
/// # Examples
///
/// ```
/// use raft::storage::MemStorage;
/// use raft::{Config, RawNode};
/// use raft_metrics::raft::RaftMetrics;
/// use raft_metrics::Registry;
/// use raft_metrics_raftrs::InstrumentedNode;
///
/// let registry = Registry::new();
/// let metrics = RaftMetrics::with_registry(&registry)?;
/// let config = Config { id: 1, ..Config::default() };
/// let store = MemStorage::new_with_conf_state((vec![1], vec![]));
/// let logger = slog::Logger::root(slog::Discard, slog::o!());
/// let raw = RawNode::new(&config, store, &logger)?;
/// let mut node = InstrumentedNode::new(raw, &metrics, "orders", 0);
/// node.campaign()?; // a single voter wins at once
/// assert_eq!(node.metrics().is_leader.get(), 1);
/// assert_eq!(node.metrics().elections.get(raft_metrics::raft::ElectionResult::Won).get(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct InstrumentedNode<S: Storage> {
    raw: RawNode<S>,
    metrics: RaftMetrics,
    topic: String,
    partition: u32,
    in_sync: InSync,
    /// The group's partition series, shared (for [`metrics`](Self::metrics)) and as the
    /// wrapper records into it (claimed when possible: see `node::series`).
    handle: Handle<PartitionMetrics>,
    p: Series<PartitionMetrics>,
    /// The node-wide aggregate, in `Aggregation::Node` mode (where `p` and the peers are not
    /// exported).
    agg: Option<Handle<AggregatedMetrics>>,
    replica: Series<ReplicaMetrics>,
    node: Handle<NodeMetrics>,
    snapshot_send: Series<SnapshotTransferMetrics>,
    snapshot_receive: Series<SnapshotTransferMetrics>,
    config_changes: Vec<(&'static str, Handle<ConfigChangeMetrics>)>,
    /// Members of the configuration other than this node (kept in step with raft-rs's
    /// configuration by [`sync_peers`](Self::sync_peers), so membership is a short scan).
    peers: Vec<Peer>,
    /// By target node (members or not: a message can outlive a membership).
    rpcs: Vec<RpcTarget>,
    /// Role, leader and term at the last observation.
    role: StateRole,
    leader: u64,
    term: u64,
    /// [`clock`] readings from here on.
    election_started: Option<u64>,
    clock: Clock,
    /// Leader only: when it took office, and when it appended the entries of its term that some
    /// follower may still lack (`follower_lag_seconds`): per append, its first index and time.
    leading_since: u64,
    append_times: VecDeque<(u64, u64)>,
    /// The newest index whose append time is known (or predates this leadership).
    last_recorded: u64,
    /// The clock reading of the last tick.
    tick_at: u64,
    /// Voters that granted this node's current candidacy (itself first).
    votes: Vec<u64>,
    pending: PendingProposals,
    /// Counts since the last tick, which records them.
    tally: Tally,
    /// A follower heard from its leader since the last tick (`last_contact_timestamp`).
    contacted: bool,
    sampler: TurnSampler,
    log: LogSize,
    /// Index of the newest configuration-change entry in the log (0: none).
    conf_index: u64,
    ticks: u64,
    snapshots_sending: u64,
    snapshot_receiving: bool,
    /// Reused by the quorum-contact computation.
    scratch: Vec<f64>,
    /// `false`: every method only forwards to raft-rs ([`with_recording`](Self::with_recording)).
    recording: bool,
}

impl<S: Storage> InstrumentedNode<S> {
    /// Wraps `raw`, the node of group (`topic`, `partition`), recording into `metrics`.
    ///
    /// Sets the state gauges from the node as it is (role, term, indices, configuration, log
    /// size read once from the storage), so a node re-created after a restart starts right.
    pub fn new(raw: RawNode<S>, metrics: &RaftMetrics, topic: &str, partition: u32) -> Self {
        let node_id = raw.raft.id.to_string();
        let transfers = &metrics.families().snapshot_transfers;
        let mut clock = Clock::new();
        let sampler = TurnSampler::new(DEFAULT_TIMING, u64::from(partition) << 32 ^ raw.raft.id);
        let created = clock.now();
        let mut this = Self {
            role: raw.raft.state,
            leader: raw.raft.leader_id,
            term: raw.raft.term,
            raw,
            metrics: metrics.clone(),
            topic: topic.to_owned(),
            partition,
            in_sync: InSync::default(),
            handle: metrics.partition(topic, partition),
            p: Series::new(metrics.partition(topic, partition), metrics.claim_partition(topic, partition)),
            agg: metrics.families().aggregated.clone(),
            replica: Series::new(
                metrics.families().replicas.bind(topic, partition, &node_id),
                metrics.families().replicas.claim(topic, partition, &node_id),
            ),
            node: metrics.node(&node_id),
            snapshot_send: Series::new(
                transfers.bind(topic, partition, "send"),
                transfers.claim(topic, partition, "send"),
            ),
            snapshot_receive: Series::new(
                transfers.bind(topic, partition, "receive"),
                transfers.claim(topic, partition, "receive"),
            ),
            config_changes: Vec::new(),
            peers: Vec::new(),
            rpcs: Vec::new(),
            election_started: None,
            leading_since: created,
            clock,
            append_times: VecDeque::new(),
            last_recorded: 0,
            tick_at: created,
            votes: Vec::new(),
            pending: PendingProposals::default(),
            tally: Tally::default(),
            contacted: false,
            sampler,
            log: LogSize::default(),
            conf_index: 0,
            ticks: 0,
            snapshots_sending: 0,
            snapshot_receiving: false,
            scratch: Vec::new(),
            recording: true,
        };
        this.seed_log();
        this.sync_peers();
        this.publish_role(None, this.role);
        rec!(this.p => has_leader.set(i64::from(this.leader != INVALID_ID)));
        rec!(this.p => current_term.set_u64(this.term));
        this.publish_conf();
        this.publish_state();
        this.publish_snapshot_progress();
        if let Some(a) = this.agg() {
            a.partitions.inc();
            if this.leader == INVALID_ID {
                a.partitions_without_leader.inc();
            }
        }
        this
    }

    /// Sets when a follower counts as in sync (default: [`InSync::default`]).
    #[must_use]
    pub fn with_in_sync(mut self, in_sync: InSync) -> Self {
        self.in_sync = in_sync;
        self
    }

    /// How often the wrapper times a turn of the loop (default [`DEFAULT_TIMING`], one turn in
    /// 8). Every turn is counted; a timed turn also measures its durations and sizes
    /// (`log_append_duration_seconds`, `apply_duration_seconds`, `commit_latency_seconds` of the
    /// proposals it hands out, `commit_batch_entries`, and `rpc_duration_seconds` of the
    /// messages it sends, see [`rpc_timed`](Self::rpc_timed)) and observes them with
    /// weight 8, so histogram counts and sums are unbiased estimates (relative error
    /// `sqrt(7 / count)`: 1 % after 70 000 observations). Timed turns are drawn at random, so
    /// they cannot align with the loop's own rhythm. `Sampling::All` times every turn (each costs
    /// clock reads and histogram updates: `benches/RESULTS.md` has both); `Sampling::Off` none.
    /// Elections, snapshots and heartbeat round trips are rare and always timed.
    #[must_use]
    pub fn with_timing(mut self, timing: Sampling) -> Self {
        self.sampler = TurnSampler::new(timing, u64::from(self.partition) << 32 ^ self.raw.raft.id);
        self
    }

    /// How often the wrapper times a turn ([`with_timing`](Self::with_timing)).
    pub fn timing(&self) -> Sampling {
        self.sampler.sampling()
    }

    /// With `false`, turns recording off: from then on every method of the wrapper only forwards
    /// to raft-rs (the `persist_entries` / `apply_snapshot` closures still run) and records
    /// nothing, not even its own bookkeeping (pending proposals, append times, log size). The
    /// series keep the values set so far.
    ///
    /// This exists to measure the wrapper's cost: the same ready loop with recording on and off
    /// differs only in the metrics work (`benches/benches/raft_loop.rs`). Default: on.
    #[must_use]
    pub fn with_recording(mut self, recording: bool) -> Self {
        self.recording = recording;
        self
    }

    /// Whether the wrapper records ([`with_recording`](Self::with_recording)).
    pub fn recording(&self) -> bool {
        self.recording
    }

    /// The wrapped node, to read its state (`raw().raft.raft_log.committed`, `raw().raft.prs()`).
    pub fn raw(&self) -> &RawNode<S> {
        &self.raw
    }

    /// The wrapped node, mutably. Calls made through it are not observed: prefer the wrapper's.
    pub fn raw_mut(&mut self) -> &mut RawNode<S> {
        &mut self.raw
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.raw.raft.id
    }

    /// This node's role, as last observed.
    pub fn role(&self) -> StateRole {
        self.role
    }

    /// The group's topic label.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The group's partition label.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The group's bound partition series, for metrics the wrapper cannot see.
    ///
    /// The wrapper records into the group's series through single-writer claims (a plain load and
    /// store per update, see `node::series`), so write through this handle from the thread that
    /// drives the wrapper, or only into metrics the wrapper does not record (e.g.
    /// `proposals_failed{reason="timeout"}`): an update racing the wrapper's on the same metric
    /// from another thread can be lost.
    pub fn metrics(&self) -> &Handle<PartitionMetrics> {
        &self.handle
    }

    /// Unwraps the node. Takes back this group's share of the node-wide `leader_partitions` /
    /// `follower_partitions` gauges, and with `remove_series` removes every series of the group
    /// from the registry (the group left this node); otherwise the series stay at their last value.
    /// Counts kept since the last tick are recorded first.
    pub fn close(mut self, remove_series: bool) -> RawNode<S> {
        if self.recording {
            self.flush_tallies();
        }
        self.count_role(self.role, -1);
        if let Some(a) = self.agg() {
            a.partitions.dec();
            if self.leader == INVALID_ID {
                a.partitions_without_leader.dec();
            }
        }
        if remove_series {
            self.metrics.remove_partition(&self.topic, self.partition);
        }
        self.raw
    }

    // ---- driving the node ---------------------------------------------------------------------

    /// [`RawNode::tick`]; then role changes (elections started by the timeout, a leader stepping
    /// down on `check_quorum`), on the leader follower lag and `isr_size`, and the state the
    /// wrapper publishes once per tick: indexes, apply lag, log size, pending proposals, the
    /// follower's last leader contact, and the counters kept since the last tick.
    pub fn tick(&mut self) -> bool {
        if !self.recording {
            return self.raw.tick();
        }
        self.ticks += 1;
        self.clock.tick(self.ticks);
        self.tick_at = self.clock.now();
        let ready = self.raw.tick();
        self.observe_state();
        self.refresh_progress();
        self.flush_tallies();
        self.publish_state();
        if let Some(a) = self.agg() {
            let log = &self.raw.raft.raft_log;
            #[allow(clippy::cast_precision_loss)] // lags are far below 2^53
            a.apply_lag_entries.observe(log.committed.saturating_sub(log.applied) as f64);
        }
        ready
    }

    /// [`RawNode::campaign`], observing the role change.
    ///
    /// # Errors
    ///
    /// As [`RawNode::campaign`].
    pub fn campaign(&mut self) -> raft::Result<()> {
        if !self.recording {
            return self.raw.campaign();
        }
        let result = self.raw.campaign();
        self.observe_state();
        result
    }

    /// [`RawNode::step`] with a message from a peer.
    ///
    /// Before stepping: `append_entries_received` (per sender), `stale_term` rejections
    /// ([`classify::is_stale_append`]), `last_contact_timestamp` on a follower, granted votes
    /// (`votes_received`), and on the leader each peer's last response (ISR silence, heartbeat
    /// timestamp, heartbeat round trip). After: role, leader and term changes.
    ///
    /// # Errors
    ///
    /// As [`RawNode::step`].
    #[inline]
    pub fn step(&mut self, msg: Message) -> raft::Result<()> {
        if !self.recording {
            return self.raw.step(msg);
        }
        self.observe_incoming(&msg);
        let snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
        let result = self.raw.step(msg);
        if snapshot {
            // raft-rs restores the snapshot's configuration as it steps it.
            self.sync_peers();
        }
        if self.snapshot_receiving && self.raw.snap().is_none() {
            // raft-rs ignored the snapshot (older than the commit index): nothing to install.
            self.snapshot_receiving = false;
            self.publish_snapshot_progress();
        }
        self.observe_state();
        result
    }

    /// [`RawNode::propose`]. On the leader, remembers the entry's index and term to time its
    /// commit (`proposals_pending`); a refusal counts in `proposals_failed` (`not_leader` when
    /// this node does not lead, `dropped` otherwise). A follower forwards the proposal and
    /// records nothing.
    ///
    /// # Errors
    ///
    /// As [`RawNode::propose`].
    #[inline]
    pub fn propose(&mut self, context: Vec<u8>, data: Vec<u8>) -> raft::Result<()> {
        if !self.recording {
            return self.raw.propose(context, data);
        }
        let result = self.raw.propose(context, data);
        self.after_propose(&result, false);
        result
    }

    /// [`RawNode::propose_conf_change`], recorded like [`propose`](Self::propose). raft-rs turns
    /// a change proposed while another is pending into an empty entry and still returns `Ok`:
    /// that counts as `proposals_failed{reason="dropped"}`.
    ///
    /// # Errors
    ///
    /// As [`RawNode::propose_conf_change`].
    pub fn propose_conf_change(&mut self, context: Vec<u8>, cc: impl ConfChangeI) -> raft::Result<()> {
        if !self.recording {
            return self.raw.propose_conf_change(context, cc);
        }
        let result = self.raw.propose_conf_change(context, cc);
        self.after_propose(&result, true);
        result
    }

    /// [`RawNode::has_ready`].
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }

    /// [`RawNode::ready`]: starts a turn of the loop (timed or not, see
    /// [`with_timing`](Self::with_timing)); the proposals made since the last ready start their
    /// commit latency.
    #[inline]
    pub fn ready(&mut self) -> Ready {
        if self.recording {
            self.clock.new_turn();
            self.sampler.next_turn();
            if self.pending.has_new() {
                let at = if self.sampler.timed() { Some(self.clock.now()) } else { None };
                self.pending.hand_out(at);
            }
        }
        // Last, so the (large) `Ready` goes straight to the caller without a copy.
        self.raw.ready()
    }

    /// For the transport: whether this turn is timed ([`with_timing`](Self::with_timing)), so
    /// the latency of the messages it sends should be measured and passed to
    /// [`on_delivered`](Self::on_delivered); the others are delivered with `None`.
    pub fn rpc_timed(&self) -> bool {
        self.recording && self.sampler.timed()
    }

    /// Records messages about to be sent and hands them back: `append_entries_sent` and its bytes
    /// per target, `log_inconsistency` rejections this follower sends, snapshot sends
    /// (`snapshot_in_progress`), heartbeat send times (round trip).
    ///
    /// Use it on `Ready::take_messages`, `Ready::take_persisted_messages` and
    /// `LightReady::take_messages`.
    #[inline]
    pub fn outgoing(&mut self, msgs: Vec<Message>) -> Vec<Message> {
        if !self.recording {
            return msgs;
        }
        for msg in &msgs {
            self.observe_outgoing(msg);
        }
        msgs
    }

    /// Records committed entries and hands them back: `commit_batch_entries` once per batch (in
    /// a timed turn), and for the proposals this node made as leader `proposals_committed` and
    /// `commit_latency_seconds` (proposals handed out in a timed turn), or
    /// `proposals_failed{reason="dropped"}` when another leader's entry took their index.
    ///
    /// Commit latency runs from the first [`ready`](Self::ready) after the proposal (which hands
    /// its entry to the log and the followers) to the ready that hands out its commit, both on
    /// the turn's clock (see "Clock reads" above); it leaves out the proposal's wait for the loop.
    ///
    /// Use it on `Ready::take_committed_entries` and `LightReady::take_committed_entries`.
    #[inline]
    pub fn committed(&mut self, entries: Vec<Entry>) -> Vec<Entry> {
        if entries.is_empty() || !self.recording {
            return entries;
        }
        let weight = self.sampler.weight();
        let Self { p, agg, clock, pending, tally, sampler, .. } = self;
        let agg = agg.as_deref();
        if sampler.timed() {
            #[allow(clippy::cast_precision_loss)] // batch sizes are far below 2^53
            let batch = entries.len() as f64;
            rec!(p => commit_batch_entries.observe_n(batch, weight));
            if let Some(a) = agg {
                a.commit_batch_entries.observe_n(batch, weight);
            }
        }
        if pending.len() == 0 {
            return entries;
        }
        let dropped = pending.commit(&entries, |proposals, at| {
            tally.proposals_committed += proposals;
            if let Some(at) = at {
                let latency = clock::seconds(at, clock.now());
                rec!(p => commit_latency.observe_n(latency, proposals * weight));
                if let Some(a) = agg {
                    a.commit_latency.observe_n(latency, proposals * weight);
                }
            }
        });
        if dropped > 0 {
            rec!(p => proposals_failed.get(ProposalFailure::Dropped).add(dropped));
        }
        entries
    }

    /// Runs `write` (the application's append of `entries` to its log, including the fsync) and,
    /// when it succeeds with entries, observes `log_append_duration_seconds` and the log size.
    ///
    /// # Errors
    ///
    /// `write`'s error, unrecorded.
    pub fn persist_entries<T, E>(
        &mut self,
        entries: &[Entry],
        write: impl FnOnce(&[Entry]) -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.recording || entries.is_empty() {
            return write(entries);
        }
        // The result is handed back as it is (no `?` and re-wrap, which copies a large error
        // type on every call).
        if !self.sampler.timed() {
            let written = write(entries);
            if written.is_ok() {
                self.record_append(entries, None);
            }
            return written;
        }
        let start = self.clock.now();
        let written = write(entries);
        if written.is_ok() {
            let elapsed = clock::seconds(start, self.clock.read());
            self.record_append(entries, Some((elapsed, self.sampler.weight())));
        }
        written
    }

    /// The one-line hook for an application that persists entries itself: `elapsed` is the
    /// append plus fsync, observed in `log_append_duration_seconds` (every call: the caller
    /// chose to time it); updates the log size (`log_entries`, `log_size_bytes`, published at
    /// the next tick), `log_truncations_total` (when the entries overwrote a conflicting tail)
    /// and `config_change_in_progress` (a configuration change entered the log).
    pub fn observe_append(&mut self, entries: &[Entry], elapsed: Duration) {
        if self.recording {
            self.record_append(entries, Some((elapsed.as_secs_f64(), 1)));
        }
    }

    /// `timed`: the append's duration in seconds, and its weight.
    fn record_append(&mut self, entries: &[Entry], timed: Option<(f64, u64)>) {
        let Some(first) = entries.first() else { return };
        if let Some((seconds, weight)) = timed {
            rec!(self.p => log_append_duration.observe_n(seconds, weight));
        }
        if self.log.append(entries) {
            rec!(self.p => log_truncations.inc());
        }
        if self.raw.raft.state == StateRole::Leader {
            // The last tick's reading: follower lag in seconds has a tick's resolution, and an
            // untimed turn reads no clock.
            let now = self.tick_at;
            while self.append_times.back().is_some_and(|&(index, _)| index >= first.index) {
                self.append_times.pop_back();
            }
            self.append_times.push_back((first.index, now));
            self.last_recorded = self.last_recorded.max(entries.last().map_or(0, |e| e.index));
            while self.append_times.len() > MAX_APPEND_TIMES {
                self.append_times.pop_front();
            }
        }
        if self.conf_index >= first.index {
            // Overwritten: the entry at that index may no longer be a configuration change.
            self.conf_index = 0;
        }
        if let Some(conf) = entries.iter().rev().find(|e| classify::is_conf_change(e.get_entry_type())) {
            self.conf_index = conf.index;
        }
    }

    /// Runs `install` (the application installing `snapshot` from `Ready::snapshot`) and records
    /// `snapshot_transfers_total{direction="receive"}` by outcome; on success also
    /// `snapshot_apply_duration_seconds`, `snapshot_last_index`, `snapshot_last_timestamp_seconds`,
    /// the (now empty) log and the configuration the snapshot carried.
    ///
    /// # Errors
    ///
    /// `install`'s error.
    pub fn apply_snapshot<T, E>(
        &mut self,
        snapshot: &Snapshot,
        install: impl FnOnce(&Snapshot) -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.recording {
            return install(snapshot);
        }
        let start = self.clock.now();
        let installed = install(snapshot);
        let elapsed = clock::seconds(start, self.clock.read());
        rec!(self.snapshot_receive => snapshot_transfers.get(Outcome::from(installed.is_ok())).inc());
        if let Some(a) = self.agg() {
            a.snapshot_transfers.get(Outcome::from(installed.is_ok())).inc();
            if installed.is_ok() {
                a.snapshot_apply_duration.observe(elapsed);
            }
        }
        self.snapshot_receiving = false;
        if installed.is_ok() {
            let index = snapshot.get_metadata().index;
            rec!(self.p => snapshot_apply_duration.observe(elapsed));
            rec!(self.p => snapshot_last_index.set_u64(index));
            rec!(self.p => last_index.set_u64(index));
            let unix = self.clock.unix();
            rec!(self.p => snapshot_last_timestamp.set(unix));
            self.log.clear();
            if self.conf_index <= index {
                self.conf_index = 0;
            }
            self.pending.forget_through(index);
            self.sync_peers();
            self.publish_conf();
            self.publish_log();
        }
        self.publish_snapshot_progress();
        installed
    }

    /// The one-line hook after applying a batch of committed entries: `elapsed` is the state
    /// machine's time, observed in `apply_duration_seconds` (every call: the caller chose to time
    /// it). Counts `proposals_applied` (entries with client data, and configuration changes).
    pub fn observe_apply(&mut self, entries: &[Entry], elapsed: Duration) {
        if self.recording {
            self.record_apply(entries, Some((elapsed.as_secs_f64(), 1)));
        }
    }

    /// Runs `apply` (the application applying the committed `entries` to its state machine; it
    /// gets the node back, for [`apply_conf_change`](Self::apply_conf_change)) and records it
    /// like [`observe_apply`](Self::observe_apply); in a timed turn
    /// ([`with_timing`](Self::with_timing)) the apply is timed on the turn's clock: the wrapper
    /// reads the system clock once, where the apply ends.
    pub fn apply_entries<T>(&mut self, entries: &[Entry], apply: impl FnOnce(&mut Self) -> T) -> T {
        if entries.is_empty() || !self.recording {
            return apply(self);
        }
        if !self.sampler.timed() {
            let applied = apply(self);
            self.record_apply(entries, None);
            return applied;
        }
        let start = self.clock.now();
        let applied = apply(self);
        let elapsed = clock::seconds(start, self.clock.read());
        self.record_apply(entries, Some((elapsed, self.sampler.weight())));
        applied
    }

    /// `timed`: the apply's duration in seconds, and its weight.
    fn record_apply(&mut self, entries: &[Entry], timed: Option<(f64, u64)>) {
        if entries.is_empty() {
            return;
        }
        if let Some((seconds, weight)) = timed {
            rec!(self.p => apply_duration.observe_n(seconds, weight));
        }
        let proposals = entries.iter().filter(|e| classify::is_proposal(e.get_entry_type(), e.get_data())).count();
        self.tally.proposals_applied += proposals as u64;
    }

    /// [`RawNode::apply_conf_change`]: counts `config_changes_total` by kind
    /// ([`classify::change_kinds`]), sets `voters`, `learners` and `cluster_size`, binds added
    /// peers and removes the series of removed ones.
    ///
    /// # Errors
    ///
    /// As [`RawNode::apply_conf_change`]; nothing is recorded then.
    pub fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> raft::Result<ConfState> {
        if !self.recording {
            return self.raw.apply_conf_change(cc);
        }
        let conf_state = self.raw.apply_conf_change(cc)?;
        let v2 = cc.as_v2();
        for kind in classify::change_kinds(&v2) {
            self.config_change(kind).config_changes.inc();
            if let Some(a) = self.agg() {
                a.config_changes.inc();
            }
        }
        let self_id = self.id();
        for change in v2.get_changes() {
            let gone = change.node_id;
            let member = self.raw.raft.prs().conf().voters().contains(gone)
                || self.raw.raft.prs().conf().learners().contains(&gone);
            if gone != self_id && !member {
                self.peers.retain(|p| p.id != gone);
                self.metrics.remove_peer(&self.topic, self.partition, gone);
            }
        }
        self.sync_peers();
        self.publish_conf();
        self.observe_state();
        Ok(conf_state)
    }

    /// [`RawNode::advance`]. (The indexes it moves are published once per
    /// [`tick`](Self::tick), with follower lag and ISR.)
    #[inline]
    pub fn advance(&mut self, ready: Ready) -> LightReady {
        self.raw.advance(ready)
    }

    /// [`RawNode::advance_append`].
    pub fn advance_append(&mut self, ready: Ready) -> LightReady {
        self.raw.advance_append(ready)
    }

    /// [`RawNode::advance_apply`]. (`last_applied`, `apply_lag_entries` and
    /// `config_change_in_progress` are published once per [`tick`](Self::tick).)
    pub fn advance_apply(&mut self) {
        self.raw.advance_apply();
    }

    /// [`RawNode::advance_apply_to`], like [`advance_apply`](Self::advance_apply).
    pub fn advance_apply_to(&mut self, applied: u64) {
        self.raw.advance_apply_to(applied);
    }

    /// [`RawNode::report_snapshot`]: counts `snapshot_transfers_total{direction="send"}` by
    /// outcome and ends the send's `snapshot_in_progress`.
    pub fn report_snapshot(&mut self, to: u64, status: SnapshotStatus) {
        if !self.recording {
            return self.raw.report_snapshot(to, status);
        }
        self.snapshots_sending = self.snapshots_sending.saturating_sub(1);
        let outcome = Outcome::from(status == SnapshotStatus::Finish);
        rec!(self.snapshot_send => snapshot_transfers.get(outcome).inc());
        if let Some(a) = self.agg() {
            a.snapshot_transfers.get(outcome).inc();
        }
        self.publish_snapshot_progress();
        self.raw.report_snapshot(to, status);
    }

    /// The transport delivered `msg` (which this node sent), after `latency` when it measured
    /// it (messages sent in a timed turn, [`rpc_timed`](Self::rpc_timed)): counts
    /// `rpc_calls_total{result="success"}` (recorded at the next tick) and observes
    /// `rpc_duration_seconds` with the timing weight, for (`method`, `target`); a delivered
    /// snapshot is reported finished ([`report_snapshot`](Self::report_snapshot)).
    #[inline]
    pub fn on_delivered(&mut self, msg: &Message, latency: Option<Duration>) {
        let msg_type = msg.get_msg_type();
        if self.recording {
            let target = RpcTarget::of(&mut self.rpcs, msg.to);
            target.delivered(&self.metrics, msg_type);
            if let Some(latency) = latency {
                let weight = self.sampler.weight().max(1);
                target.handle(&self.metrics, msg_type).rpc_duration.observe_n(latency.as_secs_f64(), weight);
            }
        }
        if msg_type == MessageType::MsgSnapshot {
            self.report_snapshot(msg.to, SnapshotStatus::Finish);
        }
    }

    /// The transport could not deliver `msg` (which this node sent): counts `messages_dropped`,
    /// `rpc_calls_total{result="failure"}`, `rpc_errors_total{error_type="unreachable"}`, and
    /// `heartbeat_failures` for a heartbeat; then tells raft-rs
    /// ([`RawNode::report_unreachable`]), and reports a snapshot as failed.
    pub fn on_send_failed(&mut self, msg: &Message) {
        if !self.recording {
            self.raw.report_unreachable(msg.to);
            if msg.get_msg_type() == MessageType::MsgSnapshot {
                self.raw.report_snapshot(msg.to, SnapshotStatus::Failure);
            }
            return;
        }
        rec!(self.p => messages_dropped.inc());
        let (to, msg_type) = (msg.to, msg.get_msg_type());
        RpcTarget::of(&mut self.rpcs, to).handle(&self.metrics, msg_type).rpc_calls.get(Outcome::Failure).inc();
        let method = classify::method(msg_type);
        self.metrics.record_rpc_error(method, to, "unreachable");
        if let Some(peer) = self.peer(to) {
            if msg_type == MessageType::MsgHeartbeat {
                rec!(peer.metrics => heartbeat_failures.inc());
                // Sent last, so the newest in flight.
                peer.heartbeats_in_flight.pop_back();
            }
        }
        self.raw.report_unreachable(to);
        if msg_type == MessageType::MsgSnapshot {
            self.report_snapshot(to, SnapshotStatus::Failure);
        }
    }

    /// The one-line hook after the application compacted its log so that it now starts at
    /// `first_index`: counts `log_compactions` and updates the log size.
    pub fn observe_compaction(&mut self, first_index: u64) {
        if !self.recording {
            return;
        }
        rec!(self.p => log_compactions.inc());
        if let Some(a) = self.agg() {
            a.log_compactions.inc();
        }
        self.log.compact(first_index);
        self.publish_log();
    }
}

impl<S: Storage> core::fmt::Debug for InstrumentedNode<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InstrumentedNode")
            .field("id", &self.raw.raft.id)
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("role", &self.role)
            .field("term", &self.term)
            .finish_non_exhaustive()
    }
}
