//! The `method` label values of the RPCs the network wrapper records: the client binds its
//! series by them, and the group binds each peer's AppendEntries series, whose successes are the
//! peer's answers.

/// RPC method label of AppendEntries.
pub const APPEND_ENTRIES: &str = "append_entries";
/// RPC method label of RequestVote.
pub const VOTE: &str = "vote";
/// RPC method label of a snapshot transfer: one `full_snapshot` call, or one chunk when the
/// caller uses `install_snapshot` directly.
pub const INSTALL_SNAPSHOT: &str = "install_snapshot";
