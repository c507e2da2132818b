//! Instruction counts (callgrind, via gungraun) of an openraft write loop: 2,000 writes through
//! a 3-node in-process `raft-metrics-openraft` cluster, every replica wrapped and watched
//! (`instrumented`, default timing: one append, apply or AppendEntries in 8 timed) vs the same
//! wrappers built with `Group::with_recording(false)`, forwarding only (`disabled`: recording's
//! cost, as `raft_loop_instructions` measures raft-rs's), and vs the same cluster with bare
//! stores and network and no watcher (`bare`: what the wrappers cost in all, their `async`
//! layers included), one write at a time and in batches of 100 concurrent writes.
//!
//! The cluster runs on a current-thread runtime (`ClusterConfig::threads: 0`), so openraft's
//! tasks, the wrappers and the watchers all run on the benchmark's thread, inside the measured
//! function. Set-up (cluster creation, election, 100 warm-up writes that bind every series) is
//! not counted, and openraft's timers are stopped (`Cluster::quiesce`: no heartbeats, no
//! election timeouts; the watchers' refresh is an hour), so only the writes move the cluster and
//! `disabled` and `instrumented` do the same work apart from recording. One binary holds both
//! openraft instantiations (bare and wrapped), as before: built alone, each counts about 1.3 to
//! 1.7 % fewer instructions (`benches/notes/openraft.md`, 2026-12-07 evening), so compare within a
//! run. `instrumented_log_size` also keeps `log_size_bytes` (`Group::with_log_size`, off by
//! default): what sizing every appended entry on every node costs; `instrumented_untimed` times
//! nothing (`Group::with_timing(Sampling::Off)`): the counts and gauges alone, what the timing
//! costs.
//!
//! Needs `cargo install gungraun-runner --version 0.20.0 --locked` (the version must match).

use std::hint::black_box;
use std::time::Duration;

/// mimalloc, in both variants, as in `raft_loop_instructions.rs` (glibc's in-place growth made
/// the heap layout, not the recording, differ between variants there).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use gungraun::{library_benchmark, library_benchmark_group, main, LibraryBenchmarkConfig};
use raft_metrics::Sampling;
use raft_metrics_openraft::sim::{Cluster, ClusterConfig};

/// Writes per measured run.
const WRITES: u64 = 2000;

/// The cluster as an application wires it by default (`Group::with_entry_size` for the RPC
/// bytes, no `Group::with_log_size`), recording or not (`Group::with_recording`).
fn cluster(recording: bool) -> Cluster {
    cluster_with(recording, false)
}

/// The cluster without the wrappers: openraft over the bare stores and network.
fn cluster_bare(_: ()) -> Cluster {
    start(ClusterConfig { wrapped: false, ..config(false, false) })
}

/// The instrumented cluster timing nothing: no append, apply or AppendEntries is timed.
fn cluster_untimed(_: ()) -> Cluster {
    start(ClusterConfig { timing: Sampling::Off, ..config(true, false) })
}

/// The instrumented cluster also keeping `log_size_bytes` (`Group::with_log_size`): what sizing
/// every appended entry costs.
fn cluster_with_log_size(_: ()) -> Cluster {
    cluster_with(true, true)
}

fn cluster_with(recording: bool, log_size: bool) -> Cluster {
    start(config(recording, log_size))
}

fn config(recording: bool, log_size: bool) -> ClusterConfig {
    ClusterConfig { threads: 0, recording, refresh: Duration::from_secs(3600), log_size, ..ClusterConfig::default() }
}

/// The cluster of `config`, quiesced after its warm-up writes.
fn start(config: ClusterConfig) -> Cluster {
    let cluster = Cluster::new(config).expect("cluster");
    cluster.quiesce();
    assert_eq!(cluster.propose_many(0, 0, 100), 100, "warm-up writes");
    cluster
}

/// `WRITES` writes to partition 0, `batch` at a time (each batch awaited before the next).
fn run(cluster: &Cluster, batch: u64) -> u64 {
    let mut written = 0;
    let mut key = 1_000_000;
    while written < WRITES {
        written += cluster.propose_many(0, key, batch);
        key += batch;
    }
    written
}

#[library_benchmark]
#[bench::bare(args = (()), setup = cluster_bare)]
#[bench::disabled(args = (false), setup = cluster)]
#[bench::instrumented(args = (true), setup = cluster)]
#[bench::instrumented_log_size(args = (()), setup = cluster_with_log_size)]
#[bench::instrumented_untimed(args = (()), setup = cluster_untimed)]
fn one_at_a_time(cluster: Cluster) -> Cluster {
    black_box(run(&cluster, 1));
    cluster
}

#[library_benchmark]
#[bench::bare(args = (()), setup = cluster_bare)]
#[bench::disabled(args = (false), setup = cluster)]
#[bench::instrumented(args = (true), setup = cluster)]
#[bench::instrumented_log_size(args = (()), setup = cluster_with_log_size)]
#[bench::instrumented_untimed(args = (()), setup = cluster_untimed)]
fn batched_100(cluster: Cluster) -> Cluster {
    black_box(run(&cluster, 100));
    cluster
}

library_benchmark_group!(
    name = openraft_loop_instructions;
    benchmarks = one_at_a_time, batched_100
);

// mimalloc purges freed pages on a timer (`purge_delay`, milliseconds): under callgrind a run
// sometimes crosses it inside the measured loop and counts the purge (about 53,000 instructions,
// 27 per proposal of `one_per_turn`, in one run of ten). Without purging every run of one binary
// counts the same instructions, in both variants alike.
main!(
    config = LibraryBenchmarkConfig::default().env("MIMALLOC_PURGE_DELAY", "-1");
    library_benchmark_groups = openraft_loop_instructions
);
