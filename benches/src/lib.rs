//! Shared workloads for comparing raft-metrics with peer Prometheus crates.
//!
//! Every implementation gets the same work: the same metric names and HELP texts, the same
//! labels (`topic`, `partition`), the same 12 exponential histogram buckets
//! (`0.0005 * 2^i` seconds) and the same observed values. The criterion benches in `benches/`
//! and the `memory_per_partition` binary both build their registries from here.

use std::sync::OnceLock;

pub mod labels;
pub mod partitions;
pub mod raft_loop;
pub mod raft_schema;

/// The topic label value used everywhere.
pub const TOPIC: &str = "orders";
/// Partitions in the scrape and memory workloads.
pub const PARTITIONS: u32 = 1_000;
/// Integer gauges per partition.
pub const GAUGES: usize = 10;
/// Counters per partition.
pub const COUNTERS: usize = 10;
/// Histograms per partition.
pub const HISTOGRAMS: usize = 2;
/// Finite bucket bounds per histogram (the `+Inf` bucket is extra).
pub const BUCKETS: usize = 12;
/// Metrics per partition.
pub const METRICS: usize = GAUGES + COUNTERS + HISTOGRAMS;

/// The bucket bounds: `0.0005 * 2^i` for `i` in `0..12`, i.e. 0.5 ms to 1.024 s.
///
/// Doubling is exact in binary floating point, so every crate's own exponential helper yields
/// the very same bounds.
pub fn bucket_bounds() -> [f64; BUCKETS] {
    core::array::from_fn(|i| 0.0005 * f64::from(1u32 << i))
}

/// Sixteen observations that hit all 13 buckets (12 finite ones and `+Inf`), in a scrambled
/// order so that a bucket search cannot be predicted from the previous value.
pub const OBSERVATIONS: [f64; 16] =
    [0.0003, 0.02, 0.0007, 0.3, 0.0015, 0.005, 1.5, 0.0031, 0.09, 0.012, 0.6, 0.045, 0.0009, 0.17, 0.0062, 0.04];

/// Metric names and HELP texts shared by every implementation.
#[derive(Debug)]
pub struct Names {
    /// `bench_gauge_{i}`.
    pub gauges: [&'static str; GAUGES],
    /// `bench_counter_{i}_total` (prometheus-client, which appends `_total` itself, gets the
    /// name without it; raft-metrics strips and re-adds it).
    pub counters: [&'static str; COUNTERS],
    /// `bench_counter_{i}`: the counter names without `_total`.
    pub counter_bases: [&'static str; COUNTERS],
    /// `bench_hist_{i}_seconds`.
    pub hists: [&'static str; HISTOGRAMS],
    /// One HELP text per gauge.
    pub gauge_help: [&'static str; GAUGES],
    /// One HELP text per counter.
    pub counter_help: [&'static str; COUNTERS],
    /// One HELP text per histogram.
    pub hist_help: [&'static str; HISTOGRAMS],
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The names, built (and leaked) once per process.
pub fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| Names {
        gauges: core::array::from_fn(|i| leak(format!("bench_gauge_{i}"))),
        counters: core::array::from_fn(|i| leak(format!("bench_counter_{i}_total"))),
        counter_bases: core::array::from_fn(|i| leak(format!("bench_counter_{i}"))),
        hists: core::array::from_fn(|i| leak(format!("bench_hist_{i}_seconds"))),
        gauge_help: core::array::from_fn(|i| leak(format!("Benchmark gauge number {i}."))),
        counter_help: core::array::from_fn(|i| leak(format!("Benchmark counter number {i}."))),
        hist_help: core::array::from_fn(|i| leak(format!("Benchmark histogram number {i}."))),
    })
}

/// The value written to gauge `i` of partition `p` (never zero).
pub fn gauge_value(p: u32, i: usize) -> i64 {
    i64::from(p) * 100 + i as i64 + 1
}

/// The amount added to counter `i` of partition `p` (never zero).
pub fn counter_value(p: u32, i: usize) -> u64 {
    u64::from(p) * 10 + i as u64 + 1
}

/// The value observed by histogram `i` of partition `p`.
pub fn hist_value(p: u32, i: usize) -> f64 {
    OBSERVATIONS[(p as usize + i) % OBSERVATIONS.len()]
}

/// Resident set size of this process in bytes, from `/proc/self/statm` (resident pages × 4096).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident: u64 =
        statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).expect("second field of /proc/self/statm");
    resident * 4096
}
