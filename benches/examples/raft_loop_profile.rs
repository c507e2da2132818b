//! One run of the raft loop's measured part for `benches/where.sh`: `raft_loop_profile <on|off>
//! <one_per_turn|batched_100|saturated_1000>` builds the cluster as `raft_loop_instructions` does
//! (elected and warmed, `raft_loop::cluster`), then runs the shape in `measured`, the function for
//! callgrind to collect (`--toggle-collect='*raft_loop_profile::measured*'`).
//!
//! An example rather than a binary so that it runs on mimalloc, the benchmark's allocator (a
//! dev-dependency): the two variants must share the allocator's layout as they do there.

use std::hint::black_box;

use raft_metrics_benches::raft_loop::{self, Shape};
use raft_metrics_raftrs::sim::Cluster;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[inline(never)]
fn measured(cluster: &mut Cluster, shape: Shape) -> u64 {
    raft_loop::run(cluster, shape)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: raft_loop_profile <on|off> <one_per_turn|batched_100|saturated_1000>";
    let recording = match args.get(1).map(String::as_str) {
        Some("on") => true,
        Some("off") => false,
        _ => panic!("{usage}"),
    };
    let shape = Shape::ALL
        .into_iter()
        .find(|shape| args.get(2).is_some_and(|name| name == shape.name()))
        .unwrap_or_else(|| panic!("{usage}"));
    let mut cluster = raft_loop::cluster(recording);
    black_box(measured(&mut cluster, black_box(shape)));
}
