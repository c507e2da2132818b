//! One labelled increment repeated (10^6 times, or the count given second) on a thread cycling
//! 1 024 partitions, for `benches/peer_calls.sh`: raft-metrics' `Family::get` and the guide's
//! `set_commit_index` against prometheus's `with_label_values`, the fastest peer in time on
//! `hot_path`'s `labelled_inc_1024_partitions` in most runs. The same workload as that bench
//! (a stride of 97 visits every partition before repeating, every series created first), but
//! counted under callgrind as well as timed, so that the work per call can be compared apart
//! from how one build's layout and the machine's state move the times.

use std::hint::black_box;

const TOPIC: &str = "orders";
const PARTITIONS: u32 = 1024;

fn main() {
    let case = std::env::args().nth(1).unwrap_or_default();
    let calls: u64 = std::env::args().nth(2).map_or(1_000_000, |n| n.parse().expect("a call count"));
    let registry = raft_metrics::Registry::new();
    let labels = ["topic", "partition"];
    let info = raft_metrics::MetricInfo::new("bench_labelled_total", "Benchmark counter.");
    let family = registry.register_with::<raft_metrics::Counter, 2>(info, labels, ()).expect("register");
    let metrics = raft_metrics::raft::RaftMetrics::with_registry(&registry).expect("fresh registry");
    let opts = prometheus::Opts::new("bench_labelled_total", "Benchmark counter.");
    let prom = prometheus::IntCounterVec::new(opts, &labels).expect("prometheus counter vec");
    // Every case sets up all three, so that the `none` run subtracts the same set-up.
    for p in 0..PARTITIONS {
        family.get((TOPIC, p)).inc();
        metrics.set_commit_index(TOPIC, p, 1u64);
        prom.with_label_values(&[TOPIC, itoa::Buffer::new().format(p)]).inc();
    }
    let mut p = 0u32;
    let mut next = || {
        p = (p + 97) % PARTITIONS;
        p
    };
    let start = std::time::Instant::now();
    match case.as_str() {
        "none" => {}
        "raft_metrics_get" => {
            for _ in 0..calls {
                family.get((black_box(TOPIC), next())).inc();
            }
        }
        "raft_metrics_set_commit_index" => {
            for v in 0..calls {
                metrics.set_commit_index(black_box(TOPIC), next(), v);
            }
        }
        "prometheus_with_label_values" => {
            for _ in 0..calls {
                let mut partition = itoa::Buffer::new();
                prom.with_label_values(&[black_box(TOPIC), partition.format(next())]).inc();
            }
        }
        other => panic!("unknown case {other:?}"),
    }
    #[allow(clippy::cast_precision_loss)]
    let per_call = start.elapsed().as_nanos() as f64 / calls as f64;
    println!("{per_call:.2}");
}
