//! A real Prometheus (`/usr/bin/prometheus`, 2.42 from Debian, `--enable-feature=native-histograms`)
//! scrapes our `/metrics` server over protobuf and answers queries on the native histogram, a
//! classic histogram and a counter with the values recorded.
//!
//! Everything stays on 127.0.0.1. Prometheus gets a temporary directory, a 1 s scrape interval
//! and at most [`DEADLINE`] to produce the data; it is killed by PID when the test ends, failing or
//! not. Without `/usr/bin/prometheus` the test says so and passes, unless `CI` is set.

#![cfg(all(feature = "protobuf", feature = "http"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use raft_metrics::http::Server;
use raft_metrics::{Buckets, MetricInfo, NativeBuckets, NativeHistogram, Registry, Unit};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const DEADLINE: Duration = Duration::from_secs(30);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many ports a Prometheus start tries.
const START_ATTEMPTS: u32 = 5;

/// Kills Prometheus and removes its directory when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus on a free port and waits until it is ready. The port is picked by
    /// binding port 0 and releasing it, so another process may take it first: Prometheus then
    /// exits, and is started again on another port (at most [`START_ATTEMPTS`] times).
    fn start(target: SocketAddr) -> Self {
        let dir = temp_dir();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: raft\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        for attempt in 1..=START_ATTEMPTS {
            let addr = free_local_addr();
            let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
            let child = Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--enable-feature=native-histograms")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {PROMETHEUS}: {e}"));
            // Killed on drop from here on, also when this panics.
            let mut prometheus = Self { child, dir: dir.clone(), addr };
            let started = Instant::now();
            loop {
                if http_get(addr, "/-/ready").is_some() {
                    return prometheus;
                }
                if matches!(prometheus.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                assert!(
                    started.elapsed() < DEADLINE,
                    "Prometheus not ready after {DEADLINE:?}; log:\n{}",
                    prometheus.log()
                );
                std::thread::sleep(Duration::from_millis(250));
            }
            let log = prometheus.log();
            assert!(attempt < START_ATTEMPTS, "Prometheus exited before it was ready, {attempt} times; log:\n{log}");
            eprintln!("Prometheus exited before it was ready on {addr} (attempt {attempt}):\n{log}");
            // Reaped; the directory stays for the next attempt (dropping an empty path removes
            // nothing).
            drop(std::mem::take(&mut prometheus.dir));
        }
        unreachable!("the last attempt returns or panics")
    }

    /// The single value of an instant query, once it has one.
    fn query(&self, query: &str) -> Option<f64> {
        let path = format!("/api/v1/query?query={}", percent_encode(query));
        let body = http_get(self.addr, &path)?;
        let value = body.split("\"value\":[").nth(1)?;
        let quoted = value.split(",\"").nth(1)?;
        quoted.split('"').next()?.parse().ok()
    }

    /// Prometheus' log and its view of the scrape target, for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        let targets = http_get(self.addr, "/api/v1/targets").unwrap_or_default();
        format!("{log}\ntargets: {targets}")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        // `kill` signals this child's PID only; `wait` reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("raft-metrics-prometheus-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port nobody listens on right now (another process may take it before Prometheus binds it:
/// `Prometheus::start` then tries another).
fn free_local_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A bounded HTTP/1.0 GET; `None` on any failure (Prometheus may still be starting).
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response).ok()?;
    let response = String::from_utf8(response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.") && head.split(' ').nth(1) == Some("200")).then(|| body.to_owned())
}

fn prometheus_available() -> bool {
    if Path::new(PROMETHEUS).exists() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{PROMETHEUS} is required in CI (apt-get install prometheus)");
    eprintln!("{PROMETHEUS} not found: skipping; install it with `apt-get install prometheus`");
    false
}

#[test]
fn prometheus_ingests_native_histograms_over_protobuf() {
    if !prometheus_available() {
        return;
    }
    let registry = Arc::new(Registry::new());
    let native = registry
        .register_with::<NativeHistogram, 1>(
            MetricInfo::new("it_apply_seconds", "Apply latency.").with_unit(Unit::Seconds),
            ["topic"],
            Arc::new(NativeBuckets::new(3).unwrap()),
        )
        .unwrap();
    let classic = registry
        .histogram::<3, 1>(
            MetricInfo::new("it_commit_seconds", "Commit latency.").with_unit(Unit::Seconds),
            ["topic"],
            Buckets::new(vec![0.001, 0.01, 0.1]).unwrap(),
        )
        .unwrap();
    registry.counter("it_events_total", "Events.").unwrap().add(5);
    // 100 observations: 0.001 .. 0.1 in steps of 0.001; the median is 0.05.
    let apply = native.bind(("orders \"q\"",));
    let commit = classic.bind(("orders \"q\"",));
    for i in 1..=100 {
        apply.observe(f64::from(i) / 1000.0);
        commit.observe(f64::from(i) / 1000.0);
    }
    apply.observe(0.0);

    let server = Server::builder().bind("127.0.0.1:0").registry(Arc::clone(&registry)).start().unwrap();
    let prometheus = Prometheus::start(server.local_addr());
    let selector = r#"{topic="orders \"q\""}"#;
    let count_query = format!("histogram_count(it_apply_seconds{selector})");
    let started = Instant::now();
    let count = loop {
        if let Some(count) = prometheus.query(&count_query) {
            break count;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no native histogram in Prometheus after {DEADLINE:?}; its log:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    eprintln!("Prometheus had the native histogram after {:?}", started.elapsed());
    assert_eq!(count, 101.0);
    let query = |q: &str| prometheus.query(q).unwrap_or_else(|| panic!("no value for {q}; log:\n{}", prometheus.log()));
    let sum = query(&format!("histogram_sum(it_apply_seconds{selector})"));
    assert!((sum - 5.05).abs() < 1e-5, "sum {sum}");
    // Schema 3: the median 0.05 lies in (2^(-35/8), 2^(-34/8)] = (0.0479, 0.0523].
    let median = query(&format!("histogram_quantile(0.5, it_apply_seconds{selector})"));
    assert!((2f64.powf(-35.0 / 8.0)..=2f64.powf(-34.0 / 8.0)).contains(&median), "median {median}");
    // The native histogram is not also ingested as classic series.
    assert_eq!(prometheus.query(&format!("it_apply_seconds_count{selector}")), None);
    // The classic histogram and the counter came through the same protobuf scrape.
    assert_eq!(query(&format!("it_commit_seconds_count{selector}")), 100.0);
    assert_eq!(query(r#"it_commit_seconds_bucket{topic="orders \"q\"",le="0.01"}"#), 10.0);
    assert_eq!(query(r#"it_commit_seconds_bucket{le="+Inf"}"#), 100.0);
    assert_eq!(query("it_events_total"), 5.0);
    drop(prometheus);
    server.shutdown();
}
