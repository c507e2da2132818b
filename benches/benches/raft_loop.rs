//! The raft-rs ready loop with every `raft-metrics-raftrs` integration point recording vs the
//! identical loop with recording off, in one run: a 3-node in-process cluster (deterministic,
//! single-threaded, no sleeps) driving 2,000 proposals of 16 bytes, at three load shapes (one
//! proposal per turn; 100 per turn; 1,000 per settle, which fills raft-rs's replication window
//! as at saturation: `raft_loop::Shape`). One iteration is the whole
//! 2,000-proposal run on a fresh cluster with an elected leader (set-up and drop untimed). Overhead % =
//! (instrumented − disabled) / disabled, computed from criterion's estimates by `benches/run.sh`.
//!
//! `instrumented_every_turn` and `instrumented_untimed`: the instrumented loop timing every turn
//! (`Sampling::All`) or none (`Sampling::Off`: the exact counts, gauges and sizes alone).
//!
//! `replay_<library>`: the disabled loop plus, after each settle, the instrumented loop's metric
//! operations (`benches/op_mix.txt`) through that library's pre-resolved handles: the same
//! recording work in raft-metrics and in its peers, in the same run.
//!
//! `scrape_3_nodes` times one full scrape of the 3 nodes' registries after an instrumented run
//! (the scrape-interval budget: scrape time × loop time / 15 s).

use std::hint::black_box;

/// mimalloc, as in `raft_loop_instructions.rs` (see there): neither variant depends on glibc
/// growing a vector in place.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use raft_metrics_benches::raft_loop::{
    cluster, cluster_timing_every_turn, cluster_untimed, op_mix, run, run_replay, scrape_all, Library, Replay, Shape,
};
use raft_metrics_raftrs::sim::Cluster;

/// Builds a fresh cluster for one iteration.
type MakeCluster = fn() -> Cluster;

fn raft_loop(c: &mut Criterion) {
    for shape in Shape::ALL {
        // The two variants do the same raft-rs work: same commits, same final log.
        let (mut on, mut off) = (cluster(true), cluster(false));
        assert_eq!(run(&mut on, shape), run(&mut off, shape), "recording changed the raft-rs run");
        let mut g = c.benchmark_group(format!("raft_loop_{}", shape.name()));
        let variants: [(&str, MakeCluster); 4] = [
            ("disabled", || cluster(false)),
            ("instrumented", || cluster(true)),
            ("instrumented_every_turn", cluster_timing_every_turn),
            ("instrumented_untimed", cluster_untimed),
        ];
        for (id, make) in variants {
            if shape == Shape::Saturated && id == "instrumented_every_turn" {
                continue; // what sampling saves is shown by the other shapes
            }
            g.bench_function(id, |b| {
                b.iter_batched(
                    make,
                    |mut cluster| {
                        black_box(run(&mut cluster, shape));
                        cluster
                    },
                    BatchSize::PerIteration,
                );
            });
        }
        for library in Library::ALL {
            g.bench_function(library.name(), |b| {
                b.iter_batched(
                    || (cluster(false), Replay::new(library, op_mix(shape))),
                    |(mut cluster, mut replay)| {
                        black_box(run_replay(&mut cluster, shape, &mut replay));
                        (cluster, replay)
                    },
                    BatchSize::PerIteration,
                );
            });
        }
        g.finish();
    }
}

fn scrape(c: &mut Criterion) {
    let mut cluster = cluster(true);
    run(&mut cluster, Shape::PerTurn);
    let mut buf = Vec::new();
    eprintln!("raft_loop_scrape/scrape_3_nodes: {} bytes per scrape of 3 nodes", scrape_all(&cluster, &mut buf));
    let mut g = c.benchmark_group("raft_loop_scrape");
    g.bench_function("scrape_3_nodes", |b| b.iter(|| black_box(scrape_all(&cluster, &mut buf))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = raft_loop, scrape
}
criterion_main!(benches);
