//! The raft-rs ready loop workload of the overhead benches (`benches/raft_loop.rs`,
//! `benches/raft_loop_instructions.rs`): a 3-node, 1-partition [`Cluster`] (deterministic,
//! single-threaded, no sleeps) driving [`PROPOSALS`] proposals, with every integration point of
//! `raft-metrics-raftrs` recording, or the identical loop with recording off
//! (`ClusterConfig::recording = false`: the wrapper only forwards to raft-rs).

use std::hint::black_box;

use raft_metrics::{Format, Sampling};
use raft_metrics_raftrs::sim::{Cluster, ClusterConfig};

/// Proposals per run of the loop.
pub const PROPOSALS: usize = 2_000;
/// Bytes of each proposal's payload.
pub const PAYLOAD: usize = 16;
/// Scrape interval the scrape budget assumes, in seconds.
pub const SCRAPE_INTERVAL_SECS: f64 = 15.0;

/// Proposals between two ticks of every replica, in both shapes: raft-rs's usual 100 ms tick at
/// 1,000 proposals per second for the group.
pub const PROPOSALS_PER_TICK: usize = 100;

/// How the proposals arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Small entries at a high rate: each proposal is settled on its own (its own turn of every
    /// ready loop), a tick every [`PROPOSALS_PER_TICK`] proposals.
    PerTurn,
    /// Batched: [`PROPOSALS_PER_TICK`] proposals, then one tick and one settle, so each turn of
    /// the leader's loop carries 100 entries.
    Batched,
    /// Saturation: [`SATURATED_PER_SETTLE`] proposals per settle, more than raft-rs lets into
    /// flight (256 appends per follower, as in the real-node benchmark), so the leader's
    /// replication window fills and the rest go out in a few large appends when it drains: about
    /// as few messages and turns per proposal as the real node at saturation
    /// (`saturated_shape_matches_the_real_node`). Each settle is a tick's: one per 1,000
    /// proposals.
    Saturated,
}

/// Proposals per settle of [`Shape::Saturated`].
pub const SATURATED_PER_SETTLE: usize = 1_000;

impl Shape {
    /// Every shape.
    pub const ALL: [Self; 3] = [Self::PerTurn, Self::Batched, Self::Saturated];

    /// Proposals per settle.
    pub fn per_settle(self) -> usize {
        match self {
            Self::PerTurn => 1,
            Self::Batched => PROPOSALS_PER_TICK,
            Self::Saturated => SATURATED_PER_SETTLE,
        }
    }

    /// The benchmark id.
    pub fn name(self) -> &'static str {
        match self {
            Self::PerTurn => "one_per_turn",
            Self::Batched => "batched_100",
            Self::Saturated => "saturated_1000",
        }
    }
}

/// A 3-node cluster with an elected leader for partition 0, recording or not.
///
/// # Panics
///
/// If raft-rs refuses the configuration or no leader is elected within 200 ticks.
pub fn cluster(recording: bool) -> Cluster {
    cluster_with(ClusterConfig { recording, ..ClusterConfig::default() })
}

/// An instrumented cluster ([`cluster`]`(true)`) whose wrappers time every turn
/// (`Sampling::All`) instead of the default one in 8: what the sampling saves.
pub fn cluster_timing_every_turn() -> Cluster {
    cluster_with(ClusterConfig { timing: Sampling::All, rpc_timing: Sampling::All, ..ClusterConfig::default() })
}

/// An instrumented cluster ([`cluster`]`(true)`) whose wrappers time nothing
/// (`Sampling::Off` for the durations and the messages): the counts, gauges and sizes alone,
/// exact as ever, without the duration and latency histograms' sampled turns. What the timing
/// costs, and the floor of recording with this design.
pub fn cluster_untimed() -> Cluster {
    cluster_with(ClusterConfig { timing: Sampling::Off, rpc_timing: Sampling::Off, ..ClusterConfig::default() })
}

/// An instrumented cluster ([`cluster`]`(true)`) whose wrappers time the durations at their
/// default rate and no message: what the RPC latency's sampled turns cost, apart from the
/// durations' (`benches/where.sh one_per_turn 40 rpc_untimed on`).
pub fn cluster_rpc_untimed() -> Cluster {
    cluster_with(ClusterConfig { rpc_timing: Sampling::Off, ..ClusterConfig::default() })
}

/// Partitions of the idle shape.
pub const IDLE_PARTITIONS: u32 = 64;
/// Ticks of the idle shape.
pub const IDLE_TICKS: u64 = 100;

/// A 3-node cluster of [`IDLE_PARTITIONS`] partitions, each with an elected leader.
pub fn idle_cluster(recording: bool) -> Cluster {
    let mut cluster =
        Cluster::new(ClusterConfig { recording, partitions: IDLE_PARTITIONS, ..ClusterConfig::default() })
            .expect("cluster");
    assert!(cluster.run_until(400, |c| (0..IDLE_PARTITIONS).all(|p| c.leader(p).is_some())), "no leaders");
    cluster.run(20);
    cluster
}

/// [`IDLE_TICKS`] ticks of every replica with no proposal: heartbeats only.
pub fn run_idle(cluster: &mut Cluster) -> u64 {
    cluster.run(IDLE_TICKS);
    cluster.commit_index(0)
}

/// Entries every replica's log holds before the measured run: what the real-node benchmark's
/// nodes keep after each compaction (`KEEP` in `real_node/node.rs`), so never fewer once they
/// have run a while.
pub const WARM_LOG: usize = 10_000;

fn cluster_with(config: ClusterConfig) -> Cluster {
    let mut cluster = Cluster::new(config).expect("cluster");
    assert!(cluster.run_until(200, |c| c.leader(0).is_some()), "no leader elected");
    warm(&mut cluster);
    cluster
}

/// Brings a freshly elected cluster to the state of a node that has been running, so that the
/// measured run counts what every proposal costs and not what a node pays once:
///
/// - a log of [`WARM_LOG`] entries. The log's size is kept in blocks as wide as the log is long
///   (`raft_metrics::raft::LogSize`): a young log's blocks hold one to a few entries and double
///   each time its length does, where a log of 10,000 entries has blocks of 64 that the run's
///   2,000 entries do not double again;
/// - every series the loop records bound: the heartbeats' are bound at the first periodic
///   publication after the first heartbeat (the default publishes an idle group every 10
///   ticks), which the election's few ticks did not reach, so each run bound 8 series.
///
/// Both variants are warmed alike, and none of it is measured.
fn warm(cluster: &mut Cluster) {
    // The saturated shape's loop: the fewest turns, so the cheapest way to a long log.
    for _ in 0..WARM_LOG / PROPOSALS {
        run(cluster, Shape::Saturated);
    }
    cluster.run(20);
}

/// The loop: `shape.per_settle()` proposals to the leader, then a settle (every ready handled,
/// every message delivered), and after every [`PROPOSALS_PER_TICK`] proposals one tick of every
/// replica (with its settle). Returns the commit index so the work cannot be optimised away.
///
/// # Panics
///
/// If the leader refuses a proposal.
pub fn run(cluster: &mut Cluster, shape: Shape) -> u64 {
    drive(cluster, shape, |_, _| {})
}

/// [`run`], calling `after_settle(cluster, proposals settled)` after each settle.
fn drive(cluster: &mut Cluster, shape: Shape, mut after_settle: impl FnMut(&mut Cluster, usize)) -> u64 {
    let payload = [7u8; PAYLOAD];
    let per_settle = shape.per_settle();
    for round in 1..=PROPOSALS / per_settle {
        for _ in 0..per_settle {
            cluster.propose(0, black_box(payload).to_vec()).expect("proposal");
        }
        if (round * per_settle).is_multiple_of(PROPOSALS_PER_TICK) {
            cluster.tick();
        } else {
            cluster.settle();
        }
        after_settle(cluster, per_settle);
    }
    cluster.commit_index(0)
}

/// One full scrape of every node's registry (what a Prometheus scraping all 3 nodes asks for):
/// the bytes encoded.
pub fn scrape_all(cluster: &Cluster, buf: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for node in cluster.node_ids() {
        let registry = cluster.registry(node).expect("node");
        buf.clear();
        registry.encode(Format::Prometheus, buf);
        total += buf.len();
    }
    total
}

// ---- the same recording work through other libraries ----------------------------------------

/// Metric operations per proposal of the instrumented loop, as `op_mix` measured them
/// (`benches/op_mix.txt`, regenerated by `benches/run.sh`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpMix {
    /// Counter increments and adds.
    pub counter: f64,
    /// Gauge sets and adds.
    pub gauge: f64,
    /// Histogram observations.
    pub histogram: f64,
}

/// The measured operation mix of `shape`.
///
/// # Panics
///
/// If `benches/op_mix.txt` has no well-formed line for the shape.
pub fn op_mix(shape: Shape) -> OpMix {
    let line = include_str!("../op_mix.txt")
        .lines()
        .find(|l| l.split_whitespace().next() == Some(shape.name()))
        .expect("a line per shape in benches/op_mix.txt");
    let n: Vec<f64> = line.split_whitespace().skip(1).map(|v| v.parse().expect("a number")).collect();
    OpMix { counter: n[0], gauge: n[1], histogram: n[2] }
}

/// Which library a [`Replay`] records into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// raft-metrics' shared handles (what the adapter uses).
    RaftMetrics,
    /// prometheus-client 0.26, handles resolved once.
    PrometheusClient,
    /// prometheus 0.14, handles resolved once.
    Prometheus,
}

impl Library {
    /// Every library.
    pub const ALL: [Self; 3] = [Self::RaftMetrics, Self::PrometheusClient, Self::Prometheus];

    /// The benchmark id.
    pub fn name(self) -> &'static str {
        match self {
            Self::RaftMetrics => "replay_raft_metrics",
            Self::PrometheusClient => "replay_prometheus_client",
            Self::Prometheus => "replay_prometheus",
        }
    }
}

/// Distinct series the replay spreads its operations over, per kind: about what the adapter
/// touches per round (3 nodes' partition, peer and RPC series).
const REPLAY_SERIES: usize = 16;

/// Pre-resolved handles of one library; an operation of each kind, on the next series in turn.
enum Handles {
    RaftMetrics {
        counters: Vec<raft_metrics::Handle<raft_metrics::Counter>>,
        gauges: Vec<raft_metrics::Handle<raft_metrics::Gauge>>,
        histograms: Vec<raft_metrics::Handle<raft_metrics::Histogram<{ crate::BUCKETS }>>>,
    },
    PrometheusClient {
        counters: Vec<prometheus_client::metrics::counter::Counter>,
        gauges: Vec<prometheus_client::metrics::gauge::Gauge>,
        histograms: Vec<prometheus_client::metrics::histogram::Histogram>,
    },
    Prometheus {
        counters: Vec<prometheus::IntCounter>,
        gauges: Vec<prometheus::IntGauge>,
        histograms: Vec<prometheus::Histogram>,
    },
}

/// The instrumented loop's metric operations (its [`OpMix`]), replayed through one library's
/// handles after each round of the disabled loop: what the same recording work costs in that
/// library. The adapter's own bookkeeping (clock reads, pending proposals, lookups) is not
/// replayed: it is the same whatever the library.
pub struct Replay {
    handles: Handles,
    mix: OpMix,
    /// Operations owed (fractions carried from round to round).
    owed: [f64; 3],
    next: usize,
}

impl core::fmt::Debug for Replay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Replay").field("mix", &self.mix).finish_non_exhaustive()
    }
}

impl Replay {
    /// Handles of `library` registered in a fresh registry of its own.
    ///
    /// # Panics
    ///
    /// If registration fails (it cannot with these fixed names).
    pub fn new(library: Library, mix: OpMix) -> Self {
        let labels = |i: usize| (crate::TOPIC, u32::try_from(i).unwrap_or(0));
        let handles = match library {
            Library::RaftMetrics => {
                let r = raft_metrics::Registry::new();
                let info = |n: &str| raft_metrics::MetricInfo::new(n, "Replay.");
                let c = r.register_with::<raft_metrics::Counter, 2>(info("replay_total"), ["t", "p"], ()).expect("c");
                let g = r.register_with::<raft_metrics::Gauge, 2>(info("replay_gauge"), ["t", "p"], ()).expect("g");
                let buckets = raft_metrics::Buckets::new(crate::bucket_bounds().to_vec()).expect("buckets");
                let h = r.histogram::<{ crate::BUCKETS }, 2>(info("replay_seconds"), ["t", "p"], buckets).expect("h");
                Handles::RaftMetrics {
                    counters: (0..REPLAY_SERIES).map(|i| c.bind(labels(i))).collect(),
                    gauges: (0..REPLAY_SERIES).map(|i| g.bind(labels(i))).collect(),
                    histograms: (0..REPLAY_SERIES).map(|i| h.bind(labels(i))).collect(),
                }
            }
            Library::PrometheusClient => Handles::PrometheusClient {
                counters: (0..REPLAY_SERIES).map(|_| prometheus_client::metrics::counter::Counter::default()).collect(),
                gauges: (0..REPLAY_SERIES).map(|_| prometheus_client::metrics::gauge::Gauge::default()).collect(),
                histograms: (0..REPLAY_SERIES)
                    .map(|_| prometheus_client::metrics::histogram::Histogram::new(crate::bucket_bounds()))
                    .collect(),
            },
            Library::Prometheus => {
                let opts = |n: &str| prometheus::Opts::new(n, "Replay.");
                let c = prometheus::IntCounterVec::new(opts("replay_total"), &["t", "p"]).expect("c");
                let g = prometheus::IntGaugeVec::new(opts("replay_gauge"), &["t", "p"]).expect("g");
                let h = prometheus::HistogramVec::new(
                    prometheus::HistogramOpts::new("replay_seconds", "Replay.")
                        .buckets(crate::bucket_bounds().to_vec()),
                    &["t", "p"],
                )
                .expect("h");
                let p = |i: usize| i.to_string();
                Handles::Prometheus {
                    counters: (0..REPLAY_SERIES).map(|i| c.with_label_values(&[crate::TOPIC, &p(i)])).collect(),
                    gauges: (0..REPLAY_SERIES).map(|i| g.with_label_values(&[crate::TOPIC, &p(i)])).collect(),
                    histograms: (0..REPLAY_SERIES).map(|i| h.with_label_values(&[crate::TOPIC, &p(i)])).collect(),
                }
            }
        };
        Self { handles, mix, owed: [0.0; 3], next: 0 }
    }

    /// Performs the operations owed for `proposals` more proposals.
    pub fn record(&mut self, proposals: usize) {
        #[allow(clippy::cast_precision_loss)] // small counts
        let n = proposals as f64;
        self.owed[0] += self.mix.counter * n;
        self.owed[1] += self.mix.gauge * n;
        self.owed[2] += self.mix.histogram * n;
        let take = |owed: &mut f64| {
            let whole = owed.floor();
            *owed -= whole;
            // Owed operations per round are far below 2^32.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let whole = whole as usize;
            whole
        };
        let (counters, gauges, histograms) =
            (take(&mut self.owed[0]), take(&mut self.owed[1]), take(&mut self.owed[2]));
        let ops = (counters, gauges, histograms);
        self.next = match &self.handles {
            Handles::RaftMetrics { counters: c, gauges: g, histograms: h } => {
                replay_ops(self.next, ops, |i| c[i].inc(), |i, v| g[i].set(v), |i, v| h[i].observe(v))
            }
            Handles::PrometheusClient { counters: c, gauges: g, histograms: h } => replay_ops(
                self.next,
                ops,
                |i| {
                    c[i].inc();
                },
                |i, v| {
                    g[i].set(v);
                },
                |i, v| h[i].observe(v),
            ),
            Handles::Prometheus { counters: c, gauges: g, histograms: h } => {
                replay_ops(self.next, ops, |i| c[i].inc(), |i, v| g[i].set(v), |i, v| h[i].observe(v))
            }
        };
    }
}

/// Performs `counters`, `gauges` and `histograms` operations through the given closures, each on
/// the next of the [`REPLAY_SERIES`] series in turn from `next`; returns where it stopped.
fn replay_ops(
    mut next: usize,
    (counters, gauges, histograms): (usize, usize, usize),
    counter: impl Fn(usize),
    gauge: impl Fn(usize, i64),
    histogram: impl Fn(usize, f64),
) -> usize {
    let mut step = || {
        next = (next + 1) % REPLAY_SERIES;
        next
    };
    for _ in 0..counters {
        counter(step());
    }
    for i in 0..gauges {
        gauge(step(), black_box(i64::try_from(i).unwrap_or(0)));
    }
    for i in 0..histograms {
        histogram(step(), crate::OBSERVATIONS[i % crate::OBSERVATIONS.len()]);
    }
    next
}

/// [`run`] on a cluster with recording off, replaying the instrumented loop's operations through
/// `replay` after each settle.
///
/// # Panics
///
/// If the leader refuses a proposal.
pub fn run_replay(cluster: &mut Cluster, shape: Shape, replay: &mut Replay) -> u64 {
    drive(cluster, shape, |_, proposals| replay.record(proposals))
}

#[cfg(test)]
mod tests {
    use raft_metrics_raftrs::sim::Event;

    use super::*;

    /// Messages the leader sent and received per proposal over a run of `shape`.
    fn leader_messages_per_proposal(shape: Shape) -> f64 {
        let mut cluster = cluster(false);
        let leader = cluster.leader(0).expect("leader");
        cluster.trace();
        run(&mut cluster, shape);
        let messages = cluster
            .take_trace()
            .iter()
            .filter(|event| match event {
                Event::Delivered { msg, .. } => msg.from == leader || msg.to == leader,
                _ => false,
            })
            .count();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^53
        let per = messages as f64 / PROPOSALS as f64;
        per
    }

    /// The saturated shape stands for a leader at saturation, whose replication window is full:
    /// the real-node benchmark's leader exchanges 1.13–1.17 messages per proposal there
    /// (`benches/RESULTS.md`), where the other shapes exchange about 8 (one append per follower
    /// per proposal, and its answer).
    #[test]
    fn saturated_shape_matches_the_real_node() {
        let saturated = leader_messages_per_proposal(Shape::Saturated);
        let batched = leader_messages_per_proposal(Shape::Batched);
        eprintln!("leader messages per proposal: saturated_1000 {saturated:.3}, batched_100 {batched:.3}");
        assert!((0.8..=2.0).contains(&saturated), "saturated_1000: {saturated:.3} leader messages per proposal");
        assert!(batched > 6.0, "batched_100: {batched:.3}");
    }
}
