//! Prometheus metrics for [tikv raft-rs](https://docs.rs/raft/0.7.0) through `raft-metrics`:
//! wrap a `RawNode` and every Raft metric is observed where raft-rs makes the transition
//! (counts and state gauges reach the series at the next tick, durations on sampled turns).
//!
//! # Example
//!
//! ```
//! use raft::storage::MemStorage;
//! use raft::{Config, RawNode};
//! use raft_metrics::raft::RaftMetrics;
//! use raft_metrics::advanced::parse;
//! use raft_metrics::{Format, Registry, Sampling};
//! use raft_metrics_raftrs::{InstrumentedNode, InstrumentedStorage};
//!
//! let registry = Registry::new();
//! let metrics = RaftMetrics::with_registry(&registry)?;
//! let store = MemStorage::new_with_conf_state((vec![1], vec![]));
//! let storage = InstrumentedStorage::new(store.clone(), &metrics, "orders", 0);
//! let logger = slog::Logger::root(slog::Discard, slog::o!());
//! let raw = RawNode::new(&Config { id: 1, ..Config::default() }, storage, &logger)?;
//! // Every turn timed, so this one-proposal example sees its commit latency (default: 1 in 8).
//! let mut node = InstrumentedNode::new(raw, &metrics, "orders", 0).with_timing(Sampling::All);
//!
//! node.campaign()?; // one voter: leader at once
//! node.propose(vec![], b"hello".to_vec())?;
//! // One turn of the ready loop (see `InstrumentedNode` for all of it).
//! let mut rd = node.ready();
//! node.persist_entries(rd.entries(), |e| store.wl().append(e))?;
//! if let Some(hs) = rd.hs() {
//!     store.wl().set_hardstate(hs.clone());
//! }
//! let _ = node.committed(rd.take_committed_entries());
//! let mut light = node.advance(rd);
//! let entries = node.committed(light.take_committed_entries());
//! node.observe_apply(&entries, std::time::Duration::from_micros(5));
//! node.advance_apply();
//! node.tick(); // publishes the indexes and the counts kept since the last tick
//!
//! let scrape = parse::parse(&registry.encode_to_string(Format::Prometheus), Format::Prometheus)?;
//! let p = [("topic", "orders"), ("partition", "0")];
//! assert_eq!(scrape.value("chronik_raft_is_leader", &p), Some(1.0));
//! assert_eq!(scrape.value("chronik_raft_commit_index", &p), Some(2.0)); // the leader's empty entry, then ours
//! assert_eq!(scrape.value("chronik_raft_commit_latency_seconds_count", &p), Some(1.0));
//! assert_eq!(scrape.value("chronik_raft_proposals_applied_total", &p), Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Contents
//!
//! * [`InstrumentedNode`]: the `RawNode` wrapper, with one-line hooks for what only the
//!   application sees (append + fsync time, apply time, compaction, transport outcomes).
//! * [`InstrumentedStorage`]: a `Storage` wrapper recording the snapshots raft-rs asks for.
//! * [`classify`]: the rules deciding what a message means (a stale term, a rejection, a vote).
//! * [`sim`]: a deterministic in-process cluster (N nodes × P partitions, one thread, logical
//!   ticks, fault injection) for tests and the `cluster` demo.
//!
//! Durations use the real clock, on about one turn of the ready loop in 8 (weighted 8; see
//! [`InstrumentedNode::with_timing`] and the "Clock reads" section); raft-rs's own clock is the
//! tick, which is what `isr_size`'s silence bound ([`InSync`]) counts. Both export modes of
//! `raft-metrics` work: per-partition series (the default) and `Aggregation::Node`, where the
//! wrapper feeds the node-wide aggregate.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod node;
mod storage;

pub mod classify;
pub mod sim;

pub use node::{
    InstrumentedNode, DEFAULT_IDLE_PUBLISH_EVERY, DEFAULT_LARGE_NODE_BUSY_PUBLISH_EVERY, DEFAULT_RPC_TIMING,
    DEFAULT_TIMING, DEFAULT_TIMING_BUDGET,
};
// One rule for `isr_size`, here with silence counted in raft-rs ticks.
pub use raft_metrics::raft::{InSync, Ticks};
pub use storage::{InstrumentedStorage, TRIGGER_FOLLOWER_CATCH_UP};

/// Unix time in seconds, for the `*_timestamp_seconds` gauges.
pub(crate) fn unix_now() -> f64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// The integration guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/RAFT_METRICS_GUIDE.md")]
pub struct IntegrationGuide;
