//! [`Cluster`]: the nodes, their replicas and the faults.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{Config, Raft, ServerState, SnapshotPolicy};
use raft_metrics::raft::RaftMetrics;
use raft_metrics::{Format, Registry, Sampling};
use tokio::runtime::Runtime;

use super::router::{Router, RouterNetwork, Target};
use super::{entry_size, snapshot_size, MemLogStore, MemStateMachine, Node, TypeConfig};
use crate::{Group, DEFAULT_TIMING};

/// The cluster's shape and timing.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Nodes, with ids `1..=nodes`.
    pub nodes: u64,
    /// Partitions (one openraft group each) on every node.
    pub partitions: u32,
    /// The `topic` label.
    pub topic: String,
    /// Which wrapper calls are timed ([`Group::with_timing`]).
    pub timing: Sampling,
    /// Whether the replicas' wrappers record ([`Group::with_recording`]; `false`: they only
    /// forward, for measuring recording's cost).
    pub recording: bool,
    /// Whether the replicas are wrapped at all (`false`: bare stores and network and no watcher,
    /// for measuring what the wrappers cost on top of recording).
    pub wrapped: bool,
    /// openraft's heartbeat interval.
    pub heartbeat: Duration,
    /// openraft's election timeout range, lower bound (the upper is twice it).
    pub election_timeout: Duration,
    /// Worker threads of the cluster's runtime; 0 for a current-thread runtime, where the
    /// cluster runs only inside the calls that wait on it (`Cluster::block_on`, `wait_for`, the
    /// blocking writes): everything then happens on the caller's thread, as an instruction
    /// count needs.
    pub threads: usize,
    /// Whether partition `p` starts led by node `1 + p % nodes` (else node 1 leads them all).
    pub spread_leaders: bool,
    /// How often each watcher reads openraft's metrics
    /// ([`Group::with_refresh`]).
    pub refresh: Duration,
    /// Whether the groups keep `log_size_bytes` ([`Group::with_log_size`]).
    pub log_size: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nodes: 3,
            partitions: 1,
            topic: "orders".to_owned(),
            timing: DEFAULT_TIMING,
            recording: true,
            wrapped: true,
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(150),
            threads: 2,
            spread_leaders: true,
            refresh: crate::DEFAULT_REFRESH,
            log_size: true,
        }
    }
}

/// Why the cluster could not do something.
#[derive(Debug)]
pub struct ClusterError(pub String);

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClusterError {}

pub(super) fn err(e: impl std::fmt::Display) -> ClusterError {
    ClusterError(e.to_string())
}

/// One node's replica of one partition: its "disk" (kept across crashes) and, while it runs,
/// its `Raft`.
pub(super) struct Replica {
    log: MemLogStore,
    sm: MemStateMachine,
    pub(super) raft: Option<Raft<TypeConfig>>,
    pub(super) group: Option<Group<TypeConfig>>,
}

/// One node: its registry (new at every restart) and replicas.
struct Host {
    registry: Arc<Registry>,
    replicas: BTreeMap<u32, Replica>,
    up: bool,
}

/// N nodes × P partitions of openraft in this process; see the [module docs](super).
pub struct Cluster {
    config: ClusterConfig,
    raft_config: Arc<Config>,
    router: Router,
    hosts: BTreeMap<u64, Host>,
    isolated: BTreeSet<u64>,
    // Last: dropped after the hosts' `Raft`s have been shut down in `drop`.
    pub(super) rt: Runtime,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Starts the nodes, initialises every partition with all of them as voters (partition `p`
    /// from node `1 + p % nodes`, which then leads it, or from node 1 without
    /// [`spread_leaders`](ClusterConfig::spread_leaders)) and waits (at most 10 s) for a leader in
    /// each.
    ///
    /// # Errors
    ///
    /// When the runtime, openraft's configuration or a node cannot start, or no leader emerges.
    pub fn new(config: ClusterConfig) -> Result<Self, ClusterError> {
        let mut builder = if config.threads == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(config.threads);
            b
        };
        let rt = builder.enable_all().build().map_err(err)?;
        let timeout = u64::try_from(config.election_timeout.as_millis()).unwrap_or(150);
        let raft_config = Config {
            cluster_name: config.topic.clone(),
            heartbeat_interval: u64::try_from(config.heartbeat.as_millis()).unwrap_or(50),
            election_timeout_min: timeout,
            election_timeout_max: 2 * timeout,
            // Snapshots only when asked (`snapshot`), and then the whole log goes, so a
            // follower behind it must be sent the snapshot.
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: 0,
            purge_batch_size: 1,
            ..Config::default()
        };
        let raft_config = Arc::new(raft_config.validate().map_err(err)?);
        let mut c = Self {
            config,
            raft_config,
            router: Router::default(),
            hosts: BTreeMap::new(),
            isolated: BTreeSet::new(),
            rt,
        };
        for node in 1..=c.config.nodes {
            c.start_host(node)?;
        }
        let members: BTreeMap<u64, Node> = (1..=c.config.nodes).map(|n| (n, Node::default())).collect();
        for p in 0..c.config.partitions {
            // The initialising node campaigns first and, with everyone up, wins.
            let first = if c.config.spread_leaders { 1 + u64::from(p) % c.config.nodes } else { 1 };
            let raft = c.raft(first, p).ok_or_else(|| err("the initialising node is not running"))?;
            c.rt.block_on(raft.initialize(members.clone())).map_err(err)?;
        }
        for p in 0..c.config.partitions {
            c.wait_leader(p, Duration::from_secs(10)).ok_or_else(|| err(format!("no leader in partition {p}")))?;
        }
        Ok(c)
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Starts node `node` with a fresh registry, on its existing stores (new ones the first time).
    fn start_host(&mut self, node: u64) -> Result<(), ClusterError> {
        let registry = Arc::new(Registry::new());
        let metrics = RaftMetrics::with_registry(&registry).map_err(err)?;
        let mut replicas = self.hosts.remove(&node).map(|h| h.replicas).unwrap_or_default();
        for p in 0..self.config.partitions {
            let replica = replicas.entry(p).or_insert_with(|| Replica {
                log: MemLogStore::default(),
                sm: MemStateMachine::default(),
                raft: None,
                group: None,
            });
            let net = RouterNetwork::new(self.router.clone(), node, p);
            let (log, sm) = (replica.log.clone(), replica.sm.clone());
            let config = Arc::clone(&self.raft_config);
            let (raft, group) = if self.config.wrapped {
                let mut group = Group::new(&metrics, &self.config.topic, p, node)
                    .with_recording(self.config.recording)
                    .with_timing(self.config.timing)
                    .with_refresh(self.config.refresh)
                    .with_entry_size(entry_size)
                    .with_snapshot_size(snapshot_size);
                if self.config.log_size {
                    group = group.with_log_size();
                }
                let raft = self
                    .rt
                    .block_on(Raft::new(
                        node,
                        config,
                        group.network(net),
                        group.log_store(log),
                        group.state_machine(sm),
                    ))
                    .map_err(err)?;
                self.rt.spawn(group.watch(raft.metrics()));
                (raft, Some(group))
            } else {
                (self.rt.block_on(Raft::new(node, config, net, log, sm)).map_err(err)?, None)
            };
            self.router.add(node, p, Target { raft: raft.clone(), group: group.clone() });
            replica.raft = Some(raft);
            replica.group = group;
        }
        self.hosts.insert(node, Host { registry, replicas, up: true });
        Ok(())
    }

    /// Stops openraft's timers on every running replica (heartbeats and election timeouts), so
    /// that only writes move the cluster: what an instruction count of a write loop needs.
    pub fn quiesce(&self) {
        for replica in self.hosts.values().flat_map(|h| h.replicas.values()) {
            if let Some(raft) = &replica.raft {
                raft.runtime_config().heartbeat(false);
                raft.runtime_config().elect(false);
            }
        }
    }

    /// Switches `node`'s election timer for `p` off (`false`) or on.
    pub fn set_elect(&self, node: u64, p: u32, enabled: bool) {
        if let Some(raft) = self.raft(node, p) {
            raft.runtime_config().elect(enabled);
        }
    }

    // ---- faults ------------------------------------------------------------------------------

    /// Cuts `node` off from every other node (both directions), or reconnects it.
    pub fn isolate(&mut self, node: u64, isolated: bool) {
        self.router.isolate(node, isolated);
        if isolated {
            self.isolated.insert(node);
        } else {
            self.isolated.remove(&node);
        }
    }

    /// Stops every replica of `node` (its stores survive; its `/metrics` is gone).
    pub fn crash(&mut self, node: u64) {
        self.router.remove(node);
        let Some(host) = self.hosts.get_mut(&node) else { return };
        host.up = false;
        for replica in host.replicas.values_mut() {
            stop(&self.rt, replica);
        }
    }

    /// Restarts a crashed `node` on its stores, with a fresh registry.
    ///
    /// # Errors
    ///
    /// When openraft refuses to start on the stores.
    pub fn restart(&mut self, node: u64) -> Result<(), ClusterError> {
        if self.hosts.get(&node).is_some_and(|h| h.up) {
            return Ok(());
        }
        self.start_host(node)
    }

    /// Builds a snapshot on `node` for partition `p` and purges the log it covers; waits (at
    /// most 5 s) for it. Returns the snapshot's last index.
    ///
    /// # Errors
    ///
    /// When the replica is not running or the snapshot does not appear in time.
    pub fn snapshot(&self, node: u64, p: u32) -> Result<u64, ClusterError> {
        let raft = self.raft(node, p).ok_or_else(|| err("not running"))?;
        let applied = self.replica(node, p).and_then(|r| r.sm.data().last_applied).map_or(0, |l| l.index);
        self.rt.block_on(raft.trigger().snapshot()).map_err(err)?;
        let done = self.wait_for(Duration::from_secs(5), |c| {
            c.replica(node, p).and_then(|r| r.log.data().purged).is_some_and(|purged| purged.index >= applied)
        });
        done.then_some(applied).ok_or_else(|| err("no snapshot and purge within 5 s"))
    }

    /// Adds node `node` (empty stores, uninitialised); join it with [`add_learner`](Self::add_learner).
    ///
    /// # Errors
    ///
    /// When it cannot start.
    pub fn add_node(&mut self, node: u64) -> Result<(), ClusterError> {
        self.start_host(node)
    }

    /// Asks `p`'s leader to add `node` as a learner and waits until it has caught up.
    ///
    /// # Errors
    ///
    /// When there is no leader or openraft refuses.
    pub fn add_learner(&self, p: u32, node: u64) -> Result<(), ClusterError> {
        let leader = self.leader(p).and_then(|l| self.raft(l, p)).ok_or_else(|| err("no leader"))?;
        self.rt.block_on(leader.add_learner(node, Node::default(), true)).map_err(err)?;
        Ok(())
    }

    /// Asks `p`'s leader to make `voters` the voters (others stay learners when `retain`).
    ///
    /// # Errors
    ///
    /// When there is no leader or openraft refuses.
    pub fn change_membership(&self, p: u32, voters: &[u64], retain: bool) -> Result<(), ClusterError> {
        let leader = self.leader(p).and_then(|l| self.raft(l, p)).ok_or_else(|| err("no leader"))?;
        let voters: BTreeSet<u64> = voters.iter().copied().collect();
        self.rt.block_on(leader.change_membership(voters, retain)).map_err(err)?;
        Ok(())
    }

    /// Makes every append on `node` take `latency` (a slow disk).
    pub fn set_disk_latency(&self, node: u64, latency: Duration) {
        self.each_replica(node, |r| r.log.set_latency(latency));
    }

    /// Makes every apply on `node` take `latency` (a slow state machine).
    pub fn set_apply_latency(&self, node: u64, latency: Duration) {
        self.each_replica(node, |r| r.sm.set_latency(latency));
    }

    /// Stops (`true`) or resumes applying on `node`.
    pub fn stall_apply(&self, node: u64, stalled: bool) {
        self.each_replica(node, |r| r.sm.stall(stalled));
    }

    /// Delays every RPC to `node` by `latency`.
    pub fn set_link_latency(&self, node: u64, latency: Duration) {
        self.router.set_link_latency(node, latency);
    }

    /// Makes snapshot transfers to `node` fail (`true`) or go through.
    pub fn fail_snapshots_to(&self, node: u64, failing: bool) {
        self.router.fail_snapshots_to(node, failing);
    }

    fn each_replica(&self, node: u64, f: impl Fn(&Replica)) {
        self.hosts.get(&node).into_iter().flat_map(|h| h.replicas.values()).for_each(f);
    }

    // ---- inspection --------------------------------------------------------------------------

    pub(super) fn replica(&self, node: u64, p: u32) -> Option<&Replica> {
        self.hosts.get(&node)?.replicas.get(&p)
    }

    /// Node ids, running or not.
    pub fn node_ids(&self) -> Vec<u64> {
        self.hosts.keys().copied().collect()
    }

    /// Whether `node` runs (it may still be isolated).
    pub fn is_up(&self, node: u64) -> bool {
        self.hosts.get(&node).is_some_and(|h| h.up)
    }

    /// Whether `node` runs and is connected.
    pub fn is_reachable(&self, node: u64) -> bool {
        self.is_up(node) && !self.isolated.contains(&node)
    }

    /// The `Raft` of `node` for partition `p`, while it runs.
    pub fn raft(&self, node: u64, p: u32) -> Option<Raft<TypeConfig>> {
        self.replica(node, p)?.raft.clone()
    }

    /// openraft's own metrics of `node` for `p`, while it runs.
    pub fn raft_metrics(&self, node: u64, p: u32) -> Option<openraft::RaftMetrics<u64, Node>> {
        Some(self.raft(node, p)?.metrics().borrow().clone())
    }

    /// The log store of `node` for `p` (its data survives crashes).
    pub fn log(&self, node: u64, p: u32) -> Option<MemLogStore> {
        Some(self.replica(node, p)?.log.clone())
    }

    /// The state machine of `node` for `p`.
    pub fn state_machine(&self, node: u64, p: u32) -> Option<MemStateMachine> {
        Some(self.replica(node, p)?.sm.clone())
    }

    /// The registry `node` exports, while it runs.
    pub fn registry(&self, node: u64) -> Option<Arc<Registry>> {
        self.hosts.get(&node).filter(|h| h.up).map(|h| Arc::clone(&h.registry))
    }

    /// `node`'s exposition (Prometheus text), while it runs.
    pub fn scrape(&self, node: u64) -> Option<String> {
        Some(self.registry(node)?.encode_to_string(Format::Prometheus))
    }

    /// The leader of `p`: the reachable node that leads at the highest term.
    pub fn leader(&self, p: u32) -> Option<u64> {
        self.hosts
            .keys()
            .filter(|&&n| self.is_reachable(n))
            .filter_map(|&n| self.raft_metrics(n, p).map(|m| (n, m)))
            .filter(|(n, m)| m.state == ServerState::Leader && m.current_leader == Some(*n))
            .max_by_key(|(_, m)| m.current_term)
            .map(|(n, _)| n)
    }

    /// The voters of `p`, as its leader (else node 1, else any running node) knows them.
    pub fn voters(&self, p: u32) -> Vec<u64> {
        let node = self.leader(p).or_else(|| self.hosts.keys().copied().find(|&n| self.is_up(n)));
        node.and_then(|n| self.raft_metrics(n, p))
            .map(|m| m.membership_config.membership().voter_ids().collect())
            .unwrap_or_default()
    }

    /// Polls `f` every 5 ms until it holds or `timeout` passes; whether it held.
    pub fn wait_for(&self, timeout: Duration, mut f: impl FnMut(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            // Sleeping on the runtime drives a current-thread one (`threads: 0`).
            self.rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
        }
    }

    /// Runs `future` on the cluster's runtime (with `threads: 0`, the only time the cluster
    /// runs).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// The leader of `p` that every reachable member follows, if there is one now. A leader alone
    /// is not enough after a fault: a node that rejoins brings the higher term it campaigned
    /// at, and the leader it meets steps down a moment later.
    pub fn agreed_leader(&self, p: u32) -> Option<u64> {
        self.leader(p).filter(|&l| {
            self.hosts.keys().filter(|&&n| self.is_reachable(n)).all(|&n| {
                self.raft_metrics(n, p).is_some_and(|m| {
                    let member = m.membership_config.membership().get_node(&n).is_some();
                    !member || m.current_leader == Some(l)
                })
            })
        })
    }

    /// Waits until `p` has a leader that every reachable member follows; returns it.
    pub fn wait_leader(&self, p: u32, timeout: Duration) -> Option<u64> {
        let mut found = None;
        self.wait_for(timeout, |c| {
            found = c.agreed_leader(p);
            found.is_some()
        });
        found
    }

    /// Waits until every reachable replica of `p` has applied the leader's last entry.
    pub fn settle(&self, p: u32, timeout: Duration) -> bool {
        self.wait_for(timeout, |c| {
            let Some(last) = c.leader(p).and_then(|l| c.raft_metrics(l, p)).and_then(|m| m.last_log_index) else {
                return false;
            };
            c.hosts
                .keys()
                .filter(|&&n| c.is_reachable(n))
                .all(|&n| c.raft_metrics(n, p).is_some_and(|m| m.last_applied.is_some_and(|a| a.index == last)))
        })
    }
}

/// Shuts a replica's `Raft` down. A slow disk or state machine is made fast first (a crash does
/// not wait for them), and openraft gets 5 s to stop.
fn stop(rt: &Runtime, replica: &mut Replica) {
    replica.log.set_latency(Duration::ZERO);
    replica.sm.set_latency(Duration::ZERO);
    replica.sm.stall(false);
    if let Some(raft) = replica.raft.take() {
        let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), raft.shutdown()).await });
    }
    replica.group = None;
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for host in self.hosts.values_mut() {
            for replica in host.replicas.values_mut() {
                stop(&self.rt, replica);
            }
        }
    }
}
