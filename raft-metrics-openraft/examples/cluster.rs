//! A live openraft cluster in one process, every node serving its own `/metrics`, with faults on
//! a schedule.
//!
//! ```text
//! cargo run --release -p raft-metrics-openraft --example cluster -- \
//!     [--port 9916] [--partitions 3] [--nodes 3] [--duration SECS] [--fault-every SECS] [--rate N]
//! curl -s 127.0.0.1:9916/metrics | promtool check metrics
//! ```
//!
//! Node `i` serves its registry on `127.0.0.1:port + i - 1` (9916, 9917, 9918 by default; the
//! raft-rs demo uses 9898 and up); node 4, which joins and leaves, on `port + 3` while it runs. A
//! crashed node's endpoint is down until it restarts with a fresh registry, as a new process
//! would. Runs until Ctrl-C or `--duration`.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use raft_metrics_openraft::sim::{Cluster, ClusterConfig, Exporters};

/// The driving loop's period: proposals are started every 10 ms.
const STEP: Duration = Duration::from_millis(10);
/// How long a client waits for a write before counting it as timed out.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);
/// The node that joins and leaves.
const JOINER: u64 = 4;

struct Args {
    port: u16,
    partitions: u32,
    nodes: u64,
    duration: Option<Duration>,
    fault_every: Duration,
    rate: u64,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args =
        Args { port: 9916, partitions: 3, nodes: 3, duration: None, fault_every: Duration::from_secs(2), rate: 200 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse()?,
            "--partitions" => args.partitions = value()?.parse()?,
            "--nodes" => args.nodes = value()?.parse()?,
            "--duration" => args.duration = Some(Duration::from_secs_f64(value()?.parse()?)),
            "--fault-every" => args.fault_every = Duration::from_secs_f64(value()?.parse()?),
            "--rate" => args.rate = value()?.parse()?,
            "-h" | "--help" => {
                println!(
                    "usage: cluster [--port BASE] [--partitions N] [--nodes N] [--duration SECS] \
                     [--fault-every SECS] [--rate WRITES_PER_PARTITION_PER_SEC]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if args.nodes != 3 || args.partitions == 0 {
        return Err("the fault schedule needs --nodes 3 and --partitions >= 1".into());
    }
    Ok(args)
}

/// The fault schedule, one step per `--fault-every`, in a cycle.
#[derive(Default)]
struct Faults {
    step: usize,
    isolated: Option<u64>,
    crashed: Option<u64>,
}

impl Faults {
    fn next(&mut self, c: &mut Cluster) -> String {
        let n = c.config().partitions;
        let leader0 = c.leader(0);
        let follower0 = leader0.and_then(|l| c.voters(0).into_iter().find(|&v| v != l && v != JOINER));
        let what = match self.step % 10 {
            0 => match follower0 {
                Some(f) => {
                    c.isolate(f, true);
                    self.isolated = Some(f);
                    format!("isolate n{f} (a follower of p0)")
                }
                None => "no leader: skip isolate".to_owned(),
            },
            1 => match self.isolated.take() {
                Some(f) => {
                    c.isolate(f, false);
                    format!("heal n{f}")
                }
                None => "nothing to heal".to_owned(),
            },
            2 => match leader0 {
                Some(l) => {
                    c.crash(l);
                    self.crashed = Some(l);
                    format!("crash n{l} (p0 leader)")
                }
                None => "no leader: skip crash".to_owned(),
            },
            3 => match self.crashed.take() {
                Some(l) => match c.restart(l) {
                    Ok(()) => format!("restart n{l}"),
                    Err(e) => format!("restart n{l} failed: {e}"),
                },
                None => "nothing to restart".to_owned(),
            },
            4 => match (leader0, follower0) {
                (Some(l), Some(f)) => {
                    c.isolate(f, true);
                    std::thread::sleep(Duration::from_millis(300));
                    let snap = c.snapshot(l, 0).map_or_else(|e| e.to_string(), |i| format!("up to {i}"));
                    c.isolate(f, false);
                    format!("n{f} behind a snapshot of n{l}/p0 ({snap}): it installs it")
                }
                _ => "no leader: skip snapshot".to_owned(),
            },
            5 => {
                let started = if c.node_ids().contains(&JOINER) { c.restart(JOINER) } else { c.add_node(JOINER) };
                let joined = (0..n).filter(|&p| c.add_learner(p, JOINER).is_ok()).count();
                format!(
                    "n{JOINER} joins as learner ({joined}/{n} partitions){}",
                    started.err().map_or(String::new(), |e| format!(": {e}"))
                )
            }
            6 => {
                let ok = (0..n).filter(|&p| c.change_membership(p, &[1, 2, 3, JOINER], false).is_ok()).count();
                format!("promote n{JOINER} to voter ({ok}/{n})")
            }
            7 => {
                let ok = (0..n).filter(|&p| c.change_membership(p, &[1, 2, 3], false).is_ok()).count();
                c.crash(JOINER);
                format!("remove n{JOINER} ({ok}/{n}) and stop it")
            }
            8 => match follower0 {
                Some(f) => {
                    c.set_disk_latency(f, Duration::from_millis(200));
                    format!("slow disk on n{f} (200 ms appends)")
                }
                None => "no leader: skip slow disk".to_owned(),
            },
            _ => {
                for node in 1..=3 {
                    c.set_disk_latency(node, Duration::ZERO);
                }
                "disks back to normal".to_owned()
            }
        };
        self.step += 1;
        what
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let config = ClusterConfig { nodes: args.nodes, partitions: args.partitions, ..ClusterConfig::default() };
    let mut cluster = Cluster::new(config)?;
    let mut exporters = Exporters::new(args.port);
    exporters.sync(&cluster);
    for (node, port) in exporters.ports() {
        println!("node {node}: http://127.0.0.1:{port}/metrics");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // Relaxed: the flag publishes nothing else.
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;

    let start = Instant::now();
    let (mut faults, mut next_fault, mut next_report) = (Faults::default(), start + args.fault_every, start);
    let per_step = (args.rate / 100).max(1);
    let mut key = 0;
    // Relaxed: as above.
    while !stop.load(Ordering::Relaxed) && args.duration.is_none_or(|d| start.elapsed() < d) {
        for p in 0..args.partitions {
            key += cluster.propose_async(p, None, key, per_step, WRITE_TIMEOUT);
        }
        let now = Instant::now();
        if now >= next_fault {
            let what = faults.next(&mut cluster);
            println!("[{:>6.1}s] {what}", start.elapsed().as_secs_f64());
            next_fault = Instant::now() + args.fault_every;
        }
        if now >= next_report {
            let leaders: Vec<String> = (0..args.partitions)
                .map(|p| cluster.leader(p).map_or_else(|| format!("p{p}:-"), |l| format!("p{p}:n{l}")))
                .collect();
            println!("[{:>6.1}s] leaders {} | {key} writes started", start.elapsed().as_secs_f64(), leaders.join(" "));
            next_report = now + Duration::from_secs(5);
        }
        exporters.sync(&cluster);
        std::thread::sleep(STEP);
    }
    exporters.shutdown();
    Ok(())
}
