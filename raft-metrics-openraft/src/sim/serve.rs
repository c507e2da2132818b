//! [`Exporters`]: one `/metrics` endpoint per running node of a [`Cluster`], as a deployment
//! has one per process.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use raft_metrics::http::Server;
use raft_metrics::Registry;

use super::Cluster;

/// The cluster's endpoints: node `n` serves its registry on `base + n - 1` (or an ephemeral
/// port when `base` is 0, kept across restarts). A crashed node's endpoint is down; a restarted
/// node serves its fresh registry again on the same port.
pub struct Exporters {
    base: u16,
    ports: BTreeMap<u64, u16>,
    servers: BTreeMap<u64, (Arc<Registry>, Server)>,
}

impl std::fmt::Debug for Exporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporters").field("ports", &self.ports).finish_non_exhaustive()
    }
}

impl Exporters {
    /// Endpoints on `127.0.0.1:base + n - 1` (`base` 0: ephemeral ports).
    pub fn new(base: u16) -> Self {
        Self { base, ports: BTreeMap::new(), servers: BTreeMap::new() }
    }

    /// Starts, restarts or stops endpoints to match the cluster. A port still held (a restart
    /// right after a crash) is retried at the next call.
    pub fn sync(&mut self, cluster: &Cluster) {
        let want: BTreeMap<u64, Arc<Registry>> =
            cluster.node_ids().into_iter().filter_map(|n| cluster.registry(n).map(|r| (n, r))).collect();
        let stale: Vec<u64> = self
            .servers
            .iter()
            .filter(|(n, (r, _))| want.get(n).is_none_or(|w| !Arc::ptr_eq(w, r)))
            .map(|(n, _)| *n)
            .collect();
        for n in stale {
            if let Some((_, server)) = self.servers.remove(&n) {
                server.shutdown();
            }
        }
        for (n, registry) in want {
            if self.servers.contains_key(&n) {
                continue;
            }
            let port = match (self.ports.get(&n), self.base) {
                (Some(&port), _) => port,
                (None, 0) => 0,
                (None, base) => u16::try_from(u64::from(base) + n - 1).unwrap_or(0),
            };
            let started = Server::builder()
                .bind(SocketAddr::from(([127, 0, 0, 1], port)))
                .registry(Arc::clone(&registry))
                .read_timeout(Duration::from_secs(2))
                .start();
            if let Ok(server) = started {
                self.ports.insert(n, server.local_addr().port());
                self.servers.insert(n, (registry, server));
            }
        }
    }

    /// The port of each node that has served (running or not).
    pub fn ports(&self) -> &BTreeMap<u64, u16> {
        &self.ports
    }

    /// How many endpoints are up.
    pub fn serving(&self) -> usize {
        self.servers.len()
    }

    /// Stops every endpoint.
    pub fn shutdown(&mut self) {
        for (_, (_, server)) in std::mem::take(&mut self.servers) {
            server.shutdown();
        }
    }
}

impl Drop for Exporters {
    fn drop(&mut self) {
        self.shutdown();
    }
}
