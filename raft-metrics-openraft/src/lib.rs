//! Prometheus metrics for [openraft](https://docs.rs/openraft/0.9.25) through `raft-metrics`.
//!
//! TODO(doc) replaced below.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod clock;
mod election;
mod group;
mod inbound;
mod log_store;
mod membership;
mod network;
mod proposals;
mod state_machine;
mod watch;

pub mod sim;

pub use group::{Group, DEFAULT_REFRESH, DEFAULT_TIMING};
pub use log_store::InstrumentedLogStore;
pub use network::{InstrumentedClient, InstrumentedNetwork, APPEND_ENTRIES, INSTALL_SNAPSHOT, VOTE};
pub use raft_metrics::raft::InSync;
pub use state_machine::{InstrumentedSnapshotBuilder, InstrumentedStateMachine};
