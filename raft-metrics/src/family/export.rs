//! What a scrape writes of a family: every metric of every series (the default), or a selection.
//!
//! A node with thousands of partitions cannot send every partition's series to Prometheus, but
//! its operators still need the partitions that are in trouble by name. An [`Export`] lets a
//! family keep recording every series as usual while a scrape writes only the metrics it selects
//! of the series it accepts right now. The choice is made at scrape time from the series' own
//! values, so recording pays nothing for it and a series moves in and out of the scrape without
//! any allocation or lock on the recording side.

use core::fmt;

use crate::metric::Group;

/// Which metrics of which series a scrape writes (see [`Family::set_export`](super::Family::set_export)).
///
/// A series left out of a scrape is absent from it, as if removed: Prometheus marks it stale, so
/// an alert on it resolves, and it returns with its current values when accepted again.
pub struct Export<G> {
    metrics: Box<[bool]>,
    keep: Box<dyn Fn(&G) -> bool + Send + Sync>,
}

impl<G: Group> Export<G> {
    /// Writes the group's metrics for which `metric(index)` is true (indexes in the group's
    /// declaration order, as in its `SCHEMA`), of the series for which `keep` is true at the
    /// time of the scrape. `keep` runs once per series per scrape, under no lock, and must not
    /// record into the family.
    pub fn new(metric: impl Fn(usize) -> bool, keep: impl Fn(&G) -> bool + Send + Sync + 'static) -> Self {
        Self { metrics: (0..G::KINDS.len()).map(metric).collect(), keep: Box::new(keep) }
    }

    /// Writes the selected metrics of every series.
    pub fn metrics(metric: impl Fn(usize) -> bool) -> Self {
        Self::new(metric, |_| true)
    }

    pub(crate) fn writes_metric(&self, index: usize) -> bool {
        self.metrics.get(index).copied().unwrap_or(false)
    }

    pub(super) fn keeps(&self, series: &G) -> bool {
        (self.keep)(series)
    }
}

impl<G> fmt::Debug for Export<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Export").field("metrics", &self.metrics).finish_non_exhaustive()
    }
}
