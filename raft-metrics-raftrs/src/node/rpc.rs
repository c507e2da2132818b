//! RPCs by (`method`, `target`): calls delivered (counted until the next tick), failed, and
//! their durations.

use std::time::Duration;

use protobuf::ProtobufEnum as _;
use raft::eraftpb::MessageType;
use raft_metrics::raft::{Outcome, RaftMetrics, RpcMetrics};
use raft_metrics::Handle;

use super::group::GroupSeries;
use super::series::rec;
use crate::classify;

/// The `MessageType` values, for per-type RPC handles.
const MESSAGE_TYPES: usize = 19;

/// The RPCs to one target: deliveries since the last tick, and the handles, bound on first use.
struct RpcTarget {
    to: u64,
    delivered: [u64; MESSAGE_TYPES],
    handles: Box<[Option<Handle<RpcMetrics>>; MESSAGE_TYPES]>,
}

impl RpcTarget {
    fn new(to: u64) -> Self {
        Self { to, delivered: [0; MESSAGE_TYPES], handles: Box::new(std::array::from_fn(|_| None)) }
    }

    /// Counts a delivered message of `msg_type`: one indexed add (its series is bound when
    /// the count is recorded, at the next flush).
    #[inline]
    fn delivered(&mut self, msg_type: MessageType) {
        self.delivered[msg_type as usize] += 1;
    }

    /// The (`method`, `target`) series of `msg_type`.
    fn handle(&mut self, metrics: &RaftMetrics, msg_type: MessageType) -> &Handle<RpcMetrics> {
        let to = self.to;
        self.handles[msg_type as usize]
            .get_or_insert_with(|| metrics.families().rpcs.bind((classify::method(msg_type), &to.to_string())))
    }

    /// Records the deliveries counted since the last flush, binding the series of a method
    /// delivered for the first time.
    fn flush(&mut self, metrics: &RaftMetrics) {
        for &msg_type in MessageType::values() {
            if let n @ 1.. = core::mem::take(&mut self.delivered[msg_type as usize]) {
                self.handle(metrics, msg_type).rpc_calls.get(Outcome::Success).add(n);
            }
        }
    }
}

/// The RPC targets, by node (members or not: a message can outlive a membership).
#[derive(Default)]
pub(super) struct Rpcs {
    targets: Vec<RpcTarget>,
}

impl Rpcs {
    /// The target `to`, added the first time it is seen.
    #[inline]
    fn target(&mut self, to: u64) -> &mut RpcTarget {
        let at = self.targets.iter().position(|t| t.to == to).unwrap_or_else(|| {
            self.targets.push(RpcTarget::new(to));
            self.targets.len() - 1
        });
        &mut self.targets[at]
    }

    /// The transport delivered a `msg_type` message to `to`: `rpc_calls_total{result="success"}`
    /// (at the next tick), and `rpc_duration_seconds` when `timed` holds its latency and weight.
    #[inline]
    pub(super) fn delivered(
        &mut self,
        metrics: &RaftMetrics,
        to: u64,
        msg_type: MessageType,
        timed: Option<(Duration, u64)>,
    ) {
        let target = self.target(to);
        target.delivered(msg_type);
        if let Some((latency, weight)) = timed {
            target.handle(metrics, msg_type).rpc_duration.observe_n(latency.as_secs_f64(), weight);
        }
    }

    /// The transport could not deliver a `msg_type` message to `to`: `messages_dropped`,
    /// `rpc_calls_total{result="failure"}` and `rpc_errors_total{error_type="unreachable"}`.
    pub(super) fn failed(&mut self, to: u64, msg_type: MessageType, group: &GroupSeries) {
        rec!(group.series => messages_dropped.inc());
        self.target(to).handle(&group.metrics, msg_type).rpc_calls.get(Outcome::Failure).inc();
        group.metrics.record_rpc_error(classify::method(msg_type), to, "unreachable");
    }

    /// Records the deliveries counted since the last tick.
    pub(super) fn flush(&mut self, metrics: &RaftMetrics) {
        for target in &mut self.targets {
            target.flush(metrics);
        }
    }
}
