//! The leader's view of its followers: how far behind each is (entries and time), `isr_size`,
//! and when a quorum last answered, from raft-rs's progress tracker once per tick.

use std::collections::VecDeque;

use raft::ProgressTracker;

use super::group::GroupSeries;
use super::idle::observe_ticks;
use super::peers::Peers;
use super::series::rec;
use super::turn::Turn;
use crate::clock::{self, Clock};
use raft_metrics::raft::{InSync, Ticks};

/// Most appends (batches of entries) whose time the leader keeps for `follower_lag_seconds`
/// (24 bytes each). A follower further behind gets a lower bound: the age of the oldest kept.
const MAX_APPEND_TIMES: usize = 1 << 16;

/// Leader only: when it took office, and when it appended the entries of its term that some
/// follower may still lack.
pub(super) struct LeaderProgress {
    pub(super) in_sync: InSync<Ticks>,
    /// When this leadership started (a [`clock`] reading).
    leading_since: u64,
    /// Per append: its first index and time (the reading of the turn that appended it, the
    /// first of its tick), oldest first.
    append_times: VecDeque<(u64, u64)>,
    /// The newest of them, by first index and tick number, kept apart so that an append checks
    /// it without the deque's index arithmetic (every leader turn does) nor a clock reading.
    newest: Option<(u64, u64)>,
    /// The newest index whose append time is known (or predates this leadership).
    last_recorded: u64,
    /// Reused by the quorum-contact computation: the voters' last answers ([`clock`]
    /// readings, 0 for none).
    scratch: Vec<u64>,
    /// The leader's last index at the last refresh.
    last_index: u64,
    /// At the last refresh every follower had every entry (so an idle leader's tick can skip
    /// the next: nothing of what it publishes moves with time alone, see `idle`).
    caught_up: bool,
}

impl LeaderProgress {
    /// `created`: a [`clock`] reading standing for "this leadership started" until one does.
    pub(super) fn new(created: u64) -> Self {
        Self {
            in_sync: InSync::default(),
            leading_since: created,
            append_times: VecDeque::new(),
            newest: None,
            last_recorded: 0,
            scratch: Vec::new(),
            last_index: 0,
            // Not known: the first refresh sets every peer's lag (the registry may hold a
            // former wrapper's values for the same series). Read only while leading.
            caught_up: false,
        }
    }

    /// The leader's last index at the last refresh.
    pub(super) fn last_index(&self) -> u64 {
        self.last_index
    }

    /// Leader: some follower lacked entries at the last refresh, or none happened yet this
    /// leadership (its lag in seconds grows with time, so every tick refreshes).
    pub(super) fn lagging(&self) -> bool {
        !self.caught_up
    }

    /// This node became leader at `now` with `last_index` the end of its log.
    pub(super) fn leadership_gained(&mut self, now: u64, last_index: u64) {
        self.leading_since = now;
        self.append_times.clear();
        self.newest = None;
        // Up to here (this term's empty entry included), entries are as old as this leadership.
        self.last_recorded = last_index;
        self.caught_up = false;
    }

    /// This node stopped leading: a follower exports zeros rather than its last leadership's.
    pub(super) fn leadership_lost(&mut self, group: &GroupSeries) {
        rec!(group.series => isr_size.set(0));
        rec!(group.series => max_follower_lag_entries.set(0));
        self.append_times.clear();
        self.newest = None;
        // A follower has no followers to wait for.
        self.caught_up = true;
    }

    /// The leader appended `first..=last` to its log at tick `tick` (stamped with the time of
    /// the tick's first append: follower lag in seconds has a tick's resolution, and the other
    /// appends of a tick read no clock).
    #[inline]
    pub(super) fn appended(&mut self, first: u64, last: u64, tick: u64, clock: &mut Clock) {
        self.last_recorded = self.last_recorded.max(last);
        // Continues the newest append, of the same tick: that one stands for both (a lookup
        // takes the last append starting at or before an index), so a tick's appends cost one
        // record.
        if self.newest.is_some_and(|(index, at)| index < first && at == tick) {
            return;
        }
        self.record(first, tick, clock);
    }

    /// Keeps the time of an append starting at `first`, at tick `tick`: a reading of the clock,
    /// which also becomes the turn's (the turn's own may predate ticks since its `ready`).
    #[inline(never)]
    fn record(&mut self, first: u64, tick: u64, clock: &mut Clock) {
        // Overwrites appends (a new leader's log replaced the tail): their times go.
        while self.append_times.back().is_some_and(|&(index, _)| index >= first) {
            self.append_times.pop_back();
        }
        self.append_times.push_back((first, clock.read()));
        self.newest = Some((first, tick));
        while self.append_times.len() > MAX_APPEND_TIMES {
            self.append_times.pop_front();
        }
    }

    /// Leader only, once per tick: follower lag (entries and time), `isr_size`, and the time of
    /// the last quorum contact, from raft-rs's progress tracker `prs` (`last_index`: the
    /// leader's).
    ///
    /// Lag time is the age of the oldest entry the follower lacks: when this leader appended
    /// `matched + 1`, to a tick's resolution (an append is stamped with the last tick's reading,
    /// so an untimed turn reads no clock). An entry from before this leader took office counts
    /// from then, and one whose append time was dropped (beyond [`MAX_APPEND_TIMES`] appends)
    /// from the oldest time kept, so the age is a lower bound. Right after an election raft-rs
    /// knows no follower's `matched` (it is 0 until the follower answers), so a silent follower
    /// shows the whole log as lag.
    ///
    /// The lags are also observed in the node-wide aggregate's distributions, once per tick:
    /// this refresh stands for `ticks` ticks, those skipped before it (see `idle`) with every
    /// follower caught up, as the refresh before found them and nothing moved since.
    #[allow(clippy::too_many_arguments)] // the states one tick's refresh reads and moves
    pub(super) fn refresh(
        &mut self,
        prs: &ProgressTracker,
        self_id: u64,
        last_index: u64,
        ticks_covered: u32,
        peers: &mut Peers,
        group: &GroupSeries,
        turn: &mut Turn,
    ) {
        self.last_index = last_index;
        let now = turn.clock.now();
        let ticks = turn.ticks;
        let conf = prs.conf();
        let (mut isr, mut max_lag, mut min_matched) = (1u64, 0u64, last_index);
        // Entries appended before the oldest time kept are at least that old.
        let oldest_known = self.append_times.front().map_or(self.leading_since, |&(_, at)| at);
        self.scratch.clear();
        if conf.voters().contains(self_id) {
            self.scratch.push(now);
        }
        for (&id, progress) in prs.iter() {
            if id == self_id {
                continue;
            }
            let peer = peers.slot(group, id);
            let lag = last_index.saturating_sub(progress.matched);
            // Every follower was caught up at the last refresh, which set both gauges to zero
            // (nothing else sets them but a lost leadership, to zero): an idle leader's refresh
            // leaves the peers' series alone, cold at a node with thousands of groups.
            let unchanged = lag == 0 && self.caught_up;
            if !unchanged {
                rec!(peer.metrics => follower_lag_entries.set_u64(lag));
            }
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
            if !unchanged {
                rec!(peer.metrics => follower_lag.set(lag_seconds));
            }
            if let Some(a) = group.agg() {
                // The ticks skipped had no lag (only a caught-up leader skips).
                let skipped = if ticks_covered > 1 && self.caught_up { u64::from(ticks_covered - 1) } else { 0 };
                #[allow(clippy::cast_precision_loss)] // lags are far below 2^53
                observe_ticks(&a.follower_lag_entries, 0.0, skipped, lag as f64);
                observe_ticks(&a.follower_lag, 0.0, skipped, lag_seconds);
            }
            max_lag = max_lag.max(lag);
            min_matched = min_matched.min(progress.matched);
            if progress.matched > peer.last_matched {
                // Appends acknowledged since the last tick.
                peer.last_ack_tick = ticks.saturating_sub(1);
            }
            peer.last_matched = progress.matched;
            if peer.last_ack_tick + 1 >= ticks {
                // Answered since the last tick: the tick's time, within one tick.
                peer.last_ack_at = now;
            }
            if conf.voters().contains(id) {
                self.scratch.push(peer.last_ack_at);
                let silence = ticks.saturating_sub(peer.last_ack_tick);
                if self.in_sync.holds(lag, &Ticks(silence)) {
                    isr += 1;
                }
            }
        }
        rec!(group.series => isr_size.set_u64(isr));
        rec!(group.series => max_follower_lag_entries.set_u64(max_lag));
        self.caught_up = max_lag == 0;
        // Appends every follower has: their times are no longer needed.
        while !self.append_times.is_empty() {
            let end = self.append_times.get(1).map_or(self.last_recorded + 1, |&(first, _)| first);
            if end > min_matched + 1 {
                break;
            }
            self.append_times.pop_front();
        }
        // Only the front went: the newest stays unless none is left.
        if self.append_times.is_empty() {
            self.newest = None;
        }
        // The newest time by which a quorum of voters had answered: the quorum-th newest answer.
        self.scratch.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&at) = self.scratch.get(self.scratch.len() / 2) {
            // A quorum that never answered: no contact (0), as before the first answer.
            let unix = if at == 0 { 0.0 } else { turn.clock.unix_at(at) };
            rec!(group.series => last_contact_timestamp.set(unix));
        }
    }
}
