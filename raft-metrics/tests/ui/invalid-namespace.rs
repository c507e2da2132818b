use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
#[raft_metrics(namespace = "9raft")]
struct M {
    /// Commits.
    #[metric(counter)]
    commits: Counter,
}

fn main() {}
