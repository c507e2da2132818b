//! The group's configuration: `voters`, `learners`, `cluster_size`, and the configuration
//! changes applied, by kind.

use raft::eraftpb::ConfChangeV2;
use raft::ProgressTracker;
use raft_metrics::raft::ConfigChangeMetrics;
use raft_metrics::Handle;

use super::group::GroupSeries;
use super::links::Links;
use super::peers::Peers;
use super::series::rec;
use crate::classify;

/// The `config_changes_total` series, bound per kind on first use.
#[derive(Default)]
pub(super) struct Membership {
    config_changes: Vec<(&'static str, Handle<ConfigChangeMetrics>)>,
}

impl Membership {
    /// raft-rs applied `cc`, which left the configuration `prs` has now: counts
    /// `config_changes_total` by kind ([`classify::change_kinds`]), binds added peers and removes
    /// the series of removed ones, and publishes the configuration.
    pub(super) fn applied(
        &mut self,
        cc: &ConfChangeV2,
        prs: &ProgressTracker,
        self_id: u64,
        peers: &mut Peers,
        links: &mut Links,
        group: &GroupSeries,
    ) {
        for kind in classify::change_kinds(cc) {
            self.config_change(kind, group).config_changes.inc();
            if let Some(a) = group.node_wide() {
                a.config_changes.inc();
            }
        }
        for change in cc.get_changes() {
            let gone = change.node_id;
            let member = prs.conf().voters().contains(gone) || prs.conf().learners().contains(&gone);
            if gone != self_id && !member {
                peers.forget(group, gone, links);
            }
        }
        peers.sync(group, prs, self_id, links);
        Self::publish(prs, group);
    }

    /// Sets `voters`, `learners` and `cluster_size` from `prs`'s configuration.
    pub(super) fn publish(prs: &ProgressTracker, group: &GroupSeries) {
        let conf = prs.conf();
        let voters = conf.voters().ids().len() as u64;
        let learners = conf.learners().len() as u64;
        rec!(group.series => voters.set_u64(voters));
        rec!(group.series => learners.set_u64(learners));
        rec!(group.series => cluster_size.set_u64(voters + learners));
    }

    fn config_change(&mut self, kind: &'static str, group: &GroupSeries) -> &Handle<ConfigChangeMetrics> {
        let changes = &mut self.config_changes;
        let at = changes.iter().position(|(k, _)| *k == kind).unwrap_or_else(|| {
            let families = group.metrics.families();
            changes.push((kind, families.config_changes.bind((&group.topic, group.partition, kind))));
            changes.len() - 1
        });
        &changes[at].1
    }
}
