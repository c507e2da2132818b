use raft_metrics::{Histogram, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Latency.
    #[metric(histogram, unit = "seconds", unit = "bytes", buckets = [1.0])]
    latency: Histogram<1>,
}

fn main() {}
