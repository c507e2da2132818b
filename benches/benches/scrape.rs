//! Full Prometheus text scrape of 1,000 partitions × (10 gauges + 10 counters + 2 histograms of
//! 12 buckets), labelled `topic` and `partition`, every series non-zero. Each iteration clears a
//! reused buffer and encodes everything into it.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use raft_metrics_benches::partitions::Impl;
use raft_metrics_benches::PARTITIONS;

fn scrape_1000_partitions(c: &mut Criterion) {
    let mut g = c.benchmark_group("scrape_1000_partitions");
    for imp in Impl::SCRAPE {
        let mut setup = imp.build(PARTITIONS);
        let bytes = setup.scrape().len();
        eprintln!("scrape_1000_partitions/{}: {bytes} bytes per scrape", imp.name());
        g.bench_function(imp.name(), |b| b.iter(|| black_box(setup.scrape().len())));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = scrape_1000_partitions
}
criterion_main!(benches);
