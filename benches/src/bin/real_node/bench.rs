//! The orchestrator: for each offered rate, one cluster of three node processes under load, and
//! rounds of two phases, recording on and recording off (switched at run time in every node, the
//! order alternating by round); CPU per applied proposal per node in each phase; the report.
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

/// One node's measurement over the window.
#[derive(Debug, Clone, Copy)]
struct NodeSample {
    cpu_us: u64,
    applied: u64,
    leader: bool,
    messages: u64,
    readies: u64,
    /// Group ticks (one per group per tick).
    ticks: u64,
    /// Groups led at the end.
    leading: u64,
}

impl NodeSample {
    /// CPU microseconds per applied proposal.
    fn per_proposal(self) -> f64 {
        self.cpu_us as f64 / self.applied.max(1) as f64
    }

    /// Raft messages (stepped and sent) and ready-loop turns per applied proposal.
    fn hooks_per_proposal(self) -> (f64, f64) {
        let n = self.applied.max(1) as f64;
        (self.messages as f64 / n, self.readies as f64 / n)
    }
}

/// One phase of a cluster's run.
#[derive(Debug, Clone)]
struct Sample {
    nodes: Vec<NodeSample>,
    window: Duration,
}

impl Sample {
    fn leader(&self) -> NodeSample {
        self.nodes.iter().copied().find(|n| n.leader).unwrap_or(self.nodes[0])
    }

    /// Mean over the followers.
    fn follower_per_proposal(&self) -> f64 {
        let f: Vec<f64> = self.nodes.iter().filter(|n| !n.leader).map(|n| n.per_proposal()).collect();
        f.iter().sum::<f64>() / f.len().max(1) as f64
    }

    /// CPU microseconds of all nodes per proposal (each applied it).
    fn cpu_per_proposal(&self) -> f64 {
        self.nodes.iter().map(|n| n.cpu_us as f64).sum::<f64>() / self.leader().applied.max(1) as f64
    }

    fn commits_per_second(&self) -> f64 {
        self.leader().applied as f64 / self.window.as_secs_f64()
    }

    /// CPU of the leader as a share of one core.
    fn leader_load(&self) -> f64 {
        self.leader().cpu_us as f64 / 1e6 / self.window.as_secs_f64()
    }

    /// CPU microseconds per proposal, the mean of the nodes.
    fn cpu_per_proposal_per_node(&self) -> f64 {
        self.cpu_per_proposal() / self.nodes.len().max(1) as f64
    }

    /// Raft messages and ready-loop turns per proposal, the mean of the nodes.
    fn hooks_per_proposal_per_node(&self) -> (f64, f64) {
        let n = self.nodes.len().max(1) as f64;
        let (m, t) =
            self.nodes.iter().map(|node| node.hooks_per_proposal()).fold((0.0, 0.0), |(m, t), (a, b)| (m + a, t + b));
        (m / n, t / n)
    }

    /// CPU microseconds of all nodes per group tick (an idle cluster's unit of work).
    fn cpu_per_group_tick(&self) -> f64 {
        let cpu: u64 = self.nodes.iter().map(|n| n.cpu_us).sum();
        let ticks: u64 = self.nodes.iter().map(|n| n.ticks).sum();
        cpu as f64 / ticks.max(1) as f64
    }

    /// CPU of all nodes, mean share of one core per node.
    fn node_load(&self) -> f64 {
        let cpu: u64 = self.nodes.iter().map(|n| n.cpu_us).sum();
        cpu as f64 / 1e6 / self.window.as_secs_f64() / self.nodes.len() as f64
    }
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

/// Prints the idle cluster's report; returns its TSV summary line (`idle-<P>`, µs of CPU per
/// group tick with recording off, twice, overhead of all nodes' CPU in %, its 2 SE).
fn print_idle(plan: &Plan, pairs: &[(Sample, Sample)], scrapes: &[usize]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let p = plan.idle_partitions;
    let off: Vec<f64> = pairs.iter().map(|(_, off)| off.cpu_per_group_tick()).collect();
    let load: Vec<f64> = pairs.iter().map(|(_, off)| off.node_load()).collect();
    let all: Vec<f64> =
        pairs.iter().map(|(on, off)| on.cpu_per_group_tick() / off.cpu_per_group_tick() - 1.0).collect();
    let (mean, error) = mean_and_error(&all);
    let (lo, hi) = spread(&all);
    println!();
    println!(
        "Idle partitions: one cluster of 3 node processes, each a replica of {p} groups (leaders spread over the nodes), no client: every group ticks every 100 ms and its leader heartbeats every 3 ticks over the nodes' TCP connections. The nodes export in the large-node mode (`Aggregation::Unhealthy`), as the guide sets up thousands of partitions. Same rounds and phases as above; CPU of all nodes per group tick."
    );
    println!();
    println!("| groups per node | CPU per node, off | µs per group tick, off | overhead, all nodes: median (min … max) | mean ± 2 SE | scrape bytes (gzip, per node) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {p} | {:.1} % of a core | {:.3} | {:+.2} % ({:+.2} … {:+.2}) | {:+.2} % ± {:.2} | {:.0} |",
        median(load) * 100.0,
        median(off.clone()),
        median(all.clone()) * 100.0,
        lo * 100.0,
        hi * 100.0,
        mean * 100.0,
        2.0 * error * 100.0,
        median(scrapes.iter().map(|&b| b as f64).collect()),
    );
    let off = median(off);
    format!("idle-{p}\t{off:.4}\t{off:.4}\t{:.4}\t{:.4}\n", mean * 100.0, 2.0 * error * 100.0)
}

/// Prints the busy cluster's report; returns its TSV summary line (`busy-<P>-<R>`, µs of CPU per
/// proposal per node with recording off, twice, overhead of all nodes' CPU in %, its 2 SE).
fn print_busy(plan: &Plan, pairs: &[(Sample, Sample)], scrapes: &[usize]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let (p, r) = (plan.busy_partitions, plan.busy_rate);
    let offs = || pairs.iter().map(|(_, off)| off);
    let ons = || pairs.iter().map(|(on, _)| on);
    let off = median(offs().map(Sample::cpu_per_proposal_per_node).collect());
    let all: Vec<f64> = pairs.iter().map(|(on, off)| on.cpu_per_proposal() / off.cpu_per_proposal() - 1.0).collect();
    let (mean, error) = mean_and_error(&all);
    let (lo, hi) = spread(&all);
    println!();
    println!(
        "Busy partitions: one cluster of 3 node processes, each a replica of {p} groups (leaders spread over the nodes, the large-node export mode), and a client per node offering proposals of 256 B–1 KiB to the groups that node leads, in turn: {r} proposals/s in all, {:.1} per group per second. Each group's turn finds its state cold, as at a node with thousands of partitions. Same rounds and phases as above; CPU of all nodes per proposal (each node applies every proposal).",
        f64::from(r) / f64::from(p.max(1))
    );
    println!();
    println!("| groups per node | offered | commits/s (off / on) | CPU per node, off | µs per proposal per node, off | overhead, all nodes: median (min … max) | mean ± 2 SE | messages / turns per proposal per node | scrape bytes (gzip, per node) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {p} | {r}/s | {:.0} / {:.0} | {:.1} % of a core | {off:.2} | {:+.2} % ({:+.2} … {:+.2}) | {:+.2} % ± {:.2} | {:.2} / {:.3} | {:.0} |",
        median(offs().map(Sample::commits_per_second).collect()),
        median(ons().map(Sample::commits_per_second).collect()),
        median(offs().map(Sample::node_load).collect()) * 100.0,
        median(all.clone()) * 100.0,
        lo * 100.0,
        hi * 100.0,
        mean * 100.0,
        2.0 * error * 100.0,
        median(offs().map(|s| s.hooks_per_proposal_per_node().0).collect()),
        median(offs().map(|s| s.hooks_per_proposal_per_node().1).collect()),
        median(scrapes.iter().map(|&b| b as f64).collect()),
    );
    format!("busy-{p}-{r}\t{off:.4}\t{off:.4}\t{:.4}\t{:.4}\n", mean * 100.0, 2.0 * error * 100.0)
}

/// Prints the hibernated cluster's report: CPU per node, recording off and on (the on phases
/// include the scrapes, the off phases have none), and the difference in share of a core.
fn print_hibernated(plan: &Plan, pairs: &[(Sample, Sample)]) {
    if pairs.is_empty() {
        return;
    }
    let p = plan.idle_partitions;
    let on: Vec<f64> = pairs.iter().map(|(on, _)| on.node_load()).collect();
    let off: Vec<f64> = pairs.iter().map(|(_, off)| off.node_load()).collect();
    let all: Vec<f64> = pairs.iter().map(|(on, off)| on.node_load() - off.node_load()).collect();
    let (mean, error) = mean_and_error(&all);
    let (lo, hi) = spread(&all);
    println!();
    println!(
        "The same cluster with every group hibernated (`InstrumentedNode::hibernate`, no group ticked: a node that stops ticking its idle groups, as TiKV does with its regions; the loop still wakes every 100 ms). The phases with recording on include the scrapes (every {} s of recording), the off phases have none. CPU per node, as a share of one core.",
        plan.scrape_every.as_secs()
    );
    println!();
    println!("| groups per node | CPU per node, off | on | on − off: median (min … max) | mean ± 2 SE |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {p} | {:.4} % | {:.4} % | {:+.4} % ({:+.4} … {:+.4}) | {:+.4} % ± {:.4} |",
        median(off) * 100.0,
        median(on) * 100.0,
        median(all.clone()) * 100.0,
        lo * 100.0,
        hi * 100.0,
        mean * 100.0,
        2.0 * error * 100.0,
    );
}

/// One rate's results.
struct Measured {
    rate: Rate,
    pairs: Vec<(Sample, Sample)>,
    /// Bytes of each scrape (gzip, as Prometheus asks), all nodes.
    scrapes: Vec<usize>,
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// The mean and its standard error: the A/B's noise floor is about two standard errors.
fn mean_and_error(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, (var / n).sqrt())
}

/// Prints the markdown report; returns its summary as TSV lines (`rate`, leader and follower µs
/// per proposal with recording off, overhead of all nodes' CPU in %, its 2 SE).
fn print_report(plan: &Plan, report: &[Measured]) -> String {
    println!(
        "One cluster of 3 node processes per offered rate; {} rounds, each a {} s phase with recording on and one with it off (order alternating, switched at run time in every node); {} s warm-up; `/metrics` of every node scraped (gzip) every {} s of recording time; WALs in `{}`.",
        plan.rounds,
        plan.window.as_secs(),
        plan.warmup.as_secs(),
        plan.scrape_every.as_secs(),
        plan.dir.display(),
    );
    println!();
    println!("| offered | commits/s (off / on) | leader CPU, off | leader µs/proposal, off | follower µs/proposal, off | overhead leader: median (min … max) | overhead followers: median (min … max) | overhead, all nodes: mean ± 2 SE | leader messages / turns per proposal | scrape bytes (gzip, per node) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut tsv = String::new();
    for Measured { rate, pairs, scrapes } in report {
        if pairs.is_empty() {
            continue;
        }
        let offs = || pairs.iter().map(|(_, off)| off);
        let ons = || pairs.iter().map(|(on, _)| on);
        let leader: Vec<f64> =
            pairs.iter().map(|(on, off)| on.leader().per_proposal() / off.leader().per_proposal() - 1.0).collect();
        let follower: Vec<f64> =
            pairs.iter().map(|(on, off)| on.follower_per_proposal() / off.follower_per_proposal() - 1.0).collect();
        let all: Vec<f64> =
            pairs.iter().map(|(on, off)| on.cpu_per_proposal() / off.cpu_per_proposal() - 1.0).collect();
        let (all_mean, all_error) = mean_and_error(&all);
        let (l_lo, l_hi) = spread(&leader);
        let (f_lo, f_hi) = spread(&follower);
        println!(
            "| {} | {:.0} / {:.0} | {:.0} % of a core | {:.2} | {:.2} | {:+.2} % ({:+.2} … {:+.2}) | {:+.2} % ({:+.2} … {:+.2}) | {:+.2} % ± {:.2} | {:.2} / {:.3} | {:.0} |",
            rate.name(),
            median(offs().map(Sample::commits_per_second).collect()),
            median(ons().map(Sample::commits_per_second).collect()),
            median(offs().map(Sample::leader_load).collect()) * 100.0,
            median(offs().map(|s| s.leader().per_proposal()).collect()),
            median(offs().map(Sample::follower_per_proposal).collect()),
            median(leader.clone()) * 100.0,
            l_lo * 100.0,
            l_hi * 100.0,
            median(follower.clone()) * 100.0,
            f_lo * 100.0,
            f_hi * 100.0,
            all_mean * 100.0,
            2.0 * all_error * 100.0,
            median(offs().map(|s| s.leader().hooks_per_proposal().0).collect()),
            median(offs().map(|s| s.leader().hooks_per_proposal().1).collect()),
            median(scrapes.iter().map(|&b| b as f64).collect()),
        );
        tsv.push_str(&format!(
            "{}\t{:.3}\t{:.3}\t{:.4}\t{:.4}\n",
            rate.name(),
            median(offs().map(|s| s.leader().per_proposal()).collect()),
            median(offs().map(Sample::follower_per_proposal).collect()),
            all_mean * 100.0,
            2.0 * all_error * 100.0,
        ));
    }
    tsv
}
