use raft_metrics::{Histogram, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Latency.
    #[metric(histogram, buckets = [0.1, 0.01, 1.0])]
    latency: Histogram<3>,
}

fn main() {}
