//! Bursts of rare events, counted by the scrapes: how unhealthy-only mode names the partition in
//! the alerts on per-partition counters (leader changes, proposal and snapshot-transfer failures).
//!
//! That mode folds counters per node, so `increase(leader_changes_seen_total{partition!=""}[15m])`
//! has no partition to name. Exporting a partition's counters only while it has recent events
//! does not work either: a series that appears with its first event loses that event to
//! `increase()`. So each scrape compares every partition's counters with what the previous scrape
//! saw, and a partition whose events come less than the burst window apart adds them up in a
//! gauge (`burst_leader_changes`, `burst_proposals_failed`, ...), exported while the burst is on
//! and above its threshold ([`HealthThresholds`](super::HealthThresholds)). A burst ends a window
//! after its last event; events seen after a scrape gap longer than the window start no burst
//! (as `increase()` over the window would not see them either).
//!
//! Recording pays nothing: the state lives in the series' internal gauges, written only by
//! scrapes, one series at a time under a lock the scrapes share.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::schema::Schema;
use crate::{FloatGauge, Gauge};

use super::{Outcome, PartitionMetrics, ProposalFailure, SnapshotTransferMetrics};

/// The burst gauges a scrape exports; every other `burst_*` metric is the scrapes' own state.
const EXPORTED: &[&str] = &[
    "burst_leader_changes",
    "burst_proposals_failed",
    "burst_proposals_committed",
    "burst_snapshot_transfer_failures",
    "burst_snapshot_transfer_successes",
];

/// Whether metric `index` of `schema` belongs to the bursts (exported in unhealthy-only mode
/// only, if at all).
pub(super) fn is_burst(schema: &Schema, index: usize) -> bool {
    schema.metrics.get(index).is_some_and(|m| m.name.starts_with("burst_"))
}

/// Whether metric `index` of `schema` is the scrapes' state of the bursts (never exported).
pub(super) fn is_state(schema: &Schema, index: usize) -> bool {
    is_burst(schema, index) && schema.metrics.get(index).is_some_and(|m| !EXPORTED.contains(&m.name))
}

/// A scrape's time and the burst window, in Unix seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    now: f64,
    window: f64,
}

impl Clock {
    /// The scrape's time `at`, with a window of `window_millis`.
    pub(super) fn at(at: SystemTime, window_millis: u64) -> Self {
        // A clock before 1970 reads as 0: every burst looks expired, none starts.
        let now = at.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        // Milliseconds as f64 are exact far beyond any window.
        #[allow(clippy::cast_precision_loss)]
        let window = window_millis as f64 / 1e3;
        Self { now, window }
    }

    fn older(self, at: f64) -> bool {
        self.now - at > self.window
    }

    /// Marks a series' scrape; whether the previous one is recent enough for what happened
    /// since to count (false on a series' first scrape and after a gap longer than the window).
    fn follows(self, scraped_at: &FloatGauge) -> bool {
        let recent = !self.older(scraped_at.get());
        scraped_at.set(self.now);
        recent
    }
}

/// One counter's burst: the counter's total at the previous scrape, when the burst last grew,
/// and its size.
struct Burst<'a> {
    seen: &'a Gauge,
    at: &'a FloatGauge,
    size: &'a Gauge,
}

impl Burst<'_> {
    /// Whether the burst is on (it grew less than a window ago).
    fn on(&self, clock: Clock) -> bool {
        self.size.get() > 0 && !clock.older(self.at.get())
    }

    /// Follows the counter to `total`; `counts`: whether the increase since the previous scrape
    /// counts (see [`Clock::follows`]). A burst over for a window is reset to 0 first.
    fn advance(&self, total: u64, clock: Clock, counts: bool) {
        let seen = u64::try_from(self.seen.get()).unwrap_or(0);
        self.seen.set_u64(total);
        if !self.on(clock) {
            self.size.set(0);
        }
        // A total below the previous one: the series was recreated; nothing new to count.
        let new = if counts { total.saturating_sub(seen) } else { 0 };
        if new > 0 {
            self.size.add(i64::try_from(new).unwrap_or(i64::MAX));
            self.at.set(clock.now);
        }
    }
}

/// When a partition's bursts put it in the scrape (the shipped alerts' own conditions: a
/// partition shows exactly while an alert on its bursts would hold, so a routine rolling restart
/// does not bring a node's thousands of partitions in).
#[derive(Debug, Clone, Copy)]
pub(super) struct Thresholds {
    /// Leader changes in the burst.
    pub(super) leader_changes: u64,
    /// Failed proposals in the burst ...
    pub(super) proposals_failed: u64,
    /// ... over this percentage of the burst's proposals (failed and committed).
    pub(super) failed_percent: u64,
}

/// Advances a partition's bursts; returns whether they put it in the scrape.
pub(super) fn partition(p: &PartitionMetrics, clock: Clock, thresholds: Thresholds) -> bool {
    let counts = clock.follows(&p.burst_scraped_at);
    let changes =
        Burst { seen: &p.burst_seen_leader_changes, at: &p.burst_leader_changes_at, size: &p.burst_leader_changes };
    changes.advance(p.leader_changes_seen.get(), clock, counts);
    let failures = Burst {
        seen: &p.burst_seen_proposals_failed,
        at: &p.burst_proposals_failed_at,
        size: &p.burst_proposals_failed,
    };
    let was_on = failures.on(clock);
    let reasons =
        [ProposalFailure::NotLeader, ProposalFailure::Dropped, ProposalFailure::Timeout, ProposalFailure::Other];
    let failed: u64 = reasons.iter().map(|&r| p.proposals_failed.get(r).get()).sum();
    failures.advance(failed, clock, counts);
    // Commits count from the scrape that saw the burst's first failure.
    let committed = p.proposals_committed.get();
    let seen = u64::try_from(p.burst_seen_proposals_committed.get()).unwrap_or(0);
    p.burst_seen_proposals_committed.set_u64(committed);
    let new = if counts { i64::try_from(committed.saturating_sub(seen)).unwrap_or(i64::MAX) } else { 0 };
    match (was_on, failures.on(clock)) {
        (true, true) => p.burst_proposals_committed.add(new),
        (false, true) => p.burst_proposals_committed.set(new),
        (_, false) => p.burst_proposals_committed.set(0),
    }
    let failed = u64::try_from(p.burst_proposals_failed.get()).unwrap_or(0);
    let committed = u64::try_from(p.burst_proposals_committed.get()).unwrap_or(0);
    // failed / (failed + committed) > percent / 100, in integers (u128: no overflow).
    let failing = u128::from(failed) * 100 > u128::from(thresholds.failed_percent) * u128::from(failed + committed);
    at_least(&p.burst_leader_changes, thresholds.leader_changes)
        || (failing && at_least(&p.burst_proposals_failed, thresholds.proposals_failed))
}

/// Advances the bursts of one direction of a partition's snapshot transfers; returns whether
/// they put it in the scrape: a failure in the current burst.
pub(super) fn snapshot_transfers(t: &SnapshotTransferMetrics, clock: Clock) -> bool {
    let counts = clock.follows(&t.burst_scraped_at);
    let at = &t.burst_snapshot_transfers_at;
    // One burst of transfers, either outcome: a success after failures is in it (the alert
    // tells a follower that caught up from one that cannot).
    let on = !clock.older(at.get());
    let failures =
        Burst { seen: &t.burst_seen_snapshot_transfer_failures, at, size: &t.burst_snapshot_transfer_failures };
    let successes =
        Burst { seen: &t.burst_seen_snapshot_transfer_successes, at, size: &t.burst_snapshot_transfer_successes };
    if !on {
        failures.size.set(0);
        successes.size.set(0);
    }
    failures.advance(t.snapshot_transfers.get(Outcome::Failure).get(), clock, counts);
    successes.advance(t.snapshot_transfers.get(Outcome::Success).get(), clock, counts);
    at_least(&t.burst_snapshot_transfer_failures, 1)
}

fn at_least(gauge: &Gauge, threshold: u64) -> bool {
    u64::try_from(gauge.get()).is_ok_and(|v| v >= threshold.max(1))
}
