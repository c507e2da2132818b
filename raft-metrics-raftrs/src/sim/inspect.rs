//! Inspecting the cluster: its nodes and their registries and scrapes, the groups' members,
//! leaders, commit indexes and lag, replicas and state machines, and the message trace.

use std::sync::Arc;

use raft::StateRole;
use raft_metrics::{Format, Registry};

use super::host::HostStatus;
use super::network::Event;
use super::store::{lock, StateMachine};
use super::{Cluster, Store};
use crate::InstrumentedNode;

impl Cluster {
    /// Records every message's fate from now on ([`take_trace`](Self::take_trace)).
    pub fn trace(&mut self) {
        self.network.start_trace();
    }

    /// The events recorded since the last call (empty when tracing is off).
    pub fn take_trace(&mut self) -> Vec<Event> {
        self.network.take_trace()
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
}
