use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
#[raft_metrics(labels(le: &str))]
struct M {
    /// Commits.
    #[metric(counter)]
    commits: Counter,
}

fn main() {}
