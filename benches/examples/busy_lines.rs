//! What recording costs when proposals are spread over a large node's groups, for callgrind
//! (instructions, and misses under its cache simulation): `busy_lines <partitions> <rounds>
//! <on|off> [busy-every] [warmup]` builds a 3-node in-process cluster of that many groups in the
//! large-node export mode (elected, settled, every group's series bound by a first proposal),
//! then in `measured` (`--toggle-collect='*busy_lines::measured'`) runs `rounds` rounds of one
//! proposal of 256 bytes to every group, settled, and a tick: every group's turn finds its state
//! cold, as at a node whose thousands of partitions each take a little traffic. `busy-every`:
//! the groups' `with_busy_publish_every` (default: the large-node mode's, 10); `warmup`: rounds
//! before the measured ones (default 1), which make the logs as long.
use std::hint::black_box;

use raft_metrics::raft::Aggregation;
use raft_metrics_raftrs::sim::{Cluster, ClusterConfig};

/// mimalloc, as in the instruction benchmarks: with glibc's allocator the recording's own
/// allocations changed what raft-rs's cost (its `_int_malloc`, about 580 instructions per
/// proposal more with recording on for as many calls): the heap's layout, not recording.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bytes per proposal: the real-node benchmark's smallest.
const PAYLOAD: usize = 256;

/// One proposal to every group, settled, then a tick.
fn round(cluster: &mut Cluster, partitions: u32) {
    for p in 0..partitions {
        cluster.propose(p, vec![0x5a; PAYLOAD]).expect("proposal");
    }
    cluster.settle();
    cluster.tick();
}

#[inline(never)]
fn measured(cluster: &mut Cluster, partitions: u32, rounds: u64) {
    for _ in 0..rounds {
        round(cluster, partitions);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let partitions: u32 = args[1].parse().expect("partitions");
    let rounds: u64 = args[2].parse().expect("rounds");
    let recording = args[3] == "on";
    let busy_publish_every = args.get(4).map(|every| every.parse().expect("busy-every"));
    let warmup: u64 = args.get(5).map_or(1, |rounds| rounds.parse().expect("warmup rounds"));
    let config = ClusterConfig {
        recording,
        partitions,
        aggregation: Aggregation::Unhealthy,
        busy_publish_every,
        ..ClusterConfig::default()
    };
    let mut cluster = Cluster::new(config).expect("cluster");
    assert!(cluster.run_until(600, |c| (0..partitions).all(|p| c.leader(p).is_some())), "no leaders");
    cluster.run(30);
    for _ in 0..warmup {
        round(&mut cluster, partitions);
    }
    measured(&mut cluster, partitions, black_box(rounds));
    black_box(cluster.commit_index(0));
}
