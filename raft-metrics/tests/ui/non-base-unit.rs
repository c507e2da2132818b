use raft_metrics::{Histogram, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Commit latency.
    #[metric(histogram, unit = "milliseconds", buckets = [1.0, 10.0])]
    commit_latency: Histogram<2>,
}

fn main() {}
