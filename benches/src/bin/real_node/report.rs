//! What the orchestrator measures and prints: each node's counters over a phase, a phase's
//! samples, and the markdown report with its TSV summary (medians, spreads, and the mean's
//! standard error of the on/off pairs).

use std::time::Duration;

use super::bench::Plan;
use super::load::Rate;

/// One node's measurement over the window.
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeSample {
    pub(super) cpu_us: u64,
    pub(super) applied: u64,
    pub(super) leader: bool,
    pub(super) messages: u64,
    pub(super) readies: u64,
    /// Group ticks (one per group per tick).
    pub(super) ticks: u64,
    /// Groups led at the end.
    pub(super) leading: u64,
}

impl NodeSample {
    /// CPU microseconds per applied proposal.
    pub(super) fn per_proposal(self) -> f64 {
        self.cpu_us as f64 / self.applied.max(1) as f64
    }

    /// Raft messages (stepped and sent) and ready-loop turns per applied proposal.
    pub(super) fn hooks_per_proposal(self) -> (f64, f64) {
        let n = self.applied.max(1) as f64;
        (self.messages as f64 / n, self.readies as f64 / n)
    }
}

/// One phase of a cluster's run.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) nodes: Vec<NodeSample>,
    pub(super) window: Duration,
}

impl Sample {
    pub(super) fn leader(&self) -> NodeSample {
        self.nodes.iter().copied().find(|n| n.leader).unwrap_or(self.nodes[0])
    }

    /// Mean over the followers.
    pub(super) fn follower_per_proposal(&self) -> f64 {
        let f: Vec<f64> = self.nodes.iter().filter(|n| !n.leader).map(|n| n.per_proposal()).collect();
        f.iter().sum::<f64>() / f.len().max(1) as f64
    }

    /// CPU microseconds of all nodes per proposal (each applied it).
    pub(super) fn cpu_per_proposal(&self) -> f64 {
        self.nodes.iter().map(|n| n.cpu_us as f64).sum::<f64>() / self.leader().applied.max(1) as f64
    }

    pub(super) fn commits_per_second(&self) -> f64 {
        self.leader().applied as f64 / self.window.as_secs_f64()
    }

    /// CPU of the leader as a share of one core.
    pub(super) fn leader_load(&self) -> f64 {
        self.leader().cpu_us as f64 / 1e6 / self.window.as_secs_f64()
    }

    /// CPU microseconds per proposal, the mean of the nodes.
    pub(super) fn cpu_per_proposal_per_node(&self) -> f64 {
        self.cpu_per_proposal() / self.nodes.len().max(1) as f64
    }

    /// Raft messages and ready-loop turns per proposal, the mean of the nodes.
    pub(super) fn hooks_per_proposal_per_node(&self) -> (f64, f64) {
        let n = self.nodes.len().max(1) as f64;
        let (m, t) =
            self.nodes.iter().map(|node| node.hooks_per_proposal()).fold((0.0, 0.0), |(m, t), (a, b)| (m + a, t + b));
        (m / n, t / n)
    }

    /// CPU microseconds of all nodes per group tick (an idle cluster's unit of work).
    pub(super) fn cpu_per_group_tick(&self) -> f64 {
        let cpu: u64 = self.nodes.iter().map(|n| n.cpu_us).sum();
        let ticks: u64 = self.nodes.iter().map(|n| n.ticks).sum();
        cpu as f64 / ticks.max(1) as f64
    }

    /// CPU of all nodes, mean share of one core per node.
    pub(super) fn node_load(&self) -> f64 {
        let cpu: u64 = self.nodes.iter().map(|n| n.cpu_us).sum();
        cpu as f64 / 1e6 / self.window.as_secs_f64() / self.nodes.len() as f64
    }
}

/// One rate's results.
pub(super) struct Measured {
    pub(super) rate: Rate,
    pub(super) pairs: Vec<(Sample, Sample)>,
    /// Bytes of each scrape (gzip, as Prometheus asks), all nodes.
    pub(super) scrapes: Vec<usize>,
}

/// Prints the idle cluster's report; returns its TSV summary line (`idle-<P>`, µs of CPU per
/// group tick with recording off, twice, overhead of all nodes' CPU in %, its 2 SE).
pub(super) fn print_idle(plan: &Plan, pairs: &[(Sample, Sample)], scrapes: &[usize]) -> String {
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
pub(super) fn print_busy(plan: &Plan, pairs: &[(Sample, Sample)], scrapes: &[usize]) -> String {
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
pub(super) fn print_hibernated(plan: &Plan, pairs: &[(Sample, Sample)]) {
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
pub(super) fn print_report(plan: &Plan, report: &[Measured]) -> String {
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
