//! One simulated node's process: its registry, its metrics and whether it runs.

use std::sync::Arc;

use raft_metrics::raft::{RaftMetrics, RaftOptions};
use raft_metrics::Registry;

use super::Error;

/// Whether a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    /// Ticks, sends and receives.
    Up,
    /// Frozen with its memory intact: neither ticks nor receives (messages to it are lost).
    Paused,
    /// Down: like paused until [`Cluster::restart`](super::Cluster::restart) re-creates it from
    /// its storage.
    Crashed,
}

/// One node's process: its registry and whether it runs.
pub(super) struct Host {
    pub(super) registry: Arc<Registry>,
    pub(super) metrics: RaftMetrics,
    pub(super) status: HostStatus,
}

impl Host {
    pub(super) fn new(options: &RaftOptions) -> Result<Self, Error> {
        let registry = Arc::new(Registry::new());
        let metrics = RaftMetrics::with_options(&registry, options)?;
        Ok(Self { registry, metrics, status: HostStatus::Up })
    }
}
