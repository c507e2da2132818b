//! A deterministic in-process raft-rs cluster: N nodes × P partitions in one thread.
//!
//! Every node ("host") has its own [`Registry`], as a real process would, and one
//! [`InstrumentedNode`] per partition it hosts. Time is the logical tick: [`Cluster::tick`] ticks
//! every running replica, then [`settles`](Cluster::settle) the cluster: runs the ready loop of
//! every replica and delivers messages (FIFO, in one queue) until nothing moves. Nothing sleeps
//! and nothing is random: raft-rs's election timeout is pinned per replica (staggered by node
//! and partition so that elections do not split), so a run is the same every time. Only the
//! durations the metrics observe come from the wall clock.
//!
//! Faults: [`pause`](Cluster::pause) / [`resume`](Cluster::resume) a node (it neither ticks nor
//! receives), [`crash`](Cluster::crash) / [`restart`](Cluster::restart) it (re-created from its
//! storage, with a fresh registry as a restarted process has), [`cut`](Cluster::cut) /
//! [`delay`](Cluster::delay) / [`heal`](Cluster::heal) a link, [`compact`](Cluster::compact) a log,
//! and [`add_node`](Cluster::add_node) / [`remove_node`](Cluster::remove_node) conf changes.
//!
//! Slow machines, in real time (these do sleep, so that the wrapper measures them as it would a
//! real disk or network): [`set_disk_latency`](Cluster::set_disk_latency) (every log append of
//! the node takes that long, like a slow fsync), [`set_apply_latency`](Cluster::set_apply_latency)
//! (a slow state machine), [`set_link_latency`](Cluster::set_link_latency) (messages on a directed
//! link arrive that much later), [`stall_apply`](Cluster::stall_apply) (committed entries queue up
//! unapplied) and [`fail_snapshots_to`](Cluster::fail_snapshots_to) (every snapshot sent to the
//! node is lost, and the sender told so).
//!
//! # Panics
//!
//! The ready loop panics if the in-memory storage refuses an operation, which would be a bug in
//! this driver or in raft-rs.

mod store;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, Message, Snapshot};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole, Storage};
use raft_metrics::raft::{Aggregation, RaftMetrics, RaftOptions};
use raft_metrics::{Format, RegistrationError, Registry, Sampling};

pub use store::{proposal, SimStorage, StateMachine};

use crate::{InSync, InstrumentedNode, InstrumentedStorage, DEFAULT_TIMING};
use store::lock;

/// The storage of every simulated replica.
pub type Store = InstrumentedStorage<SimStorage>;

/// The shape and Raft settings of a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Initial voters, with ids `1..=nodes`.
    pub nodes: u64,
    /// Raft groups, each replicated on every initial node.
    pub partitions: u32,
    /// The `topic` label of every group.
    pub topic: String,
    /// raft-rs `election_tick`; replica timeouts are staggered above it.
    pub election_tick: usize,
    /// raft-rs `heartbeat_tick`.
    pub heartbeat_tick: usize,
    /// raft-rs `pre_vote`.
    pub pre_vote: bool,
    /// raft-rs `check_quorum`.
    pub check_quorum: bool,
    /// raft-rs `max_size_per_msg`.
    pub max_size_per_msg: u64,
    /// raft-rs `max_inflight_msgs`.
    pub max_inflight_msgs: usize,
    /// When a follower counts in `isr_size`.
    pub in_sync: InSync,
    /// Per-partition series (the default) or the node-wide aggregate.
    pub aggregation: Aggregation,
    /// `false`: every replica is built with [`InstrumentedNode::with_recording`]`(false)` and the
    /// driver skips its own clock reads (message send times, apply durations), so the loop runs
    /// as plain raft-rs. Registries and series are still created. For overhead benchmarks;
    /// default `true`.
    pub recording: bool,
    /// Every replica's [`InstrumentedNode::with_timing`]; default [`DEFAULT_TIMING`] (1 turn
    /// in 8). `Sampling::All` makes every duration histogram count exactly.
    pub timing: Sampling,
}

impl Default for ClusterConfig {
    /// Three nodes, one partition of topic `orders`, election after 10 ticks, heartbeat every 2,
    /// pre-vote and check-quorum on.
    fn default() -> Self {
        Self {
            nodes: 3,
            partitions: 1,
            topic: "orders".to_owned(),
            election_tick: 10,
            heartbeat_tick: 2,
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            in_sync: InSync { max_lag_entries: 250, max_silence_ticks: 10 },
            aggregation: Aggregation::Partition,
            recording: true,
            timing: DEFAULT_TIMING,
        }
    }
}

/// Whether a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    /// Ticks, sends and receives.
    Up,
    /// Frozen with its memory intact: neither ticks nor receives (messages to it are lost).
    Paused,
    /// Down: like paused until [`Cluster::restart`] re-creates it from its storage.
    Crashed,
}

/// What happened to one message, recorded when tracing is on ([`Cluster::trace`]).
#[derive(Debug, Clone)]
pub enum Event {
    /// A replica sent `msg` (before any fault applies).
    Sent {
        /// The group.
        partition: u32,
        /// The message.
        msg: Message,
    },
    /// `msg` reached its target, whose term was `receiver_term` just before stepping it.
    Delivered {
        /// The group.
        partition: u32,
        /// The message.
        msg: Message,
        /// The receiver's term before the step.
        receiver_term: u64,
    },
    /// `msg` was lost: a node down, a link cut, or no such replica.
    Dropped {
        /// The group.
        partition: u32,
        /// The message.
        msg: Message,
    },
}

/// Why a cluster operation failed.
#[derive(Debug)]
pub enum Error {
    /// raft-rs refused.
    Raft(raft::Error),
    /// A node's metrics could not be registered.
    Registration(RegistrationError),
    /// The partition has no leader right now.
    NoLeader(u32),
    /// No such node, or it does not host the partition.
    NoReplica {
        /// The node.
        node: u64,
        /// The partition.
        partition: u32,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Raft(e) => write!(f, "raft: {e}"),
            Self::Registration(e) => write!(f, "metrics registration: {e}"),
            Self::NoLeader(p) => write!(f, "partition {p} has no leader"),
            Self::NoReplica { node, partition } => write!(f, "node {node} hosts no replica of partition {partition}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Raft(e) => Some(e),
            Self::Registration(e) => Some(e),
            Self::NoLeader(_) | Self::NoReplica { .. } => None,
        }
    }
}

impl From<raft::Error> for Error {
    fn from(e: raft::Error) -> Self {
        Self::Raft(e)
    }
}

impl From<RegistrationError> for Error {
    fn from(e: RegistrationError) -> Self {
        Self::Registration(e)
    }
}

/// One node's process: its registry and whether it runs.
struct Host {
    registry: Arc<Registry>,
    metrics: RaftMetrics,
    status: HostStatus,
}

impl Host {
    fn new(aggregation: Aggregation) -> Result<Self, Error> {
        let registry = Arc::new(Registry::new());
        let metrics = RaftMetrics::with_options(&registry, &RaftOptions { aggregation, ..RaftOptions::default() })?;
        Ok(Self { registry, metrics, status: HostStatus::Up })
    }
}

/// The slow-machine faults of one node.
#[derive(Debug, Clone, Copy, Default)]
struct Slowness {
    disk: Duration,
    apply: Duration,
    apply_stalled: bool,
    snapshots_fail: bool,
}

/// One node's replica of one group.
struct Replica {
    node: InstrumentedNode<Store>,
    /// The log, shared with the node's storage (`MemStorage` is a handle).
    mem: MemStorage,
    sm: Arc<Mutex<StateMachine>>,
    /// Committed entries not applied yet (only while or after the node's apply was stalled).
    backlog: VecDeque<Entry>,
}

struct Envelope {
    partition: u32,
    msg: Message,
    /// When the sender's ready loop handed it out (a `clock` reading); `None` when recording is off.
    sent_at: Option<u64>,
    /// On a link with latency: when it arrives (`None` until it is put on the link).
    due: Option<Instant>,
}

/// Safety valve for [`Cluster::settle`]: rounds of ready handling and delivery per call.
const MAX_SETTLE_ROUNDS: usize = 10_000;

/// N nodes × P partitions of raft-rs in one thread; see the [module docs](self).
pub struct Cluster {
    config: ClusterConfig,
    logger: slog::Logger,
    hosts: BTreeMap<u64, Host>,
    /// Per partition: replicas by node id.
    groups: Vec<BTreeMap<u64, Replica>>,
    queue: VecDeque<Envelope>,
    /// Directed links whose messages are lost.
    cut: BTreeSet<(u64, u64)>,
    /// Directed links whose messages wait in `held` until healed.
    delayed: BTreeSet<(u64, u64)>,
    held: Vec<Envelope>,
    /// Directed links with latency, and the messages travelling on them.
    latency: BTreeMap<(u64, u64), Duration>,
    in_flight: Vec<Envelope>,
    slowness: BTreeMap<u64, Slowness>,
    /// Replicas whose removal from their group was applied, to drop after the round.
    removed: Vec<(u32, u64)>,
    ticks: u64,
    trace: Option<Vec<Event>>,
}

impl Cluster {
    /// Creates the nodes and groups (every initial node a voter of every group); no leader yet.
    ///
    /// # Errors
    ///
    /// When raft-rs refuses the configuration (`election_tick` ≤ `heartbeat_tick`, …).
    ///
    /// # Examples
    ///
    /// ```
    /// use raft_metrics_raftrs::sim::{Cluster, ClusterConfig};
    ///
    /// let mut cluster = Cluster::new(ClusterConfig { partitions: 2, ..ClusterConfig::default() })?;
    /// assert!(cluster.run_until(100, |c| (0..2).all(|p| c.leader(p).is_some())));
    /// let leader = cluster.propose(0, b"hello".to_vec())?;
    /// cluster.settle();
    /// assert!(cluster.scrape(leader).unwrap().contains("chronik_raft_proposals_committed_total"));
    /// # Ok::<(), raft_metrics_raftrs::sim::Error>(())
    /// ```
    pub fn new(config: ClusterConfig) -> Result<Self, Error> {
        let mut cluster = Self {
            logger: slog::Logger::root(slog::Discard, slog::o!()),
            hosts: BTreeMap::new(),
            groups: Vec::new(),
            queue: VecDeque::new(),
            cut: BTreeSet::new(),
            delayed: BTreeSet::new(),
            held: Vec::new(),
            latency: BTreeMap::new(),
            in_flight: Vec::new(),
            slowness: BTreeMap::new(),
            removed: Vec::new(),
            ticks: 0,
            trace: None,
            config,
        };
        let voters: Vec<u64> = (1..=cluster.config.nodes).collect();
        for &id in &voters {
            cluster.hosts.insert(id, Host::new(cluster.config.aggregation)?);
        }
        for partition in 0..cluster.config.partitions {
            let mut group = BTreeMap::new();
            for &id in &voters {
                let mem = bootstrap(&voters)?;
                let replica = cluster.replica(id, partition, mem, Arc::default())?;
                group.insert(id, replica);
            }
            cluster.groups.push(group);
        }
        Ok(cluster)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Ticks run so far.
    #[must_use]
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    // ---- running ------------------------------------------------------------------------------

    /// One logical tick on every running replica, then [`settle`](Self::settle).
    pub fn tick(&mut self) {
        self.ticks += 1;
        for group in &mut self.groups {
            for (id, replica) in group.iter_mut() {
                if self.hosts.get(id).is_some_and(|h| h.status == HostStatus::Up) {
                    replica.node.tick();
                }
            }
        }
        self.settle();
    }

    /// Runs `ticks` ticks.
    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// Ticks until `done` holds (checked before each tick) or `max_ticks` ran; returns whether
    /// `done` held.
    pub fn run_until(&mut self, max_ticks: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        for _ in 0..max_ticks {
            if done(self) {
                return true;
            }
            self.tick();
        }
        done(self)
    }

    /// Handles every ready replica and delivers every queued message, repeatedly, until nothing
    /// is left to do.
    pub fn settle(&mut self) {
        for _ in 0..MAX_SETTLE_ROUNDS {
            self.release_arrived();
            let mut out = Vec::new();
            let mut busy = false;
            for (partition, group) in (0u32..).zip(&mut self.groups) {
                for (id, replica) in group.iter_mut() {
                    if self.hosts.get(id).is_some_and(|h| h.status == HostStatus::Up) {
                        let slow = self.slowness.get(id).copied().unwrap_or_default();
                        busy |= replica.handle_ready(partition, slow, &mut out, &mut self.removed);
                    }
                }
            }
            self.drop_removed();
            if let Some(trace) = &mut self.trace {
                trace.extend(out.iter().map(|e| Event::Sent { partition: e.partition, msg: e.msg.clone() }));
            }
            self.queue.extend(out);
            if self.queue.is_empty() && !busy {
                return;
            }
            let batch: Vec<Envelope> = self.queue.drain(..).collect();
            // The transport's clock: one reading per delivery round, the way a real transport
            // stamps a batch of completions from one poll, taken at the round's first timed
            // message (none when no message was timed).
            let mut delivered_at = None;
            for envelope in batch {
                self.deliver(envelope, &mut delivered_at);
            }
        }
    }

    fn deliver(&mut self, envelope: Envelope, delivered_at: &mut Option<u64>) {
        let (partition, from, to) = (envelope.partition, envelope.msg.from, envelope.msg.to);
        if self.delayed.contains(&(from, to)) {
            self.held.push(envelope);
            return;
        }
        let mut envelope = envelope;
        if let (Some(&latency), None) = (self.latency.get(&(from, to)), envelope.due) {
            envelope.due = Some(Instant::now() + latency);
            self.in_flight.push(envelope);
            return;
        }
        let snapshot_lost = envelope.msg.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot
            && self.slowness.get(&to).is_some_and(|s| s.snapshots_fail);
        let up = |id: u64| self.hosts.get(&id).is_some_and(|h| h.status == HostStatus::Up);
        let (sender_up, receiver_up) = (up(from), up(to));
        let Some(group) = self.groups.get_mut(partition as usize) else { return };
        let Envelope { msg, sent_at, .. } = envelope;
        let reachable =
            sender_up && receiver_up && !self.cut.contains(&(from, to)) && group.contains_key(&to) && !snapshot_lost;
        if !reachable {
            if let Some(sender) = group.get_mut(&from).filter(|_| sender_up) {
                sender.node.on_send_failed(&msg);
            }
            if let Some(trace) = &mut self.trace {
                trace.push(Event::Dropped { partition, msg });
            }
            return;
        }
        if let Some(sender) = group.get_mut(&from) {
            let latency = sent_at.map(|sent| {
                let delivered = *delivered_at.get_or_insert_with(crate::clock::read);
                Duration::from_nanos(crate::clock::nanos(sent, delivered))
            });
            sender.node.on_delivered(&msg, latency);
        }
        let Some(receiver) = group.get_mut(&to) else { return };
        if let Some(trace) = &mut self.trace {
            let receiver_term = receiver.node.raw().raft.term;
            trace.push(Event::Delivered { partition, msg: msg.clone(), receiver_term });
        }
        // Responses from peers the receiver no longer knows are refused; that is not an error here.
        let _ = receiver.node.step(msg);
    }

    fn drop_removed(&mut self) {
        for (partition, id) in std::mem::take(&mut self.removed) {
            if let Some(replica) = self.groups[partition as usize].remove(&id) {
                // The group left this node: its series leave the node's registry.
                drop(replica.node.close(true));
            }
            let hosts_something = self.groups.iter().any(|g| g.contains_key(&id));
            if id > self.config.nodes && !hosts_something {
                // A node that joined and left everything: its process ends.
                self.hosts.remove(&id);
            }
        }
    }

    // ---- clients ------------------------------------------------------------------------------

    /// Proposes `data` to the partition's leader; returns the leader's id. Settle (or tick) for
    /// the proposal to commit.
    ///
    /// # Errors
    ///
    /// [`Error::NoLeader`], or raft-rs refusing the proposal.
    pub fn propose(&mut self, partition: u32, data: Vec<u8>) -> Result<u64, Error> {
        let leader = self.leader(partition).ok_or(Error::NoLeader(partition))?;
        self.replica_mut(leader, partition)?.node.propose(Vec::new(), data)?;
        Ok(leader)
    }

    /// Proposes `data` on `node`, leader or not (a follower forwards it; a node without leader
    /// drops it).
    ///
    /// # Errors
    ///
    /// [`Error::NoReplica`], or raft-rs refusing the proposal.
    pub fn propose_on(&mut self, node: u64, partition: u32, data: Vec<u8>) -> Result<(), Error> {
        Ok(self.replica_mut(node, partition)?.node.propose(Vec::new(), data)?)
    }

    // ---- faults -------------------------------------------------------------------------------

    /// Freezes `node`: no ticks, and messages to it are lost. Its memory is kept.
    pub fn pause(&mut self, node: u64) {
        self.set_status(node, HostStatus::Paused);
    }

    /// Un-freezes a paused (not a crashed) node.
    pub fn resume(&mut self, node: u64) {
        if self.status(node) == Some(HostStatus::Paused) {
            self.set_status(node, HostStatus::Up);
        }
    }

    /// Stops `node` until [`restart`](Self::restart).
    pub fn crash(&mut self, node: u64) {
        self.set_status(node, HostStatus::Crashed);
    }

    /// Re-creates `node`'s replicas from their storage (log, hard state, configuration, state
    /// machine), with a fresh registry: counters start from zero as in a restarted process.
    ///
    /// # Errors
    ///
    /// When raft-rs refuses the stored state.
    pub fn restart(&mut self, node: u64) -> Result<(), Error> {
        self.hosts.insert(node, Host::new(self.config.aggregation)?);
        for partition in 0..self.config.partitions {
            let Some(old) = self.groups[partition as usize].remove(&node) else { continue };
            // The old registry is gone with the old process: nothing to take back.
            drop(old.node.close(false));
            let replica = self.replica(node, partition, old.mem, old.sm)?;
            self.groups[partition as usize].insert(node, replica);
        }
        Ok(())
    }

    /// Loses every message between `a` and `b`, both ways.
    pub fn cut(&mut self, a: u64, b: u64) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    /// Holds messages from `from` to `to` until [`heal`](Self::heal) delivers them, late.
    pub fn delay(&mut self, from: u64, to: u64) {
        self.delayed.insert((from, to));
    }

    /// Cuts `node` from every other node.
    pub fn isolate(&mut self, node: u64) {
        let others: Vec<u64> = self.hosts.keys().copied().filter(|&id| id != node).collect();
        for other in others {
            self.cut(node, other);
        }
    }

    /// Restores the link between `a` and `b` both ways, releasing the messages it held.
    pub fn heal(&mut self, a: u64, b: u64) {
        for link in [(a, b), (b, a)] {
            self.cut.remove(&link);
            self.delayed.remove(&link);
        }
        self.release_held();
    }

    /// Restores every link.
    pub fn heal_all(&mut self) {
        self.cut.clear();
        self.delayed.clear();
        self.release_held();
    }

    /// Delays every message from `from` to `to` by `latency` of real time (zero: none). Messages
    /// arrive in order; a settle does not wait for them, a later one delivers them.
    pub fn set_link_latency(&mut self, from: u64, to: u64, latency: Duration) {
        if latency.is_zero() {
            self.latency.remove(&(from, to));
        } else {
            self.latency.insert((from, to), latency);
        }
    }

    /// Makes every log append (the `persist_entries` write, i.e. append + fsync) of `node` take
    /// `latency` longer, in real time (zero: back to normal).
    pub fn set_disk_latency(&mut self, node: u64, latency: Duration) {
        self.slowness.entry(node).or_default().disk = latency;
    }

    /// Makes every batch `node` applies to its state machine take `latency` longer, in real time.
    pub fn set_apply_latency(&mut self, node: u64, latency: Duration) {
        self.slowness.entry(node).or_default().apply = latency;
    }

    /// With `true`, `node` stops applying: committed entries queue up (its apply lag grows), and
    /// with `false` the queue is applied at the next settle.
    pub fn stall_apply(&mut self, node: u64, stalled: bool) {
        self.slowness.entry(node).or_default().apply_stalled = stalled;
    }

    /// With `true`, every snapshot sent to `node` is lost, and its sender told so (a transfer
    /// failure); the other messages go through.
    pub fn fail_snapshots_to(&mut self, node: u64, fail: bool) {
        self.slowness.entry(node).or_default().snapshots_fail = fail;
    }

    /// Puts the messages whose link latency has passed back in the delivery queue, in order.
    fn release_arrived(&mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        let now = Instant::now();
        let (arrived, travelling): (Vec<Envelope>, Vec<Envelope>) =
            std::mem::take(&mut self.in_flight).into_iter().partition(|e| e.due.is_some_and(|due| due <= now));
        self.in_flight = travelling;
        self.queue.extend(arrived);
    }

    fn release_held(&mut self) {
        let (waiting, released): (Vec<Envelope>, Vec<Envelope>) =
            std::mem::take(&mut self.held).into_iter().partition(|e| self.delayed.contains(&(e.msg.from, e.msg.to)));
        self.held = waiting;
        self.queue.extend(released);
    }

    /// Compacts `node`'s log of `partition`, keeping the applied entry and the `keep` entries
    /// before it; returns the new first index. A follower behind it can then only catch up from
    /// a snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::NoReplica`], or the storage refusing.
    pub fn compact(&mut self, node: u64, partition: u32, keep: u64) -> Result<u64, Error> {
        let replica = self.replica_mut(node, partition)?;
        let to = replica.node.raw().raft.raft_log.applied.saturating_sub(keep);
        if to > Storage::first_index(&replica.mem)? {
            replica.mem.wl().compact(to)?;
            replica.node.observe_compaction(to);
        }
        Ok(Storage::first_index(&replica.mem)?)
    }

    /// A node id not used yet.
    #[must_use]
    pub fn next_node_id(&self) -> u64 {
        self.hosts.keys().max().map_or(1, |id| id + 1).max(self.config.nodes + 1)
    }

    /// Starts `node` (a new, empty process unless it already runs) as a replica of `partition`
    /// and proposes adding it as a voter. The new replica learns the group from the leader.
    ///
    /// # Errors
    ///
    /// [`Error::NoLeader`], or raft-rs refusing the proposal.
    pub fn add_node(&mut self, partition: u32, node: u64) -> Result<(), Error> {
        let leader = self.leader(partition).ok_or(Error::NoLeader(partition))?;
        if let std::collections::btree_map::Entry::Vacant(vacant) = self.hosts.entry(node) {
            vacant.insert(Host::new(self.config.aggregation)?);
        }
        if !self.groups[partition as usize].contains_key(&node) {
            let replica = self.replica(node, partition, MemStorage::new(), Arc::default())?;
            self.groups[partition as usize].insert(node, replica);
        }
        self.propose_change(leader, partition, node, ConfChangeType::AddNode)
    }

    /// Proposes removing `node` from `partition`. Once the change applies, the node's replica
    /// stops (its series leave its registry), and a node that joined and hosts nothing more
    /// ends.
    ///
    /// # Errors
    ///
    /// [`Error::NoLeader`], or raft-rs refusing the proposal.
    pub fn remove_node(&mut self, partition: u32, node: u64) -> Result<(), Error> {
        let leader = self.leader(partition).ok_or(Error::NoLeader(partition))?;
        self.propose_change(leader, partition, node, ConfChangeType::RemoveNode)
    }

    fn propose_change(&mut self, leader: u64, partition: u32, node: u64, kind: ConfChangeType) -> Result<(), Error> {
        let mut cc = ConfChange { node_id: node, ..ConfChange::default() };
        cc.set_change_type(kind);
        self.replica_mut(leader, partition)?.node.propose_conf_change(Vec::new(), cc)?;
        Ok(())
    }

    // ---- observing ----------------------------------------------------------------------------

    /// Records every message's fate from now on ([`take_trace`](Self::take_trace)).
    pub fn trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The events recorded since the last call (empty when tracing is off).
    pub fn take_trace(&mut self) -> Vec<Event> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Node ids with a running or stopped process, in order.
    #[must_use]
    pub fn node_ids(&self) -> Vec<u64> {
        self.hosts.keys().copied().collect()
    }

    /// Whether `node` runs, or `None` for no such node.
    #[must_use]
    pub fn status(&self, node: u64) -> Option<HostStatus> {
        self.hosts.get(&node).map(|h| h.status)
    }

    /// `node`'s registry: all its series, one per partition it hosts. A restart replaces it.
    #[must_use]
    pub fn registry(&self, node: u64) -> Option<Arc<Registry>> {
        self.hosts.get(&node).map(|h| Arc::clone(&h.registry))
    }

    /// `node`'s scrape in the Prometheus text format.
    #[must_use]
    pub fn scrape(&self, node: u64) -> Option<String> {
        self.hosts.get(&node).map(|h| h.registry.encode_to_string(Format::Prometheus))
    }

    /// Nodes hosting a replica of `partition`.
    #[must_use]
    pub fn members(&self, partition: u32) -> Vec<u64> {
        self.groups.get(partition as usize).map(|g| g.keys().copied().collect()).unwrap_or_default()
    }

    /// `node`'s replica of `partition`.
    #[must_use]
    pub fn replica_node(&self, node: u64, partition: u32) -> Option<&InstrumentedNode<Store>> {
        self.groups.get(partition as usize)?.get(&node).map(|r| &r.node)
    }

    /// `node`'s state machine of `partition`.
    #[must_use]
    pub fn state_machine(&self, node: u64, partition: u32) -> Option<StateMachine> {
        self.groups.get(partition as usize)?.get(&node).map(|r| lock(&r.sm).clone())
    }

    /// The running leader of `partition` with the highest term.
    #[must_use]
    pub fn leader(&self, partition: u32) -> Option<u64> {
        let group = self.groups.get(partition as usize)?;
        group
            .iter()
            .filter(|(id, r)| r.node.raw().raft.state == StateRole::Leader && self.status(**id) == Some(HostStatus::Up))
            .max_by_key(|(_, r)| r.node.raw().raft.term)
            .map(|(id, _)| *id)
    }

    /// The highest commit index any replica of `partition` knows.
    #[must_use]
    pub fn commit_index(&self, partition: u32) -> u64 {
        self.groups
            .get(partition as usize)
            .and_then(|g| g.values().map(|r| r.node.raw().raft.raft_log.committed).max())
            .unwrap_or(0)
    }

    /// The follower furthest behind `partition`'s leader and by how many entries.
    #[must_use]
    pub fn max_lag(&self, partition: u32) -> Option<(u64, u64)> {
        let leader = self.leader(partition)?;
        let raft = &self.replica_node(leader, partition)?.raw().raft;
        let last = raft.raft_log.last_index();
        raft.prs()
            .iter()
            .filter(|(id, _)| **id != leader)
            .map(|(id, p)| (*id, last.saturating_sub(p.matched)))
            .max_by_key(|&(id, lag)| (lag, std::cmp::Reverse(id)))
    }

    // ---- replicas -----------------------------------------------------------------------------

    fn set_status(&mut self, node: u64, status: HostStatus) {
        if let Some(host) = self.hosts.get_mut(&node) {
            host.status = status;
        }
    }

    fn replica_mut(&mut self, node: u64, partition: u32) -> Result<&mut Replica, Error> {
        self.groups
            .get_mut(partition as usize)
            .and_then(|g| g.get_mut(&node))
            .ok_or(Error::NoReplica { node, partition })
    }

    /// A replica of `partition` on `node` over `mem` and `sm`, recording into the node's registry.
    fn replica(
        &self,
        node: u64,
        partition: u32,
        mem: MemStorage,
        sm: Arc<Mutex<StateMachine>>,
    ) -> Result<Replica, Error> {
        let host = self.hosts.get(&node).ok_or(Error::NoReplica { node, partition })?;
        let topic = self.config.topic.as_str();
        let raw = RawNode::new(
            &self.raft_config(node, partition, lock(&sm).applied()),
            Store::new(SimStorage::new(mem.clone(), Arc::clone(&sm)), &host.metrics, topic, partition),
            &self.logger,
        )?;
        let node = InstrumentedNode::new(raw, &host.metrics, topic, partition)
            .with_in_sync(self.config.in_sync)
            .with_recording(self.config.recording)
            .with_timing(self.config.timing);
        Ok(Replica { node, mem, sm, backlog: VecDeque::new() })
    }

    /// raft-rs settings of one replica. The election timeout is fixed, not random: node `i`
    /// waits `election_tick + 4 × ((i - 1 + partition) mod nodes)` ticks, so exactly one replica
    /// times out first and leadership spreads over the nodes by partition.
    fn raft_config(&self, node: u64, partition: u32, applied: u64) -> Config {
        let n = self.config.nodes.max(1);
        let rank = if node <= n { (node - 1 + u64::from(partition)) % n } else { n };
        let timeout = self.config.election_tick + 4 * usize::try_from(rank).unwrap_or(0);
        Config {
            id: node,
            election_tick: self.config.election_tick,
            heartbeat_tick: self.config.heartbeat_tick,
            min_election_tick: timeout,
            max_election_tick: timeout + 1,
            applied,
            pre_vote: self.config.pre_vote,
            check_quorum: self.config.check_quorum,
            max_size_per_msg: self.config.max_size_per_msg,
            max_inflight_msgs: self.config.max_inflight_msgs,
            ..Config::default()
        }
    }
}

impl core::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.node_ids())
            .field("partitions", &self.groups.len())
            .field("ticks", &self.ticks)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// One turn of the ready loop, the way `InstrumentedNode`'s docs lay it out. Returns whether
    /// there was anything to do.
    fn handle_ready(
        &mut self,
        partition: u32,
        slow: Slowness,
        out: &mut Vec<Envelope>,
        removed: &mut Vec<(u32, u64)>,
    ) -> bool {
        let Self { node, mem, sm, backlog } = self;
        if !node.has_ready() {
            if backlog.is_empty() || slow.apply_stalled {
                return false;
            }
            // The stall is over: apply what queued up.
            let queued: Vec<Entry> = backlog.drain(..).collect();
            apply(node, mem, sm, partition, &queued, removed, slow.apply);
            let applied = lock(sm).applied();
            node.advance_apply_to(applied);
            return true;
        }
        let mut rd = node.ready();
        // Sent now: the messages go out in this turn of the loop.
        let now = node.rpc_timed().then(crate::clock::read);
        let mut send = |msgs: Vec<Message>| {
            out.extend(msgs.into_iter().map(|msg| Envelope { partition, msg, sent_at: now, due: None }))
        };
        send(node.outgoing(rd.take_messages()));
        if !rd.snapshot().is_empty() {
            node.apply_snapshot(rd.snapshot(), |s| {
                mem.wl().apply_snapshot(s.clone())?;
                lock(sm).restore(s.get_metadata().index, s.get_data());
                // Entries the snapshot covers are in the state machine now.
                backlog.retain(|e| e.index > s.get_metadata().index);
                Ok::<_, raft::Error>(())
            })
            .expect("MemStorage refused a snapshot raft-rs handed out");
        }
        let committed = node.committed(rd.take_committed_entries());
        apply_or_queue(node, mem, sm, backlog, partition, committed, removed, slow);
        node.persist_entries(rd.entries(), |entries| {
            if !entries.is_empty() && !slow.disk.is_zero() {
                std::thread::sleep(slow.disk);
            }
            let mut store = mem.wl();
            store.append(entries)?;
            if let Some(hs) = rd.hs() {
                store.set_hardstate(hs.clone());
            }
            Ok::<_, raft::Error>(())
        })
        .expect("MemStorage refused entries raft-rs handed out");
        send(node.outgoing(rd.take_persisted_messages()));
        // `advance` would also mark every committed entry applied: not while some are queued.
        let mut light =
            if backlog.is_empty() && !slow.apply_stalled { node.advance(rd) } else { node.advance_append(rd) };
        if let Some(commit) = light.commit_index() {
            mem.wl().mut_hard_state().set_commit(commit);
        }
        send(node.outgoing(light.take_messages()));
        let committed = node.committed(light.take_committed_entries());
        apply_or_queue(node, mem, sm, backlog, partition, committed, removed, slow);
        if backlog.is_empty() {
            node.advance_apply();
        } else {
            // Applied up to the state machine's index: the rest is queued.
            let applied = lock(sm).applied();
            if applied > node.raw().raft.raft_log.applied {
                node.advance_apply_to(applied);
            }
        }
        true
    }
}

/// An initial member's storage: a snapshot at index 1 holding the first configuration, as
/// raft-rs recommends. A node added later starts empty and so must catch up from a snapshot,
/// which is how it learns the configuration (the bootstrap configuration is in no log entry).
fn bootstrap(voters: &[u64]) -> Result<MemStorage, Error> {
    let mem = MemStorage::new();
    let mut snapshot = Snapshot::default();
    let meta = snapshot.mut_metadata();
    meta.index = 1;
    meta.term = 1;
    meta.set_conf_state(ConfState::from((voters.to_vec(), Vec::new())));
    mem.wl().apply_snapshot(snapshot)?;
    Ok(mem)
}

/// Applies committed entries to the state machine and configuration changes to raft-rs, then
/// reports the batch's duration.
/// Applies committed entries, or queues them while the node's apply is stalled (and behind the
/// ones already queued).
#[allow(clippy::too_many_arguments)] // the replica's parts, borrowed apart
fn apply_or_queue(
    node: &mut InstrumentedNode<Store>,
    mem: &MemStorage,
    sm: &Mutex<StateMachine>,
    backlog: &mut VecDeque<Entry>,
    partition: u32,
    entries: Vec<Entry>,
    removed: &mut Vec<(u32, u64)>,
    slow: Slowness,
) {
    if backlog.is_empty() && !slow.apply_stalled {
        apply(node, mem, sm, partition, &entries, removed, slow.apply);
        return;
    }
    backlog.extend(entries);
    if !slow.apply_stalled {
        let queued: Vec<Entry> = backlog.drain(..).collect();
        apply(node, mem, sm, partition, &queued, removed, slow.apply);
    }
}

fn apply(
    node: &mut InstrumentedNode<Store>,
    mem: &MemStorage,
    sm: &Mutex<StateMachine>,
    partition: u32,
    entries: &[Entry],
    removed: &mut Vec<(u32, u64)>,
    latency: Duration,
) {
    if entries.is_empty() {
        return;
    }
    node.apply_entries(entries, |node| {
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        for entry in entries {
            let conf_state = match entry.get_entry_type() {
                EntryType::EntryNormal => None,
                EntryType::EntryConfChange => {
                    let mut cc = ConfChange::default();
                    cc.merge_from_bytes(entry.get_data()).expect("a conf change raft-rs accepted decodes");
                    if cc.get_change_type() == ConfChangeType::RemoveNode {
                        removed.push((partition, cc.node_id));
                    }
                    Some(node.apply_conf_change(&cc))
                }
                EntryType::EntryConfChangeV2 => {
                    let mut cc = ConfChangeV2::default();
                    cc.merge_from_bytes(entry.get_data()).expect("a conf change raft-rs accepted decodes");
                    for change in cc.get_changes() {
                        if change.get_change_type() == ConfChangeType::RemoveNode {
                            removed.push((partition, change.node_id));
                        }
                    }
                    Some(node.apply_conf_change(&cc))
                }
            };
            if let Some(conf_state) = conf_state {
                mem.wl().set_conf_state(conf_state.expect("raft-rs applies the conf changes it committed"));
            }
            lock(sm).apply(entry);
        }
    });
}
