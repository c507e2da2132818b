// A bad name is reported in the same build as the derive's other errors (here a missing doc
// comment), not only once they are fixed.
use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    #[metric(counter)]
    commits: Counter,
    /// Lag.
    #[metric(counter, name = "lag-per-partition")]
    lag: Counter,
}

fn main() {}
