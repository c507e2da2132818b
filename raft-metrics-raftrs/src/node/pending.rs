//! The leader's proposals awaiting their commit, kept in runs so that a batch costs one entry
//! whatever its size.

use core::num::NonZeroU32;

use raft::eraftpb::Entry;

/// A timed turn's [`clock`](crate::clock) reading and its sampling weight: what a duration that
/// ends in a later turn (a proposal's commit) is observed with, as the rate may change at a tick
/// in between ([`timing`](super::timing)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) at: u64,
    pub(crate) weight: NonZeroU32,
}

impl Stamp {
    /// A reading in a turn timed with `weight` (at least 1; a larger one than a `u32` is not
    /// drawn).
    pub(crate) fn new(at: u64, weight: u64) -> Self {
        let weight = u32::try_from(weight).ok().and_then(NonZeroU32::new).unwrap_or(NonZeroU32::MIN);
        Self { at, weight }
    }
}

/// A run of proposals this node appended as leader, waiting for their commit: consecutive
/// indexes of one term, appended in turns that were all timed at `at` or all untimed.
#[derive(Debug)]
struct Run {
    first: u64,
    last: u64,
    term: u64,
    /// The turn that appended the run, when it was timed (their commit latency starts there).
    timed: Option<Stamp>,
}

/// The runs, oldest first: a `Vec` with a moving start rather than a `VecDeque`, so the common
/// turn (one run pushed, the oldest settled) is a plain push and an index bump, with no ring
/// arithmetic. Settled runs are dropped once they outnumber the live ones.
#[derive(Debug, Default)]
struct Runs {
    runs: Vec<Run>,
    /// `runs[..start]` are settled.
    start: usize,
}

impl Runs {
    #[inline]
    fn front_mut(&mut self) -> Option<&mut Run> {
        self.runs.get_mut(self.start)
    }

    #[inline]
    fn back_mut(&mut self) -> Option<&mut Run> {
        if self.start < self.runs.len() {
            self.runs.last_mut()
        } else {
            None
        }
    }

    #[inline]
    fn push_back(&mut self, run: Run) {
        self.runs.push(run);
    }

    /// Settles the oldest run (there is one).
    #[inline(always)]
    fn pop_front(&mut self) {
        self.start += 1;
        if self.start == self.runs.len() {
            // The usual turn's: the last run settled.
            self.runs.clear();
            self.start = 0;
        } else if self.start > self.runs.len() - self.start {
            self.drop_settled();
        }
    }

    /// Drops the settled runs once they outnumber the live ones.
    #[cold]
    #[inline(never)]
    fn drop_settled(&mut self) {
        self.runs.drain(..self.start);
        self.start = 0;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.runs.len() - self.start
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The leader's proposals awaiting their commit, in runs, so a batch costs one entry whatever
/// its size.
#[derive(Debug, Default)]
pub(crate) struct PendingProposals {
    runs: Runs,
    len: u64,
}

impl PendingProposals {
    /// Proposals awaiting their commit.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The leader appended proposals `first..=last`, of `term`, in a turn `timed` or untimed.
    /// Untimed runs that continue each other merge.
    #[inline]
    pub(crate) fn push_run(&mut self, first: u64, last: u64, term: u64, timed: Option<Stamp>) {
        self.len += last - first + 1;
        if let Some(run) = self.runs.back_mut() {
            if timed.is_none() && run.timed.is_none() && run.term == term && run.last + 1 == first {
                run.last = last;
                return;
            }
        }
        self.runs.push_back(Run { first, last, term, timed });
    }

    /// Forgets proposals at or below `index` (a snapshot covered them: their fate is unknown).
    pub(crate) fn forget_through(&mut self, index: u64) {
        while let Some(run) = self.runs.front_mut() {
            if run.first > index {
                break;
            }
            let gone = run.last.min(index) - run.first + 1;
            self.len -= gone;
            if run.last <= index {
                self.runs.pop_front();
            } else {
                run.first = index + 1;
            }
        }
    }

    /// Settles the proposals `entries` (a committed batch, consecutive indexes) commits: for
    /// each run with proposals among them, `committed(count, the turn that appended them if timed)`. Returns how many
    /// of its proposals were dropped: another leader's entry took their index.
    ///
    /// Proposals below the batch were never seen committed (a snapshot covered them): their fate
    /// is unknown, so they are forgotten.
    #[inline]
    pub(crate) fn commit(&mut self, entries: &[Entry], mut committed: impl FnMut(u64, Option<Stamp>)) -> u64 {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return 0 };
        // The steady case: the batch is the head of the oldest run, all of this leader's term
        // (terms never decrease along the log, so the last entry's term is the whole batch's).
        if let Some(run) = self.runs.front_mut() {
            if run.first == first.index && last.index <= run.last && last.term == run.term {
                let settled = last.index - first.index + 1;
                let timed = run.timed;
                if last.index == run.last {
                    self.runs.pop_front();
                } else {
                    run.first = last.index + 1;
                }
                self.len -= settled;
                committed(settled, timed);
                return 0;
            }
        }
        self.commit_walk(entries, committed)
    }

    /// [`commit`](Self::commit) of a batch that is not the head of the oldest run: runs ahead of
    /// it, several runs, or entries of another leader.
    #[inline(never)]
    fn commit_walk(&mut self, entries: &[Entry], mut committed: impl FnMut(u64, Option<Stamp>)) -> u64 {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return 0 };
        let mut dropped = 0;
        while let Some(run) = self.runs.front_mut() {
            if run.first > last.index {
                break;
            }
            if run.last < first.index {
                self.len -= run.last - run.first + 1;
                self.runs.pop_front();
                continue;
            }
            let (lo, hi) = (run.first.max(first.index), run.last.min(last.index));
            let offset = |index: u64| usize::try_from(index - first.index).unwrap_or(usize::MAX);
            let span = entries.get(offset(lo)..=offset(hi)).unwrap_or_default();
            // Terms never decrease along the log, and an entry of this leader's term at some
            // index means the log below it is this leader's too: its entries form a prefix.
            let ours = if span.last().is_some_and(|e| e.term == run.term) {
                span.len()
            } else {
                span.partition_point(|e| e.term == run.term)
            } as u64;
            let settled = hi - lo + 1;
            dropped += settled - ours;
            if ours > 0 {
                committed(ours, run.timed);
            }
            self.len -= (lo - run.first) + settled;
            if hi >= run.last {
                self.runs.pop_front();
            } else {
                run.first = hi + 1;
                break;
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(from: u64, terms: &[u64]) -> Vec<Entry> {
        (from..).zip(terms).map(|(index, &term)| Entry { index, term, ..Entry::default() }).collect()
    }

    /// A turn timed at `at`, weight 8.
    fn stamp(at: u64) -> Option<Stamp> {
        Some(Stamp::new(at, 8))
    }

    /// The runs settled by `entries` (proposals, the reading of the turn that appended them if
    /// timed) and the proposals dropped.
    fn settle(pending: &mut PendingProposals, entries: &[Entry]) -> (Vec<(u64, Option<u64>)>, u64) {
        let mut runs = Vec::new();
        let dropped = pending.commit(entries, |n, timed| runs.push((n, timed.map(|stamp| stamp.at))));
        (runs, dropped)
    }

    /// A run keeps the weight of the turn that appended it: the sampling rate may have changed
    /// by the time it commits.
    #[test]
    fn each_run_keeps_its_turns_weight() {
        let mut pending = PendingProposals::default();
        pending.push_run(1, 2, 1, Some(Stamp::new(10, 8)));
        pending.push_run(3, 3, 1, Some(Stamp::new(20, 250)));
        let mut weights = Vec::new();
        pending.commit(&batch(1, &[1, 1, 1]), |n, timed| weights.push((n, timed.map(|s| s.weight.get()))));
        assert_eq!(weights, [(2, Some(8)), (1, Some(250))]);
        assert_eq!(Stamp::new(5, 0).weight.get(), 1, "a weight is never zero");
    }

    #[test]
    fn untimed_runs_merge_and_runs_commit_in_pieces() {
        let mut pending = PendingProposals::default();
        pending.push_run(5, 7, 2, stamp(100));
        pending.push_run(8, 8, 2, None);
        pending.push_run(9, 10, 2, None);
        assert_eq!(pending.runs.len(), 2, "the untimed runs merged, not into the timed one");
        pending.push_run(11, 11, 2, stamp(200));
        pending.push_run(12, 12, 2, stamp(200));
        assert_eq!(pending.runs.len(), 4, "timed runs keep their own readings");
        assert_eq!(pending.len(), 8);
        // A batch committing 4..=6: two of the first run.
        assert_eq!(settle(&mut pending, &batch(4, &[2, 2, 2])), (vec![(2, Some(100))], 0));
        assert_eq!(pending.len(), 6);
        // 7..=11: the rest of the first run, the untimed run, the first timed one.
        assert_eq!(settle(&mut pending, &batch(7, &[2; 5])), (vec![(1, Some(100)), (3, None), (1, Some(200))], 0));
        assert_eq!(pending.len(), 1);
    }

    /// Commits one entry at a time from the head of a run (the steady case) settle exactly what
    /// the general walk would, through the run's last entry.
    #[test]
    fn head_commits_settle_one_by_one_through_the_run() {
        let mut pending = PendingProposals::default();
        pending.push_run(1, 4, 2, None);
        pending.push_run(5, 5, 2, stamp(9));
        for index in 1..=5 {
            let at = if index == 5 { Some(9) } else { None };
            assert_eq!(settle(&mut pending, &batch(index, &[2])), (vec![(1, at)], 0), "index {index}");
            assert_eq!(pending.len(), 5 - index);
        }
        assert!(pending.runs.is_empty());
        // A head commit whose last entry is of another term is not all this leader's.
        pending.push_run(6, 9, 3, None);
        assert_eq!(settle(&mut pending, &batch(6, &[3, 4])), (vec![(1, None)], 1));
        assert_eq!(pending.len(), 2);
    }

    /// A leader that always has proposals pending (a pipeline) keeps at most about twice its
    /// live runs in memory, and settles them in order.
    #[test]
    fn settled_runs_do_not_pile_up_under_a_pipeline() {
        let mut pending = PendingProposals::default();
        for index in 1..=3 {
            pending.push_run(index, index, 1, stamp(index));
        }
        for index in 4..=10_000 {
            pending.push_run(index, index, 1, stamp(index));
            let oldest = index - 3;
            assert_eq!(settle(&mut pending, &batch(oldest, &[1])), (vec![(1, Some(oldest))], 0));
            assert_eq!(pending.runs.len(), 3);
            assert!(pending.runs.runs.len() <= 2 * 3 + 1, "{} kept", pending.runs.runs.len());
        }
    }

    #[test]
    fn entries_of_another_term_count_as_dropped() {
        let mut pending = PendingProposals::default();
        pending.push_run(10, 13, 3, stamp(1));
        // Indexes 12 and 13 were overwritten by the term-4 leader.
        assert_eq!(settle(&mut pending, &batch(10, &[3, 3, 4, 4])), (vec![(2, Some(1))], 2));
        // All overwritten.
        pending.push_run(20, 20, 5, None);
        assert_eq!(settle(&mut pending, &batch(20, &[6])), (vec![], 1));
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn proposals_skipped_by_a_snapshot_are_forgotten() {
        let mut pending = PendingProposals::default();
        pending.push_run(1, 6, 1, None);
        pending.forget_through(2);
        assert_eq!(pending.len(), 4);
        // The next batch starts at 5: 3 and 4 were never seen committed.
        assert_eq!(settle(&mut pending, &batch(5, &[1])), (vec![(1, None)], 0));
        assert_eq!(pending.len(), 1);
        pending.forget_through(100);
        assert_eq!(pending.len(), 0);
    }
}
