//! The real-Prometheus harness of the adapters' end-to-end tests (`raft-metrics-raftrs` and
//! `raft-metrics-openraft`, `tests/prometheus_e2e*.rs`): the dashboard's expressions with
//! Grafana's variables filled in, the alert rules with their `for:` and long windows shortened,
//! Prometheus' HTTP API, a Prometheus child process in a temporary directory, and the log of
//! alert states. Not published: it exists so that each adapter's scenarios share one harness.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where Debian's `prometheus` package installs the server.
pub const PROMETHEUS: &str = "/usr/bin/prometheus";
/// The Grafana dashboard, from the workspace root.
pub const DASHBOARD: &str = "docs/grafana/chronik_raft_dashboard.json";
/// The recording and alerting rules, from the workspace root.
pub const RULES: &str = "docs/alerts/chronik_raft_alerts.yml";
/// The shortened `for:` of every alert in the rule copy.
pub const FOR: &str = "3s";
/// What the long range windows of the rule copy become.
pub const WINDOW: &str = "[30s]";
/// What `$__rate_interval` becomes in dashboard expressions.
pub const RATE_INTERVAL: &str = "30s";

/// The file at `path` from the workspace root (this crate sits right under it).
pub fn workspace_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// Locks `m`, through a poisoning panic (a failed scenario must still clean up).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Polls `f` every 250 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
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

/// Every panel target of the dashboard as (panel title, expression with the Grafana variables
/// substituted), rows' nested panels after the row's title.
pub fn dashboard_panels() -> Vec<(String, String)> {
    let dashboard: Value =
        serde_json::from_str(&workspace_file(DASHBOARD)).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"));
    let mut panels = Vec::new();
    collect_panels(&dashboard["panels"], &mut panels);
    assert!(panels.len() > 20, "found only {} panel expressions in {DASHBOARD}", panels.len());
    panels
}

fn collect_panels(list: &Value, out: &mut Vec<(String, String)>) {
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
pub fn grafana_to_promql(expr: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", RATE_INTERVAL)
        .replace("$__range", "5m")
        .replace("$topic", ".*")
        .replace("$partition", ".*")
}

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
pub fn compressed_rules() -> String {
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
pub fn alert_names(rules: &str) -> Vec<String> {
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

/// A GET to 127.0.0.1 with percent-encoded query parameters; returns (status code, body).
/// Bounded by a 10 s timeout.
pub fn http_get(addr: SocketAddr, path: &str, params: &[(&str, &str)]) -> Result<(u16, String), String> {
    let mut request = minreq::get(format!("http://{addr}{path}")).with_timeout(10);
    for (key, value) in params {
        request = request.with_param(*key, *value);
    }
    let response = request.send().map_err(|e| format!("GET {path}: {e}"))?;
    Ok((response.status_code, String::from_utf8_lossy(response.as_bytes()).into_owned()))
}

/// A Prometheus API call's JSON, if it answered 200 with `"status": "success"`.
pub fn api_get(prom: SocketAddr, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
    let (status, body) = http_get(prom, path, params)?;
    let json: Option<Value> = serde_json::from_str(&body).ok();
    match json {
        Some(json) if status == 200 && json["status"] == "success" => Ok(json),
        _ => Err(format!("HTTP {status}: {}", body.chars().take(300).collect::<String>())),
    }
}

/// The outcome of an instant query: `resultType` and the number of series (or 1 for a scalar).
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// `vector`, `matrix`, `scalar` or `string`.
    pub result_type: String,
    /// Series returned (1 for a scalar or string).
    pub series: usize,
}

/// An instant query.
pub fn query(prom: SocketAddr, expr: &str) -> Result<QueryResult, String> {
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
pub fn alerts(prom: SocketAddr) -> Result<Vec<(String, String, String)>, String> {
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

/// How many times [`Prometheus::start`] tries a port.
pub const START_ATTEMPTS: u32 = 5;

/// Waits (at most 30 s) until the Prometheus `child` answers `/-/ready` on `addr`, or exits.
fn wait_ready(child: &mut Child, addr: SocketAddr) -> Readiness {
    wait_for(Duration::from_secs(30), || {
        if let Ok((200, _)) = http_get(addr, "/-/ready", &[]) {
            return Some(Readiness::Ready);
        }
        matches!(child.try_wait(), Ok(Some(_))).then_some(Readiness::Exited)
    })
    .unwrap_or(Readiness::Late)
}

/// How a Prometheus start ended.
enum Readiness {
    Ready,
    /// It exited first (most likely its port was taken).
    Exited,
    /// Neither within the wait.
    Late,
}

/// The Prometheus child and its temporary directory: killed and removed on drop.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    /// Where its HTTP API listens.
    pub addr: SocketAddr,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`) every second under the rule file
    /// `rules`, on a free 127.0.0.1 port, and waits (at most 30 s) until it answers `/-/ready`.
    ///
    /// The port is picked by binding port 0 and releasing it, so another process can take it
    /// before Prometheus binds it (tests running beside this one bind and connect all the
    /// time); Prometheus then exits, and it is started again on another port, up to
    /// [`START_ATTEMPTS`] times.
    pub fn start(targets: &[String], rules: &str) -> Self {
        Self::start_on(targets, rules, || {
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
        })
    }

    /// [`start`](Self::start) on the ports `port` hands out, one per attempt.
    fn start_on(targets: &[String], rules: &str, mut port: impl FnMut() -> u16) -> Self {
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
        let log_path = dir.join("prometheus.log");
        for attempt in 1..=START_ATTEMPTS {
            let addr = SocketAddr::from(([127, 0, 0, 1], port()));
            let log = std::fs::File::create(&log_path).expect("log file");
            let mut child = Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn prometheus");
            let readiness = wait_ready(&mut child, addr);
            if let (Readiness::Exited, true) = (&readiness, attempt < START_ATTEMPTS) {
                // Reaped by `wait_ready`; the directory stays for the next attempt.
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                eprintln!("Prometheus exited before it was ready on {addr} (attempt {attempt}):\n{log}");
                continue;
            }
            // Killed and cleaned up on drop, also when this panics.
            let prom = Self { child, dir, addr };
            match readiness {
                Readiness::Ready => return prom,
                Readiness::Exited => {
                    panic!("Prometheus exited before it was ready, {attempt} times; log:\n{}", prom.log())
                }
                Readiness::Late => panic!("Prometheus not ready within 30 s; log:\n{}", prom.log()),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// What Prometheus logged (warnings and errors), for failure messages.
    pub fn log(&self) -> String {
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

/// Alert states seen so far: first time each alert was seen pending and firing (since start).
#[derive(Debug)]
pub struct AlertLog {
    /// The Prometheus polled.
    pub prom: SocketAddr,
    /// Time zero of the log.
    pub start: Instant,
    /// Seconds since `start` at which each alert was first seen pending.
    pub pending: BTreeMap<String, f64>,
    /// Per alert first seen firing: seconds since `start`, the phase then, its labels.
    pub firing: BTreeMap<String, (f64, String, String)>,
    /// The scenario's current phase, recorded with each first firing.
    pub phase: String,
}

impl AlertLog {
    /// An empty log of Prometheus at `prom`, from now, in `phase`.
    pub fn new(prom: SocketAddr, phase: &str) -> Self {
        Self { prom, start: Instant::now(), pending: BTreeMap::new(), firing: BTreeMap::new(), phase: phase.to_owned() }
    }

    /// Polls `/api/v1/alerts` once and records new states; returns the currently firing names.
    pub fn poll(&mut self) -> BTreeSet<String> {
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
    pub fn wait_firing(&mut self, names: &[&str], timeout: Duration) -> Vec<String> {
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

/// The alerts each fault of the adapters' per-partition scenarios must fire (each adapter causes
/// the fault its own way: raft-rs pauses a node, openraft isolates one).
pub mod faults {
    /// A node cut off from its peers while another's apply stalls: its followers lag (a burst
    /// past 5 000 entries, then past 30 s), sends to it fail, the partition it led elects a new
    /// leader while it still claims the old leadership, the stalled node's apply lag stays high.
    pub const NODE_CUT_OFF: &[&str] = &[
        "ChronikRaftFollowerLagging",
        "ChronikRaftPeerSendFailures",
        "ChronikRaftRpcFailures",
        "ChronikRaftMultipleLeaders",
        "ChronikRaftFollowerLaggingTime",
        "ChronikRaftApplyLagging",
    ];
    /// Two of three nodes crashed, the third adding a member (a configuration change that
    /// cannot commit), clients refused by it.
    pub const TWO_OF_THREE_DOWN: &[&str] = &[
        "ChronikRaftNoLeader",
        "ChronikRaftInsufficientMembers",
        "ChronikRaftProposalFailures",
        "ChronikRaftConfigChangeStuck",
    ];
    /// A partition's leader crashed five times in a row.
    pub const LEADER_CHURN: &[&str] = &["ChronikRaftHighLeaderChanges"];
    /// Every snapshot sent to a follower behind a compaction fails.
    pub const SNAPSHOTS_FAIL: &[&str] = &["ChronikRaftSnapshotTransferFailures"];
    /// An application family over its label-set bound.
    pub const CARDINALITY: &[&str] = &["ChronikRaftDroppedLabelSets"];
    /// The latency alerts: a scenario of their own (one node's disk, apply and network slowed),
    /// since their `for` outlasts the others' faults.
    pub const SLOW_NODE: &[&str] = &[
        "ChronikRaftHighFsyncLatency",
        "ChronikRaftHighApplyLatency",
        "ChronikRaftHighCommitLatency",
        "ChronikRaftPeerCommunicationSlow",
    ];
}

/// The panel expressions without series in the healthy phase. Their series appear with an
/// event (a snapshot, a configuration change, an RPC error) and fall out of the panel's window
/// (`[30s]`) soon after, so they are checked after every fault, not once at the end: a fault
/// that happened to take longer used to leave an earlier one's event outside the window.
#[derive(Debug)]
pub struct DeferredPanels {
    prom: SocketAddr,
    panels: Vec<Deferred>,
}

/// One deferred panel.
#[derive(Debug)]
struct Deferred {
    title: String,
    expr: String,
    /// Once it had data: the phase then and the result.
    seen: Option<(String, QueryResult)>,
}

impl DeferredPanels {
    /// Panels `(title, expression)` of Prometheus at `prom`, none seen with data yet.
    pub fn new(prom: SocketAddr, panels: impl IntoIterator<Item = (String, String)>) -> Self {
        let panels = panels.into_iter().map(|(title, expr)| Deferred { title, expr, seen: None }).collect();
        Self { prom, panels }
    }

    /// How many panels were deferred.
    pub fn len(&self) -> usize {
        self.panels.len()
    }

    /// Whether no panel was deferred.
    pub fn is_empty(&self) -> bool {
        self.panels.is_empty()
    }

    /// Queries each panel still without data once; records the ones that have data now.
    pub fn check(&mut self, phase: &str) {
        for panel in self.panels.iter_mut().filter(|p| p.seen.is_none()) {
            let Deferred { title, expr, .. } = &panel;
            let r = query(self.prom, expr).unwrap_or_else(|e| panic!("panel {title:?}: {expr}: {e}"));
            if r.series > 0 {
                panel.seen = Some((phase.to_owned(), r));
            }
        }
    }

    /// The result of `expr` when it first had data, if it did.
    pub fn seen(&self, expr: &str) -> Option<&QueryResult> {
        self.panels.iter().find(|p| p.expr == expr).and_then(|p| p.seen.as_ref()).map(|(_, r)| r)
    }

    /// `(title, expression)` of the panels that never had data.
    pub fn still_empty(&self) -> Vec<(&str, &str)> {
        self.panels.iter().filter(|p| p.seen.is_none()).map(|p| (p.title.as_str(), p.expr.as_str())).collect()
    }

    /// One line per panel: its title and after which phase it had data (or `STILL EMPTY`).
    pub fn report(&self) -> Vec<String> {
        self.panels
            .iter()
            .map(|p| {
                let fate = p
                    .seen
                    .as_ref()
                    .map_or_else(|| "STILL EMPTY".to_owned(), |(phase, _)| format!("data after [{phase}]"));
                format!("deferred panel {:?}: {fate}", p.title)
            })
            .collect()
    }
}

/// Runs the scenarios of a test binary one after the other when one process runs them (a
/// developer's `cargo test`): each has a cluster ticking in real time and a Prometheus, and on a
/// loaded 2-core machine one at a time leaves the most room. `scripts/check.sh` starts each
/// scenario in a process of its own, side by side: they mostly wait on scrapes and alert timers.
static SERIAL: Mutex<()> = Mutex::new(());

/// This scenario's turn (the other one waits), or `None` with a message when
/// `/usr/bin/prometheus` is missing outside CI (in CI that fails).
pub fn prometheus_turn() -> Option<MutexGuard<'static, ()>> {
    if !Path::new(PROMETHEUS).exists() {
        assert!(std::env::var_os("CI").is_none(), "{PROMETHEUS} is missing and CI is set");
        println!("SKIPPED: {PROMETHEUS} not found (set CI to make this a failure)");
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port taken before Prometheus binds it: the start goes on with another.
    #[test]
    fn a_taken_port_is_retried_with_another() {
        if !Path::new(PROMETHEUS).exists() {
            assert!(std::env::var_os("CI").is_none(), "{PROMETHEUS} is required in CI");
            eprintln!("{PROMETHEUS} not found: skipping");
            return;
        }
        let squatter = TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken = squatter.local_addr().expect("addr").port();
        let mut ports =
            vec![TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free").port(), taken];
        let prom = Prometheus::start_on(&[], "groups: []\n", || ports.pop().expect("at most two attempts"));
        assert_ne!(prom.addr.port(), taken);
        assert!(ports.is_empty(), "the taken port was tried first");
        assert!(matches!(http_get(prom.addr, "/-/ready", &[]), Ok((200, _))));
    }
}
