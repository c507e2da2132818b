//! This node's candidacies: when each started, the votes it gathered, and how it ended.

use raft_metrics::raft::ElectionResult;

use super::group::GroupSeries;
use super::series::rec;
use crate::clock;

/// The current candidacy, if any.
#[derive(Debug, Default)]
pub(super) struct Election {
    /// When the candidacy started (a [`clock`] reading); `None` outside one.
    started: Option<u64>,
    /// Voters that granted the candidacy (this node first).
    votes: Vec<u64>,
}

impl Election {
    /// A candidacy starts at `now`, with this node's own vote.
    pub(super) fn start(&mut self, self_id: u64, now: u64, group: &GroupSeries) {
        self.started = Some(now);
        self.votes.clear();
        self.votes.push(self_id);
        rec!(group.series => votes_received.set(1));
    }

    /// The candidacy ended at `now`: counts it in `elections` by result and observes its duration.
    pub(super) fn end(&mut self, result: ElectionResult, now: u64, group: &GroupSeries) {
        if let Some(started) = self.started.take() {
            let took = clock::seconds(started, now);
            rec!(group.series => elections.get(result).inc());
            rec!(group.series => election_duration.observe(took));
            if let Some(a) = group.node_wide() {
                a.elections.get(result).inc();
                a.election_duration.observe(took);
            }
        }
    }

    /// `from` granted the candidacy its vote (counted once per voter).
    pub(super) fn vote_granted(&mut self, from: u64, group: &GroupSeries) {
        if !self.votes.contains(&from) {
            self.votes.push(from);
            rec!(group.series => votes_received.set_u64(self.votes.len() as u64));
        }
    }
}
