//! [`MemLogStore`]: the cluster's log store, in memory, surviving a node's crash (the "disk" is
//! shared with the cluster, which hands it to the restarted node).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, LogId, LogState, OptionalSend, RaftLogId, RaftLogReader, StorageError, StorageIOError, Vote};

use super::{lock, Entry, TypeConfig};

/// What a log store persists.
#[derive(Debug, Default)]
pub struct LogData {
    /// The saved vote.
    pub vote: Option<Vote<u64>>,
    /// The saved commit index.
    pub committed: Option<LogId<u64>>,
    /// The entries, by index.
    pub log: BTreeMap<u64, Entry>,
    /// The last purged entry.
    pub purged: Option<LogId<u64>>,
}

/// An in-memory log store; clones share the data (the reader openraft asks for is a clone).
#[derive(Debug, Clone, Default)]
pub struct MemLogStore {
    data: Arc<Mutex<LogData>>,
    /// Milliseconds every `append` takes (a slow disk).
    latency_ms: Arc<AtomicU64>,
    /// Whether reading entries fails (a bad disk).
    failing_reads: Arc<AtomicBool>,
}

impl MemLogStore {
    /// The persisted data.
    pub fn data(&self) -> std::sync::MutexGuard<'_, LogData> {
        lock(&self.data)
    }

    /// Makes every append take `latency` (a slow disk); zero for none.
    pub fn set_latency(&self, latency: Duration) {
        // Relaxed: a setting publishes no other memory.
        self.latency_ms.store(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Makes every read of entries fail (a bad disk), or work again.
    pub fn set_failing_reads(&self, failing: bool) {
        // Relaxed: a setting publishes no other memory.
        self.failing_reads.store(failing, Ordering::Relaxed);
    }
}

impl RaftLogReader<TypeConfig> for MemLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<u64>> {
        if self.failing_reads.load(Ordering::Relaxed) {
            return Err(StorageIOError::read_logs(AnyError::error("the disk failed a read")).into());
        }
        Ok(self.data().log.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<TypeConfig> for MemLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let d = self.data();
        let last = d.log.values().next_back().map(|e| *e.get_log_id()).or(d.purged);
        Ok(LogState { last_purged_log_id: d.purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.data().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.data().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        self.data().committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.data().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Relaxed: as in `set_latency`.
        let latency = self.latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        {
            let mut d = self.data();
            for entry in entries {
                d.log.insert(entry.get_log_id().index, entry);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.data().log.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut d = self.data();
        d.purged = Some(log_id);
        d.log = d.log.split_off(&(log_id.index + 1));
        Ok(())
    }
}
