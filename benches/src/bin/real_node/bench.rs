//! The orchestrator: for each offered rate and round, one cluster with recording on and one
//! with recording off (the order alternating by round), each three fresh node processes; CPU
//! per applied proposal per node over a measured window; the report.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::load::{Load, Rate};

/// Nodes in the cluster.
const NODES: usize = 3;

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
}

/// One node's measurement over the window.
#[derive(Debug, Clone, Copy)]
struct NodeSample {
    cpu_us: u64,
    applied: u64,
    leader: bool,
}

impl NodeSample {
    /// CPU microseconds per applied proposal.
    fn per_proposal(self) -> f64 {
        self.cpu_us as f64 / self.applied.max(1) as f64
    }
}

/// One cluster's run.
#[derive(Debug, Clone)]
struct Sample {
    nodes: Vec<NodeSample>,
    window: Duration,
    /// Bytes of each scrape (gzip, as Prometheus asks), all nodes.
    scrapes: Vec<usize>,
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

    fn commits_per_second(&self) -> f64 {
        self.leader().applied as f64 / self.window.as_secs_f64()
    }

    /// CPU of the leader as a share of one core.
    fn leader_load(&self) -> f64 {
        self.leader().cpu_us as f64 / 1e6 / self.window.as_secs_f64()
    }
}

/// Runs the plan, printing progress to stderr and the report (markdown) to stdout.
pub fn run(plan: &Plan) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut report = Vec::new();
    for &rate in &plan.rates {
        let mut pairs = Vec::new();
        for round in 0..plan.rounds {
            let order = if round % 2 == 0 { [true, false] } else { [false, true] };
            let mut pair = [None, None];
            for recording in order {
                let sample = run_cluster(&exe, plan, rate, recording, round)?;
                eprintln!(
                    "{} round {round} recording {}: {:.0} commits/s, leader {:.2} µs/proposal ({:.0} % of a core), followers {:.2} µs/proposal",
                    rate.name(),
                    if recording { "on " } else { "off" },
                    sample.commits_per_second(),
                    sample.leader().per_proposal(),
                    sample.leader_load() * 100.0,
                    sample.follower_per_proposal(),
                );
                pair[usize::from(!recording)] = Some(sample);
            }
            if let [Some(on), Some(off)] = pair {
                pairs.push((on, off));
            }
        }
        report.push((rate, pairs));
    }
    print_report(plan, &report);
    Ok(())
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
            [cpu_us, applied, leader] => Ok(NodeSample { cpu_us, applied, leader: leader == 1 }),
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

fn free_addr() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn join(addrs: &[SocketAddr]) -> String {
    addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn run_cluster(exe: &PathBuf, plan: &Plan, rate: Rate, recording: bool, round: u32) -> io::Result<Sample> {
    let dir = plan.dir.join(format!("round{round}-{}", if recording { "on" } else { "off" }));
    let raft: Vec<SocketAddr> = (0..NODES).map(|_| free_addr()).collect::<io::Result<_>>()?;
    let clients: Vec<SocketAddr> = (0..NODES).map(|_| free_addr()).collect::<io::Result<_>>()?;
    let metrics: Vec<SocketAddr> = (0..NODES).map(|_| free_addr()).collect::<io::Result<_>>()?;
    let mut nodes = Vec::new();
    for i in 0..NODES {
        let mut child = Command::new(exe)
            .arg("node")
            .args(["--id", &(i + 1).to_string(), "--peers", &join(&raft)])
            .args(["--client", &clients[i].to_string(), "--metrics", &metrics[i].to_string()])
            .arg("--dir")
            .arg(dir.join((i + 1).to_string()))
            .args(["--recording", if recording { "on" } else { "off" }])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let (Some(stdin), Some(stdout)) = (stdin, stdout) else { return Err(io::Error::other("no pipes")) };
        nodes.push(Process { child, stdin, stdout: BufReader::new(stdout) });
    }
    let result = measure(&mut nodes, plan, rate, recording, &clients[0], &metrics, round);
    for node in nodes {
        node.stop()?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(
    nodes: &mut [Process],
    plan: &Plan,
    rate: Rate,
    recording: bool,
    leader_client: &SocketAddr,
    metrics: &[SocketAddr],
    round: u32,
) -> io::Result<Sample> {
    for node in nodes.iter_mut() {
        node.expect("ready")?;
    }
    nodes[0].say("campaign")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nodes[0].mark()?.leader {
        if Instant::now() > deadline {
            return Err(io::Error::other("node 1 did not become leader"));
        }
        thread::sleep(Duration::from_millis(50));
    }
    let load = Load::start(*leader_client, rate, u64::from(round) + 1)?;
    thread::sleep(plan.warmup);
    let before: Vec<NodeSample> = nodes.iter_mut().map(Process::mark).collect::<io::Result<_>>()?;
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = recording.then(|| {
        let (stop, metrics, every) = (Arc::clone(&stop), metrics.to_vec(), plan.scrape_every);
        thread::spawn(move || scrape_until(&metrics, every, &stop))
    });
    thread::sleep(plan.window);
    let after: Vec<NodeSample> = nodes.iter_mut().map(Process::mark).collect::<io::Result<_>>()?;
    let window = start.elapsed();
    stop.store(true, Ordering::Release);
    let scrapes = scraper.map(|s| s.join().unwrap_or_default()).unwrap_or_default();
    drop(load);
    let nodes = before
        .iter()
        .zip(&after)
        .map(|(b, a)| NodeSample { cpu_us: a.cpu_us - b.cpu_us, applied: a.applied - b.applied, leader: a.leader })
        .collect();
    Ok(Sample { nodes, window, scrapes })
}

/// Scrapes every node now and then every `every` until `stop`; the bytes of each scrape.
fn scrape_until(metrics: &[SocketAddr], every: Duration, stop: &AtomicBool) -> Vec<usize> {
    let mut bytes = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Acquire) {
        if Instant::now() >= next {
            bytes.extend(metrics.iter().filter_map(|&addr| scrape(addr).ok()));
            next += every;
        }
        thread::sleep(Duration::from_millis(20));
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

fn print_report(plan: &Plan, report: &[(Rate, Vec<(Sample, Sample)>)]) {
    println!(
        "{} rounds per rate, recording on and off interleaved; {} s warm-up, {} s measured; `/metrics` of every node scraped every {} s while recording (gzip); WALs in `{}`.",
        plan.rounds,
        plan.warmup.as_secs(),
        plan.window.as_secs(),
        plan.scrape_every.as_secs(),
        plan.dir.display(),
    );
    println!();
    println!("| offered | commits/s (off / on) | leader CPU, off | leader µs/proposal, off | follower µs/proposal, off | overhead leader: median (min … max) | overhead followers: median (min … max) | scrape bytes (gzip, per node) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (rate, pairs) in report {
        if pairs.is_empty() {
            continue;
        }
        let offs = || pairs.iter().map(|(_, off)| off);
        let ons = || pairs.iter().map(|(on, _)| on);
        let leader: Vec<f64> =
            pairs.iter().map(|(on, off)| on.leader().per_proposal() / off.leader().per_proposal() - 1.0).collect();
        let follower: Vec<f64> =
            pairs.iter().map(|(on, off)| on.follower_per_proposal() / off.follower_per_proposal() - 1.0).collect();
        let scrapes: Vec<f64> = ons().flat_map(|s| s.scrapes.iter().map(|&b| b as f64)).collect();
        let (l_lo, l_hi) = spread(&leader);
        let (f_lo, f_hi) = spread(&follower);
        println!(
            "| {} | {:.0} / {:.0} | {:.0} % of a core | {:.2} | {:.2} | {:+.2} % ({:+.2} … {:+.2}) | {:+.2} % ({:+.2} … {:+.2}) | {:.0} |",
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
            median(scrapes),
        );
    }
}
