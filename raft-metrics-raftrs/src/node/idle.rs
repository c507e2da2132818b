//! Ticks of an idle group, which skip publishing.
//!
//! Each tick publishes the group's state: indexes, log size, pending proposals, the counts kept
//! since the last tick, and on the leader follower lag, `isr_size` and the quorum's last
//! contact, from raft-rs's progress tracker. A node with thousands of partitions ticks each
//! every 100 ms or so, and most of them are idle at any moment: their ticks would republish the
//! same values, and that work was most of what recording cost an idle group (see
//! `benches/notes/raft_loop.md`, the `idle_ticks` shape).
//!
//! So a tick publishes only when something it publishes may have moved: an index, the unstable
//! log (appends, snapshots), the role, leader or term, a follower behind the leader (its lag in
//! seconds grows by itself, and the appends that catch it up move nothing on the leader), or no
//! known leader; and at least
//! every [`every`](Idle::every) ticks regardless, for what moves with heartbeats alone (their
//! counts, the last leader or quorum contact, a silent follower leaving `isr_size`) or with
//! appends that change nothing (a follower sent entries it has). Those are
//! then up to `every` ticks late, 1 s at the default of 10 and raft-rs's usual 100 ms tick,
//! where a scrape comes every 15 s.
//!
//! The node-wide distributions observed once per tick (apply lag, follower lag) stay exact: the
//! ticks skipped are observed at the next publication, with the values they had, which nothing
//! moved.

use raft::{RawNode, StateRole, Storage, INVALID_ID};

/// What a tick's publication depends on that raft-rs holds in plain fields (role, leader and
/// term changes are told apart, [`Idle::moved`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Marks {
    committed: u64,
    applied: u64,
    persisted: u64,
    /// The end of the unstable log, and whether it holds a snapshot (the last index moves with
    /// them, or with what the application persists of them).
    unstable: (u64, bool),
}

impl Marks {
    #[inline]
    fn of<S: Storage>(raw: &RawNode<S>) -> Self {
        let log = &raw.raft.raft_log;
        let unstable = &log.unstable;
        Self {
            committed: log.committed,
            applied: log.applied,
            persisted: log.persisted,
            unstable: (unstable.offset + unstable.entries.len() as u64, unstable.snapshot.is_some()),
        }
    }
}

/// When the tick publishes.
#[derive(Debug)]
pub(super) struct Idle {
    /// What the last publication saw.
    last: Marks,
    /// Ticks since the last publication.
    skipped: u32,
    /// Publish at least every this many ticks (1: every tick).
    every: u32,
    /// Role, leader or term changed since the last publication.
    moved: bool,
}

/// The default of [`Idle::every`].
pub(super) const DEFAULT_EVERY: u32 = 10;

impl Default for Idle {
    fn default() -> Self {
        Self { last: Marks::default(), skipped: 0, every: DEFAULT_EVERY, moved: true }
    }
}

impl Idle {
    /// Publish at least every `every` ticks (0 and 1: every tick).
    pub(super) fn set_every(&mut self, every: u32) {
        self.every = every.max(1);
    }

    /// Publish at least every this many ticks.
    pub(super) fn every(&self) -> u32 {
        self.every
    }

    /// Role, leader or term changed: the next tick publishes.
    pub(super) fn moved(&mut self) {
        self.moved = true;
    }

    /// A tick: `None` when it skips publishing, else how many ticks the publication stands for
    /// (1, or more after skipped ticks: what a per-tick distribution observes the skipped values
    /// with). `busy`: something moved that the marks do not show (a follower behind).
    #[inline]
    pub(super) fn tick<S: Storage>(&mut self, raw: &RawNode<S>, busy: bool) -> Option<u32> {
        let marks = Marks::of(raw);
        self.skipped += 1;
        let raft = &raw.raft;
        let led = matches!(raft.state, StateRole::Leader | StateRole::Follower) && raft.leader_id != INVALID_ID;
        if !busy && !self.moved && led && marks == self.last && self.skipped < self.every {
            return None;
        }
        self.last = marks;
        self.moved = false;
        Some(std::mem::take(&mut self.skipped))
    }

    /// The next tick publishes (recording switched on: nothing has been published from the
    /// current state).
    pub(super) fn reset(&mut self) {
        self.moved = true;
    }
}

#[cfg(test)]
mod tests {
    use raft::storage::MemStorage;
    use raft::Config;

    use super::*;

    fn leader() -> RawNode<MemStorage> {
        let store = MemStorage::new_with_conf_state((vec![1], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut raw = RawNode::new(&Config { id: 1, ..Config::default() }, store, &logger).expect("node");
        raw.campaign().expect("campaign");
        raw
    }

    /// An unchanged group publishes every `every` ticks; a change or `busy` publishes at once,
    /// and the publication after skipped ticks stands for all of them.
    #[test]
    fn an_idle_group_publishes_every_n_ticks_and_a_change_at_once() {
        let mut raw = leader();
        let mut idle = Idle::default();
        idle.set_every(4);
        let ticks: Vec<Option<u32>> = (0..9).map(|_| idle.tick(&raw, false)).collect();
        assert_eq!(ticks, [Some(1), None, None, None, Some(4), None, None, None, Some(4)]);
        assert_eq!(idle.tick(&raw, true), Some(1), "busy");
        raw.propose(vec![], b"x".to_vec()).expect("propose");
        assert_eq!(idle.tick(&raw, false), Some(1), "the unstable log moved");
        assert_eq!(idle.tick(&raw, false), None);
        idle.moved();
        assert_eq!(idle.tick(&raw, false), Some(2), "a transition");
        assert_eq!(idle.tick(&raw, false), None);
        idle.reset();
        assert_eq!(idle.tick(&raw, false), Some(2), "reset");
        idle.set_every(1);
        assert_eq!(idle.tick(&raw, false), Some(1), "every tick");
    }

    /// A node without a leader (a candidate, or a follower that lost its leader) publishes
    /// every tick.
    #[test]
    fn no_known_leader_publishes_every_tick() {
        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&Config { id: 1, ..Config::default() }, store, &logger).expect("node");
        let mut idle = Idle::default();
        assert!((0..5).all(|_| idle.tick(&raw, false) == Some(1)));
    }
}
