//! Faults: nodes paused, crashed and restarted; links cut, delayed, healed or slowed; slow
//! disks and state machines; lost snapshots; compacted logs.

use std::time::Duration;

use raft::Storage;

use super::host::{Host, HostStatus};
use super::{Cluster, Error};

/// The slow-machine faults of one node.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slowness {
    /// Added to every log append (`persist_entries`).
    pub(super) disk: Duration,
    /// Added to every batch applied.
    pub(super) apply: Duration,
    /// Committed entries queue up unapplied.
    pub(super) apply_stalled: bool,
    /// Snapshots sent to the node are lost.
    pub(super) snapshots_fail: bool,
}

impl Cluster {
    /// Freezes `node`: no ticks, and messages to it are lost. Its memory is kept.
    pub fn pause(&mut self, node: u64) {
        self.set_status(node, HostStatus::Paused);
    }

    /// Un-freezes a paused (not a crashed) node.
    pub fn resume(&mut self, node: u64) {
        if self.status(node) == Some(HostStatus::Paused) {
            self.set_status(node, HostStatus::Up);
        }
    }

    /// Stops `node` until [`restart`](Self::restart).
    pub fn crash(&mut self, node: u64) {
        self.set_status(node, HostStatus::Crashed);
    }

    /// Re-creates `node`'s replicas from their storage (log, hard state, configuration, state
    /// machine), with a fresh registry: counters start from zero as in a restarted process.
    ///
    /// # Errors
    ///
    /// When raft-rs refuses the stored state.
    pub fn restart(&mut self, node: u64) -> Result<(), Error> {
        self.hosts.insert(node, Host::new(&self.config.raft_options())?);
        for partition in 0..self.config.partitions {
            let Some(old) = self.groups[partition as usize].remove(&node) else { continue };
            // The old registry is gone with the old process: nothing to take back.
            drop(old.node.close(false));
            let replica = self.replica(node, partition, old.mem, old.sm)?;
            self.groups[partition as usize].insert(node, replica);
        }
        Ok(())
    }

    /// Loses every message between `a` and `b`, both ways.
    pub fn cut(&mut self, a: u64, b: u64) {
        self.network.cut(a, b);
        self.network.cut(b, a);
    }

    /// Holds messages from `from` to `to` until [`heal`](Self::heal) delivers them, late.
    pub fn delay(&mut self, from: u64, to: u64) {
        self.network.delay(from, to);
    }

    /// Cuts `node` from every other node.
    pub fn isolate(&mut self, node: u64) {
        let others: Vec<u64> = self.hosts.keys().copied().filter(|&id| id != node).collect();
        for other in others {
            self.cut(node, other);
        }
    }

    /// Restores the link between `a` and `b` both ways, releasing the messages it held.
    pub fn heal(&mut self, a: u64, b: u64) {
        self.network.heal([(a, b), (b, a)]);
    }

    /// Restores every link.
    pub fn heal_all(&mut self) {
        self.network.heal_all();
    }

    /// Delays every message from `from` to `to` by `latency` of real time (zero: none). Messages
    /// arrive in order; a settle does not wait for them, a later one delivers them.
    pub fn set_link_latency(&mut self, from: u64, to: u64, latency: Duration) {
        self.network.set_latency(from, to, latency);
    }

    /// Makes every log append (the `persist_entries` write, i.e. append + fsync) of `node` take
    /// `latency` longer, in real time (zero: back to normal).
    pub fn set_disk_latency(&mut self, node: u64, latency: Duration) {
        self.slowness.entry(node).or_default().disk = latency;
    }

    /// Makes every batch `node` applies to its state machine take `latency` longer, in real time.
    pub fn set_apply_latency(&mut self, node: u64, latency: Duration) {
        self.slowness.entry(node).or_default().apply = latency;
    }

    /// With `true`, `node` stops applying: committed entries queue up (its apply lag grows), and
    /// with `false` the queue is applied at the next settle.
    pub fn stall_apply(&mut self, node: u64, stalled: bool) {
        self.slowness.entry(node).or_default().apply_stalled = stalled;
    }

    /// With `true`, every snapshot sent to `node` is lost, and its sender told so (a transfer
    /// failure); the other messages go through.
    pub fn fail_snapshots_to(&mut self, node: u64, fail: bool) {
        self.slowness.entry(node).or_default().snapshots_fail = fail;
    }

    /// Compacts `node`'s log of `partition`, keeping the applied entry and the `keep` entries
    /// before it; returns the new first index. A follower behind it can then only catch up from
    /// a snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::NoReplica`], or the storage refusing.
    pub fn compact(&mut self, node: u64, partition: u32, keep: u64) -> Result<u64, Error> {
        let replica = self.replica_mut(node, partition)?;
        let to = replica.node.raw().raft.raft_log.applied.saturating_sub(keep);
        if to > Storage::first_index(&replica.mem)? {
            replica.mem.wl().compact(to)?;
            replica.node.observe_compaction(to);
        }
        Ok(Storage::first_index(&replica.mem)?)
    }

    pub(super) fn set_status(&mut self, node: u64, status: HostStatus) {
        if let Some(host) = self.hosts.get_mut(&node) {
            host.status = status;
        }
    }
}
