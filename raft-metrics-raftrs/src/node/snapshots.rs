//! Snapshot transfers, both ways: `snapshot_in_progress`, transfers by outcome, and the install
//! of a received snapshot (duration, index, time).

use raft_metrics::raft::{Outcome, SnapshotTransferMetrics};

use super::group::GroupSeries;
use super::series::{rec, Series};
use crate::clock::Clock;

/// The snapshots on their way to or from this node, and their transfer series.
pub(super) struct Snapshots {
    send: Series<SnapshotTransferMetrics>,
    receive: Series<SnapshotTransferMetrics>,
    /// Snapshots sent and not reported yet.
    sending: u64,
    /// A snapshot was stepped and not installed (or ignored) yet.
    receiving: bool,
}

impl Snapshots {
    /// Binds the group's transfer series; publishes `snapshot_in_progress` (none).
    pub(super) fn new(group: &GroupSeries) -> Self {
        let transfers = &group.metrics.families().snapshot_transfers;
        let (topic, partition) = (group.topic.as_str(), group.partition);
        let snapshots = Self {
            send: Series::new(transfers.bind((topic, partition, "send")), transfers.claim((topic, partition, "send"))),
            receive: Series::new(
                transfers.bind((topic, partition, "receive")),
                transfers.claim((topic, partition, "receive")),
            ),
            sending: 0,
            receiving: false,
        };
        snapshots.publish(group);
        snapshots
    }

    /// Whether a snapshot stepped into raft-rs awaits its install.
    #[inline]
    pub(super) fn receiving(&self) -> bool {
        self.receiving
    }

    /// A snapshot from the leader is being stepped.
    pub(super) fn receive_started(&mut self, group: &GroupSeries) {
        self.receiving = true;
        self.publish(group);
    }

    /// raft-rs no longer holds the snapshot it was stepped: it ignored it (older than the commit
    /// index), or the application persisted it without reporting an install.
    pub(super) fn receive_ignored(&mut self, group: &GroupSeries) {
        self.receiving = false;
        self.publish(group);
    }

    /// The application installed a snapshot (`installed`: through that index), or failed to;
    /// `elapsed`: the install's seconds. Counts the receive by outcome; on success observes
    /// `snapshot_apply_duration_seconds`, `snapshot_last_index` and
    /// `snapshot_last_timestamp_seconds`.
    pub(super) fn received(&mut self, installed: Option<u64>, elapsed: f64, group: &GroupSeries, clock: &mut Clock) {
        let outcome = Outcome::from(installed.is_some());
        rec!(self.receive => snapshot_transfers.get(outcome).inc());
        if let Some(a) = group.node_wide() {
            a.snapshot_transfers.get(outcome).inc();
            if installed.is_some() {
                a.snapshot_apply_duration.observe(elapsed);
            }
        }
        self.receiving = false;
        if let Some(index) = installed {
            rec!(group.series => snapshot_apply_duration.observe(elapsed));
            rec!(group.series => snapshot_last_index.set_u64(index));
            let unix = clock.unix();
            rec!(group.series => snapshot_last_timestamp.set(unix));
        }
        self.publish(group);
    }

    /// A snapshot goes out.
    pub(super) fn send_started(&mut self, group: &GroupSeries) {
        self.sending += 1;
        self.publish(group);
    }

    /// The transport reported a sent snapshot finished (`delivered`) or failed.
    pub(super) fn sent(&mut self, delivered: bool, group: &GroupSeries) {
        self.sending = self.sending.saturating_sub(1);
        let outcome = Outcome::from(delivered);
        rec!(self.send => snapshot_transfers.get(outcome).inc());
        if let Some(a) = group.node_wide() {
            a.snapshot_transfers.get(outcome).inc();
        }
        self.publish(group);
    }

    fn publish(&self, group: &GroupSeries) {
        rec!(group.series => snapshot_in_progress.set(i64::from(self.sending > 0 || self.receiving)));
    }
}
