//! The leader's proposals between append and commit: `proposals_pending`,
//! `proposals_committed_total`, `commit_latency_seconds` and the `dropped` failures.
//!
//! The log store recognises this node's proposals as the normal (non-blank, non-membership)
//! entries it appends while it holds a committed vote for itself at the entries' term: a leader
//! appends only its own entries. They are kept as runs of consecutive indexes, one per append
//! call, with the append's time when the call was timed; `save_committed` pops what it covers
//! and `truncate` drops what it removes.

use std::collections::VecDeque;

use crate::clock;

/// A run of consecutive proposal indexes appended by one call.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: u64,
    last: u64,
    /// The append's start (a [`clock::read`]ing), when it was timed.
    appended: Option<u64>,
}

impl Run {
    fn len(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// Proposals appended and not yet committed.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    runs: VecDeque<Run>,
    count: u64,
}

impl Pending {
    /// Notes the proposals `first..=last`, appended by a call that started at `appended` (if
    /// timed).
    pub(crate) fn push_run(&mut self, first: u64, last: u64, appended: Option<u64>) {
        self.count += last - first + 1;
        if let Some(run) = self.runs.back_mut() {
            if run.last + 1 == first && run.appended == appended {
                run.last = last;
                return;
            }
        }
        self.runs.push_back(Run { first, last, appended });
    }

    /// Proposals not yet committed.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Pops every proposal at or below `commit` and returns how many; `timed` gets each timed
    /// run's seconds from append to commit and its proposals (a callback rather than a list: no
    /// allocation on the commit path). The clock is read once, only when a timed run is among
    /// them.
    pub(crate) fn commit(&mut self, commit: u64, mut timed: impl FnMut(f64, u64)) -> u64 {
        let mut proposals = 0;
        let mut now = None;
        while let Some(run) = self.runs.front_mut() {
            if run.first > commit {
                break;
            }
            let mut taken = *run;
            if run.last > commit {
                taken.last = commit;
                run.first = commit + 1;
            } else {
                self.runs.pop_front();
            }
            proposals += taken.len();
            if let Some(at) = taken.appended {
                let now = *now.get_or_insert_with(clock::read);
                timed(clock::seconds(at, now), taken.len());
            }
        }
        self.count -= proposals;
        proposals
    }

    /// Drops every proposal at or above `from` (the log was truncated there); returns how many.
    pub(crate) fn truncate(&mut self, from: u64) -> u64 {
        let mut dropped = 0;
        while let Some(run) = self.runs.back_mut() {
            if run.last < from {
                break;
            }
            if run.first >= from {
                dropped += run.len();
                self.runs.pop_back();
            } else {
                dropped += run.last - from + 1;
                run.last = from - 1;
            }
        }
        self.count -= dropped;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_split_runs_and_time_only_timed_ones() {
        let mut p = Pending::default();
        let t = Some(clock::read());
        p.push_run(3, 4, t);
        p.push_run(5, 6, t);
        p.push_run(8, 9, None);
        assert_eq!(p.count(), 6);
        let mut timed = Vec::new();
        assert_eq!(p.commit(4, |_, n| timed.push(n)), 2);
        assert_eq!(timed, [2]);
        assert_eq!(p.commit(8, |_, n| timed.push(n)), 3);
        assert_eq!(timed, [2, 2]);
        assert_eq!(p.count(), 1);
        assert_eq!(p.commit(8, |_, _| {}), 0);
    }

    #[test]
    fn truncation_drops_the_tail() {
        let mut p = Pending::default();
        p.push_run(1, 10, None);
        assert_eq!(p.truncate(11), 0);
        assert_eq!(p.truncate(6), 5);
        assert_eq!(p.count(), 5);
        assert_eq!(p.commit(10, |_, _| {}), 5);
    }
}
