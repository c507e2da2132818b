//! The guide's "8. Quorum Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

pub type NodeId = u64;

pub struct ClusterConfig {
    pub nodes: Vec<NodeId>,
}

pub struct RaftConfig {
    topic: String,
    partition: i32,
    nodes: Vec<NodeId>,
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftConfig {
    fn update_cluster_configuration(&mut self, new_config: ClusterConfig) {
        let metrics = RaftMetrics::new();

        let old_size = self.nodes.len();
        let new_size = new_config.nodes.len();

        metrics.set_cluster_size(&self.topic, self.partition, new_size);

        // Track config change type
        if new_size > old_size {
            metrics.record_config_change(&self.topic, self.partition, "add_node");
        } else if new_size < old_size {
            metrics.record_config_change(&self.topic, self.partition, "remove_node");
        }

        self.nodes = new_config.nodes;
    }
}
// The guide's block ends here.

#[test]
fn every_call_lands() {
    let mut config = RaftConfig { topic: "quorum".to_owned(), partition: 0, nodes: vec![1, 2, 3] };
    config.update_cluster_configuration(ClusterConfig { nodes: vec![1, 2, 3, 4, 5] });
    config.update_cluster_configuration(ClusterConfig { nodes: vec![1, 2, 3, 4] });
    let p = [("topic", "quorum"), ("partition", "0")];
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_cluster_size", &p), 4.0);
    let changes = |kind| value(&s, "chronik_raft_config_changes_total", &[p[0], p[1], ("kind", kind)]);
    assert_eq!(changes("add_node"), 1.0);
    assert_eq!(changes("remove_node"), 1.0);
    // The enum names the same series as the guide's text.
    RaftMetrics::new().record_config_change("quorum", 0u32, raft_metrics::raft::ConfigChangeKind::AddNode);
    assert_eq!(value(&scrape(), "chronik_raft_config_changes_total", &[p[0], p[1], ("kind", "add_node")]), 2.0);
}
