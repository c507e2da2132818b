//! Driving the node: the wrapper's `RawNode` methods and hooks. Each forwards to raft-rs (or
//! runs the application's closure) and hands what changed to the states that record it.

use std::time::Duration;

use raft::eraftpb::{ConfState, Entry, Message, MessageType, Snapshot};
use raft::{LightReady, Ready, SnapshotStatus, Storage};
use raft_proto::ConfChangeI;

#[cfg(doc)] // the methods' docs link to the `RawNode` methods they stand for
use raft::RawNode;

use super::idle::Publication;
use super::log::Log;
use super::membership::Membership;
use super::proposals::Proposals;
use super::series::rec;
use super::InstrumentedNode;
use crate::clock;

impl<S: Storage> InstrumentedNode<S> {
    /// [`RawNode::tick`]; then role changes (elections started by the timeout, a leader stepping
    /// down on `check_quorum`), on the leader follower lag and `isr_size`, and the state the
    /// wrapper publishes once per tick: indexes, apply lag, log size, pending proposals, the
    /// follower's last leader contact, and the counters kept since the last tick. An idle group
    /// publishes less often ([`with_idle_publish_every`](Self::with_idle_publish_every)).
    pub fn tick(&mut self) -> bool {
        if !self.quiet.recording {
            return self.raw.tick();
        }
        if self.quiet.hibernating {
            self.wake();
        }
        self.quiet.idle.count();
        let ready = self.raw.tick();
        // raft-rs's tick changes role, leader or term only by stepping a message, and then
        // says so: a quiet tick reads none of them.
        if ready && self.quiet.idle.standing_changed(&self.raw) {
            self.observe_transition();
        }
        // An idle group skips publishing (see `with_idle_publish_every`). A quiet tick touches
        // only the switch's cache line (`Quiet`): a node with thousands of groups ticks each
        // ten times a second, and the cache lines a tick touches cost more than its
        // instructions.
        let Some((publication, ticks)) = self.quiet.idle.tick(&self.raw) else { return ready };
        self.sync_turn();
        // A snapshot raft-rs dropped or persisted moved its unstable log: a publishing tick.
        self.check_snapshot_received();
        self.refresh_progress(publication, ticks);
        self.flush_tallies(publication);
        self.publish_state(publication);
        self.log.observe_apply_lag(&self.raw.raft.raft_log, ticks, &self.group);
        self.quiet.idle.set_lagging(self.raw.raft.state == raft::StateRole::Leader && self.progress.lagging());
        ready
    }

    /// The application stops ticking this group while it is idle: hibernation, as TiKV does
    /// with its idle regions, so that a node with thousands of groups pays nothing for the
    /// sleeping ones (raft-rs's ticks and heartbeats included; the wrapper does nothing between
    /// calls). Publishes what the ticks since the last publication kept (counts, the leader's
    /// view of its followers, the per-tick distributions), and sets `hibernating` to 1 (and the
    /// node-wide `hibernating_partitions` up by one): unhealthy-only mode then does not judge
    /// the partition by its last contact, which ages while no heartbeats flow. The next
    /// [`tick`](Self::tick) wakes it: `hibernating` back to 0, and contact counted from the
    /// wake (a follower's with its leader, a leader's with each follower), so that a partition
    /// whose leader is gone shows once the contact threshold has passed since it woke.
    ///
    /// Messages stepped while asleep are recorded as ever; what the ticks publish waits for the
    /// next tick. Does nothing when the group already sleeps or recording is off.
    pub fn hibernate(&mut self) {
        if !self.quiet.recording || self.quiet.hibernating {
            return;
        }
        self.sync_turn();
        let ticks = self.quiet.idle.publish_now(&self.raw);
        self.check_snapshot_received();
        if ticks > 0 {
            self.refresh_progress(Publication::Changed, ticks);
        }
        self.flush_tallies(Publication::Changed);
        self.publish_state(Publication::Changed);
        if ticks > 0 {
            self.log.observe_apply_lag(&self.raw.raft.raft_log, ticks, &self.group);
        }
        self.quiet.hibernating = true;
        rec!(self.group.series => hibernating.set(1));
        if let Some(a) = self.group.agg() {
            a.hibernating_partitions.inc();
        }
    }

    /// Whether the group sleeps ([`hibernate`](Self::hibernate)) until its next tick.
    pub fn hibernating(&self) -> bool {
        self.quiet.hibernating
    }

    /// The first tick after [`hibernate`](Self::hibernate): contact counts from now, and this
    /// tick publishes.
    #[cold]
    #[inline(never)]
    fn wake(&mut self) {
        self.quiet.hibernating = false;
        rec!(self.group.series => hibernating.set(0));
        if let Some(a) = self.group.agg() {
            a.hibernating_partitions.dec();
        }
        self.sync_turn();
        let now = self.turn.clock.read();
        self.peers.woke(now);
        self.quiet.contacted = self.raw.raft.leader_id != raft::INVALID_ID;
        self.quiet.idle.reset();
    }

    /// [`RawNode::campaign`], observing the role change.
    ///
    /// # Errors
    ///
    /// As [`RawNode::campaign`].
    pub fn campaign(&mut self) -> raft::Result<()> {
        if !self.quiet.recording {
            return self.raw.campaign();
        }
        let result = self.raw.campaign();
        self.observe_state();
        result
    }

    /// [`RawNode::step`] with a message from a peer.
    ///
    /// Before stepping: `append_entries_received` (per sender), `stale_term` rejections
    /// ([`classify::is_stale_append`](crate::classify::is_stale_append)),
    /// `last_contact_timestamp` on a follower, granted votes
    /// (`votes_received`), and on the leader each peer's last response (ISR silence, heartbeat
    /// timestamp, heartbeat round trip). After: role, leader and term changes (unless the message
    /// is replication traffic at the current term, which raft-rs steps without changing them).
    ///
    /// # Errors
    ///
    /// As [`RawNode::step`].
    #[inline]
    pub fn step(&mut self, msg: Message) -> raft::Result<()> {
        // Most messages (replication traffic at the current term, never a snapshot) need nothing
        // after the step: raft-rs's result goes straight to the caller, not through a local copy
        // of its (large) error type. A snapshot stepped earlier cannot vanish in such a step
        // (only a newer snapshot or its persisting replaces it), so the tick looks for one the
        // application never installed. Those and every message with recording off share one
        // call: each call site moves the (large) message into raft-rs anew.
        if self.quiet.recording && !self.observe_incoming(&msg) {
            return self.step_unsteady(msg);
        }
        #[cfg(debug_assertions)]
        if self.quiet.recording {
            return self.step_steady_checked(msg);
        }
        self.raw.step(msg)
    }

    /// In debug builds (the tests), a message judged steady is stepped with the claim checked:
    /// term, role and leader as they were.
    #[cfg(debug_assertions)]
    fn step_steady_checked(&mut self, msg: Message) -> raft::Result<()> {
        let state = |raft: &raft::Raft<S>| (raft.term, raft.state, raft.leader_id);
        let before = state(&self.raw.raft);
        let (msg_type, from, term) = (msg.get_msg_type(), msg.from, msg.term);
        let result = self.raw.step(msg);
        assert_eq!(
            before,
            state(&self.raw.raft),
            "a message judged steady changed term, role or leader: {msg_type:?} from {from} at term {term}"
        );
        result
    }

    /// Steps a message that may change role, leader or term, and observes what it changed; a
    /// snapshot's configuration, or that raft-rs ignored it (older than the commit index).
    #[inline(never)]
    fn step_unsteady(&mut self, msg: Message) -> raft::Result<()> {
        let snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
        let result = self.raw.step(msg);
        if snapshot {
            self.sync_peers();
            self.check_snapshot_received();
        }
        self.observe_state();
        result
    }

    /// A snapshot stepped and awaiting its install that raft-rs no longer holds was ignored, or
    /// persisted without the application reporting its install.
    fn check_snapshot_received(&mut self) {
        if self.snapshots.receiving() && self.raw.snap().is_none() {
            self.snapshots.receive_ignored(&self.group);
        }
    }

    /// [`RawNode::propose`]. A refusal counts in `proposals_failed` (`not_leader` when this node
    /// does not lead, `dropped` otherwise). An accepted proposal costs nothing here: the leader
    /// finds its proposals among the entries it persists ([`persist_entries`](Self::persist_entries)
    /// or [`observe_append`](Self::observe_append)), including those followers forwarded to it,
    /// and tracks them to their commit (`proposals_pending`, `proposals_committed_total`,
    /// `commit_latency_seconds`).
    ///
    /// # Errors
    ///
    /// As [`RawNode::propose`].
    #[inline]
    pub fn propose(&mut self, context: Vec<u8>, data: Vec<u8>) -> raft::Result<()> {
        // Nothing more for an accepted proposal: the leader finds it among the entries it
        // persists. A local proposal never changes role, term or leader in raft-rs, so there is
        // no state to compare either. One path whether recording or not, the switch tested only
        // on a refusal: the caller's own test of the result is then the only one on the way out.
        let result = self.raw.propose(context, data);
        if let Err(error) = &result {
            self.refused(error);
        }
        result
    }

    /// A proposal raft-rs refused: counted if recording.
    #[cold]
    #[inline(never)]
    fn refused(&self, error: &raft::Error) {
        if self.quiet.recording {
            self.proposals.refused(error, &self.raw, &self.group);
        }
    }

    /// [`RawNode::propose_conf_change`], recorded like [`propose`](Self::propose). raft-rs turns
    /// a change proposed while another is pending into an empty entry and still returns `Ok`:
    /// that counts as `proposals_failed{reason="dropped"}`.
    ///
    /// # Errors
    ///
    /// As [`RawNode::propose_conf_change`].
    pub fn propose_conf_change(&mut self, context: Vec<u8>, cc: impl ConfChangeI) -> raft::Result<()> {
        if !self.quiet.recording {
            return self.raw.propose_conf_change(context, cc);
        }
        let result = self.raw.propose_conf_change(context, cc);
        match &result {
            Ok(()) => Proposals::conf_change_accepted(&self.raw, &self.group),
            Err(error) => self.proposals.refused(error, &self.raw, &self.group),
        }
        self.observe_state();
        result
    }

    /// [`RawNode::has_ready`].
    pub fn has_ready(&self) -> bool {
        self.raw.has_ready()
    }

    /// [`RawNode::ready`]: starts a turn of the loop (timed or not, see
    /// [`with_timing`](Self::with_timing)). The leader's proposals among the turn's entries start
    /// their commit latency when they are persisted ([`persist_entries`](Self::persist_entries)).
    #[inline]
    pub fn ready(&mut self) -> Ready {
        if self.quiet.recording {
            self.sync_turn();
            self.turn.start();
        }
        // Last, so the (large) `Ready` goes straight to the caller without a copy.
        self.raw.ready()
    }

    /// For the transport: whether this turn's messages are timed
    /// ([`with_rpc_timing`](Self::with_rpc_timing)), so their latency should be measured and passed to
    /// [`on_delivered`](Self::on_delivered); the others need no call (snapshots aside).
    pub fn rpc_timed(&self) -> bool {
        self.quiet.recording && self.turn.samplers.rpc_timed()
    }

    /// Records messages about to be sent and hands them back: `rpc_calls_total` by (`method`,
    /// `target`) (successful unless the transport reports the message failed, see
    /// [`on_send_failed`](Self::on_send_failed)), `append_entries_sent` and its bytes per target,
    /// `log_inconsistency` rejections this follower sends, snapshot sends
    /// (`snapshot_in_progress`), heartbeat send times (round trip).
    ///
    /// Use it on `Ready::take_messages`, `Ready::take_persisted_messages` and
    /// `LightReady::take_messages`.
    #[inline(always)]
    pub fn outgoing(&mut self, msgs: Vec<Message>) -> Vec<Message> {
        // Tested in the caller: a turn hands out three lists of messages, most of them empty,
        // so emptiness first (with recording off, a list with messages costs the second test).
        if !msgs.is_empty() && self.quiet.recording {
            self.observe_sent(&msgs);
        }
        msgs
    }

    /// In the caller too: a call's register saves cost as much as observing a message or two.
    #[inline(always)]
    fn observe_sent(&mut self, msgs: &[Message]) {
        // Under light load most lists hold one message (a follower's answer) or two (a leader's
        // appends in a group of three): without the loop's setup.
        match msgs {
            [msg] => return self.observe_outgoing(msg),
            [first, second] => {
                self.observe_outgoing(first);
                return self.observe_outgoing(second);
            }
            _ => {}
        }
        for msg in msgs {
            self.observe_outgoing(msg);
        }
    }

    /// Records committed entries and hands them back: `commit_batch_entries` once per batch (in
    /// a timed turn), and for the proposals this node made as leader `proposals_committed` and
    /// `commit_latency_seconds` (proposals handed out in a timed turn), or
    /// `proposals_failed{reason="dropped"}` when another leader's entry took their index.
    ///
    /// Commit latency runs from the start of the proposal's append
    /// ([`persist_entries`](Self::persist_entries), in the first [`ready`](Self::ready) after
    /// the proposal) to this call, which reads the clock; it leaves out the proposal's wait for
    /// the loop.
    ///
    /// Use it on `Ready::take_committed_entries` and `LightReady::take_committed_entries`.
    #[inline(always)]
    pub fn committed(&mut self, entries: Vec<Entry>) -> Vec<Entry> {
        // Tested in the caller: a turn hands out two lists of committed entries, most empty
        // (emptiness first, as in `outgoing`).
        // The turn is not caught up with ticks since its `ready` (an application committing
        // apart from its loop): nothing here depends on them, the weights are the ones the turn
        // was sampled with, and a commit latency reads the clock (a test per call less, 9
        // instructions per proposal of `one_per_turn`).
        if !entries.is_empty() && self.quiet.recording {
            self.quiet.idle.log_moved();
            self.proposals.committed(&entries, &self.group, &mut self.turn);
        }
        entries
    }

    /// Runs `write` (the application's append of `entries` to its log, including the fsync) and,
    /// when it succeeds with entries, observes `log_append_duration_seconds` and the log size.
    ///
    /// # Errors
    ///
    /// `write`'s error, unrecorded.
    pub fn persist_entries<T, E>(
        &mut self,
        entries: &[Entry],
        write: impl FnOnce(&[Entry]) -> Result<T, E>,
    ) -> Result<T, E> {
        if entries.is_empty() || !self.quiet.recording {
            return write(entries);
        }
        // An untimed append (most of them) builds its `Ok` anew and moves the (large) error only
        // when there is one: holding the result to hand it back copied all of it on every call
        // (8 instructions per proposal in `one_per_turn`). `?` would convert the error.
        if !self.turn.timed() {
            return match write(entries) {
                Ok(written) => {
                    self.record_append(entries, None);
                    Ok(written)
                }
                Err(error) => Err(error),
            };
        }
        // A reading, not the turn's: that may predate ticks since the turn's `ready`.
        let start = self.turn.clock.read();
        let written = write(entries);
        if written.is_ok() {
            let elapsed = clock::seconds(start, self.turn.clock.read());
            Log::observe_append_duration(elapsed, self.turn.weight(), &self.group);
            // The proposals' commit latency includes this append, as the proposer waits for it.
            self.record_append(entries, Some(start));
        }
        written
    }

    /// The one-line hook for an application that persists entries itself: `elapsed` is the
    /// append plus fsync, observed in `log_append_duration_seconds` (every call: the caller
    /// chose to time it); updates the log size (`log_entries`, `log_size_bytes`, published at
    /// the next tick), `log_truncations_total` (when the entries overwrote a conflicting tail)
    /// and `config_change_in_progress` (a configuration change entered the log).
    pub fn observe_append(&mut self, entries: &[Entry], elapsed: Duration) {
        if self.quiet.recording {
            // Ticks since `ready` (an application persisting apart from its loop): the turn's
            // reading below is taken after them.
            self.sync_turn();
            if !entries.is_empty() {
                Log::observe_append_duration(elapsed.as_secs_f64(), 1, &self.group);
            }
            let at = if self.turn.timed() { Some(self.turn.clock.now()) } else { None };
            self.record_append(entries, at);
        }
    }

    /// Runs `install` (the application installing `snapshot` from `Ready::snapshot`) and records
    /// `snapshot_transfers_total{direction="receive"}` by outcome; on success also
    /// `snapshot_apply_duration_seconds`, `snapshot_last_index`, `snapshot_last_timestamp_seconds`,
    /// the (now empty) log and the configuration the snapshot carried.
    ///
    /// # Errors
    ///
    /// `install`'s error.
    pub fn apply_snapshot<T, E>(
        &mut self,
        snapshot: &Snapshot,
        install: impl FnOnce(&Snapshot) -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.quiet.recording {
            return install(snapshot);
        }
        let start = self.turn.clock.now();
        let installed = install(snapshot);
        self.quiet.idle.log_moved();
        let elapsed = clock::seconds(start, self.turn.clock.read());
        let index = installed.is_ok().then(|| snapshot.get_metadata().index);
        self.snapshots.received(index, elapsed, &self.group, &mut self.turn.clock);
        if let Some(index) = index {
            self.log.replaced(index, &self.group);
            self.proposals.forget_through(index);
            self.sync_peers();
            Membership::publish(self.raw.raft.prs(), &self.group);
        }
        installed
    }

    /// The one-line hook after applying a batch of committed entries: `elapsed` is the state
    /// machine's time, observed in `apply_duration_seconds` (every call: the caller chose to time
    /// it). Counts `proposals_applied` (entries with client data, and configuration changes).
    pub fn observe_apply(&mut self, entries: &[Entry], elapsed: Duration) {
        if self.quiet.recording {
            if !entries.is_empty() {
                self.quiet.idle.log_moved();
                Proposals::observe_apply_duration(elapsed.as_secs_f64(), 1, &self.group);
            }
            self.proposals.applied(self.log.proposals_applied(entries));
        }
    }

    /// Runs `apply` (the application applying the committed `entries` to its state machine; it
    /// gets the node back, for [`apply_conf_change`](Self::apply_conf_change)) and records it
    /// like [`observe_apply`](Self::observe_apply); in a timed turn
    /// ([`with_timing`](Self::with_timing)) the apply is timed on the turn's clock: the wrapper
    /// reads the system clock once, where the apply ends.
    pub fn apply_entries<T>(&mut self, entries: &[Entry], apply: impl FnOnce(&mut Self) -> T) -> T {
        if entries.is_empty() || !self.quiet.recording {
            return apply(self);
        }
        self.quiet.idle.log_moved();
        if !self.turn.timed() {
            // Counted first, so that the application's apply is the call's tail: nothing of the
            // wrapper's is kept across it (its registers' saves and restores cost 8 instructions
            // per proposal of `one_per_turn`). The count is a tally, published at the next tick.
            self.proposals.applied(self.log.proposals_applied(entries));
            return apply(self);
        }
        self.proposals.applied(self.log.proposals_applied(entries));
        let start = self.turn.clock.now();
        let applied = apply(self);
        let elapsed = clock::seconds(start, self.turn.clock.read());
        Proposals::observe_apply_duration(elapsed, self.turn.weight(), &self.group);
        applied
    }

    /// [`RawNode::apply_conf_change`]: counts `config_changes_total` by kind
    /// ([`classify::change_kinds`](crate::classify::change_kinds)), sets `voters`, `learners`
    /// and `cluster_size`, binds added peers and removes the series of removed ones.
    ///
    /// # Errors
    ///
    /// As [`RawNode::apply_conf_change`]; nothing is recorded then.
    pub fn apply_conf_change(&mut self, cc: &impl ConfChangeI) -> raft::Result<ConfState> {
        if !self.quiet.recording {
            return self.raw.apply_conf_change(cc);
        }
        let conf_state = self.raw.apply_conf_change(cc)?;
        let raft = &self.raw.raft;
        self.membership.applied(&cc.as_v2(), raft.prs(), raft.id, &mut self.peers, &mut self.links, &self.group);
        self.observe_state();
        Ok(conf_state)
    }

    /// [`RawNode::advance`]. (The indexes it moves are published once per
    /// [`tick`](Self::tick), with follower lag and ISR.)
    #[inline]
    pub fn advance(&mut self, ready: Ready) -> LightReady {
        self.raw.advance(ready)
    }

    /// [`RawNode::advance_append`].
    pub fn advance_append(&mut self, ready: Ready) -> LightReady {
        self.raw.advance_append(ready)
    }

    /// [`RawNode::advance_apply`]. (`last_applied`, `apply_lag_entries` and
    /// `config_change_in_progress` are published once per [`tick`](Self::tick).)
    pub fn advance_apply(&mut self) {
        self.raw.advance_apply();
    }

    /// [`RawNode::advance_apply_to`], like [`advance_apply`](Self::advance_apply).
    pub fn advance_apply_to(&mut self, applied: u64) {
        self.raw.advance_apply_to(applied);
    }

    /// [`RawNode::report_snapshot`]: counts `snapshot_transfers_total{direction="send"}` by
    /// outcome and ends the send's `snapshot_in_progress`.
    pub fn report_snapshot(&mut self, to: u64, status: SnapshotStatus) {
        if !self.quiet.recording {
            return self.raw.report_snapshot(to, status);
        }
        self.snapshots.sent(status == SnapshotStatus::Finish, &self.group);
        self.raw.report_snapshot(to, status);
    }

    /// The transport delivered `msg` (which this node sent) after `latency`: observes
    /// `rpc_duration_seconds` for (`method`, `target`) with the timing weight; a delivered
    /// snapshot is reported finished ([`report_snapshot`](Self::report_snapshot)).
    ///
    /// A transport calls it for the messages of timed turns ([`rpc_timed`](Self::rpc_timed)),
    /// whose latency it measured, and for snapshots; other messages need no call (with `None`
    /// it only ends a snapshot): `rpc_calls_total{result="success"}` counts the messages
    /// [`outgoing`](Self::outgoing) handed out that the transport did not report failed
    /// ([`on_send_failed`](Self::on_send_failed)), at the next tick.
    #[inline]
    pub fn on_delivered(&mut self, msg: &Message, latency: Option<Duration>) {
        let msg_type = msg.get_msg_type();
        if let (true, Some(latency)) = (self.quiet.recording, latency) {
            let weight = self.turn.samplers.rpc_weight().max(1);
            self.links.delivered(&self.group.metrics, msg.to, msg_type, latency, weight);
        }
        if msg_type == MessageType::MsgSnapshot {
            self.report_snapshot(msg.to, SnapshotStatus::Finish);
        }
    }

    /// The transport could not deliver `msg` (which this node sent): counts `messages_dropped`,
    /// `rpc_calls_total{result="failure"}` (and takes it out of the successes),
    /// `rpc_errors_total{error_type="unreachable"}`, and `heartbeat_failures` for a heartbeat;
    /// then tells raft-rs
    /// ([`RawNode::report_unreachable`]), and reports a snapshot as failed.
    pub fn on_send_failed(&mut self, msg: &Message) {
        if !self.quiet.recording {
            self.raw.report_unreachable(msg.to);
            if msg.get_msg_type() == MessageType::MsgSnapshot {
                self.raw.report_snapshot(msg.to, SnapshotStatus::Failure);
            }
            return;
        }
        let (to, msg_type) = (msg.to, msg.get_msg_type());
        self.links.failed(to, msg_type, &self.group);
        if msg_type == MessageType::MsgHeartbeat {
            self.peers.heartbeat_failed(to);
        }
        self.raw.report_unreachable(to);
        if msg_type == MessageType::MsgSnapshot {
            self.report_snapshot(to, SnapshotStatus::Failure);
        }
    }

    /// The one-line hook after the application compacted its log so that it now starts at
    /// `first_index`: counts `log_compactions` and updates the log size.
    pub fn observe_compaction(&mut self, first_index: u64) {
        if !self.quiet.recording {
            return;
        }
        self.log.compacted(first_index, &self.group);
    }
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::{Message, MessageType, Snapshot};
    use raft::storage::MemStorage;
    use raft::{Config, RawNode};
    use raft_metrics::raft::{Outcome, RaftMetrics};
    use raft_metrics::{Registry, Sampling};

    use crate::InstrumentedNode;

    /// A follower (node 2 of 1, 2, 3) at term 1, its log empty.
    fn follower(metrics: &RaftMetrics) -> InstrumentedNode<MemStorage> {
        let config = Config { id: 2, ..Config::default() };
        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&config, store, &logger).expect("raft-rs node");
        InstrumentedNode::new(raw, metrics, "orders", 0)
    }

    /// Leader 1's snapshot through `index` at term 1.
    fn snapshot(index: u64) -> Message {
        let mut snapshot = Snapshot::default();
        snapshot.mut_metadata().index = index;
        snapshot.mut_metadata().term = 1;
        snapshot.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
        let mut msg = Message::default();
        msg.set_msg_type(MessageType::MsgSnapshot);
        (msg.from, msg.to, msg.term) = (1, 2, 1);
        msg.set_snapshot(snapshot);
        msg
    }

    /// A turn catches up with the ticks counted since the last one, whichever method starts it;
    /// a quiet tick leaves the turn alone.
    #[test]
    fn a_turn_catches_up_with_the_ticks_before_it() {
        let metrics = RaftMetrics::with_registry(&Registry::new()).expect("metrics");
        let store = MemStorage::new_with_conf_state((vec![1], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&Config { id: 1, ..Config::default() }, store, &logger).expect("raft-rs node");
        let mut node = InstrumentedNode::new(raw, &metrics, "orders", 0);
        node.campaign().expect("a single voter wins at once");
        let ready = node.ready();
        node.raw_mut().advance(ready);
        node.tick(); // publishes the election, which starts a turn
        assert_eq!(node.turn.ticks, 1);
        for _ in 0..3 {
            node.tick(); // quiet: a leader with nothing new publishes every 10 ticks
        }
        assert_eq!(node.turn.ticks, 1, "no turn since");
        let ready = node.ready();
        node.raw_mut().advance(ready);
        assert_eq!(node.turn.ticks, 4, "a ready catches up");
        node.tick();
        node.sync_turn();
        assert_eq!(node.turn.ticks, 5);
        node.sync_turn();
        assert_eq!(node.turn.ticks, 5, "once");
    }

    /// A tick between a turn's `ready` and its append or commit (an application persisting or
    /// committing apart from its loop) does not stretch what the turn times: the append's start
    /// and the commit are read then, not taken from the turn's reading from before the tick.
    #[test]
    fn a_tick_inside_a_turn_does_not_stretch_its_times() {
        let metrics = RaftMetrics::with_registry(&Registry::new()).expect("metrics");
        let store = MemStorage::new_with_conf_state((vec![1], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&Config { id: 1, ..Config::default() }, store.clone(), &logger).expect("raft-rs node");
        let mut node = InstrumentedNode::new(raw, &metrics, "orders", 0).with_timing(Sampling::All);
        let turn = |node: &mut InstrumentedNode<MemStorage>, pause: bool| {
            let mut ready = node.ready();
            // Something early in the turn takes its reading.
            node.turn.clock.now();
            if pause {
                node.tick();
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            node.persist_entries(ready.entries(), |entries| store.wl().append(entries)).expect("append");
            if let Some(hard_state) = ready.hs() {
                store.wl().set_hardstate(hard_state.clone());
            }
            node.committed(ready.take_committed_entries());
            let mut light = node.advance(ready);
            node.committed(light.take_committed_entries());
            node.advance_apply();
        };
        node.campaign().expect("a single voter wins at once");
        turn(&mut node, false);
        node.propose(vec![], b"put".to_vec()).expect("leader");
        turn(&mut node, true);
        let series = node.metrics();
        assert_eq!(series.commit_latency.count(), 1, "the proposal, timed");
        // Far under the pause: a loaded machine may deschedule the test, not for 200 ms.
        assert!(series.commit_latency.sum() < 0.1, "{} s", series.commit_latency.sum());
        assert!(series.log_append_duration.sum() < 0.1, "{} s", series.log_append_duration.sum());
    }

    /// A refused proposal comes back as raft-rs's error and counts by reason, unless recording
    /// is off.
    #[test]
    fn a_refused_proposal_is_counted_and_its_error_handed_back() {
        use raft_metrics::raft::ProposalFailure;
        let metrics = RaftMetrics::with_registry(&Registry::new()).expect("metrics");
        let mut node = follower(&metrics);
        let result = node.propose(vec![], b"put".to_vec());
        assert!(matches!(result, Err(raft::Error::ProposalDropped)), "{result:?}");
        assert_eq!(node.metrics().proposals_failed.get(ProposalFailure::NotLeader).get(), 1);
        assert_eq!(node.metrics().proposals_failed.get(ProposalFailure::Dropped).get(), 0);
        // Recording switched off: the error still comes back, and nothing is counted.
        let mut node = node.with_recording(false);
        let result = node.propose(vec![], b"put".to_vec());
        assert!(matches!(result, Err(raft::Error::ProposalDropped)), "{result:?}");
        assert_eq!(node.metrics().proposals_failed.get(ProposalFailure::NotLeader).get(), 1);
    }

    /// A stepped snapshot stays in progress while raft-rs holds it; one it ignores ends at
    /// once; one persisted without the install reported ends at the next tick (steady traffic
    /// in between does not look).
    #[test]
    fn a_received_snapshot_ends_when_raft_rs_no_longer_holds_it() {
        let metrics = RaftMetrics::with_registry(&Registry::new()).expect("metrics");
        let mut node = follower(&metrics);
        let in_progress = |node: &InstrumentedNode<MemStorage>| node.metrics().snapshot_in_progress.get();

        node.step(snapshot(10)).expect("step");
        assert_eq!(in_progress(&node), 1, "raft-rs holds it");
        let mut append = Message::default();
        append.set_msg_type(MessageType::MsgAppend);
        (append.from, append.to, append.term, append.index, append.log_term, append.commit) = (1, 2, 1, 10, 1, 10);
        node.step(append).expect("step");
        assert_eq!(in_progress(&node), 1, "steady traffic");

        // The application persists it without telling the wrapper it installed it.
        let ready = node.ready();
        assert_eq!(ready.snapshot().get_metadata().index, 10);
        node.raw_mut().advance(ready);
        assert_eq!(in_progress(&node), 1, "seen at the tick");
        node.tick();
        assert_eq!(in_progress(&node), 0);

        node.step(snapshot(5)).expect("step");
        assert_eq!(in_progress(&node), 0, "older than the commit index: ignored at once");
        let received = metrics.families().snapshot_transfers.bind(("orders", 0, "receive"));
        assert_eq!(received.snapshot_transfers.get(Outcome::Success).get(), 0, "no install reported");
    }
}
