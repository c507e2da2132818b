//! The built-in Raft schema at scale: a node hosting N partitions of a 3-replica topic, every
//! partition's series written the way a running node writes them, in per-partition, node-wide
//! (`Aggregation::Node`) or unhealthy-only (`Aggregation::Unhealthy`) mode, with 1 % of the
//! partitions unhealthy (half without a leader, half lagging). Used by `scrape_scale` (scrape
//! time) and `memory_per_partition` (memory, series and scrape bytes: plain, gzip, protobuf).

use raft_metrics::raft::{Aggregation, RaftMetrics, RaftOptions};
use raft_metrics::{Format, Registry};

/// The sizes measured in every mode.
pub const SIZES: [u32; 3] = [100, 1_000, 10_000];
/// The sizes measured in the compact modes (per-partition mode at 50 000 is a 1 GB scrape).
pub const COMPACT_SIZES: [u32; 4] = [100, 1_000, 10_000, 50_000];

/// The export modes measured, with their ids.
pub const MODES: [(&str, Aggregation); 3] = [
    ("per_partition", Aggregation::Partition),
    ("aggregated", Aggregation::Node),
    ("unhealthy", Aggregation::Unhealthy),
];

/// The mode named `name`.
pub fn mode(name: &str) -> Option<Aggregation> {
    MODES.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

/// The sizes measured in `aggregation` mode.
pub fn sizes(aggregation: Aggregation) -> &'static [u32] {
    match aggregation {
        Aggregation::Partition => &SIZES,
        _ => &COMPACT_SIZES,
    }
}

/// Partition `p` knows no leader.
fn leaderless(p: u32) -> bool {
    p % 100 == 37
}

/// Partition `p` lags: a follower 20 000 entries behind where this node leads, an apply backlog
/// of 5 000 entries where it follows.
fn lagging(p: u32) -> bool {
    p % 100 == 73
}

/// A registry with the Raft schema in `aggregation` mode and `partitions` partitions of topic
/// `orders` on node `n1`, which leads every third partition and follows the others; each
/// partition written as a running node writes it (state, indexes, latencies, both peers' lag and
/// traffic, the log, an election); 1 % of them unhealthy (half without a leader, half lagging).
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
        let index = u64::from(p) * 10 + 10_000;
        m.set_node_state(t, p, "n1", if leads { 1 } else { 3 });
        m.set_has_leader(t, p, !leaderless(p));
        m.set_current_term(t, p, 3);
        m.set_membership(t, p, 3, 0);
        m.set_commit_index(t, p, index);
        let backlog = if lagging(p) && !leads { 5_000 } else { 1 };
        m.set_last_applied(t, p, index - backlog);
        if leads {
            let behind = u64::from(p % 7) + if lagging(p) { 20_000 } else { 0 };
            m.set_isr_size(t, p, if lagging(p) { 2 } else { 3 });
            m.set_max_follower_lag(t, p, behind);
        }
        m.set_log_size(t, p, 1_000, 64_000);
        m.record_election(t, p, leads, 150.0);
        m.record_commit_latency(t, p, 2.5, 4);
        m.record_append_entries_rejected(t, p, "stale_term");
        for peer in ["n2", "n3"] {
            if leads {
                let slow = lagging(p) && peer == "n3";
                m.set_follower_lag_entries(t, p, peer, u64::from(p % 7) + if slow { 20_000 } else { 0 });
                m.set_follower_lag_ms(t, p, peer, if slow { 40_000.0 } else { 1.5 });
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

/// The number of samples in a Prometheus text scrape (its non-comment lines).
pub fn series(scrape: &[u8]) -> usize {
    scrape.split(|b| *b == b'\n').filter(|l| !l.is_empty() && l[0] != b'#').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unhealthy-only mode writes the 1 % of unhealthy partitions and the node-wide series.
    #[test]
    fn unhealthy_mode_writes_the_unhealthy_partitions_only() {
        let registry = populate(Aggregation::Unhealthy, 1_000);
        let mut buf = Vec::new();
        scrape(&registry, &mut buf);
        let text = String::from_utf8(buf).expect("utf-8");
        let mut names: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            *names.entry(line.split(['{', ' ']).next().unwrap_or_default()).or_default() += 1;
        }
        let sick = (0..1_000).filter(|&p| leaderless(p) || lagging(p)).count();
        assert_eq!(names.get("chronik_raft_has_leader"), Some(&sick), "{names:?}");
    }
}
