//! Prints a scrape of a registry holding every metric kind, with hostile label values.
//!
//! ```text
//! cargo run -p raft-metrics --example exposition | promtool check metrics
//! cargo run -p raft-metrics --example exposition -- --openmetrics
//! ```

use std::error::Error;
use std::io::Write;

use raft_metrics::advanced::ByLabelLayout;
use raft_metrics::{
    Buckets, ByLabel, Counter, EnumLabel, FloatGauge, Format, Gauge, MetricInfo, Registry, ShardedCounter, Unit,
};

#[derive(Clone, Copy)]
enum Reject {
    StaleTerm,
    LogInconsistency,
}

impl EnumLabel for Reject {
    const VALUES: &'static [&'static str] = &["stale_term", "log_inconsistency"];
    fn index(self) -> usize {
        self as usize
    }
}

/// Label values a client may send: quotes, backslashes, newlines, unicode, empty.
const HOSTILE_TOPICS: &[&str] =
    &["orders", "quote\"d", "back\\slash", "new\nline", "ünïcødé ✓ 日本", "", "trailing\\", "{braces},commas=equals"];

fn main() -> Result<(), Box<dyn Error>> {
    let format = if std::env::args().any(|a| a == "--openmetrics") { Format::OpenMetrics } else { Format::Prometheus };
    let registry = Registry::new();

    let commits = registry.register_with::<Counter, 2>(
        MetricInfo::new(
            "raft_entries_committed_total",
            "Log entries committed, by partition.\nHELP may hold \\ and \".",
        ),
        ["topic", "partition"],
        (),
    )?;
    let term = registry.register_with::<Gauge, 2>(
        MetricInfo::new("raft_current_term", "Current Raft term."),
        ["topic", "partition"],
        (),
    )?;
    let lag = registry.register_with::<FloatGauge, 3>(
        MetricInfo::new("raft_follower_lag_seconds", "Time since the follower last acknowledged.")
            .with_unit(Unit::Seconds),
        ["topic", "partition", "follower"],
        (),
    )?;
    let latency = registry.histogram::<14, 2>(
        MetricInfo::new("raft_commit_latency_seconds", "Time from proposal to commit.").with_unit(Unit::Seconds),
        ["topic", "partition"],
        Buckets::exponential(0.0005, 2.0, 14)?,
    )?;
    let rejected = registry.register_with::<ByLabel<Reject, Counter, 2>, 2>(
        MetricInfo::new("raft_append_entries_rejected_total", "AppendEntries requests rejected, by reason."),
        ["topic", "partition"],
        ByLabelLayout::new("reason", ())?,
    )?;
    let rpcs = registry.register_with::<ShardedCounter, 1>(
        MetricInfo::new("raft_rpc_calls_total", "RPCs sent, by method."),
        ["method"],
        (),
    )?;
    let bytes = registry.counter("raft_snapshot_sent_bytes_total", "Snapshot bytes sent.")?;
    let ratio = registry.float_gauge("raft_quorum_health_ratio", "Fraction of voters reachable.")?;

    for (partition, topic) in HOSTILE_TOPICS.iter().enumerate() {
        let partition = u32::try_from(partition)?;
        commits.get((*topic, partition)).add(u64::from(partition) * 10 + 1);
        term.get((*topic, partition)).set(7);
        lag.get((*topic, partition, "node-2")).set(0.25);
        let h = latency.bind((*topic, partition));
        for v in [0.0004, 0.003, 0.02, 9.0, f64::NAN, -1.0] {
            h.observe(v);
        }
        rejected.get((*topic, partition)).get(Reject::StaleTerm).inc();
        rejected.get((*topic, partition)).get(Reject::LogInconsistency).add(2);
    }
    lag.get(("orders", 0u32, "node-3")).set(f64::INFINITY);
    lag.get(("orders", 0u32, "node-4")).set(f64::NAN);
    rpcs.get(("append_entries",)).add(3);
    rpcs.get(("request_vote",)).inc();
    bytes.add(1 << 20);
    ratio.set(2.0 / 3.0);

    let mut out = Vec::new();
    registry.encode(format, &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(())
}
