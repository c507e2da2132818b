//! Where this node stands in its group (role, leader, term) and the transitions between: role
//! gauges, the node-wide role counts, leader changes, pre-votes and elections, and the
//! follower's contact with its leader.

use raft::raw_node::RawNode;
use raft::{StateRole, Storage, INVALID_ID};
use raft_metrics::raft::{ElectionResult, NodeMetrics, ReplicaMetrics};
use raft_metrics::Handle;

use super::election::Election;
use super::group::GroupSeries;
use super::series::{rec, Series};
use crate::classify;
use crate::clock::Clock;

/// Role, leader and term, as raft-rs has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Standing {
    pub(super) role: StateRole,
    pub(super) leader: u64,
    pub(super) term: u64,
}

impl Standing {
    #[inline]
    pub(super) fn of<S: Storage>(raw: &RawNode<S>) -> Self {
        Self { role: raw.raft.state, leader: raw.raft.leader_id, term: raw.raft.term }
    }
}

/// What a transition did to this node's leadership; the leader-only states follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leadership {
    Gained,
    Lost,
    Unchanged,
}

/// The node's standing at the last observation, and the series its transitions move.
pub(super) struct Role {
    last: Standing,
    replica: Series<ReplicaMetrics>,
    /// The node-wide series, for this group's share of `leader_partitions` /
    /// `follower_partitions`.
    node: Handle<NodeMetrics>,
    pub(super) election: Election,
}

impl Role {
    /// Publishes `now` as the node's standing: the role gauges, `has_leader`, `current_term`,
    /// this group's share of the node-wide role counts and, with the aggregate, `partitions`.
    pub(super) fn new(
        now: Standing,
        replica: Series<ReplicaMetrics>,
        node: Handle<NodeMetrics>,
        group: &GroupSeries,
    ) -> Self {
        let role = Self { last: now, replica, node, election: Election::default() };
        role.publish_role(None, now.role, group);
        rec!(group.series => has_leader.set(i64::from(now.leader != INVALID_ID)));
        rec!(group.series => current_term.set_u64(now.term));
        if let Some(a) = group.agg() {
            a.partitions.inc();
            if now.leader == INVALID_ID {
                a.partitions_without_leader.inc();
            }
        }
        role
    }

    /// The role at the last observation.
    pub(super) fn current(&self) -> StateRole {
        self.last.role
    }

    /// The term at the last observation.
    pub(super) fn term(&self) -> u64 {
        self.last.term
    }

    /// Whether raft-rs's standing differs from the last observation. Runs after every step and
    /// proposal, so this comparison is inlined and [`transition`](Self::transition) is not.
    #[inline]
    pub(super) fn changed(&self, now: Standing) -> bool {
        now != self.last
    }

    /// Records the transitions from the last observation to `now` (a [`clock`](crate::clock)
    /// reading `at`): elections lost, won or started, pre-votes, leader changes, the role gauges.
    pub(super) fn transition(&mut self, now: Standing, self_id: u64, at: u64, group: &GroupSeries) -> Leadership {
        let Standing { role, leader, term } = now;
        let prev = self.last;
        let new_term = term > prev.term;
        let mut leadership = Leadership::Unchanged;
        if prev.role == StateRole::Candidate && (role != StateRole::Candidate || new_term) && role != StateRole::Leader
        {
            self.election.end(ElectionResult::Lost, at, group);
        }
        if role == StateRole::PreCandidate && prev.role != StateRole::PreCandidate {
            rec!(group.series => pre_votes.inc());
        }
        if role == StateRole::Candidate && (prev.role != StateRole::Candidate || new_term) {
            self.election.start(self_id, at, group);
        }
        if role == StateRole::Leader && prev.role != StateRole::Leader {
            if prev.role != StateRole::Candidate {
                // Campaigned and won within one call: a single voter.
                self.election.start(self_id, at, group);
            }
            self.election.end(ElectionResult::Won, at, group);
            leadership = Leadership::Gained;
        } else if prev.role == StateRole::Leader && role != StateRole::Leader {
            leadership = Leadership::Lost;
        }
        if leader != prev.leader && leader != INVALID_ID {
            rec!(group.series => leader_changes_seen.inc());
            if let Some(a) = group.node_wide() {
                a.leader_changes_seen.inc();
            }
        }
        if let Some(a) = group.agg().filter(|_| (leader == INVALID_ID) != (prev.leader == INVALID_ID)) {
            a.partitions_without_leader.add(if leader == INVALID_ID { 1 } else { -1 });
        }
        if role != prev.role {
            self.publish_role(Some(prev.role), role, group);
        }
        rec!(group.series => has_leader.set(i64::from(leader != INVALID_ID)));
        rec!(group.series => current_term.set_u64(term));
        self.last = now;
        leadership
    }

    fn publish_role(&self, prev: Option<StateRole>, role: StateRole, group: &GroupSeries) {
        rec!(self.replica => node_state.set(classify::node_state(role).code()));
        rec!(group.series => is_leader.set(i64::from(role == StateRole::Leader)));
        if let Some(prev) = prev {
            self.count_role(prev, -1);
        }
        self.count_role(role, 1);
    }

    fn count_role(&self, role: StateRole, delta: i64) {
        match role {
            StateRole::Leader => self.node.leader_partitions.add(delta),
            StateRole::Follower => self.node.follower_partitions.add(delta),
            StateRole::Candidate | StateRole::PreCandidate => {}
        }
    }

    /// Once per tick: `last_contact_timestamp` when the follower heard from its leader since the
    /// last one (the tick's time, within one tick).
    pub(super) fn publish_contact(contacted: bool, group: &GroupSeries, clock: &mut Clock) {
        if contacted {
            let unix = clock.unix();
            rec!(group.series => last_contact_timestamp.set(unix));
        }
    }

    /// The wrapper is closing: takes back this group's share of the node-wide counts.
    pub(super) fn close(&self, group: &GroupSeries) {
        self.count_role(self.last.role, -1);
        if let Some(a) = group.agg() {
            a.partitions.dec();
            if self.last.leader == INVALID_ID {
                a.partitions_without_leader.dec();
            }
        }
    }
}
