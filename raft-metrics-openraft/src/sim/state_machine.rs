//! [`MemStateMachine`]: the cluster's state machine, a map from key to value, with snapshots
//! encoded as plain bytes.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StoredMembership,
};

use super::{lock, Entry, Node, TypeConfig};

/// What a state machine holds.
#[derive(Debug, Default, Clone)]
pub struct SmData {
    /// The last applied entry.
    pub last_applied: Option<LogId<u64>>,
    /// The last applied membership.
    pub membership: StoredMembership<u64, Node>,
    /// The application's state.
    pub map: BTreeMap<u64, u64>,
    /// The current snapshot: its meta and bytes.
    pub snapshot: Option<(SnapshotMeta<u64, Node>, Vec<u8>)>,
    /// Snapshots built so far (for unique ids).
    pub built: u64,
}

/// An in-memory state machine; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemStateMachine {
    data: Arc<Mutex<SmData>>,
    /// Milliseconds every `apply` takes (a slow state machine).
    latency_ms: Arc<AtomicU64>,
    /// While set, `apply` waits.
    stalled: Arc<AtomicBool>,
}

fn encode(map: &BTreeMap<u64, u64>) -> Vec<u8> {
    map.iter().flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes())).collect()
}

fn decode(bytes: &[u8]) -> BTreeMap<u64, u64> {
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
    bytes.chunks_exact(16).map(|c| (word(&c[..8]), word(&c[8..]))).collect()
}

impl MemStateMachine {
    /// The state machine's data.
    pub fn data(&self) -> std::sync::MutexGuard<'_, SmData> {
        lock(&self.data)
    }

    /// Makes every apply take `latency`; zero for none.
    pub fn set_latency(&self, latency: Duration) {
        // Relaxed: a setting publishes no other memory.
        self.latency_ms.store(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Stops applying (`true`) or resumes (`false`).
    pub fn stall(&self, stalled: bool) {
        // Relaxed: as in `set_latency`.
        self.stalled.store(stalled, Ordering::Relaxed);
    }
}

impl RaftSnapshotBuilder<TypeConfig> for MemStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<u64>> {
        let mut d = self.data();
        d.built += 1;
        let bytes = encode(&d.map);
        let id = format!("{}-{}", d.last_applied.map_or(0, |l| l.index), d.built);
        let meta = SnapshotMeta { last_log_id: d.last_applied, last_membership: d.membership.clone(), snapshot_id: id };
        d.snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(bytes)) })
    }
}

impl RaftStateMachine<TypeConfig> for MemStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId<u64>>, StoredMembership<u64, Node>), StorageError<u64>> {
        let d = self.data();
        Ok((d.last_applied, d.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<u64>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // Relaxed: as in `set_latency`.
        while self.stalled.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let latency = self.latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let mut d = self.data();
        let mut out = Vec::new();
        for entry in entries {
            d.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(0),
                EntryPayload::Normal(put) => {
                    out.push(d.map.insert(put.key, put.value).unwrap_or(0));
                }
                EntryPayload::Membership(m) => {
                    d.membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(0);
                }
            }
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let mut d = self.data();
        d.map = decode(&bytes);
        d.last_applied = meta.last_log_id;
        d.membership = meta.last_membership.clone();
        d.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError<u64>> {
        let d = self.data();
        Ok(d.snapshot
            .as_ref()
            .map(|(meta, bytes)| Snapshot { meta: meta.clone(), snapshot: Box::new(Cursor::new(bytes.clone())) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_bytes_round_trip() {
        let map: BTreeMap<u64, u64> = [(1, 10), (7, u64::MAX)].into_iter().collect();
        assert_eq!(decode(&encode(&map)), map);
    }
}
