use raft_metrics::{Counter, RaftMetrics, Sampled};

#[derive(RaftMetrics)]
struct M {
    /// Messages.
    #[metric(counter, sample = 0)]
    messages: Sampled<Counter>,
}

fn main() {}
