//! A live raft-rs cluster in one process, every node serving its own `/metrics`, with faults on
//! a schedule.
//!
//! ```text
//! cargo run --release -p raft-metrics-raftrs --example cluster -- \
//!     [--addr 127.0.0.1:9898] [--partitions 8] [--nodes 3] [--duration SECS] [--fault-every SECS] \
//!     [--rate N] [--aggregate | --unhealthy-only]
//! curl -s 127.0.0.1:9898/metrics | promtool check metrics
//! ```
//!
//! Node `i` serves its registry on port `base + i - 1`; a node that joins (then leaves) a group
//! serves on `base + nodes` while it exists. A crashed node's endpoint is down until it restarts
//! (with a fresh registry, as a new process). Prometheus tells the nodes apart by `instance`, as
//! it would in production, so every scrape is a real node's exposition: no label rewriting, no
//! colliding series. Runs until Ctrl-C or `--duration`.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft_metrics::http::Endpoints;
use raft_metrics::raft::Aggregation;
use raft_metrics_raftrs::sim::{proposal, Cluster, ClusterConfig, HostStatus};

/// Logical tick length: raft-rs elections take 10+ ticks, heartbeats every 2.
const TICK: Duration = Duration::from_millis(10);
/// Entries each log keeps behind its applied index when trimmed for memory.
const RETAIN: u64 = 2000;

struct Args {
    addr: SocketAddr,
    partitions: u32,
    nodes: u64,
    duration: Option<Duration>,
    fault_every: Duration,
    rate: u32,
    aggregation: Aggregation,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        addr: "127.0.0.1:9898".parse()?,
        partitions: 8,
        nodes: 3,
        duration: None,
        fault_every: Duration::from_secs(2),
        rate: 200,
        aggregation: Aggregation::Partition,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value()?.parse()?,
            "--partitions" => args.partitions = value()?.parse()?,
            "--nodes" => args.nodes = value()?.parse()?,
            "--duration" => args.duration = Some(Duration::from_secs_f64(value()?.parse()?)),
            "--fault-every" => args.fault_every = Duration::from_secs_f64(value()?.parse()?),
            "--rate" => args.rate = value()?.parse()?,
            "--aggregate" => args.aggregation = Aggregation::Node,
            "--unhealthy-only" => args.aggregation = Aggregation::Unhealthy,
            "-h" | "--help" => {
                println!(
                    "usage: cluster [--addr IP:PORT] [--partitions N] [--nodes N] [--duration SECS] \
                     [--fault-every SECS] [--rate PROPOSALS_PER_PARTITION_PER_SEC] [--aggregate | --unhealthy-only]\n\
                     --aggregate: node-wide series (Aggregation::Node) instead of per-partition ones\n\
                     --unhealthy-only: node-wide series plus the gauges of unhealthy partitions \
                     (Aggregation::Unhealthy), for thousands of partitions"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.nodes < 3 || args.partitions == 0 {
        return Err("need --nodes >= 3 and --partitions >= 1".into());
    }
    Ok(args)
}

/// The faults, one step per `--fault-every`, rotating over the partitions.
#[derive(Default)]
struct Faults {
    step: u32,
    partition: u32,
    crashed: Option<u64>,
    paused: Option<u64>,
    cut: Option<(u64, u64)>,
    joined: Option<u64>,
    slow: Option<u64>,
    last: String,
    applied: u32,
}

impl Faults {
    const STEPS: u32 = 12;
    /// The slow-disk fault: every log append of the node takes this much longer (the whole
    /// simulated cluster runs on one thread, so it slows down too, for one fault period).
    const SLOW_DISK: Duration = Duration::from_millis(20);

    fn next(&mut self, c: &mut Cluster, at: f64) {
        let p = self.partition;
        let leader = c.leader(p);
        let follower = leader.and_then(|l| c.members(p).into_iter().find(|&n| n != l && n <= c.config().nodes));
        let what = match (self.step, leader, follower) {
            (0, Some(l), _) => {
                c.crash(l);
                self.crashed = Some(l);
                format!("crash n{l} (leader of p{p})")
            }
            (1, ..) => match self.crashed.take() {
                Some(n) => match c.restart(n) {
                    Ok(()) => format!("restart n{n}"),
                    Err(e) => format!("restart n{n} failed: {e}"),
                },
                None => "nothing to restart".to_owned(),
            },
            (2 | 6, _, Some(f)) => {
                c.pause(f);
                self.paused = Some(f);
                if self.step == 2 {
                    format!("pause n{f} (follower of p{p})")
                } else {
                    format!("pause n{f} (follower of p{p}, to fall behind a compaction)")
                }
            }
            (3, ..) => self.resume(c, "resume"),
            (4, Some(l), Some(f)) => {
                c.cut(l, f);
                self.cut = Some((l, f));
                format!("cut link n{l} <-> n{f}")
            }
            (5, ..) => match self.cut.take() {
                Some((a, b)) => {
                    c.heal(a, b);
                    format!("heal link n{a} <-> n{b}")
                }
                None => "nothing to heal".to_owned(),
            },
            (7, Some(l), _) => match c.compact(l, p, 0) {
                Ok(first) => {
                    let resumed = self.resume(c, "resume");
                    format!("compact n{l}/p{p} log to {first}, {resumed}: snapshot")
                }
                Err(e) => format!("compact failed: {e}"),
            },
            (8, Some(_), _) => {
                let n = c.next_node_id();
                match c.add_node(p, n) {
                    Ok(()) => {
                        self.joined = Some(n);
                        format!("add n{n} to p{p}")
                    }
                    Err(e) => format!("add node failed: {e}"),
                }
            }
            (9, ..) => match self.joined.take() {
                Some(n) => match c.remove_node(p, n) {
                    Ok(()) => format!("remove n{n} from p{p}"),
                    Err(e) => {
                        self.joined = Some(n);
                        format!("remove n{n} failed: {e}")
                    }
                },
                None => "nothing to remove".to_owned(),
            },
            (10, _, Some(f)) => {
                c.set_disk_latency(f, Self::SLOW_DISK);
                self.slow = Some(f);
                format!("slow disk on n{f}: +{} ms per append", Self::SLOW_DISK.as_millis())
            }
            (11, ..) => match self.slow.take() {
                Some(n) => {
                    c.set_disk_latency(n, Duration::ZERO);
                    format!("n{n}'s disk is fast again")
                }
                None => "no slow disk".to_owned(),
            },
            _ => format!("step {} skipped: p{p} has no leader or follower", self.step),
        };
        self.last = format!("{what} @{at:.1}s");
        self.applied += 1;
        self.step = (self.step + 1) % Self::STEPS;
        if self.step == 0 {
            self.partition = (self.partition + 1) % c.config().partitions;
        }
    }

    fn resume(&mut self, c: &mut Cluster, verb: &str) -> String {
        match self.paused.take() {
            Some(n) => {
                c.resume(n);
                format!("{verb} n{n}")
            }
            None => "nothing paused".to_owned(),
        }
    }
}

/// Serves every running node: node `n` on `base + n - 1`, a joining node on the slot after the
/// last (one at a time).
fn serve(endpoints: &mut Endpoints, c: &Cluster) -> Vec<(u64, std::io::Error)> {
    let running = c
        .node_ids()
        .into_iter()
        .filter(|&n| c.status(n) != Some(HostStatus::Crashed))
        .filter_map(|n| c.registry(n).map(|r| (n, r)));
    endpoints.sync(running)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    // Relaxed: the flag publishes nothing else; the loop sees it within a tick.
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed))?;

    let config = ClusterConfig {
        nodes: args.nodes,
        partitions: args.partitions,
        aggregation: args.aggregation,
        ..ClusterConfig::default()
    };
    let mut cluster = Cluster::new(config)?;
    let mut endpoints = Endpoints::new(args.addr).with_slots(args.nodes + 1);
    if let Some((n, e)) = serve(&mut endpoints, &cluster).into_iter().next() {
        return Err(format!("serving node {n} on {}: {e}", endpoints.addr(n)).into());
    }
    for n in 1..=args.nodes {
        println!("node {n}: http://{}/metrics", endpoints.addr(n));
    }
    println!("joining node: http://{}/metrics (while one exists)", endpoints.addr(args.nodes + 1));
    println!(
        "{} partitions x {} nodes, {} proposals/s per partition, a fault every {:.1}s; Ctrl-C to stop",
        args.partitions,
        args.nodes,
        args.rate,
        args.fault_every.as_secs_f64()
    );

    let start = Instant::now();
    let mut faults = Faults { last: "none yet".to_owned(), ..Faults::default() };
    let (mut next_tick, mut next_fault, mut next_report) =
        (start, start + args.fault_every, start + Duration::from_secs(1));
    let mut next_trim = start + Duration::from_secs(5);
    let (mut proposed, mut refused, mut key) = (0u64, 0u64, 0u16);
    let mut last_commits: u64 = 0;
    let per_tick = f64::from(args.rate) * TICK.as_secs_f64();
    let mut owed = 0.0f64;
    let value = [0x5a_u8; 64];

    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let elapsed = now - start;
        if args.duration.is_some_and(|d| elapsed >= d) {
            break;
        }
        owed += per_tick;
        while owed >= 1.0 {
            owed -= 1.0;
            for p in 0..args.partitions {
                key = key.wrapping_add(1) % 1024;
                match cluster.propose(p, proposal(key, &value)) {
                    Ok(_) => proposed += 1,
                    Err(_) => refused += 1,
                }
            }
        }
        cluster.tick();

        if now >= next_fault {
            faults.next(&mut cluster, elapsed.as_secs_f64());
            next_fault += args.fault_every;
        }
        if now >= next_trim {
            // Bounded memory: every log keeps RETAIN entries behind its applied index.
            let up: Vec<u64> =
                cluster.node_ids().into_iter().filter(|&n| cluster.status(n) == Some(HostStatus::Up)).collect();
            for n in up {
                for p in 0..args.partitions {
                    let _ = cluster.compact(n, p, RETAIN);
                }
            }
            next_trim += Duration::from_secs(5);
        }
        // A port a crashed node held may take a moment to free: retried at the next tick.
        serve(&mut endpoints, &cluster);
        if now >= next_report {
            let commits: u64 = (0..args.partitions).map(|p| cluster.commit_index(p)).sum();
            report(&cluster, &args, elapsed, commits - last_commits, &faults.last);
            last_commits = commits;
            next_report += Duration::from_secs(1);
        }

        next_tick += TICK;
        let now = Instant::now();
        if next_tick > now {
            std::thread::sleep(next_tick - now);
        } else {
            next_tick = now; // behind: do not try to catch up
        }
    }

    endpoints.shutdown();
    let commits: u64 = (0..args.partitions).map(|p| cluster.commit_index(p)).sum();
    println!(
        "done after {:.1}s: {} ticks, {proposed} proposals accepted, {refused} refused (no leader), \
         {commits} entries committed, {} faults",
        start.elapsed().as_secs_f64(),
        cluster.ticks(),
        faults.applied
    );
    Ok(())
}

/// Above this many partitions the status line counts leaders per node instead of naming each
/// partition's leader (at 2 000 partitions the list was a 30 KB line every second).
const LIST_LEADERS_UP_TO: u32 = 16;
/// How many leaderless partitions the status line names.
const NAME_LEADERLESS: usize = 5;

/// One line: leaders (per partition, or per node and the partitions without one), commit rate,
/// largest lag and where, last fault.
fn report(c: &Cluster, args: &Args, elapsed: Duration, commits: u64, fault: &str) {
    let leader: Vec<Option<u64>> = (0..args.partitions).map(|p| c.leader(p)).collect();
    let leaders = if args.partitions <= LIST_LEADERS_UP_TO {
        let each =
            leader.iter().enumerate().map(|(p, l)| l.map_or_else(|| format!("p{p}=-"), |l| format!("p{p}=n{l}")));
        each.collect::<Vec<_>>().join(" ")
    } else {
        summarize_leaders(&leader)
    };
    let lag = (0..args.partitions).filter_map(|p| c.max_lag(p).map(|(f, lag)| (lag, p, f))).max().map_or_else(
        || "-".to_owned(),
        // Where only when someone is behind: at 0 every follower ties.
        |(lag, p, f)| if lag == 0 { "0".to_owned() } else { format!("{lag} (p{p}->n{f})") },
    );
    let total = args.duration.map_or_else(String::new, |d| format!("/{}s", d.as_secs()));
    println!(
        "[{:>5.1}s{total}] leaders {leaders} | commits {commits}/s | max lag {lag} | last fault: {fault}",
        elapsed.as_secs_f64(),
    );
}

/// `n1=667 n2=666 n3=665, none: 2 (p17 p903)`: leaders per node, then the partitions without one.
fn summarize_leaders(leader: &[Option<u64>]) -> String {
    let mut per_node = std::collections::BTreeMap::<u64, usize>::new();
    let mut leaderless = Vec::new();
    for (p, l) in leader.iter().enumerate() {
        match l {
            Some(node) => *per_node.entry(*node).or_default() += 1,
            None => leaderless.push(p),
        }
    }
    let nodes: Vec<String> = per_node.iter().map(|(n, count)| format!("n{n}={count}")).collect();
    let mut line = nodes.join(" ");
    line.push_str(&format!(", none: {}", leaderless.len()));
    if !leaderless.is_empty() {
        let named: Vec<String> = leaderless.iter().take(NAME_LEADERLESS).map(|p| format!("p{p}")).collect();
        let more = if leaderless.len() > NAME_LEADERLESS { " …" } else { "" };
        line.push_str(&format!(" ({}{more})", named.join(" ")));
    }
    line
}
