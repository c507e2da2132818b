//! The local log: its indexes, its size, truncations and compactions, append durations, and the
//! newest configuration change in it (`config_change_in_progress`).

use raft::eraftpb::Entry;
use raft::{GetEntriesContext, RaftLog, Storage, NO_LIMIT};

use super::group::GroupSeries;
use super::series::rec;
use crate::classify;
use crate::log_size::LogSize;

/// What the wrapper knows of the log without reading the storage back.
#[derive(Debug, Default)]
pub(super) struct Log {
    size: LogSize,
    /// Index of the newest configuration-change entry in the log (0: none).
    conf_index: u64,
}

impl Log {
    /// Reads the persisted log of `store` once, for its size and any configuration change not
    /// yet applied.
    pub(super) fn read<S: Storage>(store: &S) -> Self {
        let mut log = Self::default();
        let (Ok(first), Ok(last)) = (store.first_index(), store.last_index()) else { return log };
        if last < first {
            return log;
        }
        let Ok(entries) = store.entries(first, last + 1, NO_LIMIT, GetEntriesContext::empty(false)) else {
            return log;
        };
        log.size.append(&entries);
        if let Some(conf) = entries.iter().rev().find(|e| classify::is_conf_change(e.get_entry_type())) {
            log.conf_index = conf.index;
        }
        log
    }

    /// An append of entries took `seconds` (`log_append_duration_seconds`, with `weight`).
    pub(super) fn observe_append_duration(seconds: f64, weight: u64, group: &GroupSeries) {
        rec!(group.series => log_append_duration.observe_n(seconds, weight));
    }

    /// `entries` (not empty) were written to the log. Counts `log_truncations` when they
    /// overwrote a conflicting tail.
    #[inline]
    pub(super) fn appended(&mut self, entries: &[Entry], group: &GroupSeries) {
        let Some(first) = entries.first() else { return };
        if self.size.append(entries) {
            rec!(group.series => log_truncations.inc());
        }
        if self.conf_index >= first.index {
            // Overwritten: the entry at that index may no longer be a configuration change.
            self.conf_index = 0;
        }
        if let Some(conf) = entries.iter().rev().find(|e| classify::is_conf_change(e.get_entry_type())) {
            self.conf_index = conf.index;
        }
    }

    /// The application compacted the log so that it now starts at `first_index`.
    pub(super) fn compacted(&mut self, first_index: u64, group: &GroupSeries) {
        rec!(group.series => log_compactions.inc());
        if let Some(a) = group.node_wide() {
            a.log_compactions.inc();
        }
        self.size.compact(first_index);
        self.publish_size(group);
    }

    /// A snapshot through `index` replaced the log.
    pub(super) fn replaced(&mut self, index: u64, group: &GroupSeries) {
        rec!(group.series => last_index.set_u64(index));
        self.size.clear();
        if self.conf_index <= index {
            self.conf_index = 0;
        }
        self.publish_size(group);
    }

    /// The gauges published once per tick (and when the wrapper is created): commit and applied
    /// index, apply lag, last index, log size, and whether a configuration change is in the log
    /// but not applied yet.
    pub(super) fn publish<S: Storage>(&self, raft_log: &RaftLog<S>, group: &GroupSeries) {
        rec!(group.series => commit_index.set_u64(raft_log.committed));
        rec!(group.series => last_applied.set_u64(raft_log.applied));
        rec!(group.series => apply_lag_entries.set_u64(raft_log.committed.saturating_sub(raft_log.applied)));
        rec!(group.series => last_index.set_u64(raft_log.last_index()));
        self.publish_size(group);
        rec!(group.series => config_change_in_progress.set(i64::from(self.conf_index > raft_log.applied)));
    }

    /// Once per tick, with the node-wide aggregate: the apply lag into its distribution.
    pub(super) fn observe_apply_lag<S: Storage>(raft_log: &RaftLog<S>, group: &GroupSeries) {
        if let Some(a) = group.agg() {
            #[allow(clippy::cast_precision_loss)] // lags are far below 2^53
            a.apply_lag_entries.observe(raft_log.committed.saturating_sub(raft_log.applied) as f64);
        }
    }

    fn publish_size(&self, group: &GroupSeries) {
        rec!(group.series => log_entries.set_u64(self.size.len()));
        rec!(group.series => log_size.set_u64(self.size.bytes()));
    }
}
