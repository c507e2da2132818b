use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Commits.
    #[metric(counter)]
    commits: Counter,
    name: String,
}

fn main() {}
