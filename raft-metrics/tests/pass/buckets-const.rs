//! `buckets = SOME_CONST` takes a `[f64; N]` or a `&[f64]` const, by name or path, and stays
//! hygienic: the expansion refers to the const only through the user's path.
#![deny(unused_qualifications, missing_docs)]
#![no_implicit_prelude]

mod raft_metrics {}

/// Shared bucket layouts.
pub mod layout {
    /// Latency bounds in seconds.
    pub const LATENCY_BUCKETS: [f64; 3] = [0.001, 0.01, 0.1];
    /// Size bounds in bytes.
    pub const SIZE_BUCKETS: &[f64] = &[64.0, 1024.0];
}

use layout::LATENCY_BUCKETS;

/// Metrics.
#[derive(::raft_metrics::RaftMetrics)]
#[raft_metrics(namespace = "consts", labels(topic: &str))]
pub struct M {
    /// Latency.
    #[metric(histogram, unit = "seconds", buckets = LATENCY_BUCKETS)]
    pub latency: ::raft_metrics::Histogram<3>,
    /// Sizes.
    #[metric(histogram, unit = "bytes", buckets = self::layout::SIZE_BUCKETS)]
    pub size: ::raft_metrics::Histogram<2>,
}

fn main() {
    let registry = ::raft_metrics::Registry::new();
    let family = M::register(&registry).unwrap();
    family.bind("t").latency.observe(0.005);
    ::std::assert_eq!(M::SCHEMA.metrics[1].buckets, layout::SIZE_BUCKETS);
}
