use raft_metrics::{Gauge, RaftMetrics, Sampled};

#[derive(RaftMetrics)]
struct M {
    /// Term.
    #[metric(gauge, sample = 4)]
    term: Sampled<Gauge>,
}

fn main() {}
