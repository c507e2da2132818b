use raft_metrics::{ByLabel, Counter, LabelValue, RaftMetrics};

#[derive(Clone, Copy, LabelValue)]
enum Reason {
    A,
}

#[derive(RaftMetrics)]
struct M {
    /// Rejections.
    #[metric(counter, label(__reason: Reason))]
    rejected: ByLabel<Reason, Counter, 1>,
}

fn main() {
    let _ = Reason::A;
}
