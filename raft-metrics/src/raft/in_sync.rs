//! When a follower counts as in sync, for `isr_size`: one rule, whatever clock measures silence.

use std::time::Duration;

/// When a follower counts as in sync (in `isr_size`): how far behind the leader's last index and
/// how long silent it may be.
///
/// `S` is the clock that measures silence: wall time ([`Duration`], what the
/// [collector](super::collect) compares with [`FollowerStatus::last_contact_ms`](super::FollowerStatus))
/// or Raft ticks ([`Ticks`], what an adapter that drives raft-rs counts, so that the rule is the
/// same in a real cluster and in a simulation running faster than wall time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InSync<S = Duration> {
    /// Most entries a follower may be behind.
    pub max_lag_entries: u64,
    /// Longest a follower may be silent.
    pub max_silence: S,
}

/// A count of Raft ticks (raft-rs's logical clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ticks(pub u64);

/// Consul autopilot's defaults: 250 entries, 200 ms.
impl Default for InSync<Duration> {
    fn default() -> Self {
        Self { max_lag_entries: 250, max_silence: Duration::from_millis(200) }
    }
}

/// 250 entries (Consul autopilot's default) and 10 ticks (raft-rs's default `election_tick`).
impl Default for InSync<Ticks> {
    fn default() -> Self {
        Self { max_lag_entries: 250, max_silence: Ticks(10) }
    }
}

impl<S: PartialOrd> InSync<S> {
    /// Whether a follower `lag` entries behind and silent for `silence` is in sync.
    pub fn holds(&self, lag: u64, silence: &S) -> bool {
        lag <= self.max_lag_entries && *silence <= self.max_silence
    }
}
