//! One guide call repeated 10^6 times, for `benches/guide_calls_ab.sh`: built against two
//! revisions of raft-metrics and counted under callgrind, so a change to the guide API's
//! signatures can be compared instruction by instruction. Uses only the API both sides have
//! (`u32` partitions, `u64` values, `f64` milliseconds).

use std::hint::black_box;

const CALLS: u64 = 1_000_000;
const PARTITIONS: u32 = 4096;

fn main() {
    let registry = raft_metrics::Registry::new();
    let metrics = raft_metrics::raft::RaftMetrics::with_registry(&registry).expect("fresh registry");
    for p in 0..PARTITIONS {
        metrics.set_commit_index("orders", p, 1u64);
    }
    match std::env::args().nth(1).as_deref() {
        // The set-up alone, subtracted from the others.
        Some("none") => {}
        Some("set_commit_index_cache_hit") => {
            for v in 0..CALLS {
                metrics.set_commit_index(black_box("orders"), black_box(7u32), v);
            }
        }
        Some("set_commit_index_cache_miss") => {
            let mut p = 0u32;
            for v in 0..CALLS {
                p = (p + 97) % PARTITIONS;
                metrics.set_commit_index(black_box("orders"), p, v);
            }
        }
        Some("record_commit_latency_cache_hit") => {
            for _ in 0..CALLS {
                metrics.record_commit_latency(black_box("orders"), black_box(7u32), black_box(3.2f64), 4u64);
            }
        }
        other => panic!("unknown case {other:?}"),
    }
}
