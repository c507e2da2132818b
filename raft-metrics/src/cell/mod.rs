//! Lock-free storage for one series of one metric. Cells know no names, labels or bytes.
//!
//! Every cell records through `&self` with relaxed atomics: a sample publishes no other memory,
//! and a scrape accepts a value that is a few nanoseconds stale. The single-writer flavour of each
//! cell is [`Local`]: a relaxed load and a relaxed store, no locked instruction at all.

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

pub use buckets::{Buckets, BucketsError};
pub use counter::Counter;
pub use gauge::{FloatGauge, Gauge};
pub use histogram::{Histogram, HistogramSnapshot, Timer};
pub use local::Local;
pub use native::{NativeHistogram, NativeSnapshot};
pub use native_buckets::NativeBuckets;
pub use sampled::{AddCell, RandomSampler, SampleControl, Sampled, SampledLayout, Sampler, Sampling};
pub use sharded::ShardedCounter;
