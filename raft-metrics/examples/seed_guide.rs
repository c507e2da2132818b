//! Performs every operation of the integration guide once, as the guide's code does, and prints
//! the scrape. `cargo run -p raft-metrics --example seed_guide | promtool check metrics` prints
//! nothing.

use raft_metrics::raft::RaftMetrics;
use raft_metrics::Format;

fn main() {
    let metrics = RaftMetrics::new();
    let (topic, partition) = ("orders", 0);
    metrics.set_node_state(topic, partition, "node-1", 1);
    metrics.set_leader_count("node-1", 1);
    metrics.set_follower_count("node-1", 0);
    metrics.set_current_term(topic, partition, 3);
    metrics.set_isr_size(topic, partition, 3);
    metrics.set_commit_index(topic, partition, 120);
    metrics.set_last_applied(topic, partition, 118);
    metrics.set_follower_lag_entries(topic, partition, "node-2", 4);
    metrics.set_follower_lag_ms(topic, partition, "node-2", 12.5);
    metrics.update_last_heartbeat(topic, partition, "node-2", 1_764_000_000_000u64);
    metrics.set_max_follower_lag(topic, partition, 4);
    metrics.record_election(topic, partition, true, 153.0);
    metrics.set_votes_received(topic, partition, 2);
    metrics.record_commit_latency(topic, partition, 2.5, 16);
    metrics.record_snapshot_create(topic, partition, "log_size", 4 << 20, 350.0, 100);
    metrics.record_snapshot_apply(topic, partition, 120.0);
    metrics.record_snapshot_transfer(topic, partition, "send", true);
    metrics.record_append_entries_sent(topic, partition, "node-2", 4096);
    metrics.record_rpc_call("append_entries", "node-2", true, 0.8);
    metrics.record_rpc_error("append_entries", "node-3", "timeout");
    metrics.record_append_entries_received(topic, partition, "node-1");
    metrics.record_append_entries_rejected(topic, partition, "log_inconsistency");
    metrics.set_log_size(topic, partition, 20, 81_920);
    metrics.record_log_compaction(topic, partition);
    metrics.set_cluster_size(topic, partition, 3);
    metrics.record_config_change(topic, partition, "add_learner");
    if let Some(error) = RaftMetrics::global_registration_error() {
        eprintln!("the Raft schema could not be registered: {error}");
        std::process::exit(1);
    }
    print!("{}", raft_metrics::Registry::global().encode_to_string(Format::Prometheus));
}
