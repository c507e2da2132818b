//! The built-in Raft schema at scale: a node hosting N partitions of a 3-replica topic, every
//! partition's series written the way a running node writes them, in per-partition or node-wide
//! (`Aggregation::Node`) mode. Used by `scrape_scale` (scrape time) and `memory_per_partition`
//! (memory and scrape bytes, plain and gzip).

use raft_metrics::raft::{Aggregation, RaftMetrics, RaftOptions};
use raft_metrics::{Format, Registry};

/// The sizes measured.
pub const SIZES: [u32; 3] = [100, 1_000, 10_000];

/// The export modes measured, with their ids.
pub const MODES: [(&str, Aggregation); 2] =
    [("per_partition", Aggregation::Partition), ("aggregated", Aggregation::Node)];

/// The mode named `name`.
pub fn mode(name: &str) -> Option<Aggregation> {
    MODES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// A registry with the Raft schema in `aggregation` mode and `partitions` partitions of topic
/// `orders` on node `n1`, which leads every third partition and follows the others; each
/// partition written as a running node writes it (state, indexes, latencies, both peers' lag and
/// traffic, the log, an election).
///
/// # Panics
///
/// If the schema does not register (it always does in a fresh registry).
pub fn populate(aggregation: Aggregation, partitions: u32) -> Registry {
    let registry = Registry::new();
    let m = RaftMetrics::with_options(&registry, &RaftOptions { aggregation, ..RaftOptions::default() })
        .expect("register the Raft schema");
    let t = crate::TOPIC;
    for p in 0..partitions {
        let leads = p % 3 == 0;
        let index = u64::from(p) * 10 + 1_000;
        m.set_node_state(t, p, "n1", if leads { 1 } else { 3 });
        m.set_has_leader(t, p, true);
        m.set_current_term(t, p, 3);
        m.set_membership(t, p, 3, 0);
        m.set_commit_index(t, p, index);
        m.set_last_applied(t, p, index - 1);
        m.set_log_size(t, p, 1_000, 64_000);
        m.record_election(t, p, leads, 150.0);
        m.record_commit_latency(t, p, 2.5, 4);
        m.record_append_entries_rejected(t, p, "stale_term");
        for peer in ["n2", "n3"] {
            if leads {
                m.set_follower_lag_entries(t, p, peer, u64::from(p % 7));
                m.set_follower_lag_ms(t, p, peer, 1.5);
                m.update_last_heartbeat(t, p, peer, 1_700_000_000_000u64);
                m.record_append_entries_sent(t, p, peer, 4_096);
            } else {
                m.record_append_entries_received(t, p, peer);
            }
        }
        let h = m.partition(t, p);
        h.log_append_duration.observe_ms(0.8);
        h.apply_duration.observe_ms(0.3);
        h.proposals_applied.add(4);
    }
    for peer in ["n2", "n3"] {
        m.record_rpc_call("append_entries", peer, true, 0.7);
    }
    registry
}

/// One Prometheus text scrape of `registry` into `buf` (cleared first); returns its length.
pub fn scrape(registry: &Registry, buf: &mut Vec<u8>) -> usize {
    buf.clear();
    registry.encode(Format::Prometheus, buf);
    buf.len()
}
