//! [`LogSize`]: a Raft log's size in bounded memory, for the adapters (and applications
//! wrapping another Raft library).
//!
//! Hand-written: no crate keeps a bounded, mergeable sum over a sliding range of indexes, and
//! the append is on every Raft turn's path.

use core::cell::Cell;

/// [`LogSize::MAX_BLOCKS`], short.
const MAX_BLOCKS: usize = 256;

/// A Raft log's size (entries and payload bytes), kept across appends, conflict truncations,
/// compactions and snapshots without reading the storage back, in bounded memory whatever the
/// log's length. The raft-rs wrapper keeps one per group, the openraft adapter one per group
/// that asks for it; an application wrapping another Raft library can too.
///
/// The bytes a compaction or a conflicting append removes are no longer in anything the caller
/// sees then, so they have to be remembered. A size per entry is 4 to 8 bytes per live entry: a
/// partition that retains its log for days (a Kafka-like log, millions of entries) would hold
/// megabytes of it, against the guide's ~50 KB per partition for all metric state. So the sizes
/// are summed in blocks of `2^shift` consecutive indexes, and when the log spans more than
/// [`MAX_BLOCKS`](Self::MAX_BLOCKS) blocks, neighbours merge (the block doubles): at most that
/// many words whatever the log's length. The entry count stays exact. The byte count is exact
/// while the log spans at most [`MAX_BLOCKS`](Self::MAX_BLOCKS) entries (one entry per block);
/// beyond, a compaction or truncation that cuts a block takes the cut part's share of the
/// block's bytes in proportion to its entries, so the count is off by at most one block's bytes
/// (a block holds under 1/128 of the log's entries) for each such block still in the log: one
/// at its start at most, plus one per truncation (a conflicting tail), which is rare. It is
/// exact whenever the entries are alike in size.
///
/// A block's share of a batch is summed in one tight pass; a log that ends inside a block adds
/// to it. At the in-memory loop's log lengths (a few thousand entries, blocks of 2 to 8) that
/// costs a few instructions per entry more than a size per entry did, and the doubling a pass
/// over the blocks each time the log's length doubles; at production lengths blocks are large
/// and a batch mostly lands in one (`benches/notes/raft_loop.md`).
///
/// ```
/// use raft_metrics::raft::LogSize;
///
/// // Entries as (index, payload bytes); any type works with the two accessors.
/// let mut log = LogSize::new();
/// let entries = [(1u64, 10u64), (2, 20), (3, 30)];
/// let overwrote = log.append(&entries, |e| e.0, |e| e.1);
/// assert!(!overwrote);
/// log.truncate(3); // a conflicting tail from index 3 is dropped
/// log.compact(2); // entries below index 2 are compacted away
/// assert_eq!((log.len(), log.bytes()), (1, 20));
/// ```
///
/// The blocks are a `Vec` with a moving start rather than a `VecDeque`: an append (every turn)
/// adds to the last block or pushes one, with no ring arithmetic, and a compaction (rare) moves
/// the live blocks down once the dead ones outnumber them.
#[derive(Debug, Default)]
pub struct LogSize {
    /// The log is the indexes `first..end`.
    first: u64,
    end: u64,
    /// A block is `2^shift` indexes, aligned: block `n` holds `n << shift .. (n + 1) << shift`.
    shift: u32,
    /// `2^shift - 1`, the offsets within a block: kept rather than computed, since every
    /// append tests an index against it.
    mask: u64,
    /// The payload bytes of each block's live entries, from the block of `first`
    /// (`blocks[start]`) to that of `end - 1` (the last); none when the log is empty.
    blocks: Vec<u64>,
    /// Blocks before it were compacted away.
    start: usize,
    /// Their sum.
    bytes: u64,
}

impl LogSize {
    /// Most blocks kept: the log's byte count is exact up to this many entries, and its memory
    /// is at most this many words (2 KiB; the vector's capacity at most twice that).
    pub const MAX_BLOCKS: usize = MAX_BLOCKS;

    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records entries written to the log, at consecutive indexes from the first one's: `index`
    /// reads an entry's index, `size` its bytes. Returns whether they overwrote (truncated)
    /// entries already there, which happens only when a follower's uncommitted tail conflicts
    /// with the leader's. Entries that start before the log, or after a gap past its end,
    /// start it afresh.
    ///
    /// `size` sees every entry once, in order.
    #[inline(always)]
    pub fn append<E>(&mut self, entries: &[E], index: impl Fn(&E) -> u64, mut size: impl FnMut(&E) -> u64) -> bool {
        self.append_runs(entries, index, |run| run.iter().map(&mut size).sum())
    }

    /// [`append`](Self::append), with the bytes summed by the caller a run of consecutive
    /// entries at a time: `sum` returns the bytes of the run it is given, and the runs cover
    /// the batch once, in order (one per block the batch touches).
    ///
    /// For a caller that looks at each entry of a batch in the same pass: its own loop keeps
    /// what it finds in registers and stores it once per run, where a per-entry closure called
    /// from this type's out-of-line code would load and store it on every entry.
    #[inline(always)]
    pub fn append_runs<E>(
        &mut self,
        entries: &[E],
        index: impl Fn(&E) -> u64,
        mut sum: impl FnMut(&[E]) -> u64,
    ) -> bool {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else { return false };
        let (first, last) = (index(first), index(last));
        if first != self.end || self.end == self.first {
            return self.append_elsewhere(first, entries, sum);
        }
        // The entries continue the log. The common case, every turn: they fit in one block
        // (the open one, or a new one when the log ends on a block's end).
        if (first ^ last) > self.mask {
            self.push(entries, sum);
            return false;
        }
        let bytes = sum(entries);
        // `add_at_end` with the log known not to be empty: one comparison less on every append.
        let open = first & self.mask() != 0;
        match self.blocks.last_mut() {
            Some(last) if open => *last += bytes,
            _ => {
                self.push_block(bytes);
                if self.blocks.len() - self.start > MAX_BLOCKS {
                    self.coarsen();
                }
            }
        }
        self.bytes += bytes;
        self.end = self.end.saturating_add(entries.len() as u64);
        false
    }

    /// [`append`](Self::append) of one entry, at `index` with `bytes`, for a caller that sees a
    /// batch's entries one at a time (openraft's log store gets them as an iterator, moved into
    /// the inner store). An entry that continues the log inside its open block is a compare and
    /// three adds.
    #[inline(always)]
    pub fn append_one(&mut self, index: u64, bytes: u64) -> bool {
        // The log is not empty when it has a live block: that test also tells the compiler the
        // vector has a last one.
        if index == self.end && index & self.mask() != 0 && self.blocks.len() > self.start {
            if let Some(last) = self.blocks.last_mut() {
                *last += bytes;
                self.bytes += bytes;
                self.end = self.end.saturating_add(1);
                return false;
            }
        }
        self.append_one_elsewhere(index, bytes)
    }

    /// [`append_one`](Self::append_one) of an entry that starts a block (a push), the log or a
    /// tail.
    #[inline(never)]
    fn append_one_elsewhere(&mut self, index: u64, bytes: u64) -> bool {
        if index != self.end || self.end == self.first {
            return self.append_elsewhere(index, &[bytes], |run: &[u64]| run.iter().sum());
        }
        self.push_block(bytes);
        self.bytes += bytes;
        self.end = self.end.saturating_add(1);
        if self.blocks.len() - self.start > MAX_BLOCKS {
            self.coarsen();
        }
        false
    }

    /// [`append`](Self::append) of entries from `first` on that start the log afresh or
    /// overwrite its tail.
    #[inline(never)]
    fn append_elsewhere<E>(&mut self, first: u64, entries: &[E], sum: impl FnMut(&[E]) -> u64) -> bool {
        let mut truncated = false;
        if self.is_empty() || first < self.first || first > self.end {
            // Empty, replaced from before its start, or after a gap (the entries between are
            // not in this log): the entries start the log afresh.
            truncated = !self.is_empty() && first < self.end;
            self.clear();
            (self.first, self.end) = (first, first);
        } else if first < self.end {
            self.truncate(first);
            truncated = true;
        }
        self.push(entries, sum);
        truncated
    }

    /// Entries that continue the log: each entry's own block while blocks are single entries
    /// (a plain extend), otherwise each block's share summed in one tight pass and added to the
    /// open block or pushed as a new one.
    #[inline(never)]
    fn push<E>(&mut self, entries: &[E], mut sum: impl FnMut(&[E]) -> u64) {
        if entries.is_empty() {
            return;
        }
        let mut total = 0;
        if self.shift == 0 {
            if self.start > 0 && self.blocks.len() + entries.len() > self.blocks.capacity() {
                self.reclaim();
            }
            // `extend` from a slice's iterator reserves once and writes without a capacity test.
            self.blocks.extend(entries.chunks(1).map(|entry| {
                let bytes = sum(entry);
                total += bytes;
                bytes
            }));
        } else {
            // The entries up to the end of the block of `end` (where the first goes), then whole
            // blocks.
            let mask = self.mask();
            let head = usize::try_from(mask - (self.end & mask) + 1).unwrap_or(usize::MAX).min(entries.len());
            let (head, tail) = entries.split_at(head);
            let bytes = sum(head);
            self.add_at_end(bytes);
            total += bytes;
            // Whole blocks through `extend` (an exact-length iterator: one capacity test for
            // all of them, not one per push), then the open one the batch ends in.
            let whole = tail.chunks_exact(usize::try_from(mask + 1).unwrap_or(usize::MAX));
            let rest = whole.remainder();
            if self.start > 0 && self.blocks.len() + whole.len() + 1 > self.blocks.capacity() {
                self.reclaim();
            }
            self.blocks.extend(whole.map(|block| {
                let bytes = sum(block);
                total += bytes;
                bytes
            }));
            if !rest.is_empty() {
                let bytes = sum(rest);
                self.blocks.push(bytes);
                total += bytes;
            }
        }
        self.bytes += total;
        self.end = self.end.saturating_add(entries.len() as u64);
        if self.blocks.len() - self.start > MAX_BLOCKS {
            self.coarsen();
        }
    }

    /// Bytes of entries going in at `end`: added to the last block when the log ends inside it
    /// (it is open), else in a new one.
    #[inline(always)]
    fn add_at_end(&mut self, bytes: u64) {
        let open = self.end & self.mask() != 0 && self.end > self.first;
        match self.blocks.last_mut() {
            Some(last) if open => *last += bytes,
            _ => self.push_block(bytes),
        }
    }

    /// A new last block, in room the compacted ones left when the vector is full (the caller
    /// coarsens past [`LogSize::MAX_BLOCKS`]).
    #[inline(always)]
    fn push_block(&mut self, bytes: u64) {
        if self.start > 0 && self.blocks.len() == self.blocks.capacity() {
            self.reclaim();
        }
        self.blocks.push(bytes);
    }

    /// Drops the compacted blocks, so that a full vector makes room rather than grow.
    #[cold]
    #[inline(never)]
    fn reclaim(&mut self) {
        self.blocks.drain(..self.start);
        self.start = 0;
    }

    /// Offsets within a block.
    #[inline]
    fn mask(&self) -> u64 {
        self.mask
    }

    /// The first index after block `block` (the largest index for the last block there is).
    fn block_end(&self, block: u64) -> u64 {
        block.saturating_add(1).saturating_mul(1 << self.shift)
    }

    /// Doubles the blocks until at most [`LogSize::MAX_BLOCKS`] are kept: pairs of aligned blocks merge,
    /// in place, the live ones moved to the start. A batch that spanned many blocks at once may
    /// have grown the vector: it gives the memory back.
    #[cold]
    #[inline(never)]
    fn coarsen(&mut self) {
        while self.blocks.len() - self.start > MAX_BLOCKS {
            let (mut read, mut write) = (self.start, 0);
            if (self.first >> self.shift) & 1 == 1 {
                // The first live block's partner holds no live entries: it stays alone.
                self.blocks[0] = self.blocks[read];
                (read, write) = (read + 1, 1);
            }
            // Pair `i` is read at `read + 2i` and written at `write + i`, at or before its reads
            // and after every earlier pair's, so nothing is overwritten before it is read. The
            // reads and writes overlap in the one vector, hence cells: the pass then runs without
            // a bounds test per block (it was 16 instructions a pair, a tenth of the recording's
            // instructions in the saturated loop, where the young log doubles often).
            let blocks = Cell::from_mut(self.blocks.as_mut_slice()).as_slice_of_cells();
            let pairs = (blocks.len() - read) / 2;
            for (pair, merged) in blocks[read..read + 2 * pairs].chunks_exact(2).zip(&blocks[write..write + pairs]) {
                merged.set(pair[0].get() + pair[1].get());
            }
            (read, write) = (read + 2 * pairs, write + pairs);
            if let Some(last) = blocks.get(read) {
                blocks[write].set(last.get());
                write += 1;
            }
            self.blocks.truncate(write);
            self.start = 0;
            self.shift += 1;
            self.mask = (self.mask << 1) | 1;
        }
        if self.blocks.capacity() > 2 * MAX_BLOCKS {
            self.blocks.shrink_to(2 * MAX_BLOCKS);
        }
    }

    /// Keeps the entries before `index` (a conflicting tail from `index` on was dropped).
    pub fn truncate(&mut self, index: u64) {
        if index >= self.end {
            return;
        }
        if index <= self.first {
            self.clear();
            return;
        }
        // The block of the last entry kept, and the live part of it.
        let last = (index - 1) >> self.shift;
        let kept = usize::try_from(last - (self.first >> self.shift)).unwrap_or(usize::MAX) + 1;
        let keep = self.start.saturating_add(kept).min(self.blocks.len());
        let mut removed: u64 = self.blocks.drain(keep..).sum();
        let (from, to) = (self.first.max(last << self.shift), self.end.min(self.block_end(last)));
        if let Some(block) = self.blocks.last_mut() {
            let cut = *block - share(*block, index - from, to - from);
            *block -= cut;
            removed += cut;
        }
        self.bytes -= removed;
        self.end = index;
    }

    /// Forgets the entries below `first_index` (a compaction); a log compacted past its end is
    /// empty and continues at `first_index`.
    pub fn compact(&mut self, first_index: u64) {
        if first_index <= self.first {
            return;
        }
        if first_index >= self.end {
            self.first = first_index;
            self.clear();
            return;
        }
        // Whole blocks below the one of `first_index`, then that block's part below it.
        let block = first_index >> self.shift;
        let gone = usize::try_from(block - (self.first >> self.shift)).unwrap_or(usize::MAX);
        let end = self.start.saturating_add(gone).min(self.blocks.len());
        let mut removed: u64 = self.blocks[self.start..end].iter().sum();
        self.start = end;
        let (from, to) = (self.first.max(block << self.shift), self.end.min(self.block_end(block)));
        if let Some(front) = self.blocks.get_mut(self.start) {
            let cut = share(*front, first_index - from, to - from);
            *front -= cut;
            removed += cut;
        }
        self.bytes -= removed;
        self.first = first_index;
        // The dead blocks go once they outnumber the live ones.
        if self.start > self.blocks.len() - self.start {
            self.reclaim();
        }
    }

    /// Forgets every entry (a snapshot replaced the log); the next append starts it afresh,
    /// with single-entry blocks again.
    pub fn clear(&mut self) {
        self.blocks.clear();
        self.start = 0;
        self.bytes = 0;
        (self.shift, self.mask) = (0, 0);
        self.end = self.first;
    }

    /// Entries in the log.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.end - self.first
    }

    /// Whether the log holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end == self.first
    }

    /// Their bytes (see [`LogSize`] for when this is exact).
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// `part` of `whole` entries' share of `bytes`, in proportion (`part <= whole`, `whole > 0`).
fn share(bytes: u64, part: u64, whole: u64) -> u64 {
    let share = u128::from(bytes) * u128::from(part) / u128::from(whole.max(1));
    u64::try_from(share).unwrap_or(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry: its index and bytes.
    type Entry = (u64, u64);

    fn entry(index: u64, _term: u64, data: &[u8]) -> Entry {
        (index, data.len() as u64)
    }

    fn append(log: &mut LogSize, entries: &[Entry]) -> bool {
        log.append(entries, |entry| entry.0, |entry| entry.1)
    }

    /// `append_runs` hands the caller the batch once, in order, a block's share at a time, and
    /// keeps the same size as `append` entry by entry.
    #[test]
    fn runs_cover_the_batch_once_a_block_at_a_time() {
        let (mut by_runs, mut by_entries) = (LogSize::new(), LogSize::new());
        let mut next = 1;
        for (round, len) in [1usize, 3, 700, 37, 64, 1, 200, 129].into_iter().cycle().take(40).enumerate() {
            let batch: Vec<Entry> = (next..next + len as u64).map(|index| (index, index % 7 + round as u64)).collect();
            next += len as u64;
            let mut seen = Vec::new();
            // Blocks double only after the batch is in.
            let shift = by_runs.shift;
            by_runs.append_runs(
                &batch,
                |entry| entry.0,
                |run| {
                    assert!(!run.is_empty(), "an empty run");
                    let (first, last) = (run[0].0, run[run.len() - 1].0);
                    assert_eq!(first >> shift, last >> shift, "one block");
                    seen.extend_from_slice(run);
                    run.iter().map(|entry| entry.1).sum()
                },
            );
            assert_eq!(seen, batch, "each entry once, in order");
            append(&mut by_entries, &batch);
            assert_eq!((by_runs.len(), by_runs.bytes()), (by_entries.len(), by_entries.bytes()));
        }
    }

    #[test]
    fn appends_truncations_and_compactions() {
        let mut log = LogSize::default();
        assert!(!append(&mut log, &[entry(1, 1, b"a"), entry(2, 1, b"bb"), entry(3, 1, b"ccc")]));
        assert_eq!(log.len(), 3);
        let three = log.bytes();
        assert_eq!(three, 6);
        // A conflicting tail from index 2 replaces two entries with one.
        assert!(append(&mut log, &[entry(2, 2, b"x")]));
        assert_eq!(log.len(), 2);
        assert!(log.bytes() < three);
        // Appending after the end truncates nothing.
        assert!(!append(&mut log, &[entry(3, 2, b"y")]));
        log.compact(3);
        assert_eq!(log.len(), 1);
        assert_eq!(log.bytes(), 1);
        log.clear();
        assert_eq!((log.len(), log.bytes()), (0, 0));
    }

    #[test]
    fn a_gap_or_an_overwrite_from_before_the_start_starts_afresh() {
        let mut log = LogSize::default();
        append(&mut log, &[entry(5, 1, b"aa"), entry(6, 1, b"bb")]);
        assert!(!append(&mut log, &[entry(9, 1, b"c")]), "after a gap: nothing overwritten");
        assert_eq!((log.len(), log.bytes()), (1, 1));
        assert!(append(&mut log, &[entry(8, 2, b"dddd")]), "from before the start: overwritten");
        assert_eq!((log.len(), log.bytes()), (1, 4));
        log.compact(20);
        assert_eq!((log.len(), log.bytes()), (0, 0));
        append(&mut log, &[entry(20, 2, b"e")]);
        assert_eq!((log.len(), log.bytes()), (1, 1));
    }

    /// Entries of `size` bytes each at `from..to`.
    fn sized(from: u64, to: u64, size: usize) -> Vec<Entry> {
        (from..to).map(|index| entry(index, 1, &vec![7; size])).collect()
    }

    /// A log of millions of entries keeps at most `MAX_BLOCKS` words (a size per entry would
    /// keep 4 MB here), and its counts stay exact when the entries are alike in size.
    #[test]
    fn memory_stays_bounded_whatever_the_log_length() {
        let mut log = LogSize::default();
        let mut next = 1;
        for batch in 0..20_000u64 {
            let count = 1 + batch % 97;
            append(&mut log, &sized(next, next + count, 3));
            next += count;
            assert!(log.blocks.len() <= MAX_BLOCKS);
        }
        assert!(next > 900_000, "{next}");
        assert!(log.blocks.capacity() <= 2 * MAX_BLOCKS, "{}", log.blocks.capacity());
        assert_eq!((log.len(), log.bytes()), (next - 1, 3 * (next - 1)));
        // A compaction and a conflicting tail that cut blocks, with entries alike: still exact.
        log.compact(next / 3 + 1);
        assert!(append(&mut log, &sized(next - 1000, next - 900, 3)));
        let entries = next - 900 - (next / 3 + 1);
        assert_eq!((log.len(), log.bytes()), (entries, 3 * entries));
        log.clear();
        assert_eq!((log.len(), log.bytes(), log.shift), (0, 0, 0), "single-entry blocks again");
    }

    /// Entries the wrapper should never see (indexes out of order, repeated, near `u64::MAX`,
    /// an empty batch) and compactions anywhere: no panic, and the bookkeeping stays consistent
    /// and bounded.
    #[test]
    fn nonsense_indexes_never_panic() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut log = LogSize::default();
        let special = [0, 1, 2, 255, 256, 257, u64::MAX / 2, u64::MAX - 300, u64::MAX - 1, u64::MAX];
        for step in 0..20_000 {
            let roll = next_random(&mut state);
            let index = |state: &mut u64| {
                let r = next_random(state);
                if r % 3 == 0 {
                    special[(r >> 8) as usize % special.len()]
                } else {
                    r >> (r % 64)
                }
            };
            match roll % 6 {
                0 => log.compact(index(&mut state)),
                1 => log.clear(),
                2 => log.truncate(index(&mut state)),
                _ => {
                    let count = (next_random(&mut state) % 600) as usize;
                    // Half the batches continue the log, as the wrapper's fast path expects.
                    let start = if roll % 2 == 0 { log.end } else { index(&mut state) };
                    let batch: Vec<Entry> = (0..count)
                        .map(|k| {
                            let at = if roll % 7 == 0 { index(&mut state) } else { start.wrapping_add(k as u64) };
                            entry(at, 1, &vec![0; (next_random(&mut state) % 50) as usize])
                        })
                        .collect();
                    if roll % 3 == 0 {
                        for entry in &batch {
                            log.append_one(entry.0, entry.1);
                        }
                    } else {
                        append(&mut log, &batch);
                    }
                }
            }
            assert_eq!(log.bytes(), log.blocks[log.start..].iter().sum::<u64>(), "step {step}");
            assert!(log.blocks.len() - log.start <= MAX_BLOCKS, "step {step}");
            assert!(log.blocks.capacity() <= 2 * MAX_BLOCKS, "step {step}");
            assert!(log.first <= log.end, "step {step}");
        }
        // A log at the very end of the index space, in blocks of two, cut inside its last block.
        let mut log = LogSize::default();
        let tail: Vec<Entry> = (0..300).map(|k| entry(u64::MAX - 300 + k, 1, b"ab")).collect();
        append(&mut log, &tail);
        assert_eq!((log.len(), log.shift), (300, 1));
        log.compact(u64::MAX - 2);
        assert!(append(&mut log, &[entry(u64::MAX - 1, 2, b"c")]), "overwrote the last entry");
        assert_eq!(log.len(), 2);
    }

    /// xorshift64: the model test's inputs, reproducible.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Random appends, conflicting tails and compactions against a size kept per entry: the
    /// entry count always exact, the bytes exact while the blocks are single entries (and
    /// always when the entries are alike), otherwise off by at most a block's bytes per cut.
    #[test]
    fn matches_a_size_per_entry_within_the_documented_bound() {
        for (seed, alike) in [(1u64, false), (2, false), (3, true), (4, true), (5, false)] {
            let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut log = LogSize::default();
            // The model: the log's first index and each live entry's size.
            let (mut first, mut sizes) = (1u64, Vec::<u64>::new());
            let mut cuts = 0u64;
            for step in 0..3_000 {
                let roll = next_random(&mut state) % 100;
                let end = first + sizes.len() as u64;
                let size = |state: &mut u64| if alike { 5 } else { (next_random(state) % 200) as usize };
                if roll < 80 || sizes.is_empty() {
                    // Appends continuing the log, most of them; now and then a conflicting tail.
                    let count = 1 + next_random(&mut state) % 64;
                    let at = if roll < 75 || sizes.is_empty() {
                        end
                    } else {
                        end - 1 - next_random(&mut state) % sizes.len().min(300) as u64
                    };
                    let batch: Vec<Entry> =
                        (at..at + count).map(|index| entry(index, 1, &vec![1; size(&mut state)])).collect();
                    // Half the batches entry by entry, as openraft's log store sees them.
                    let truncated = if step % 2 == 0 {
                        append(&mut log, &batch)
                    } else {
                        batch.iter().fold(false, |truncated, entry| log.append_one(entry.0, entry.1) | truncated)
                    };
                    assert_eq!(truncated, at < end, "step {step}");
                    if at < end && log.shift > 0 {
                        cuts += 1;
                    }
                    sizes.truncate(usize::try_from(at - first).expect("fits"));
                    sizes.extend(batch.iter().map(|entry| entry.1));
                } else if roll < 83 {
                    // A tail dropped on its own (openraft's `truncate`), anywhere, even past the end.
                    let at = first + next_random(&mut state) % (sizes.len() as u64 + 2);
                    if at < end && log.shift > 0 {
                        cuts += 1;
                    }
                    log.truncate(at);
                    sizes.truncate(usize::try_from(at - first).expect("fits"));
                } else {
                    let to = first + next_random(&mut state) % (sizes.len() as u64 + 1);
                    if log.shift > 0 {
                        cuts += 1;
                    }
                    log.compact(to);
                    sizes.drain(..usize::try_from(to - first).expect("fits"));
                    first = to;
                }
                let exact: u64 = sizes.iter().sum();
                assert_eq!(log.len(), sizes.len() as u64, "seed {seed} step {step}");
                if alike || log.shift == 0 {
                    assert_eq!(log.bytes(), exact, "seed {seed} step {step}");
                } else {
                    let bound = (cuts + 1) * (1 << log.shift) * 200;
                    assert!(log.bytes().abs_diff(exact) <= bound, "seed {seed} step {step}");
                }
                assert_eq!(log.bytes(), log.blocks[log.start..].iter().sum::<u64>());
                assert!(log.blocks.len() - log.start <= MAX_BLOCKS);
                assert!(log.blocks.capacity() <= 2 * MAX_BLOCKS, "{}", log.blocks.capacity());
            }
            assert!(log.shift > 0, "seed {seed}: the log outgrew single-entry blocks");
        }
    }
}
