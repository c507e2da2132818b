//! Hibernation: a group whose replicas are not ticked while it is idle, as a node with thousands
//! of groups does with its idle ones.

use super::host::HostStatus;
use super::Cluster;

impl Cluster {
    /// Stops ticking the partition's replicas (hibernation: the application puts an idle group
    /// to sleep), each told so with
    /// [`InstrumentedNode::hibernate`](crate::InstrumentedNode::hibernate). Messages still flow
    /// (none do once the group settled: heartbeats come from ticks).
    pub fn hibernate(&mut self, partition: u32) {
        if let Some(group) = self.groups.get_mut(partition as usize) {
            for (id, replica) in group.iter_mut() {
                if self.hosts.get(id).is_some_and(|h| h.status == HostStatus::Up) {
                    replica.node.hibernate();
                }
            }
            self.hibernating.insert(partition);
        }
    }

    /// Ticks the partition's replicas again from the next tick, which wakes them.
    pub fn wake(&mut self, partition: u32) {
        self.hibernating.remove(&partition);
    }
}
