//! The size of the local log, kept exact across appends, conflict truncations, compactions and
//! snapshots without reading the storage back.

use raft::eraftpb::Entry;

/// An entry's payload: its data and context, the bytes the application gave raft-rs.
///
/// Not the encoded size: computing that walks every field, which for small entries costs more
/// than everything else the wrapper does per entry, and the framing it adds is the storage's or
/// transport's business, not the log's content.
#[inline]
pub(crate) fn payload_bytes(entry: &Entry) -> u64 {
    (entry.data.len() + entry.context.len()) as u64
}

/// The payload size of every entry in the log, oldest first: 4 bytes per live entry, indexes
/// implied by position (the log is contiguous between compactions and snapshots).
///
/// A `Vec` with a moving start rather than a `VecDeque`: an append (every turn) is then a plain
/// push, and compaction (rare) moves the live sizes down once the dead ones outnumber them.
#[derive(Debug, Default)]
pub(crate) struct LogSize {
    /// Index of the first live entry, `sizes[start]`.
    first: u64,
    /// Payload sizes from `start` on; one over 4 GiB counts as `u32::MAX` bytes.
    sizes: Vec<u32>,
    /// Sizes before it were compacted away.
    start: usize,
    bytes: u64,
}

impl LogSize {
    /// Records entries written to the log (consecutive indexes). Returns whether they overwrote
    /// (truncated) entries already there, which happens only when a follower's uncommitted tail
    /// conflicts with the leader's.
    ///
    /// `each` sees every entry as it is sized, so whoever else needs to look at each entry of a
    /// batch does it in the same pass.
    #[inline]
    pub(crate) fn append(&mut self, entries: &[Entry], each: impl FnMut(&Entry)) -> bool {
        let Some(first) = entries.first() else { return false };
        // The common case, every turn: the entries continue the log.
        if first.index == self.first + self.len() && self.len() > 0 {
            self.push(entries, each);
            return false;
        }
        self.append_elsewhere(entries, each)
    }

    /// [`append`](Self::append) of entries that start the log afresh or overwrite its tail.
    #[inline(never)]
    fn append_elsewhere(&mut self, entries: &[Entry], each: impl FnMut(&Entry)) -> bool {
        let Some(first) = entries.first() else { return false };
        let end = self.first + self.len();
        let mut truncated = false;
        if self.len() == 0 || first.index < self.first || first.index > end {
            // Empty, replaced from before its start, or after a gap (the entries between are
            // not in this log): the entries start the log afresh.
            truncated = self.len() > 0 && first.index < end;
            self.clear();
            self.first = first.index;
        } else if first.index < end {
            let keep = self.start + usize::try_from(first.index - self.first).unwrap_or(usize::MAX);
            self.bytes -= self.sizes[keep..].iter().map(|&size| u64::from(size)).sum::<u64>();
            self.sizes.truncate(keep);
            truncated = true;
        }
        self.push(entries, each);
        truncated
    }

    #[inline]
    fn push(&mut self, entries: &[Entry], mut each: impl FnMut(&Entry)) {
        let mut bytes = 0;
        // `extend` from a slice's iterator reserves once and writes without a capacity test.
        self.sizes.extend(entries.iter().map(|entry| {
            each(entry);
            let size = u32::try_from(payload_bytes(entry)).unwrap_or(u32::MAX);
            bytes += u64::from(size);
            size
        }));
        self.bytes += bytes;
    }

    /// Forgets entries below `first_index` (compaction).
    pub(crate) fn compact(&mut self, first_index: u64) {
        if first_index <= self.first {
            return;
        }
        let gone = usize::try_from(first_index - self.first).unwrap_or(usize::MAX).min(self.sizes.len() - self.start);
        let end = self.start + gone;
        self.bytes -= self.sizes[self.start..end].iter().map(|&size| u64::from(size)).sum::<u64>();
        self.start = end;
        self.first = first_index;
        if self.start == self.sizes.len() {
            self.sizes.clear();
            self.start = 0;
        } else if self.start > self.sizes.len() - self.start {
            self.sizes.drain(..self.start);
            self.start = 0;
        }
    }

    /// Forgets everything (a snapshot replaced the log).
    pub(crate) fn clear(&mut self) {
        self.sizes.clear();
        self.start = 0;
        self.bytes = 0;
    }

    pub(crate) fn len(&self) -> u64 {
        (self.sizes.len() - self.start) as u64
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
        assert!(!log.append(&[entry(1, 1, b"a"), entry(2, 1, b"bb"), entry(3, 1, b"ccc")], |_| ()));
        assert_eq!(log.len(), 3);
        let three = log.bytes();
        assert_eq!(three, 6);
        // A conflicting tail from index 2 replaces two entries with one.
        assert!(log.append(&[entry(2, 2, b"x")], |_| ()));
        assert_eq!(log.len(), 2);
        assert!(log.bytes() < three);
        // Appending after the end truncates nothing.
        assert!(!log.append(&[entry(3, 2, b"y")], |_| ()));
        log.compact(3);
        assert_eq!(log.len(), 1);
        assert_eq!(log.bytes(), 1);
        log.clear();
        assert_eq!((log.len(), log.bytes()), (0, 0));
    }

    #[test]
    fn a_gap_or_an_overwrite_from_before_the_start_starts_afresh() {
        let mut log = LogSize::default();
        log.append(&[entry(5, 1, b"aa"), entry(6, 1, b"bb")], |_| ());
        assert!(!log.append(&[entry(9, 1, b"c")], |_| ()), "after a gap: nothing overwritten");
        assert_eq!((log.len(), log.bytes()), (1, 1));
        assert!(log.append(&[entry(8, 2, b"dddd")], |_| ()), "from before the start: overwritten");
        assert_eq!((log.len(), log.bytes()), (1, 4));
        log.compact(20);
        assert_eq!((log.len(), log.bytes()), (0, 0));
        log.append(&[entry(20, 2, b"e")], |_| ());
        assert_eq!((log.len(), log.bytes()), (1, 1));
    }
}
