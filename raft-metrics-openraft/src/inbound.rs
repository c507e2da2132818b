//! What only the application's RPC server and client code see: AppendEntries requests this node
//! receives, and proposals that fail.

use openraft::error::{ClientWriteError, RaftError};
use openraft::raft::AppendEntriesResponse;
use openraft::{RaftTypeConfig, Vote};
use raft_metrics::raft::{ProposalFailure, RejectReason};

use crate::group::Group;

impl<C: RaftTypeConfig> Group<C> {
    /// Records an AppendEntries request this node received and its answer; call it in the RPC
    /// server around `Raft::append_entries`.
    ///
    /// Records `append_entries_received_total{peer=<leader>}`, the follower's
    /// `last_contact_timestamp_seconds` (when the leader's request is accepted; set by the
    /// watcher at its next refresh, so it reads no clock here) and
    /// `append_entries_rejected_total`: `log_inconsistency` for a conflict, `stale_term` for a
    /// request from an older leader. openraft gives a follower no other hook, so without this
    /// call those series stay absent.
    ///
    /// `vote` is the request's (`request.vote`, taken before the request moves into openraft).
    #[inline]
    pub fn on_append_entries(
        &self,
        vote: &Vote<C::NodeId>,
        response: &Result<AppendEntriesResponse<C::NodeId>, RaftError<C::NodeId>>,
    ) {
        if !self.options.recording {
            return;
        }
        let s = &self.shared;
        if let Some(leader) = vote.leader_id.voted_for() {
            self.with_leader_peer(&leader, |peer| peer.series.append_entries_received.inc());
        }
        let reason = match response {
            Ok(AppendEntriesResponse::Conflict) => Some(RejectReason::LogInconsistency),
            Ok(AppendEntriesResponse::HigherVote(_)) => Some(RejectReason::StaleTerm),
            Ok(_) => None,
            Err(_) => Some(RejectReason::Other),
        };
        match reason {
            Some(reason) => s.series.append_entries_rejected.get(reason).inc(),
            None => self.contacted(),
        }
    }

    /// Records a failed `Raft::client_write` as `proposals_failed_total{reason}`: `not_leader`
    /// when openraft asks to forward to the leader, `other` for the rest.
    pub fn on_write_error(&self, error: &RaftError<C::NodeId, ClientWriteError<C::NodeId, C::Node>>) {
        if !self.options.recording {
            return;
        }
        let reason = match error {
            RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => ProposalFailure::NotLeader,
            RaftError::APIError(ClientWriteError::ChangeMembershipError(_)) | RaftError::Fatal(_) => {
                ProposalFailure::Other
            }
        };
        self.shared.series.proposals_failed.get(reason).inc();
    }

    /// Records a `Raft::client_write` the application gave up waiting for, as
    /// `proposals_failed_total{reason="timeout"}` (openraft itself has no write deadline).
    pub fn on_write_timeout(&self) {
        if !self.options.recording {
            return;
        }
        self.shared.series.proposals_failed.get(ProposalFailure::Timeout).inc();
    }
}
