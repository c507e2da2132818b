//! Entries from proposal to apply: the proposals this node made as leader until their commit
//! (commit latency, failures), commit batches, and applies (duration, proposals applied).

use raft::eraftpb::Entry;
use raft::{RawNode, StateRole, Storage};
use raft_metrics::raft::ProposalFailure;

use super::group::GroupSeries;
use super::pending::{PendingProposals, Stamp};
use super::series::rec;
use super::turn::Turn;
use crate::classify;
use crate::clock;

/// The leader's pending proposals, and the commits and applies counted since the last tick
/// (recorded then: see "Counts kept between ticks" in [`node`](super)).
#[derive(Debug, Default)]
pub(super) struct Proposals {
    pending: PendingProposals,
    committed: u64,
    applied: u64,
}

impl Proposals {
    /// [`RawNode::propose`] or `propose_conf_change` refused a proposal: `proposals_failed` by
    /// reason. An accepted one needs nothing here: the leader finds it among the entries it
    /// appends ([`appended`](Self::appended)).
    #[cold]
    #[inline(never)]
    pub(super) fn refused<S: Storage>(&self, error: &raft::Error, raw: &RawNode<S>, group: &GroupSeries) {
        let reason = match error {
            raft::Error::ProposalDropped if raw.raft.state != StateRole::Leader => ProposalFailure::NotLeader,
            raft::Error::ProposalDropped => ProposalFailure::Dropped,
            _ => ProposalFailure::Other,
        };
        rec!(group.series => proposals_failed.get(reason).inc());
    }

    /// After `propose_conf_change` returned `Ok`: raft-rs turns a change proposed on a leader
    /// while another is pending into an empty entry (no proposal) and still returns `Ok`, which
    /// counts as `proposals_failed{reason="dropped"}`.
    pub(super) fn conf_change_accepted<S: Storage>(raw: &RawNode<S>, group: &GroupSeries) {
        let raft = &raw.raft;
        // A leader's `Ok` means the entry was appended to its unstable log: no storage read.
        if raft.state == StateRole::Leader && raft.pending_conf_index != raft.raft_log.last_index() {
            rec!(group.series => proposals_failed.get(ProposalFailure::Dropped).inc());
        }
    }

    /// The leader appended `entries` to its log in a turn `timed` or untimed:
    /// its proposals among them (entries of its `term` with client data, and configuration
    /// changes) await their commit, which times them from this turn.
    ///
    /// Found here, once per turn, rather than at each `propose`: a turn of a busy leader appends
    /// hundreds of proposals, and this counts proposals that followers forwarded to it too.
    /// `plain`: the log found only client proposals among them (the usual turn), which then
    /// form one run from their bounds.
    #[inline]
    pub(super) fn appended(&mut self, entries: &[Entry], plain: bool, term: u64, timed: Option<Stamp>) {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return };
        // Terms never decrease along a batch: both ends of this leader's term, all of it.
        if plain && first.term == term && last.term == term {
            self.pending.push_run(first.index, last.index, term, timed);
            return;
        }
        self.appended_mixed(entries, term, timed);
    }

    /// [`appended`](Self::appended) of a batch with other entries than this term's proposals.
    #[inline(never)]
    fn appended_mixed(&mut self, entries: &[Entry], term: u64, timed: Option<Stamp>) {
        let mut run: Option<(u64, u64)> = None;
        for entry in entries {
            if entry.term == term && classify::is_proposal(entry.get_entry_type(), entry.get_data()) {
                run = match run {
                    Some((first, _)) => Some((first, entry.index)),
                    None => Some((entry.index, entry.index)),
                };
            } else if let Some((first, last)) = run.take() {
                // The empty entry a new leader appends, or a dropped configuration change.
                self.pending.push_run(first, last, term, timed);
            }
        }
        if let Some((first, last)) = run {
            self.pending.push_run(first, last, term, timed);
        }
    }

    /// A batch of committed `entries` (not empty): `commit_batch_entries` in a timed turn, and
    /// for this node's proposals `proposals_committed`, `commit_latency_seconds` or
    /// `proposals_failed{reason="dropped"}`.
    #[inline(always)]
    pub(super) fn committed(&mut self, entries: &[Entry], group: &GroupSeries, turn: &mut Turn) {
        if turn.timed() {
            Self::observe_batch(entries.len(), turn.weight(), group);
        }
        // A follower's commits (and most of the leader's empty turns) stop here.
        if self.pending.len() > 0 {
            self.settle(entries, group, turn);
        }
    }

    /// The leader's pending proposals among committed `entries`. Inline: out of line, its
    /// cold paths had it save six registers on each call, a quarter of the steady case.
    #[inline(always)]
    fn settle(&mut self, entries: &[Entry], group: &GroupSeries, turn: &mut Turn) {
        let Self { pending, committed, .. } = self;
        let dropped = pending.commit(entries, |proposals, timed| {
            *committed += proposals;
            if let Some(stamp) = timed {
                Self::observe_commit_latency(stamp, proposals, group, turn);
            }
        });
        if dropped > 0 {
            rec!(group.series => proposals_failed.get(ProposalFailure::Dropped).add(dropped));
        }
    }

    /// `proposals` handed out in a timed turn (`stamp`) committed now: `commit_latency_seconds`,
    /// with the weight that turn was timed with. The clock is read, not the turn's reading taken:
    /// the turn may have begun before ticks its caller made since (`InstrumentedNode::committed`).
    #[inline(never)]
    fn observe_commit_latency(stamp: Stamp, proposals: u64, group: &GroupSeries, turn: &mut Turn) {
        let weight = proposals * u64::from(stamp.weight.get());
        let latency = clock::seconds(stamp.at, turn.clock.read());
        rec!(group.series => commit_latency.observe_n(latency, weight));
        if let Some(a) = group.node_wide() {
            a.commit_latency.observe_n(latency, weight);
        }
    }

    /// Applying a batch of entries took `seconds` (`apply_duration_seconds`, with `weight`).
    pub(super) fn observe_apply_duration(seconds: f64, weight: u64, group: &GroupSeries) {
        rec!(group.series => apply_duration.observe_n(seconds, weight));
    }

    /// `commit_batch_entries`, on a timed turn.
    fn observe_batch(entries: usize, weight: u64, group: &GroupSeries) {
        #[allow(clippy::cast_precision_loss)] // batch sizes are far below 2^53
        let batch = entries as f64;
        rec!(group.series => commit_batch_entries.observe_n(batch, weight));
        if let Some(a) = group.node_wide() {
            a.commit_batch_entries.observe_n(batch, weight);
        }
    }

    /// A batch of committed entries with `proposals` among them (entries with client data, and
    /// configuration changes: [`Log::proposals_applied`](super::log::Log::proposals_applied))
    /// was applied; recorded at the next tick.
    #[inline]
    pub(super) fn applied(&mut self, proposals: u64) {
        self.applied += proposals;
    }

    /// A snapshot covered the log through `index`: the fate of proposals there is unknown.
    pub(super) fn forget_through(&mut self, index: u64) {
        self.pending.forget_through(index);
    }

    /// Records the commits and applies counted since the last tick.
    pub(super) fn flush(&mut self, group: &GroupSeries) {
        let (committed, applied) = (std::mem::take(&mut self.committed), std::mem::take(&mut self.applied));
        rec!(group.series => proposals_committed.add(committed));
        rec!(group.series => proposals_applied.add(applied));
    }

    /// Sets `proposals_pending`.
    pub(super) fn publish(&self, group: &GroupSeries) {
        rec!(group.series => proposals_pending.set_u64(self.pending.len()));
    }
}
