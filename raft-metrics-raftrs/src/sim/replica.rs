//! One node's replica of one group: its wrapped raft-rs node, storage and state machine, and how
//! a replica is created (raft-rs settings, bootstrap storage).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use raft::eraftpb::{ConfState, Entry, Snapshot};
use raft::storage::MemStorage;
use raft::{Config, RawNode};

use super::store::{lock, SimStorage, StateMachine};
use super::{Cluster, Error, Store};
use crate::InstrumentedNode;

/// One node's replica of one group.
pub(super) struct Replica {
    pub(super) node: InstrumentedNode<Store>,
    /// The log, shared with the node's storage (`MemStorage` is a handle).
    pub(super) mem: MemStorage,
    pub(super) sm: Arc<Mutex<StateMachine>>,
    /// Committed entries not applied yet (only while or after the node's apply was stalled).
    pub(super) backlog: VecDeque<Entry>,
}

impl Cluster {
    pub(super) fn replica_mut(&mut self, node: u64, partition: u32) -> Result<&mut Replica, Error> {
        self.groups
            .get_mut(partition as usize)
            .and_then(|g| g.get_mut(&node))
            .ok_or(Error::NoReplica { node, partition })
    }

    /// A replica of `partition` on `node` over `mem` and `sm`, recording into the node's registry.
    pub(super) fn replica(
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
        let mut node = InstrumentedNode::new(raw, &host.metrics, topic, partition)
            .with_in_sync(self.config.in_sync)
            .with_recording(self.config.recording)
            .with_timing(self.config.timing)
            .with_rpc_timing(self.config.rpc_timing)
            .with_timing_budget(self.config.timing_budget)
            .with_idle_publish_every(self.config.idle_publish_every);
        if let Some(every) = self.config.busy_publish_every {
            node = node.with_busy_publish_every(every);
        }
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

/// An initial member's storage: a snapshot at index 1 holding the first configuration, as
/// raft-rs recommends. A node added later starts empty and so must catch up from a snapshot,
/// which is how it learns the configuration (the bootstrap configuration is in no log entry).
pub(super) fn bootstrap(voters: &[u64]) -> Result<MemStorage, Error> {
    let mem = MemStorage::new();
    let mut snapshot = Snapshot::default();
    let meta = snapshot.mut_metadata();
    meta.index = 1;
    meta.term = 1;
    meta.set_conf_state(ConfState::from((voters.to_vec(), Vec::new())));
    mem.wl().apply_snapshot(snapshot)?;
    Ok(mem)
}
