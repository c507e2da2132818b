//! The guide's "4. Commit Latency Metrics" and its "Unit Test Example": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

pub type LogIndex = u64;

pub struct Metadata {
    pub proposed_at: Instant,
}

/// The guide assigns `entry.metadata.proposed_at` through a binding that is not `mut`, which
/// compiles when `metadata` is a mutable reference (the entry's header, say, in a buffer).
pub struct Entry<'a> {
    pub data: Vec<u8>,
    pub metadata: &'a mut Metadata,
}

pub type LogEntry = Entry<'static>;

impl Entry<'static> {
    pub fn new(data: &[u8]) -> Self {
        Self { data: data.to_vec(), metadata: Box::leak(Box::new(Metadata { proposed_at: Instant::now() })) }
    }
}

#[derive(Default)]
pub struct Entries(Vec<LogEntry>);

impl Entries {
    /// Appends `entry`, returning its index (1-based, as in Raft).
    pub fn push(&mut self, entry: LogEntry) -> LogIndex {
        self.0.push(entry);
        self.0.len() as LogIndex
    }
}

pub struct RaftLog {
    topic: String,
    partition: i32,
    entries: Entries,
    pending_proposals: HashMap<LogIndex, Instant>,
    commit_index: LogIndex,
}

impl RaftLog {
    pub fn new(topic: &str, partition: i32) -> Self {
        Self {
            topic: topic.to_owned(),
            partition,
            entries: Entries::default(),
            pending_proposals: HashMap::new(),
            commit_index: 0,
        }
    }
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftLog {
    fn append_entry(&mut self, entry: LogEntry) -> LogIndex {
        // Tag entry with proposal timestamp
        let now = std::time::Instant::now();
        entry.metadata.proposed_at = now;

        let index = self.entries.push(entry);
        self.pending_proposals.insert(index, now);
        index
    }

    fn commit_entries(&mut self, up_to_index: LogIndex) {
        let metrics = RaftMetrics::new();

        for index in self.commit_index + 1..=up_to_index {
            if let Some(proposed_at) = self.pending_proposals.remove(&index) {
                let latency_ms = proposed_at.elapsed().as_millis() as f64;
                metrics.record_commit_latency(
                    &self.topic,
                    self.partition,
                    latency_ms,
                    1 // batch_size = 1 for individual entry
                );
            }
        }

        self.commit_index = up_to_index;

        // Update commit index metric
        metrics.set_commit_index(&self.topic, self.partition, up_to_index);
    }

    fn commit_batch(&mut self, entries: Vec<LogIndex>) {
        let metrics = RaftMetrics::new();

        let batch_start = entries[0];
        let batch_end = entries[entries.len() - 1];

        // Calculate average latency for batch
        let total_latency: f64 = entries.iter()
            .filter_map(|idx| self.pending_proposals.get(idx))
            .map(|proposed_at| proposed_at.elapsed().as_millis() as f64)
            .sum();

        let avg_latency = total_latency / entries.len() as f64;

        metrics.record_commit_latency(
            &self.topic,
            self.partition,
            avg_latency,
            entries.len()
        );
    }
}
// The guide's block ends here.

// The guide's "Unit Test Example", verbatim from here.
#[rustfmt::skip]
#[cfg(test)]
mod tests {
    use super::*;
    use raft_metrics::RaftMetrics;

    #[tokio::test]
    async fn test_commit_latency_metrics() {
        let metrics = RaftMetrics::new();
        let mut log = RaftLog::new("test-topic", 0);

        // Append entry
        let entry = LogEntry::new(b"test-data");
        let index = log.append_entry(entry);

        // Simulate commit after 10ms
        tokio::time::sleep(Duration::from_millis(10)).await;
        log.commit_entries(index);

        // Verify metrics were recorded
        // (In real test, you'd query Prometheus registry)
    }

    #[test]
    fn test_replication_lag_metrics() {
        let metrics = RaftMetrics::new();

        // Simulate leader tracking follower lag
        metrics.set_follower_lag_entries("orders", 0, "node2", 15);
        metrics.set_follower_lag_ms("orders", 0, "node2", 45);

        // Verify metrics (query Prometheus registry in real test)
    }
}
// The guide's unit tests end here.

/// What the guide's unit tests would query "in a real test": the same calls, then the scrape.
/// (Both tests set the same values, so they check the same thing in either order.)
#[test]
fn the_unit_tests_record_what_they_say() {
    let metrics = RaftMetrics::new();
    metrics.set_follower_lag_entries("orders", 0, "node2", 15);
    metrics.set_follower_lag_ms("orders", 0, "node2", 45);
    let s = scrape();
    let peer = [("topic", "orders"), ("partition", "0"), ("peer", "node2")];
    assert_eq!(value(&s, "chronik_raft_follower_lag_entries", &peer), 15.0);
    assert_eq!(value(&s, "chronik_raft_follower_lag_seconds", &peer), 0.045);
}

#[test]
fn every_call_lands() {
    let mut log = RaftLog::new("commits", 2);
    for _ in 0..3 {
        log.append_entry(LogEntry::new(b"x"));
    }
    std::thread::sleep(Duration::from_millis(30));
    log.commit_entries(3);
    let s = scrape();
    let p = [("topic", "commits"), ("partition", "2")];
    assert_eq!(value(&s, "chronik_raft_commit_index", &p), 3.0);
    assert_eq!(value(&s, "chronik_raft_commit_latency_seconds_count", &p), 3.0);
    assert_eq!(value(&s, "chronik_raft_proposals_committed_total", &p), 3.0);
    assert_eq!(value(&s, "chronik_raft_commit_batch_entries_count", &p), 3.0);
    // Three observations of at least 30 ms each.
    assert!(value(&s, "chronik_raft_commit_latency_seconds_sum", &p) >= 0.09);

    for _ in 0..2 {
        log.append_entry(LogEntry::new(b"y"));
    }
    log.commit_batch(vec![4, 5]);
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_commit_latency_seconds_count", &p), 5.0);
    assert_eq!(value(&s, "chronik_raft_proposals_committed_total", &p), 5.0);
    assert_eq!(value(&s, "chronik_raft_commit_batch_entries_count", &p), 4.0);
    assert_eq!(value(&s, "chronik_raft_commit_batch_entries_sum", &p), 5.0);
}
