//! Instruction counts (callgrind, via gungraun) of the raft-rs ready loop of `raft_loop.rs`:
//! 2,000 proposals through a 3-node in-process cluster, every `raft-metrics-raftrs` integration
//! point recording (`instrumented`) vs the identical loop with recording off (`disabled`), at
//! the three load shapes (`raft_loop::Shape`), and the instrumented loop timing every turn
//! (`instrumented_every_turn`) or none (`instrumented_untimed`: the exact counts alone); the
//! disabled loop replaying the instrumented
//! loop's metric operations through raft-metrics and through its peers (`replay_*`, see
//! `raft_loop::Replay`); plus one full scrape of the 3 nodes' registries after an instrumented
//! run.
//! Set-up (cluster creation, election, the warm-up `raft_loop::warm`: a log of 10,000 entries and
//! every series bound) runs in the `setup` function and is not counted.
//!
//! Needs `cargo install gungraun-runner --version 0.20.0 --locked` (the version must match).
//! `benches/overhead_guard.sh` runs this bench and checks the overhead.

use std::hint::black_box;

/// mimalloc, in both variants: glibc grows a vector in place when the memory after it is free,
/// so with glibc the disabled loop's raft-rs message vectors grew in place while the instrumented
/// loop's own small allocations sat next to them and turned the same growth into copies (about
/// 1.1 M instructions of `memcpy` in `batched_100`, a heap-layout accident rather than a cost of
/// recording). mimalloc never grows a block past its size class, so both variants copy alike.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use gungraun::{library_benchmark, library_benchmark_group, main, LibraryBenchmarkConfig};
use raft_metrics_benches::raft_loop::{self, Library, Replay, Shape};
use raft_metrics_raftrs::sim::Cluster;

fn cluster(recording: bool) -> Cluster {
    raft_loop::cluster(recording)
}

fn cluster_timing_every_turn(_: ()) -> Cluster {
    raft_loop::cluster_timing_every_turn()
}

fn cluster_untimed(_: ()) -> Cluster {
    raft_loop::cluster_untimed()
}

fn after_run(recording: bool) -> (Cluster, Vec<u8>) {
    let mut cluster = raft_loop::cluster(recording);
    raft_loop::run(&mut cluster, Shape::PerTurn);
    (cluster, Vec::with_capacity(1 << 20))
}

#[library_benchmark]
#[bench::disabled(args = (false), setup = cluster)]
#[bench::instrumented(args = (true), setup = cluster)]
#[bench::instrumented_every_turn(args = (()), setup = cluster_timing_every_turn)]
#[bench::instrumented_untimed(args = (()), setup = cluster_untimed)]
fn one_per_turn(mut cluster: Cluster) -> Cluster {
    black_box(raft_loop::run(&mut cluster, Shape::PerTurn));
    cluster
}

#[library_benchmark]
#[bench::disabled(args = (false), setup = cluster)]
#[bench::instrumented(args = (true), setup = cluster)]
#[bench::instrumented_every_turn(args = (()), setup = cluster_timing_every_turn)]
#[bench::instrumented_untimed(args = (()), setup = cluster_untimed)]
fn batched_100(mut cluster: Cluster) -> Cluster {
    black_box(raft_loop::run(&mut cluster, Shape::Batched));
    cluster
}

// Saturation (`Shape::Saturated`): about as few messages and turns per proposal as the real node
// there, whose overhead bound this shape gives.
#[library_benchmark]
#[bench::disabled(args = (false), setup = cluster)]
#[bench::instrumented(args = (true), setup = cluster)]
#[bench::instrumented_untimed(args = (()), setup = cluster_untimed)]
fn saturated_1000(mut cluster: Cluster) -> Cluster {
    black_box(raft_loop::run(&mut cluster, Shape::Saturated));
    cluster
}

fn replaying(library: Library, shape: Shape) -> (Cluster, Replay) {
    (raft_loop::cluster(false), Replay::new(library, raft_loop::op_mix(shape)))
}

#[library_benchmark]
#[bench::replay_raft_metrics(args = (Library::RaftMetrics, Shape::PerTurn), setup = replaying)]
#[bench::replay_prometheus_client(args = (Library::PrometheusClient, Shape::PerTurn), setup = replaying)]
#[bench::replay_prometheus(args = (Library::Prometheus, Shape::PerTurn), setup = replaying)]
fn one_per_turn_replay(input: (Cluster, Replay)) -> (Cluster, Replay) {
    let (mut cluster, mut replay) = input;
    black_box(raft_loop::run_replay(&mut cluster, Shape::PerTurn, &mut replay));
    (cluster, replay)
}

#[library_benchmark]
#[bench::replay_raft_metrics(args = (Library::RaftMetrics, Shape::Batched), setup = replaying)]
#[bench::replay_prometheus_client(args = (Library::PrometheusClient, Shape::Batched), setup = replaying)]
#[bench::replay_prometheus(args = (Library::Prometheus, Shape::Batched), setup = replaying)]
fn batched_100_replay(input: (Cluster, Replay)) -> (Cluster, Replay) {
    let (mut cluster, mut replay) = input;
    black_box(raft_loop::run_replay(&mut cluster, Shape::Batched, &mut replay));
    (cluster, replay)
}

fn idle_cluster(recording: bool) -> Cluster {
    raft_loop::idle_cluster(recording)
}

#[library_benchmark]
#[bench::disabled(args = (false), setup = idle_cluster)]
#[bench::instrumented(args = (true), setup = idle_cluster)]
fn idle_ticks(mut cluster: Cluster) -> Cluster {
    black_box(raft_loop::run_idle(&mut cluster));
    cluster
}

#[library_benchmark]
#[bench::instrumented(args = (true), setup = after_run)]
fn scrape_3_nodes(input: (Cluster, Vec<u8>)) -> (Cluster, Vec<u8>) {
    let (cluster, mut buf) = input;
    black_box(raft_loop::scrape_all(&cluster, &mut buf));
    (cluster, buf)
}

library_benchmark_group!(
    name = raft_loop_instructions;
    benchmarks = idle_ticks, one_per_turn, batched_100, saturated_1000, one_per_turn_replay, batched_100_replay, scrape_3_nodes
);

// mimalloc purges freed pages on a timer (`purge_delay`, milliseconds): under callgrind a run
// sometimes crosses it inside the measured loop and counts the purge (about 53,000 instructions,
// 27 per proposal of `one_per_turn`, in one run of ten). Without purging every run of one binary
// counts the same instructions, in both variants alike.
main!(
    config = LibraryBenchmarkConfig::default().env("MIMALLOC_PURGE_DELAY", "-1");
    library_benchmark_groups = raft_loop_instructions
);
