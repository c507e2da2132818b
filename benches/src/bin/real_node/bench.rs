//! The orchestrator: for each offered rate, one cluster of three node processes under load, and
//! rounds of two phases, recording on and recording off (switched at run time in every node, the
//! order alternating by round); CPU per applied proposal per node in each phase (`super::report`
//! prints it).
//!
//! Why phases in one cluster rather than a fresh cluster per run: CPU per proposal varies by
//! ±10 % between fresh clusters (start-up, how the loops happen to batch), while consecutive
//! phases of one cluster share all of that, so the A/B difference needs far fewer rounds.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::callgrind::{Callgrind, PhaseCounts};
use super::load::{Load, Rate};
use super::report::{print_busy, print_hibernated, print_idle, print_report, Measured, NodeSample, Sample};

/// Nodes in the cluster.
const NODES: usize = 3;
/// Wait after switching recording before a phase's first mark.
const SETTLE: Duration = Duration::from_millis(300);

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Offered rates, each measured in turn.
    pub rates: Vec<Rate>,
    /// A/B rounds per rate.
    pub rounds: u32,
    /// Load before the measured window (elections settled, caches and queues warm).
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
    /// Scrape interval of every node's `/metrics` while recording (from the window's start).
    pub scrape_every: Duration,
    /// Where the nodes' WALs go (on the disk under test: not a tmpfs).
    pub dir: PathBuf,
    /// Where to write the summary as TSV, if anywhere.
    pub summary: Option<PathBuf>,
    /// Groups of the idle cluster (0: none is run).
    pub idle_partitions: u32,
    /// Groups of the busy cluster (0: none is run).
    pub busy_partitions: u32,
    /// Proposals per second offered to the busy cluster's groups together, spread evenly (each
    /// node's client proposes to the groups it leads).
    pub busy_rate: u32,
    /// Run every node under callgrind, its counts dumped around each phase into a folder per
    /// cluster here (`super::callgrind`).
    pub callgrind: Option<PathBuf>,
}

/// Runs the plan, printing progress to stderr and the report (markdown) to stdout.
pub fn run(plan: &Plan) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut report = Vec::new();
    for (i, &rate) in plan.rates.iter().enumerate() {
        let dir = plan.dir.join(format!("rate{i}"));
        let mut cluster = Cluster::start(&exe, &dir, Some(rate), 1, plan)?;
        let measured = measure(&mut cluster, plan, &rate.name(), |sample| {
            format!(
                "{:.0} commits/s, leader {:.2} µs/proposal ({:.0} % of a core), followers {:.2} µs/proposal",
                sample.commits_per_second(),
                sample.leader().per_proposal(),
                sample.leader_load() * 100.0,
                sample.follower_per_proposal(),
            )
        });
        let scrapes = cluster.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
        report.push(Measured { rate, pairs: measured?, scrapes });
    }
    let mut tsv = print_report(plan, &report);
    if plan.busy_partitions > 0 {
        let dir = plan.dir.join("busy");
        let rate = Rate::Fixed(plan.busy_rate);
        let mut cluster = Cluster::start(&exe, &dir, Some(rate), plan.busy_partitions, plan)?;
        let name = format!("busy {} partitions at {}", plan.busy_partitions, rate.name());
        let measured = measure(&mut cluster, plan, &name, |sample| {
            format!(
                "{:.0} commits/s, {:.2} µs/proposal per node, {:.1} % of a core per node",
                sample.commits_per_second(),
                sample.cpu_per_proposal_per_node(),
                sample.node_load() * 100.0
            )
        });
        let scrapes = cluster.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
        tsv.push_str(&print_busy(plan, &measured?, &scrapes));
    }
    if plan.idle_partitions > 0 {
        let dir = plan.dir.join("idle");
        let mut cluster = Cluster::start(&exe, &dir, None, plan.idle_partitions, plan)?;
        let name = format!("idle {} partitions", plan.idle_partitions);
        let measured = measure(&mut cluster, plan, &name, |sample| {
            format!(
                "{:.3} µs per group tick, {:.1} % of a core per node",
                sample.cpu_per_group_tick(),
                sample.node_load() * 100.0
            )
        });
        let measured = measured?;
        // The same groups hibernated: no group ticks, so no heartbeats; what is left with
        // recording on is the scrapes.
        cluster.hibernate()?;
        let name = format!("hibernated {} partitions", plan.idle_partitions);
        let hibernated = measure(&mut cluster, plan, &name, |sample| {
            format!("{:.3} % of a core per node", sample.node_load() * 100.0)
        });
        let scrapes = cluster.stop()?;
        let _ = std::fs::remove_dir_all(&dir);
        tsv.push_str(&print_idle(plan, &measured, &scrapes));
        print_hibernated(plan, &hibernated?);
    }
    if let Some(path) = &plan.summary {
        std::fs::write(path, tsv)?;
    }
    Ok(())
}

/// A cluster's rounds: in each, a phase with recording on and one with it off, the order
/// alternating; `progress` describes a phase for the log (after `round N recording on|off: `).
fn measure(
    cluster: &mut Cluster,
    plan: &Plan,
    name: &str,
    progress: impl Fn(&Sample) -> String,
) -> io::Result<Vec<(Sample, Sample)>> {
    let mut pairs = Vec::new();
    for round in 0..plan.rounds {
        let order = if round % 2 == 0 { [true, false] } else { [false, true] };
        let mut pair = [None, None];
        for recording in order {
            let sample = cluster.phase(recording, plan.window, name, round)?;
            eprintln!(
                "{name} round {round} recording {}: {}",
                if recording { "on " } else { "off" },
                progress(&sample)
            );
            pair[usize::from(!recording)] = Some(sample);
        }
        if let [Some(on), Some(off)] = pair {
            pairs.push((on, off));
        }
    }
    Ok(pairs)
}

/// Three node processes under load, with the scraper.
struct Cluster {
    nodes: Vec<Process>,
    loads: Vec<Load>,
    recording: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    scraper: Option<thread::JoinHandle<Vec<usize>>>,
    callgrind: Option<Callgrind>,
}

impl Cluster {
    /// Starts the nodes (recording on) with `partitions` groups each, elects the leaders (node 1
    /// of partition 0; with more groups, partition `p` campaigns on node `p % 3 + 1`, and most
    /// elect it), starts the load (if any: with one group a client of node 1, with more a client
    /// of each node for the groups it campaigned for, the rate split between them) and warms up.
    fn start(
        exe: &PathBuf,
        dir: &std::path::Path,
        rate: Option<Rate>,
        partitions: u32,
        plan: &Plan,
    ) -> io::Result<Self> {
        let mut callgrind = match (&plan.callgrind, dir.file_name()) {
            (Some(root), Some(name)) => Some(Callgrind::new(&root.join(name))?),
            _ => None,
        };
        let mut nodes = Vec::new();
        for i in 0..NODES {
            let mut command = callgrind.as_ref().map_or_else(|| Command::new(exe), |c| c.command(exe, i + 1));
            let mut child = command
                .arg("node")
                .args(["--id", &(i + 1).to_string(), "--partitions", &partitions.to_string()])
                .arg("--dir")
                .arg(dir.join((i + 1).to_string()))
                .args(["--recording", "on"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()?;
            if let Some(callgrind) = &mut callgrind {
                callgrind.started(child.id());
            }
            let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
            let (Some(stdin), Some(stdout)) = (stdin, stdout) else { return Err(io::Error::other("no pipes")) };
            nodes.push(Process { child, stdin, stdout: BufReader::new(stdout) });
        }
        // Each node binds its own ports and says which (see `node::run`).
        let (mut raft, mut clients, mut metrics) = (Vec::new(), Vec::new(), Vec::new());
        for node in &mut nodes {
            let line = node.expect("listening ")?;
            let addrs: Vec<SocketAddr> = line.split_whitespace().skip(1).filter_map(|a| a.parse().ok()).collect();
            let [r, c, m] = addrs[..] else { return Err(io::Error::other(format!("bad line `{line}`"))) };
            raft.push(r);
            clients.push(c);
            metrics.push(m);
        }
        for node in &mut nodes {
            node.say(&format!("peers {}", join(&raft)))?;
        }
        let recording = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let mut cluster = Self { nodes, loads: Vec::new(), recording, stop, scraper: None, callgrind };
        for node in &mut cluster.nodes {
            node.expect("ready")?;
        }
        for node in &mut cluster.nodes {
            node.say("campaign")?;
        }
        // Each group's vote is persisted with an fsync of its own (a `Ready` per group), so
        // thousands of groups elect at the disk's pace: 30 s plus 20 ms per group (an idle
        // cluster of 5 000 groups once had 4 287 leaders after 30 s, and all of them within
        // 10 s in the next run).
        let deadline = Instant::now() + Duration::from_secs(30) + Duration::from_millis(20) * partitions;
        loop {
            let marks: Vec<NodeSample> = cluster.nodes.iter_mut().map(Process::mark).collect::<io::Result<_>>()?;
            let led: u64 = marks.iter().map(|m| m.leading).sum();
            // With one group the client proposes to node 1, which must lead p0; at thousands of
            // groups the nodes' first elections can go either way (a proposal to a node that
            // does not lead its group is forwarded to the leader).
            if (partitions > 1 || marks[0].leader) && led == u64::from(partitions.max(1)) {
                break;
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "leaders not elected: node 1 leads p0 {}, {led} groups led",
                    marks[0].leader
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
        if let Some(rate) = rate {
            let clients = if partitions > 1 { &clients[..] } else { &clients[..1] };
            let n = clients.len() as u32;
            for (i, &client) in (0..).zip(clients) {
                let led: Vec<u32> = (0..partitions.max(1)).filter(|p| p % n == i).collect();
                let share = match rate {
                    Rate::Fixed(r) => Rate::Fixed(r / n + u32::from(i < r % n)),
                    Rate::Saturation => Rate::Saturation,
                };
                cluster.loads.push(Load::start(client, led, share, u64::from(i) + 1)?);
            }
        }
        // Thousands of groups settle for longer after their elections (empty entries committed
        // everywhere, the first heartbeats' answers): at least 10 s.
        let warmup = if partitions > 1 { plan.warmup.max(Duration::from_secs(10)) } else { plan.warmup };
        thread::sleep(warmup);
        // Scrapes from the end of the warm-up: every group exists, as in the measured phases.
        let (recording, stop, every) = (Arc::clone(&cluster.recording), Arc::clone(&cluster.stop), plan.scrape_every);
        cluster.scraper = Some(thread::spawn(move || scrape_while_recording(&metrics, every, &recording, &stop)));
        Ok(cluster)
    }

    /// Hibernates every group of every node, with recording on (so that each group says so in
    /// its series), and lets the last heartbeats settle.
    fn hibernate(&mut self) -> io::Result<()> {
        for node in &mut self.nodes {
            node.say("recording on")?;
        }
        self.recording.store(true, Ordering::Release);
        thread::sleep(SETTLE);
        for node in &mut self.nodes {
            node.say("hibernate")?;
        }
        thread::sleep(Duration::from_secs(1));
        Ok(())
    }

    /// One measured phase of `window` with recording switched to `recording`, round `round` of
    /// the measurement `name`.
    fn phase(&mut self, recording: bool, window: Duration, name: &str, round: u32) -> io::Result<Sample> {
        for node in &mut self.nodes {
            node.say(if recording { "recording on" } else { "recording off" })?;
        }
        self.recording.store(recording, Ordering::Release);
        // Let the switch reach every loop before the phase starts.
        thread::sleep(SETTLE);
        if let Some(callgrind) = &self.callgrind {
            callgrind.zero()?;
        }
        let before: Vec<NodeSample> = self.nodes.iter_mut().map(Process::mark).collect::<io::Result<_>>()?;
        let start = Instant::now();
        thread::sleep(window);
        let after: Vec<NodeSample> = self.nodes.iter_mut().map(Process::mark).collect::<io::Result<_>>()?;
        let window = start.elapsed();
        let nodes = before
            .iter()
            .zip(&after)
            .map(|(b, a)| NodeSample {
                cpu_us: a.cpu_us - b.cpu_us,
                applied: a.applied - b.applied,
                leader: a.leader,
                messages: a.messages - b.messages,
                readies: a.readies - b.readies,
                ticks: a.ticks - b.ticks,
                leading: a.leading,
            })
            .collect::<Vec<_>>();
        if let Some(callgrind) = &mut self.callgrind {
            let counts: Vec<PhaseCounts> = nodes
                .iter()
                .map(|n| PhaseCounts { applied: n.applied, messages: n.messages, readies: n.readies, leader: n.leader })
                .collect();
            callgrind.dump(name, round, recording, &counts)?;
        }
        let sample = Sample { nodes, window };
        if !self.loads.is_empty() && sample.leader().applied == 0 {
            return Err(io::Error::other("no proposal applied in a phase"));
        }
        Ok(sample)
    }

    /// Stops the load, the scraper and the nodes; the scrapes' sizes.
    fn stop(mut self) -> io::Result<Vec<usize>> {
        self.loads.clear();
        self.stop.store(true, Ordering::Release);
        let scrapes = self.scraper.take().map(|s| s.join().unwrap_or_default()).unwrap_or_default();
        for node in self.nodes {
            node.stop()?;
        }
        Ok(scrapes)
    }
}

/// A running node process and its control pipes.
struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Process {
    fn say(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.stdin, "{line}")?;
        self.stdin.flush()
    }

    fn expect(&mut self, prefix: &str) -> io::Result<String> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                return Err(io::Error::other(format!("a node exited before `{prefix}`")));
            }
            if line.starts_with(prefix) {
                return Ok(line.trim().to_owned());
            }
        }
    }

    fn mark(&mut self) -> io::Result<NodeSample> {
        self.say("mark")?;
        let line = self.expect("mark ")?;
        let f: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        match f[..] {
            [cpu_us, applied, leader, messages, readies, ticks, leading] => {
                Ok(NodeSample { cpu_us, applied, leader: leader == 1, messages, readies, ticks, leading })
            }
            _ => Err(io::Error::other(format!("bad mark line `{line}`"))),
        }
    }

    fn stop(mut self) -> io::Result<()> {
        let _ = self.say("quit");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()
    }
}

fn join(addrs: &[SocketAddr]) -> String {
    addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Scrapes every node every `every` of time spent recording, until `stop`; the bytes of each
/// scrape.
fn scrape_while_recording(
    metrics: &[SocketAddr],
    every: Duration,
    recording: &AtomicBool,
    stop: &AtomicBool,
) -> Vec<usize> {
    const STEP: Duration = Duration::from_millis(20);
    let mut bytes = Vec::new();
    let mut due = Duration::ZERO;
    while !stop.load(Ordering::Acquire) {
        if recording.load(Ordering::Acquire) {
            if due.is_zero() {
                bytes.extend(metrics.iter().filter_map(|&addr| scrape(addr).ok()));
                due = every;
            }
            due = due.saturating_sub(STEP);
        }
        thread::sleep(STEP);
    }
    bytes
}

/// One scrape as Prometheus makes it (text format, gzip); the bytes received.
fn scrape(addr: SocketAddr) -> io::Result<usize> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain;version=0.0.4\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Err(io::Error::other("scrape failed"));
    }
    Ok(response.len())
}
