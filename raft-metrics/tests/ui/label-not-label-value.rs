use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
#[raft_metrics(labels(peers: Vec<u64>))]
struct M {
    /// Commits.
    #[metric(counter)]
    commits: Counter,
}

fn main() {}
