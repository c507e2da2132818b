//! The real-Prometheus harness of `tests/prometheus_e2e.rs`: the workspace's shared one.

pub(crate) use raft_metrics_e2e::*;
