//! The simulated application: a small key-value state machine, and a storage whose snapshots
//! carry it (raft-rs's `MemStorage` snapshots carry metadata only).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use raft::eraftpb::{Entry, EntryType, Snapshot};
use raft::storage::MemStorage;
use raft::{GetEntriesContext, RaftState, Storage};

/// The data of a proposal setting `key` to `value`, as [`StateMachine`] applies it.
#[must_use]
pub fn proposal(key: u16, value: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(2 + value.len());
    data.extend_from_slice(&key.to_be_bytes());
    data.extend_from_slice(value);
    data
}

/// A key-value map built from applied proposals ([`proposal`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StateMachine {
    applied: u64,
    proposals: u64,
    kv: BTreeMap<u16, Vec<u8>>,
}

impl StateMachine {
    /// Index of the last applied entry.
    #[must_use]
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Proposals applied, including those a snapshot brought in.
    #[must_use]
    pub fn proposals(&self) -> u64 {
        self.proposals
    }

    /// The value of `key`.
    pub fn get(&self, key: u16) -> Option<&[u8]> {
        self.kv.get(&key).map(Vec::as_slice)
    }

    /// Applies one committed entry: a normal entry with data sets a key; any entry advances the
    /// applied index.
    pub fn apply(&mut self, entry: &Entry) {
        let data = entry.get_data();
        if entry.get_entry_type() == EntryType::EntryNormal && data.len() >= 2 {
            self.kv.insert(u16::from_be_bytes([data[0], data[1]]), data[2..].to_vec());
            self.proposals += 1;
        }
        self.applied = entry.index;
    }

    /// The snapshot payload: the proposal count, then each key with its value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.proposals.to_be_bytes());
        for (key, value) in &self.kv {
            out.extend_from_slice(&key.to_be_bytes());
            out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(value);
        }
        out
    }

    /// Replaces the state with a snapshot's payload ([`encode`](Self::encode)) taken at `index`.
    /// A malformed payload keeps what it could read.
    pub fn restore(&mut self, index: u64, data: &[u8]) {
        self.kv.clear();
        self.applied = index;
        self.proposals = data.get(..8).map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
        let mut rest = data.get(8..).unwrap_or_default();
        while rest.len() >= 6 {
            let key = u16::from_be_bytes([rest[0], rest[1]]);
            let len = u32::from_be_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize;
            let Some(value) = rest.get(6..6 + len) else { break };
            self.kv.insert(key, value.to_vec());
            rest = &rest[6 + len..];
        }
    }
}

/// Locks a state machine; a panic elsewhere does not make it unusable.
pub(crate) fn lock(sm: &Mutex<StateMachine>) -> MutexGuard<'_, StateMachine> {
    sm.lock().unwrap_or_else(PoisonError::into_inner)
}

/// raft-rs's `MemStorage` whose snapshots carry the state machine's payload.
#[derive(Clone)]
pub struct SimStorage {
    mem: MemStorage,
    sm: Arc<Mutex<StateMachine>>,
}

impl SimStorage {
    /// `mem` (the log), with snapshots taken from `sm`.
    pub fn new(mem: MemStorage, sm: Arc<Mutex<StateMachine>>) -> Self {
        Self { mem, sm }
    }

    /// The log.
    #[must_use]
    pub fn mem(&self) -> &MemStorage {
        &self.mem
    }
}

impl core::fmt::Debug for SimStorage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimStorage").field("sm", &self.sm).finish_non_exhaustive()
    }
}

impl Storage for SimStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.mem.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.mem.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.mem.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.mem.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.mem.last_index()
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let mut snapshot = self.mem.snapshot(request_index, to)?;
        // The ready loop applies every committed entry before raft-rs runs again, so the state
        // machine is at the snapshot's index (the storage's commit index) here.
        snapshot.data = lock(&self.sm).encode().into();
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_payload_round_trips() {
        let mut sm = StateMachine::default();
        for (index, key) in [(1, 7u16), (2, 9), (3, 7)] {
            let value = [u8::try_from(key).unwrap_or(0); 5];
            sm.apply(&Entry { index, data: proposal(key, &value).into(), ..Entry::default() });
        }
        assert_eq!((sm.applied(), sm.proposals()), (3, 3));
        let mut copy = StateMachine::default();
        copy.restore(3, &sm.encode());
        assert_eq!(copy, sm);
        assert_eq!(copy.get(9), Some(&[9u8; 5][..]));
    }
}
