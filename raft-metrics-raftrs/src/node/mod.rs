//! [`InstrumentedNode`]: a raft-rs [`RawNode`] whose transitions record the Raft metrics.
//!
//! The wrapper is a composition of states, each in its own module with the series it records
//! into and the methods that observe and publish it: [`role`] (role, leader, term, elections via
//! [`election`]), [`peers`] (each peer's series and heartbeats), [`links`] (the messages
//! exchanged with each node), [`progress`] (the leader's view of follower lag and ISR),
//! [`proposals`] (proposal to apply, with [`pending`]), [`log`], [`membership`] and
//! [`snapshots`]. [`group`] holds what they share (the group's labels and partition series),
//! [`turn`] the node's time and [`idle`] which ticks publish. This module builds the states and
//! coordinates them where one raft-rs transition concerns several; [`drive`] holds the public
//! hooks and [`messages`] routes each message to the state it concerns.
//!
//! # Counts kept between ticks
//!
//! Counters that move several times per turn (messages, proposals) are added up in plain fields
//! and recorded once per tick: a Prometheus scrape every 15 s cannot tell a counter recorded at
//! once from one recorded up to a tick (raft-rs's usual 100 ms) later, and the turn saves a
//! series update per event. An idle group's ticks skip that, up to ten in a row ([`idle`]).
//! [`InstrumentedNode::close`] records what is left.

use raft::eraftpb::Entry;
use raft::{RawNode, StateRole, Storage};
use raft_metrics::raft::{InSync, Ticks};
use raft_metrics::raft::{PartitionMetrics, RaftMetrics};
use raft_metrics::{Handle, Sampling};

mod drive;
mod election;
mod group;
mod idle;
mod links;
mod log;
mod membership;
mod messages;
mod peers;
mod pending;
mod progress;
mod proposals;
mod role;
mod series;
mod snapshots;
mod timing;
mod turn;

use group::GroupSeries;
use idle::{Idle, Publication};
use links::{AppendTally, Links};
use log::Log;
use membership::Membership;
use peers::Peers;
use pending::Stamp;
use progress::LeaderProgress;
use proposals::Proposals;
use role::{Leadership, Role, Standing};
use series::Series;
use snapshots::Snapshots;
use turn::Turn;

/// How often the wrapper times a turn by default: see [`InstrumentedNode::with_timing`].
pub const DEFAULT_TIMING: Sampling = Sampling::OneIn(match core::num::NonZeroU32::new(8) {
    Some(n) => n,
    None => unreachable!(),
});
/// How often a turn's messages are timed by default: see [`InstrumentedNode::with_rpc_timing`].
pub const DEFAULT_RPC_TIMING: Sampling = Sampling::OneIn(match core::num::NonZeroU32::new(64) {
    Some(n) => n,
    None => unreachable!(),
});
/// The durations' timed turns per tick a busy group is paced to by default: see
/// [`InstrumentedNode::with_timing_budget`].
pub const DEFAULT_TIMING_BUDGET: u32 = 8;
/// How often an idle group publishes its state at least, in ticks, by default: see
/// [`InstrumentedNode::with_idle_publish_every`].
pub const DEFAULT_IDLE_PUBLISH_EVERY: u32 = idle::DEFAULT_EVERY;
/// How often a busy group publishes at most, in ticks, by default in the large-node export modes
/// (`Aggregation::Node` and `Aggregation::Unhealthy`; 1 in the per-partition mode): see
/// [`InstrumentedNode::with_busy_publish_every`].
pub const DEFAULT_LARGE_NODE_BUSY_PUBLISH_EVERY: u32 = 10;
/// A raft-rs [`RawNode`] that records the Raft metrics of its group, observing every transition.
///
/// Wrap the node, then drive it through the wrapper's methods instead of the `RawNode`'s: each
/// forwards to raft-rs and notes what changed. The handles are bound once, so recording does
/// no registry lookup (a peer or RPC target seen for the first time costs one).
///
/// # What reaches the series when
///
/// * At once: role, leader and term changes, elections, rejections, failures and drops,
///   snapshots, configuration changes, the round trips of timed heartbeats.
/// * At the next [`tick`](Self::tick) (raft-rs's clock, typically 100 ms; a scrape every 15 s
///   cannot tell): counts that move several times per turn (messages sent and received, RPC
///   calls, heartbeats and the last one's answer, proposals committed and applied; kept in plain
///   fields meanwhile, and recorded by
///   [`close`](Self::close) too), and the state gauges (commit and applied index, apply lag, last
///   index, log size, pending proposals, configuration change in progress, the follower's last
///   leader contact), plus the leader's follower lag and ISR from raft-rs's progress. An idle
///   group (no index, append, role or follower lag moving) publishes only every
///   [`with_idle_publish_every`](Self::with_idle_publish_every) ticks (default 10): what moves
///   with heartbeats alone is then up to that many ticks late. In the large-node export modes a
///   busy group publishes at most every
///   [`with_busy_publish_every`](Self::with_busy_publish_every) ticks (default 10 there, 1 per
///   partition): what a tick would publish is then up to that many ticks late.
/// * On timed turns (about one in 8, weight 8, a busy group paced to 8 per tick:
///   [`with_timing`](Self::with_timing)): append, apply, commit and RPC durations and commit
///   batch sizes.
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
/// reports the messages it could not send with [`on_send_failed`](Self::on_send_failed), and the
/// latency of those it timed and the snapshots it delivered with
/// [`on_delivered`](Self::on_delivered); the application reports log compaction with
/// [`observe_compaction`](Self::observe_compaction), and an idle group it stops ticking with
/// [`hibernate`](Self::hibernate). Each method's documentation lists what it records.
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
/// `apply_entries`) and where an append it times starts (`persist_entries`: the turn may have
/// taken its reading before ticks its application made since); so do rare events: a timed
/// heartbeat's response, a snapshot, a role change, a commit of proposals appended on a timed
/// turn, and what needs the time once per tick or per heartbeat (the leader's first append of a
/// tick, a heartbeat's answer): an idle tick reads none. Everything else
/// in the turn shares the reading, and Unix timestamps are derived from it
/// (`last_contact_timestamp` and the quorum contact at tick resolution). An application timing
/// its own work can use [`apply_entries`](Self::apply_entries) and
/// [`persist_entries`](Self::persist_entries), which time on that clock, or its own clock and
/// the `observe_*` hooks.
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
// In this order (`repr(C)`): raft-rs's node, then what every tick touches in one cache line of
// its own (`Quiet`), then what the group's turns and messages use: the turn, the links and the
// peers (their records on the heap, a line each per message). A node with thousands of groups
// ticks each ten times a second, and at that scale a tick's cost is the cache lines it misses,
// not its instructions (`benches/notes/real_node.md`): with recording off a tick reads the
// switch's line, and with recording on a quiet tick reads that line alone.
#[repr(C)]
pub struct InstrumentedNode<S: Storage> {
    raw: RawNode<S>,
    quiet: Quiet,
    turn: Turn,
    links: Links,
    peers: Peers,
    role: Role,
    /// The group's labels and the partition series every state records into.
    group: GroupSeries,
    progress: LeaderProgress,
    proposals: Proposals,
    log: Log,
    membership: Membership,
    snapshots: Snapshots,
    /// Last: it is read only by a leader that sent appends, and anywhere else it would move the
    /// lines an idle group's publication reads.
    appends: AppendTally,
}

/// What a quiet tick touches, aligned to a cache line of its own: the switch and the idle
/// state (the tick count with it; the turn catches up when next used, [`Turn::catch_up`]).
#[repr(C, align(64))]
#[derive(Debug)]
struct Quiet {
    idle: Idle,
    /// `false`: every method only forwards to raft-rs
    /// ([`with_recording`](InstrumentedNode::with_recording)).
    recording: bool,
    /// A follower heard from its leader since the last publication (`last_contact_timestamp`):
    /// a message from the current leader (an append, heartbeat or snapshot of its term).
    contacted: bool,
    /// The application stopped ticking the group until the next tick
    /// ([`hibernate`](InstrumentedNode::hibernate)).
    hibernating: bool,
    /// The leader sent appends since the last publication (counted in [`AppendTally`], whose
    /// lines an idle leader's publication then need not read).
    appended: bool,
}

const _: () = assert!(core::mem::size_of::<Quiet>() == 64, "a quiet tick reads one cache line");
// The turn starts the line after it (so that a turn reads one line: `node/turn.rs`).
const _: () = assert!(
    core::mem::offset_of!(InstrumentedNode<raft::storage::MemStorage>, turn) % 64 == 0,
    "a turn's fields start a cache line"
);

impl<S: Storage> InstrumentedNode<S> {
    /// Wraps `raw`, the node of group (`topic`, `partition`), recording into `metrics`.
    ///
    /// Sets the state gauges from the node as it is (role, term, indices, configuration, log
    /// size read once from the storage), so a node re-created after a restart starts right.
    pub fn new(raw: RawNode<S>, metrics: &RaftMetrics, topic: &str, partition: u32) -> Self {
        let node_id = raw.raft.id.to_string();
        let group = GroupSeries::new(metrics, topic, partition);
        let mut turn = Turn::new(DEFAULT_TIMING, DEFAULT_RPC_TIMING, DEFAULT_TIMING_BUDGET, seed(partition, &raw));
        let replicas = &metrics.families().replicas;
        let role = Role::new(
            Standing::of(&raw),
            Series::new(replicas.bind((topic, partition, &node_id)), replicas.claim((topic, partition, &node_id))),
            metrics.node(&node_id),
            &group,
        );
        let snapshots = Snapshots::new(&group);
        let (mut peers, mut links) = (Peers::default(), Links::default());
        peers.sync(&group, raw.raft.prs(), raw.raft.id, &mut links);
        Membership::publish(raw.raft.prs(), &group);
        let standing = Standing::of(&raw);
        // The large-node modes are for thousands of groups, where a publication at every tick
        // of each busy one was most of what recording cost it (`with_busy_publish_every`).
        let busy_every = if metrics.aggregate().is_some() { DEFAULT_LARGE_NODE_BUSY_PUBLISH_EVERY } else { 1 };
        let log = Log::read(raw.store());
        let proposals = Proposals::default();
        log.publish(&raw.raft.raft_log, &group);
        proposals.publish(&group);
        Self {
            progress: LeaderProgress::new(turn.clock.now()),
            raw,
            turn,
            role,
            peers,
            proposals,
            log,
            membership: Membership::default(),
            snapshots,
            links,
            appends: AppendTally::default(),
            quiet: Quiet {
                idle: Idle::new(standing, busy_every),
                recording: true,
                contacted: false,
                hibernating: false,
                appended: false,
            },
            group,
        }
    }

    /// Sets when a follower counts as in sync (default: [`InSync::default`]).
    #[must_use]
    pub fn with_in_sync(mut self, in_sync: InSync<Ticks>) -> Self {
        self.progress.in_sync = in_sync;
        self
    }

    /// How often the wrapper times a turn of the loop at most (default [`DEFAULT_TIMING`], one
    /// turn in 8; a busy group sparser, see [`with_timing_budget`](Self::with_timing_budget)).
    /// Every turn is counted; a timed turn also measures its durations and sizes
    /// (`log_append_duration_seconds`, `apply_duration_seconds`, `commit_latency_seconds` of the
    /// proposals it appends, `commit_batch_entries`) and observes them with weight 8, so
    /// histogram counts and sums are unbiased estimates (relative error
    /// `sqrt(7 / count)`: 1 % after 70 000 observations). Timed turns are drawn at random, so
    /// they cannot align with the loop's own rhythm. `Sampling::All` times every turn (each costs
    /// clock reads and histogram updates: `benches/RESULTS.md` has both) and is never paced;
    /// `Sampling::Off` times none. Elections, snapshots and heartbeat round trips are rare and
    /// always timed. The messages a turn sends have a sampler of their own,
    /// [`with_rpc_timing`](Self::with_rpc_timing).
    #[must_use]
    pub fn with_timing(mut self, timing: Sampling) -> Self {
        let seed = seed(self.group.partition, &self.raw);
        self.sync_turn();
        self.turn.samplers.set_durations(timing, seed);
        self
    }

    /// How many turns per tick a busy group times at most, on average (default
    /// [`DEFAULT_TIMING_BUDGET`], 8; 0: no limit): at each tick the wrapper looks at how many
    /// turns the tick just ended ran and, when one in [`timing`](Self::timing) of them is more
    /// than `budget`, times one turn in `turns / budget` until the next tick, with that weight.
    /// So a group's timing costs about the same per tick however busy it is, and the estimates
    /// stay unbiased; a quiet group keeps the configured rate. At raft-rs's usual 100 ms tick
    /// the default keeps about 80 timed turns a second per busy group, 1 200 per 15 s scrape.
    /// The messages' sampler ([`with_rpc_timing`](Self::with_rpc_timing)) is not paced.
    #[must_use]
    pub fn with_timing_budget(mut self, budget: u32) -> Self {
        self.turn.samplers.set_budget(budget);
        self
    }

    /// The turns per tick a busy group times ([`with_timing_budget`](Self::with_timing_budget)).
    pub fn timing_budget(&self) -> u32 {
        self.turn.samplers.budget()
    }

    /// How often an idle group publishes its state at least, in ticks (default
    /// [`DEFAULT_IDLE_PUBLISH_EVERY`], 10; 1: every tick). A [`tick`](Self::tick) publishes the
    /// state gauges, the counts kept since the last publication and the leader's view of its
    /// followers only when something they depend on may have moved: an index, the unstable log,
    /// role, leader or term, a follower behind, no known leader. Otherwise it skips them, up to
    /// `ticks - 1` ticks in a row, so what moves with heartbeats alone (their counts, the last
    /// leader or quorum contact, a silent follower leaving `isr_size`) or with appends that
    /// change nothing (entries a follower already has) reaches the series up to `ticks` ticks
    /// late: 1 s at the default and raft-rs's usual 100 ms tick.
    /// A node with thousands of mostly idle partitions ticks each of them ten times a second,
    /// and republishing unchanged values was most of what recording cost them
    /// (`benches/RESULTS.md`, `idle_ticks`). At most 65 535 (a larger value counts as that).
    #[must_use]
    pub fn with_idle_publish_every(mut self, ticks: u32) -> Self {
        self.quiet.idle.set_every(ticks);
        self
    }

    /// How often an idle group publishes at least, in ticks
    /// ([`with_idle_publish_every`](Self::with_idle_publish_every)).
    pub fn idle_publish_every(&self) -> u32 {
        self.quiet.idle.every()
    }

    /// How often a busy group publishes at most, in ticks (default 1, at the tick after a
    /// change; in the large-node export modes, `Aggregation::Node` and `Aggregation::Unhealthy`,
    /// [`DEFAULT_LARGE_NODE_BUSY_PUBLISH_EVERY`], 10). With `ticks` above 1, a group whose state moved (an index, the log, role,
    /// leader or term, a follower behind) publishes at the first tick `ticks` ticks after its
    /// last publication rather than at the next one: the counts, gauges and the leader's view
    /// of its followers reach the series up to `ticks` ticks late (1 s at 10 and raft-rs's
    /// usual 100 ms tick; a scrape every 15 s cannot tell), and per-tick distributions observe
    /// the skipped ticks with the publication, as after an idle stretch.
    ///
    /// For a node with thousands of partitions that each take a little traffic: a publication
    /// costs a group about as much as a few proposals (the log's gauges, every link's counts,
    /// the leader's refresh of its followers), and such a group moves at almost every tick:
    /// publishing at every tick, recording cost it about twice what it costs at 10
    /// (`benches/busy_lines.sh`). At most 65 535 (a larger value counts as that).
    #[must_use]
    pub fn with_busy_publish_every(mut self, ticks: u32) -> Self {
        self.quiet.idle.set_busy_every(ticks);
        self
    }

    /// How often a busy group publishes at most, in ticks
    /// ([`with_busy_publish_every`](Self::with_busy_publish_every)).
    pub fn busy_publish_every(&self) -> u32 {
        self.quiet.idle.busy_every()
    }

    /// How often the messages of a turn are timed (default [`DEFAULT_RPC_TIMING`], the messages
    /// of one turn in 64): [`rpc_timed`](Self::rpc_timed) says so to the transport, whose
    /// latencies [`on_delivered`](Self::on_delivered) observes in `rpc_duration_seconds` with
    /// weight 64. The heartbeats of a timed turn time their round trip too (`peer_round_trip`,
    /// same weight): an idle group's traffic is heartbeats, every tick or two of every
    /// partition, and timing each was most of what recording still cost it. Sampled more sparsely than the other durations because a turn sends many
    /// messages (a leader's turn of 100 proposals sends about 200) where it makes one append
    /// and one apply: at one turn in 8, timing messages cost a busy node more than every other
    /// duration together (`benches/RESULTS.md`). A node sending 10 000 messages a second still
    /// times about 150. `Sampling::All` times every message.
    #[must_use]
    pub fn with_rpc_timing(mut self, timing: Sampling) -> Self {
        let seed = seed(self.group.partition, &self.raw);
        self.sync_turn();
        self.turn.samplers.set_rpc(timing, seed);
        self
    }

    /// How often a turn's messages are timed ([`with_rpc_timing`](Self::with_rpc_timing)).
    pub fn rpc_timing(&self) -> Sampling {
        self.turn.samplers.sampling().1
    }

    /// How often the wrapper times a turn ([`with_timing`](Self::with_timing)).
    pub fn timing(&self) -> Sampling {
        self.turn.samplers.sampling().0
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
        self.set_recording(recording);
        self
    }

    /// [`with_recording`](Self::with_recording) on a running node: an A/B benchmark can switch
    /// recording on and off in the same process (`benches/src/bin/real_node`). What recording
    /// keeps between calls starts afresh from the switch on: proposals appended while off are
    /// not tracked, counts kept since the last tick while on are recorded at the next tick on.
    pub fn set_recording(&mut self, recording: bool) {
        if recording && !self.quiet.recording {
            self.quiet.idle.reset();
        }
        self.quiet.recording = recording;
    }

    /// Whether the wrapper records ([`with_recording`](Self::with_recording)).
    pub fn recording(&self) -> bool {
        self.quiet.recording
    }

    /// The wrapped node, to read its state (`raw().raft.raft_log.committed`, `raw().raft.prs()`).
    pub fn raw(&self) -> &RawNode<S> {
        &self.raw
    }

    /// The wrapped node, mutably. Calls made through it are not observed: prefer the wrapper's.
    /// (What they move reaches the series at the next publication that looks: the indexes at
    /// the next turn's end through the wrapper, or periodically at the latest.)
    pub fn raw_mut(&mut self) -> &mut RawNode<S> {
        &mut self.raw
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.raw.raft.id
    }

    /// This node's role, as last observed.
    pub fn role(&self) -> StateRole {
        self.role.current()
    }

    /// The group's topic label.
    pub fn topic(&self) -> &str {
        &self.group.topic
    }

    /// The group's partition label.
    pub fn partition(&self) -> u32 {
        self.group.partition
    }

    /// The group's bound partition series, for metrics the wrapper cannot see.
    ///
    /// The wrapper records into the group's series through single-writer claims (a plain load and
    /// store per update, see `node::series`), so write through this handle from the thread that
    /// drives the wrapper, or only into metrics the wrapper does not record (e.g.
    /// `proposals_failed{reason="timeout"}`): an update racing the wrapper's on the same metric
    /// from another thread can be lost.
    pub fn metrics(&self) -> &Handle<PartitionMetrics> {
        &self.group.handle
    }

    /// Unwraps the node. Takes back this group's share of the node-wide `leader_partitions` /
    /// `follower_partitions` gauges, and with `remove_series` removes every series of the group
    /// from the registry (the group left this node); otherwise the series stay at their last value.
    /// Counts kept since the last tick are recorded first.
    pub fn close(mut self, remove_series: bool) -> RawNode<S> {
        if self.quiet.recording {
            self.flush_tallies(Publication::Changed);
        }
        self.role.close(&self.group);
        if let (true, Some(a)) = (self.quiet.hibernating, self.group.agg()) {
            a.hibernating_partitions.dec();
        }
        if remove_series {
            self.group.metrics.remove_partition(&self.group.topic, self.group.partition);
        }
        self.raw
    }

    // ---- coordinating the states ----------------------------------------------------------

    /// Compares role, leader and term with the last observation and records the transitions.
    /// Runs after every step and proposal, so the comparison is inlined and the rest is not.
    #[inline]
    fn observe_state(&mut self) {
        if self.role.changed(Standing::of(&self.raw)) {
            self.observe_transition();
        }
    }

    #[inline(never)]
    fn observe_transition(&mut self) {
        self.quiet.idle.moved(Standing::of(&self.raw));
        self.sync_turn();
        let now = self.turn.clock.read();
        let raft = &self.raw.raft;
        match self.role.transition(Standing::of(&self.raw), raft.id, now, &self.group) {
            Leadership::Gained => {
                self.progress.leadership_gained(now, raft.raft_log.last_index());
                self.peers.leadership_gained(self.turn.ticks, now);
            }
            Leadership::Lost => {
                self.progress.leadership_lost(&self.group);
                self.peers.leadership_lost();
            }
            Leadership::Unchanged => {}
        }
    }

    /// Leader only, at a tick that publishes (`ticks`: the ticks it stands for): follower lag,
    /// `isr_size` and the quorum contact.
    fn refresh_progress(&mut self, publication: Publication, ticks: u32) {
        let raft = &self.raw.raft;
        if raft.state != StateRole::Leader {
            return;
        }
        // The log did not move since the last publication: its last index neither (reading it
        // again takes the storage's lock, and at a large node a cache miss).
        let last_index = match publication {
            Publication::Changed => raft.raft_log.last_index(),
            Publication::Periodic => self.progress.last_index(),
        };
        self.progress.refresh(raft.prs(), raft.id, last_index, ticks, &mut self.peers, &self.group, &mut self.turn);
    }

    /// Records the counts kept since the last tick.
    fn flush_tallies(&mut self, publication: Publication) {
        // No index moved since the last publication: no proposal was committed or applied.
        if publication == Publication::Changed {
            self.proposals.flush(&self.group);
        }
        if self.links.settle_leader_traffic() {
            self.quiet.contacted = true;
        }
        if std::mem::take(&mut self.quiet.appended) {
            self.appends.settle(&mut self.links);
        }
        self.peers.flush(&mut self.links, self.group.node_wide(), &self.turn.clock);
        let prs = self.raw.raft.prs();
        self.links.flush(&self.group.metrics, |node| prs.get(node).is_some());
    }

    /// The state published once per tick: indexes, apply lag, log size, pending proposals,
    /// configuration change in progress, and the follower's last contact with its leader.
    fn publish_state(&mut self, publication: Publication) {
        // Nothing they depend on moved since the last publication: the storage's last index
        // (a lock, and a cache miss per group) need not be read again.
        if publication == Publication::Changed {
            self.log.publish(&self.raw.raft.raft_log, &self.group);
            self.proposals.publish(&self.group);
        }
        Role::publish_contact(std::mem::take(&mut self.quiet.contacted), &self.group, &mut self.turn.clock);
    }

    /// The turn catches up with the ticks counted since it was last used ([`Turn::catch_up`]): first
    /// in every method that uses it.
    #[inline]
    fn sync_turn(&mut self) {
        if self.quiet.idle.ticked() {
            self.turn.catch_up(self.quiet.idle.take_ticks());
        }
    }

    /// Makes the peers the members of raft-rs's configuration other than this node.
    fn sync_peers(&mut self) {
        self.peers.sync(&self.group, self.raw.raft.prs(), self.raw.raft.id, &mut self.links);
    }

    /// `entries` were written to the log (its duration, when timed, is observed apart: the
    /// untimed turns, most of them, pass nothing more than the entries); in a timed turn, `at`
    /// is the reading the leader's proposals among them start their commit latency from (with
    /// the weight the turn was sampled with).
    ///
    /// The turn is not caught up with ticks since its `ready` (an application persisting apart
    /// from its loop): the append's tick is the idle state's count, its time a reading of the
    /// clock (`LeaderProgress::appended`), so nothing here depends on them (a test per call
    /// less, 9 instructions per proposal of `one_per_turn`).
    #[inline(always)]
    fn record_append(&mut self, entries: &[Entry], at: Option<u64>) {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return };
        self.quiet.idle.log_moved();
        let plain = self.log.appended(entries, &self.group);
        if self.raw.raft.state == StateRole::Leader {
            let tick = self.quiet.idle.ticks();
            self.progress.appended(first.index, last.index, tick, &mut self.turn.clock);
            let timed = at.map(|at| Stamp::new(at, self.turn.weight()));
            self.proposals.appended(entries, plain, self.raw.raft.term, timed);
        }
    }
}

impl<S: Storage> core::fmt::Debug for InstrumentedNode<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InstrumentedNode")
            .field("id", &self.raw.raft.id)
            .field("topic", &self.group.topic)
            .field("partition", &self.group.partition)
            .field("role", &self.role.current())
            .field("term", &self.role.term())
            .finish_non_exhaustive()
    }
}

/// The samplers' seed of a node's group: distinct per node and partition, fixed across runs.
fn seed<S: Storage>(partition: u32, raw: &RawNode<S>) -> u64 {
    u64::from(partition) << 32 ^ raw.raft.id
}
