use raft_metrics::{Gauge, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    #[metric(gauge)]
    term: Gauge,
}

fn main() {}
