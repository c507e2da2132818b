//! Setting the state gauges, recording the counts kept since the last tick, and binding handles.

use raft::{GetEntriesContext, StateRole, Storage, NO_LIMIT};
use raft_metrics::raft::{AggregatedMetrics, ConfigChangeMetrics};
use raft_metrics::Handle;

use super::{peer_slot, rec, InstrumentedNode, Peer};
use crate::classify;

impl<S: Storage> InstrumentedNode<S> {
    pub(super) fn publish_role(&self, prev: Option<StateRole>, role: StateRole) {
        rec!(self.replica => node_state.set(classify::node_state(role).code()));
        rec!(self.p => is_leader.set(i64::from(role == StateRole::Leader)));
        if let Some(prev) = prev {
            self.count_role(prev, -1);
        }
        self.count_role(role, 1);
    }

    pub(super) fn count_role(&self, role: StateRole, delta: i64) {
        match role {
            StateRole::Leader => self.node.leader_partitions.add(delta),
            StateRole::Follower => self.node.follower_partitions.add(delta),
            StateRole::Candidate | StateRole::PreCandidate => {}
        }
    }

    /// The state published once per tick (and when the wrapper is created): indexes, apply lag,
    /// log size, pending proposals, configuration change in progress, and the follower's last
    /// contact with its leader.
    pub(super) fn publish_state(&mut self) {
        let log = &self.raw.raft.raft_log;
        rec!(self.p => commit_index.set_u64(log.committed));
        rec!(self.p => last_applied.set_u64(log.applied));
        rec!(self.p => apply_lag_entries.set_u64(log.committed.saturating_sub(log.applied)));
        rec!(self.p => last_index.set_u64(log.last_index()));
        rec!(self.p => proposals_pending.set_u64(self.pending.len()));
        self.publish_log();
        self.publish_conf_change_in_progress();
        if std::mem::take(&mut self.contacted) {
            // Heard from the leader since the last tick: the tick's time, within one tick.
            let unix = self.clock.unix();
            rec!(self.p => last_contact_timestamp.set(unix));
        }
    }

    /// Records the counts kept since the last tick ([`super::tally`]).
    pub(super) fn flush_tallies(&mut self) {
        let tally = std::mem::take(&mut self.tally);
        rec!(self.p => proposals_committed.add(tally.proposals_committed));
        rec!(self.p => proposals_applied.add(tally.proposals_applied));
        let agg = self.agg.as_deref();
        for peer in &mut self.peers {
            let (sent, bytes, received) = (peer.appends_sent, peer.append_bytes_sent, peer.appends_received);
            (peer.appends_sent, peer.append_bytes_sent, peer.appends_received) = (0, 0, 0);
            rec!(peer.metrics => append_entries_sent.add(sent));
            rec!(peer.metrics => append_entries_sent_bytes.add(bytes));
            rec!(peer.metrics => append_entries_received.add(received));
            if let Some(a) = agg {
                a.append_entries_sent.add(sent);
                a.append_entries_sent_bytes.add(bytes);
                a.append_entries_received.add(received);
            }
        }
        for target in &mut self.rpcs {
            target.flush();
        }
    }

    /// A configuration change is in the log but not applied yet.
    pub(super) fn publish_conf_change_in_progress(&self) {
        rec!(self.p => config_change_in_progress.set(i64::from(self.conf_index > self.raw.raft.raft_log.applied)));
    }

    pub(super) fn publish_conf(&self) {
        let conf = self.raw.raft.prs().conf();
        let voters = conf.voters().ids().len() as u64;
        let learners = conf.learners().len() as u64;
        rec!(self.p => voters.set_u64(voters));
        rec!(self.p => learners.set_u64(learners));
        rec!(self.p => cluster_size.set_u64(voters + learners));
    }

    pub(super) fn publish_log(&self) {
        rec!(self.p => log_entries.set_u64(self.log.len()));
        rec!(self.p => log_size.set_u64(self.log.bytes()));
    }

    pub(super) fn publish_snapshot_progress(&self) {
        rec!(self.p => snapshot_in_progress.set(i64::from(self.snapshots_sending > 0 || self.snapshot_receiving)));
    }

    // ---- handles ----------------------------------------------------------------------------

    pub(super) fn agg(&self) -> Option<&AggregatedMetrics> {
        self.agg.as_deref()
    }

    /// The peer `id` if it is a member of the configuration: messages from or to a node that
    /// left must not bring its series back.
    pub(super) fn peer(&mut self, id: u64) -> Option<&mut Peer> {
        self.peers.iter_mut().find(|p| p.id == id)
    }

    /// Makes `peers` the members of the configuration other than this node: binds new members,
    /// forgets former ones (whose series [`apply_conf_change`](Self::apply_conf_change) removes).
    pub(super) fn sync_peers(&mut self) {
        let conf = self.raw.raft.prs().conf();
        let self_id = self.raw.raft.id;
        let is_member = |id: u64| id != self_id && (conf.voters().contains(id) || conf.learners().contains(&id));
        self.peers.retain(|p| is_member(p.id));
        let members: Vec<u64> = conf.voters().ids().iter().chain(conf.learners().iter().copied()).collect();
        for id in members {
            if id != self_id {
                peer_slot(&mut self.peers, &self.metrics, &self.topic, self.partition, id);
            }
        }
    }

    pub(super) fn config_change(&mut self, kind: &'static str) -> &Handle<ConfigChangeMetrics> {
        let (changes, families) = (&mut self.config_changes, self.metrics.families());
        let at = changes.iter().position(|(k, _)| *k == kind).unwrap_or_else(|| {
            changes.push((kind, families.config_changes.bind(&self.topic, self.partition, kind)));
            changes.len() - 1
        });
        &self.config_changes[at].1
    }

    /// Reads the persisted log once, for its size and any configuration change not yet applied.
    pub(super) fn seed_log(&mut self) {
        let store = self.raw.store();
        let (Ok(first), Ok(last)) = (store.first_index(), store.last_index()) else { return };
        if last < first {
            return;
        }
        let Ok(entries) = store.entries(first, last + 1, NO_LIMIT, GetEntriesContext::empty(false)) else { return };
        self.log.append(&entries);
        if let Some(conf) = entries.iter().rev().find(|e| classify::is_conf_change(e.get_entry_type())) {
            self.conf_index = conf.index;
        }
    }
}
