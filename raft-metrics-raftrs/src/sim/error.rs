//! [`Error`]: why a cluster operation failed.

use raft_metrics::RegistrationError;

/// Why a cluster operation failed.
#[derive(Debug)]
pub enum Error {
    /// raft-rs refused.
    Raft(raft::Error),
    /// A node's metrics could not be registered.
    Registration(RegistrationError),
    /// The partition has no leader right now.
    NoLeader(u32),
    /// No such node, or it does not host the partition.
    NoReplica {
        /// The node.
        node: u64,
        /// The partition.
        partition: u32,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Raft(e) => write!(f, "raft: {e}"),
            Self::Registration(e) => write!(f, "metrics registration: {e}"),
            Self::NoLeader(p) => write!(f, "partition {p} has no leader"),
            Self::NoReplica { node, partition } => write!(f, "node {node} hosts no replica of partition {partition}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Raft(e) => Some(e),
            Self::Registration(e) => Some(e),
            Self::NoLeader(_) | Self::NoReplica { .. } => None,
        }
    }
}

impl From<raft::Error> for Error {
    fn from(e: raft::Error) -> Self {
        Self::Raft(e)
    }
}

impl From<RegistrationError> for Error {
    fn from(e: RegistrationError) -> Self {
        Self::Registration(e)
    }
}
