use raft_metrics::{Histogram, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Latency.
    #[metric(histogram, buckets = [])]
    latency: Histogram<0>,
}

fn main() {}
