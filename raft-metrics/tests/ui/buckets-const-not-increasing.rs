use raft_metrics::{Histogram, RaftMetrics};

const LATENCY_BUCKETS: &[f64] = &[0.001, 0.1, 0.01];

#[derive(RaftMetrics)]
struct M {
    /// Latency.
    #[metric(histogram, buckets = LATENCY_BUCKETS)]
    latency: Histogram<3>,
}

fn main() {}
