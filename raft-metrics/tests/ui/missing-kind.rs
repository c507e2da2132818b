use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Commits.
    #[metric(unit = "seconds")]
    commits: Counter,
}

fn main() {}
