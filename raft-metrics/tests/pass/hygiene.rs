//! The derive's output names nothing from the caller's scope: a local module called
//! `raft_metrics` and a `Result` alias do not break it, and strict lints stay quiet.
#![deny(unused_qualifications, unused_imports, missing_docs)]
#![no_implicit_prelude]

mod raft_metrics {}

#[allow(dead_code)]
type Result = ();

/// Metrics.
#[derive(::raft_metrics::RaftMetrics)]
#[raft_metrics(namespace = "hygiene", labels(topic: &str))]
pub struct M {
    /// Commits.
    #[metric(counter)]
    pub commits: ::raft_metrics::Counter,
    /// Latency.
    #[metric(histogram, unit = "seconds", buckets = [0.001, 0.01])]
    pub latency: ::raft_metrics::Histogram<2>,
}

fn main() {
    let registry = ::raft_metrics::Registry::new();
    let family = M::register(&registry).unwrap();
    family.bind("t").commits.inc();
}
