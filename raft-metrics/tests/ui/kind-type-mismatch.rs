use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Current term.
    #[metric(gauge)]
    term: Counter,
}

fn main() {}
