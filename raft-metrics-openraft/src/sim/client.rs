//! Clients of a [`Cluster`]: writes, blocking or fire-and-forget, and the leadership and
//! membership requests the faults need.

use std::time::Duration;

use super::cluster::{err, Cluster, ClusterError};
use super::{Node, Put};

impl Cluster {
    /// Writes `put` through `p`'s leader; returns the entry's index.
    ///
    /// # Errors
    ///
    /// When there is no leader or the write fails (recorded as `proposals_failed_total`).
    pub fn propose(&self, p: u32, put: Put) -> Result<u64, ClusterError> {
        let leader = self.leader(p).ok_or_else(|| err("no leader"))?;
        self.propose_on(leader, p, put)
    }

    /// Writes `put` through node `node` (which refuses unless it leads).
    ///
    /// # Errors
    ///
    /// When the replica is not running or the write fails (recorded as `proposals_failed_total`).
    pub fn propose_on(&self, node: u64, p: u32, put: Put) -> Result<u64, ClusterError> {
        let replica = self.replica(node, p).ok_or_else(|| err("no such replica"))?;
        let raft = replica.raft.clone().ok_or_else(|| err("not running"))?;
        match self.rt.block_on(raft.client_write(put)) {
            Ok(response) => Ok(response.log_id.index),
            Err(e) => {
                if let Some(group) = &replica.group {
                    group.on_write_error(&e);
                }
                Err(err(e))
            }
        }
    }

    /// Writes `n` puts to `p`'s leader concurrently (keys `first..first + n`) and waits for them;
    /// returns how many succeeded.
    pub fn propose_many(&self, p: u32, first: u64, n: u64) -> u64 {
        let Some(leader) = self.leader(p) else { return 0 };
        let Some(replica) = self.replica(leader, p) else { return 0 };
        let Some(raft) = replica.raft.clone() else { return 0 };
        let group = replica.group.clone();
        self.rt.block_on(async move {
            let writes: Vec<_> = (first..first + n)
                .map(|key| {
                    let raft = raft.clone();
                    tokio::spawn(async move { raft.client_write(Put { key, value: key }).await })
                })
                .collect();
            let mut ok = 0;
            for w in writes {
                match w.await {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(e)) => {
                        if let Some(group) = &group {
                            group.on_write_error(&e);
                        }
                    }
                    Err(_) => {}
                }
            }
            ok
        })
    }

    /// Starts `n` writes to `p` (keys from `first`) through node `on` (the leader when `None`)
    /// and returns at once; each write that fails or takes longer than `timeout` is recorded on
    /// that node (`Group::on_write_error`, `Group::on_write_timeout`). Returns how many started.
    pub fn propose_async(&self, p: u32, on: Option<u64>, first: u64, n: u64, timeout: Duration) -> u64 {
        let Some(node) = on.or_else(|| self.leader(p)) else { return 0 };
        let Some(replica) = self.replica(node, p) else { return 0 };
        let Some(raft) = replica.raft.clone() else { return 0 };
        for key in first..first + n {
            let (raft, group) = (raft.clone(), replica.group.clone());
            self.rt.spawn(async move {
                let write = tokio::time::timeout(timeout, raft.client_write(Put { key, value: key })).await;
                match (write, group) {
                    (Ok(Err(e)), Some(group)) => group.on_write_error(&e),
                    (Err(_), Some(group)) => group.on_write_timeout(),
                    _ => {}
                }
            });
        }
        n
    }

    /// Makes `node` campaign for `p` now (openraft's `trigger().elect()`).
    ///
    /// # Errors
    ///
    /// When the replica is not running.
    pub fn elect(&self, node: u64, p: u32) -> Result<(), ClusterError> {
        let raft = self.raft(node, p).ok_or_else(|| err("not running"))?;
        self.rt.block_on(raft.trigger().elect()).map_err(err)
    }

    /// Asks `p`'s leader to add `node` as a learner without waiting (the change may never
    /// commit: a stuck configuration change).
    ///
    /// # Errors
    ///
    /// When there is no leader.
    pub fn add_learner_async(&self, p: u32, node: u64) -> Result<(), ClusterError> {
        let leader = self.leader(p).and_then(|l| self.raft(l, p)).ok_or_else(|| err("no leader"))?;
        self.rt.spawn(async move {
            let _ =
                tokio::time::timeout(Duration::from_secs(120), leader.add_learner(node, Node::default(), false)).await;
        });
        Ok(())
    }
}
