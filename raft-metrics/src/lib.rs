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
//!     MetricInfo::new("raft_commit_latency_seconds", "Proposal to commit.").with_unit(Unit::Seconds),
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
//! Each layer imports only the ones above it:
//!
//! * `model`: the shared vocabulary ([`MetricInfo`], [`Unit`], [`RegistrationError`]); imports
//!   nothing.
//! * `encode`: exposition, one [`Format`] per scrape passed down as a value; knows no storage.
//! * `cell`: lock-free storage for one series ([`Counter`], [`Gauge`], [`FloatGauge`],
//!   [`Histogram`], [`NativeHistogram`], [`ShardedCounter`]), each with a single-writer [`Local`]
//!   view, and the [`Metric`](advanced::Metric) trait they implement.
//! * `metric`: [`Group`](advanced::Group), what one label set stores, and [`ByLabel`].
//! * `family`: label values → series through a lock-free fingerprint table, bounded ([`Family`],
//!   [`Handle`], [`Exclusive`]).
//! * `registry`: registration with validation, and the scrape ([`Registry`]).
//! * On top: the built-in Raft schema and the guide's API ([`raft`]), the `/metrics` endpoint
//!   (`http`) and the `metrics` facade bridge (`facade`).
//!
//! The root re-exports what recording, registering and serving need; [`advanced`] has the
//! building blocks for custom storage, exposition and tests.
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
mod prefetch;
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

pub mod advanced;

// The root holds what a user of the derive, the guide's API and a registry names; building
// blocks for custom storage, exposition and tests live in `advanced`.
pub use cell::{Buckets, Counter, FloatGauge, Gauge, Histogram, Local, Sampled, Sampling, ShardedCounter, Timer};
pub use cell::{NativeBuckets, NativeHistogram};
// The guide's `use raft_metrics::RaftMetrics;` names the schema's entry point and the derive at
// once: a struct lives in the type namespace, a derive macro in the macro namespace.
pub use derive_docs::{LabelValue, RaftMetrics};
pub use encode::Format;
pub use family::{
    ClaimError, Exclusive, Family, Handle, Pinned, DEFAULT_MAX_SERIES, MAX_LABEL_VALUE_LEN, OVERFLOW_LABEL_VALUE,
};
pub use label::{EnumLabel, LabelValue};
pub use metric::ByLabel;
pub use model::{BucketsError, MetricInfo, RegistrationError, Unit};
pub use raft::RaftMetrics;
pub use registry::{FamilySpec, Registry, RegistryRef, UnknownMetric, OVERFLOW_METRIC};
