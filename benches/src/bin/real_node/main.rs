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
//!     [--rounds 20] [--warmup 3] [--window 5] [--scrape-every 15] [--dir target/real-node]
//!     [--summary FILE.tsv]
//! ```
//!
//! `real_node node ...` is one node (the orchestrator starts three).

use std::path::PathBuf;
use std::time::Duration;

mod bench;
mod cpu;
mod load;
mod node;
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
    };
    for (flag, value) in pairs(args)? {
        match flag {
            "rates" => {
                plan.rates = value
                    .split(',')
                    .map(|r| Rate::parse(r).ok_or_else(|| format!("--rates: {r}")))
                    .collect::<Result<_, _>>()?;
            }
            "rounds" => plan.rounds = number(flag, value)?,
            "warmup" => plan.warmup = Duration::from_secs(number(flag, value)?),
            "window" => plan.window = Duration::from_secs(number(flag, value)?),
            "scrape-every" => plan.scrape_every = Duration::from_secs(number(flag, value)?),
            "dir" => plan.dir = PathBuf::from(value),
            "summary" => plan.summary = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag --{flag}")),
        }
    }
    Ok(plan)
}

fn parse_node(args: &[String]) -> Result<node::Args, String> {
    let (mut id, mut peers, mut client, mut metrics, mut dir, mut recording) = (None, None, None, None, None, None);
    for (flag, value) in pairs(args)? {
        let addr = |v: &str| v.parse().map_err(|_| format!("--{flag}: not an address: {v}"));
        match flag {
            "id" => id = Some(number(flag, value)?),
            "peers" => peers = Some(value.split(',').map(addr).collect::<Result<Vec<_>, _>>()?),
            "client" => client = Some(addr(value)?),
            "metrics" => metrics = Some(addr(value)?),
            "dir" => dir = Some(PathBuf::from(value)),
            "recording" => recording = Some(value == "on"),
            _ => return Err(format!("unknown flag --{flag}")),
        }
    }
    let missing = |what: &str| format!("node: --{what} is required");
    let peers: Vec<_> = peers.ok_or_else(|| missing("peers"))?;
    let id: u64 = id.ok_or_else(|| missing("id"))?;
    if id == 0 || id as usize > peers.len() {
        return Err(format!("node: --id {id} is not in 1..={}", peers.len()));
    }
    Ok(node::Args {
        id,
        peers,
        client: client.ok_or_else(|| missing("client"))?,
        metrics: metrics.ok_or_else(|| missing("metrics"))?,
        dir: dir.ok_or_else(|| missing("dir"))?,
        recording: recording.ok_or_else(|| missing("recording"))?,
    })
}
