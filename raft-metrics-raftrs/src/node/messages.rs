//! Routing the messages the node steps and sends to the states they concern, with one match on
//! the message type, so the common messages cost a comparison, a link lookup and an add or two
//! (the [`classify`] predicates say the same, one per question). An append's answer costs
//! nothing: the leader sees it in raft-rs's progress at the next tick.

use raft::eraftpb::{Message, MessageType};
use raft::{StateRole, Storage};
use raft_metrics::raft::RejectReason;

use super::group::GroupSeries;
use super::series::rec;
use super::InstrumentedNode;
use crate::classify;
use crate::log_size::payload_bytes;

impl<S: Storage> InstrumentedNode<S> {
    /// Before stepping `msg`. Returns whether stepping it leaves role, leader and term as they
    /// are, so the comparison after the step can be skipped: the leader's replication traffic at
    /// its term (answers to its appends and heartbeats, and the same traffic from it on a
    /// follower that knows it), most of the messages, cannot change them in raft-rs.
    #[inline]
    pub(super) fn observe_incoming(&mut self, msg: &Message) -> bool {
        let raft = &self.raw.raft;
        let (term, role) = (raft.term, raft.state);
        match msg.get_msg_type() {
            MessageType::MsgAppend => {
                let steady = msg.term == term && msg.from == raft.leader_id && role == StateRole::Follower;
                self.links.to(msg.from).appends_received += 1;
                self.observe_leader_message(msg, term);
                return steady;
            }
            MessageType::MsgHeartbeat => {
                let steady = msg.term == term && msg.from == raft.leader_id && role == StateRole::Follower;
                self.observe_leader_message(msg, term);
                return steady;
            }
            MessageType::MsgAppendResponse => return msg.term == term && role == StateRole::Leader,
            MessageType::MsgSnapshot if msg.term >= term => {
                self.role.leader_contacted();
                self.snapshots.receive_started(&self.group);
            }
            MessageType::MsgHeartbeatResponse if msg.term == term && role == StateRole::Leader => {
                self.peers.heartbeat_answered(msg.from, self.turn.ticks, &mut self.turn.clock);
                return true;
            }
            MessageType::MsgRequestVoteResponse
                if role == StateRole::Candidate && classify::is_granted_vote(msg, term) =>
            {
                self.role.election.vote_granted(msg.from, &self.group);
            }
            _ => {}
        }
        false
    }

    /// An append or heartbeat: stale (`classify::is_stale_append`) or contact from the leader.
    #[inline]
    fn observe_leader_message(&mut self, msg: &Message, term: u64) {
        if classify::is_stale_append(msg, term) {
            reject(&self.group, RejectReason::StaleTerm);
        } else if classify::is_leader_contact(msg, term) {
            self.role.leader_contacted();
        }
    }

    /// A message about to be sent.
    #[inline]
    pub(super) fn observe_outgoing(&mut self, msg: &Message) {
        let msg_type = msg.get_msg_type();
        let link = self.links.to(msg.to);
        link.sent(msg_type);
        match msg_type {
            MessageType::MsgAppend => {
                link.appends_sent += 1;
                link.append_bytes_sent += msg.entries.iter().map(payload_bytes).sum::<u64>();
            }
            MessageType::MsgAppendResponse if classify::is_log_inconsistency(msg) => {
                reject(&self.group, RejectReason::LogInconsistency);
            }
            MessageType::MsgHeartbeat => {
                let now = self.turn.clock.now();
                self.peers.heartbeat_sent(msg.to, now);
            }
            MessageType::MsgSnapshot => self.snapshots.send_started(&self.group),
            _ => {}
        }
    }
}

/// An append rejected, by this node (a stale term) or to its leader (a log inconsistency).
fn reject(group: &GroupSeries, reason: RejectReason) {
    rec!(group.series => append_entries_rejected.get(reason).inc());
    if let Some(a) = group.node_wide() {
        a.append_entries_rejected.get(reason).inc();
    }
}
