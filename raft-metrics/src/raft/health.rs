//! [`Aggregation::Unhealthy`](super::Aggregation::Unhealthy): which partitions a scrape names.
//!
//! Every partition keeps recording its full series; at each scrape, a partition (and a peer of
//! it) is written only while it is unhealthy by one of the rules below, and then only its gauges,
//! under the same names and labels as in per-partition mode. So alert rules written for
//! per-partition mode (`has_leader == 0`, `apply_lag_entries > 1000`, `isr_size < quorum`,
//! `follower_lag_entries > 5000 and is_leader == 1`) keep naming the partition, while a node
//! with 10 000 healthy partitions sends only its node-wide series. Each gauge threshold sits below
//! the shipped alerts' thresholds, so a partition an alert fires on is in every scrape for the
//! alert's whole `for` window. The burst thresholds (see [`burst`](super::burst)) equal the
//! alerts': a burst only grows until it ends, so it stays shown as long as the alert holds.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::family::Export;
use crate::model::MetricKind;
use crate::schema::Schema;
use crate::{RegistrationError, Registry};

use super::{
    burst, AggregatedMetrics, AggregatedMetricsFamily, ConfigChangeMetrics, Families, PartitionMetrics, PeerMetrics,
    RaftOptions, SnapshotCreateMetrics, SnapshotTransferMetrics,
};

/// When a partition or a peer counts as unhealthy in [`Aggregation::Unhealthy`](super::Aggregation::Unhealthy).
///
/// A partition is unhealthy while this node knows no leader for it, while its apply lag is above
/// `apply_lag_entries`, while a configuration change is in progress, while its last contact
/// (a follower hearing from its leader, a leader's last quorum acknowledgement) is more than
/// `contact_millis` old, or, where this node leads, while fewer voters are in sync than there
/// are voters or its largest follower lag is above `follower_lag_entries`. The contact rule is
/// what shows a stale leader cut off from its group, whose own view stays as it was; it does not
/// apply while the partition is `hibernating` (its application stopped ticking it: no heartbeats
/// flow, and its contact ages by design). A peer (leader side) is unhealthy while its lag is above
/// `follower_lag_entries` entries or `follower_lag_millis` milliseconds. Each row is judged on
/// its own values: a follower that lags in time while the leader still counts it in sync (which
/// an adapter's in-sync rule makes rare) shows its peer row without its partition's row.
///
/// A partition is also in the scrape during a burst of rare events (counted by the scrapes; the
/// README's "Unhealthy-only mode" says why), events each less than `burst_window_millis` after
/// the previous one: from `burst_leader_changes` leader changes, or from `burst_proposals_failed`
/// failed proposals that are over `burst_failed_percent` % of the burst's proposals, until a
/// window after the last event; likewise a direction of its snapshot transfers with a failure in
/// its current burst. Its `burst_*` gauges then carry the counts the shipped alerts on those
/// counters read in this mode.
/// These thresholds are the alerts' own (a rolling restart moves each partition's leadership up
/// to 3 times, which must not bring a node's thousands of partitions into the scrape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthThresholds {
    /// Committed but unapplied entries (the shipped `ChronikRaftApplyLagging` alert: 1 000).
    pub apply_lag_entries: u64,
    /// Entries a follower is behind (`ChronikRaftFollowerLagging`: 5 000).
    pub follower_lag_entries: u64,
    /// Milliseconds a follower is behind (`ChronikRaftFollowerLaggingTime`: 30 s).
    pub follower_lag_millis: u64,
    /// Milliseconds since the last contact (`last_contact_timestamp_seconds`; a partition that
    /// never recorded one, or is `hibernating`, is not judged by it). Several election timeouts.
    pub contact_millis: u64,
    /// Milliseconds after which a burst of events ends without a new one (the shipped rules'
    /// window on these counters: 15 minutes).
    pub burst_window_millis: u64,
    /// Leader changes in a burst that put the partition in the scrape
    /// (`ChronikRaftHighLeaderChanges`: 4).
    pub burst_leader_changes: u64,
    /// Failed proposals in a burst that put the partition in the scrape, if they are over
    /// `burst_failed_percent` % of the burst's proposals (`ChronikRaftProposalFailures`: 45).
    pub burst_proposals_failed: u64,
    /// See `burst_proposals_failed` (`ChronikRaftProposalFailures`: 5).
    pub burst_failed_percent: u64,
    /// The most partitions (and, apart, peers and snapshot-transfer directions) one scrape shows:
    /// when a node-wide incident (a slow disk, a partitioned node) makes thousands unhealthy at
    /// once, a scrape shows the first `max_shown` in the order they were created (the same ones
    /// every scrape, so their alerts hold) and the node-wide series count the rest. 1 000: about
    /// 100 KB gzipped per scrape, 7 KB/s at a 15 s interval.
    pub max_shown: usize,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            apply_lag_entries: 100,
            follower_lag_entries: 1_000,
            follower_lag_millis: 10_000,
            contact_millis: 5_000,
            burst_window_millis: 15 * 60 * 1_000,
            burst_leader_changes: 4,
            burst_proposals_failed: 45,
            burst_failed_percent: 5,
            max_shown: 1_000,
        }
    }
}

/// A gauge reads as `i64`; thresholds compare as `u64` (a negative reading is below any).
fn above(value: i64, threshold: u64) -> bool {
    u64::try_from(value).is_ok_and(|v| v > threshold)
}

impl HealthThresholds {
    /// Whether the partition's series is in the scrape (bursts aside: only a scrape counts them).
    pub fn partition_unhealthy(&self, p: &PartitionMetrics) -> bool {
        self.partition_unhealthy_at(p, SystemTime::now())
    }

    fn partition_unhealthy_at(&self, p: &PartitionMetrics, now: SystemTime) -> bool {
        let leads = p.is_leader.get() == 1;
        p.has_leader.get() == 0
            || above(p.apply_lag_entries.get(), self.apply_lag_entries)
            || p.config_change_in_progress.get() == 1
            || (p.hibernating.get() == 0 && self.out_of_contact(p.last_contact_timestamp.get(), now))
            || (leads && p.isr_size.get() < p.voters.get())
            || (leads && above(p.max_follower_lag_entries.get(), self.follower_lag_entries))
    }

    /// Whether a last contact at Unix time `at` (0: none recorded) is older than `contact_millis`
    /// at `now`.
    fn out_of_contact(&self, at: f64, now: SystemTime) -> bool {
        if at <= 0.0 {
            return false;
        }
        // A clock before 1970 reads as no time passed.
        let now = now.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        // Milliseconds as f64 are exact far beyond any threshold.
        #[allow(clippy::cast_precision_loss)]
        let limit = self.contact_millis as f64 / 1e3;
        now - at > limit
    }

    /// Whether the peer's series is in the scrape.
    pub fn peer_unhealthy(&self, p: &PeerMetrics) -> bool {
        // Milliseconds as f64 are exact far beyond any lag.
        #[allow(clippy::cast_precision_loss)]
        let millis = self.follower_lag_millis as f64;
        above(p.follower_lag_entries.get(), self.follower_lag_entries) || p.follower_lag.get() * 1e3 > millis
    }
}

/// Shows, in `registry`, what unhealthy-only mode exports of `families` (registered in a
/// registry nobody scrapes): the gauges of the unhealthy partitions and peers; every counter and
/// histogram of the partition-level families folded per node (per peer for peer series, per
/// trigger, direction or kind for snapshots and configuration changes; per topic too with
/// `fold_by_topic`), so the hot path records
/// each event once; and the node-wide aggregate's own series (partition counts, lag
/// distributions) where the folded ones do not already carry the name.
pub(super) fn attach(
    registry: &Registry,
    families: &Families,
    aggregate: &AggregatedMetricsFamily,
    options: &RaftOptions,
) -> Result<(), RegistrationError> {
    let health = options.health;
    // The labels a folded series keeps: `topic` if asked, then the family's own.
    let by = |own: Option<&'static str>| -> Vec<&'static str> {
        options.fold_by_topic.then_some("topic").into_iter().chain(own).collect()
    };
    let folded =
        |schema: &'static Schema| move |i: usize| schema.metrics.get(i).is_some_and(|m| m.kind != MetricKind::Gauge);
    // The scrapes advance the bursts one series at a time (see `burst`).
    let scrapes = Arc::new(Mutex::new(()));
    let advancing = Arc::clone(&scrapes);
    let partitions = Export::with_scrape(shown(&PartitionMetrics::SCHEMA), move |p, scrape| {
        let _one = advancing.lock().unwrap_or_else(PoisonError::into_inner);
        let now = scrape.at();
        let clock = burst::Clock::at(now, health.burst_window_millis);
        let thresholds = burst::Thresholds {
            leader_changes: health.burst_leader_changes,
            proposals_failed: health.burst_proposals_failed,
            failed_percent: health.burst_failed_percent,
        };
        // Bursts advance whether or not the partition is shown.
        let bursting = burst::partition(p, clock, thresholds);
        (bursting || health.partition_unhealthy_at(p, now)) && scrape.kept() < health.max_shown
    })
    .fold(folded(&PartitionMetrics::SCHEMA), &by(None));
    registry.attach(families.partitions.family(), partitions)?;
    let peers = Export::with_scrape(shown(&PeerMetrics::SCHEMA), move |p, scrape| {
        scrape.kept() < health.max_shown && health.peer_unhealthy(p)
    })
    .fold(folded(&PeerMetrics::SCHEMA), &by(Some("peer")));
    registry.attach(families.peers.family(), peers)?;
    let everything = |_: usize| true;
    let creates = Export::metrics(|_| false).fold(everything, &by(Some("trigger")));
    registry.attach(families.snapshot_creates.family(), creates)?;
    let transfers = Export::with_scrape(shown(&SnapshotTransferMetrics::SCHEMA), move |t, scrape| {
        let _one = scrapes.lock().unwrap_or_else(PoisonError::into_inner);
        let failing = burst::snapshot_transfers(t, burst::Clock::at(scrape.at(), health.burst_window_millis));
        failing && scrape.kept() < health.max_shown
    })
    .fold(folded(&SnapshotTransferMetrics::SCHEMA), &by(Some("direction")));
    registry.attach(families.snapshot_transfers.family(), transfers)?;
    let changes = Export::metrics(|_| false).fold(everything, &by(Some("kind")));
    registry.attach(families.config_changes.family(), changes)?;
    let shown = [
        &PartitionMetrics::SCHEMA,
        &PeerMetrics::SCHEMA,
        &SnapshotCreateMetrics::SCHEMA,
        &SnapshotTransferMetrics::SCHEMA,
        &ConfigChangeMetrics::SCHEMA,
    ];
    let own = |i: usize| {
        let name = AggregatedMetrics::SCHEMA.metrics[i].name;
        !shown.iter().any(|schema| schema.metrics.iter().any(|m| m.name == name))
    };
    registry.attach(aggregate.family(), Export::metrics(own))
}

/// Selects the gauges of `schema`, but the scrapes' own state of the bursts.
fn shown(schema: &'static Schema) -> impl Fn(usize) -> bool {
    |i| schema.metrics.get(i).is_some_and(|m| m.kind == MetricKind::Gauge) && !burst::is_state(schema, i)
}
