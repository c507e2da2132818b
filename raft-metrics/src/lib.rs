//! Lock-free, nearly free Prometheus metrics for Raft implementations.
//!
//! # Example
//!
//! ```
//! use raft_metrics::{Buckets, Counter, Format, MetricInfo, Registry, Unit};
//!
//! let registry = Registry::new();
//! // A labelled counter family; `bind` resolves the labels once.
//! let commits = registry.register_with::<Counter, 2>(
//!     MetricInfo::new("raft_commits_total", "Entries committed."),
//!     ["topic", "partition"],
//!     (),
//! )?;
//! let orders_7 = commits.bind(("orders", 7));
//! orders_7.inc(); // one relaxed fetch_add: no lookup, no lock
//!
//! // A histogram with 14 exponential buckets from 0.5 ms.
//! let latency = registry.histogram::<14, 0>(
//!     MetricInfo::new("raft_commit_latency_seconds", "Proposal to commit.").unit(Unit::Seconds),
//!     [],
//!     Buckets::exponential(0.0005, 2.0, 14)?,
//! )?;
//! latency.bind(()).observe(0.0031);
//!
//! let scrape = registry.encode_to_string(Format::Prometheus);
//! assert!(scrape.contains("raft_commits_total{topic=\"orders\",partition=\"7\"} 1"));
//! assert!(scrape.contains("raft_commit_latency_seconds_count 1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Architecture
//!
//! * [`cell`](crate::Counter): lock-free storage for one series ([`Counter`], [`Gauge`],
//!   [`FloatGauge`], [`Histogram`], [`ShardedCounter`]), each with a single-writer [`Local`] view.
//! * [`Group`]: what one label set stores, one metric or many laid out together.
//! * [`Family`]: label values → series, through a lock-free fingerprint table, bounded.
//! * [`Registry`]: registration with validation, and the scrape in Prometheus text 0.0.4 or
//!   OpenMetrics 1.0 ([`Format`]).
//!
//! # Costs
//!
//! | operation | cost |
//! |---|---|
//! | `Handle<Counter>::inc` | one relaxed `fetch_add` |
//! | `Exclusive` counter/gauge/histogram | relaxed load + store, no locked instruction |
//! | `Handle<Histogram>::observe` | bucket search + one relaxed `fetch_add` |
//! | `Family::get(values)` hit | 128-bit hash of the values + lock-free probe |
//! | `Family::get(values)` miss | family lock, render labels once, maybe grow the table |
//! | scrape | copy series list under the family lock, then unlocked formatting |

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod cell;
mod derive_docs;
mod encode;
#[cfg(feature = "metrics")]
pub mod facade;
mod family;
#[cfg(feature = "http")]
pub mod http;
mod label;
mod metric;
mod model;
mod name;
#[cfg(raft_metrics_op_count)]
pub mod op_count;
pub mod raft;
mod registry;
pub mod schema;
mod sync;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cell::{
    AddCell, Buckets, Counter, FloatGauge, Gauge, Histogram, HistogramSnapshot, Local, RandomSampler, SampleControl,
    Sampled, SampledLayout, Sampler, Sampling, ShardedCounter, Timer,
};
pub use cell::{NativeBuckets, NativeHistogram, NativeSnapshot};
pub use derive_docs::{LabelValue, RaftMetrics};
// The guide's `use raft_metrics::RaftMetrics;` names the schema's entry point and the derive at
// once: a struct lives in the type namespace, a derive macro in the macro namespace.
pub use cell::Metric;
pub use encode::{parse, unescape_label_value, Format, LabelPair, SampleWriter};
pub use family::{
    ClaimError, Exclusive, Family, Handle, DEFAULT_MAX_SERIES, MAX_LABEL_VALUE_LEN, OVERFLOW_LABEL_VALUE,
};
pub use label::{EnumLabel, Fingerprint, KeyBuilder, LabelValue, LabelValues};
pub use metric::{ByLabel, ByLabelLayout, Group, LocalView};
pub use model::{BucketsError, MetricInfo, MetricKind, RegistrationError, Unit};
pub use name::{is_valid_label_name, is_valid_metric_name};
pub use raft::RaftMetrics;
pub use registry::{FamilySpec, Registry, UnknownMetric, OVERFLOW_METRIC};
