//! What a raft-rs message or configuration change means for the metrics.
//!
//! These are the rules [`InstrumentedNode`](crate::InstrumentedNode) applies, written as pure
//! functions so they can be read (and tested) on their own.

use raft::eraftpb::{ConfChangeType, ConfChangeV2, EntryType, Message, MessageType};
use raft::StateRole;
use raft_metrics::raft::NodeState;

/// The `method` label of the RPC metrics for a message type (`append_entries`, `heartbeat`, …).
///
/// Local message types, which never cross the network, map to `local`.
#[must_use]
pub fn method(msg_type: MessageType) -> &'static str {
    match msg_type {
        MessageType::MsgAppend => "append_entries",
        MessageType::MsgAppendResponse => "append_entries_response",
        MessageType::MsgRequestVote => "request_vote",
        MessageType::MsgRequestVoteResponse => "request_vote_response",
        MessageType::MsgRequestPreVote => "request_pre_vote",
        MessageType::MsgRequestPreVoteResponse => "request_pre_vote_response",
        MessageType::MsgSnapshot => "install_snapshot",
        MessageType::MsgHeartbeat => "heartbeat",
        MessageType::MsgHeartbeatResponse => "heartbeat_response",
        MessageType::MsgTransferLeader => "transfer_leader",
        MessageType::MsgTimeoutNow => "timeout_now",
        MessageType::MsgReadIndex => "read_index",
        MessageType::MsgReadIndexResp => "read_index_response",
        MessageType::MsgPropose => "propose",
        MessageType::MsgHup
        | MessageType::MsgBeat
        | MessageType::MsgUnreachable
        | MessageType::MsgSnapStatus
        | MessageType::MsgCheckQuorum => "local",
    }
}

/// An `AppendEntries` request (or heartbeat) from a leader of an older term: counted as
/// `append_entries_rejected{reason="stale_term"}` by the receiver.
///
/// raft-rs never sends a reject for these: it drops them or, with `check_quorum` or `pre_vote`,
/// answers with an empty `MsgAppendResponse` at its newer term. `term` is the receiver's term
/// before it steps the message; term 0 marks a local message.
#[inline]
pub fn is_stale_append(msg: &Message, term: u64) -> bool {
    matches!(msg.get_msg_type(), MessageType::MsgAppend | MessageType::MsgHeartbeat) && msg.term != 0 && msg.term < term
}

/// A message only a current leader sends (append, heartbeat, snapshot) at a term no older than
/// the receiver's: the receiver's `last_contact_timestamp` moves.
#[inline]
pub fn is_leader_contact(msg: &Message, term: u64) -> bool {
    matches!(msg.get_msg_type(), MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot)
        && msg.term >= term
}

/// A granted vote for the election at `term` (not a pre-vote).
#[inline]
pub fn is_granted_vote(msg: &Message, term: u64) -> bool {
    msg.get_msg_type() == MessageType::MsgRequestVoteResponse && !msg.reject && msg.term == term
}

/// A follower's rejection of an `AppendEntries` request whose previous entry it does not hold:
/// `append_entries_rejected{reason="log_inconsistency"}`, counted by the follower as it sends it.
#[inline]
pub fn is_log_inconsistency(msg: &Message) -> bool {
    msg.get_msg_type() == MessageType::MsgAppendResponse && msg.reject
}

/// The `node_state` code of a raft-rs role: 1 leader, 2 candidate (pre-candidates campaign
/// too), 3 follower.
#[must_use]
pub fn node_state(role: StateRole) -> NodeState {
    match role {
        StateRole::Leader => NodeState::Leader,
        StateRole::Candidate | StateRole::PreCandidate => NodeState::Candidate,
        StateRole::Follower => NodeState::Follower,
    }
}

/// The `kind` label of one change of a configuration change.
#[must_use]
pub fn change_kind(change_type: ConfChangeType) -> &'static str {
    match change_type {
        ConfChangeType::AddNode => "add_voter",
        ConfChangeType::AddLearnerNode => "add_learner",
        ConfChangeType::RemoveNode => "remove_node",
    }
}

/// Every `kind` label a configuration change counts: one per change, plus `enter_joint` when it
/// starts joint consensus, or only `leave_joint` for the empty change that ends it.
pub fn change_kinds(cc: &ConfChangeV2) -> Vec<&'static str> {
    if cc.leave_joint() {
        return vec!["leave_joint"];
    }
    let mut kinds: Vec<&'static str> = cc.get_changes().iter().map(|c| change_kind(c.get_change_type())).collect();
    if cc.enter_joint().is_some() {
        kinds.push("enter_joint");
    }
    kinds
}

/// An entry a client proposed: a normal entry with data (the empty entry a new leader appends is
/// not), or a configuration change.
#[must_use]
#[inline]
pub fn is_proposal(entry_type: EntryType, data: &[u8]) -> bool {
    match entry_type {
        EntryType::EntryNormal => !data.is_empty(),
        EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => true,
    }
}

/// A configuration-change entry.
#[must_use]
#[inline]
pub fn is_conf_change(entry_type: EntryType) -> bool {
    matches!(entry_type, EntryType::EntryConfChange | EntryType::EntryConfChangeV2)
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::{ConfChangeSingle, ConfChangeTransition};

    use super::*;

    fn msg(msg_type: MessageType, term: u64) -> Message {
        let mut m = Message::default();
        m.set_msg_type(msg_type);
        m.term = term;
        m
    }

    #[test]
    fn stale_appends_are_older_appends_and_heartbeats_only() {
        assert!(is_stale_append(&msg(MessageType::MsgAppend, 3), 4));
        assert!(is_stale_append(&msg(MessageType::MsgHeartbeat, 3), 4));
        assert!(!is_stale_append(&msg(MessageType::MsgAppend, 4), 4));
        assert!(!is_stale_append(&msg(MessageType::MsgAppend, 0), 4), "term 0 is a local message");
        assert!(!is_stale_append(&msg(MessageType::MsgRequestVote, 3), 4));
        assert!(!is_stale_append(&msg(MessageType::MsgSnapshot, 3), 4));
    }

    #[test]
    fn leader_contact_needs_a_current_term() {
        assert!(is_leader_contact(&msg(MessageType::MsgHeartbeat, 4), 4));
        assert!(is_leader_contact(&msg(MessageType::MsgSnapshot, 5), 4));
        assert!(!is_leader_contact(&msg(MessageType::MsgHeartbeat, 3), 4));
        assert!(!is_leader_contact(&msg(MessageType::MsgAppendResponse, 4), 4));
    }

    #[test]
    fn votes_and_rejections() {
        let mut granted = msg(MessageType::MsgRequestVoteResponse, 7);
        assert!(is_granted_vote(&granted, 7));
        assert!(!is_granted_vote(&granted, 8), "a vote for another term");
        granted.reject = true;
        assert!(!is_granted_vote(&granted, 7));
        assert!(!is_granted_vote(&msg(MessageType::MsgRequestPreVoteResponse, 7), 7), "pre-votes are not votes");

        let mut response = msg(MessageType::MsgAppendResponse, 7);
        assert!(!is_log_inconsistency(&response));
        response.reject = true;
        assert!(is_log_inconsistency(&response));
    }

    #[test]
    fn conf_change_kinds() {
        let single = |t, id| {
            let mut c = ConfChangeSingle::default();
            c.set_change_type(t);
            c.node_id = id;
            c
        };
        let mut cc = ConfChangeV2::default();
        assert_eq!(change_kinds(&cc), ["leave_joint"]);
        cc.mut_changes().push(single(ConfChangeType::AddNode, 4));
        assert_eq!(change_kinds(&cc), ["add_voter"]);
        cc.mut_changes().push(single(ConfChangeType::RemoveNode, 1));
        assert_eq!(change_kinds(&cc), ["add_voter", "remove_node", "enter_joint"]);
        let mut explicit = ConfChangeV2::default();
        explicit.set_transition(ConfChangeTransition::Explicit);
        explicit.mut_changes().push(single(ConfChangeType::AddLearnerNode, 5));
        assert_eq!(change_kinds(&explicit), ["add_learner", "enter_joint"]);
    }

    #[test]
    fn proposals_exclude_the_empty_leader_entry() {
        assert!(is_proposal(EntryType::EntryNormal, b"x"));
        assert!(!is_proposal(EntryType::EntryNormal, b""));
        assert!(is_proposal(EntryType::EntryConfChange, b""));
        assert_eq!(node_state(StateRole::PreCandidate), NodeState::Candidate);
        assert_eq!(method(MessageType::MsgAppend), "append_entries");
    }
}
