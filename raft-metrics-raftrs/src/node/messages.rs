//! Routing the messages the node steps and sends to the states they concern, the common ones
//! (replication traffic at the current term) first, so they cost a type test, a comparison or
//! two and an add (the [`classify`] predicates say the same, one per question, and decide the
//! rarer messages). An append's answer costs
//! nothing: the leader sees it in raft-rs's progress at the next tick.

use raft::eraftpb::{Message, MessageType};
use raft::{StateRole, Storage};
use raft_metrics::raft::RejectReason;

use super::group::GroupSeries;
use super::links;
use super::log::payload_bytes;
use super::series::rec;
use super::InstrumentedNode;
use crate::classify;

impl<S: Storage> InstrumentedNode<S> {
    /// Before stepping `msg`. Returns whether stepping it leaves role, leader and term as they
    /// are, so the comparison after the step can be skipped: the leader's replication traffic at
    /// its term (answers to its appends and heartbeats, and the same traffic from it on a
    /// follower that knows it), most of the messages, cannot change them in raft-rs.
    ///
    /// That traffic is tested first and costs a type test, the steadiness comparisons and a
    /// store or an add: a steady append or heartbeat is leader contact and never stale, and the
    /// appends from the current leader are counted on a link of their own
    /// ([`Links::append_from_leader`](super::links::Links::append_from_leader)), which also
    /// tells the tick they were contact.
    #[inline]
    pub(super) fn observe_incoming(&mut self, msg: &Message) -> bool {
        let raft = &self.raw.raft;
        let msg_type = msg.get_msg_type();
        if msg_type == MessageType::MsgAppendResponse {
            return msg.term == raft.term && raft.state == StateRole::Leader;
        }
        // Appends and heartbeats apart, each with its own steadiness test: one shared test
        // would be followed by a second type test on every append.
        if msg_type == MessageType::MsgAppend {
            if from_followed_leader(msg, raft) {
                // The leader's appends are its contact too, noted when they are settled.
                self.links.append_from_leader(msg.from);
                return true;
            }
            self.observe_leader_message(msg);
            return false;
        }
        if msg_type == MessageType::MsgHeartbeat {
            if from_followed_leader(msg, raft) {
                self.quiet.contacted = true;
                return true;
            }
            self.observe_leader_message(msg);
            return false;
        }
        self.observe_other_incoming(msg)
    }

    /// An append or heartbeat that is not steady: stale (`classify::is_stale_append`) or
    /// contact from a leader this node does not follow yet.
    #[inline(never)]
    fn observe_leader_message(&mut self, msg: &Message) {
        let term = self.raw.raft.term;
        if msg.get_msg_type() == MessageType::MsgAppend {
            self.links.to(msg.from).appends_received += 1;
        }
        if classify::is_stale_append(msg, term) {
            reject(&self.group, RejectReason::StaleTerm);
        } else if classify::is_leader_contact(msg, term) {
            self.quiet.contacted = true;
        }
    }

    /// The other messages: snapshots, heartbeat answers, votes. Returns whether the message is
    /// steady (a heartbeat answer to the leader at its term).
    #[inline]
    fn observe_other_incoming(&mut self, msg: &Message) -> bool {
        let raft = &self.raw.raft;
        let (term, role) = (raft.term, raft.state);
        match msg.get_msg_type() {
            MessageType::MsgHeartbeatResponse if msg.term == term && role == StateRole::Leader => {
                self.sync_turn();
                self.peers.heartbeat_answered(msg.from, &mut self.turn);
                return true;
            }
            MessageType::MsgSnapshot if msg.term >= term => {
                self.quiet.contacted = true;
                self.snapshots.receive_started(&self.group);
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

    /// A message about to be sent: its count on the target's link (a leader's append in its
    /// follower's slot with its payload bytes, a follower's answer to its leader with the
    /// leader's traffic, a leader's heartbeat on its peer, all without the link's lookup), and
    /// a test that sends the rarer cases (a rejection, a heartbeat, a snapshot) out of line,
    /// where they are counted.
    #[inline(always)]
    pub(super) fn observe_outgoing(&mut self, msg: &Message) {
        let msg_type = msg.get_msg_type();
        if msg_type == MessageType::MsgAppend {
            // Many appends carry no entries (a commit notice) or one (a proposal): neither pays
            // for the loop's setup, and the first not for the slice's bounds test either
            // (`len` is the field; `is_empty` would go through the slice).
            #[allow(clippy::len_zero)]
            let bytes = if msg.entries.len() == 0 {
                0
            } else {
                match msg.entries.as_slice() {
                    [entry] => payload_bytes(entry),
                    entries => entries.iter().map(payload_bytes).sum::<u64>(),
                }
            };
            self.quiet.appended = true;
            if !self.appends.sent(msg.to, bytes) {
                self.links.append_sent(&mut self.appends, msg.to, bytes);
            }
            return;
        }
        if !msg.reject && self.links.answered_leader(msg.to, msg_type) {
            return;
        }
        if msg.reject || (1 << msg_type as u32) & SENT_APART != 0 {
            self.observe_rare_outgoing(msg);
            return;
        }
        self.links.to(msg.to).sent(msg_type);
    }

    #[inline(never)]
    fn observe_rare_outgoing(&mut self, msg: &Message) {
        let msg_type = msg.get_msg_type();
        if msg_type == MessageType::MsgHeartbeat && !msg.reject {
            // The leader's heartbeat to a member is counted on the peer, whose line its round
            // trip needs anyway; the flush moves the count to the link.
            self.sync_turn();
            let at = self.turn.samplers.rpc_timed().then(|| self.turn.clock.now());
            if !self.peers.heartbeat_sent(msg.to, at) {
                self.links.to(msg.to).sent(msg_type);
            }
            return;
        }
        let link = self.links.to(msg.to);
        link.sent(msg_type);
        if !links::is_common(msg_type) {
            link.sent_rare();
        }
        match msg_type {
            MessageType::MsgAppendResponse if classify::is_log_inconsistency(msg) => {
                reject(&self.group, RejectReason::LogInconsistency);
            }
            MessageType::MsgSnapshot => self.snapshots.send_started(&self.group),
            _ => {}
        }
    }
}

/// Whether `msg` comes from the leader this follower follows, at its term: steady traffic.
///
/// Without a test of the role: raft-rs knows a leader only as a follower (a candidate's is no
/// one, a leader's itself), so a message from the known leader reaches a follower, or a leader
/// that it claims to come from itself, which raft-rs ignores at its own term (a leader steps no
/// append or heartbeat) and which is counted as its leader's traffic then.
#[inline(always)]
fn from_followed_leader<S: Storage>(msg: &Message, raft: &raft::Raft<S>) -> bool {
    msg.term == raft.term && msg.from == raft.leader_id
}

/// The message types whose sending needs more than a count (a rejection is tested apart): all
/// but the answers to appends and heartbeats (appends are tested before), so that the rarer
/// types are noted on their link (`Link::sent_rare`).
const SENT_APART: u32 = !(1 << MessageType::MsgAppendResponse as u32 | 1 << MessageType::MsgHeartbeatResponse as u32);

/// An append rejected, by this node (a stale term) or to its leader (a log inconsistency).
#[cold]
#[inline(never)]
fn reject(group: &GroupSeries, reason: RejectReason) {
    rec!(group.series => append_entries_rejected.get(reason).inc());
    if let Some(a) = group.node_wide() {
        a.append_entries_rejected.get(reason).inc();
    }
}
