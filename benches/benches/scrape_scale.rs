//! Scrape cost against the number of partitions: the `scrape_1000_partitions` workload (22
//! metrics per partition, every series non-zero, a reused buffer) at 100, 1,000 and 10,000
//! partitions, every implementation (ids `<implementation>_<partitions>`); and the built-in Raft
//! schema written as a running node writes it (`raft_metrics_benches::raft_schema`, 1 % of the
//! partitions unhealthy) in each export mode, at the same sizes and 50 000 in the compact modes
//! (group `raft_schema_scrape`, ids `<mode>_<partitions>`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use raft_metrics_benches::partitions::Impl;
use raft_metrics_benches::raft_schema;

fn scrape_partitions(c: &mut Criterion) {
    let mut g = c.benchmark_group("scrape_partitions");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for partitions in [100u32, 1_000, 10_000] {
        for imp in Impl::SCRAPE {
            let mut setup = imp.build(partitions);
            g.bench_function(format!("{}_{partitions}", imp.name()), |b| b.iter(|| black_box(setup.scrape().len())));
        }
    }
    g.finish();
}

fn raft_schema_scrape(c: &mut Criterion) {
    let mut g = c.benchmark_group("raft_schema_scrape");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for (mode, aggregation) in raft_schema::MODES {
        for &partitions in raft_schema::sizes(aggregation) {
            let registry = raft_schema::populate(aggregation, partitions);
            let mut buf = Vec::new();
            g.bench_function(format!("{mode}_{partitions}"), |b| {
                b.iter(|| black_box(raft_schema::scrape(&registry, &mut buf)));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scrape_partitions, raft_schema_scrape);
criterion_main!(benches);
