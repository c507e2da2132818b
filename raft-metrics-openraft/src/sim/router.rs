//! [`Router`]: the cluster's network. Each RPC is a call on the target's `Raft` handle (which
//! queues it to the target's core over openraft's channels), subject to the faults set on the
//! router: an isolated node neither sends nor receives, a link can be slow, and snapshots to a
//! node can be made to fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::{AnyError, Raft, RaftNetwork, RaftNetworkFactory};

use super::{lock, Node, TypeConfig};
use crate::Group;

/// One running replica as the router reaches it.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) raft: Raft<TypeConfig>,
    /// Its metrics, for what only the receiving side sees (`Group::on_append_entries`).
    pub(crate) group: Option<Group<TypeConfig>>,
}

#[derive(Default)]
struct Routes {
    targets: BTreeMap<(u64, u32), Target>,
    isolated: BTreeSet<u64>,
    failing_snapshots: BTreeSet<u64>,
    link_latency: BTreeMap<u64, Duration>,
}

/// The cluster's network: who is reachable, and how.
#[derive(Clone, Default)]
pub struct Router {
    routes: Arc<Mutex<Routes>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").finish_non_exhaustive()
    }
}

type RpcResult<T, E = RaftError<u64>> = Result<T, RPCError<u64, Node, E>>;

fn unreachable<E: std::error::Error>(why: &str) -> RPCError<u64, Node, E> {
    RPCError::Unreachable(Unreachable::new(&AnyError::error(why)))
}

impl Router {
    pub(crate) fn add(&self, node: u64, partition: u32, target: Target) {
        lock(&self.routes).targets.insert((node, partition), target);
    }

    pub(crate) fn remove(&self, node: u64) {
        lock(&self.routes).targets.retain(|(n, _), _| *n != node);
    }

    /// Cuts `node` off (`true`) or reconnects it.
    pub fn isolate(&self, node: u64, isolated: bool) {
        let mut r = lock(&self.routes);
        if isolated {
            r.isolated.insert(node);
        } else {
            r.isolated.remove(&node);
        }
    }

    /// Makes every snapshot chunk sent to `node` fail (`true`), or go through.
    pub fn fail_snapshots_to(&self, node: u64, failing: bool) {
        let mut r = lock(&self.routes);
        if failing {
            r.failing_snapshots.insert(node);
        } else {
            r.failing_snapshots.remove(&node);
        }
    }

    /// Delays every RPC to `node` by `latency` (zero: none).
    pub fn set_link_latency(&self, node: u64, latency: Duration) {
        lock(&self.routes).link_latency.insert(node, latency);
    }

    /// The target of an RPC from `from` to `to`, with the link's latency; `Err` with why it is
    /// unreachable.
    fn route(&self, from: u64, to: u64, partition: u32, snapshot: bool) -> Result<(Target, Duration), &'static str> {
        let r = lock(&self.routes);
        if r.isolated.contains(&from) || r.isolated.contains(&to) {
            return Err("isolated");
        }
        if snapshot && r.failing_snapshots.contains(&to) {
            return Err("snapshots to this node fail");
        }
        let target = r.targets.get(&(to, partition)).cloned().ok_or("down")?;
        Ok((target, r.link_latency.get(&to).copied().unwrap_or_default()))
    }
}

/// The network factory of one replica: node `from`, partition `partition`.
#[derive(Debug, Clone)]
pub struct RouterNetwork {
    router: Router,
    from: u64,
    partition: u32,
}

impl RouterNetwork {
    /// The network of node `from`'s replica of `partition` on `router`.
    pub fn new(router: Router, from: u64, partition: u32) -> Self {
        Self { router, from, partition }
    }
}

/// A client from one replica to one peer.
#[derive(Debug, Clone)]
pub struct RouterClient {
    net: RouterNetwork,
    to: u64,
}

impl RaftNetworkFactory<TypeConfig> for RouterNetwork {
    type Network = RouterClient;

    async fn new_client(&mut self, target: u64, _node: &Node) -> RouterClient {
        RouterClient { net: self.clone(), to: target }
    }
}

impl RouterClient {
    async fn target<E: std::error::Error>(&self, snapshot: bool) -> RpcResult<Target, E> {
        match self.net.router.route(self.net.from, self.to, self.net.partition, snapshot) {
            Ok((target, latency)) => {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                Ok(target)
            }
            Err(why) => Err(unreachable(why)),
        }
    }
}

impl RaftNetwork<TypeConfig> for RouterClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        let target = self.target(false).await?;
        let vote = rpc.vote;
        let response = target.raft.append_entries(rpc).await;
        if let Some(group) = &target.group {
            group.on_append_entries(&vote, &response);
        }
        response.map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>> {
        let target = self.target(true).await?;
        let response = target.raft.install_snapshot(rpc).await;
        response.map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }

    async fn vote(&mut self, rpc: VoteRequest<u64>, _option: RPCOption) -> RpcResult<VoteResponse<u64>> {
        let target = self.target(false).await?;
        let response = target.raft.vote(rpc).await;
        response.map_err(|e| RPCError::RemoteError(RemoteError::new(self.to, e)))
    }
}
