//! The size of the local log, kept exact across appends, conflict truncations, compactions and
//! snapshots without reading the storage back.

use std::collections::VecDeque;

use raft::eraftpb::Entry;

/// An entry's payload: its data and context, the bytes the application gave raft-rs.
///
/// Not the encoded size: computing that walks every field, which for small entries costs more
/// than everything else the wrapper does per entry, and the framing it adds is the storage's or
/// transport's business, not the log's content.
pub(crate) fn payload_bytes(entry: &Entry) -> u64 {
    (entry.data.len() + entry.context.len()) as u64
}

/// Index and payload size of every entry in the log, oldest first: 16 bytes per live entry.
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
            let size = payload_bytes(entry);
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
        assert_eq!(three, 6);
        // A conflicting tail from index 2 replaces two entries with one.
        assert!(log.append(&[entry(2, 2, b"x")]));
        assert_eq!(log.len(), 2);
        assert!(log.bytes() < three);
        // Appending after the end truncates nothing.
        assert!(!log.append(&[entry(3, 2, b"y")]));
        log.compact(3);
        assert_eq!(log.len(), 1);
        assert_eq!(log.bytes(), 1);
        log.clear();
        assert_eq!((log.len(), log.bytes()), (0, 0));
    }
}
