//! Membership: nodes joining and leaving groups through configuration changes, and the
//! processes of nodes that left everything ending.

use std::sync::Arc;

use raft::eraftpb::{ConfChange, ConfChangeType};
use raft::storage::MemStorage;

use super::host::Host;
use super::{Cluster, Error};

impl Cluster {
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
            vacant.insert(Host::new(&self.config.raft_options())?);
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

    pub(super) fn drop_removed(&mut self) {
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
}
