//! The real-node benchmark: what recording costs a raft-rs node that does what a production node
//! does, measured as CPU time.
//!
//! Three raft-rs nodes as three OS processes on 127.0.0.1, talking TCP (length-prefixed raft-rs
//! protobuf messages); each node appends every `Ready`'s entries and hard state to a WAL file and
//! `fdatasync`s once per `Ready` (group commit), applies committed entries to a map, and (with
//! recording on) serves `/metrics`, which the orchestrator scrapes every 15 s like Prometheus.
//! A client offers proposals of 256 B to 1 KiB to the leader at fixed rates and at saturation.
//! Recording is switched on and off at run time in the same processes
//! (`InstrumentedNode::set_recording`; no scrapes while off), A/B interleaved over rounds, and
//! each node's CPU (user + system, `getrusage`) per applied proposal is reported.
//!
//! ```text
//! cargo run --release -p raft-metrics-benches --bin real_node -- [--rates 2000,10000,saturation]
//!     [--idle-partitions 0] [--busy-partitions 0] [--busy-rate 10000]
//!     [--rounds 20] [--warmup 3] [--window 5] [--scrape-every 15]
//!     [--dir target/real-node] [--summary FILE.tsv] [--callgrind DIR]
//! ```
//!
//! With `--idle-partitions P` (e.g. 1000) it also runs a cluster whose nodes each hold a replica
//! of `P` groups and no client: what recording costs a node whose partitions only tick and
//! heartbeat, as most of a large node's partitions do at any moment (CPU per group tick), and then
//! with every group hibernated (no group ticked: CPU per node).
//!
//! With `--busy-partitions P` it also runs a cluster of `P` groups per node under load:
//! `--busy-rate` proposals per second in all, spread evenly over the groups, each node's client
//! proposing to the groups it leads. What recording costs a node whose partitions all take a
//! little traffic, each group's state cold at its turn (CPU per proposal per node).
//!
//! With `--callgrind DIR` every node runs under callgrind and each phase's instructions are dumped
//! into `DIR` (`callgrind.rs`; `benches/real_node_callgrind.py` reads them): recording's
//! instructions per proposal at the node's own traffic. Its CPU times are callgrind's, not the
//! node's.
//!
//! `real_node node --id N --dir DIR --recording on|off [--partitions P]` is one node (the
//! orchestrator starts three; `node::run` has the start-up exchange on stdin/stdout).

use std::path::PathBuf;
use std::time::Duration;

mod bench;
mod callgrind;
mod cpu;
mod load;
mod node;
mod report;
mod wal;
mod wire;

use load::Rate;

/// The benchmark group's topic.
const TOPIC: &str = "bench";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("node") {
        parse_node(&args[1..]).and_then(|a| node::run(&a).map_err(|e| e.to_string()))
    } else {
        parse_plan(&args).and_then(|p| bench::run(&p).map_err(|e| e.to_string()))
    };
    if let Err(e) = result {
        eprintln!("real_node: {e}");
        std::process::exit(1);
    }
}

/// `--flag value` pairs.
fn pairs(args: &[String]) -> Result<Vec<(&str, &str)>, String> {
    args.chunks(2)
        .map(|c| match c {
            [flag, value] if flag.starts_with("--") => Ok((&flag[2..], value.as_str())),
            _ => Err(format!("expected `--flag value`, got {c:?}")),
        })
        .collect()
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("--{flag}: not a number: {value}"))
}

fn parse_plan(args: &[String]) -> Result<bench::Plan, String> {
    let mut plan = bench::Plan {
        rates: vec![Rate::Fixed(2_000), Rate::Fixed(10_000), Rate::Saturation],
        rounds: 20,
        warmup: Duration::from_secs(3),
        window: Duration::from_secs(5),
        scrape_every: Duration::from_secs(15),
        dir: PathBuf::from("target/real-node"),
        summary: None,
        idle_partitions: 0,
        busy_partitions: 0,
        busy_rate: 10_000,
        callgrind: None,
    };
    for (flag, value) in pairs(args)? {
        match flag {
            "rates" => {
                plan.rates = value
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(|r| Rate::parse(r).ok_or_else(|| format!("--rates: {r}")))
                    .collect::<Result<_, _>>()?;
            }
            "rounds" => plan.rounds = number(flag, value)?,
            "idle-partitions" => plan.idle_partitions = number(flag, value)?,
            "busy-partitions" => plan.busy_partitions = number(flag, value)?,
            "busy-rate" => plan.busy_rate = number(flag, value)?,
            "warmup" => plan.warmup = Duration::from_secs(number(flag, value)?),
            "window" => plan.window = Duration::from_secs(number(flag, value)?),
            "scrape-every" => plan.scrape_every = Duration::from_secs(number(flag, value)?),
            "dir" => plan.dir = PathBuf::from(value),
            "summary" => plan.summary = Some(PathBuf::from(value)),
            "callgrind" => plan.callgrind = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag --{flag}")),
        }
    }
    Ok(plan)
}

fn parse_node(args: &[String]) -> Result<node::Args, String> {
    let (mut id, mut dir, mut recording, mut partitions) = (None, None, None, 1);
    for (flag, value) in pairs(args)? {
        match flag {
            "id" => id = Some(number(flag, value)?),
            "partitions" => partitions = number(flag, value)?,
            "dir" => dir = Some(PathBuf::from(value)),
            "recording" => recording = Some(value == "on"),
            _ => return Err(format!("unknown flag --{flag}")),
        }
    }
    let missing = |what: &str| format!("node: --{what} is required");
    let id: u64 = id.ok_or_else(|| missing("id"))?;
    if id == 0 {
        return Err("node: --id is 1-based".to_owned());
    }
    Ok(node::Args {
        id,
        partitions,
        dir: dir.ok_or_else(|| missing("dir"))?,
        recording: recording.ok_or_else(|| missing("recording"))?,
    })
}
