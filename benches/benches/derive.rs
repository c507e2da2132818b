//! What `#[derive(RaftMetrics)]` costs on the hot path: recording through a derived group's
//! handle against the same core cell bound directly, in the same run (target: ≤ 1.05×); and what
//! timing costs: an unsampled timer (two clock reads per event) against a sampled one (the clock
//! is read only for the sampled events).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use raft_metrics::{Buckets, Counter, Histogram, MetricInfo, RaftMetrics, Registry, Sampled, Unit};

/// A derived group shaped like a Raft partition's hot metrics.
#[derive(RaftMetrics)]
#[raft_metrics(namespace = "bench", labels(topic: &str, partition: u32))]
struct Partition {
    /// Entries committed.
    #[metric(counter)]
    commits: Counter,
    /// Time from proposal to commit.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0005, 2.0, 12))]
    commit_latency: Histogram<12>,
    /// Messages sent, sampled one in 16.
    #[metric(counter, sample = 16)]
    messages_sent: Sampled<Counter>,
    /// Time to apply a batch, every batch timed.
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0001, 2.0, 12))]
    apply_duration: Histogram<12>,
    /// Time to apply a batch, one batch in 16 timed (weighted 16).
    #[metric(histogram, unit = "seconds", buckets = exponential(0.0001, 2.0, 12), sample = 16)]
    apply_duration_sampled: Sampled<Histogram<12>>,
}

const VALUES: [f64; 4] = [0.0007, 0.003, 0.02, 0.4];

fn derived_vs_core(c: &mut Criterion) {
    let registry = Registry::new();
    let core_counter = registry
        .register_with::<Counter, 2>(MetricInfo::new("core_commits_total", "Core."), ["topic", "partition"], ())
        .expect("register")
        .bind(("orders", 7u32));
    let core_histogram = registry
        .histogram::<12, 2>(
            MetricInfo::new("core_latency_seconds", "Core.").with_unit(Unit::Seconds),
            ["topic", "partition"],
            Buckets::exponential(0.0005, 2.0, 12).expect("buckets"),
        )
        .expect("register")
        .bind(("orders", 7u32));
    let family = Partition::register(&registry).expect("register");
    let derived = family.bind(("orders", 7));
    let owned = family.claim(("orders", 8)).expect("claim");

    let mut g = c.benchmark_group("derived_counter_inc");
    g.bench_function("core_handle", |b| b.iter(|| black_box(&core_counter).inc()));
    g.bench_function("derived_handle", |b| b.iter(|| black_box(&derived).commits.inc()));
    g.bench_function("derived_single_writer", |b| b.iter(|| black_box(&owned).fields().commits.inc()));
    g.bench_function("derived_sampled_1_in_16", |b| b.iter(|| black_box(&derived).messages_sent.inc()));
    g.finish();

    let mut g = c.benchmark_group("derived_histogram_observe");
    let mut i = 0usize;
    g.bench_function("core_handle", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&core_histogram).observe(VALUES[i & 3]);
        });
    });
    g.bench_function("derived_handle", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&derived).commit_latency.observe(VALUES[i & 3]);
        });
    });
    g.bench_function("derived_single_writer", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(&owned).fields().commit_latency.observe(VALUES[i & 3]);
        });
    });
    g.finish();
}

fn timers(c: &mut Criterion) {
    let registry = Registry::new();
    let family = Partition::register(&registry).expect("register");
    let derived = family.bind(("orders", 7));
    let mut g = c.benchmark_group("timer");
    // A timer around nothing: the cost of timing itself.
    g.bench_function("unsampled", |b| b.iter(|| black_box(&derived).apply_duration.start_timer().stop()));
    g.bench_function("sampled_1_in_16", |b| {
        b.iter(|| black_box(&derived).apply_duration_sampled.start_timer().stop());
    });
    g.bench_function("instant_now_twice", |b| b.iter(|| black_box(std::time::Instant::now()).elapsed()));
    g.finish();
}

criterion_group!(benches, derived_vs_core, timers);
criterion_main!(benches);
