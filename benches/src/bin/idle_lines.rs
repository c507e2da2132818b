//! Cache misses of idle ticks at a large node, for callgrind's cache simulation: `idle_lines
//! <partitions> <ticks> <on|off> [every]` builds a 3-node in-process cluster of that many idle
//! groups (elected, settled), then runs `ticks` ticks of every replica in `measured`, the function
//! to collect (`--toggle-collect='*idle_lines::measured'`). `every`: the groups'
//! `with_idle_publish_every` (default its default).
use std::hint::black_box;

use raft_metrics::raft::Aggregation;
use raft_metrics_raftrs::sim::{Cluster, ClusterConfig};

#[inline(never)]
fn measured(cluster: &mut Cluster, ticks: u64) {
    cluster.run(ticks);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let partitions: u32 = args[1].parse().expect("partitions");
    let ticks: u64 = args[2].parse().expect("ticks");
    let recording = args[3] == "on";
    let aggregation = Aggregation::Unhealthy;
    let mut config = ClusterConfig { recording, partitions, aggregation, ..ClusterConfig::default() };
    if let Some(every) = args.get(4) {
        config.idle_publish_every = every.parse().expect("every");
    }
    let mut cluster = Cluster::new(config).expect("cluster");
    assert!(cluster.run_until(600, |c| (0..partitions).all(|p| c.leader(p).is_some())), "no leaders");
    cluster.run(30);
    measured(&mut cluster, black_box(ticks));
    black_box(cluster.commit_index(0));
}
