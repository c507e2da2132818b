//! One run of the raft loop's measured part for `benches/where.sh`: `raft_loop_profile
//! <on|off|untimed|rpc_untimed|every_turn> <one_per_turn|batched_100|saturated_1000|idle_ticks>`
//! builds the cluster as `raft_loop_instructions` does (elected and warmed, `raft_loop::cluster`,
//! or `raft_loop::idle_cluster`; `untimed` and `every_turn` are its `instrumented_untimed` and
//! `instrumented_every_turn` variants, `rpc_untimed` times the durations and no message, the
//! raft-rs shapes only), then runs the shape in
//! `measured`, the function for callgrind to collect
//! (`--toggle-collect='*raft_loop_profile::measured*'`). It prints what the run's instructions are
//! counted per (`per 2000 proposals`, `per 19200 replica-ticks`), so the script does not repeat the
//! loop's constants.
//!
//! An example rather than a binary so that it runs on mimalloc, the benchmark's allocator (a
//! dev-dependency): the two variants must share the allocator's layout as they do there.

use std::hint::black_box;

use raft_metrics_benches::raft_loop::{self, Shape, IDLE_PARTITIONS, IDLE_TICKS, PROPOSALS};
use raft_metrics_raftrs::sim::Cluster;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The idle shape's name, beside [`Shape`]'s.
const IDLE: &str = "idle_ticks";

#[inline(never)]
fn measured(cluster: &mut Cluster, shape: Option<Shape>) -> u64 {
    match shape {
        Some(shape) => raft_loop::run(cluster, shape),
        None => raft_loop::run_idle(cluster),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: raft_loop_profile <on|off|untimed|rpc_untimed|every_turn> <one_per_turn|batched_100|saturated_1000|idle_ticks>";
    let variant = args.get(1).map_or("", String::as_str);
    let name = args.get(2).map_or("", String::as_str);
    let shape = Shape::ALL.into_iter().find(|shape| name == shape.name());
    let mut cluster = match (variant, shape) {
        ("on" | "off", Some(_)) => raft_loop::cluster(variant == "on"),
        ("untimed", Some(_)) => raft_loop::cluster_untimed(),
        ("rpc_untimed", Some(_)) => raft_loop::cluster_rpc_untimed(),
        ("every_turn", Some(_)) => raft_loop::cluster_timing_every_turn(),
        ("on" | "off", None) if name == IDLE => raft_loop::idle_cluster(variant == "on"),
        _ => panic!("{usage}"),
    };
    black_box(measured(&mut cluster, black_box(shape)));
    match shape {
        Some(_) => println!("per {PROPOSALS} proposals"),
        None => println!("per {} replica-ticks", u64::from(IDLE_PARTITIONS) * 3 * IDLE_TICKS),
    }
}
