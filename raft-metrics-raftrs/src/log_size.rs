//! The size of the local log, kept exact across appends, conflict truncations, compactions and
//! snapshots without reading the storage back.

use std::collections::VecDeque;

use protobuf::Message as _;
use raft::eraftpb::Entry;

/// Index and encoded size of every entry in the log, oldest first: 16 bytes per live entry.
#[derive(Debug, Default)]
pub(crate) struct LogSize {
    entries: VecDeque<(u64, u64)>,
    bytes: u64,
}

impl LogSize {
    /// Records entries written to the log. Returns whether they overwrote (truncated) entries
    /// already there, which happens only when a follower's uncommitted tail conflicts with the
    /// leader's.
    pub(crate) fn append(&mut self, entries: &[Entry]) -> bool {
        let Some(first) = entries.first() else { return false };
        let mut truncated = false;
        while let Some(&(index, size)) = self.entries.back() {
            if index < first.index {
                break;
            }
            self.entries.pop_back();
            self.bytes -= size;
            truncated = true;
        }
        for entry in entries {
            let size = u64::from(entry.compute_size());
            self.entries.push_back((entry.index, size));
            self.bytes += size;
        }
        truncated
    }

    /// Forgets entries below `first_index` (compaction).
    pub(crate) fn compact(&mut self, first_index: u64) {
        while let Some(&(index, size)) = self.entries.front() {
            if index >= first_index {
                break;
            }
            self.entries.pop_front();
            self.bytes -= size;
        }
    }

    /// Forgets everything (a snapshot replaced the log).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry { index, term, data: data.to_vec().into(), ..Entry::default() }
    }

    #[test]
    fn appends_truncations_and_compactions() {
        let mut log = LogSize::default();
        assert!(!log.append(&[entry(1, 1, b"a"), entry(2, 1, b"bb"), entry(3, 1, b"ccc")]));
        assert_eq!(log.len(), 3);
        let three = log.bytes();
        assert!(three > 6);
        // A conflicting tail from index 2 replaces two entries with one.
        assert!(log.append(&[entry(2, 2, b"x")]));
        assert_eq!(log.len(), 2);
        assert!(log.bytes() < three);
        // Appending after the end truncates nothing.
        assert!(!log.append(&[entry(3, 2, b"y")]));
        log.compact(3);
        assert_eq!(log.len(), 1);
        assert_eq!(log.bytes(), u64::from(entry(3, 2, b"y").compute_size()));
        log.clear();
        assert_eq!((log.len(), log.bytes()), (0, 0));
    }
}
