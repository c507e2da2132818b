use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Commits.
    #[metric(counter, name = "commits-per-partition")]
    commits: Counter,
}

fn main() {}
