//! The integration guide's code (`docs/seed/integration_guide.md`, the user's document), compiled
//! and run as written.
//!
//! Each section's code block sits verbatim in a module (file) of its own, beside the smallest
//! scaffolding types that let it compile, with the types such code has in a real node: `usize`
//! lengths, `u64` millisecond timestamps, `i32` (Kafka-style) partitions, `String` node ids. A test
//! per module drives the block and checks what every call put in the scrape of the global
//! registry (each module uses its own topic, since tests share that registry).
//! `guide_code_is_here_verbatim` keeps the copy honest: every line of every Rust block of the
//! guide appears here in order, with two replacements only: the crate's name
//! (`chronik_monitoring` → `raft_metrics`) and the one metric name the guide asserts that
//! Prometheus conventions rename (`chronik_raft_commit_latency_ms` →
//! `chronik_raft_commit_latency_seconds`, see "Porting the guide's names" in
//! docs/RAFT_METRICS_GUIDE.md).

// The guide's code as written: variables it computes and never reads, a `match` with a wildcard
// arm, `format!` without arguments, public items in private modules, `&request.topic` where the
// scaffolding's request holds a `&str` already.
#![allow(
    unused_variables,
    unused_mut,
    dead_code,
    unreachable_pub,
    missing_debug_implementations,
    clippy::useless_format,
    clippy::comparison_chain,
    clippy::match_wildcard_for_single_variants,
    clippy::needless_borrow,
    clippy::needless_borrows_for_generic_args
)]

use raft_metrics::advanced::parse::{parse, Scrape};
use raft_metrics::{Format, Registry};

/// The global registry's scrape, strictly parsed.
fn scrape() -> Scrape {
    assert!(raft_metrics::RaftMetrics::global_registration_error().is_none());
    let text = Registry::global().encode_to_string(Format::Prometheus);
    parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The value of one sample, which must exist.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape.value(name, labels).unwrap_or_else(|| panic!("no single sample {name}{labels:?}"))
}

fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    u64::try_from(since_epoch.as_millis()).expect("milliseconds fit u64")
}

// One module per section of the guide, in the guide's order.
mod cluster_health;
mod collection;
mod commit_latency;
mod elections;
#[cfg(feature = "http")]
mod end_to_end;
mod log;
mod quorum;
mod replication_lag;
mod rpc;
mod sampling;
mod snapshots;

/// Every section's file, in the guide's order, for the verbatim check (read whatever the
/// features, so the check covers the end-to-end test too).
const SOURCES: &[&str] = &[
    include_str!("cluster_health.rs"),
    include_str!("replication_lag.rs"),
    include_str!("elections.rs"),
    include_str!("commit_latency.rs"),
    include_str!("snapshots.rs"),
    include_str!("rpc.rs"),
    include_str!("log.rs"),
    include_str!("quorum.rs"),
    include_str!("collection.rs"),
    include_str!("sampling.rs"),
    include_str!("end_to_end.rs"),
];

/// The guide's Rust blocks, trimmed lines without blanks, after the two documented replacements.
fn guide_blocks() -> Vec<Vec<String>> {
    let guide = include_str!("../../../docs/seed/integration_guide.md");
    let mut blocks = Vec::new();
    let mut block: Option<Vec<String>> = None;
    for line in guide.lines() {
        match (&mut block, line.trim()) {
            (None, "```rust") => block = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(block.take()),
            (Some(lines), text) if !text.is_empty() => lines.push(
                text.replace("chronik_monitoring::", "raft_metrics::")
                    .replace("\"chronik_raft_commit_latency_ms\"", "\"chronik_raft_commit_latency_seconds\""),
            ),
            _ => {}
        }
    }
    blocks
}

/// Every Rust block of the guide, each of its lines (trimmed) found in this test's files in the
/// block's order: the code that runs above is the guide's.
#[test]
fn guide_code_is_here_verbatim() {
    let here: Vec<&str> = SOURCES.iter().flat_map(|s| s.lines()).map(str::trim).collect();
    let blocks = guide_blocks();
    assert_eq!(blocks.len(), 12, "the guide's Rust blocks");
    let mut metric_calls = 0;
    for block in &blocks {
        let mut at = 0;
        for line in block {
            let found = here[at..].iter().position(|h| h == line);
            let offset = found.unwrap_or_else(|| panic!("not here in order: `{line}` (block starting `{}`)", block[0]));
            at += offset + 1;
            metric_calls += usize::from(line.starts_with("metrics.") || line.starts_with("self.metrics."));
        }
    }
    // Every `metrics.*(` call the guide makes (`grep -cE '^\s*(self\.)?metrics\.[a-z_]+\(' docs/seed/integration_guide.md`).
    assert_eq!(metric_calls, 37, "metrics calls checked");
}
