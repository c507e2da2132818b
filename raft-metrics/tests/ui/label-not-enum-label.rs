use raft_metrics::{ByLabel, Counter, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Rejections.
    #[metric(counter, label(reason: String))]
    rejected: ByLabel<String, Counter, 2>,
}

fn main() {}
