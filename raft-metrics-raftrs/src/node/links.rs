//! The messages exchanged with each other node, counted where they are sent and received: RPCs
//! by (`method`, `target`) and the appends to and from each peer, kept in plain fields until
//! the next tick records them.
//!
//! The replication traffic is counted without a lookup: a leader's append is a compare and two
//! adds in its follower's slot ([`AppendTally`]), a follower's answer to its leader a compare and
//! an add beside the leader's appends ([`LeaderTraffic`]). Any other message costs one lookup of
//! its link and an indexed add on the way out, an add on the way in for an append, and nothing
//! when it arrives: `rpc_calls_total{result="success"}` counts the
//! messages sent and not reported failed. That is also all a raft-rs transport can tell (it
//! streams messages and learns only of failures, [`on_send_failed`]), so a transport calls
//! [`on_delivered`] only for what it timed and for snapshots.
//!
//! [`on_send_failed`]: super::InstrumentedNode::on_send_failed
//! [`on_delivered`]: super::InstrumentedNode::on_delivered

use std::time::Duration;

use protobuf::ProtobufEnum as _;
use raft::eraftpb::MessageType;
use raft_metrics::raft::{Outcome, RaftMetrics, RpcMetrics};
use raft_metrics::Handle;

use super::group::GroupSeries;
use super::series::rec;
use crate::classify;

/// The `MessageType` values, for per-type counts and handles (position `n` holds value `n`:
/// `message_types_are_positions` checks it).
const MESSAGE_TYPES: usize = 19;

/// What this node sent to and received from one other node since the last tick.
///
/// Laid out (`repr(C)`, a cache line's alignment) so that a message sent touches one line: the
/// node and the counts of the common types come first. A node with thousands of groups sends
/// each group's heartbeats with its link cold, and a line costs more than the add.
#[repr(C, align(64))]
pub(super) struct Link {
    node: u64,
    /// The payload bytes of the appends sent (recorded per peer by
    /// [`Peers::flush`](super::peers::Peers::flush) when the node is a member, with
    /// `appends_received`).
    pub(super) append_bytes_sent: u64,
    /// Per message type: sent since the last flush (appends among them are
    /// `append_entries_sent`). 32 bits: a flush comes every tick a group is busy, and an idle
    /// group's heartbeats are a few per tick.
    sent: [u32; MESSAGE_TYPES],
    /// Nothing went either way between the last two flushes (see [`Links::flush`]).
    quiet: bool,
    /// A message of a type outside [`COMMON`] was sent since the last flush (noted by the
    /// sender's rare path), so the flush looks at every type, not just those.
    sent_rare: bool,
    pub(super) appends_received: u64,
    /// Per message type: reported failed and not yet taken out of the successes. Failures of
    /// messages already counted at an earlier flush stay here as a debt paid from the next
    /// sends, so the counter never goes back and is exact once every message's fate is known.
    failed: [u64; MESSAGE_TYPES],
    /// The (`method`, `target`) series, bound on first use. In the link, not behind a box of
    /// their own: a flush reads the handle of each type sent, and at a node with thousands of
    /// groups the box was one more cold line to wait for before the series' own
    /// (`benches/idle_lines.sh`: 0.19 fewer last-level misses per replica-tick).
    handles: [Option<Handle<RpcMetrics>>; MESSAGE_TYPES],
}

// The send path's line: the node, the append bytes and the common types' counts.
const _: () = assert!(
    core::mem::offset_of!(Link, sent) + 4 * (MessageType::MsgHeartbeatResponse as usize + 1) <= 64,
    "a message sent touches one cache line of its link"
);

/// The types a flush always looks at: the replication traffic, everything an idle group sends.
/// The others are sent through [`Link::sent_rare`], which costs the common path nothing: they
/// take the sender's rare path already.
const COMMON: [MessageType; 4] = [
    MessageType::MsgAppend,
    MessageType::MsgAppendResponse,
    MessageType::MsgHeartbeat,
    MessageType::MsgHeartbeatResponse,
];

/// Whether `msg_type` is one of [`COMMON`] (asked on the sender's rare path only).
pub(super) fn is_common(msg_type: MessageType) -> bool {
    COMMON.contains(&msg_type)
}

impl Link {
    fn new(node: u64) -> Self {
        Self {
            node,
            sent: [0; MESSAGE_TYPES],
            failed: [0; MESSAGE_TYPES],
            append_bytes_sent: 0,
            appends_received: 0,
            handles: std::array::from_fn(|_| None),
            quiet: false,
            sent_rare: false,
        }
    }

    /// A `msg_type` message to this node is handed to the transport. A type outside
    /// [`COMMON`] must also be noted with [`sent_rare`](Self::sent_rare).
    #[inline]
    pub(super) fn sent(&mut self, msg_type: MessageType) {
        self.sent[msg_type as usize] += 1;
    }

    /// `n` messages of `msg_type`, one of [`COMMON`], were sent to this node since the last
    /// flush, counted elsewhere until now (the leader's heartbeats, on their peer).
    pub(super) fn sent_n(&mut self, msg_type: MessageType, n: u32) {
        self.sent[msg_type as usize] += n;
    }

    /// `count` appends carrying `bytes` of payload were sent to this node, counted elsewhere
    /// until now (in the [`AppendTally`]) or not at all (a follower without a slot there).
    pub(super) fn appends_sent_n(&mut self, count: u32, bytes: u64) {
        self.sent_n(MessageType::MsgAppend, count);
        self.append_bytes_sent += bytes;
    }

    /// A message of a type outside [`COMMON`] was sent (and counted by [`sent`](Self::sent)).
    pub(super) fn sent_rare(&mut self) {
        self.sent_rare = true;
    }

    /// Appends sent since the last flush.
    pub(super) fn appends_sent(&self) -> u64 {
        u64::from(self.sent[MessageType::MsgAppend as usize])
    }

    /// Heartbeats sent since the last flush.
    pub(super) fn heartbeats_sent(&self) -> u64 {
        u64::from(self.sent[MessageType::MsgHeartbeat as usize])
    }

    /// The (`method`, `target`) series of `msg_type`.
    fn handle(&mut self, metrics: &RaftMetrics, msg_type: MessageType) -> &Handle<RpcMetrics> {
        let node = self.node;
        self.handles[msg_type as usize]
            .get_or_insert_with(|| metrics.families().rpcs.bind((classify::method(msg_type), &node.to_string())))
    }

    /// Records the calls settled since the last flush (sent less failed), binding the series of
    /// a method used for the first time; forgets append counts no peer took (the node is not a
    /// member). Returns whether the link was quiet: nothing sent or received since the last
    /// flush.
    fn flush(&mut self, metrics: &RaftMetrics) -> bool {
        let mut quiet = self.appends_received == 0;
        // Every tick looks at every link: the four common counts only (an idle group sends
        // heartbeats and their answers, a busy one appends too), unless a rarer type was sent.
        if std::mem::take(&mut self.sent_rare) {
            for at in 0..MESSAGE_TYPES {
                quiet &= self.take(metrics, at);
            }
        } else {
            for msg_type in COMMON {
                quiet &= self.take(metrics, msg_type as usize);
            }
        }
        (self.append_bytes_sent, self.appends_received) = (0, 0);
        quiet
    }

    /// Takes the count of the type at position `at` and records it; returns whether it was
    /// zero.
    #[inline]
    fn take(&mut self, metrics: &RaftMetrics, at: usize) -> bool {
        let sent = u64::from(self.sent[at]);
        if sent == 0 {
            return true;
        }
        self.sent[at] = 0;
        self.settle(metrics, at, sent);
        false
    }

    /// Records `sent` calls of the type at position `at`, less the failures owed (a failure owed
    /// with nothing sent waits for sends).
    fn settle(&mut self, metrics: &RaftMetrics, at: usize, sent: u64) {
        let failed = self.failed[at];
        if sent > failed {
            self.failed[at] = 0;
            let msg_type = MessageType::values()[at];
            self.handle(metrics, msg_type).rpc_calls.get(Outcome::Success).add(sent - failed);
        } else {
            self.failed[at] = failed - sent;
        }
    }
}

/// Slots of the direct map from a node id to its link.
const HINTS: usize = 16;

/// The links, one per node this node exchanged messages with (members or not: a message can
/// outlive a membership). Node ids are usually small integers, so a direct map by the id's low
/// bits finds a link with one compare; ids that share low bits fall back to a scan.
#[derive(Default)]
pub(super) struct Links {
    links: Vec<Link>,
    /// Position of the link of a node whose id is congruent to the slot (modulo [`HINTS`]).
    hints: [u8; HINTS],
    /// A follower's traffic with its leader, most of what it receives and sends: the leader's
    /// appends and the follower's answers, counted here (a compare and an add, no lookup) and
    /// moved to the leader's link when another node sends appends or at the flush. At a node
    /// with thousands of groups an idle follower's heartbeat answer then touches no link line.
    leader: LeaderTraffic,
}

/// Slots of [`AppendTally`]: followers whose ids differ in their low bits count apart. Eight
/// covers the groups of up to nine members numbered in sequence; a follower whose slot another
/// holds is counted on its link.
const APPEND_SLOTS: usize = 8;
const _: () = assert!(APPEND_SLOTS <= u8::BITS as usize, "a bit of `AppendTally::held` per slot");

/// A leader's appends to its followers since the last flush (the other half of the replication
/// traffic, beside [`LeaderTraffic`]), by the follower id's low bits: fixed arrays indexed by a
/// masked id, so a send is a compare and two adds, with no bounds test, no multiplication by a
/// link's size and no line of the link touched. Moved to the links at the flush
/// ([`settle`](Self::settle)).
///
/// Kept apart from [`Links`], at the end of the node: inside, it would move the lines an idle
/// group's publication reads (`benches/idle_lines.sh`).
#[derive(Default)]
pub(super) struct AppendTally {
    /// The follower each slot counts for (0, raft-rs's `INVALID_ID`, never a target: free).
    /// A slot stays its follower's across flushes; one that was sent nothing for a whole flush
    /// period is freed.
    nodes: [u64; APPEND_SLOTS],
    /// Appends sent.
    counts: [u32; APPEND_SLOTS],
    /// Their payload bytes.
    bytes: [u64; APPEND_SLOTS],
    /// The slots held, a bit each: a flush visits those alone (two in a group of three), not
    /// the eight.
    held: u8,
}

impl AppendTally {
    /// The leader sends `to` an append carrying `bytes` of payload: counted, or `false` when
    /// `to` has no slot ([`Links::append_sent`] counts it then).
    #[inline]
    pub(super) fn sent(&mut self, to: u64, bytes: u64) -> bool {
        let slot = low_bits::<APPEND_SLOTS>(to);
        if self.nodes[slot] != to {
            return false;
        }
        self.counts[slot] += 1;
        self.bytes[slot] += bytes;
        true
    }

    /// The leader sends `to`, which [`sent`](Self::sent) found without a slot, an append
    /// carrying `bytes` of payload: `to` takes its slot if free and the append is counted
    /// there, else `false` (the caller counts it on the link). Off the hot path: reached
    /// through [`Links::append_sent`], out of line.
    fn claim(&mut self, to: u64, bytes: u64) -> bool {
        let slot = low_bits::<APPEND_SLOTS>(to);
        if self.nodes[slot] != 0 {
            return false;
        }
        self.nodes[slot] = to;
        self.counts[slot] = 1;
        self.bytes[slot] = bytes;
        self.held |= 1 << slot;
        true
    }

    /// Moves the appends counted to the links (before anything reads the links' counts: the
    /// peers' flush, then the links'), freeing the slots of followers sent nothing since the
    /// last flush. The caller knows whether anything was sent: an idle leader's flush does
    /// not read these lines.
    pub(super) fn settle(&mut self, links: &mut Links) {
        // A free slot counts too when an append goes to node 0 (a free slot's node), which
        // raft-rs never sends to: its slot is visited when it counted, and settled like any
        // other, on that node's link, rather than kept forever.
        let mut slots = self.held | u8::from(self.counts[0] != 0);
        while slots != 0 {
            let slot = slots.trailing_zeros() as usize;
            slots &= slots - 1;
            let count = std::mem::take(&mut self.counts[slot]);
            let bytes = std::mem::take(&mut self.bytes[slot]);
            if count == 0 {
                self.nodes[slot] = 0;
                self.held &= !(1 << slot);
                continue;
            }
            links.to(self.nodes[slot]).appends_sent_n(count, bytes);
        }
    }
}

/// Messages exchanged with one node (the leader) not yet on its link.
#[derive(Default)]
struct LeaderTraffic {
    /// The leader whose appends were counted last; 0 (raft-rs's `INVALID_ID`, never a sender)
    /// before the first.
    node: u64,
    /// Appends received from it.
    appends: u64,
    /// Answers sent to it: to its appends, to its heartbeats ([`answer_slot`]).
    answers: [u32; 2],
}

/// The slot of an answer to the leader in [`LeaderTraffic::answers`], if `msg_type` is one.
#[inline]
fn answer_slot(msg_type: MessageType) -> Option<usize> {
    match msg_type {
        MessageType::MsgAppendResponse => Some(0),
        MessageType::MsgHeartbeatResponse => Some(1),
        _ => None,
    }
}

/// The answer types, by their slot in [`LeaderTraffic::answers`].
const ANSWERS: [MessageType; 2] = [MessageType::MsgAppendResponse, MessageType::MsgHeartbeatResponse];

impl Links {
    /// The link to `node`, added the first time it is seen.
    #[inline]
    pub(super) fn to(&mut self, node: u64) -> &mut Link {
        let at = usize::from(self.hints[low_bits::<HINTS>(node)]);
        if self.links.get(at).is_some_and(|link| link.node == node) {
            return &mut self.links[at];
        }
        self.find_or_add(node)
    }

    #[cold]
    #[inline(never)]
    fn find_or_add(&mut self, node: u64) -> &mut Link {
        let at = self.links.iter().position(|link| link.node == node).unwrap_or_else(|| {
            self.links.push(Link::new(node));
            self.links.len() - 1
        });
        self.hint(node, at);
        &mut self.links[at]
    }

    /// Points `node`'s slot of the direct map at position `at` (past 255, the scan finds it).
    fn hint(&mut self, node: u64, at: usize) {
        if let Ok(hint) = u8::try_from(at) {
            self.hints[low_bits::<HINTS>(node)] = hint;
        }
    }

    /// A follower received an append from `leader`, its leader at the current term.
    #[inline]
    pub(super) fn append_from_leader(&mut self, leader: u64) {
        if self.leader.node != leader {
            self.leader_changed(leader);
        }
        self.leader.appends += 1;
    }

    #[cold]
    #[inline(never)]
    fn leader_changed(&mut self, leader: u64) {
        self.settle_leader_traffic();
        self.leader.node = leader;
    }

    /// The leader sends `to` an append carrying `bytes` of payload that `tally` did not count:
    /// `to` takes its slot there if free, else it is counted on its link.
    #[cold]
    #[inline(never)]
    pub(super) fn append_sent(&mut self, tally: &mut AppendTally, to: u64, bytes: u64) {
        if !tally.claim(to, bytes) {
            self.to(to).appends_sent_n(1, bytes);
        }
    }

    /// A `msg_type` message (not a rejection) is sent to `to`: counted with the leader's traffic
    /// if it answers the leader whose appends this node counts (an append's or a heartbeat's
    /// answer), and then the caller is done with it. Returns whether it was.
    #[inline]
    pub(super) fn answered_leader(&mut self, to: u64, msg_type: MessageType) -> bool {
        let Some(slot) = answer_slot(msg_type) else { return false };
        if to != self.leader.node {
            return false;
        }
        self.leader.answers[slot] += 1;
        true
    }

    /// Moves the traffic counted with the leader to its link. Returns whether it sent appends:
    /// at the tick, whether the follower heard from its leader through appends (a leader change
    /// settles the old leader's, but the new leader's first append follows at once).
    pub(super) fn settle_leader_traffic(&mut self) -> bool {
        let appends = std::mem::take(&mut self.leader.appends);
        let answers = std::mem::take(&mut self.leader.answers);
        if appends > 0 || answers != [0; 2] {
            let link = self.to(self.leader.node);
            link.appends_received += appends;
            for (msg_type, answers) in ANSWERS.into_iter().zip(answers) {
                link.sent[msg_type as usize] += answers;
            }
        }
        appends > 0
    }

    /// The link to `node` if there is one. (The traffic counted apart with the leader is on its
    /// link only after [`settle_leader_traffic`](Self::settle_leader_traffic).)
    pub(super) fn get(&mut self, node: u64) -> Option<&mut Link> {
        self.links.iter_mut().find(|link| link.node == node)
    }

    /// The transport delivered a `msg_type` message to `to` after `latency` (observed with
    /// `weight` in `rpc_duration_seconds`; the call was counted when it was sent).
    pub(super) fn delivered(
        &mut self,
        metrics: &RaftMetrics,
        to: u64,
        msg_type: MessageType,
        latency: Duration,
        weight: u64,
    ) {
        self.to(to).handle(metrics, msg_type).rpc_duration.observe_n(latency.as_secs_f64(), weight);
    }

    /// The transport could not deliver a `msg_type` message to `to`: `messages_dropped`,
    /// `rpc_calls_total{result="failure"}` and `rpc_errors_total{error_type="unreachable"}`,
    /// and the message no longer counts as a success.
    pub(super) fn failed(&mut self, to: u64, msg_type: MessageType, group: &GroupSeries) {
        rec!(group.series => messages_dropped.inc());
        let link = self.to(to);
        link.failed[msg_type as usize] += 1;
        link.handle(&group.metrics, msg_type).rpc_calls.get(Outcome::Failure).inc();
        group.metrics.record_rpc_error(classify::method(msg_type), to, "unreachable");
    }

    /// Records the calls settled since the last tick (after the leader's traffic was settled and
    /// the peers took their appends), and
    /// forgets the links of nodes that are not members (`is_member`) once quiet for a tick: a
    /// cluster that replaces its nodes over the years would otherwise keep a link (about half a
    /// kilobyte) per node it ever had, in every group. A message to or from such a node later
    /// makes a new link; failures it still owed the success count are forgiven (no more sends
    /// will pay them).
    pub(super) fn flush(&mut self, metrics: &RaftMetrics, is_member: impl Fn(u64) -> bool) {
        let mut forget = false;
        for link in &mut self.links {
            link.quiet = link.flush(metrics);
            forget |= link.quiet && !is_member(link.node);
        }
        if forget {
            self.links.retain(|link| !link.quiet || is_member(link.node));
            // Positions moved: every hint is checked against its link's node, so a stale one
            // only costs a scan, but none need be stale.
            self.hints = [0; HINTS];
            for at in 0..self.links.len() {
                self.hint(self.links[at].node, at);
            }
        }
    }
}

/// The slot of `node` in a map of `SLOTS` slots indexed by its low bits (the direct map's
/// [`HINTS`], the tally's [`APPEND_SLOTS`]).
#[inline]
fn low_bits<const SLOTS: usize>(node: u64) -> usize {
    // The remainder is below SLOTS, so the cast is lossless.
    #[allow(clippy::cast_possible_truncation)]
    let slot = (node % SLOTS as u64) as usize;
    slot
}

#[cfg(test)]
mod tests {
    use raft_metrics::Registry;

    use super::*;

    fn successes(metrics: &RaftMetrics) -> u64 {
        metrics.families().rpcs.bind(("append_entries", "2")).rpc_calls.get(Outcome::Success).get()
    }

    /// Sent calls count as successes at the flush; a failure reported after the flush that
    /// counted its message is taken out of later successes, never out of the counter.
    #[test]
    fn successes_are_sends_less_failures_and_never_go_back() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let mut links = Links::default();
        for _ in 0..3 {
            links.to(2).sent(MessageType::MsgAppend);
        }
        links.failed(2, MessageType::MsgAppend, &group);
        links.flush(&metrics, |_| true);
        assert_eq!(successes(&metrics), 2);
        // A late failure: 2 successes of 3 sends stand until more sends pay it back.
        links.failed(2, MessageType::MsgAppend, &group);
        links.flush(&metrics, |_| true);
        assert_eq!(successes(&metrics), 2);
        links.to(2).sent(MessageType::MsgAppend);
        links.flush(&metrics, |_| true);
        assert_eq!(successes(&metrics), 2, "4 sent, 2 failed");
        links.to(2).sent(MessageType::MsgAppend);
        links.flush(&metrics, |_| true);
        assert_eq!(successes(&metrics), 3, "5 sent, 2 failed");
        let failures = metrics.families().rpcs.bind(("append_entries", "2")).rpc_calls.get(Outcome::Failure).get();
        assert_eq!(failures, 2);
    }

    /// A leader's appends are counted by follower and land on each follower's link at the
    /// settle: a follower whose slot another holds on its link at once, a slot sent nothing
    /// for a flush period freed for the next follower that needs it, and an append to node 0
    /// (never a raft-rs target) settled rather than kept.
    #[test]
    fn appends_to_followers_reach_their_links() {
        let (mut links, mut tally) = (Links::default(), AppendTally::default());
        let send = |links: &mut Links, tally: &mut AppendTally, to: u64, bytes: u64| {
            if !tally.sent(to, bytes) {
                links.append_sent(tally, to, bytes);
            }
        };
        for (to, bytes) in [(2, 10), (3, 20), (2, 5), (10, 7), (0, 1)] {
            send(&mut links, &mut tally, to, bytes);
        }
        // 10 shares 2's slot: on its link already.
        let counted = |links: &mut Links, node| links.get(node).map(|l| (l.appends_sent(), l.append_bytes_sent));
        assert_eq!(counted(&mut links, 10), Some((1, 7)));
        assert_eq!(counted(&mut links, 2), None, "not settled yet");
        tally.settle(&mut links);
        assert_eq!(counted(&mut links, 2), Some((2, 15)));
        assert_eq!(counted(&mut links, 3), Some((1, 20)));
        assert_eq!(counted(&mut links, 0), Some((1, 1)));
        // A flush period without appends to 2 frees its slot; then 10 takes it.
        tally.settle(&mut links);
        send(&mut links, &mut tally, 10, 3);
        assert_eq!(counted(&mut links, 10), Some((1, 7)), "counted in the slot now");
        tally.settle(&mut links);
        assert_eq!(counted(&mut links, 10), Some((2, 10)));
        assert_eq!(counted(&mut links, 2), Some((2, 15)), "nothing more for 2");
    }

    /// Appends counted from the leader land on its link at the flush, and on the old leader's
    /// when another node leads; the flush tells whether the leader was heard from.
    #[test]
    fn appends_from_the_leader_reach_its_link() {
        let mut links = Links::default();
        assert!(!links.settle_leader_traffic(), "no appends, no contact");
        for _ in 0..3 {
            links.append_from_leader(2);
        }
        links.append_from_leader(3);
        links.to(2).appends_received += 1; // a stale append from 2, counted apart
        assert!(links.settle_leader_traffic(), "the new leader's append is contact");
        assert_eq!(links.get(2).map(|l| l.appends_received), Some(4));
        assert_eq!(links.get(3).map(|l| l.appends_received), Some(1));
        assert!(!links.settle_leader_traffic(), "nothing since");
        assert_eq!(links.get(3).map(|l| l.appends_received), Some(1), "settled once");
    }

    /// A follower's answers to its leader are counted with the leader's traffic and recorded on
    /// the leader's link at the flush (less a failure reported meanwhile), on the old leader's
    /// when another node leads; answers to any other node, and other types, are not.
    #[test]
    fn answers_to_the_leader_are_its_calls() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let calls = |method: &str, node: &str| {
            metrics.families().rpcs.bind((method, node)).rpc_calls.get(Outcome::Success).get()
        };
        // The slots and the types they settle as name the same pairs.
        for (slot, msg_type) in ANSWERS.into_iter().enumerate() {
            assert_eq!(answer_slot(msg_type), Some(slot), "{msg_type:?}");
        }
        let mut links = Links::default();
        assert!(!links.answered_leader(2, MessageType::MsgAppendResponse), "no leader yet");
        links.append_from_leader(2);
        for _ in 0..3 {
            assert!(links.answered_leader(2, MessageType::MsgAppendResponse));
        }
        assert!(links.answered_leader(2, MessageType::MsgHeartbeatResponse));
        assert!(!links.answered_leader(3, MessageType::MsgAppendResponse), "not the leader");
        assert!(
            !links.answered_leader(2, MessageType::MsgRequestVoteResponse),
            "not an answer to the leader's traffic"
        );
        assert_eq!(links.get(2).map(|l| l.sent[MessageType::MsgAppendResponse as usize]), None, "no lookup made");
        links.failed(2, MessageType::MsgAppendResponse, &group);
        assert!(links.settle_leader_traffic(), "appends came");
        links.flush(&metrics, |_| true);
        assert_eq!(calls("append_entries_response", "2"), 2, "3 sent, 1 failed");
        assert_eq!(calls("heartbeat_response", "2"), 1);
        // Answers to 2 wait for the flush; 3 takes over, which settles 2's first.
        assert!(links.answered_leader(2, MessageType::MsgHeartbeatResponse));
        links.append_from_leader(3);
        assert!(links.answered_leader(3, MessageType::MsgHeartbeatResponse));
        assert!(!links.answered_leader(2, MessageType::MsgHeartbeatResponse), "2 no longer leads");
        links.to(2).sent(MessageType::MsgHeartbeatResponse);
        links.settle_leader_traffic();
        links.flush(&metrics, |_| true);
        assert_eq!(calls("heartbeat_response", "2"), 3);
        assert_eq!(calls("heartbeat_response", "3"), 1);
    }

    /// A node that is no longer a member loses its link after a quiet tick; members keep theirs
    /// however quiet, and a non-member still talking keeps its own.
    #[test]
    fn links_of_departed_nodes_are_forgotten_once_quiet() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let mut links = Links::default();
        for node in [2, 3, 4, 5] {
            links.to(node).sent(MessageType::MsgAppend);
        }
        let members = |node: u64| node == 2 || node == 3;
        links.flush(&metrics, members);
        assert_eq!(links.links.len(), 4, "all sent in the last tick");
        links.to(5).appends_received += 1;
        links.flush(&metrics, members);
        let mut kept: Vec<u64> = links.links.iter().map(|link| link.node).collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![2, 3, 5], "4 was quiet and is gone; 5 still talks");
        links.flush(&metrics, members);
        assert_eq!(links.links.iter().map(|link| link.node).collect::<Vec<_>>(), vec![2, 3]);
        // The direct map still finds every link, and a departed node comes back as a new one.
        links.to(3).sent(MessageType::MsgHeartbeat);
        assert_eq!(links.get(3).map(|link| link.heartbeats_sent()), Some(1));
        links.to(4).appends_received += 1;
        assert_eq!(links.links.len(), 3);
    }

    /// A rare type's sends are recorded at the flush after it was noted, and only the common
    /// types are looked at otherwise.
    #[test]
    fn rare_types_are_flushed_when_noted() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let votes = || metrics.families().rpcs.bind(("request_vote", "2")).rpc_calls.get(Outcome::Success).get();
        let mut links = Links::default();
        links.to(2).sent(MessageType::MsgRequestVote);
        links.to(2).sent_rare();
        links.to(2).sent(MessageType::MsgHeartbeatResponse);
        links.flush(&metrics, |_| true);
        assert_eq!(votes(), 1);
        assert!(!links.to(2).sent_rare, "noted for one flush");
        let heartbeats =
            metrics.families().rpcs.bind(("heartbeat_response", "2")).rpc_calls.get(Outcome::Success).get();
        assert_eq!(heartbeats, 1);
        // The common types without a rare one.
        for msg_type in COMMON {
            links.to(2).sent(msg_type);
        }
        links.flush(&metrics, |_| true);
        for msg_type in COMMON {
            let method = classify::method(msg_type);
            let calls = metrics.families().rpcs.bind((method, "2")).rpc_calls.get(Outcome::Success).get();
            assert_eq!(calls, if msg_type == MessageType::MsgHeartbeatResponse { 2 } else { 1 }, "{method}");
        }
    }

    /// A count's position is its type's value, and every type has one.
    #[test]
    fn message_types_are_positions() {
        assert_eq!(MessageType::values().len(), MESSAGE_TYPES);
        for (at, msg_type) in MessageType::values().iter().enumerate() {
            assert_eq!(msg_type.value() as usize, at);
            assert_eq!(*msg_type as usize, at);
        }
    }

    /// Ids sharing the direct map's slot each keep their own link.
    #[test]
    fn colliding_ids_find_their_own_links() {
        let mut links = Links::default();
        let ids = [2, 2 + HINTS as u64, 2 + 7 * HINTS as u64, u64::MAX, 3];
        for (n, &id) in (1..).zip(&ids) {
            for _ in 0..n {
                links.to(id).appends_received += 1;
            }
        }
        for (n, &id) in (1..).zip(&ids) {
            assert_eq!(links.to(id).appends_received, n, "node {id}");
            assert_eq!(links.get(id).map(|l| l.node), Some(id));
        }
        assert!(links.get(4).is_none());
    }
}
