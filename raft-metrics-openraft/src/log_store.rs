//! [`InstrumentedLogStore`]: a delegating [`RaftLogStorage`] that records the log's indexes,
//! append durations, the leader's proposals between append and commit, and, from the votes
//! openraft saves, elections and leader changes ([`election`](crate::election)).

use std::fmt::Debug;
use std::future::Future;
use std::ops::RangeBounds;
use std::time::Instant;

use openraft::entry::RaftPayload;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogId, RaftLogReader, RaftTypeConfig, StorageError, Vote};
use raft_metrics::raft::{ElectionResult, LogSize, ProposalFailure};

use crate::clock::{self, Sampler};
use crate::group::{lock, Group};
use crate::proposals::Pending;

/// The application's [`RaftLogStorage`], recording the group's log metrics.
///
/// Records, at the call that makes the transition:
///
/// | call | metrics |
/// | --- | --- |
/// | `append` | with [`Group::with_log_size`] `log_size_bytes`; timed calls: `log_append_duration_seconds` (the `append` call, not the later flush: openraft 0.9 keeps the flush callback's constructor private); the leader's proposals become `proposals_pending` |
/// | `save_committed` | `commit_index`, `apply_lag_entries`; on the leader `proposals_committed_total`, `commit_latency_seconds` (proposals of timed appends), and `commit_batch_entries` of the commits sampled as calls are timed ([`Group::with_timing`]: a histogram observation costs about as much as the rest of the call) |
/// | `truncate` | `log_truncations_total`, `log_size_bytes`; the leader's dropped proposals: `proposals_failed_total{reason="dropped"}` |
/// | `purge` | `log_compactions_total`, `log_size_bytes` |
/// | `get_log_state` (startup) | `last_index`, `log_entries`; with [`Group::with_log_size`], the persisted log is read once, 1,024 entries at a time, for `log_size_bytes` (a read error leaves the entries not read uncounted rather than fail the start) |
/// | `save_vote` | `elections_total`, `election_duration_seconds`, `votes_received` (reset), `leader_changes_seen_total` |
///
/// `last_index` and `log_entries` move with every append, truncation and purge, and are set by
/// the watcher ([`Group::watch`]) from openraft's own `last_log_index` and `purged` at each
/// refresh instead, so that an append is not made to look at its entries for them: a follower's
/// append then forwards its entries untouched (its pass over them cost 0.4 points of the write
/// loop's instructions with 100 concurrent writes, `benches/notes/openraft.md`).
///
/// Everything else forwards unchanged. Created by [`Group::log_store`].
pub struct InstrumentedLogStore<C: RaftTypeConfig, S> {
    inner: S,
    group: Group<C>,
    sampler: Sampler,
    /// Which of the leader's commits observe `commit_batch_entries`.
    batches: Sampler,
    /// The term at which this node holds a committed vote for itself: it leads.
    leading: Option<u64>,
    pending: Pending,
    committed: Option<u64>,
    /// How to size an entry for `log_size_bytes`, when the group keeps it
    /// ([`Group::with_log_size`] and [`Group::with_entry_size`]).
    sizer: Option<fn(&C::Entry) -> u64>,
    /// The log's bytes, kept when there is a `sizer`.
    size: LogSize,
    /// Whether the persisted log has been read for its size (once, at the first
    /// `get_log_state`).
    sized: bool,
}

/// The most entries [`InstrumentedLogStore`] reads at once when it sizes the persisted log at
/// startup, so that a node restarting with a long log does not hold all of it in memory.
const LOG_READ_PAGE: u64 = 1024;

/// The most bytes one entry counts for in `log_size_bytes`: far above any Raft entry, and low
/// enough that a size function returning nonsense cannot overflow the sum (4 billion such
/// entries would be needed), which would panic a debug build.
const MAX_ENTRY_BYTES: u64 = 1 << 32;

/// `entry`'s bytes as the application's `size` says, at most [`MAX_ENTRY_BYTES`].
#[inline(always)]
fn entry_bytes<E>(size: fn(&E) -> u64, entry: &E) -> u64 {
    size(entry).min(MAX_ENTRY_BYTES)
}

impl<C: RaftTypeConfig, S: Debug> Debug for InstrumentedLogStore<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedLogStore").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<C: RaftTypeConfig> Group<C> {
    /// Wraps the group's log store.
    pub fn log_store<S: RaftLogStorage<C>>(&self, inner: S) -> InstrumentedLogStore<C, S> {
        InstrumentedLogStore {
            inner,
            sampler: Sampler::new(self.options.timing, self.seed()),
            batches: Sampler::new(self.options.timing, self.seed()),
            group: self.clone(),
            leading: None,
            pending: Pending::default(),
            committed: None,
            sizer: self.options.entry_size.filter(|_| self.options.log_size),
            size: LogSize::new(),
            sized: false,
        }
    }
}

impl<C: RaftTypeConfig, S> InstrumentedLogStore<C, S> {
    /// Whether the store records ([`Group::with_recording`]); when not, every call forwards.
    #[inline(always)]
    fn recording(&self) -> bool {
        self.group.options.recording
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped store, mutably.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The commit index moved to `index`: the gauges, and on the leader its proposals up to it.
    fn committed_to(&mut self, index: u64) {
        let before = self.committed.replace(index);
        self.group.set_commit_index(index);
        let p = &self.group.shared.series;
        if self.pending.count() > 0 {
            let done = self.pending.commit(index, |seconds, n| p.commit_latency.observe_n(seconds, n));
            p.proposals_committed.add(done);
            p.proposals_pending.set_u64(self.pending.count());
        }
        if self.leading.is_some() && self.batches.sampled() {
            let newly = before.map_or(index + 1, |b| index.saturating_sub(b));
            if newly > 0 {
                #[allow(clippy::cast_precision_loss)] // batch sizes are far below 2^53
                p.commit_batch_entries.observe(newly as f64);
            }
        }
    }

    /// `log_size_bytes`, when the group keeps it.
    fn publish_size(&self) {
        if self.sizer.is_some() {
            self.group.shared.series.log_size.set_u64(self.size.bytes());
        }
    }

    /// Sizes the persisted log (`purged + 1 ..= last`), a page at a time.
    async fn read_size(
        &mut self,
        size: fn(&C::Entry) -> u64,
        last: Option<u64>,
        purged: Option<u64>,
    ) -> Result<(), StorageError<C::NodeId>>
    where
        S: RaftLogReader<C>,
    {
        let Some(last) = last else { return Ok(()) };
        let mut next = purged.map_or(0, |purged| purged.saturating_add(1));
        while next <= last {
            let end = next.saturating_add(LOG_READ_PAGE).min(last.saturating_add(1));
            let page = self.inner.try_get_log_entries(next..end).await?;
            let Some(after) = page.last().map(|entry| entry.get_log_id().index.saturating_add(1)) else { break };
            self.size.append(&page, |entry| entry.get_log_id().index, |entry| entry_bytes(size, entry));
            if after <= next {
                break;
            }
            next = after;
        }
        Ok(())
    }

    fn on_vote(&mut self, vote: &Vote<C::NodeId>) {
        let s = &self.group.shared;
        let term = vote.leader_id.term;
        let candidate = vote.leader_id.voted_for();
        let mine = candidate.as_ref() == Some(&s.node);
        self.leading = (mine && vote.committed).then_some(term);
        let label = candidate.as_ref().map(ToString::to_string);
        let out = lock(&s.election).on_vote(term, label.as_deref(), mine, vote.committed, Instant::now);
        if out.started {
            s.series.votes_received.set(1);
        }
        match out.ended {
            Some((result, Some(seconds))) => {
                let won = result == ElectionResult::Won;
                s.metrics.record_election(&s.topic, s.partition, won, seconds * 1e3);
            }
            Some((result, None)) => s.series.elections.get(result).inc(),
            None => {}
        }
        if out.leader_changed {
            s.series.leader_changes_seen.inc();
        }
    }
}

// The calls that only forward return the inner store's future itself rather than an `async fn`
// around it: the wrapper's own state machine, its extra poll and the copies of the inner future
// into it cost the write loop instructions for nothing. `refining_impl_trait`: openraft's macro
// declares these futures `+ Send` (without its `singlethreaded` feature); `OptionalSend` is the
// same bound, spelled so that the impl also builds with that feature.
impl<C: RaftTypeConfig, S: RaftLogReader<C>> RaftLogReader<C> for InstrumentedLogStore<C, S> {
    #[allow(refining_impl_trait)]
    fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> impl Future<Output = Result<Vec<C::Entry>, StorageError<C::NodeId>>> + OptionalSend {
        self.inner.try_get_log_entries(range)
    }
}

impl<C: RaftTypeConfig, S: RaftLogStorage<C>> RaftLogStorage<C> for InstrumentedLogStore<C, S> {
    type LogReader = S::LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.get_log_state().await;
        }
        let state = self.inner.get_log_state().await?;
        let last = state.last_log_id.as_ref().map(|id| id.index);
        let purged = state.last_purged_log_id.as_ref().map(|id| id.index);
        if let (Some(size), false) = (self.sizer, self.sized) {
            self.sized = true;
            // A read error does not fail openraft's start for a metric: the bytes of the entries
            // not read stay uncounted (openraft will meet the same error when it reads them).
            let _ = self.read_size(size, last, purged).await;
        }
        // Before the watcher's first read.
        self.group.set_log_indexes(last, purged);
        self.publish_size();
        Ok(state)
    }

    #[allow(refining_impl_trait)] // see `try_get_log_entries`
    fn get_log_reader(&mut self) -> impl Future<Output = Self::LogReader> + OptionalSend {
        self.inner.get_log_reader()
    }

    async fn save_vote(&mut self, vote: &Vote<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.save_vote(vote).await;
        }
        self.inner.save_vote(vote).await?;
        self.on_vote(vote);
        Ok(())
    }

    #[allow(refining_impl_trait)] // see `try_get_log_entries`
    fn read_vote(
        &mut self,
    ) -> impl Future<Output = Result<Option<Vote<C::NodeId>>, StorageError<C::NodeId>>> + OptionalSend {
        self.inner.read_vote()
    }

    /// Records the commit before the inner store saves it and returns the inner future: no
    /// `async` layer around it (a commit is saved on every node for every write), and the
    /// commit latency ends when openraft has decided the commit, not after the save.
    #[allow(refining_impl_trait)] // see `try_get_log_entries`
    fn save_committed(
        &mut self,
        committed: Option<LogId<C::NodeId>>,
    ) -> impl Future<Output = Result<(), StorageError<C::NodeId>>> + OptionalSend {
        if let (true, Some(index)) = (self.recording(), committed.as_ref().map(|id| id.index)) {
            self.committed_to(index);
        }
        self.inner.save_committed(committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<C::NodeId>>, StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.read_committed().await;
        }
        let committed = self.inner.read_committed().await?;
        if let Some(index) = committed.as_ref().map(|id| id.index) {
            self.committed = Some(index);
            self.group.set_commit_index(index);
        }
        Ok(committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<C>) -> Result<(), StorageError<C::NodeId>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        if !self.recording() {
            return self.inner.append(entries, callback).await;
        }
        let start = self.sampler.start();
        let (pending, log) = (&mut self.pending, &mut self.size);
        // This call's proposals as runs of consecutive indexes, handed to `pending` a run at a
        // time rather than an entry at a time.
        let mut run: Option<(u64, u64)> = None;
        // A follower's entries (two appends in three, in a 3-node group) go to the inner store
        // untouched unless the group keeps the log's size; only the leader's are looked at, for
        // its proposals. Present in every iterator, the proposals' check cost 0.44 points of
        // `batched_100`'s instructions although it never passed there, a test of the size option
        // per entry 0.27 points although it never passed either, and a follower's pass for its
        // last index 0.4 points (`benches/notes/openraft.md`).
        let written = match (self.leading, self.sizer) {
            (None, None) => self.inner.append(entries, callback).await,
            (None, Some(size)) => {
                let seen = entries.into_iter().inspect(|entry| {
                    log.append_one(entry.get_log_id().index, entry_bytes(size, entry));
                });
                self.inner.append(seen, callback).await
            }
            (Some(term), sizer) => {
                // openraft 0.9's leader appends each client write alone: one entry per call.
                let seen = entries.into_iter().inspect(|entry| {
                    let id = entry.get_log_id();
                    let index = id.index;
                    if let Some(size) = sizer {
                        log.append_one(index, entry_bytes(size, entry));
                    }
                    if id.leader_id.term == term && !entry.is_blank() && entry.get_membership().is_none() {
                        run = match run {
                            Some((first, last)) if last + 1 == index => Some((first, index)),
                            Some((first, last)) => {
                                pending.push_run(first, last, start);
                                Some((index, index))
                            }
                            None => Some((index, index)),
                        };
                    }
                });
                self.inner.append(seen, callback).await
            }
        };
        written?;
        if let Some(start) = start {
            self.group.shared.series.log_append_duration.observe(clock::seconds_since(start));
        }
        if let Some((first, last)) = run {
            self.pending.push_run(first, last, start);
            self.group.shared.series.proposals_pending.set_u64(self.pending.count());
        }
        self.publish_size();
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.truncate(log_id).await;
        }
        let index = log_id.index;
        self.inner.truncate(log_id).await?;
        let p = &self.group.shared.series;
        p.log_truncations.inc();
        self.size.truncate(index);
        let dropped = self.pending.truncate(index);
        if dropped > 0 {
            p.proposals_failed.get(ProposalFailure::Dropped).add(dropped);
            p.proposals_pending.set_u64(self.pending.count());
        }
        self.publish_size();
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<C::NodeId>) -> Result<(), StorageError<C::NodeId>> {
        if !self.recording() {
            return self.inner.purge(log_id).await;
        }
        let index = log_id.index;
        self.inner.purge(log_id).await?;
        let s = &self.group.shared;
        s.metrics.record_log_compaction(&s.topic, s.partition);
        self.size.compact(index.saturating_add(1));
        self.publish_size();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};
    use raft_metrics::advanced::parse::{self, Scrape};
    use raft_metrics::raft::RaftMetrics;
    use raft_metrics::{Format, Registry, Sampling};

    use super::*;
    use crate::sim::{entry_size, Entry, MemLogStore, Put, TypeConfig};

    /// The labels of the group's series.
    const PARTITION: [(&str, &str); 2] = [("topic", "orders"), ("partition", "0")];

    /// A persisted log of entries `0..10` (16 bytes each in `entry_size`), wrapped by a group that
    /// keeps the log's size; the scrape after the wrapper's `get_log_state`.
    fn start(failing_reads: bool) -> (Result<LogState<TypeConfig>, StorageError<u64>>, Scrape) {
        start_sized(failing_reads, entry_size)
    }

    fn start_sized(
        failing_reads: bool,
        entry_size: fn(&Entry) -> u64,
    ) -> (Result<LogState<TypeConfig>, StorageError<u64>>, Scrape) {
        let store = MemLogStore::default();
        for index in 0..10 {
            let log_id = LogId::new(CommittedLeaderId::new(1, 1), index);
            let payload = EntryPayload::Normal(Put { key: index, value: index });
            store.data().log.insert(index, Entry { log_id, payload });
        }
        store.set_failing_reads(failing_reads);
        let registry = Registry::new();
        let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
        let group = Group::<TypeConfig>::new(&metrics, "orders", 0, 1).with_entry_size(entry_size).with_log_size();
        let mut log = group.log_store(store);
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let state = rt.block_on(log.get_log_state());
        let scrape = parse::parse(&registry.encode_to_string(Format::Prometheus), Format::Prometheus).expect("scrape");
        (state, scrape)
    }

    #[test]
    fn the_persisted_log_is_sized_at_startup() {
        let (state, scrape) = start(false);
        assert_eq!(state.expect("state").last_log_id.map(|id| id.index), Some(9));
        assert_eq!(scrape.value("chronik_raft_log_entries", &PARTITION), Some(10.0));
        assert_eq!(scrape.value("chronik_raft_log_size_bytes", &PARTITION), Some(160.0));
    }

    /// Sizing the log is the wrapper's business: a store that fails the read does not fail
    /// openraft's start through it (openraft meets the error itself when it reads the log).
    #[test]
    fn a_failed_read_does_not_fail_the_start() {
        let (state, scrape) = start(true);
        assert_eq!(state.expect("the start goes on").last_log_id.map(|id| id.index), Some(9));
        assert_eq!(scrape.value("chronik_raft_log_entries", &PARTITION), Some(10.0));
        assert_eq!(scrape.value("chronik_raft_log_size_bytes", &PARTITION), Some(0.0), "nothing read, nothing counted");
    }

    /// The leader's commit batch sizes are sampled as calls are timed: every commit with
    /// `Sampling::All`, about one in 8 by default; a sampled commit observes the entries since
    /// the previous commit, sampled or not.
    #[test]
    fn commit_batches_are_sampled_as_calls_are_timed() {
        let batches = |timing: Sampling| {
            let registry = Registry::new();
            let metrics = RaftMetrics::with_registry(&registry).expect("metrics");
            let group = Group::<TypeConfig>::new(&metrics, "orders", 0, 1).with_timing(timing);
            let mut log = group.log_store(MemLogStore::default());
            log.leading = Some(1);
            for index in 0..800 {
                log.committed_to(index);
            }
            let scrape =
                parse::parse(&registry.encode_to_string(Format::Prometheus), Format::Prometheus).expect("scrape");
            let count = scrape.value("chronik_raft_commit_batch_entries_count", &PARTITION).unwrap_or(0.0);
            let sum = scrape.value("chronik_raft_commit_batch_entries_sum", &PARTITION).unwrap_or(0.0);
            (count, sum)
        };
        assert_eq!(batches(Sampling::All), (800.0, 800.0), "the first commit counts entry 0 too");
        let (count, _) = batches(crate::DEFAULT_TIMING);
        assert!((60.0..=140.0).contains(&count), "{count} of 800 commits, about 100 expected");
        assert_eq!(batches(Sampling::Off), (0.0, 0.0));
    }

    /// A size function returning nonsense cannot overflow the log's byte count (a panic in a
    /// debug build): each entry counts for at most `MAX_ENTRY_BYTES`.
    #[test]
    fn nonsense_sizes_do_not_overflow() {
        let (state, scrape) = start_sized(false, |_| u64::MAX);
        assert!(state.is_ok());
        assert_eq!(scrape.value("chronik_raft_log_size_bytes", &PARTITION), Some(10.0 * (1u64 << 32) as f64));
    }
}
