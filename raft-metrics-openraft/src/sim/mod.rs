//! An in-process openraft cluster for tests and the `cluster` demo: N nodes × P partitions (one
//! `Raft` per node and partition) on a tokio runtime of its own, a [`Router`] between them,
//! in-memory log stores ([`MemLogStore`]) and state machines ([`MemStateMachine`]), every replica
//! wrapped by a [`Group`](crate::Group) recording into its node's own registry.
//!
//! Faults: isolate a node ([`Cluster::isolate`]), crash and restart it ([`Cluster::crash`],
//! [`Cluster::restart`]; its stores survive, its registry is new, as for a restarted process),
//! force a snapshot and purge the log ([`Cluster::snapshot`]) so that a lagging follower catches
//! up by snapshot installation, change the membership ([`Cluster::add_node`],
//! [`Cluster::add_learner`], [`Cluster::change_membership`]), and slow machines (disk, apply,
//! link latency, a stalled apply, failing snapshot transfers).
//!
//! Unlike the raft-rs simulation this one runs in real time: openraft owns its timers
//! (heartbeats every 50 ms, election timeouts 150–300 ms here) and its tasks, so tests wait for
//! conditions with bounded timeouts ([`Cluster::wait_for`]) instead of counting ticks.

use std::io::Cursor;
use std::sync::{Mutex, MutexGuard, PoisonError};

mod client;
mod cluster;
mod router;
mod serve;
mod state_machine;
mod store;

pub use cluster::{Cluster, ClusterConfig, ClusterError};
pub use router::{Router, RouterClient, RouterNetwork};
pub use serve::Exporters;
pub use state_machine::{MemStateMachine, SmData};
pub use store::{LogData, MemLogStore};

/// The cluster's node type (openraft's `BasicNode`).
pub type Node = openraft::BasicNode;
/// The cluster's log entry.
pub type Entry = openraft::Entry<TypeConfig>;

openraft::declare_raft_types!(
    /// The cluster's openraft types: requests are [`Put`]s, responses the previous value.
    pub TypeConfig:
        D = Put,
        R = u64,
);

/// The cluster's request: set `key` to `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Put {
    /// The key.
    pub key: u64,
    /// The value.
    pub value: u64,
}

/// Payload bytes of an entry: 16 for a [`Put`], 0 for blank and membership entries (what
/// [`Group::with_entry_size`](crate::Group::with_entry_size) is given in the cluster).
pub fn entry_size(entry: &Entry) -> u64 {
    match entry.payload {
        openraft::EntryPayload::Normal(_) => 16,
        _ => 0,
    }
}

/// Bytes of a snapshot (what [`Group::with_snapshot_size`](crate::Group::with_snapshot_size) is
/// given in the cluster).
pub fn snapshot_size(data: &Cursor<Vec<u8>>) -> u64 {
    u64::try_from(data.get_ref().len()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
