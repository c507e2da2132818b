//! Observing raft-rs: incoming and outgoing messages, proposals, role changes, elections,
//! leadership and the leader's view of follower progress.

use raft::eraftpb::{Message, MessageType};
use raft::{StateRole, Storage, INVALID_ID};
use raft_metrics::raft::{ElectionResult, ProposalFailure, RejectReason};

use super::{peer_slot, rec, InstrumentedNode};
use crate::classify;
use crate::clock;
use crate::log_size::payload_bytes;

impl<S: Storage> InstrumentedNode<S> {
    /// Before stepping `msg`: one match on its type, so the common messages cost a comparison,
    /// a peer lookup and an add (the `classify` predicates say the same, one per question).
    #[inline]
    pub(super) fn observe_incoming(&mut self, msg: &Message) {
        let term = self.raw.raft.term;
        match msg.get_msg_type() {
            MessageType::MsgAppend => {
                if let Some(peer) = self.peer(msg.from) {
                    peer.appends_received += 1;
                }
                self.observe_leader_message(msg, term);
            }
            MessageType::MsgHeartbeat => self.observe_leader_message(msg, term),
            MessageType::MsgSnapshot if msg.term >= term => {
                self.contacted = true;
                self.snapshot_receiving = true;
                self.publish_snapshot_progress();
            }
            MessageType::MsgAppendResponse if msg.term == term && self.raw.raft.state == StateRole::Leader => {
                let ticks = self.ticks;
                if let Some(peer) = self.peer(msg.from) {
                    // Its Unix time is taken at the next tick (`refresh_progress`).
                    peer.last_ack_tick = ticks;
                }
            }
            MessageType::MsgHeartbeatResponse if msg.term == term && self.raw.raft.state == StateRole::Leader => {
                self.observe_heartbeat_response(msg.from);
            }
            MessageType::MsgRequestVoteResponse
                if self.raw.raft.state == StateRole::Candidate
                    && classify::is_granted_vote(msg, term)
                    && !self.votes.contains(&msg.from) =>
            {
                self.votes.push(msg.from);
                rec!(self.p => votes_received.set_u64(self.votes.len() as u64));
            }
            _ => {}
        }
    }

    /// An append or heartbeat: stale (`classify::is_stale_append`) or contact from the leader.
    #[inline]
    fn observe_leader_message(&mut self, msg: &Message, term: u64) {
        if classify::is_stale_append(msg, term) {
            self.reject(RejectReason::StaleTerm);
        } else if classify::is_leader_contact(msg, term) {
            self.contacted = true;
        }
    }

    /// Heartbeats are rare (one per peer per `heartbeat_tick`): each is timed.
    fn observe_heartbeat_response(&mut self, from: u64) {
        let ticks = self.ticks;
        let received = self.clock.read();
        let unix = self.clock.unix();
        let Some(peer) = self.peer(from) else { return };
        rec!(peer.metrics => last_heartbeat_timestamp.set(unix));
        if let Some(sent) = peer.heartbeats_in_flight.pop_front() {
            rec!(peer.metrics => peer_round_trip.observe(clock::seconds(sent, received)));
        }
        peer.last_ack_tick = ticks;
    }

    /// A message about to be sent.
    #[inline]
    pub(super) fn observe_outgoing(&mut self, msg: &Message) {
        match msg.get_msg_type() {
            MessageType::MsgAppend => {
                let size: u64 = msg.entries.iter().map(payload_bytes).sum();
                if let Some(peer) = self.peer(msg.to) {
                    peer.appends_sent += 1;
                    peer.append_bytes_sent += size;
                }
            }
            MessageType::MsgAppendResponse if classify::is_log_inconsistency(msg) => {
                self.reject(RejectReason::LogInconsistency);
            }
            MessageType::MsgHeartbeat => self.observe_heartbeat_sent(msg.to),
            MessageType::MsgSnapshot => {
                self.snapshots_sending += 1;
                self.publish_snapshot_progress();
            }
            _ => {}
        }
    }

    fn observe_heartbeat_sent(&mut self, to: u64) {
        let now = self.clock.now();
        if let Some(peer) = self.peer(to) {
            rec!(peer.metrics => heartbeats_sent.inc());
            if peer.heartbeats_in_flight.len() == super::MAX_HEARTBEATS_IN_FLIGHT {
                peer.heartbeats_in_flight.pop_front();
            }
            peer.heartbeats_in_flight.push_back(now);
        }
    }

    pub(super) fn reject(&self, reason: RejectReason) {
        rec!(self.p => append_entries_rejected.get(reason).inc());
        if let Some(a) = self.agg() {
            a.append_entries_rejected.get(reason).inc();
        }
    }

    pub(super) fn after_propose(&mut self, result: &raft::Result<()>, conf_change: bool) {
        match result {
            Ok(()) if self.raw.raft.state != StateRole::Leader => {
                // Forwarded to the leader: its commit is timed there.
            }
            Ok(()) => {
                // A leader's `Ok` means the entry was appended to its unstable log, so this reads
                // no storage.
                let index = self.raw.raft.raft_log.last_index();
                if conf_change && self.raw.raft.pending_conf_index != index {
                    rec!(self.p => proposals_failed.get(ProposalFailure::Dropped).inc());
                } else {
                    self.pending.push(index, self.raw.raft.term);
                }
            }
            Err(raft::Error::ProposalDropped) if self.raw.raft.state != StateRole::Leader => {
                rec!(self.p => proposals_failed.get(ProposalFailure::NotLeader).inc());
            }
            Err(raft::Error::ProposalDropped) => rec!(self.p => proposals_failed.get(ProposalFailure::Dropped).inc()),
            Err(_) => rec!(self.p => proposals_failed.get(ProposalFailure::Other).inc()),
        }
        self.observe_state();
    }

    /// Compares role, leader and term with the last observation and records the transitions.
    /// Runs after every step and proposal, so the comparison is inlined and the rest is not.
    #[inline]
    pub(super) fn observe_state(&mut self) {
        let raft = &self.raw.raft;
        if raft.state != self.role || raft.leader_id != self.leader || raft.term != self.term {
            self.observe_transition();
        }
    }

    #[inline(never)]
    fn observe_transition(&mut self) {
        let (role, leader, term) = (self.raw.raft.state, self.raw.raft.leader_id, self.raw.raft.term);
        let now = self.clock.read();
        let (prev_role, prev_term) = (self.role, self.term);
        let new_term = term > prev_term;
        if prev_role == StateRole::Candidate && (role != StateRole::Candidate || new_term) && role != StateRole::Leader
        {
            self.end_election(ElectionResult::Lost, now);
        }
        if role == StateRole::PreCandidate && prev_role != StateRole::PreCandidate {
            rec!(self.p => pre_votes.inc());
        }
        if role == StateRole::Candidate && (prev_role != StateRole::Candidate || new_term) {
            self.start_election(now);
        }
        if role == StateRole::Leader && prev_role != StateRole::Leader {
            if prev_role != StateRole::Candidate {
                // Campaigned and won within one call: a single voter.
                self.start_election(now);
            }
            self.end_election(ElectionResult::Won, now);
            self.start_leading(now);
        } else if prev_role == StateRole::Leader && role != StateRole::Leader {
            self.stop_leading();
        }
        if leader != self.leader && leader != INVALID_ID {
            rec!(self.p => leader_changes_seen.inc());
            if let Some(a) = self.agg() {
                a.leader_changes_seen.inc();
            }
        }
        if let Some(a) = self.agg().filter(|_| (leader == INVALID_ID) != (self.leader == INVALID_ID)) {
            a.partitions_without_leader.add(if leader == INVALID_ID { 1 } else { -1 });
        }
        if role != prev_role {
            self.publish_role(Some(prev_role), role);
        }
        rec!(self.p => has_leader.set(i64::from(leader != INVALID_ID)));
        rec!(self.p => current_term.set_u64(term));
        (self.role, self.leader, self.term) = (role, leader, term);
    }

    pub(super) fn start_election(&mut self, now: u64) {
        self.election_started = Some(now);
        self.votes.clear();
        self.votes.push(self.raw.raft.id);
        rec!(self.p => votes_received.set(1));
    }

    pub(super) fn end_election(&mut self, result: ElectionResult, now: u64) {
        if let Some(started) = self.election_started.take() {
            let took = clock::seconds(started, now);
            rec!(self.p => elections.get(result).inc());
            rec!(self.p => election_duration.observe(took));
            if let Some(a) = self.agg() {
                a.elections.get(result).inc();
                a.election_duration.observe(took);
            }
        }
    }

    pub(super) fn start_leading(&mut self, now: u64) {
        let (ticks, unix) = (self.ticks, self.clock.unix_at(now));
        self.leading_since = now;
        self.append_times.clear();
        // Up to here (this term's empty entry included), entries are as old as this leadership.
        self.last_recorded = self.raw.raft.raft_log.last_index();
        for peer in &mut self.peers {
            // The votes that elected this node were contact.
            peer.last_ack_tick = ticks;
            peer.last_ack_unix = unix;
            peer.heartbeats_in_flight.clear();
        }
    }

    pub(super) fn stop_leading(&mut self) {
        // Leader-only gauges: a follower exports zeros rather than its last leadership's values.
        rec!(self.p => isr_size.set(0));
        rec!(self.p => max_follower_lag_entries.set(0));
        self.append_times.clear();
        for peer in &mut self.peers {
            rec!(peer.metrics => follower_lag_entries.set(0));
            rec!(peer.metrics => follower_lag.set(0.0));
            peer.heartbeats_in_flight.clear();
        }
    }

    /// Leader only: follower lag (entries and time), `isr_size`, and the time of the last quorum
    /// contact, from raft-rs's progress tracker.
    ///
    /// Lag time is the age of the oldest entry the follower lacks: when this leader appended
    /// `matched + 1`, to a tick's resolution (an append is stamped with the last tick's reading,
    /// so an untimed turn reads no clock). An entry from before this leader took office counts from then, and one whose
    /// append time was dropped (beyond [`MAX_APPEND_TIMES`](super::MAX_APPEND_TIMES) appends) from
    /// the oldest time kept, so the age is a lower bound. Right after an election raft-rs knows no
    /// follower's `matched` (it is 0 until the follower answers), so a silent follower shows the
    /// whole log as lag.
    ///
    /// Runs once per tick; the lags are also observed in the node-wide aggregate's distributions.
    pub(super) fn refresh_progress(&mut self) {
        if self.raw.raft.state != StateRole::Leader {
            return;
        }
        let now = self.clock.now();
        let unix = self.clock.unix_at(now);
        let raft = &self.raw.raft;
        let (self_id, last_index) = (raft.id, raft.raft_log.last_index());
        let conf = raft.prs().conf();
        let (mut isr, mut max_lag, mut min_matched) = (1u64, 0u64, last_index);
        // Entries appended before the oldest time kept are at least that old.
        let oldest_known = self.append_times.front().map_or(self.leading_since, |&(_, at)| at);
        self.scratch.clear();
        if conf.voters().contains(self_id) {
            self.scratch.push(unix);
        }
        for (&id, progress) in raft.prs().iter() {
            if id == self_id {
                continue;
            }
            let peer = peer_slot(&mut self.peers, &self.metrics, &self.topic, self.partition, id);
            let lag = last_index.saturating_sub(progress.matched);
            rec!(peer.metrics => follower_lag_entries.set_u64(lag));
            let behind_since = if lag == 0 {
                now
            } else {
                let missing = progress.matched + 1;
                // The append holding `missing`: the last one starting at or before it.
                let after = self.append_times.partition_point(|&(first, _)| first <= missing);
                match after.checked_sub(1).and_then(|at| self.append_times.get(at)) {
                    // Proposed but not persisted yet: brand new.
                    _ if missing > self.last_recorded => now,
                    Some(&(_, appended)) => appended,
                    None => oldest_known,
                }
            };
            let lag_seconds = clock::seconds(behind_since, now);
            rec!(peer.metrics => follower_lag.set(lag_seconds));
            if let Some(a) = self.agg.as_deref() {
                #[allow(clippy::cast_precision_loss)] // lags are far below 2^53
                a.follower_lag_entries.observe(lag as f64);
                a.follower_lag.observe(lag_seconds);
            }
            max_lag = max_lag.max(lag);
            min_matched = min_matched.min(progress.matched);
            if peer.last_ack_tick + 1 >= self.ticks {
                // Answered since the last tick: the tick's time, within one tick.
                peer.last_ack_unix = unix;
            }
            if conf.voters().contains(id) {
                self.scratch.push(peer.last_ack_unix);
                let silence = self.ticks.saturating_sub(peer.last_ack_tick);
                if lag <= self.in_sync.max_lag_entries && silence <= self.in_sync.max_silence_ticks {
                    isr += 1;
                }
            }
        }
        rec!(self.p => isr_size.set_u64(isr));
        rec!(self.p => max_follower_lag_entries.set_u64(max_lag));
        // Appends every follower has: their times are no longer needed.
        while !self.append_times.is_empty() {
            let end = self.append_times.get(1).map_or(self.last_recorded + 1, |&(first, _)| first);
            if end > min_matched + 1 {
                break;
            }
            self.append_times.pop_front();
        }
        // The newest time by which a quorum of voters had answered: the quorum-th newest answer.
        self.scratch.sort_by(|a, b| b.total_cmp(a));
        if let Some(&at) = self.scratch.get(self.scratch.len() / 2) {
            rec!(self.p => last_contact_timestamp.set(at));
        }
    }
}
