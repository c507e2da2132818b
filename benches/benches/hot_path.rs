//! Recording costs, raft-metrics against its peers, every implementation on the same operation in
//! the same run. See `benches/README.md` for what each group measures.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use raft_metrics::{Buckets, Counter, MetricInfo, Registry, ShardedCounter, Unit};
use raft_metrics_benches::labels::{
    dense_peer_set, dense_set, sparse_set, DenseLabels, DensePeerLabels, PartitionNo, PcLabels, PcOwnedLabels,
    PcPeerLabels, SparseLabels,
};
use raft_metrics_benches::partitions::metrics_recorder;
use raft_metrics_benches::{bucket_bounds, BUCKETS, OBSERVATIONS, PARTITIONS, TOPIC};

/// The partition of the labelled benches.
const PARTITION: u32 = 7;

fn raft_buckets() -> Buckets {
    Buckets::exponential(0.0005, 2.0, BUCKETS).expect("valid buckets")
}

fn prom_histogram_opts(name: &str) -> prometheus::HistogramOpts {
    prometheus::HistogramOpts::new(name, "Benchmark histogram.").buckets(bucket_bounds().to_vec())
}

fn counter_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc");

    let atomic = AtomicU64::new(0);
    g.bench_function("raw_atomic_fetch_add", |b| {
        b.iter(|| {
            black_box(&atomic).fetch_add(1, Ordering::Relaxed);
        });
    });

    let mut plain = 0u64;
    g.bench_function("plain_u64_add", |b| b.iter(|| *black_box(&mut plain) += 1));

    let registry = Registry::new();
    let shared = registry.counter("bench_counter_total", "Benchmark counter.").expect("register");
    g.bench_function("raft_metrics_shared", |b| b.iter(|| black_box(&shared).inc()));

    let family = registry
        .register_with::<Counter, 2>(
            MetricInfo::new("bench_exclusive_total", "Benchmark counter."),
            ["topic", "partition"],
            (),
        )
        .expect("register");
    let exclusive = family.claim((TOPIC, PARTITION + 1)).expect("claim");
    g.bench_function("raft_metrics_exclusive_local", |b| {
        b.iter(|| black_box(&exclusive).local().inc());
    });

    let prom = prometheus::IntCounter::new("bench_counter_total", "Benchmark counter.").expect("prometheus counter");
    g.bench_function("prometheus", |b| b.iter(|| black_box(&prom).inc()));

    let pc: prometheus_client::metrics::counter::Counter = Default::default();
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            black_box(&pc).inc();
        });
    });

    let recorder = metrics_recorder();
    let mc = metrics::with_local_recorder(&recorder, || metrics::counter!("bench_counter_total"));
    g.bench_function("metrics_exporter_prometheus", |b| {
        b.iter(|| black_box(&mc).increment(1));
    });

    let measured = measured::Counter::new();
    g.bench_function("measured", |b| b.iter(|| black_box(&measured).inc()));

    g.finish();
}

/// Benches `observe` fed with [`OBSERVATIONS`] in turn.
fn bench_observe(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, observe: impl Fn(f64)) {
    let values = black_box(OBSERVATIONS);
    g.bench_function(name, |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % values.len();
            observe(values[i]);
        });
    });
}

fn histogram_observe(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_observe");

    let registry = Registry::new();
    let shared = registry
        .histogram::<BUCKETS, 0>(
            MetricInfo::new("bench_latency_seconds", "Benchmark histogram.").with_unit(Unit::Seconds),
            [],
            raft_buckets(),
        )
        .expect("register")
        .bind(());
    bench_observe(&mut g, "raft_metrics_shared", |v| black_box(&shared).observe(v));

    let exclusive = registry
        .histogram::<BUCKETS, 0>(
            MetricInfo::new("bench_exclusive_seconds", "Benchmark histogram.").with_unit(Unit::Seconds),
            [],
            raft_buckets(),
        )
        .expect("register")
        .claim(())
        .expect("claim");
    bench_observe(&mut g, "raft_metrics_exclusive_local", |v| {
        black_box(&exclusive).local().observe(v);
    });

    let prom =
        prometheus::Histogram::with_opts(prom_histogram_opts("bench_latency_seconds")).expect("prometheus histogram");
    bench_observe(&mut g, "prometheus", |v| black_box(&prom).observe(v));

    let pc = prometheus_client::metrics::histogram::Histogram::new(bucket_bounds());
    bench_observe(&mut g, "prometheus_client", |v| black_box(&pc).observe(v));

    // The exporter's histogram handle appends raw samples to a lock-free queue; bucketing happens
    // later, when `run_upkeep` (or a render) drains the queue. Two figures: the record call alone
    // (upkeep run untimed after each sample, so the queue does not grow without bound), and the
    // record call plus its share of the upkeep that buckets it.
    let recorder = metrics_recorder();
    let handle = recorder.handle();
    let mh = metrics::with_local_recorder(&recorder, || metrics::histogram!("bench_latency_seconds"));
    let values = black_box(OBSERVATIONS);
    for (name, upkeep_timed) in
        [("metrics_exporter_prometheus", false), ("metrics_exporter_prometheus_incl_upkeep", true)]
    {
        g.bench_function(name, |b| {
            let mut i = 0;
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    i = (i + 1) % values.len();
                    black_box(&mh).record(values[i]);
                }
                let recorded = start.elapsed();
                handle.run_upkeep();
                if upkeep_timed {
                    start.elapsed()
                } else {
                    recorded
                }
            });
        });
    }

    let measured = measured::Histogram::<BUCKETS>::with_metadata(
        measured::metric::histogram::Thresholds::with_buckets(bucket_bounds()),
    );
    bench_observe(&mut g, "measured", |v| black_box(&measured).observe(v));

    g.finish();
}

fn labelled_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("labelled_inc");
    let labels = ["topic", "partition"];

    // Every closure resolves `{topic="orders", partition=7}` from a `&str` and a `u32` on every
    // iteration; each series was created beforehand, so all measure the cache-hit path.

    let registry = Registry::new();
    let family = registry
        .register_with::<Counter, 2>(MetricInfo::new("bench_labelled_total", "Benchmark counter."), labels, ())
        .expect("register");
    family.get((TOPIC, PARTITION)).inc();
    g.bench_function("raft_metrics", |b| {
        b.iter(|| family.get((black_box(TOPIC), black_box(PARTITION))).inc());
    });

    let prom =
        prometheus::IntCounterVec::new(prometheus::Opts::new("bench_labelled_total", "Benchmark counter."), &labels)
            .expect("prometheus counter vec");
    prom.with_label_values(&[TOPIC, "7"]).inc();
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            let mut partition = itoa::Buffer::new();
            prom.with_label_values(&[black_box(TOPIC), partition.format(black_box(PARTITION))]).inc();
        });
    });

    let pc =
        prometheus_client::metrics::family::Family::<PcLabels, prometheus_client::metrics::counter::Counter>::default();
    pc.get_or_create(&PcLabels { topic: TOPIC, partition: PARTITION }).inc();
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            pc.get_or_create(&PcLabels { topic: black_box(TOPIC), partition: black_box(PARTITION) }).inc();
        });
    });

    let pc_owned = prometheus_client::metrics::family::Family::<
        PcOwnedLabels,
        prometheus_client::metrics::counter::Counter,
    >::default();
    pc_owned.get_or_create(&PcOwnedLabels { topic: TOPIC.to_owned(), partition: PARTITION }).inc();
    g.bench_function("prometheus_client_owned_topic", |b| {
        b.iter(|| {
            pc_owned
                .get_or_create(&PcOwnedLabels { topic: black_box(TOPIC).to_owned(), partition: black_box(PARTITION) })
                .inc();
        });
    });

    let recorder = metrics_recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("bench_labelled_total", "topic" => TOPIC, "partition" => "7").increment(1);
        g.bench_function("metrics_exporter_prometheus", |b| {
            b.iter(|| {
                let mut partition = itoa::Buffer::new();
                metrics::counter!(
                    "bench_labelled_total",
                    "topic" => black_box(TOPIC),
                    "partition" => partition.format(black_box(PARTITION)).to_owned()
                )
                .increment(1);
            });
        });
    });

    let dense = measured::CounterVec::with_label_set(dense_set(&[TOPIC], PARTITIONS));
    dense.inc(DenseLabels { topic: TOPIC, partition: PartitionNo(PARTITION) });
    g.bench_function("measured_dense", |b| {
        b.iter(|| {
            dense.inc(DenseLabels { topic: black_box(TOPIC), partition: PartitionNo(black_box(PARTITION)) });
        });
    });

    let sparse = measured::CounterVec::with_label_set(sparse_set(PARTITIONS));
    sparse.inc(SparseLabels { topic: TOPIC, partition: PartitionNo(PARTITION) });
    g.bench_function("measured_sparse", |b| {
        b.iter(|| {
            sparse.inc(SparseLabels { topic: black_box(TOPIC), partition: PartitionNo(black_box(PARTITION)) });
        });
    });

    g.finish();
}

/// `labelled_inc` as a node's Raft thread makes the calls: across all its partitions, here 1 024
/// cycled in a fixed order that visits every one before repeating (a stride coprime with the
/// count), each series created beforehand. With one repeated label set every implementation
/// keeps its lookup in the CPU's L1 cache; this is the lookup a node with many partitions pays.
fn labelled_inc_cycled(c: &mut Criterion) {
    const CYCLED: u32 = 1024;
    let mut g = c.benchmark_group("labelled_inc_1024_partitions");
    let labels = ["topic", "partition"];
    let next = |p: &mut u32| {
        *p = (*p + 97) % CYCLED;
        *p
    };

    let registry = Registry::new();
    let family = registry
        .register_with::<Counter, 2>(MetricInfo::new("bench_labelled_total", "Benchmark counter."), labels, ())
        .expect("register");
    let prom =
        prometheus::IntCounterVec::new(prometheus::Opts::new("bench_labelled_total", "Benchmark counter."), &labels)
            .expect("prometheus counter vec");
    let pc =
        prometheus_client::metrics::family::Family::<PcLabels, prometheus_client::metrics::counter::Counter>::default();
    let recorder = metrics_recorder();
    let dense = measured::CounterVec::with_label_set(dense_set(&[TOPIC], CYCLED));
    let sparse = measured::CounterVec::with_label_set(sparse_set(CYCLED));
    for p in 0..CYCLED {
        family.get((TOPIC, p)).inc();
        prom.with_label_values(&[TOPIC, itoa::Buffer::new().format(p)]).inc();
        pc.get_or_create(&PcLabels { topic: TOPIC, partition: p }).inc();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("bench_labelled_total", "topic" => TOPIC, "partition" => p.to_string()).increment(1);
        });
        dense.inc(DenseLabels { topic: TOPIC, partition: PartitionNo(p) });
        sparse.inc(SparseLabels { topic: TOPIC, partition: PartitionNo(p) });
    }

    let mut p = 0;
    g.bench_function("raft_metrics", |b| b.iter(|| family.get((black_box(TOPIC), next(&mut p))).inc()));
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            let mut partition = itoa::Buffer::new();
            prom.with_label_values(&[black_box(TOPIC), partition.format(next(&mut p))]).inc();
        });
    });
    g.bench_function("prometheus_client", |b| {
        b.iter(|| pc.get_or_create(&PcLabels { topic: black_box(TOPIC), partition: next(&mut p) }).inc());
    });
    metrics::with_local_recorder(&recorder, || {
        g.bench_function("metrics_exporter_prometheus", |b| {
            b.iter(|| {
                let mut partition = itoa::Buffer::new();
                metrics::counter!(
                    "bench_labelled_total",
                    "topic" => black_box(TOPIC),
                    "partition" => partition.format(next(&mut p)).to_owned()
                )
                .increment(1);
            });
        });
    });
    g.bench_function("measured_dense", |b| {
        b.iter(|| dense.inc(DenseLabels { topic: black_box(TOPIC), partition: PartitionNo(next(&mut p)) }));
    });
    g.bench_function("measured_sparse", |b| {
        b.iter(|| sparse.inc(SparseLabels { topic: black_box(TOPIC), partition: PartitionNo(next(&mut p)) }));
    });
    g.finish();
}

/// `labelled_inc_cycled` for the label sets of a partition's peers, `(topic, partition, peer)`,
/// as the guide's per-follower calls resolve them (`set_follower_lag_entries`): two followers of
/// each of 1 024 partitions, the 2 048 label sets cycled as there, a gauge set on each. Three
/// values are past the per-thread rows (one or two values ending in an integer), so
/// raft-metrics answers from the per-thread cache. The guide's call is timed beside
/// `Family::get` and the peers; measured's sparse vec and metrics-exporter-prometheus are left
/// out, the slowest two in every run of the two-value group.
fn labelled_set_cycled_by_peer(c: &mut Criterion) {
    const PARTITIONS: u32 = 1024;
    /// Each partition's followers are nodes 2 and 3.
    const FIRST_PEER: u32 = 2;
    const CYCLED: u32 = 2 * PARTITIONS;
    let mut g = c.benchmark_group("labelled_set_1024_partitions_by_peer");
    let labels = ["topic", "partition", "peer"];
    // A stride coprime with the cycle visits every (partition, peer) before repeating.
    let next = |i: &mut u32| {
        *i = (*i + 97) % CYCLED;
        (*i >> 1, FIRST_PEER + (*i & 1))
    };

    let registry = Registry::new();
    let family = registry
        .register_with::<raft_metrics::Gauge, 3>(MetricInfo::new("bench_peer_lag", "Benchmark gauge."), labels, ())
        .expect("register");
    let metrics = raft_metrics::raft::RaftMetrics::with_registry(&registry).expect("register");
    let prom = prometheus::IntGaugeVec::new(prometheus::Opts::new("bench_peer_lag", "Benchmark gauge."), &labels)
        .expect("prometheus gauge vec");
    let pc =
        prometheus_client::metrics::family::Family::<PcPeerLabels, prometheus_client::metrics::gauge::Gauge>::default();
    let dense = measured::GaugeVec::dense_with_label_set(dense_peer_set(&[TOPIC], PARTITIONS, FIRST_PEER + 2));
    for i in 0..CYCLED {
        let (p, peer) = (i >> 1, FIRST_PEER + (i & 1));
        family.get((TOPIC, p, peer)).set(1);
        metrics.set_follower_lag_entries(TOPIC, p, u64::from(peer), 1u64);
        let (mut partition, mut node) = (itoa::Buffer::new(), itoa::Buffer::new());
        prom.with_label_values(&[TOPIC, partition.format(p), node.format(peer)]).set(1);
        pc.get_or_create(&PcPeerLabels { topic: TOPIC, partition: p, peer: u64::from(peer) }).set(1);
        dense.set(DensePeerLabels { topic: TOPIC, partition: PartitionNo(p), peer: PartitionNo(peer) }, 1);
    }

    let (mut i, mut v) = (0, 0i64);
    g.bench_function("raft_metrics", |b| {
        b.iter(|| {
            let (p, peer) = next(&mut i);
            v += 1;
            family.get((black_box(TOPIC), p, peer)).set(v);
        });
    });
    g.bench_function("raft_metrics_guide_call", |b| {
        b.iter(|| {
            let (p, peer) = next(&mut i);
            v += 1;
            metrics.set_follower_lag_entries(black_box(TOPIC), p, u64::from(peer), v.unsigned_abs());
        });
    });
    g.bench_function("prometheus", |b| {
        b.iter(|| {
            let (p, peer) = next(&mut i);
            v += 1;
            let (mut partition, mut node) = (itoa::Buffer::new(), itoa::Buffer::new());
            prom.with_label_values(&[black_box(TOPIC), partition.format(p), node.format(peer)]).set(v);
        });
    });
    g.bench_function("prometheus_client", |b| {
        b.iter(|| {
            let (p, peer) = next(&mut i);
            v += 1;
            pc.get_or_create(&PcPeerLabels { topic: black_box(TOPIC), partition: p, peer: u64::from(peer) }).set(v);
        });
    });
    g.bench_function("measured_dense", |b| {
        b.iter(|| {
            let (p, peer) = next(&mut i);
            v += 1;
            dense.set(
                DensePeerLabels { topic: black_box(TOPIC), partition: PartitionNo(p), peer: PartitionNo(peer) },
                v,
            );
        });
    });
    g.finish();
}

/// Runs `op` `iters` times on each of two threads released together; returns the wall time from
/// the first thread's start to the last thread's end (thread spawning is not timed).
fn two_threads(iters: u64, op: &(impl Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("two spans");
    let end = spans.iter().map(|s| s.1).max().expect("two spans");
    end - start
}

fn bench_contended(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, op: impl Fn() + Sync) {
    g.bench_function(name, |b| b.iter_custom(|iters| two_threads(iters, &op)));
}

fn contended_inc_2_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended_inc_2_threads");
    // One criterion iteration = one increment on each of the two threads: the reported time is
    // the wall time per increment as each thread sees it, and the throughput counts both.
    g.throughput(Throughput::Elements(2));

    let atomic = AtomicU64::new(0);
    bench_contended(&mut g, "raw_atomic_fetch_add", || {
        black_box(&atomic).fetch_add(1, Ordering::Relaxed);
    });

    let registry = Registry::new();
    let sharded = registry
        .register_with::<ShardedCounter, 0>(MetricInfo::new("bench_sharded_total", "Benchmark counter."), [], ())
        .expect("register")
        .bind(());
    bench_contended(&mut g, "raft_metrics_sharded", || black_box(&sharded).inc());

    let shared = registry.counter("bench_counter_total", "Benchmark counter.").expect("register");
    bench_contended(&mut g, "raft_metrics_shared", || black_box(&shared).inc());

    let prom = prometheus::IntCounter::new("bench_counter_total", "Benchmark counter.").expect("prometheus counter");
    bench_contended(&mut g, "prometheus", || black_box(&prom).inc());

    let pc: prometheus_client::metrics::counter::Counter = Default::default();
    bench_contended(&mut g, "prometheus_client", || {
        black_box(&pc).inc();
    });

    let recorder = metrics_recorder();
    let mc = metrics::with_local_recorder(&recorder, || metrics::counter!("bench_counter_total"));
    bench_contended(&mut g, "metrics_exporter_prometheus", || {
        black_box(&mc).increment(1);
    });

    let measured = measured::Counter::new();
    bench_contended(&mut g, "measured", || black_box(&measured).inc());

    g.finish();
}

/// The integration guide's string-label calls (`RaftMetrics::set_commit_index`, …) as an
/// application without pre-bound handles makes them, every series created beforehand: one label
/// set repeated; a node's thread walking 1 024 or 4 096 partitions in a fixed cycle (each visited
/// once per cycle; the calling thread's lookup cache holds them all); and 80 000 partitions
/// cycled, more than that cache holds (32 768 label sets), so every call resolves through the
/// family's lock-free table with cold memory.
fn guide_calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("guide_calls");
    let registry = Registry::new();
    let metrics = raft_metrics::raft::RaftMetrics::with_registry(&registry).expect("register");
    const MISS_PARTITIONS: u32 = 80_000;
    for p in 0..MISS_PARTITIONS {
        metrics.set_commit_index(TOPIC, p, 1);
    }
    let mut v = 0u64;
    g.bench_function("set_commit_index_cache_hit", |b| {
        b.iter(|| {
            v += 1;
            metrics.set_commit_index(black_box(TOPIC), black_box(PARTITION), v);
        });
    });
    let mut p = 0u32;
    // The cycle and stride are constants, as in `labelled_inc_1024_partitions` where the peers
    // run: a modulus read at run time is a division on the partitions' dependency chain, which
    // the peers' loop does not pay (0.4 to 0.5 ns more per call at 1 024 partitions, 2026-12-05).
    fn cycled<const CYCLE: u32, const STRIDE: u32>(
        g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        name: &str,
        metrics: &raft_metrics::raft::RaftMetrics,
        p: &mut u32,
        v: &mut u64,
    ) {
        g.bench_function(name, |b| {
            b.iter(|| {
                // A stride coprime with the cycle visits every partition before repeating.
                *p = (*p + STRIDE) % CYCLE;
                *v += 1;
                metrics.set_commit_index(black_box(TOPIC), *p, *v);
            });
        });
    }
    cycled::<1024, 97>(&mut g, "set_commit_index_1024_partitions", &metrics, &mut p, &mut v);
    cycled::<4096, 97>(&mut g, "set_commit_index_4096_partitions", &metrics, &mut p, &mut v);
    cycled::<MISS_PARTITIONS, 7919>(&mut g, "set_commit_index_cache_miss", &metrics, &mut p, &mut v);
    g.bench_function("record_commit_latency_cache_hit", |b| {
        b.iter(|| metrics.record_commit_latency(black_box(TOPIC), black_box(PARTITION), black_box(3.2), 4));
    });
    g.finish();
}

criterion_group!(
    benches,
    counter_inc,
    histogram_observe,
    labelled_inc,
    labelled_inc_cycled,
    labelled_set_cycled_by_peer,
    contended_inc_2_threads,
    guide_calls
);
criterion_main!(benches);
