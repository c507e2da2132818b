//! Shared by the real-Prometheus end-to-end tests: the dashboard's expressions, the
//! time-compressed rule file, Prometheus' HTTP API, the cluster served on ephemeral ports and
//! driven in real time, a Prometheus child process, and the alert log.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft_metrics::http::Server;
use raft_metrics::raft::Aggregation;
use raft_metrics::Registry;
use raft_metrics_raftrs::sim::{proposal, Cluster, ClusterConfig, HostStatus};

use serde_json::Value;

pub(crate) const PROMETHEUS: &str = "/usr/bin/prometheus";
pub(crate) const DASHBOARD: &str = "docs/grafana/chronik_raft_dashboard.json";
pub(crate) const RULES: &str = "docs/alerts/chronik_raft_alerts.yml";

pub(crate) const NODES: u64 = 3;
pub(crate) const PARTITIONS: u32 = 3;
/// Logical tick length, as in `examples/cluster.rs`.
pub(crate) const TICK: Duration = Duration::from_millis(10);
/// Proposals per partition per tick (200/s per partition).
pub(crate) const PROPOSALS_PER_TICK: u32 = 2;
/// The shortened `for:` of every alert in the rule copy.
pub(crate) const FOR: &str = "3s";
/// What the long range windows of the rule copy become.
pub(crate) const WINDOW: &str = "[30s]";
/// What `$__rate_interval` becomes in dashboard expressions.
pub(crate) const RATE_INTERVAL: &str = "30s";

// ---- small helpers -------------------------------------------------------------------------

pub(crate) fn workspace_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Polls `f` every 250 ms until it returns `Some` or `timeout` passes.
pub(crate) fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---- the dashboard -------------------------------------------------------------------------

/// Every panel target of the dashboard as (panel title, expression with the Grafana variables
/// substituted), rows' nested panels after the row's title.
pub(crate) fn dashboard_panels() -> Vec<(String, String)> {
    let dashboard: Value =
        serde_json::from_str(&workspace_file(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"));
    let mut panels = Vec::new();
    collect_panels(&dashboard["panels"], &mut panels);
    assert!(panels.len() > 20, "found only {} panel expressions in {DASHBOARD}", panels.len());
    panels
}

pub(crate) fn collect_panels(list: &Value, out: &mut Vec<(String, String)>) {
    for panel in list.as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((title.to_owned(), grafana_to_promql(expr)));
            }
        }
        collect_panels(&panel["panels"], out);
    }
}

/// Grafana's variables as the dashboard's "All" would set them: `$topic` and `$partition` are
/// `.*` (their `allValue`), `$__rate_interval` a fixed window.
pub(crate) fn grafana_to_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", RATE_INTERVAL)
        .replace("$__range", "5m")
        .replace("$topic", ".*")
        .replace("$partition", ".*")
}

// ---- the time-compressed rule file ---------------------------------------------------------

/// `docs/alerts/chronik_raft_alerts.yml` with exactly two rewrites, expressions otherwise
/// byte-identical:
///
/// * every `for: <duration>` line becomes `for: 3s` (`FOR`);
/// * the range windows `[15m]`, `[10m]` and `[30m]` become `[30s]` (`WINDOW`). This touches the
///   recording rules `leader_changes_seen:increase15m`, `proposals_failed:rate15m`,
///   `proposals_committed:rate15m` (their names keep "15m") and the alerts `ApplyLagging`
///   (`[10m]`), `SnapshotTransferFailures` (`[30m]`) and `DroppedLabelSets` (`[15m]`).
///
/// `[5m]` windows (latency quantiles, heartbeat failures, RPC failure ratio) stay: a rate over
/// 5 minutes of a few seconds of samples is small but not empty.
pub(crate) fn compressed_rules() -> String {
    let original = workspace_file(RULES);
    let mut out = String::with_capacity(original.len());
    let mut rewritten_for = 0;
    for line in original.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("for:") {
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(&format!("{indent}for: {FOR}\n"));
            rewritten_for += 1;
        } else {
            let mut l = line.to_owned();
            for long in ["[15m]", "[10m]", "[30m]"] {
                l = l.replace(long, WINDOW);
            }
            out.push_str(&l);
            out.push('\n');
        }
    }
    assert!(rewritten_for >= 10, "only {rewritten_for} `for:` lines in {RULES}");
    out
}

/// Alert names in rule-file order (a name defined twice, like HighFsyncLatency, once).
pub(crate) fn alert_names(rules: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in rules.lines() {
        if let Some(name) = line.trim_start().strip_prefix("- alert:") {
            let name = name.trim().to_owned();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

// ---- HTTP ----------------------------------------------------------------------------------

/// A GET to 127.0.0.1 with percent-encoded query parameters; returns (status code, body).
/// Bounded by a 10 s timeout.
pub(crate) fn http_get(addr: SocketAddr, path: &str, params: &[(&str, &str)]) -> Result<(u16, String), String> {
    let mut request = minreq::get(format!("http://{addr}{path}")).with_timeout(10);
    for (key, value) in params {
        request = request.with_param(*key, *value);
    }
    let response = request.send().map_err(|e| format!("GET {path}: {e}"))?;
    Ok((response.status_code, String::from_utf8_lossy(response.as_bytes()).into_owned()))
}

/// A Prometheus API call's JSON, if it answered 200 with `"status": "success"`.
pub(crate) fn api_get(prom: SocketAddr, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
    let (status, body) = http_get(prom, path, params)?;
    let json: Option<Value> = serde_json::from_str(&body).ok();
    match json {
        Some(json) if status == 200 && json["status"] == "success" => Ok(json),
        _ => Err(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>())),
    }
}

/// The outcome of an instant query: `resultType` and the number of series (or 1 for a scalar).
#[derive(Debug, Clone)]
pub(crate) struct QueryResult {
    pub(crate) result_type: String,
    pub(crate) series: usize,
}

pub(crate) fn query(prom: SocketAddr, expr: &str) -> Result<QueryResult, String> {
    let json = api_get(prom, "/api/v1/query", &[("query", expr)])?;
    let result_type = json["data"]["resultType"].as_str().unwrap_or_default().to_owned();
    let series = match result_type.as_str() {
        "vector" | "matrix" => json["data"]["result"].as_array().map_or(0, Vec::len),
        "scalar" | "string" => 1,
        _ => 0,
    };
    Ok(QueryResult { result_type, series })
}

/// Active alerts as (alertname, labels rendered `k=v,…` without alertname/severity, state).
pub(crate) fn alerts(prom: SocketAddr) -> Result<Vec<(String, String, String)>, String> {
    let json = api_get(prom, "/api/v1/alerts", &[])?;
    let mut out = Vec::new();
    for alert in json["data"]["alerts"].as_array().into_iter().flatten() {
        let labels = alert["labels"].as_object().into_iter().flatten();
        let label = |name: &str| alert["labels"][name].as_str().unwrap_or_default().to_owned();
        let rendered: Vec<String> = labels
            .filter(|(k, _)| !matches!(k.as_str(), "alertname" | "severity" | "job"))
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        let state = alert["state"].as_str().unwrap_or_default().to_owned();
        out.push((label("alertname"), rendered.join(","), state));
    }
    Ok(out)
}

// ---- the cluster, served -------------------------------------------------------------------

/// The cluster and one `/metrics` server per running node. A crashed node's server is down; a
/// restarted node serves its fresh registry again on the same port.
pub(crate) struct Sim {
    pub(crate) cluster: Cluster,
    pub(crate) ports: BTreeMap<u64, u16>,
    pub(crate) servers: BTreeMap<u64, (Arc<Registry>, Server)>,
    /// Extra proposals to make per partition on the next tick.
    pub(crate) burst: u32,
    pub(crate) key: u16,
    pub(crate) proposals_refused: u64,
    /// Clients that keep proposing to this node although it cannot commit.
    pub(crate) failing_proposals_on: Option<u64>,
}

impl Sim {
    /// Starts, restarts or stops servers to match the cluster. A port still held (a restart
    /// right after a crash) is retried on the next tick.
    pub(crate) fn sync(&mut self) {
        let want: BTreeMap<u64, Arc<Registry>> = self
            .cluster
            .node_ids()
            .into_iter()
            .filter(|&n| n <= NODES && self.cluster.status(n) != Some(HostStatus::Crashed))
            .filter_map(|n| self.cluster.registry(n).map(|r| (n, r)))
            .collect();
        let stale: Vec<u64> = self
            .servers
            .iter()
            .filter(|(n, (r, _))| want.get(n).is_none_or(|w| !Arc::ptr_eq(w, r)))
            .map(|(n, _)| *n)
            .collect();
        for n in stale {
            if let Some((_, server)) = self.servers.remove(&n) {
                server.shutdown();
            }
        }
        for (n, registry) in want {
            if self.servers.contains_key(&n) {
                continue;
            }
            let port = self.ports.get(&n).copied().unwrap_or(0);
            let started = Server::builder()
                .bind(SocketAddr::from(([127, 0, 0, 1], port)))
                .registry(Arc::clone(&registry))
                .read_timeout(Duration::from_secs(2))
                .start();
            if let Ok(server) = started {
                self.ports.insert(n, server.local_addr().port());
                self.servers.insert(n, (registry, server));
            }
        }
    }

    pub(crate) fn step(&mut self) {
        let per_partition = PROPOSALS_PER_TICK + std::mem::take(&mut self.burst);
        let value = [0x5a_u8; 64];
        for p in 0..PARTITIONS {
            for _ in 0..per_partition {
                self.key = self.key.wrapping_add(1) % 1024;
                if self.cluster.propose(p, proposal(self.key, &value)).is_err() {
                    self.proposals_refused += 1;
                }
            }
        }
        if let Some(node) = self.failing_proposals_on {
            for p in 0..PARTITIONS {
                for _ in 0..10 {
                    // Refused by raft-rs (no leader): counted in proposals_failed.
                    let _ = self.cluster.propose_on(node, p, proposal(0, &value));
                }
            }
        }
        self.cluster.tick();
        self.sync();
    }

    pub(crate) fn follower_of(&self, partition: u32, leader: u64) -> Option<u64> {
        self.cluster.members(partition).into_iter().find(|&n| n != leader && n <= NODES)
    }
}

/// Runs the cluster in real time on a background thread; stops it and its servers on drop.
pub(crate) struct Driver {
    pub(crate) sim: Arc<Mutex<Sim>>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

impl Driver {
    /// Starts the cluster, after `setup` (faults from the first tick on).
    pub(crate) fn start(setup: impl FnOnce(&mut Cluster)) -> Self {
        Self::start_in(Aggregation::Partition, setup)
    }

    /// Starts the cluster exporting in `aggregation` mode, after `setup`.
    pub(crate) fn start_in(aggregation: Aggregation, setup: impl FnOnce(&mut Cluster)) -> Self {
        let config = ClusterConfig { nodes: NODES, partitions: PARTITIONS, aggregation, ..ClusterConfig::default() };
        let mut cluster = Cluster::new(config).expect("cluster");
        setup(&mut cluster);
        let mut sim = Sim {
            cluster,
            ports: BTreeMap::new(),
            servers: BTreeMap::new(),
            burst: 0,
            key: 0,
            proposals_refused: 0,
            failing_proposals_on: None,
        };
        sim.sync();
        assert_eq!(sim.servers.len(), NODES as usize, "every node serves");
        let sim = Arc::new(Mutex::new(sim));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&sim), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut next = Instant::now();
            // Relaxed: the flag publishes nothing else.
            while !st.load(Ordering::Relaxed) {
                lock(&s).step();
                next += TICK;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        });
        Self { sim, stop, thread: Some(thread) }
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Sim) -> T) -> T {
        f(&mut lock(&self.sim))
    }

    pub(crate) fn targets(&self) -> Vec<String> {
        self.with(|s| s.ports.values().map(|p| format!("127.0.0.1:{p}")).collect())
    }

    /// Fault 1 of the scenarios: pauses n3 (its followers fall behind, a burst making the entry
    /// lag > 5000; sends to it fail; the partition it led elects a new leader while the paused,
    /// still exported node keeps claiming leadership) and stalls n2's apply.
    pub(crate) fn pause_n3_and_stall_n2(&self) {
        self.with(|s| {
            s.cluster.pause(3);
            s.cluster.stall_apply(2, true);
        });
        for _ in 0..4 {
            self.with(|s| s.burst = 2000);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ends fault 1 and waits (bounded) until n3 has caught up.
    pub(crate) fn resume_n3_and_catch_up(&self) {
        self.with(|s| {
            s.cluster.resume(3);
            s.cluster.stall_apply(2, false);
        });
        let caught_up = wait_for(Duration::from_secs(15), || {
            self.with(|s| (0..PARTITIONS).all(|p| s.cluster.max_lag(p).is_some_and(|(_, lag)| lag < 500)).then_some(()))
        });
        assert!(caught_up.is_some(), "n3 did not catch up");
    }

    /// Fault 2: p0's leader proposes adding a node 4 (the entry stays uncommitted in its log
    /// alone: a stuck configuration change), then the two other nodes crash; with
    /// `failing_proposals`, clients keep proposing to the lone node and are refused. Returns
    /// the lone node.
    pub(crate) fn crash_all_but_p0_leader(&self, failing_proposals: bool) -> u64 {
        self.with(|s| {
            let lone = s.cluster.leader(0).expect("p0 leader");
            s.cluster.add_node(0, NODES + 1).expect("propose adding node 4 to p0");
            for n in (1..=NODES).filter(|&n| n != lone) {
                s.cluster.crash(n);
            }
            s.failing_proposals_on = failing_proposals.then_some(lone);
            lone
        })
    }

    /// Ends fault 2: restarts every node but `lone` and waits (bounded) for every leader.
    pub(crate) fn restart_all_but(&self, lone: u64) {
        self.with(|s| {
            s.failing_proposals_on = None;
            for n in (1..=NODES).filter(|&n| n != lone) {
                s.cluster.restart(n).expect("restart");
            }
        });
        for p in 0..PARTITIONS {
            assert!(self.wait_leader(p, None, Duration::from_secs(10)).is_some(), "p{p} has no leader after restart");
        }
    }

    /// Waits (bounded) until `partition` has a leader other than `not`.
    pub(crate) fn wait_leader(&self, partition: u32, not: Option<u64>, timeout: Duration) -> Option<u64> {
        wait_for(timeout, || self.with(|s| s.cluster.leader(partition).filter(|&l| Some(l) != not)))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let servers = std::mem::take(&mut lock(&self.sim).servers);
        for (_, (_, server)) in servers {
            server.shutdown();
        }
    }
}

// ---- Prometheus ----------------------------------------------------------------------------

/// The Prometheus child and its temporary directory: killed and removed on drop.
pub(crate) struct Prometheus {
    pub(crate) child: Child,
    pub(crate) dir: PathBuf,
    pub(crate) addr: SocketAddr,
}

impl Prometheus {
    pub(crate) fn start(targets: &[String], rules: &str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("raft-metrics-prom-e2e-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).expect("temp dir");
        let rules_path = dir.join("rules.yml");
        std::fs::write(&rules_path, rules).expect("write rules");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             rule_files:\n  - '{}'\n\
             scrape_configs:\n  - job_name: chronik_raft_e2e\n    static_configs:\n      - targets: [{}]\n",
            rules_path.display(),
            targets.join(", ")
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write config");
        // A free port: bind 0, read it, release it (Prometheus binds it right after).
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        Self { child, dir, addr }
    }

    /// Waits (at most 30 s) until Prometheus answers `/-/ready`.
    pub(crate) fn wait_ready(&self) {
        let ready = wait_for(Duration::from_secs(30), || match http_get(self.addr, "/-/ready", &[]) {
            Ok((200, _)) => Some(()),
            _ => None,
        });
        assert!(ready.is_some(), "Prometheus not ready within 30 s; log:\n{}", self.log());
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- the scenario --------------------------------------------------------------------------

/// Alert states seen so far: first time each alert was seen pending and firing (since start).
pub(crate) struct AlertLog {
    pub(crate) prom: SocketAddr,
    pub(crate) start: Instant,
    pub(crate) pending: BTreeMap<String, f64>,
    pub(crate) firing: BTreeMap<String, (f64, String, String)>,
    pub(crate) phase: String,
}

impl AlertLog {
    /// An empty log of Prometheus at `prom`, from now, in phase `healthy`.
    pub(crate) fn new(prom: SocketAddr) -> Self {
        Self {
            prom,
            start: Instant::now(),
            pending: BTreeMap::new(),
            firing: BTreeMap::new(),
            phase: "healthy".to_owned(),
        }
    }

    /// Polls `/api/v1/alerts` once and records new states; returns the currently firing names.
    pub(crate) fn poll(&mut self) -> BTreeSet<String> {
        let at = self.start.elapsed().as_secs_f64();
        let mut now_firing = BTreeSet::new();
        for (name, labels, state) in alerts(self.prom).unwrap_or_default() {
            match state.as_str() {
                "pending" => {
                    self.pending.entry(name).or_insert(at);
                }
                "firing" => {
                    self.firing.entry(name.clone()).or_insert_with(|| (at, self.phase.clone(), labels));
                    now_firing.insert(name);
                }
                _ => {}
            }
        }
        now_firing
    }

    /// Polls until every alert of `names` has fired (now or earlier), bounded by `timeout`;
    /// returns the ones still missing.
    pub(crate) fn wait_firing(&mut self, names: &[&str], timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll();
            let missing: Vec<String> =
                names.iter().filter(|n| !self.firing.contains_key(**n)).map(|n| (*n).to_owned()).collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return missing;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Runs the two scenarios one after the other: each has a cluster ticking in real time and a
/// Prometheus, and the timings of each are easier to trust on 2 cores when alone.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

/// This scenario's turn (the other one waits), or `None` with a message when
/// `/usr/bin/prometheus` is missing outside CI (in CI that fails).
pub(crate) fn prometheus_turn() -> Option<MutexGuard<'static, ()>> {
    if !Path::new(PROMETHEUS).exists() {
        assert!(std::env::var_os("CI").is_none(), "{PROMETHEUS} is missing and CI is set");
        println!("SKIPPED: {PROMETHEUS} not found (set CI to make this a failure)");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}
