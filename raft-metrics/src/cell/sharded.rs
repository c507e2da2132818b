use std::cell::Cell;
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use super::Metric;
use crate::encode::SeriesWriter;
use crate::model::MetricKind;
use crate::sync::unmodeled::AtomicUsize;
use crate::sync::{AtomicU64, Ordering};

/// A counter split over cache-line-padded shards, for metrics that many threads hit at once
/// (per-node RPC counters).
///
/// Each thread adds to its own shard, so increments from different threads do not fight over one
/// cache line; a scrape sums the shards. The cost is memory: 128 bytes per shard, one shard per
/// core rounded up to a power of two (at most 64). Choose it per metric: per-partition series,
/// written by one Raft loop, are better served by [`Counter`](crate::Counter).
pub struct ShardedCounter {
    shards: Box<[CachePadded<AtomicU64>]>,
}

static SHARDS: OnceLock<usize> = OnceLock::new();
static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard, assigned round-robin on first use so that threads spread evenly.
    static THREAD_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn shard_count() -> usize {
    *SHARDS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, core::num::NonZeroUsize::get);
        cores.next_power_of_two().clamp(2, 64)
    })
}

#[inline]
fn thread_shard() -> usize {
    THREAD_SHARD.with(|shard| {
        let mut index = shard.get();
        if index == usize::MAX {
            // Relaxed: only uniqueness matters, not ordering.
            index = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            shard.set(index);
        }
        index
    })
}

impl Default for ShardedCounter {
    fn default() -> Self {
        Self { shards: (0..shard_count()).map(|_| CachePadded::new(AtomicU64::new(0))).collect() }
    }
}

impl ShardedCounter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n` to this thread's shard, wrapping at `u64::MAX`.
    #[inline]
    pub fn add(&self, n: u64) {
        // The shard count is a power of two, so the mask picks a shard without a division.
        let shard = &self.shards[thread_shard() & (self.shards.len() - 1)];
        // Relaxed: a count publishes no other memory.
        shard.fetch_add(n, Ordering::Relaxed);
    }

    /// The sum over all shards.
    pub fn get(&self) -> u64 {
        self.shards.iter().fold(0u64, |sum, shard| sum.wrapping_add(shard.load(Ordering::Relaxed)))
    }
}

impl Metric for ShardedCounter {
    type Layout = ();
    const KIND: MetricKind = MetricKind::Counter;

    fn new(_layout: &()) -> Self {
        Self::default()
    }

    fn reset(&self) {
        for shard in &*self.shards {
            shard.store(0, Ordering::Relaxed);
        }
    }

    fn encode(&self, _layout: &(), out: &mut SeriesWriter<'_>) {
        out.counter(self.get());
    }
}

impl core::fmt::Debug for ShardedCounter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShardedCounter").field("shards", &self.shards.len()).field("value", &self.get()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn threads_spread_over_shards_and_sum_exactly() {
        let counter = ShardedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10_000).for_each(|_| counter.inc()));
            }
        });
        assert_eq!(counter.get(), 40_000);
        assert!(counter.shards.len().is_power_of_two());
    }
}
