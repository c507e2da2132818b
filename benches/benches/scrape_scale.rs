//! Scrape cost against the number of partitions: the `scrape_1000_partitions` workload (22
//! metrics per partition, every series non-zero, a reused buffer) at 100, 1,000 and 10,000
//! partitions, every implementation. Ids are `<implementation>_<partitions>`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use raft_metrics_benches::partitions::Impl;

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

criterion_group!(benches, scrape_partitions);
criterion_main!(benches);
