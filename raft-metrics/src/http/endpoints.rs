//! [`Endpoints`]: one `/metrics` server per node of an in-process cluster, kept in step with the
//! nodes as they crash and restart.
//!
//! A deployment runs one process per node and one [`Server`] in each. A test or a demo running a
//! whole cluster in one process needs the same from outside: a port per node that stays the same
//! across the node's restarts (so a Prometheus scraping it sees the target go down and come back),
//! a fresh server when the node comes back with a fresh registry, and no server while it is down.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Server;
use crate::Registry;

/// How long a server of an [`Endpoints`] waits for a request: scrapers are local.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// One [`Server`] per node of an in-process cluster.
///
/// Node `n` is served on the base address's IP and port `base + n - 1`, or on a port the OS picks
/// when the base port is 0; either way the node keeps its port across restarts.
///
/// ```
/// use std::sync::Arc;
///
/// use raft_metrics::http::Endpoints;
/// use raft_metrics::Registry;
///
/// let (one, two) = (Arc::new(Registry::new()), Arc::new(Registry::new()));
/// let mut endpoints = Endpoints::new("127.0.0.1:0".parse()?);
/// assert!(endpoints.sync([(1, Arc::clone(&one)), (2, Arc::clone(&two))]).is_empty());
/// let port = endpoints.ports()[&2];
///
/// // Node 2 crashes: its endpoint goes down. It restarts with a fresh registry: served again,
/// // on the same port.
/// endpoints.sync([(1, Arc::clone(&one))]);
/// assert_eq!(endpoints.serving(), 1);
/// endpoints.sync([(1, one), (2, Arc::new(Registry::new()))]);
/// assert_eq!((endpoints.serving(), endpoints.ports()[&2]), (2, port));
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub struct Endpoints {
    base: SocketAddr,
    slots: u64,
    ports: BTreeMap<u64, u16>,
    servers: BTreeMap<u64, (Arc<Registry>, Server)>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints").field("base", &self.base).field("ports", &self.ports).finish_non_exhaustive()
    }
}

impl Endpoints {
    /// No endpoints yet; node `n` will be served on `base`'s IP, port `base.port() + n - 1`
    /// (base port 0: a port the OS picks).
    pub fn new(base: SocketAddr) -> Self {
        Self { base, slots: u64::MAX, ports: BTreeMap::new(), servers: BTreeMap::new() }
    }

    /// Uses at most `slots` ports from the base: nodes past the last share it, one at a time (a
    /// demo's node joining after another left). A second such node fails to start until the
    /// first stops, and is retried.
    #[must_use]
    pub fn with_slots(mut self, slots: u64) -> Self {
        self.slots = slots.max(1);
        self
    }

    /// The address node `n` is served on, or will be (port 0 while the OS has not picked it).
    pub fn addr(&self, n: u64) -> SocketAddr {
        let port = match (self.ports.get(&n), self.base.port()) {
            (Some(&port), _) => port,
            (None, 0) => 0,
            (None, base) => {
                let slot = n.clamp(1, self.slots) - 1;
                u16::try_from(u64::from(base) + slot).unwrap_or(0)
            }
        };
        SocketAddr::new(self.base.ip(), port)
    }

    /// Serves exactly the nodes of `running` (node id, its registry): starts a server for a node
    /// not served yet, restarts one whose registry changed (the node restarted), and stops the
    /// servers of nodes not listed. Returns the nodes whose server could not start, with the
    /// error; they are retried at the next call (a port a crashed node held can take a moment to
    /// free).
    pub fn sync(&mut self, running: impl IntoIterator<Item = (u64, Arc<Registry>)>) -> Vec<(u64, io::Error)> {
        let want: BTreeMap<u64, Arc<Registry>> = running.into_iter().collect();
        self.servers.retain(|n, (registry, _)| want.get(n).is_some_and(|w| Arc::ptr_eq(w, registry)));
        let mut failed = Vec::new();
        for (n, registry) in want {
            if self.servers.contains_key(&n) {
                continue;
            }
            let started =
                Server::builder().bind(self.addr(n)).registry(Arc::clone(&registry)).read_timeout(READ_TIMEOUT).start();
            match started {
                Ok(server) => {
                    self.ports.insert(n, server.local_addr().port());
                    self.servers.insert(n, (registry, server));
                }
                Err(e) => failed.push((n, e)),
            }
        }
        failed
    }

    /// The port of each node served so far (running or not).
    pub fn ports(&self) -> &BTreeMap<u64, u16> {
        &self.ports
    }

    /// How many servers are up.
    pub fn serving(&self) -> usize {
        self.servers.len()
    }

    /// Stops every server (also done on drop).
    pub fn shutdown(&mut self) {
        // Dropping a `Server` shuts it down.
        self.servers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_keeps_its_base_port_across_restarts_and_a_failed_start_is_retried() {
        // A free port, then held by someone else while node 1 starts.
        let base = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let squatter = std::net::TcpListener::bind(("127.0.0.1", base)).unwrap();
        let mut endpoints = Endpoints::new(SocketAddr::from(([127, 0, 0, 1], base)));
        let registry = Arc::new(Registry::new());
        let failed = endpoints.sync([(1, Arc::clone(&registry))]);
        assert_eq!(failed.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1]);
        assert_eq!(endpoints.serving(), 0);
        drop(squatter);
        assert!(endpoints.sync([(1, Arc::clone(&registry))]).is_empty());
        assert_eq!(endpoints.ports()[&1], base);
        // Same registry: the same server. Down, then back with a new registry: the same port.
        assert!(endpoints.sync([(1, Arc::clone(&registry))]).is_empty());
        endpoints.sync([]);
        assert_eq!(endpoints.serving(), 0);
        assert!(endpoints.sync([(1, Arc::new(Registry::new()))]).is_empty());
        assert_eq!((endpoints.serving(), endpoints.ports()[&1]), (1, base));
    }
}
