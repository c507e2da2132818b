//! The guide's "Metrics Collection Pattern": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use std::sync::Arc;
use std::time::Duration;

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

pub struct PartitionLog {
    entries: Vec<Vec<u8>>,
}

impl PartitionLog {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn size_bytes(&self) -> usize {
        self.entries.iter().map(Vec::len).sum()
    }
}

pub struct Partition {
    pub topic: String,
    pub id: i32,
    pub leader: bool,
    pub log: PartitionLog,
    /// Each follower's match index.
    pub followers: Vec<u64>,
}

impl Partition {
    pub fn calculate_max_follower_lag(&self) -> u64 {
        let last = self.log.len() as u64;
        self.followers.iter().map(|m| last.saturating_sub(*m)).max().unwrap_or(0)
    }
}

pub struct RaftNode {
    pub id: String,
    pub partitions: Vec<Partition>,
}

impl RaftNode {
    pub fn count_leader_partitions(&self) -> usize {
        self.partitions.iter().filter(|p| p.leader).count()
    }

    pub fn count_follower_partitions(&self) -> usize {
        self.partitions.iter().filter(|p| !p.leader).count()
    }

    pub fn leader_partitions(&self) -> impl Iterator<Item = &Partition> {
        self.partitions.iter().filter(|p| p.leader)
    }
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
pub struct RaftMetricsCollector {
    raft_nodes: Vec<Arc<RaftNode>>,
    metrics: RaftMetrics,
    interval: Duration,
}

#[rustfmt::skip]
impl RaftMetricsCollector {
    pub fn new(interval: Duration) -> Self {
        Self {
            raft_nodes: Vec::new(),
            metrics: RaftMetrics::new(),
            interval,
        }
    }

    pub async fn run(mut self) {
        let mut interval = tokio::time::interval(self.interval);

        loop {
            interval.tick().await;
            self.collect_metrics().await;
        }
    }

    async fn collect_metrics(&self) {
        for node in &self.raft_nodes {
            // Cluster health
            let leader_count = node.count_leader_partitions();
            let follower_count = node.count_follower_partitions();
            self.metrics.set_leader_count(&node.id, leader_count);
            self.metrics.set_follower_count(&node.id, follower_count);

            // Replication lag (for leader partitions)
            for partition in node.leader_partitions() {
                let max_lag = partition.calculate_max_follower_lag();
                self.metrics.set_max_follower_lag(&partition.topic, partition.id, max_lag);

                // Log size
                let log_size = partition.log.len() as u64;
                let log_bytes = partition.log.size_bytes();
                self.metrics.set_log_size(&partition.topic, partition.id, log_size, log_bytes);
            }
        }
    }
}
// The guide's block ends here.

#[tokio::test]
async fn every_call_lands() {
    let partition = |id, leader, entries| Partition {
        topic: "collected".to_owned(),
        id,
        leader,
        log: PartitionLog { entries: vec![vec![0; 10]; entries] },
        followers: vec![entries as u64 - 2, entries as u64 - 9],
    };
    let node =
        RaftNode { id: "collector-node".to_owned(), partitions: vec![partition(0, true, 50), partition(1, false, 20)] };
    let collector = RaftMetricsCollector {
        raft_nodes: vec![Arc::new(node)],
        ..RaftMetricsCollector::new(Duration::from_millis(5))
    };
    // The guide's `run` loops for ever: a few ticks of it, then the scrape.
    let ticking = tokio::time::timeout(Duration::from_millis(30), collector.run()).await;
    assert!(ticking.is_err(), "run() returned");

    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_leader_partitions", &[("node", "collector-node")]), 1.0);
    assert_eq!(value(&s, "chronik_raft_follower_partitions", &[("node", "collector-node")]), 1.0);
    let p0 = [("topic", "collected"), ("partition", "0")];
    assert_eq!(value(&s, "chronik_raft_max_follower_lag_entries", &p0), 9.0);
    assert_eq!(value(&s, "chronik_raft_log_entries", &p0), 50.0);
    assert_eq!(value(&s, "chronik_raft_log_size_bytes", &p0), 500.0);
    // Follower partitions are not the collector's to report.
    assert_eq!(s.value("chronik_raft_log_entries", &[("topic", "collected"), ("partition", "1")]), None);
}
