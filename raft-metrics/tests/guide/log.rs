//! The guide's "7. Log Metrics": its code verbatim, the scaffolding it needs,
//! and checks of the scrape.

use raft_metrics::RaftMetrics;

use crate::{scrape, value};

pub type LogIndex = u64;
pub type Result<T> = std::result::Result<T, std::io::Error>;

pub struct RaftLog {
    topic: String,
    partition: i32,
    entries: Vec<Vec<u8>>,
}

impl RaftLog {
    fn calculate_log_size_bytes(&self) -> usize {
        self.entries.iter().map(Vec::len).sum()
    }
}

// The guide's block, verbatim from here.
#[rustfmt::skip]
impl RaftLog {
    fn update_log_metrics(&self) {
        let metrics = RaftMetrics::new();

        let entries_count = self.entries.len() as u64;
        let bytes_count = self.calculate_log_size_bytes();

        metrics.set_log_size(&self.topic, self.partition, entries_count, bytes_count);
    }

    fn compact_log(&mut self, up_to_index: LogIndex) -> Result<()> {
        let metrics = RaftMetrics::new();

        // ... compaction logic

        metrics.record_log_compaction(&self.topic, self.partition);

        // Update log size after compaction
        self.update_log_metrics();

        Ok(())
    }
}
// The guide's block ends here.

#[test]
fn every_call_lands() {
    let mut log = RaftLog { topic: "log".to_owned(), partition: 0, entries: vec![vec![0; 100]; 30] };
    log.update_log_metrics();
    let p = [("topic", "log"), ("partition", "0")];
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_log_entries", &p), 30.0);
    assert_eq!(value(&s, "chronik_raft_log_size_bytes", &p), 3000.0);
    log.entries.drain(..20); // what "compaction logic" would do
    log.compact_log(20).expect("compact");
    let s = scrape();
    assert_eq!(value(&s, "chronik_raft_log_compactions_total", &p), 1.0);
    assert_eq!(value(&s, "chronik_raft_log_entries", &p), 10.0);
    assert_eq!(value(&s, "chronik_raft_log_size_bytes", &p), 1000.0);
}
