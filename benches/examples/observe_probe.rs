//! A million histogram observations of one kind, for `benches/observe_instructions.sh` to count
//! under callgrind: `observe_probe <loop|shared|weighted|local|prometheus_client>`. Each kind
//! runs in its own function (`run_<kind>`, the one callgrind collects), over the values and
//! buckets of `hot_path`'s `histogram_observe`; `loop` observes nothing, so that the script
//! subtracts the loop's own instructions. Instructions, not nanoseconds: the same count on any
//! machine state, where criterion's times move with the machine (`benches/notes/criterion.md`).

use std::hint::black_box;

use raft_metrics::{Buckets, Exclusive, Handle, Histogram, MetricInfo, Registry, Unit};
use raft_metrics_benches::{bucket_bounds, BUCKETS, OBSERVATIONS};

/// Observations per run.
const RUNS: usize = 1_000_000;

type Ours = Histogram<BUCKETS>;

#[inline(never)]
fn run_loop(values: &[f64; 16]) {
    for k in 0..RUNS {
        black_box(values[k % values.len()]);
    }
}

#[inline(never)]
fn run_shared(h: &Handle<Ours>, values: &[f64; 16]) {
    for k in 0..RUNS {
        black_box(h).observe(values[k % values.len()]);
    }
}

/// With a sampler's weight, as the Raft adapters observe their sampled durations: one the
/// compiler cannot see, as theirs.
#[inline(never)]
fn run_weighted(h: &Handle<Ours>, values: &[f64; 16]) {
    let weight = black_box(8);
    for k in 0..RUNS {
        black_box(h).observe_n(values[k % values.len()], weight);
    }
}

#[inline(never)]
fn run_local(h: &mut Exclusive<Ours>, values: &[f64; 16]) {
    for k in 0..RUNS {
        black_box(&mut *h).local().observe(values[k % values.len()]);
    }
}

#[inline(never)]
fn run_prometheus_client(h: &prometheus_client::metrics::histogram::Histogram, values: &[f64; 16]) {
    for k in 0..RUNS {
        black_box(h).observe(values[k % values.len()]);
    }
}

fn main() {
    let values = black_box(OBSERVATIONS);
    let registry = Registry::new();
    let family = |name: &str| {
        let buckets = Buckets::exponential(0.0005, 2.0, BUCKETS).expect("buckets");
        registry
            .histogram::<BUCKETS, 0>(MetricInfo::new(name, "Probe histogram.").with_unit(Unit::Seconds), [], buckets)
            .expect("register")
    };
    match std::env::args().nth(1).as_deref() {
        Some("loop") => run_loop(&values),
        Some("shared") => run_shared(&family("shared_seconds").bind(()), &values),
        Some("weighted") => run_weighted(&family("weighted_seconds").bind(()), &values),
        Some("local") => run_local(&mut family("local_seconds").claim(()).expect("claim"), &values),
        Some("prometheus_client") => {
            run_prometheus_client(&prometheus_client::metrics::histogram::Histogram::new(bucket_bounds()), &values);
        }
        _ => panic!("usage: observe_probe <loop|shared|weighted|local|prometheus_client>"),
    }
}
