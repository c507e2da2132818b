use raft_metrics::{Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Messages.
    #[metric(counter, sample = 16)]
    messages: Counter,
}

fn main() {}
