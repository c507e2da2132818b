//! Ticks of an idle group, which skip publishing.
//!
//! Each tick publishes the group's state: indexes, log size, pending proposals, the counts kept
//! since the last tick, and on the leader follower lag, `isr_size` and the quorum's last
//! contact, from raft-rs's progress tracker. A node with thousands of partitions ticks each
//! every 100 ms or so, and most of them are idle at any moment: their ticks would republish the
//! same values, and that work was most of what recording cost an idle group (see
//! `benches/notes/raft_loop.md`, the `idle_ticks` shape).
//!
//! So a tick publishes everything only when something it publishes may have moved: an index,
//! the unstable log (appends, snapshots), the role, leader or term, a follower behind the leader
//! (its lag in seconds grows by itself, and the appends that catch it up move nothing on the
//! leader), or no known leader ([`Publication::Changed`]). The indexes and the log move only
//! in turns that carry entries or a snapshot, whose hooks say so ([`Idle::log_moved`]), and the
//! standing is observed where it changes: a quiet tick reads this state alone, in the switch's
//! cache line, and none of raft-rs's (a periodic publication compares the indexes, for what
//! moved otherwise). Otherwise it publishes at least every
//! [`every`](Idle::every) ticks what moves with heartbeats alone (their counts, the last leader
//! or quorum contact, a silent follower leaving `isr_size`) or with appends that change nothing
//! (a follower sent entries it has) ([`Publication::Periodic`]); those are then up to `every`
//! ticks late, 1 s at the default of 10 and raft-rs's usual 100 ms tick, where a scrape comes
//! every 15 s.
//!
//! The node-wide distributions observed once per tick (apply lag, follower lag) stay exact: the
//! ticks skipped are observed at the next publication, with the values they had, which nothing
//! moved.

use raft::{RawNode, StateRole, Storage, INVALID_ID};
use raft_metrics::Histogram;

use super::role::Standing;

/// Observes a publication's ticks in a per-tick distribution: the `skipped` ticks before it at
/// `before` (the value last published, which nothing moved since), then the current one at
/// `now`; one observation of all of them when the two are the same (an idle group's).
#[inline]
pub(super) fn observe_ticks<const N: usize>(histogram: &Histogram<N>, before: f64, skipped: u64, now: f64) {
    if before.to_bits() == now.to_bits() {
        histogram.observe_n(now, skipped + 1);
        return;
    }
    if skipped > 0 {
        histogram.observe_n(before, skipped);
    }
    histogram.observe(now);
}

/// What a tick's publication depends on that raft-rs holds in plain fields (role, leader and
/// term changes are told apart, [`Idle::moved`]), in their low 32 bits: an index that moved by
/// 2^32 between two ticks is not one raft-rs can write, and half the bytes keep the whole idle
/// state in the tick's one cache line (`node/mod.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Marks {
    committed: u32,
    applied: u32,
    persisted: u32,
    /// The end of the unstable log, and whether it holds a snapshot (the last index moves with
    /// them, or with what the application persists of them).
    unstable: u32,
    snapshot: bool,
}

impl Marks {
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the low bits, see above
    fn of<S: Storage>(raw: &RawNode<S>) -> Self {
        let log = &raw.raft.raft_log;
        let unstable = &log.unstable;
        Self {
            committed: log.committed as u32,
            applied: log.applied as u32,
            persisted: log.persisted as u32,
            unstable: (unstable.offset + unstable.entries.len() as u64) as u32,
            snapshot: unstable.snapshot.is_some(),
        }
    }
}

/// Role, leader and term as last observed ([`Standing`] with the term's low 32 bits, as
/// [`Marks`]): compared after a tick in which raft-rs stepped a message (its only way to change
/// them in a tick); whether the group has a leader is worked out when they change
/// ([`Idle::unsettled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    role: StateRole,
    term: u32,
    leader: u64,
}

impl Seen {
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the low bits, see `Marks`
    fn of(standing: Standing) -> Self {
        Self { role: standing.role, term: standing.term as u32, leader: standing.leader }
    }

    /// Whether the group has a leader this node knows (it leads or follows one): otherwise
    /// every tick publishes.
    fn led(self) -> bool {
        matches!(self.role, StateRole::Leader | StateRole::Follower) && self.leader != INVALID_ID
    }
}

/// What a tick publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Publication {
    /// Something moved: everything.
    Changed,
    /// Only the periodic publication of an idle group: what moves with heartbeats alone (the
    /// indexes and the log did not move).
    Periodic,
}

/// When the tick publishes, and the tick count.
#[derive(Debug)]
pub(super) struct Idle {
    /// Ticks since the wrapper was created (raft-rs's clock, which `isr_size` silence counts;
    /// the turn catches up with it when next used, [`Turn::catch_up`](super::turn::Turn::catch_up)).
    ticks: u64,
    /// A tick came since the turn last caught up: a turn tests this flag, on the line the tick
    /// wrote anyway, rather than compare the two counts (one load instead of two, every turn).
    ticked: bool,
    /// The indexes as last observed.
    last: Marks,
    /// Ticks since the last publication (at most `every` or `busy_every`).
    skipped: u16,
    /// Publish at least every this many ticks (1: every tick).
    every: u16,
    /// Publish at most every this many ticks (1: at every tick after a change). These three
    /// in 16 bits, so that the switch's state stays one cache line.
    busy_every: u16,
    /// An index, the unstable log, role, leader or term moved since the last publication.
    moved: bool,
    /// The next tick publishes whatever `busy_every` says ([`reset`](Self::reset)).
    prompt: bool,
    /// The leader had a follower behind at the last publication (its lag in seconds grows with
    /// time: every tick publishes).
    lagging: bool,
    /// `lagging`, or no known leader: every tick publishes. Kept apart, updated where either
    /// changes, so that a quiet tick tests two flags and does not work out the role's.
    unsettled: bool,
    /// Role, leader and term as last observed: the role's own record, copied here so that a
    /// quiet tick compares them without touching the role's cache line.
    standing: Seen,
}

/// The default of [`Idle::every`].
pub(super) const DEFAULT_EVERY: u32 = 10;

impl Idle {
    /// `standing`: the node's, as the role first observed it; `busy_every`: see
    /// [`set_busy_every`](Self::set_busy_every).
    pub(super) fn new(standing: Standing, busy_every: u32) -> Self {
        let standing = Seen::of(standing);
        let mut idle = Self {
            ticks: 0,
            ticked: false,
            last: Marks::default(),
            skipped: 0,
            every: 1,
            busy_every: 1,
            moved: true,
            prompt: false,
            lagging: false,
            unsettled: !standing.led(),
            standing,
        };
        idle.set_every(DEFAULT_EVERY);
        idle.set_busy_every(busy_every);
        idle
    }

    /// Whether raft-rs's standing differs from the one last observed (then the role observes
    /// the transition, and calls [`moved`](Self::moved)).
    #[inline]
    pub(super) fn standing_changed<S: Storage>(&self, raw: &RawNode<S>) -> bool {
        Seen::of(Standing::of(raw)) != self.standing
    }

    /// Publish at least every `every` ticks (0 and 1: every tick; at most 65 535).
    pub(super) fn set_every(&mut self, every: u32) {
        self.every = u16::try_from(every.max(1)).unwrap_or(u16::MAX);
    }

    /// Publish at least every this many ticks.
    pub(super) fn every(&self) -> u32 {
        u32::from(self.every)
    }

    /// Publish at most every `every` ticks (0 and 1: at the tick after a change; at most
    /// 65 535).
    pub(super) fn set_busy_every(&mut self, every: u32) {
        self.busy_every = u16::try_from(every.max(1)).unwrap_or(u16::MAX);
    }

    /// Publish at most every this many ticks.
    pub(super) fn busy_every(&self) -> u32 {
        u32::from(self.busy_every)
    }

    /// Role, leader or term changed, to `standing`: the next tick publishes.
    pub(super) fn moved(&mut self, standing: Standing) {
        self.moved = true;
        self.standing = Seen::of(standing);
        self.unsettled = self.lagging || !self.standing.led();
    }

    /// Whether the leader had a follower behind at the publication just made.
    pub(super) fn set_lagging(&mut self, lagging: bool) {
        self.lagging = lagging;
        self.unsettled = lagging || !self.standing.led();
    }

    /// A tick starts: counted.
    #[inline]
    pub(super) fn count(&mut self) {
        self.ticks += 1;
        self.ticked = true;
    }

    /// Whether a tick came since the last [`take_ticks`](Self::take_ticks).
    #[inline]
    pub(super) fn ticked(&self) -> bool {
        self.ticked
    }

    /// The tick count.
    #[inline]
    pub(super) fn ticks(&self) -> u64 {
        self.ticks
    }

    /// The tick count, for a turn catching up with it.
    #[inline]
    pub(super) fn take_ticks(&mut self) -> u64 {
        self.ticked = false;
        self.ticks
    }

    /// A turn carried entries to append, commit or apply, or a snapshot: the indexes or the log
    /// move, and the next tick publishes them.
    #[inline]
    pub(super) fn log_moved(&mut self) {
        self.moved = true;
    }

    /// Whether an index or the unstable log moved since last seen.
    fn observe<S: Storage>(&mut self, raw: &RawNode<S>) {
        let marks = Marks::of(raw);
        if marks != self.last {
            self.last = marks;
            self.moved = true;
        }
    }

    /// After a tick: `None` when it skips publishing, else what it publishes and how many ticks
    /// the publication stands for (1, or more after skipped ticks: what a per-tick distribution
    /// observes the skipped values with). A quiet tick reads this state alone, none of
    /// raft-rs's: the turns that carried entries said so ([`log_moved`](Self::log_moved)), and
    /// the role observed the standing.
    #[inline]
    pub(super) fn tick<S: Storage>(&mut self, raw: &RawNode<S>) -> Option<(Publication, u32)> {
        // Cannot pass 16 bits: a tick at which it reaches `every` or `busy_every` (both 16 bits)
        // publishes, which takes it back to zero. A plain add: saturating cost every idle tick
        // two instructions (`idle_ticks`).
        self.skipped += 1;
        let mut changed = self.moved || self.unsettled;
        if !changed {
            if self.skipped < self.every {
                return None;
            }
            // What moved without a turn that said so (entries applied after this tick's
            // publication, calls through `raw_mut`): seen here at the latest.
            self.observe(raw);
            changed = self.moved;
        } else {
            // A busy group publishes at most every `busy_every` ticks (what moved stays noted).
            if self.skipped < self.busy_every && !self.prompt {
                return None;
            }
            // Published now, as they are (a publication reads the log anyway).
            self.last = Marks::of(raw);
        }
        (self.moved, self.prompt) = (false, false);
        let publication = if changed { Publication::Changed } else { Publication::Periodic };
        Some((publication, u32::from(std::mem::take(&mut self.skipped))))
    }

    /// Publishes at once, between ticks (the group goes to sleep): returns the ticks since the
    /// last publication (0 when the last tick published), which the publication stands for.
    pub(super) fn publish_now<S: Storage>(&mut self, raw: &RawNode<S>) -> u32 {
        self.last = Marks::of(raw);
        (self.moved, self.prompt) = (false, false);
        u32::from(std::mem::take(&mut self.skipped))
    }

    /// The next tick publishes, however busy the group (recording switched on: nothing has
    /// been published from the current state; a wake: the contact counted from it, which the
    /// unhealthy-only export judges the partition by).
    pub(super) fn reset(&mut self) {
        self.moved = true;
        self.prompt = true;
    }
}

#[cfg(test)]
mod tests {
    use raft::storage::MemStorage;
    use raft::Config;

    use super::Publication::{Changed, Periodic};
    use super::*;

    fn leader() -> RawNode<MemStorage> {
        let store = MemStorage::new_with_conf_state((vec![1], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut raw = RawNode::new(&Config { id: 1, ..Config::default() }, store, &logger).expect("node");
        raw.campaign().expect("campaign");
        raw
    }

    /// A group that moves at every tick publishes at most every `busy_every` ticks, each
    /// publication standing for the ticks it skipped; what moved stays noted until then. At 1
    /// (the default) it publishes at every tick.
    #[test]
    fn a_busy_group_publishes_at_most_every_n_ticks() {
        let raw = leader();
        let mut idle = Idle::new(Standing::of(&raw), 1);
        idle.set_busy_every(4);
        let busy = |idle: &mut Idle| {
            idle.log_moved();
            idle.tick(&raw)
        };
        let ticks: Vec<Option<(Publication, u32)>> = (0..8).map(|_| busy(&mut idle)).collect();
        let every_fourth = Some((Changed, 4));
        assert_eq!(ticks, [None, None, None, every_fourth, None, None, None, every_fourth]);
        // A change, then quiet ticks: published at the fourth tick since the last publication.
        idle.log_moved();
        let ticks: Vec<Option<(Publication, u32)>> = (0..4).map(|_| idle.tick(&raw)).collect();
        assert_eq!(ticks, [None, None, None, every_fourth]);
        // Recording switched on, or a wake: the next tick publishes, standing for its one tick.
        idle.reset();
        assert_eq!(idle.tick(&raw), Some((Changed, 1)));
        idle.set_busy_every(1);
        assert_eq!(busy(&mut idle), Some((Changed, 1)));
        assert_eq!(busy(&mut idle), Some((Changed, 1)));
    }

    /// An unchanged group publishes every `every` ticks (the heartbeat-driven part only); a
    /// change or a follower behind publishes everything at once, and the publication after
    /// skipped ticks stands for all of them.
    #[test]
    fn an_idle_group_publishes_every_n_ticks_and_a_change_at_once() {
        let mut raw = leader();
        let mut idle = Idle::new(Standing::of(&raw), 1);
        idle.set_every(4);
        let ticks: Vec<Option<(Publication, u32)>> = (0..9).map(|_| idle.tick(&raw)).collect();
        let periodic = Some((Periodic, 4));
        assert_eq!(ticks, [Some((Changed, 1)), None, None, None, periodic, None, None, None, periodic]);
        idle.set_lagging(true);
        assert_eq!(idle.tick(&raw), Some((Changed, 1)), "lagging");
        assert_eq!(idle.tick(&raw), Some((Changed, 1)), "lagging");
        idle.set_lagging(false);
        raw.propose(vec![], b"x".to_vec()).expect("propose");
        idle.log_moved();
        assert_eq!(idle.tick(&raw), Some((Changed, 1)), "the unstable log moved");
        assert_eq!(idle.tick(&raw), None);
        assert_eq!(idle.tick(&raw), None);
        assert!(!idle.standing_changed(&raw));
        idle.moved(Standing::of(&raw));
        assert_eq!(idle.tick(&raw), Some((Changed, 3)), "a transition");
        assert_eq!(idle.tick(&raw), None);
        idle.reset();
        assert_eq!(idle.tick(&raw), Some((Changed, 2)), "reset");
        idle.set_every(1);
        assert_eq!(idle.tick(&raw), Some((Periodic, 1)), "every tick");
    }

    /// A change no hook said (made through `raw_mut`, or applied after the publication) is
    /// published at the next periodic publication, as a change.
    #[test]
    fn a_change_unobserved_is_published_at_the_latest_periodically() {
        let mut raw = leader();
        let mut idle = Idle::new(Standing::of(&raw), 1);
        idle.set_every(3);
        assert_eq!(idle.tick(&raw), Some((Changed, 1)));
        raw.propose(vec![], b"x".to_vec()).expect("propose");
        assert_eq!([idle.tick(&raw), idle.tick(&raw), idle.tick(&raw)], [None, None, Some((Changed, 3))]);
        assert_eq!([idle.tick(&raw), idle.tick(&raw), idle.tick(&raw)], [None, None, Some((Periodic, 3))]);
    }

    /// A node without a leader (a candidate, or a follower that lost its leader) publishes
    /// everything every tick; a change of standing is seen.
    #[test]
    fn no_known_leader_publishes_every_tick() {
        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut raw = RawNode::new(&Config { id: 1, ..Config::default() }, store, &logger).expect("node");
        let mut idle = Idle::new(Standing::of(&raw), 1);
        assert!((0..5).all(|_| idle.tick(&raw) == Some((Changed, 1))));
        raw.campaign().expect("campaign");
        assert!(idle.standing_changed(&raw));
    }
}
