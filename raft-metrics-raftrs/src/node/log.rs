//! The local log: its indexes, its size, truncations and compactions, append durations, the
//! newest configuration change in it (`config_change_in_progress`), and which of its entries are
//! not proposals.
//!
//! Each batch is looked at once, as it is appended: most entries are client proposals (a normal
//! entry with data), and the few that are not (configuration changes, the empty entry a new
//! leader appends) are noted then, so the leader's proposals and the applied ones are counted
//! from a batch's bounds rather than by looking at each entry again.

use std::collections::VecDeque;

use raft::eraftpb::{Entry, EntryType};
use raft::{GetEntriesContext, RaftLog, Storage};
use raft_metrics::raft::LogSize;

use super::group::GroupSeries;
use super::idle::observe_ticks;
use super::series::rec;
use crate::classify;

/// What the wrapper knows of the log without reading the storage back.
#[derive(Debug, Default)]
pub(super) struct Log {
    size: LogSize,
    /// Index of the newest configuration-change entry in the log (0: none).
    conf_index: u64,
    /// Indexes of the empty entries in the log not applied yet (a new leader's, or a
    /// configuration change raft-rs dropped), oldest first: one per term or so, at most
    /// [`MAX_BLANKS`].
    blanks: VecDeque<u64>,
    /// The newest of the two above (0: none), so that an append can tell with one comparison
    /// whether it overwrote either.
    newest_unplain: u64,
    /// The apply lag at the last publication.
    apply_lag: u64,
}

/// Most empty entries remembered: one per election, so only a log that is neither applied nor
/// compacted over thousands of terms reaches it (then the oldest are forgotten, and their
/// entries would count as applied proposals).
const MAX_BLANKS: usize = 4096;

/// The most bytes of entries [`Log::read`] asks the storage for at once.
const READ_PAGE_BYTES: u64 = 1 << 20;

/// A client proposal: a normal entry with data. The others are configuration changes (also
/// proposals, and the log notes them) and empty entries (not proposals).
#[inline]
fn is_plain(entry: &Entry) -> bool {
    entry.get_entry_type() == EntryType::EntryNormal && !entry.data.is_empty()
}

/// An entry's payload: its data and context, the bytes the application gave raft-rs
/// (`log_size_bytes`, `append_entries_sent_bytes_total`).
///
/// Not the encoded size: computing that walks every field, which for small entries costs more
/// than everything else the wrapper does per entry, and the framing it adds is the storage's or
/// transport's business, not the log's content.
#[inline]
pub(super) fn payload_bytes(entry: &Entry) -> u64 {
    (entry.data.len() + entry.context.len()) as u64
}

// `sum_plain` tells a proposal by its type's bits being zero.
const _: () = assert!(EntryType::EntryNormal as u8 == 0);

/// The payload bytes of `run` and whether all its entries are proposals ([`is_plain`]), in one
/// pass without a branch per entry: the types or'd and the shortest data kept beside the sum,
/// in registers, tested once at the end. (The shortest rather than an or of empty data: a
/// compare and a conditional move per entry, where the or takes a test, a set and an or.)
#[inline(always)]
fn sum_plain(run: &[Entry]) -> (u64, bool) {
    let (mut bytes, mut types, mut shortest) = (0, 0u8, usize::MAX);
    for entry in run {
        bytes += payload_bytes(entry);
        types |= entry.get_entry_type() as u8;
        shortest = shortest.min(entry.data.len());
    }
    (bytes, types == 0 && shortest != 0)
}

impl Log {
    /// Reads the persisted log of `store` once, for its size and any configuration change not
    /// yet applied: a page of at most [`READ_PAGE_BYTES`] at a time, so a node restarting with
    /// a long log does not hold all of it in memory at once.
    pub(super) fn read<S: Storage>(store: &S) -> Self {
        let mut log = Self::default();
        let (Ok(mut next), Ok(last)) = (store.first_index(), store.last_index()) else { return log };
        while next <= last {
            // raft-rs hands out at least one entry per call, whatever the limit.
            let Ok(page) = store.entries(next, last + 1, READ_PAGE_BYTES, GetEntriesContext::empty(false)) else {
                break;
            };
            let Some(end) = page.last().map(|entry| entry.index + 1).filter(|&end| end > next) else { break };
            log.appended_unrecorded(&page);
            next = end;
        }
        log
    }

    /// An append of entries took `seconds` (`log_append_duration_seconds`, with `weight`).
    pub(super) fn observe_append_duration(seconds: f64, weight: u64, group: &GroupSeries) {
        rec!(group.series => log_append_duration.observe_n(seconds, weight));
    }

    /// `entries` (not empty) were written to the log. Counts `log_truncations` when they
    /// overwrote a conflicting tail. Returns whether they are all client proposals (normal
    /// entries with data), which is what a leader's turn appends.
    #[inline(always)]
    pub(super) fn appended(&mut self, entries: &[Entry], group: &GroupSeries) -> bool {
        let (truncated, plain) = self.appended_unrecorded(entries);
        if truncated {
            rec!(group.series => log_truncations.inc());
        }
        plain
    }

    /// [`appended`](Self::appended), returning whether the entries overwrote a tail.
    #[inline(always)]
    fn appended_unrecorded(&mut self, entries: &[Entry]) -> (bool, bool) {
        let Some(first) = entries.first() else { return (false, true) };
        if let [entry] = entries {
            // One entry, a turn's usual append under light load: the block test without the
            // batch's setup and call.
            let truncated = self.size.append_one(entry.index, payload_bytes(entry));
            let plain = is_plain(entry);
            self.note(first.index, entries, plain);
            return (truncated, plain);
        }
        self.appended_batch(entries)
    }

    /// [`appended_unrecorded`](Self::appended_unrecorded) of more than one entry: out of line,
    /// where its loop's registers do not crowd the caller's turn (whose single entries it does
    /// not see).
    #[inline(never)]
    fn appended_batch(&mut self, entries: &[Entry]) -> (bool, bool) {
        let Some(first) = entries.first() else { return (false, true) };
        let mut plain = true;
        let truncated = self.size.append_runs(
            entries,
            |entry| entry.index,
            |run| {
                let (bytes, run_plain) = sum_plain(run);
                plain &= run_plain;
                bytes
            },
        );
        self.note(first.index, entries, plain);
        (truncated, plain)
    }

    /// After an append of `entries` from `first` (all proposals if `plain`): what it
    /// overwrote, and the entries that are not proposals.
    #[inline(always)]
    fn note(&mut self, first: u64, entries: &[Entry], plain: bool) {
        if self.newest_unplain >= first {
            self.overwritten_from(first);
        }
        if !plain {
            self.note_unplain(entries);
        }
    }

    /// Entries from `index` on were overwritten: those noted there may be proposals now.
    #[cold]
    #[inline(never)]
    fn overwritten_from(&mut self, index: u64) {
        if self.conf_index >= index {
            self.conf_index = 0;
        }
        self.blanks.retain(|&blank| blank < index);
        self.newest_unplain = self.conf_index.max(self.blanks.back().copied().unwrap_or(0));
    }

    /// The configuration changes and empty entries among `entries`.
    #[cold]
    #[inline(never)]
    fn note_unplain(&mut self, entries: &[Entry]) {
        for entry in entries.iter().filter(|entry| !is_plain(entry)) {
            self.newest_unplain = entry.index;
            if classify::is_conf_change(entry.get_entry_type()) {
                self.conf_index = entry.index;
            } else {
                if self.blanks.len() == MAX_BLANKS {
                    self.blanks.pop_front();
                }
                self.blanks.push_back(entry.index);
            }
        }
    }

    /// The proposals among committed `entries` (consecutive indexes) being applied: all but the
    /// empty ones, which are forgotten once applied.
    #[inline]
    pub(super) fn proposals_applied(&mut self, entries: &[Entry]) -> u64 {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return 0 };
        let mut blanks = 0;
        while let Some(&index) = self.blanks.front() {
            if index > last.index {
                break;
            }
            blanks += u64::from(index >= first.index);
            self.blanks.pop_front();
        }
        (entries.len() as u64).saturating_sub(blanks)
    }

    /// The application compacted the log so that it now starts at `first_index`.
    pub(super) fn compacted(&mut self, first_index: u64, group: &GroupSeries) {
        rec!(group.series => log_compactions.inc());
        if let Some(a) = group.node_wide() {
            a.log_compactions.inc();
        }
        self.size.compact(first_index);
        self.forget_blanks_below(first_index);
        self.publish_size(group);
    }

    /// A snapshot through `index` replaced the log.
    pub(super) fn replaced(&mut self, index: u64, group: &GroupSeries) {
        rec!(group.series => last_index.set_u64(index));
        self.size.clear();
        if self.conf_index <= index {
            self.conf_index = 0;
        }
        self.forget_blanks_below(index + 1);
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

    /// At a tick that publishes (`ticks`: the ticks it stands for), with the node-wide
    /// aggregate: the apply lag into its distribution, once per tick. The ticks skipped before
    /// it had the lag of the last publication (no index moved).
    pub(super) fn observe_apply_lag<S: Storage>(&mut self, raft_log: &RaftLog<S>, ticks: u32, group: &GroupSeries) {
        let lag = raft_log.committed.saturating_sub(raft_log.applied);
        if let Some(a) = group.agg() {
            let skipped = u64::from(ticks.saturating_sub(1));
            #[allow(clippy::cast_precision_loss)] // lags are far below 2^53
            observe_ticks(&a.apply_lag_entries, self.apply_lag as f64, skipped, lag as f64);
        }
        self.apply_lag = lag;
    }

    /// Entries below `index` left the log (compacted, or covered by a snapshot).
    fn forget_blanks_below(&mut self, index: u64) {
        while self.blanks.front().is_some_and(|&blank| blank < index) {
            self.blanks.pop_front();
        }
    }

    fn publish_size(&self, group: &GroupSeries) {
        rec!(group.series => log_entries.set_u64(self.size.len()));
        rec!(group.series => log_size.set_u64(self.size.bytes()));
    }
}

#[cfg(test)]
mod tests {
    use raft::eraftpb::EntryType;
    use raft_metrics::raft::RaftMetrics;
    use raft_metrics::Registry;

    use super::*;

    fn entry(index: u64, term: u64, entry_type: EntryType, data: &[u8]) -> Entry {
        let mut entry = Entry { index, term, data: data.to_vec().into(), ..Entry::default() };
        entry.set_entry_type(entry_type);
        entry
    }

    fn proposal(index: u64, term: u64) -> Entry {
        entry(index, term, EntryType::EntryNormal, b"put")
    }

    fn blank(index: u64, term: u64) -> Entry {
        entry(index, term, EntryType::EntryNormal, b"")
    }

    /// A batch of proposals is plain; one with a new leader's empty entry or a configuration
    /// change is not, and the applied proposals leave out exactly the empty entries.
    #[test]
    fn applied_proposals_leave_out_the_empty_entries() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let mut log = Log::default();
        assert!(!log.appended(&[blank(1, 1), proposal(2, 1), proposal(3, 1)], &group));
        assert!(log.appended(&[proposal(4, 1), proposal(5, 1)], &group));
        let conf = entry(6, 1, EntryType::EntryConfChangeV2, b"cc");
        assert!(!log.appended(&[conf, blank(7, 2), proposal(8, 2)], &group));
        assert_eq!(log.conf_index, 6);
        let batch = |from: u64, to: u64| (from..=to).map(|i| proposal(i, 1)).collect::<Vec<_>>();
        assert_eq!(log.proposals_applied(&batch(1, 2)), 1, "the empty entry at 1");
        assert_eq!(log.proposals_applied(&batch(3, 6)), 4, "proposals and a configuration change");
        assert_eq!(log.proposals_applied(&batch(7, 8)), 1, "the empty entry at 7");
        assert!(log.blanks.is_empty(), "applied empty entries are forgotten");
    }

    /// An overwritten tail takes its empty entries and configuration change with it; a
    /// compaction or a snapshot forgets those below it.
    #[test]
    fn overwrites_compactions_and_snapshots_forget_what_left_the_log() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let mut log = Log::default();
        let conf = entry(4, 1, EntryType::EntryConfChange, b"cc");
        log.appended(&[blank(1, 1), proposal(2, 1), blank(3, 1), conf], &group);
        // A new leader's log replaces entries from 3 on: proposals now, nothing noted.
        assert!(log.appended(&[proposal(3, 2), proposal(4, 2)], &group));
        assert_eq!((log.conf_index, log.blanks.iter().copied().collect::<Vec<_>>()), (0, vec![1]));
        assert_eq!(log.proposals_applied(&[proposal(2, 1), proposal(3, 2)]), 2, "the empty entry at 1 is below");
        log.appended(&[blank(5, 3), proposal(6, 3), blank(7, 4)], &group);
        log.compacted(6, &group);
        assert_eq!(log.blanks.iter().copied().collect::<Vec<_>>(), vec![7]);
        log.replaced(7, &group);
        assert!(log.blanks.is_empty());
        // After the overwrite check saw a stale newest index, appends are plain again.
        assert!(log.appended(&[proposal(8, 4)], &group));
    }

    /// Entries appended one at a time (the one-entry path) leave the log as the same entries
    /// appended in batches do: size, plainness, the empty entries and configuration change
    /// noted, an overwrite found.
    #[test]
    fn one_entry_appends_match_batches() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let mut entries: Vec<Entry> =
            (1..=1_000).map(|index| entry(index, 1, EntryType::EntryNormal, &[7; 10])).collect();
        entries[0] = blank(1, 1);
        entries[499] = entry(500, 1, EntryType::EntryConfChange, b"cc");
        entries[699] = blank(700, 1);
        let (mut single, mut batched) = (Log::default(), Log::default());
        let single_plain: Vec<bool> =
            entries.iter().map(|e| single.appended(std::slice::from_ref(e), &group)).collect();
        let mut batch_plain = Vec::new();
        for batch in entries.chunks(37) {
            batch_plain.push(batched.appended(batch, &group));
        }
        let state = |log: &Log| {
            (log.size.len(), log.size.bytes(), log.conf_index, log.blanks.iter().copied().collect::<Vec<_>>())
        };
        assert_eq!(state(&single), (1_000, 997 * 10 + 2, 500, vec![1, 700]));
        assert_eq!(state(&single), state(&batched));
        let unplain = |plain: &[bool]| plain.iter().filter(|&&p| !p).count();
        assert_eq!(unplain(&single_plain), 3, "the two empty entries and the change, each alone");
        assert!(!single_plain[0] && !single_plain[499] && !single_plain[699]);
        assert_eq!(unplain(&batch_plain), 3, "batches 0, 13 and 18");
        // A one-entry overwrite of the change's index forgets it, as a batch's does.
        single.appended(&[proposal(500, 2)], &group);
        batched.appended(&[proposal(500, 2)], &group);
        assert_eq!(state(&single), (500, 498 * 10 + 3, 0, vec![1]));
        assert_eq!(state(&single), state(&batched));
    }

    /// A persisted log larger than a page is read a page at a time, whole: its size, and the
    /// configuration change and empty entry in it.
    #[test]
    fn a_long_persisted_log_is_read_in_pages() {
        use raft::storage::MemStorage;
        let store = MemStorage::new();
        let mut entries: Vec<Entry> =
            (1..=3_000).map(|index| entry(index, 1, EntryType::EntryNormal, &[9; 1000])).collect();
        entries[0] = blank(1, 1);
        entries[2_999] = entry(3_000, 1, EntryType::EntryConfChange, &[9; 1000]);
        store.wl().append(&entries).expect("append");
        let log = Log::read(&store);
        assert_eq!((log.size.len(), log.size.bytes()), (3_000, 2_999 * 1000), "3 MB, read in pages of 1 MiB");
        assert_eq!((log.conf_index, log.blanks.iter().copied().collect::<Vec<_>>()), (3_000, vec![1]));
    }

    /// However many terms pass unapplied and uncompacted, the empty entries kept stay bounded.
    #[test]
    fn empty_entries_kept_are_bounded() {
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = GroupSeries::new(&metrics, "orders", 0);
        let mut log = Log::default();
        for index in 1..=2 * MAX_BLANKS as u64 {
            log.appended(&[blank(index, index)], &group);
        }
        assert_eq!(log.blanks.len(), MAX_BLANKS);
    }
}
