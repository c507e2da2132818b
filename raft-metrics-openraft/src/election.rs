//! Elections and leader changes, read from the votes openraft persists.
//!
//! openraft 0.9 saves its vote through `RaftLogStorage::save_vote` at every step of an
//! election, which makes the log store the one place that sees each of them as it happens (the
//! metrics watch keeps only the latest state and can miss a short candidacy):
//!
//! * an uncommitted vote for this node at term `t`: this node became candidate, an election
//!   starts;
//! * a committed vote for this node: it won (openraft commits the vote when a quorum granted it);
//! * a vote for another node, or this node's next candidacy: the open election was lost;
//! * a committed vote for any node at a new `(term, leader)`: a leader change, seen on every
//!   member (the leader's own, and each follower's when the leader's first AppendEntries
//!   reaches it).
//!
//! openraft 0.9 has no pre-vote, so `pre_votes_total` is never recorded.

use std::time::Instant;

use raft_metrics::raft::ElectionResult;

/// The election this node runs and the leader it last saw.
#[derive(Debug, Default)]
pub(crate) struct Election {
    /// Term and start of this node's open candidacy.
    open: Option<(u64, Instant)>,
    /// Votes granted in the open (or last) election, this node's own included.
    votes: u64,
    /// The last committed leader seen, as (term, leader label).
    leader: Option<(u64, String)>,
}

/// What one saved vote means for the metrics.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct VoteOutcome {
    /// An election ended: its result and, when this node saw it start, how long it took.
    pub(crate) ended: Option<(ElectionResult, Option<f64>)>,
    /// A new candidacy started (votes reset to 1).
    pub(crate) started: bool,
    /// A new `(term, leader)` was committed.
    pub(crate) leader_changed: bool,
}

impl Election {
    /// Notes a vote this node saved: for `candidate` (`mine` when that is this node) at `term`,
    /// `committed` when a quorum granted it.
    pub(crate) fn on_vote(
        &mut self,
        term: u64,
        candidate: Option<&str>,
        mine: bool,
        committed: bool,
        now: impl FnOnce() -> Instant,
    ) -> VoteOutcome {
        let mut out = VoteOutcome::default();
        let mut now = Some(now);
        let mut clock = || now.take().map_or_else(Instant::now, |f| f());
        if mine && !committed {
            if self.open.is_some_and(|(t, _)| t == term) {
                return out; // the same candidacy saved again
            }
            if let Some((_, start)) = self.open.take() {
                out.ended = Some((ElectionResult::Lost, Some(clock().duration_since(start).as_secs_f64())));
            }
            self.open = Some((term, clock()));
            self.votes = 1;
            out.started = true;
        } else if mine && committed {
            match self.open.take() {
                Some((t, start)) if t == term => {
                    out.ended = Some((ElectionResult::Won, Some(clock().duration_since(start).as_secs_f64())));
                }
                Some((_, start)) => {
                    // An older candidacy, superseded: lost; this win was not seen starting.
                    out.ended = Some((ElectionResult::Lost, Some(clock().duration_since(start).as_secs_f64())));
                }
                None if self.leader.as_ref().is_some_and(|(t, _)| *t == term) => {}
                None => out.ended = Some((ElectionResult::Won, None)),
            }
        } else if let Some((_, start)) = self.open.take() {
            out.ended = Some((ElectionResult::Lost, Some(clock().duration_since(start).as_secs_f64())));
        }
        if committed {
            if let Some(leader) = candidate {
                if self.leader.as_ref().is_none_or(|(t, l)| *t != term || l != leader) {
                    self.leader = Some((term, leader.to_owned()));
                    out.leader_changed = true;
                }
            }
        }
        out
    }

    /// Counts a granted vote for this node at `term`; returns the new total when it belongs to
    /// the open election.
    pub(crate) fn granted(&mut self, term: u64) -> Option<u64> {
        match self.open {
            Some((t, _)) if t == term => {
                self.votes += 1;
                Some(self.votes)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(e: &mut Election, term: u64, who: &str, committed: bool) -> VoteOutcome {
        e.on_vote(term, Some(who), who == "1", committed, Instant::now)
    }

    #[test]
    fn a_won_election_starts_ends_and_changes_the_leader() {
        let mut e = Election::default();
        let start = vote(&mut e, 1, "1", false);
        assert!(start.started && start.ended.is_none() && !start.leader_changed);
        assert_eq!(e.granted(1), Some(2));
        assert_eq!(e.granted(0), None, "a grant for another term");
        let won = vote(&mut e, 1, "1", true);
        assert!(matches!(won.ended, Some((ElectionResult::Won, Some(_)))));
        assert!(won.leader_changed);
        assert_eq!(vote(&mut e, 1, "1", true), VoteOutcome::default(), "saved again");
    }

    #[test]
    fn a_candidacy_is_lost_to_another_leader_or_to_the_next_candidacy() {
        let mut e = Election::default();
        vote(&mut e, 1, "1", false);
        let next = vote(&mut e, 2, "1", false);
        assert!(next.started && matches!(next.ended, Some((ElectionResult::Lost, Some(_)))));
        let other = vote(&mut e, 3, "2", true);
        assert!(matches!(other.ended, Some((ElectionResult::Lost, Some(_)))) && other.leader_changed);
        let follower = vote(&mut e, 3, "2", true);
        assert_eq!(follower, VoteOutcome::default(), "the same leader again");
    }
}
