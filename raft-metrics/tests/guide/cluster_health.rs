//! The guide's "1. Cluster Health Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use crate::{scrape, value};

pub type NodeId = String;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RaftState {
    Leader,
    Candidate,
    Follower,
}

pub struct RaftStateMachine {
    pub topic: String,
    pub partition: i32,
    pub node_id: String,
    pub current_term: u64,
    /// This node's role in every partition it hosts.
    pub roles: Vec<RaftState>,
}

impl RaftStateMachine {
    fn count_leader_partitions(&self) -> usize {
        self.roles.iter().filter(|r| **r == RaftState::Leader).count()
    }

    fn count_follower_partitions(&self) -> usize {
        self.roles.iter().filter(|r| **r == RaftState::Follower).count()
    }
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
use raft_metrics::RaftMetrics;

#[rustfmt::skip]
impl RaftStateMachine {
    fn on_state_change(&mut self, old_state: RaftState, new_state: RaftState) {
        let metrics = RaftMetrics::new();

        // Update node state (1=leader, 2=candidate, 3=follower)
        let state_value = match new_state {
            RaftState::Leader => 1,
            RaftState::Candidate => 2,
            RaftState::Follower => 3,
        };
        metrics.set_node_state(&self.topic, self.partition, &self.node_id, state_value);

        // Update leader/follower counts
        let leader_count = self.count_leader_partitions();
        let follower_count = self.count_follower_partitions();
        metrics.set_leader_count(&self.node_id, leader_count);
        metrics.set_follower_count(&self.node_id, follower_count);

        // Update term
        metrics.set_current_term(&self.topic, self.partition, self.current_term);
    }

    fn on_isr_change(&mut self, new_isr: Vec<NodeId>) {
        let metrics = RaftMetrics::new();
        metrics.set_isr_size(&self.topic, self.partition, new_isr.len());
    }

    fn on_commit_index_update(&mut self, commit_index: u64, last_applied: u64) {
        let metrics = RaftMetrics::new();
        metrics.set_commit_index(&self.topic, self.partition, commit_index);
        metrics.set_last_applied(&self.topic, self.partition, last_applied);
    }
}
// The guide's block ends here.

#[test]
fn every_call_lands() {
    let mut node = RaftStateMachine {
        topic: "health".to_owned(),
        partition: 3,
        node_id: "broker-1".to_owned(),
        current_term: 7,
        roles: vec![RaftState::Leader, RaftState::Leader, RaftState::Follower, RaftState::Candidate],
    };
    let p = [("topic", "health"), ("partition", "3")];
    node.on_state_change(RaftState::Follower, RaftState::Candidate);
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_node_state", &[p[0], p[1], ("node", "broker-1")]), 2.0);
    assert_eq!(value(&s, "chronik_raft_is_leader", &p), 0.0);
    node.on_state_change(RaftState::Candidate, RaftState::Leader);
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_node_state", &[p[0], p[1], ("node", "broker-1")]), 1.0);
    assert_eq!(value(&s, "chronik_raft_is_leader", &p), 1.0);
    assert_eq!(value(&s, "chronik_raft_leader_partitions", &[("node", "broker-1")]), 2.0);
    assert_eq!(value(&s, "chronik_raft_follower_partitions", &[("node", "broker-1")]), 1.0);
    assert_eq!(value(&s, "chronik_raft_current_term", &p), 7.0);

    node.on_isr_change(vec!["broker-1".to_owned(), "broker-2".to_owned()]);
    node.on_commit_index_update(120, 117);
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_isr_size", &p), 2.0);
    assert_eq!(value(&s, "chronik_raft_commit_index", &p), 120.0);
    assert_eq!(value(&s, "chronik_raft_last_applied", &p), 117.0);
    assert_eq!(value(&s, "chronik_raft_apply_lag_entries", &p), 3.0);
}
