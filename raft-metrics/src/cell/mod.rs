//! Lock-free storage for one series of one metric. Cells know no names, labels or bytes.
//!
//! Every cell records through `&self` with relaxed atomics: a sample publishes no other memory,
//! and a scrape accepts a value that is a few nanoseconds stale. The single-writer flavour of each
//! cell is [`Local`]: a relaxed load and a relaxed store, no locked instruction at all.

/// `observe_ms` and `observe_duration` for a type with `observe(&self, seconds: f64)`: every
/// histogram flavour (shared, single-writer, sampled) takes durations the same way.
macro_rules! duration_observers {
    () => {
        /// Records a duration given in milliseconds, for histograms in seconds.
        #[inline]
        pub fn observe_ms(&self, ms: f64) {
            self.observe(ms / 1000.0);
        }

        /// Records a duration, in seconds.
        #[inline]
        pub fn observe_duration(&self, elapsed: std::time::Duration) {
            self.observe(elapsed.as_secs_f64());
        }
    };
}

mod buckets;
mod counter;
mod gauge;
mod histogram;
mod local;
mod native;
mod native_buckets;
mod packed;
mod sampled;
mod sharded;

pub use buckets::Buckets;
pub use counter::Counter;
pub use gauge::{FloatGauge, Gauge};
pub use histogram::{Histogram, HistogramSnapshot, Timer};
pub use local::Local;
pub use native::{NativeHistogram, NativeSnapshot};
pub use native_buckets::NativeBuckets;
pub use sampled::{AddCell, RandomSampler, SampleControl, Sampled, SampledLayout, Sampler, Sampling};
pub use sharded::ShardedCounter;

use std::sync::Arc;

use crate::encode::SeriesWriter;
use crate::model::{MetricKind, RegistrationError};

/// The storage of one metric for one label set: a cell, or an array of cells indexed by an enum.
///
/// Implemented by [`Counter`](crate::Counter), [`Gauge`](crate::Gauge),
/// [`FloatGauge`](crate::FloatGauge), [`Histogram`](crate::Histogram),
/// [`ShardedCounter`](crate::ShardedCounter) and [`ByLabel`](crate::ByLabel).
pub trait Metric: Send + Sync + Sized + 'static {
    /// Configuration shared by every series of a family (histogram buckets, say).
    type Layout: Send + Sync + 'static;
    /// The exported type.
    const KIND: MetricKind;

    /// Checks a layout at registration, so that [`Metric::new`] cannot fail later.
    ///
    /// # Errors
    ///
    /// When the layout does not fit this metric type.
    fn check(layout: &Self::Layout) -> Result<(), RegistrationError> {
        let _ = layout;
        Ok(())
    }

    /// Fresh, zeroed storage.
    fn new(layout: &Self::Layout) -> Self;

    /// Zeroes the storage, for a series slot that is reused for another label set.
    fn reset(&self);

    /// Writes this metric's samples for one series.
    fn encode(&self, layout: &Self::Layout, out: &mut SeriesWriter<'_>);

    /// The run-time sampling control, for [`Sampled`](crate::Sampled) metrics.
    fn sample_control(layout: &Self::Layout) -> Option<&Arc<SampleControl>> {
        let _ = layout;
        None
    }
}
