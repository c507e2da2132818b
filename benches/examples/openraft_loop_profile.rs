//! One run of the openraft loop's measured part, for `benches/where.sh`: `openraft_loop_profile
//! <on|off|bare> <one_at_a_time|batched_100>` builds the cluster as `openraft_loop_instructions`
//! does (current-thread runtime, timers stopped, 100 warm-up writes; `off` the wrappers with
//! `Group::with_recording(false)`, `bare` no wrappers), then runs 2,000 writes in `measured`,
//! the function for callgrind to collect
//! (`--toggle-collect='*openraft_loop_profile::measured*'`).
//!
//! An example rather than a binary so that it runs on mimalloc, the benchmark's allocator.

use std::hint::black_box;
use std::time::Duration;

use raft_metrics_openraft::sim::{Cluster, ClusterConfig};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes per measured run, as the benchmark's.
const WRITES: u64 = 2000;

#[inline(never)]
fn measured(cluster: &Cluster, batch: u64) -> u64 {
    let (mut written, mut key) = (0, 1_000_000);
    while written < WRITES {
        written += cluster.propose_many(0, key, batch);
        key += batch;
    }
    written
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: openraft_loop_profile <on|off|bare> <one_at_a_time|batched_100>";
    let (recording, wrapped) = match args.get(1).map(String::as_str) {
        Some("on") => (true, true),
        Some("off") => (false, true),
        Some("bare") => (false, false),
        _ => panic!("{usage}"),
    };
    let batch = match args.get(2).map(String::as_str) {
        Some("one_at_a_time") => 1,
        Some("batched_100") => 100,
        _ => panic!("{usage}"),
    };
    let config = ClusterConfig {
        threads: 0,
        recording,
        wrapped,
        refresh: Duration::from_secs(3600),
        log_size: false,
        ..ClusterConfig::default()
    };
    let cluster = Cluster::new(config).expect("cluster");
    cluster.quiesce();
    assert_eq!(cluster.propose_many(0, 0, 100), 100, "warm-up writes");
    black_box(measured(&cluster, black_box(batch)));
    println!("per {WRITES} writes");
}
