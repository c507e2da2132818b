//! The guide's "3. Election Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use std::collections::HashSet;
use std::time::Instant;

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

pub type NodeId = u64;

pub struct RaftCandidate {
    topic: String,
    partition: i32,
    election_start_time: Instant,
    votes_received: HashSet<NodeId>,
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftCandidate {
    fn start_election(&mut self) {
        self.election_start_time = std::time::Instant::now();
        // ... election logic
    }

    fn on_election_complete(&mut self, success: bool) {
        let metrics = RaftMetrics::new();
        let latency_ms = self.election_start_time.elapsed().as_millis() as f64;

        metrics.record_election(&self.topic, self.partition, success, latency_ms);
        metrics.set_votes_received(&self.topic, self.partition, self.votes_received.len());
    }
}
// The guide's block ends here.

#[test]
fn every_call_lands() {
    let mut candidate = RaftCandidate {
        topic: "elections".to_owned(),
        partition: 0,
        election_start_time: Instant::now(),
        votes_received: HashSet::new(),
    };
    candidate.start_election();
    candidate.votes_received.extend([1, 2]);
    candidate.on_election_complete(true);
    candidate.start_election();
    candidate.votes_received.remove(&2);
    candidate.on_election_complete(false);

    let s = scrape();
    let p = [("topic", "elections"), ("partition", "0")];
    assert_eq!(value(&s, "chronik_raft_elections_total", &[p[0], p[1], ("result", "won")]), 1.0);
    assert_eq!(value(&s, "chronik_raft_elections_total", &[p[0], p[1], ("result", "lost")]), 1.0);
    assert_eq!(value(&s, "chronik_raft_election_duration_seconds_count", &p), 2.0);
    assert_eq!(value(&s, "chronik_raft_votes_received", &p), 1.0);
}
