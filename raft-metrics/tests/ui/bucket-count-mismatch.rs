use raft_metrics::{Histogram, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Latency.
    #[metric(histogram, buckets = exponential(0.001, 2.0, 14))]
    latency: Histogram<12>,
}

fn main() {}
