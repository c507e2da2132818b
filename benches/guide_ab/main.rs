//! One guide call repeated (10^6 times, or the count given second), for
//! `benches/guide_calls_ab.sh`: built against two revisions of raft-metrics, counted under
//! callgrind and timed, so a change to the guide API's signatures can be compared call by call.
//! Uses only the API both sides have (`u32` partitions, `u64` values, `f64` milliseconds).
//!
//! The cases: one label set repeated (`cache_hit`); a node's thread walking 1 024 or 4 096
//! partitions in a fixed cycle; the follower-lag and node-state calls across 1 024 partitions
//! (their label sets end in a node id); `Family::get` alone across 1 024 partitions; and 80 000
//! partitions cycled, more label sets than the per-thread cache holds, so that every call misses
//! it and resolves through the family's table.

use std::hint::black_box;

/// Registered up front, for every case, so that the `none` run subtracts the same set-up.
const PARTITIONS: u32 = 80_000;

fn main() {
    let registry = raft_metrics::Registry::new();
    let metrics = raft_metrics::raft::RaftMetrics::with_registry(&registry).expect("fresh registry");
    // `GUIDE_AB_CREATED=4096` creates only the partitions the cycles use, so the thread's lookup
    // cache is never full (the default's 80 000 fill it; the cache-miss case needs them).
    let created: u32 = std::env::var("GUIDE_AB_CREATED").map_or(PARTITIONS, |n| n.parse().expect("a partition count"));
    for p in 0..created {
        metrics.set_commit_index("orders", p, 1u64);
    }
    let family = registry
        .register_with::<raft_metrics::Counter, 2>(
            raft_metrics::MetricInfo::new("guide_ab_labelled_total", "Family::get cycling partitions."),
            ["topic", "partition"],
            (),
        )
        .expect("fresh name");
    for p in 0..1024u32 {
        family.get(("orders", p)).inc();
    }
    let calls: u64 = std::env::args().nth(2).map_or(1_000_000, |n| n.parse().expect("a call count"));
    let start = std::time::Instant::now();
    match std::env::args().nth(1).as_deref() {
        // The set-up alone, subtracted from the others.
        Some("none") => {}
        Some("set_commit_index_cache_hit") => {
            for v in 0..calls {
                metrics.set_commit_index(black_box("orders"), black_box(7u32), v);
            }
        }
        Some(case @ ("set_commit_index_1024_partitions" | "set_commit_index_4096_partitions")) => {
            let cycle = if case.contains("1024") { 1024 } else { 4096 };
            let mut p = 0u32;
            for v in 0..calls {
                // A stride coprime with the cycle visits every partition before repeating.
                p = (p + 97) % cycle;
                metrics.set_commit_index(black_box("orders"), p, v);
            }
        }
        // The calls on a partition's peers and replicas (label sets ending in a node id, under
        // a (topic, partition) that changes every call).
        Some("set_follower_lag_entries_1024_partitions") => {
            let mut p = 0u32;
            for v in 0..calls {
                p = (p + 97) % 1024;
                metrics.set_follower_lag_entries(black_box("orders"), p, 2u64 + v % 2, v);
            }
        }
        Some("set_node_state_1024_partitions") => {
            let mut p = 0u32;
            for _ in 0..calls {
                p = (p + 97) % 1024;
                metrics.set_node_state(black_box("orders"), p, 1u64, 3u8);
            }
        }
        // The lookup alone, as `hot_path`'s `labelled_inc_1024_partitions` times it.
        Some("family_get_1024_partitions") => {
            let mut p = 0u32;
            for _ in 0..calls {
                p = (p + 97) % 1024;
                family.get((black_box("orders"), p)).inc();
            }
        }
        Some("set_commit_index_cache_miss") => {
            let mut p = 0u32;
            for v in 0..calls {
                p = (p + 7919) % PARTITIONS;
                metrics.set_commit_index(black_box("orders"), p, v);
            }
        }
        Some("record_commit_latency_cache_hit") => {
            for _ in 0..calls {
                metrics.record_commit_latency(black_box("orders"), black_box(7u32), black_box(3.2f64), 4u64);
            }
        }
        other => panic!("unknown case {other:?}"),
    }
    #[allow(clippy::cast_precision_loss)]
    let per_call = start.elapsed().as_nanos() as f64 / calls as f64;
    println!("{per_call:.2}");
}
