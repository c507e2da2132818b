//! [`InstrumentedNetwork`] and [`InstrumentedClient`]: a delegating [`RaftNetworkFactory`] and
//! the [`RaftNetwork`] clients it makes, recording every RPC this node sends.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use openraft::error::{Fatal, InstallSnapshotError, RPCError, RaftError, ReplicationClosed, StreamingError};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, SnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RaftNetwork, RaftNetworkFactory, RaftTypeConfig, Snapshot, Vote};
use raft_metrics::raft::{Outcome, RpcMetrics, SnapshotDirection};
use raft_metrics::Handle;

use crate::clock::{self, Sampler};
use crate::group::{lock, Group, Peer};
use crate::method::{APPEND_ENTRIES, INSTALL_SNAPSHOT, VOTE};

/// The application's [`RaftNetworkFactory`], whose clients record every RPC.
///
/// Created by [`Group::network`].
pub struct InstrumentedNetwork<C: RaftTypeConfig, F> {
    inner: F,
    group: Group<C>,
}

impl<C: RaftTypeConfig, F: Debug> Debug for InstrumentedNetwork<C, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedNetwork").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// A [`RaftNetwork`] client to one peer, recording each RPC it sends.
///
/// | RPC | metrics |
/// | --- | --- |
/// | every RPC | `rpc_calls_total{method, target, result}`; failures: `rpc_errors_total{error_type}` (`unreachable`, `timeout`, `network`, `payload_too_large`, `remote`, `closed`, `storage`) and, when unreachable, `messages_dropped_total`; timed calls: `rpc_duration_seconds`. A call openraft cancels (it drops AppendEntries after `heartbeat_interval`) is a `timeout` failure |
/// | `append_entries` | `heartbeats_sent_total` (every AppendEntries: in openraft each one resets the follower's election timer), `heartbeat_failures_total` (those that failed), `append_entries_sent_total` and, with [`Group::with_entry_size`], `append_entries_sent_bytes_total` (those carrying entries), each answer for the watcher's `last_heartbeat_timestamp_seconds` and `isr_size`, timed calls: `peer_round_trip_seconds` |
/// | `vote` | `votes_received` (granted votes of this node's open election) |
/// | `full_snapshot` | `snapshot_transfers_total{direction="send"}`, `snapshot_in_progress` |
///
/// A success is an answer, whatever it says (a conflict or a higher vote is a normal reply).
pub struct InstrumentedClient<C: RaftTypeConfig, N> {
    inner: N,
    group: Group<C>,
    /// Also holds the AppendEntries series, which the watcher reads for the peer's answers.
    peer: Arc<Peer>,
    vote: Handle<RpcMetrics>,
    snapshot: Handle<RpcMetrics>,
    sampler: Sampler,
}

impl<C: RaftTypeConfig, N: Debug> Debug for InstrumentedClient<C, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedClient")
            .field("inner", &self.inner)
            .field("peer", &self.peer.label)
            .finish_non_exhaustive()
    }
}

impl<C: RaftTypeConfig> Group<C> {
    /// Wraps the group's network factory.
    pub fn network<F: RaftNetworkFactory<C>>(&self, inner: F) -> InstrumentedNetwork<C, F> {
        InstrumentedNetwork { inner, group: self.clone() }
    }
}

impl<C: RaftTypeConfig, F: RaftNetworkFactory<C>> RaftNetworkFactory<C> for InstrumentedNetwork<C, F> {
    type Network = InstrumentedClient<C, F::Network>;

    async fn new_client(&mut self, target: C::NodeId, node: &C::Node) -> Self::Network {
        let inner = self.inner.new_client(target.clone(), node).await;
        let peer = self.group.peer(&target);
        let rpcs = &self.group.shared.metrics.families().rpcs;
        let bind = |method: &str| rpcs.family().bind((method, peer.label.as_str()));
        InstrumentedClient {
            inner,
            vote: bind(VOTE),
            snapshot: bind(INSTALL_SNAPSHOT),
            sampler: Sampler::new(self.group.options.timing, self.group.seed()),
            peer,
            group: self.group.clone(),
        }
    }
}

/// The `error_type` label of an RPC error.
fn rpc_error_type<NID: openraft::NodeId, N: openraft::Node, E: std::error::Error>(
    e: &RPCError<NID, N, E>,
) -> &'static str {
    match e {
        RPCError::Timeout(_) => "timeout",
        RPCError::Unreachable(_) => "unreachable",
        RPCError::PayloadTooLarge(_) => "payload_too_large",
        RPCError::Network(_) => "network",
        RPCError::RemoteError(_) => "remote",
    }
}

fn streaming_error_type<C: RaftTypeConfig, E: std::error::Error>(e: &StreamingError<C, E>) -> &'static str {
    match e {
        StreamingError::Closed(_) => "closed",
        StreamingError::StorageError(_) => "storage",
        StreamingError::Timeout(_) => "timeout",
        StreamingError::Unreachable(_) => "unreachable",
        StreamingError::Network(_) => "network",
        StreamingError::RemoteError(_) => "remote",
    }
}

/// The RPC methods a client records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl Method {
    fn label(self) -> &'static str {
        match self {
            Self::AppendEntries => APPEND_ENTRIES,
            Self::Vote => VOTE,
            Self::InstallSnapshot => INSTALL_SNAPSHOT,
        }
    }
}

/// One RPC in flight. openraft cancels an RPC that outlives its deadline by dropping the call
/// (AppendEntries after `heartbeat_interval`), so a call still unfinished when dropped is
/// recorded as a failure of type `timeout`, with the time it ran.
struct Call<'a, C: RaftTypeConfig> {
    rpc: &'a Handle<RpcMetrics>,
    method: Method,
    target: &'a Peer,
    group: &'a Group<C>,
    /// A [`clock::read`]ing, when the call is timed.
    start: Option<u64>,
    done: bool,
}

impl<C: RaftTypeConfig> Call<'_, C> {
    /// Records the call's outcome: `Err(error_type)` for a failure. An untimed success (most
    /// AppendEntries) is one count, inlined into the caller's future.
    #[inline]
    fn finish(mut self, outcome: Result<(), &'static str>) {
        self.done = true;
        if outcome.is_ok() && self.start.is_none() {
            self.rpc.rpc_calls.get(Outcome::Success).inc();
        } else {
            self.record(outcome);
        }
    }

    /// Everything else (a timed call, a failure, a call dropped unfinished): out of line, so that
    /// the common success above stays a few instructions in every caller's future.
    #[inline(never)]
    fn record(&self, outcome: Result<(), &'static str>) {
        self.rpc.rpc_calls.get(Outcome::from(outcome.is_ok())).inc();
        let elapsed = self.start.map(clock::seconds_since);
        if let Some(seconds) = elapsed {
            self.rpc.rpc_duration.observe(seconds);
        }
        let heartbeat = self.method == Method::AppendEntries;
        let p = &self.target.series;
        match outcome {
            Ok(()) if heartbeat => {
                // The answer's time is taken by the watcher from the `ok` count above (no clock
                // read here).
                if let Some(seconds) = elapsed {
                    p.peer_round_trip.observe(seconds);
                }
            }
            Ok(()) => {}
            Err(error_type) => {
                if heartbeat {
                    p.heartbeat_failures.inc();
                }
                let s = &self.group.shared;
                s.metrics.record_rpc_error(self.method.label(), self.target.label.as_str(), error_type);
                if error_type == "unreachable" {
                    s.series.messages_dropped.inc();
                }
            }
        }
    }
}

impl<C: RaftTypeConfig> Drop for Call<'_, C> {
    fn drop(&mut self) {
        if !self.done {
            self.record(Err("timeout"));
        }
    }
}

impl<C: RaftTypeConfig, N> InstrumentedClient<C, N> {
    /// Whether the client records ([`Group::with_recording`]); when not, every RPC forwards.
    #[inline(always)]
    fn recording(&self) -> bool {
        self.group.options.recording
    }

    /// Starts recording an RPC; the inner client is returned beside the call so that both can
    /// be used at once. AppendEntries is timed by the sampler, the rare RPCs always.
    fn call(&mut self, method: Method) -> (&mut N, Call<'_, C>) {
        let (rpc, start) = match method {
            Method::AppendEntries => (&self.peer.append, self.sampler.start()),
            Method::Vote => (&self.vote, Some(clock::read())),
            Method::InstallSnapshot => (&self.snapshot, Some(clock::read())),
        };
        let call = Call { rpc, method, target: &self.peer, group: &self.group, start, done: false };
        (&mut self.inner, call)
    }
}

impl<C: RaftTypeConfig, N: RaftNetwork<C>> RaftNetwork<C> for InstrumentedClient<C, N> {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C::NodeId>, RPCError<C::NodeId, C::Node, RaftError<C::NodeId>>> {
        if !self.recording() {
            return self.inner.append_entries(rpc, option).await;
        }
        let entries = rpc.entries.len();
        let bytes = match (entries, self.group.options.entry_size) {
            (0, _) | (_, None) => None,
            (_, Some(size)) => Some(rpc.entries.iter().map(size).sum::<u64>()),
        };
        let p = &self.peer.series;
        p.heartbeats_sent.inc();
        if entries > 0 {
            p.append_entries_sent.inc();
            if let Some(bytes) = bytes {
                p.append_entries_sent_bytes.add(bytes);
            }
        }
        let (inner, call) = self.call(Method::AppendEntries);
        let result = inner.append_entries(rpc, option).await;
        call.finish(result.as_ref().map(|_| ()).map_err(rpc_error_type));
        result
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<C>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<C::NodeId>,
        RPCError<C::NodeId, C::Node, RaftError<C::NodeId, InstallSnapshotError>>,
    > {
        if !self.recording() {
            return self.inner.install_snapshot(rpc, option).await;
        }
        let (inner, call) = self.call(Method::InstallSnapshot);
        let result = inner.install_snapshot(rpc, option).await;
        call.finish(result.as_ref().map(|_| ()).map_err(rpc_error_type));
        result
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<C::NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<C::NodeId>, RPCError<C::NodeId, C::Node, RaftError<C::NodeId>>> {
        if !self.recording() {
            return self.inner.vote(rpc, option).await;
        }
        let term = rpc.vote.leader_id.term;
        let (inner, call) = self.call(Method::Vote);
        let result = inner.vote(rpc, option).await;
        call.finish(result.as_ref().map(|_| ()).map_err(rpc_error_type));
        if result.as_ref().is_ok_and(|resp| resp.vote_granted) {
            let votes = lock(&self.group.shared.election).granted(term);
            if let Some(votes) = votes {
                self.group.shared.series.votes_received.set_u64(votes);
            }
        }
        result
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote<C::NodeId>,
        snapshot: Snapshot<C>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C::NodeId>, StreamingError<C, Fatal<C::NodeId>>> {
        if !self.recording() {
            return self.inner.full_snapshot(vote, snapshot, cancel, option).await;
        }
        let group = self.group.clone();
        let s = &group.shared;
        let work = group.snapshot_work();
        let (inner, call) = self.call(Method::InstallSnapshot);
        let result = inner.full_snapshot(vote, snapshot, cancel, option).await;
        call.finish(result.as_ref().map(|_| ()).map_err(streaming_error_type));
        drop(work);
        s.metrics.record_snapshot_transfer(&s.topic, s.partition, SnapshotDirection::Send, result.is_ok());
        result
    }

    fn backoff(&self) -> Backoff {
        self.inner.backoff()
    }
}
