//! What kind of configuration change an applied membership entry is.

use std::collections::BTreeSet;

use openraft::{Membership, Node, NodeId};
use raft_metrics::raft::ConfigChangeKind;

/// The shape of a configuration, enough to tell one change from another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shape<NID: Ord> {
    voters: BTreeSet<NID>,
    learners: BTreeSet<NID>,
    joint: bool,
}

impl<NID: NodeId> Shape<NID> {
    pub(crate) fn of<N: Node>(m: &Membership<NID, N>) -> Self {
        Self {
            voters: m.voter_ids().collect(),
            learners: m.learner_ids().collect(),
            joint: m.get_joint_config().len() > 1,
        }
    }

    /// Whether this is the empty configuration of a node not yet initialised: what follows it
    /// is the bootstrap, not a change.
    pub(crate) fn is_empty(&self) -> bool {
        self.voters.is_empty() && self.learners.is_empty()
    }

    /// The change from `self` to `next`, if it is one: entering or leaving joint consensus,
    /// else a voter or learner added, else a node removed.
    pub(crate) fn change_to(&self, next: &Self) -> Option<ConfigChangeKind> {
        if next.joint && !self.joint {
            return Some(ConfigChangeKind::EnterJoint);
        }
        if self.joint && !next.joint {
            return Some(ConfigChangeKind::LeaveJoint);
        }
        if next.voters.difference(&self.voters).next().is_some() {
            return Some(ConfigChangeKind::AddVoter);
        }
        if next.learners.difference(&self.learners).any(|l| !self.voters.contains(l)) {
            return Some(ConfigChangeKind::AddLearner);
        }
        let before = self.voters.union(&self.learners).count();
        let after = next.voters.union(&next.learners).count();
        (after < before).then_some(ConfigChangeKind::RemoveNode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::BasicNode;

    fn shape(configs: Vec<Vec<u64>>, learners: &[u64]) -> Shape<u64> {
        let configs: Vec<BTreeSet<u64>> = configs.into_iter().map(|c| c.into_iter().collect()).collect();
        let mut nodes: BTreeSet<u64> = configs.iter().flatten().copied().collect();
        nodes.extend(learners);
        let nodes: std::collections::BTreeMap<u64, BasicNode> =
            nodes.into_iter().map(|n| (n, BasicNode::default())).collect();
        Shape::of(&Membership::new(configs, nodes))
    }

    #[test]
    fn changes_are_classified() {
        let three = shape(vec![vec![1, 2, 3]], &[]);
        let learner = shape(vec![vec![1, 2, 3]], &[4]);
        let joint = shape(vec![vec![1, 2, 3], vec![1, 2, 3, 4]], &[]);
        let four = shape(vec![vec![1, 2, 3, 4]], &[]);
        assert_eq!(three.change_to(&learner), Some(ConfigChangeKind::AddLearner));
        assert_eq!(learner.change_to(&joint), Some(ConfigChangeKind::EnterJoint));
        assert_eq!(joint.change_to(&four), Some(ConfigChangeKind::LeaveJoint));
        assert_eq!(three.change_to(&four), Some(ConfigChangeKind::AddVoter));
        assert_eq!(learner.change_to(&three), Some(ConfigChangeKind::RemoveNode));
        assert_eq!(three.change_to(&three), None);
        assert!(Shape::<u64>::default().is_empty() && !three.is_empty());
    }
}
