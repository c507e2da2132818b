use super::Metric;
use crate::encode::SeriesWriter;
use crate::model::MetricKind;
use crate::sync::{AtomicU64, Ordering};

use super::Local;

/// A monotonically increasing `u64` count.
///
/// One relaxed `fetch_add` per increment. On overflow past `u64::MAX` the count wraps to a small
/// number, which Prometheus' `rate()` reads as a counter reset: at a billion increments a second
/// that takes 584 years.
///
/// # Examples
///
/// ```
/// use raft_metrics::Counter;
///
/// let commits = Counter::default();
/// commits.inc();
/// commits.add(41);
/// assert_eq!(commits.get(), 42);
/// ```
#[derive(Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`, wrapping at `u64::MAX`.
    #[inline]
    pub fn add(&self, n: u64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::counter();
        // Relaxed: a count publishes no other memory; scrapes accept a slightly stale value.
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    #[inline]
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    /// The single-writer view of a counter this code owns outright.
    pub fn local(&mut self) -> Local<'_, Self> {
        Local::new(self)
    }
}

impl Local<'_, Counter> {
    /// Adds one without a locked instruction.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n` without a locked instruction: a relaxed load and a relaxed store. The store is a
    /// single 64-bit write, so a concurrent scraper never sees a torn value.
    #[inline]
    pub fn add(&self, n: u64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::counter();
        let cell = &self.cell().value;
        cell.store(cell.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// The current count.
    #[inline]
    pub fn get(&self) -> u64 {
        self.cell().get()
    }
}

impl Metric for Counter {
    type Layout = ();
    const KIND: MetricKind = MetricKind::Counter;

    fn new(_layout: &()) -> Self {
        Self::default()
    }

    fn reset(&self) {
        self.value.store(0, Ordering::Relaxed);
    }

    fn encode(&self, _layout: &(), out: &mut SeriesWriter<'_>) {
        out.counter(self.get());
    }
}

impl core::fmt::Debug for Counter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Counter").field("value", &self.get()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wraps_on_overflow_like_a_reset() {
        let c = Counter::default();
        c.add(u64::MAX);
        c.add(2);
        assert_eq!(c.get(), 1);
        let mut owned = Counter::default();
        owned.local().add(u64::MAX);
        owned.local().inc();
        assert_eq!(owned.get(), 0);
    }
}
