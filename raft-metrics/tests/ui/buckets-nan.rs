use raft_metrics::{Histogram, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Latency.
    #[metric(histogram, buckets = [0.1, f64::NAN])]
    latency: Histogram<2>,
}

fn main() {}
