//! The watcher over `Raft::metrics()`: role, term, leader, membership, and the leader's view of
//! its followers (lag in entries and time, in-sync replicas, quorum contact).
//!
//! openraft publishes its metrics through a `tokio::sync::watch` channel that keeps only the
//! latest value, so these are states, read every [`refresh`](crate::Group::with_refresh)
//! (100 ms by default); events (elections, leader changes, commits) are recorded by the wrappers
//! where they happen.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::{RaftMetrics, RaftTypeConfig, ServerState};
use raft_metrics::raft::NodeState;
use tokio::sync::watch;

use crate::clock;
use crate::group::{Group, Peer};

/// What the watcher remembers between two reads.
struct Watcher<C: RaftTypeConfig> {
    group: Group<C>,
    /// Counted in the node's `leader_partitions` / `follower_partitions`.
    counted: Option<NodeState>,
    /// The membership last published, by its log id.
    membership: Option<Option<openraft::LogId<C::NodeId>>>,
    /// Followers this node tracks as leader.
    followers: BTreeMap<C::NodeId, Follower>,
    /// The group's accepted AppendEntries count at the last read (`Group::contacts`).
    contacts: u64,
}

/// A follower as the leader's watcher tracks it.
struct Follower {
    peer: Arc<Peer>,
    /// The last read at which it was caught up (lag 0).
    caught_up: Instant,
    /// Its answer count at the last read, and the last read that saw the count advance.
    acks: u64,
    answered: Option<Instant>,
}

impl<C: RaftTypeConfig> Group<C> {
    /// The task that records what `Raft::metrics()` reports: spawn it (it ends when the `Raft`
    /// shuts down and drops the channel).
    ///
    /// Records `node_state`, `is_leader`, `has_leader`, `current_term`, `last_index` and
    /// `log_entries` (from openraft's `last_log_index` and `purged`), the node's
    /// `leader_partitions` and `follower_partitions`, `voters`, `learners`, `cluster_size`,
    /// `config_change_in_progress` (joint consensus, or a membership entry above the commit
    /// index), and on the leader `follower_lag_entries` and `follower_lag_seconds` per peer
    /// (seconds since the peer was last caught up; 0 while it is), `max_follower_lag_entries`,
    /// `isr_size` (voters within [`with_in_sync`](Self::with_in_sync): the leader, and each
    /// follower within the entry bound whose last AppendEntries answer is recent enough),
    /// `last_heartbeat_timestamp_seconds` per peer and `last_contact_timestamp_seconds` (now minus
    /// `millis_since_quorum_ack`); on a follower, `last_contact_timestamp_seconds` from
    /// [`on_append_entries`](Self::on_append_entries). Answers and contacts are counted by the
    /// wrappers and timed here, at the resolution of the refresh. Ends at once when the group does
    /// not record ([`with_recording`](Self::with_recording)).
    pub fn watch(
        &self,
        mut metrics: watch::Receiver<RaftMetrics<C::NodeId, C::Node>>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let mut w =
            Watcher { group: self.clone(), counted: None, membership: None, followers: BTreeMap::new(), contacts: 0 };
        let refresh = self.options.refresh;
        let recording = self.options.recording;
        async move {
            if !recording {
                return; // `Group::with_recording(false)`: openraft keeps its own receiver
            }
            let mut ticks = tokio::time::interval(refresh.max(Duration::from_millis(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Sampled, not woken by every change: openraft publishes new metrics several times
            // per write on every node (log index, replication progress, applied index), and a
            // watcher reading each one cost more than all the wrappers together in the write
            // loop (`benches/RESULTS.md`). What happens between two reads is recorded by the
            // wrappers as events; these states are at most one refresh old.
            loop {
                ticks.tick().await;
                if metrics.has_changed().is_err() {
                    break; // the `Raft` shut down
                }
                let now = Instant::now();
                w.observe(&metrics.borrow_and_update(), now);
            }
            w.stop();
        }
    }
}

fn role(state: ServerState) -> Option<NodeState> {
    match state {
        ServerState::Leader => Some(NodeState::Leader),
        ServerState::Candidate => Some(NodeState::Candidate),
        ServerState::Follower | ServerState::Learner => Some(NodeState::Follower),
        ServerState::Shutdown => None,
    }
}

impl<C: RaftTypeConfig> Watcher<C> {
    fn observe(&mut self, m: &RaftMetrics<C::NodeId, C::Node>, now: Instant) {
        let role = role(m.state);
        self.count_role(role);
        let group = self.group.clone();
        let s = &group.shared;
        let p = &s.series;
        if let Some(role) = role {
            s.replica.node_state.set(role.code());
        }
        p.is_leader.set(i64::from(role == Some(NodeState::Leader)));
        p.current_term.set_u64(m.current_term);
        p.has_leader.set(i64::from(m.current_leader.is_some()));
        group.set_log_indexes(m.last_log_index, m.purged.as_ref().map(|id| id.index));

        let membership = m.membership_config.membership();
        let log_id = m.membership_config.log_id();
        if self.membership.as_ref() != Some(log_id) {
            self.membership = Some(log_id.clone());
            let voters = membership.voter_ids().count();
            let learners = membership.learner_ids().count();
            s.metrics.set_membership(&s.topic, s.partition, voters, learners);
        }
        let uncommitted =
            log_id.as_ref().is_some_and(|id| i64::try_from(id.index).unwrap_or(i64::MAX) > p.commit_index.get());
        p.config_change_in_progress.set(i64::from(membership.get_joint_config().len() > 1 || uncommitted));

        match (&m.replication, role) {
            (Some(replication), Some(NodeState::Leader)) => {
                if let Some(ms) = m.millis_since_quorum_ack {
                    let at = now.checked_sub(Duration::from_millis(ms)).unwrap_or(now);
                    p.last_contact_timestamp.set(clock::unix(at));
                }
                let last = m.last_log_index;
                let voters: Vec<C::NodeId> = membership.voter_ids().collect();
                let mut in_sync = u64::from(voters.contains(&s.node));
                let mut max_lag = 0;
                let in_sync_rule = self.group.options.in_sync;
                for (id, matched) in replication {
                    if *id == s.node {
                        continue;
                    }
                    let lag = match (last, matched) {
                        (Some(last), Some(m)) => last.saturating_sub(m.index),
                        (Some(last), None) => last + 1,
                        (None, _) => 0,
                    };
                    let f = self.followers.entry(id.clone()).or_insert_with(|| {
                        let peer = group.peer(id);
                        // Answers before this node led do not count: it has heard nothing yet.
                        Follower { acks: peer.acks(), peer, caught_up: now, answered: None }
                    });
                    if lag == 0 {
                        f.caught_up = now;
                    }
                    let acks = f.peer.acks();
                    if acks != f.acks {
                        f.acks = acks;
                        f.answered = Some(now);
                        f.peer.series.last_heartbeat_timestamp.set(clock::unix(now));
                    }
                    let series = &f.peer.series;
                    series.follower_lag_entries.set_u64(lag);
                    series.follower_lag.set(now.saturating_duration_since(f.caught_up).as_secs_f64());
                    max_lag = max_lag.max(lag);
                    let silence = f.answered.map_or(Duration::MAX, |at| now.saturating_duration_since(at));
                    if voters.contains(id) && in_sync_rule.holds(lag, &silence) {
                        in_sync += 1;
                    }
                }
                p.max_follower_lag_entries.set_u64(max_lag);
                p.isr_size.set_u64(in_sync);
            }
            _ => {
                self.not_leading();
                let contacts = self.group.contacts();
                if contacts != self.contacts {
                    self.contacts = contacts;
                    p.last_contact_timestamp.set(clock::unix(now));
                }
            }
        }
    }

    /// A node that does not lead reports no follower lag and no in-sync replicas.
    fn not_leading(&mut self) {
        if self.followers.is_empty() {
            return;
        }
        for f in self.followers.values() {
            f.peer.series.follower_lag_entries.set(0);
            f.peer.series.follower_lag.set(0.0);
        }
        self.followers.clear();
        let p = &self.group.shared.series;
        p.max_follower_lag_entries.set(0);
        p.isr_size.set(0);
    }

    fn count_role(&mut self, role: Option<NodeState>) {
        let counted = |r: Option<NodeState>| r.filter(|r| *r != NodeState::Candidate);
        let (before, after) = (self.counted, counted(role));
        if before == after {
            return;
        }
        let n = &self.group.shared.node_series;
        match before {
            Some(NodeState::Leader) => n.leader_partitions.dec(),
            Some(_) => n.follower_partitions.dec(),
            None => {}
        }
        match after {
            Some(NodeState::Leader) => n.leader_partitions.inc(),
            Some(_) => n.follower_partitions.inc(),
            None => {}
        }
        self.counted = after;
    }

    /// The `Raft` shut down: this group no longer counts in the node's totals.
    fn stop(&mut self) {
        self.count_role(None);
        self.not_leading();
        let s = &self.group.shared;
        s.series.is_leader.set(0);
        s.series.has_leader.set(0);
    }
}
