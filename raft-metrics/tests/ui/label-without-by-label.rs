use raft_metrics::{Counter, LabelValue, RaftMetrics};

#[derive(Clone, Copy, LabelValue)]
enum Reason {
    A,
}

#[derive(RaftMetrics)]
struct M {
    /// Rejections.
    #[metric(counter, label(reason: Reason))]
    rejected: Counter,
}

fn main() {
    let _ = Reason::A;
}
