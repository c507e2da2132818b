//! [`InstrumentedStateMachine`] and [`InstrumentedSnapshotBuilder`]: delegating wrappers that
//! record applies, configuration changes and snapshots.

use std::fmt::Debug;
use std::future::Future;
use std::time::Instant;

use openraft::entry::RaftPayload;
use openraft::storage::RaftStateMachine;
use openraft::{
    LogId, OptionalSend, RaftLogId, RaftSnapshotBuilder, RaftTypeConfig, Snapshot, SnapshotMeta, StorageError,
    StoredMembership,
};
use raft_metrics::raft::{SnapshotDirection, SnapshotTrigger};

use crate::clock::{self, Sampler};
use crate::group::Group;
use crate::membership::Shape;

/// The application's [`RaftStateMachine`], recording applies and snapshots.
///
/// | call | metrics |
/// | --- | --- |
/// | `apply` | `last_applied`, `apply_lag_entries`, `proposals_applied_total` (normal entries), `config_changes_total{kind}` (each membership entry after the bootstrap one: `add_learner`, `enter_joint`, `leave_joint`, or, without joint consensus, `add_voter` / `remove_node`); timed calls: `apply_duration_seconds` |
/// | `install_snapshot` | `snapshot_transfers_total{direction="receive"}`, `snapshot_apply_duration_seconds`, `snapshot_last_index`, `snapshot_last_timestamp_seconds`, `last_applied`, `snapshot_in_progress` |
/// | the builder's `build_snapshot` | `snapshot_creations_total{trigger="size"}`, `snapshot_create_duration_seconds`, `snapshot_size_bytes` (with [`Group::with_snapshot_size`]), `snapshot_last_index`, `snapshot_last_timestamp_seconds`, `snapshot_in_progress` |
///
/// Created by [`Group::state_machine`].
pub struct InstrumentedStateMachine<C: RaftTypeConfig, M> {
    inner: M,
    group: Group<C>,
    sampler: Sampler,
    /// The configuration of the last applied membership entry.
    shape: Option<Shape<C::NodeId>>,
}

impl<C: RaftTypeConfig, M: Debug> Debug for InstrumentedStateMachine<C, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedStateMachine").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// The state machine's [`RaftSnapshotBuilder`], timing each snapshot it builds.
pub struct InstrumentedSnapshotBuilder<C: RaftTypeConfig, B> {
    inner: B,
    group: Group<C>,
}

impl<C: RaftTypeConfig, B: Debug> Debug for InstrumentedSnapshotBuilder<C, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedSnapshotBuilder").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<C: RaftTypeConfig> Group<C> {
    /// Wraps the group's state machine.
    pub fn state_machine<M: RaftStateMachine<C>>(&self, inner: M) -> InstrumentedStateMachine<C, M> {
        InstrumentedStateMachine {
            inner,
            sampler: Sampler::new(self.options.timing, self.seed()),
            group: self.clone(),
            shape: None,
        }
    }

    fn snapshot_taken(&self, meta: &SnapshotMeta<C::NodeId, C::Node>, at: Instant) {
        let p = &self.shared.series;
        p.snapshot_last_index.set_u64(meta.last_log_id.as_ref().map_or(0, |id| id.index));
        p.snapshot_last_timestamp.set(clock::unix(at));
    }
}

impl<C: RaftTypeConfig, M> InstrumentedStateMachine<C, M> {
    /// Whether the state machine records ([`Group::with_recording`]); when not, every call
    /// forwards.
    #[inline(always)]
    fn recording(&self) -> bool {
        self.group.options.recording
    }

    /// Membership entries were applied, in this order: `config_changes_total{kind}`.
    #[cold]
    fn reconfigured(&mut self, shapes: Vec<Shape<C::NodeId>>) {
        let s = &self.group.shared;
        for next in shapes {
            let prev = self.shape.as_ref().filter(|prev| !prev.is_empty());
            if let Some(kind) = prev.and_then(|prev| prev.change_to(&next)) {
                s.metrics.record_config_change(&s.topic, s.partition, kind);
            }
            self.shape = Some(next);
        }
    }

    /// The wrapped state machine.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// The wrapped state machine, mutably.
    pub fn inner_mut(&mut self) -> &mut M {
        &mut self.inner
    }
}

impl<C: RaftTypeConfig, M: RaftStateMachine<C>> RaftStateMachine<C> for InstrumentedStateMachine<C, M> {
    type SnapshotBuilder = InstrumentedSnapshotBuilder<C, M::SnapshotBuilder>;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<C::NodeId>>, StoredMembership<C::NodeId, C::Node>), StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.applied_state().await;
        }
        let (applied, membership) = self.inner.applied_state().await?;
        self.group.set_last_applied(applied.as_ref().map_or(0, |id| id.index));
        self.shape = Some(Shape::of(membership.membership()));
        Ok((applied, membership))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<C::R>, StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        if !self.recording() {
            return self.inner.apply(entries).await;
        }
        let start = self.sampler.start();
        let (mut normal, mut last) = (0_u64, None);
        let mut shapes = Vec::new();
        let seen = entries.into_iter().inspect(|entry| {
            last = Some(entry.get_log_id().index);
            if let Some(m) = entry.get_membership() {
                shapes.push(Shape::of(m));
            } else if !entry.is_blank() {
                normal += 1;
            }
        });
        let responses = self.inner.apply(seen).await?;
        let s = &self.group.shared;
        if let Some(start) = start {
            s.series.apply_duration.observe(clock::seconds_since(start));
        }
        if normal > 0 {
            s.series.proposals_applied.add(normal);
        }
        if let Some(last) = last {
            self.group.set_last_applied(last);
        }
        if !shapes.is_empty() {
            self.reconfigured(shapes);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        InstrumentedSnapshotBuilder { inner: self.inner.get_snapshot_builder().await, group: self.group.clone() }
    }

    // Not marked in progress: a transfer that fails after this call would leave it set. The
    // inner future itself, as for the log store's forwarding calls (`log_store.rs`).
    #[allow(refining_impl_trait)]
    fn begin_receiving_snapshot(
        &mut self,
    ) -> impl Future<Output = Result<Box<C::SnapshotData>, StorageError<C::NodeId>>> + OptionalSend {
        self.inner.begin_receiving_snapshot()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<C::NodeId, C::Node>,
        snapshot: Box<C::SnapshotData>,
    ) -> Result<(), StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.install_snapshot(meta, snapshot).await;
        }
        let s = &self.group.shared;
        let work = self.group.snapshot_work();
        let start = Instant::now();
        let result = self.inner.install_snapshot(meta, snapshot).await;
        let now = Instant::now();
        s.metrics.record_snapshot_transfer(&s.topic, s.partition, SnapshotDirection::Receive, result.is_ok());
        if result.is_ok() {
            s.series.snapshot_apply_duration.observe(now.duration_since(start).as_secs_f64());
            self.group.snapshot_taken(meta, now);
            self.group.set_last_applied(meta.last_log_id.as_ref().map_or(0, |id| id.index));
            self.shape = Some(Shape::of(meta.last_membership.membership()));
        }
        drop(work);
        result
    }

    #[allow(refining_impl_trait)] // as for `begin_receiving_snapshot`
    fn get_current_snapshot(
        &mut self,
    ) -> impl Future<Output = Result<Option<Snapshot<C>>, StorageError<C::NodeId>>> + OptionalSend {
        self.inner.get_current_snapshot()
    }
}

impl<C: RaftTypeConfig, B: RaftSnapshotBuilder<C>> RaftSnapshotBuilder<C> for InstrumentedSnapshotBuilder<C, B> {
    /// Builds through the wrapped builder. openraft does not tell the builder why it builds
    /// (its `SnapshotPolicy::LogsSinceLast` threshold or a `trigger().snapshot()` call), so every
    /// creation is counted with `trigger="size"`.
    async fn build_snapshot(&mut self) -> Result<Snapshot<C>, StorageError<C::NodeId>> {
        if !self.group.options.recording {
            return self.inner.build_snapshot().await;
        }
        let s = &self.group.shared;
        let work = self.group.snapshot_work();
        let start = Instant::now();
        let result = self.inner.build_snapshot().await;
        let now = Instant::now();
        if let Ok(snapshot) = &result {
            let trigger = SnapshotTrigger::Size;
            s.metrics
                .families()
                .snapshot_creates
                .family()
                .get((s.topic.as_str(), s.partition, trigger))
                .snapshot_creations
                .inc();
            s.series.snapshot_create_duration.observe(now.duration_since(start).as_secs_f64());
            if let Some(size) = self.group.options.snapshot_size {
                #[allow(clippy::cast_precision_loss)] // sizes are far below 2^53 bytes
                s.series.snapshot_size.observe(size(&snapshot.snapshot) as f64);
            }
            self.group.snapshot_taken(&snapshot.meta, now);
        }
        drop(work);
        result
    }
}
