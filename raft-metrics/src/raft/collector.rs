//! The integration guide's periodic collector: reads a node's Raft state through
//! [`RaftNodeView`] every interval and sets the gauges that describe it, on a thread of its own.
//!
//! Use it for state a Raft library only exposes by polling (roles, indices, follower progress);
//! events (commits, elections, rejections) are better recorded where they happen.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{InSync, NodeState, RaftMetrics};

/// A follower's replication progress, as the leader sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FollowerStatus<'a> {
    /// The follower's id.
    pub id: &'a str,
    /// Highest index known replicated on the follower.
    pub match_index: u64,
    /// Milliseconds since the leader last heard from the follower.
    pub last_contact_ms: f64,
    /// Whether the follower votes (a learner does not).
    pub voter: bool,
}

/// One group's state on this node.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionStatus<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: u32,
    /// This node's role, `None` while unknown.
    pub state: Option<NodeState>,
    /// Current term.
    pub term: u64,
    /// The leader's id, `None` while no leader is known.
    pub leader: Option<&'a str>,
    /// Last index in this node's log.
    pub last_index: u64,
    /// Commit index.
    pub commit_index: u64,
    /// Last applied index.
    pub last_applied: u64,
    /// Voters in the configuration.
    pub voters: u64,
    /// Learners in the configuration.
    pub learners: u64,
    /// Follower progress (leader only; empty on followers).
    pub followers: &'a [FollowerStatus<'a>],
}

/// What the collector reads: implemented by the application over its Raft node(s).
pub trait RaftNodeView: Send + 'static {
    /// This node's id.
    fn node_id(&self) -> String;
    /// Calls `visit` once per group this node hosts.
    fn visit_partitions(&self, visit: &mut dyn FnMut(&PartitionStatus<'_>));
}

/// Applies one view of the node to the metrics: what each tick of the collector does.
pub fn collect(metrics: &RaftMetrics, view: &dyn RaftNodeView, in_sync: InSync) {
    let node = view.node_id();
    let (mut leading, mut following, mut hosted, mut leaderless) = (0u64, 0u64, 0u64, 0u64);
    let aggregate = metrics.aggregate();
    view.visit_partitions(&mut |status| {
        hosted += 1;
        leaderless += u64::from(status.leader.is_none());
        if let Some(a) = aggregate {
            #[allow(clippy::cast_precision_loss)] // indices are far below 2^53
            a.apply_lag_entries.observe(status.commit_index.saturating_sub(status.last_applied) as f64);
            if status.state == Some(NodeState::Leader) {
                for follower in status.followers {
                    #[allow(clippy::cast_precision_loss)]
                    a.follower_lag_entries.observe(status.last_index.saturating_sub(follower.match_index) as f64);
                    a.follower_lag.observe_ms(follower.last_contact_ms);
                }
            }
        }
        let (topic, partition) = (status.topic, status.partition);
        let p = metrics.families().partitions.get((topic, partition));
        p.current_term.set_u64(status.term);
        p.last_index.set_u64(status.last_index);
        p.commit_index.set_u64(status.commit_index);
        p.last_applied.set_u64(status.last_applied);
        p.apply_lag_entries.set_u64(status.commit_index.saturating_sub(status.last_applied));
        p.has_leader.set(i64::from(status.leader.is_some()));
        p.voters.set_u64(status.voters);
        p.learners.set_u64(status.learners);
        p.cluster_size.set_u64(status.voters + status.learners);
        let code = status.state.map_or(0, NodeState::code);
        metrics.families().replicas.get((topic, partition, &node)).node_state.set(code);
        p.is_leader.set(i64::from(status.state == Some(NodeState::Leader)));
        match status.state {
            Some(NodeState::Leader) => {
                leading += 1;
                // The leader itself is in sync.
                let mut isr = 1u64;
                let mut max_lag = 0u64;
                for follower in status.followers {
                    let lag = status.last_index.saturating_sub(follower.match_index);
                    max_lag = max_lag.max(lag);
                    let peer = metrics.families().peers.get((topic, partition, follower.id));
                    peer.follower_lag_entries.set_u64(lag);
                    peer.follower_lag.set(follower.last_contact_ms / 1000.0);
                    let silence =
                        Duration::try_from_secs_f64(follower.last_contact_ms / 1000.0).unwrap_or(Duration::MAX);
                    if follower.voter && in_sync.holds(lag, &silence) {
                        isr += 1;
                    }
                }
                p.isr_size.set_u64(isr);
                p.max_follower_lag_entries.set_u64(max_lag);
            }
            Some(NodeState::Follower) => following += 1,
            _ => {}
        }
    });
    let n = metrics.families().nodes.get(&node);
    n.leader_partitions.set_u64(leading);
    n.follower_partitions.set_u64(following);
    if let Some(a) = aggregate {
        a.partitions.set_u64(hosted);
        a.partitions_without_leader.set_u64(leaderless);
    }
}

/// Runs [`collect`] every interval on its own thread until stopped (or dropped).
#[derive(Debug)]
pub struct RaftMetricsCollector {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RaftMetricsCollector {
    /// Starts collecting from `view` into `metrics` every `interval`.
    ///
    /// # Errors
    ///
    /// When the thread cannot be spawned.
    pub fn start(
        metrics: RaftMetrics,
        view: impl RaftNodeView,
        interval: Duration,
        in_sync: InSync,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("raft-metrics-collector".into()).spawn(move || {
            let mut next = Instant::now();
            loop {
                // A panicking view loses one tick, never the collector.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collect(&metrics, &view, in_sync)));
                next += interval;
                let wait = next.saturating_duration_since(Instant::now());
                match stopped.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {}
                    // A stop message, or the handle was dropped.
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops the collector and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RaftMetricsCollector {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The collector as a tokio task (feature `tokio`): [`collect`] on every tick of a
/// `tokio::time::interval`, until [`TokioCollector::stop`] (or drop) ends it.
#[cfg(feature = "tokio")]
#[derive(Debug)]
pub struct TokioCollector {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

#[cfg(feature = "tokio")]
impl TokioCollector {
    /// Spawns the collector on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn spawn(metrics: RaftMetrics, view: impl RaftNodeView + Sync, interval: Duration, in_sync: InSync) -> Self {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {
                        // A panicking view loses one tick, never the collector.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collect(&metrics, &view, in_sync)));
                    }
                    _ = &mut stopped => return,
                }
            }
        });
        Self { stop: Some(stop), task: Some(task) }
    }

    /// Stops the task and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

#[cfg(feature = "tokio")]
impl Drop for TokioCollector {
    fn drop(&mut self) {
        // Dropping the sender ends the task at its next poll; nothing to wait for here.
        self.stop.take();
    }
}
