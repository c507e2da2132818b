//! [`Exporters`]: one `/metrics` endpoint per running node of a [`Cluster`], as a deployment
//! has one per process.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use raft_metrics::http::Endpoints;

use super::Cluster;

/// The cluster's endpoints: node `n` serves its registry on `127.0.0.1:base + n - 1` (or an
/// ephemeral port when `base` is 0, kept across restarts). A crashed node's endpoint is down; a
/// restarted node serves its fresh registry again on the same port.
#[derive(Debug)]
pub struct Exporters(Endpoints);

impl Exporters {
    /// Endpoints on `127.0.0.1:base + n - 1` (`base` 0: ephemeral ports).
    pub fn new(base: u16) -> Self {
        Self(Endpoints::new(SocketAddr::from((Ipv4Addr::LOCALHOST, base))))
    }

    /// Starts, restarts or stops endpoints to match the cluster. A port still held (a restart
    /// right after a crash) is retried at the next call.
    pub fn sync(&mut self, cluster: &Cluster) {
        self.0.sync(cluster.node_ids().into_iter().filter_map(|n| cluster.registry(n).map(|r| (n, r))));
    }

    /// The port of each node that has served (running or not).
    pub fn ports(&self) -> &BTreeMap<u64, u16> {
        self.0.ports()
    }

    /// How many endpoints are up.
    pub fn serving(&self) -> usize {
        self.0.serving()
    }

    /// Stops every endpoint.
    pub fn shutdown(&mut self) {
        self.0.shutdown();
    }
}
