use raft_metrics::{Gauge, RaftMetrics};

#[derive(RaftMetrics)]
struct M {
    /// Lag.
    #[metric(gauge)]
    follower_lag_ms: Gauge,
}

fn main() {}
