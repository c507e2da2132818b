//! The other members of the group as this node sees them: their series, heartbeats and their
//! round trips, and each peer's last answer to the leader. (The appends exchanged with each are
//! counted on its [`Link`](super::links::Link) and recorded here once per tick; the heartbeats
//! the leader sends are counted here and moved to the link at the tick.)

use std::collections::VecDeque;

use raft::eraftpb::MessageType;
use raft::ProgressTracker;
use raft_metrics::raft::{AggregatedMetrics, PeerMetrics};

use super::group::GroupSeries;
use super::links::Links;
use super::series::{rec, Series};
use super::turn::Turn;
use crate::clock::{self, Clock};

/// Most heartbeats per peer awaiting a response: a heartbeat lost without the transport saying so
/// skews the round trips after it by at most this many heartbeat intervals, until one is dropped.
const MAX_HEARTBEATS_IN_FLIGHT: usize = 8;

/// What the node knows about one peer of the group.
///
/// Laid out (`repr(C)`, a cache line's alignment) so that a heartbeat sent or answered touches
/// one line: what they write comes first. A leader of thousands of groups heartbeats each with
/// its peers cold.
#[repr(C, align(64))]
pub(super) struct Peer {
    id: u64,
    /// Heartbeats sent to the peer and answered, by count. Responses carry nothing to match
    /// them by, so the oldest unanswered is the one answered: delivery is in order, a heartbeat
    /// the transport failed to send is taken back, and one lost silently skews the round trips
    /// after it by at most [`MAX_HEARTBEATS_IN_FLIGHT`] heartbeat intervals.
    heartbeats_sent: u64,
    heartbeats_answered: u64,
    /// The node's tick count at the peer's last answer (leader side): a heartbeat response, or
    /// appends acknowledged (`matched` moved, seen at the next tick).
    pub(super) last_ack_tick: u64,
    /// When that response came (a [`clock`] reading; 0: never), made Unix time only when
    /// published: an answer stores its turn's reading.
    pub(super) last_ack_at: u64,
    /// When the last heartbeat answer came (a [`clock`] reading), and whether
    /// `last_heartbeat_timestamp` has it.
    last_heartbeat_at: u64,
    /// The timed heartbeats among the unanswered (their count when sent, and a [`clock`]
    /// reading), oldest first: only those touch this queue, so an untimed heartbeat costs two
    /// counts on the peer. Boxed while not empty (`Some` holds at least one, see
    /// [`drop_timed_if_empty`](Self::drop_timed_if_empty)): a pointer keeps the line's fields in
    /// one, and `None` says there is none without another line. Allocated on the sampled path
    /// only: one turn in 64 by default times its heartbeats.
    #[allow(clippy::box_collection)] // the deque's own 32 bytes would push them past the line
    timed: Option<Box<VecDeque<(u64, u64)>>>,
    heartbeat_published: bool,
    /// Heartbeats sent since the last flush, not yet on the peer's link: counted on this line,
    /// which the heartbeat's round trip needs anyway, so that a leader's heartbeat touches no
    /// line of the link (at a node with thousands of groups, a cold line per heartbeat).
    /// [`flush`](Peers::flush) moves them to the link, where failures are taken out of them as
    /// out of any call. Never taken back, unlike `heartbeats_sent`.
    heartbeats_out: u32,
    pub(super) metrics: Series<PeerMetrics>,
    /// raft-rs's `matched` for the peer at the last tick (leader side).
    pub(super) last_matched: u64,
}

// The heartbeats' line: everything before `metrics`.
const _: () = assert!(core::mem::offset_of!(Peer, metrics) <= 64, "a heartbeat touches one cache line of its peer");

impl Peer {
    fn new(group: &GroupSeries, id: u64) -> Self {
        let GroupSeries { metrics, topic, partition, .. } = group;
        let peer = id.to_string();
        Self {
            id,
            metrics: Series::new(metrics.peer(topic, *partition, &peer), metrics.claim_peer(topic, *partition, &peer)),
            last_ack_tick: 0,
            last_matched: 0,
            last_ack_at: 0,
            last_heartbeat_at: 0,
            heartbeat_published: true,
            heartbeats_sent: 0,
            heartbeats_answered: 0,
            heartbeats_out: 0,
            timed: None,
        }
    }

    /// The timed heartbeats awaiting their answer.
    #[cfg(test)]
    fn timed_count(&self) -> usize {
        self.timed.as_ref().map_or(0, |timed| timed.len())
    }

    /// Keeps `timed` `None` when it holds nothing.
    fn drop_timed_if_empty(&mut self) {
        if self.timed.as_ref().is_some_and(|timed| timed.is_empty()) {
            self.timed = None;
        }
    }

    /// Forgets the heartbeats in flight (a leadership began or ended).
    fn forget_heartbeats(&mut self) {
        self.heartbeats_answered = self.heartbeats_sent;
        self.timed = None;
    }
}

/// The members of the configuration other than this node, kept in step with raft-rs's
/// configuration by [`sync`](Self::sync), so membership is a short scan.
#[derive(Default)]
pub(super) struct Peers {
    members: Vec<Peer>,
}

impl Peers {
    /// The peer `id` if it is a member of the configuration: messages from or to a node that
    /// left must not bring its series back.
    #[inline]
    fn member(&mut self, id: u64) -> Option<&mut Peer> {
        self.members.iter_mut().find(|p| p.id == id)
    }

    /// The peer `id`, added (one registry lookup) the first time it is seen.
    pub(super) fn slot(&mut self, group: &GroupSeries, id: u64) -> &mut Peer {
        let at = self.members.iter().position(|p| p.id == id).unwrap_or_else(|| {
            self.members.push(Peer::new(group, id));
            self.members.len() - 1
        });
        &mut self.members[at]
    }

    /// Makes the peers the members of `prs`'s configuration other than `self_id`: binds new
    /// members, forgets former ones (whose series [`forget`](Self::forget) removes; the
    /// heartbeats counted on them go to their links).
    pub(super) fn sync(&mut self, group: &GroupSeries, prs: &ProgressTracker, self_id: u64, links: &mut Links) {
        let conf = prs.conf();
        let is_member = |id: u64| id != self_id && (conf.voters().contains(id) || conf.learners().contains(&id));
        self.members.retain_mut(|p| {
            let keep = is_member(p.id);
            if !keep {
                settle_heartbeats(p, links);
            }
            keep
        });
        let members: Vec<u64> = conf.voters().ids().iter().chain(conf.learners().iter().copied()).collect();
        for id in members {
            if id != self_id {
                self.slot(group, id);
            }
        }
    }

    /// `id` left the group: forgets it (the heartbeats counted on it go to its link) and removes
    /// its series from the registry.
    pub(super) fn forget(&mut self, group: &GroupSeries, id: u64, links: &mut Links) {
        if let Some(peer) = self.member(id) {
            settle_heartbeats(peer, links);
        }
        self.members.retain(|p| p.id != id);
        group.metrics.remove_peer(&group.topic, group.partition, id);
    }

    /// A heartbeat to `to` goes out (counted here, and on its link and in `heartbeats_sent` at
    /// the next publication), and for its round trip the send time (a [`clock`] reading) when
    /// the turn's messages are timed, else `None`. Returns whether `to` is a member; if not, the
    /// caller counts the heartbeat on its link.
    #[must_use]
    pub(super) fn heartbeat_sent(&mut self, to: u64, at: Option<u64>) -> bool {
        let Some(peer) = self.member(to) else { return false };
        peer.heartbeats_out += 1;
        peer.heartbeats_sent += 1;
        let max = MAX_HEARTBEATS_IN_FLIGHT as u64;
        peer.heartbeats_answered = peer.heartbeats_answered.max(peer.heartbeats_sent.saturating_sub(max));
        if let Some(at) = at {
            let timed = peer.timed.get_or_insert_with(Box::default);
            if timed.len() == MAX_HEARTBEATS_IN_FLIGHT {
                timed.pop_front();
            }
            timed.push_back((peer.heartbeats_sent, at));
        }
        true
    }

    /// Leader: `from` answered a heartbeat: `last_heartbeat_timestamp` (the turn's time, at the
    /// next publication), the peer's last answer for the quorum contact and `isr_size`, and
    /// when the heartbeat was timed its round trip (`peer_round_trip`, with the RPC sampler's
    /// weight). An untimed answer writes no series; its time is the turn's clock reading, which
    /// the answers stepped before one turn share (a reading is about 25 cycles, where keeping
    /// the tick's reading took a line of the group's state that a large node finds cold).
    pub(super) fn heartbeat_answered(&mut self, from: u64, turn: &mut Turn) {
        let Some(peer) = self.members.iter_mut().find(|p| p.id == from) else { return };
        let at = turn.clock.now();
        peer.last_heartbeat_at = at;
        peer.heartbeat_published = false;
        if peer.heartbeats_answered < peer.heartbeats_sent {
            peer.heartbeats_answered += 1;
            if peer.timed.is_some() {
                Self::time_answer(peer, turn);
            }
        }
        peer.last_ack_tick = turn.ticks;
        // Its time too: the quorum contact is computed at the next tick that publishes, which
        // may come several ticks later (an idle group, see `idle`).
        peer.last_ack_at = at;
    }

    /// The round trip of the heartbeat just answered, if it was timed.
    #[cold]
    fn time_answer(peer: &mut Peer, turn: &mut Turn) {
        let answered = peer.heartbeats_answered;
        let Some(timed) = peer.timed.as_mut() else { return };
        while timed.front().is_some_and(|&(sent, _)| sent < answered) {
            // Answered before (it was lost, or an answer went unmatched).
            timed.pop_front();
        }
        let matched = timed.front().filter(|&&(sent, _)| sent == answered).map(|&(_, at)| at);
        if matched.is_some() {
            timed.pop_front();
        }
        peer.drop_timed_if_empty();
        if let Some(at) = matched {
            let weight = turn.samplers.rpc_weight().max(1);
            rec!(peer.metrics => peer_round_trip.observe_n(clock::seconds(at, turn.clock.read()), weight));
        }
    }

    /// The transport could not send a heartbeat to `to`: `heartbeat_failures`, and no round trip.
    pub(super) fn heartbeat_failed(&mut self, to: u64) {
        if let Some(peer) = self.member(to) {
            rec!(peer.metrics => heartbeat_failures.inc());
            // Sent last, so the newest in flight.
            if peer.heartbeats_sent > peer.heartbeats_answered {
                if let Some(timed) = &mut peer.timed {
                    if timed.back().is_some_and(|&(sent, _)| sent == peer.heartbeats_sent) {
                        timed.pop_back();
                    }
                }
                peer.drop_timed_if_empty();
                peer.heartbeats_sent -= 1;
            }
        }
    }

    /// This node became leader at tick `ticks`, at `now` (a [`clock`] reading): the votes that
    /// elected it were contact from every peer.
    pub(super) fn leadership_gained(&mut self, ticks: u64, now: u64) {
        for peer in &mut self.members {
            peer.last_ack_tick = ticks;
            peer.last_ack_at = now;
            // raft-rs starts every follower's `matched` afresh.
            peer.last_matched = 0;
            peer.forget_heartbeats();
        }
    }

    /// The group woke from hibernation at `now` (a [`clock`] reading): contact counts from the
    /// wake, and heartbeats sent before the sleep are no longer awaited (their round trips would
    /// include it).
    pub(super) fn woke(&mut self, now: u64) {
        for peer in &mut self.members {
            peer.last_ack_at = now;
            peer.forget_heartbeats();
        }
    }

    /// This node stopped leading: a follower exports zero lag rather than its last leadership's.
    pub(super) fn leadership_lost(&mut self) {
        for peer in &mut self.members {
            rec!(peer.metrics => follower_lag_entries.set(0));
            rec!(peer.metrics => follower_lag.set(0.0));
            peer.forget_heartbeats();
        }
    }

    /// Records the appends exchanged with each peer since the last publication (taken from its
    /// link), per peer and in the aggregate `agg`, the heartbeats sent and the last heartbeat
    /// answer's time.
    pub(super) fn flush(&mut self, links: &mut Links, agg: Option<&AggregatedMetrics>, clock: &Clock) {
        for peer in &mut self.members {
            if !peer.heartbeat_published {
                peer.heartbeat_published = true;
                rec!(peer.metrics => last_heartbeat_timestamp.set(clock.unix_at(peer.last_heartbeat_at)));
            }
            settle_heartbeats(peer, links);
            let Some(link) = links.get(peer.id) else { continue };
            // The link's sends are taken by its own flush, after this one.
            let heartbeats = link.heartbeats_sent();
            if heartbeats != 0 {
                rec!(peer.metrics => heartbeats_sent.add(heartbeats));
            }
            let (sent, bytes, received) = (link.appends_sent(), link.append_bytes_sent, link.appends_received);
            if sent == 0 && received == 0 {
                // An idle group's ticks (no appends: no bytes either).
                continue;
            }
            (link.append_bytes_sent, link.appends_received) = (0, 0);
            rec!(peer.metrics => append_entries_sent.add(sent));
            rec!(peer.metrics => append_entries_sent_bytes.add(bytes));
            rec!(peer.metrics => append_entries_received.add(received));
            if let Some(a) = agg {
                a.append_entries_sent.add(sent);
                a.append_entries_sent_bytes.add(bytes);
                a.append_entries_received.add(received);
            }
        }
    }
}

/// Moves the heartbeats counted on `peer` since the last flush to its link.
fn settle_heartbeats(peer: &mut Peer, links: &mut Links) {
    let out = std::mem::take(&mut peer.heartbeats_out);
    if out != 0 {
        links.to(peer.id).sent_n(MessageType::MsgHeartbeat, out);
    }
}

#[cfg(test)]
mod tests {
    use raft_metrics::raft::RaftMetrics;
    use raft_metrics::{Registry, Sampling};

    use super::*;

    /// The leader's heartbeats to a member are counted on the peer and reach the link's
    /// `rpc_calls_total{method="heartbeat"}` at the flush, less the failures reported meanwhile,
    /// and the per-peer `heartbeats_sent`; a member that leaves hands its count to the link
    /// first, and a heartbeat to a node that is no member is the caller's to count.
    #[test]
    fn heartbeats_on_the_peer_reach_the_link_at_the_flush() {
        use raft_metrics::raft::Outcome;

        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let clock = Clock::new();
        let (mut peers, mut links) = (Peers::default(), Links::default());
        peers.slot(&group, 2);
        peers.slot(&group, 3);
        let calls = |to: &str, outcome| metrics.families().rpcs.bind(("heartbeat", to)).rpc_calls.get(outcome).get();
        let sent_to_2 = || metrics.families().peers.bind(("orders", 0, "2")).heartbeats_sent.get();
        for _ in 0..3 {
            assert!(peers.heartbeat_sent(2, None));
        }
        assert!(peers.heartbeat_sent(3, None));
        links.failed(2, MessageType::MsgHeartbeat, &group);
        assert!(!peers.heartbeat_sent(9, None), "node 9 is no member");
        assert_eq!(calls("2", Outcome::Success), 0, "counted at the flush");
        peers.flush(&mut links, None, &clock);
        links.flush(&metrics, |_| true);
        assert_eq!((calls("2", Outcome::Success), calls("2", Outcome::Failure)), (2, 1));
        assert_eq!(calls("3", Outcome::Success), 1);
        assert_eq!(sent_to_2(), 3, "sent, failed or not");
        // Nothing more sent: nothing more counted.
        peers.flush(&mut links, None, &clock);
        links.flush(&metrics, |_| true);
        assert_eq!(calls("2", Outcome::Success), 2);
        // A member leaving hands its unflushed heartbeats to its link.
        assert!(peers.heartbeat_sent(3, None));
        assert!(peers.heartbeat_sent(2, None));
        peers.forget(&group, 3, &mut links);
        peers.flush(&mut links, None, &clock);
        links.flush(&metrics, |_| true);
        assert_eq!((calls("2", Outcome::Success), calls("3", Outcome::Success)), (3, 2));
    }

    /// Heartbeats and answers matched by count: each timed heartbeat's answer observes one round
    /// trip, a send the transport failed is taken back, a lost one shifts the matching by one
    /// until the cap drops it; untimed heartbeats observe nothing and count at the flush.
    #[test]
    fn heartbeats_are_matched_to_answers_by_count() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let mut turn = Turn::new(Sampling::All, Sampling::All, 8, 1);
        let mut peers = Peers::default();
        peers.slot(&group, 2);
        let round_trips = || metrics.families().peers.bind(("orders", 0, "2")).peer_round_trip.count();
        for _ in 0..3 {
            assert!(peers.heartbeat_sent(2, Some(turn.clock.now())));
            peers.heartbeat_answered(2, &mut turn);
        }
        assert_eq!(round_trips(), 3);
        // A failed send is taken back: the next answer is the heartbeat sent before it.
        assert!(peers.heartbeat_sent(2, Some(1)));
        assert!(peers.heartbeat_sent(2, Some(2)));
        peers.heartbeat_failed(2);
        peers.heartbeat_answered(2, &mut turn);
        assert_eq!(round_trips(), 4);
        assert_eq!(peers.members[0].timed_count(), 0);
        assert!(peers.members[0].timed.is_none(), "an empty queue is dropped");
        // An answer to nothing in flight times nothing.
        peers.heartbeat_answered(2, &mut turn);
        assert_eq!(round_trips(), 4);
        // Lost heartbeats beyond the cap are dropped: at most MAX_HEARTBEATS_IN_FLIGHT wait.
        for at in 0..20 {
            assert!(peers.heartbeat_sent(2, Some(at)));
        }
        let peer = &peers.members[0];
        assert_eq!(peer.heartbeats_sent - peer.heartbeats_answered, MAX_HEARTBEATS_IN_FLIGHT as u64);
        assert_eq!(peer.timed_count(), MAX_HEARTBEATS_IN_FLIGHT);
        for _ in 0..MAX_HEARTBEATS_IN_FLIGHT {
            peers.heartbeat_answered(2, &mut turn);
        }
        assert_eq!(round_trips(), 4 + MAX_HEARTBEATS_IN_FLIGHT as u64);
        // Untimed: no round trip, no queue.
        assert!(peers.heartbeat_sent(2, None));
        peers.heartbeat_answered(2, &mut turn);
        assert_eq!(round_trips(), 4 + MAX_HEARTBEATS_IN_FLIGHT as u64);
        assert_eq!(peers.members[0].timed_count(), 0);
        assert!(peers.members[0].timed.is_none(), "an empty queue is dropped");
    }
}
