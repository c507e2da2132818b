//! Serves a registry on `/metrics` while a pretend Raft node records into it.
//!
//! ```text
//! cargo run -p raft-metrics --features http --example serve -- 127.0.0.1:9898
//! curl -s localhost:9898/metrics
//! curl -s -H 'Accept: application/openmetrics-text' --compressed localhost:9898/metrics
//! ```
//!
//! Runs for 60 seconds (or the number of seconds given as the second argument), then shuts down.

#[cfg(feature = "http")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::sync::Arc;
    use std::time::Duration;

    use raft_metrics::http::Server;
    use raft_metrics::{Buckets, MetricInfo, Registry, Unit};

    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9898".to_owned());
    let seconds: u64 = match args.next() {
        Some(s) => s.parse().map_err(|e| format!("seconds {s:?}: {e}"))?,
        None => 60,
    };

    let registry = Arc::new(Registry::new());
    let commits = registry.counter("raft_commits_total", "Entries committed.")?;
    let term = registry.gauge("raft_term", "Current term.")?;
    let latency = registry.histogram::<8, 0>(
        MetricInfo::new("raft_commit_latency_seconds", "Proposal to commit.").with_unit(Unit::Seconds),
        [],
        Buckets::exponential(0.0005, 4.0, 8)?,
    )?;
    let latency = latency.bind(());

    let server = Server::builder()
        .bind(addr.as_str())
        .registry(Arc::clone(&registry))
        .max_connections(16)
        .read_timeout(Duration::from_secs(5))
        .start()?;
    println!("serving http://{}/metrics for {seconds} s", server.local_addr());

    term.set(1);
    for tick in 0..seconds * 10 {
        commits.add(3);
        latency.observe(0.001 * f64::from(u32::try_from(tick % 7).unwrap_or(0)));
        std::thread::sleep(Duration::from_millis(100));
    }
    server.shutdown();
    Ok(())
}

#[cfg(not(feature = "http"))]
fn main() {
    eprintln!("this example needs the `http` feature: cargo run -p raft-metrics --features http --example serve");
}
