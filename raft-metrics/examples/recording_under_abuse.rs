//! Recording latency of a Raft thread while `/metrics` is hammered and abused.
//!
//! ```text
//! cargo run --release -p raft-metrics --features http --example recording_under_abuse -- [SECONDS_PER_PHASE] [PARTITIONS]
//! ```
//!
//! A registry holds the built-in Raft schema for `PARTITIONS` partitions (default 300, two
//! followers each) and is served by `http::Server` with its default limits. One "Raft thread"
//! records in a tight loop, mixing the guide's calls (`set_commit_index`, `record_commit_latency`,
//! `set_follower_lag_entries`) with bound handles (`proposals_committed.add`,
//! `commit_latency.observe_ms`, `append_entries_sent.inc`), and times every batch of
//! `CALLS_PER_BATCH` calls with `Instant`. The batch time divided by the batch size is one
//! sample of the per-call latency. Phases, `SECONDS_PER_PHASE` each (default 5):
//!
//! 1. quiet: nothing else runs;
//! 2. scrapers: 100 clients `GET /metrics` in a loop (half with gzip);
//! 3. abuse: 48 slowloris clients trickling a header byte every 50 ms, 16 sending random bytes,
//!    16 sending 16 KiB headers;
//! 4. control: two threads spinning on arithmetic, no traffic: what losing CPU alone costs on this
//!    machine, to tell scheduling from contention in the tails.
//!
//! The table gives, per phase, the per-call latency percentiles, the batches slower than 50 µs,
//! and how often the Raft thread was preempted and how long it waited for a core
//! (`/proc/thread-self`). Then it checks that the scrape's totals equal the calls the Raft thread
//! made, exactly.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use raft_metrics::advanced::parse::parse;
use raft_metrics::http::Server;
use raft_metrics::raft::RaftMetrics;
use raft_metrics::{Format, Registry};

/// Calls per timed batch: enough that the two clock reads (about 25 ns each) stay a small
/// part of the batch, few enough that one preemption shows in the tail.
const CALLS_PER_BATCH: u32 = 60;
const TOPICS: [&str; 3] = ["orders", "payments", "events"];
const FOLLOWERS: [&str; 2] = ["node-2", "node-3"];
const SCRAPERS: usize = 100;
/// Below the default cap of 64 connections, so that garbage and oversized requests reach the parser too.
const SLOWLORIS: usize = 48;
const GARBAGE: usize = 16;
const OVERSIZED: usize = 16;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries per committed batch in `record_commit_latency`, which counts each of them.
const BATCH_ENTRIES: u64 = 16;

/// Phase indices; `BETWEEN` marks load starting or stopping, whose batches are not kept.
const BETWEEN: u8 = u8::MAX;
/// Tells the Raft thread to return.
const DONE_PHASE: u8 = u8::MAX - 1;
const PHASES: [&str; 4] = ["quiet", "100 scrapers", "slowloris+garbage+oversized", "control: 2 spinning threads"];

/// What the clients of one phase got back, by status.
#[derive(Default)]
struct Replies {
    ok: AtomicU64,
    bad_request: AtomicU64,
    too_large: AtomicU64,
    unavailable: AtomicU64,
    other_status: AtomicU64,
    /// Connections that ended without a status line (refused, reset, or closed by the server
    /// at the read deadline, as a slowloris client is).
    no_status: AtomicU64,
}

impl Replies {
    fn count(&self, response: &[u8]) {
        let counter = match response.get(9..12) {
            Some(b"200") => &self.ok,
            Some(b"400") => &self.bad_request,
            Some(b"431") => &self.too_large,
            Some(b"503") => &self.unavailable,
            Some(_) => &self.other_status,
            None => &self.no_status,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn summary(&self) -> String {
        let counts = [
            ("200", &self.ok),
            ("400", &self.bad_request),
            ("431", &self.too_large),
            ("503", &self.unavailable),
            ("other", &self.other_status),
            ("closed", &self.no_status),
        ];
        let parts: Vec<_> = counts
            .iter()
            .map(|(name, c)| (name, c.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} {name}"))
            .collect();
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// The calling thread's scheduler statistics. They tell a batch that waited for a core from one
/// that waited in the library: time on a core counts only the latter.
#[derive(Clone, Copy, Default)]
struct Sched {
    /// Time on a core.
    cpu_ns: u64,
    /// Time runnable but waiting for a core.
    run_delay_ns: u64,
    /// Involuntary context switches.
    preempted: u64,
}

impl Sched {
    fn now() -> Self {
        let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        let field = |i: usize| schedstat.split_whitespace().nth(i).and_then(|v| v.parse().ok()).unwrap_or(0);
        let (cpu_ns, run_delay_ns) = (field(0), field(1));
        let preempted = std::fs::read_to_string("/proc/thread-self/status")
            .ok()
            .and_then(|s| s.lines().find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:")?.trim().parse().ok()))
            .unwrap_or(0);
        Self { cpu_ns, run_delay_ns, preempted }
    }

    fn since(self, start: Self) -> Self {
        Self {
            cpu_ns: self.cpu_ns.saturating_sub(start.cpu_ns),
            run_delay_ns: self.run_delay_ns.saturating_sub(start.run_delay_ns),
            preempted: self.preempted.saturating_sub(start.preempted),
        }
    }
}

/// A batch this slow (about 50 times the quiet median) waited for something: a core, or a lock.
const SLOW_BATCH_NS: u32 = 50_000;

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).ok()?;
    Some(stream)
}

/// Sends `request` and reads until the server closes; what arrived before an error counts.
fn exchange(addr: SocketAddr, request: &[u8], replies: &Replies, buf: &mut Vec<u8>) {
    buf.clear();
    if let Some(mut stream) = connect(addr) {
        let _ = stream.write_all(request);
        let _ = stream.read_to_end(buf);
    }
    replies.count(buf);
}

fn scraper(addr: SocketAddr, gzip: bool, stop: &AtomicBool, replies: &Replies) {
    let request: &[u8] = if gzip {
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n"
    } else {
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
    };
    let mut buf = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        exchange(addr, request, replies, &mut buf);
    }
}

/// A request head that never ends, one byte every 50 ms, reconnecting when dropped.
fn slowloris(addr: SocketAddr, stop: &AtomicBool, replies: &Replies) {
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = connect(addr) else {
            replies.count(&[]);
            continue;
        };
        let mut alive = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").is_ok();
        while alive && !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(50));
            alive = stream.write_all(b"a").is_ok();
        }
        if alive {
            break; // stopped while the server was still waiting: not a reply
        }
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
        replies.count(&buf);
    }
}

fn garbage(addr: SocketAddr, seed: u64, stop: &AtomicBool, replies: &Replies) {
    let mut state = seed | 1;
    let mut request = Vec::new();
    let mut buf = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // xorshift64: random bytes without a dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        request.clear();
        let len = 1 + (state % 4096) as usize;
        let mut word = state;
        for i in 0..len {
            if i % 8 == 0 {
                word = word.rotate_left(29).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
            request.push((word >> ((i % 8) * 8)) as u8);
        }
        exchange(addr, &request, replies, &mut buf);
    }
}

fn oversized(addr: SocketAddr, stop: &AtomicBool, replies: &Replies) {
    let mut request = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Big: ".to_vec();
    request.resize(request.len() + 16 * 1024, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    let mut buf = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        exchange(addr, &request, replies, &mut buf);
    }
}

fn spin(stop: &AtomicBool) {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
}

/// What the Raft thread did and saw.
struct Recorded {
    /// Batch times (ns), per phase.
    batches: Vec<Vec<u32>>,
    /// Scheduler statistics over each phase.
    sched: Vec<Sched>,
    /// Rounds of the six calls, in all.
    rounds: u64,
}

/// Records until `phase` is `DONE_PHASE`.
fn raft_thread(metrics: &RaftMetrics, partitions: u32, phase: &AtomicU8) -> Recorded {
    let handles: Vec<_> = (0..partitions)
        .map(|p| {
            let topic = TOPICS[(p % 3) as usize];
            (topic, p / 3, metrics.partition(topic, p / 3), metrics.peer(topic, p / 3, FOLLOWERS[0]))
        })
        .collect();
    let mut batches: Vec<Vec<u32>> = PHASES.iter().map(|_| Vec::with_capacity(1 << 22)).collect();
    let mut sched = vec![Sched::default(); PHASES.len()];
    let mut phase_start = Sched::default();
    let mut previous = BETWEEN;
    let mut i = 0u64;
    loop {
        let current = phase.load(Ordering::Relaxed);
        if current != previous {
            // Outside the timed window: reading /proc takes microseconds.
            let now = Sched::now();
            if let Some(total) = sched.get_mut(usize::from(previous)) {
                *total = now.since(phase_start);
            }
            phase_start = now;
            previous = current;
        }
        if current == DONE_PHASE {
            return Recorded { batches, sched, rounds: i };
        }
        let start = Instant::now();
        for _ in 0..CALLS_PER_BATCH / 6 {
            let (topic, partition, handle, peer) = &handles[(i % u64::from(partitions)) as usize];
            let ms = 0.5 + (i % 50) as f64 * 0.1;
            metrics.set_commit_index(topic, *partition, i);
            metrics.record_commit_latency(topic, *partition, ms, BATCH_ENTRIES);
            handle.proposals_committed.add(1);
            handle.commit_latency.observe_ms(ms);
            peer.append_entries_sent.inc();
            metrics.set_follower_lag_entries(topic, *partition, FOLLOWERS[1], i % 100);
            i += 1;
        }
        let elapsed = start.elapsed();
        if let Some(kept) = batches.get_mut(usize::from(current)) {
            kept.push(u32::try_from(elapsed.as_nanos()).unwrap_or(u32::MAX));
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[at]) / f64::from(CALLS_PER_BATCH)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(5), |s| s.parse()).map_err(|e| format!("SECONDS_PER_PHASE: {e}"))?;
    let partitions: u32 = args.next().map_or(Ok(300), |s| s.parse()).map_err(|e| format!("PARTITIONS: {e}"))?;
    if partitions == 0 {
        return Err("PARTITIONS must be at least 1".into());
    }
    let phase_time = Duration::from_secs(seconds.max(1));

    let registry = Arc::new(Registry::new());
    let metrics = RaftMetrics::with_registry(&registry)?;
    // Every series exists before measuring, as on a node that has been up a while.
    for p in 0..partitions {
        let (topic, partition) = (TOPICS[(p % 3) as usize], p / 3);
        metrics.set_node_state(topic, partition, "node-1", 1);
        metrics.set_current_term(topic, partition, 7);
        metrics.set_commit_index(topic, partition, 1);
        metrics.set_last_applied(topic, partition, 1);
        metrics.record_commit_latency(topic, partition, 2.0, BATCH_ENTRIES);
        metrics.record_append_entries_rejected(topic, partition, "stale_term");
        for follower in FOLLOWERS {
            metrics.set_follower_lag_entries(topic, partition, follower, 0);
            metrics.record_append_entries_sent(topic, partition, follower, 512);
        }
    }
    let initial = registry.encode_to_string(Format::Prometheus);
    let server = Server::builder().bind("127.0.0.1:0").registry(Arc::clone(&registry)).start()?;
    let addr = server.local_addr();
    println!(
        "{partitions} partitions, {} series lines, {:.2} MB per scrape; server on {addr} with default limits; {} s per phase",
        initial.lines().filter(|l| !l.starts_with('#')).count(),
        initial.len() as f64 / 1e6,
        phase_time.as_secs()
    );

    let phase = AtomicU8::new(BETWEEN);
    let replies: Vec<Replies> = PHASES.iter().map(|_| Replies::default()).collect();
    let (recorded, expected) = thread::scope(|s| {
        let raft = thread::Builder::new()
            .name("raft".into())
            .spawn_scoped(s, || raft_thread(&metrics, partitions, &phase))
            .expect("spawn the raft thread");
        // Warm the caches and let the clock settle before the first phase.
        thread::sleep(Duration::from_millis(500));
        for (index, replies) in replies.iter().enumerate() {
            let stop = AtomicBool::new(false);
            thread::scope(|load| {
                let stop = &stop;
                match index {
                    1 => {
                        for c in 0..SCRAPERS {
                            load.spawn(move || scraper(addr, c % 2 == 0, stop, replies));
                        }
                    }
                    2 => {
                        for _ in 0..SLOWLORIS {
                            load.spawn(move || slowloris(addr, stop, replies));
                        }
                        for c in 0..GARBAGE {
                            load.spawn(move || garbage(addr, 0x5EED + c as u64, stop, replies));
                        }
                        for _ in 0..OVERSIZED {
                            load.spawn(move || oversized(addr, stop, replies));
                        }
                    }
                    3 => {
                        for _ in 0..2 {
                            load.spawn(move || spin(stop));
                        }
                    }
                    _ => {}
                }
                // Let the load reach its steady state before keeping batches.
                thread::sleep(Duration::from_millis(if index == 0 { 0 } else { 1000 }));
                phase.store(index as u8, Ordering::Relaxed);
                thread::sleep(phase_time);
                phase.store(BETWEEN, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
            });
        }
        phase.store(DONE_PHASE, Ordering::Relaxed);
        let result = raft.join().expect("the raft thread");
        (result, registry.encode_to_string(Format::Prometheus))
    });
    server.shutdown();

    println!();
    println!(
        "{:<28} {:>10} {:>7} {:>7} {:>8} {:>8} {:>8} {:>7} {:>9} {:>9}  clients got",
        "phase (ns per call)", "calls", "p50", "p99", "p99.9", "max", "cpu/call", "slow", "preempted", "runq ms"
    );
    for ((name, kept), (sched, replies)) in PHASES.iter().zip(recorded.batches).zip(recorded.sched.iter().zip(&replies))
    {
        let mut kept = kept;
        kept.sort_unstable();
        if kept.is_empty() {
            println!("{name:<28} no batches");
            continue;
        }
        let calls = kept.len() as u64 * u64::from(CALLS_PER_BATCH);
        println!(
            "{:<28} {:>10} {:>7.1} {:>7.1} {:>8.1} {:>8.0} {:>8.1} {:>7} {:>9} {:>9.1}  {}",
            name,
            calls,
            percentile(&kept, 0.5),
            percentile(&kept, 0.99),
            percentile(&kept, 0.999),
            percentile(&kept, 1.0),
            sched.cpu_ns as f64 / calls as f64,
            kept.iter().filter(|ns| **ns > SLOW_BATCH_NS).count(),
            sched.preempted,
            sched.run_delay_ns as f64 / 1e6,
            replies.summary()
        );
    }
    println!(
        "cpu/call: the Raft thread's time on a core over the phase per call (clock reads included); slow: batches \
         of {CALLS_PER_BATCH} calls over {} us; preempted: its involuntary context switches; runq: its time \
         runnable but waiting for a core (/proc/thread-self)",
        SLOW_BATCH_NS / 1000
    );

    let scrape = parse(&expected, Format::Prometheus)?;
    // Per round: `record_commit_latency` commits and observes `BATCH_ENTRIES` proposals, the bound
    // handles one more of each, and one send. The setup did one commit batch per partition and one
    // send per follower.
    let (rounds, setup) = (recorded.rounds as f64, f64::from(partitions));
    let per_round = (1 + BATCH_ENTRIES) as f64;
    let checks = [
        ("chronik_raft_proposals_committed_total", rounds * per_round + setup * BATCH_ENTRIES as f64),
        ("chronik_raft_commit_latency_seconds_count", rounds * per_round + setup * BATCH_ENTRIES as f64),
        ("chronik_raft_append_entries_sent_total", rounds + 2.0 * setup),
    ];
    println!();
    println!("{} calls recorded in all (phases and transitions)", recorded.rounds * 6);
    let mut exact = true;
    for (name, want) in checks {
        let got = scrape.sum(name, &[]);
        println!("{name}: scraped {got}, recorded {want}{}", if got == want { "" } else { "  MISMATCH" });
        exact &= got == want;
    }
    if !exact {
        return Err("the scrape's totals differ from the calls made".into());
    }
    Ok(())
}
