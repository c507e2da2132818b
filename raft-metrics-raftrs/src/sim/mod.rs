//! A deterministic in-process raft-rs cluster: N nodes × P partitions in one thread.
//!
//! Every node ("host") has its own [`Registry`](raft_metrics::Registry), as a real process would,
//! and one [`InstrumentedNode`](crate::InstrumentedNode) per partition it hosts. Time is the
//! logical tick: [`Cluster::tick`] ticks every running replica, then [`settles`](Cluster::settle)
//! the cluster: runs the ready loop of every replica and delivers messages (FIFO, in one queue)
//! until nothing moves. Nothing sleeps and nothing is random: raft-rs's election timeout is pinned
//! per replica (staggered by node and partition so that elections do not split), so a run is the
//! same every time. Only the durations the metrics observe come from the wall clock.
//!
//! Faults: [`pause`](Cluster::pause) / [`resume`](Cluster::resume) a node (it neither ticks nor
//! receives), [`crash`](Cluster::crash) / [`restart`](Cluster::restart) it (re-created from its
//! storage, with a fresh registry as a restarted process has), [`cut`](Cluster::cut) /
//! [`delay`](Cluster::delay) / [`heal`](Cluster::heal) a link, [`compact`](Cluster::compact) a log,
//! and [`add_node`](Cluster::add_node) / [`remove_node`](Cluster::remove_node) conf changes.
//! [`hibernate`](Cluster::hibernate) / [`wake`](Cluster::wake) stop and resume ticking a group, as
//! a node with thousands of groups does with its idle ones.
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

mod config;
mod error;
mod faults;
mod hibernation;
mod host;
mod inspect;
mod membership;
mod network;
mod ready;
mod replica;
mod run;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use config::ClusterConfig;
pub use error::Error;
pub use host::HostStatus;
pub use network::Event;
pub use store::{proposal, SimStorage, StateMachine};

use crate::InstrumentedStorage;
use faults::Slowness;
use host::Host;
use network::Network;
use replica::{bootstrap, Replica};

/// The storage of every simulated replica.
pub type Store = InstrumentedStorage<SimStorage>;

/// N nodes × P partitions of raft-rs in one thread; see the [module docs](self).
// Its methods live with their job: `run` (ticks, settling, delivery), `faults`, `hibernation`,
// `membership`, `inspect`, creating a replica in `replica`; the transport is `network::Network`,
// and one replica's ready loop is in `ready`.
pub struct Cluster {
    config: ClusterConfig,
    logger: slog::Logger,
    hosts: BTreeMap<u64, Host>,
    /// Per partition: replicas by node id.
    groups: Vec<BTreeMap<u64, Replica>>,
    network: Network,
    slowness: BTreeMap<u64, Slowness>,
    /// Replicas whose removal from their group was applied, to drop after the round.
    removed: Vec<(u32, u64)>,
    /// Partitions whose replicas are not ticked ([`hibernate`](Cluster::hibernate)).
    hibernating: BTreeSet<u32>,
    ticks: u64,
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
            network: Network::default(),
            slowness: BTreeMap::new(),
            removed: Vec::new(),
            hibernating: BTreeSet::new(),
            ticks: 0,
            config,
        };
        let voters: Vec<u64> = (1..=cluster.config.nodes).collect();
        for &id in &voters {
            cluster.hosts.insert(id, Host::new(&cluster.config.raft_options())?);
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
