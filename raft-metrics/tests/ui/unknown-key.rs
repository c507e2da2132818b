use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Commits.
    #[metric(counter, bogus = 1)]
    commits: Counter,
}

fn main() {}
