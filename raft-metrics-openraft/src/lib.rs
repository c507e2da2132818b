//! Prometheus metrics for [openraft](https://docs.rs/openraft/0.9.25) through `raft-metrics`:
//! wrap the log store, the state machine and the network factory you give `Raft::new`, spawn
//! one watcher, and every `chronik_raft_*` metric openraft can feed is recorded where openraft
//! makes the transition.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//!
//! use openraft::{BasicNode, Config, Raft};
//! use raft_metrics::advanced::parse;
//! use raft_metrics::raft::RaftMetrics;
//! use raft_metrics::{Format, Registry};
//! use raft_metrics_openraft::sim::{MemLogStore, MemStateMachine, Put, Router, RouterNetwork};
//! use raft_metrics_openraft::Group;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new();
//! let metrics = RaftMetrics::with_registry(&registry)?;
//! let rt = tokio::runtime::Runtime::new()?;
//! rt.block_on(async {
//!     // Your own log store, state machine and network; here the crate's in-memory ones.
//!     let (log, sm) = (MemLogStore::default(), MemStateMachine::default());
//!     let network = RouterNetwork::new(Router::default(), 1, 0);
//!
//!     let group = Group::new(&metrics, "orders", 0, 1);
//!     let config = Arc::new(Config::default().validate()?);
//!     let raft = Raft::new(1, config, group.network(network), group.log_store(log), group.state_machine(sm)).await?;
//!     tokio::spawn(group.watch(raft.metrics()));
//!
//!     raft.initialize(BTreeMap::from([(1, BasicNode::default())])).await?;
//!     raft.wait(None).current_leader(1, "elected").await?;
//!     raft.client_write(Put { key: 7, value: 42 }).await?;
//!     tokio::time::sleep(std::time::Duration::from_millis(200)).await; // the watcher's refresh
//!
//!     let scrape = parse::parse(&registry.encode_to_string(Format::Prometheus), Format::Prometheus)?;
//!     let p = [("topic", "orders"), ("partition", "0")];
//!     assert_eq!(scrape.value("chronik_raft_is_leader", &p), Some(1.0));
//!     // Index 0 is the initial membership, 1 the leader's blank entry, 2 ours.
//!     assert_eq!(scrape.value("chronik_raft_commit_index", &p), Some(2.0));
//!     assert_eq!(scrape.value("chronik_raft_proposals_committed_total", &p), Some(1.0));
//!     assert_eq!(scrape.value("chronik_raft_proposals_applied_total", &p), Some(1.0));
//!     raft.shutdown().await?;
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Version
//!
//! Built against openraft **`=0.9.25`** with feature `storage-v2`: 0.9 is openraft's stable
//! line (0.10 is still alpha, with edition 2024 and a different storage API), and without
//! `storage-v2` `RaftLogStorage` and `RaftStateMachine` are sealed, so no wrapper could implement
//! them. The pin is exact because the wrappers implement openraft's traits method by method: a
//! new 0.9 release may add a defaulted method that a wrapper would then fail to forward. The
//! workspace lock keeps `validit` (an openraft dependency) at 0.2.4: 0.2.6 declares
//! `rust-version = "1.88"`, above our 1.85.
//!
//! # What is recorded where
//!
//! * [`Group::log_store`] ([`InstrumentedLogStore`]): commit index (`save_committed`, which
//!   openraft calls on every node before applying), the log's bytes with [`Group::with_log_size`]
//!   (kept in bounded memory by [`raft_metrics::raft::LogSize`], the persisted log read once at
//!   startup), append durations, the leader's proposals from append to commit (pending, committed,
//!   commit latency, batch sizes, dropped by truncation), compactions and truncations, and, from
//!   the votes openraft persists through `save_vote`, elections (started, won, lost, their
//!   duration) and leader changes.
//! * [`Group::state_machine`] ([`InstrumentedStateMachine`]): last applied index and apply lag,
//!   proposals applied, apply durations, configuration changes, snapshot creation (through the
//!   builder), installation and the receiving side of transfers.
//! * [`Group::network`] ([`InstrumentedNetwork`], [`InstrumentedClient`]): every RPC by method and
//!   target (outcome, duration, error type), AppendEntries and heartbeats per peer with the last
//!   answer's time and round trips, votes granted, dropped (unreachable) messages, the sending side
//!   of snapshot transfers.
//! * [`Group::watch`]: what `Raft::metrics()` reports: role, term, leader, membership, last index
//!   and log entries (`last_log_index`, `purged`: a follower's append then forwards its entries
//!   untouched), and on the leader each follower's lag (entries from `replication`, seconds since
//!   it was last caught up), in-sync replicas and the quorum contact (`millis_since_quorum_ack`).
//! * Calls for what only the application sees: [`Group::on_append_entries`] in the RPC server
//!   (follower side: requests received, rejections, the leader's last contact), and
//!   [`Group::on_write_error`] / [`Group::on_write_timeout`] when `client_write` fails or the
//!   application stops waiting for it.
//!
//! Durations of appends, applies and AppendEntries RPCs are sampled (one call in 8 by default,
//! [`Group::with_timing`]): an untimed call reads no clock. Counts and the commit and applied
//! indexes are exact and recorded at the call; the watcher's states (role, membership, last
//! index and log entries, follower lag, in-sync replicas, last heartbeat and contact times) are
//! at most one refresh old (100 ms by default, [`Group::with_refresh`]).
//!
//! Cost, in instructions of an in-memory 3-node write loop: recording about +1.0 % one write at
//! a time and +0.7 % to +0.9 % with 100 concurrent writes, against the same wrappers built with
//! [`Group::with_recording`]`(false)`; about +1.0 % / +1.8 % with [`Group::with_log_size`]; the
//! wrappers in all, against openraft without them, about +2.6 % / +1.8 %, their `async` layers
//! 1.5 points of the first (`benches/RESULTS.md`, "openraft write loop overhead"). A deployment's
//! fsync and network round trip make the shares smaller.
//!
//! # What openraft 0.9 cannot feed
//!
//! These series exist (every field of a bound series is exported) and stay at zero:
//!
//! | metric | why |
//! | --- | --- |
//! | `chronik_raft_pre_votes_total` | openraft 0.9 has no pre-vote phase |
//! | `chronik_raft_proposals_failed_total{reason="timeout"}` | without [`Group::on_write_timeout`]: `client_write` has no deadline in openraft, only the application can give up on one |
//! | `chronik_raft_append_entries_rejected_total`, a follower's `append_entries_received_total` and `last_contact_timestamp_seconds` | without [`Group::on_append_entries`]: openraft gives the receiving side no hook |
//! | `chronik_raft_append_entries_sent_bytes_total`, `chronik_raft_snapshot_size_bytes` | without [`Group::with_entry_size`] / [`Group::with_snapshot_size`]: payloads are the application's types |
//! | `chronik_raft_log_size_bytes` | without [`Group::with_entry_size`] and [`Group::with_log_size`] (off by default: sizing every appended entry costs more in openraft's append path than the rest of the log store's recording, see its docs) |
//! | `chronik_raft_hibernating` | openraft 0.9 has no hibernation: its timers tick every group (heartbeats can be switched off with `Raft::runtime_config`, but then the watcher's quorum contact ages like a cut-off leader's); an application that does so can say so with `RaftMetrics::set_hibernating` |
//!
//! Approximations: `log_append_duration_seconds` times the `append` call, not the flush that
//! follows (openraft 0.9 keeps the flush callback's constructor private, so a wrapper cannot
//! interpose); every snapshot creation counts as `trigger="size"` (openraft does not tell the
//! builder whether its policy or `trigger().snapshot()` asked); `heartbeats_sent_total` counts
//! every AppendEntries, since each one resets the follower's election timer, and
//! `append_entries_sent_total` those carrying entries. `Aggregation::Node` is not supported: the
//! wrappers record per-partition series.
//!
//! # Contents
//!
//! * [`Group`] and its wrappers, the watcher and the two application hooks.
//! * [`sim`]: an in-process openraft cluster (router, memory stores, faults) for tests and the
//!   `cluster` demo.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod election;
mod group;
mod inbound;
mod leaders;
mod log_store;
mod membership;
mod method;
mod network;
mod proposals;
mod state_machine;
mod watch;

pub mod sim;

pub use group::{Group, DEFAULT_REFRESH, DEFAULT_TIMING};
pub use log_store::InstrumentedLogStore;
pub use method::{APPEND_ENTRIES, INSTALL_SNAPSHOT, VOTE};
pub use network::{InstrumentedClient, InstrumentedNetwork};
pub use raft_metrics::raft::InSync;
pub use state_machine::{InstrumentedSnapshotBuilder, InstrumentedStateMachine};
