//! Running the cluster: logical ticks, and settling: every replica's ready loop and the
//! deliveries, round after round, until nothing moves.

use std::time::Duration;

use super::host::HostStatus;
use super::network::{Envelope, Event};
use super::Cluster;

/// Safety valve for [`Cluster::settle`]: rounds of ready handling and delivery per call.
const MAX_SETTLE_ROUNDS: usize = 10_000;

impl Cluster {
    /// One logical tick on every running replica, then [`settle`](Self::settle).
    pub fn tick(&mut self) {
        self.ticks += 1;
        for (partition, group) in (0u32..).zip(&mut self.groups) {
            if self.hibernating.contains(&partition) {
                continue;
            }
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
            self.network.release_arrived();
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
            self.network.send(out);
            if self.network.is_idle() && !busy {
                return;
            }
            let batch: Vec<Envelope> = self.network.take_queued();
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
        let Some(envelope) = self.network.route(envelope) else { return };
        let (partition, from, to) = (envelope.partition, envelope.msg.from, envelope.msg.to);
        let snapshot_lost = envelope.msg.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot
            && self.slowness.get(&to).is_some_and(|s| s.snapshots_fail);
        let up = |id: u64| self.hosts.get(&id).is_some_and(|h| h.status == HostStatus::Up);
        let (sender_up, receiver_up) = (up(from), up(to));
        let Some(group) = self.groups.get_mut(partition as usize) else { return };
        let Envelope { msg, sent_at, .. } = envelope;
        let reachable =
            sender_up && receiver_up && !self.network.is_cut(from, to) && group.contains_key(&to) && !snapshot_lost;
        if !reachable {
            if let Some(sender) = group.get_mut(&from).filter(|_| sender_up) {
                sender.node.on_send_failed(&msg);
            }
            self.network.record(|| Event::Dropped { partition, msg });
            return;
        }
        // As a raft-rs transport does: the sender hears of a delivery only to time it or to end
        // a snapshot (its calls were counted as sent).
        let snapshot = msg.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot;
        if sent_at.is_some() || snapshot {
            if let Some(sender) = group.get_mut(&from) {
                let latency = sent_at.map(|sent| {
                    let delivered = *delivered_at.get_or_insert_with(crate::clock::read);
                    Duration::from_nanos(crate::clock::nanos(sent, delivered))
                });
                sender.node.on_delivered(&msg, latency);
            }
        }
        let Some(receiver) = group.get_mut(&to) else { return };
        self.network.record(|| {
            let receiver_term = receiver.node.raw().raft.term;
            Event::Delivered { partition, msg: msg.clone(), receiver_term }
        });
        // Responses from peers the receiver no longer knows are refused; that is not an error here.
        let _ = receiver.node.step(msg);
    }
}
