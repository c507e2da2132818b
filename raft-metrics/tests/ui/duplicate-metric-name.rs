use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Commits.
    #[metric(counter)]
    commits: Counter,
    /// Commits again.
    #[metric(counter, name = "commits_total")]
    commits_again: Counter,
}

fn main() {}
