//! The group's series, claimed for single-writer recording.
//!
//! The wrapper is the only writer of its group's partition, replica, peer and snapshot-transfer
//! series (one wrapper per group per node), so it claims them ([`Exclusive`]): a counter add or a
//! histogram observation is then a plain load and store instead of a locked instruction, a
//! difference that shows in the Raft loop's time (`benches/RESULTS.md`). Should the claim be
//! refused (another wrapper of the same group records into the same registry, or the family is
//! full), the wrapper records through the shared handle instead, correct either way.

use raft_metrics::advanced::{Group, LocalFields};
use raft_metrics::{ClaimError, Exclusive, Handle};

/// One series, claimed or shared; record into it with [`rec!`].
pub(crate) enum Series<G: Group> {
    Own(Exclusive<G>),
    Shared(Handle<G>),
}

impl<G: Group + LocalFields> Series<G> {
    /// The claimed series, or `shared` when the claim was refused.
    pub(crate) fn new(shared: Handle<G>, claim: Result<Exclusive<G>, ClaimError>) -> Self {
        claim.map_or(Self::Shared(shared), Self::Own)
    }
}

/// Records into a [`Series`]: `rec!(self.p => commit_index.set_u64(index))` runs
/// `commit_index.set_u64(index)` on the single-writer view or the shared handle.
macro_rules! rec {
    ($series:expr => $($op:tt)+) => {
        match &$series {
            $crate::node::series::Series::Own(own) => {
                let view = own.fields();
                view.$($op)+
            }
            $crate::node::series::Series::Shared(shared) => shared.$($op)+,
        }
    };
}

pub(crate) use rec;
