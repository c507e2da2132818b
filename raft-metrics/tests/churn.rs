//! Partition churn: a node that moves 1 000 partitions away and back 100 times keeps its memory
//! flat and never exports a moved-away partition, per partition and in unhealthy-only mode. Live heap bytes come from a counting global
//! allocator (this file is its own test binary, so no other test's allocations interfere).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use raft_metrics::advanced::parse::{parse, Scrape};
use raft_metrics::raft::{Aggregation, RaftMetrics, RaftOptions};
use raft_metrics::{Format, Registry};

struct Counting;

/// Bytes allocated and not yet freed, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);

#[allow(clippy::cast_possible_wrap)] // allocation sizes are far below isize::MAX
fn track(grow: usize, shrink: usize) {
    LIVE.fetch_add(grow as isize - shrink as isize, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; we only count.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            track(layout.size(), 0);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(0, layout.size());
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc` and `dealloc`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            track(new_size, layout.size());
        }
        new
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const PARTITIONS: u32 = 1_000;
const ROUNDS: usize = 100;
const PEERS: [u64; 2] = [2, 3];

/// What a leader of every partition records in one tick: partition gauges, a latency, a counter
/// and both peers' lag.
fn host_partitions(m: &RaftMetrics, topic: &str, round: u64) {
    for p in 0..PARTITIONS {
        // Leaderless: unhealthy, so exported in every mode that exports partitions.
        m.set_has_leader(topic, p, false);
        m.set_commit_index(topic, p, round * 10);
        m.record_commit_latency(topic, p, 3, 1);
        m.record_append_entries_sent(topic, p, 1, 512);
        for peer in PEERS {
            m.set_follower_lag_entries(topic, p, peer, round % 7);
        }
    }
}

fn move_away(m: &RaftMetrics, topic: &str) {
    for p in 0..PARTITIONS {
        assert!(m.remove_partition(topic, p) > 0, "partition {p} had series");
    }
}

fn scrape(registry: &Registry) -> Scrape {
    let text = registry.encode_to_string(Format::Prometheus);
    parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}"))
}

/// The partitions that have at least one series in the scrape.
fn exported_partitions(scrape: &Scrape, topic: &str) -> std::collections::BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| l.label("topic") == Some(topic))
        .filter_map(|l| l.label("partition").map(str::to_owned))
        .collect()
}

/// The live-heap measurements of the two modes must not overlap.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn moving_partitions_away_and_back_keeps_memory_flat_and_the_scrape_current() {
    churn(Aggregation::Partition);
}

/// In unhealthy-only mode, with every hosted partition leaderless (so every one is exported).
#[test]
fn unhealthy_only_mode_churns_the_same() {
    churn(Aggregation::Unhealthy);
}

fn churn(aggregation: Aggregation) {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let registry = Registry::new();
    let m = RaftMetrics::with_options(&registry, &RaftOptions { aggregation, ..RaftOptions::default() }).unwrap();
    let live = || LIVE.load(Ordering::Relaxed);

    let mut after_round = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        host_partitions(&m, "orders", round as u64);
        if round == 0 || round == ROUNDS - 1 {
            let exported = exported_partitions(&scrape(&registry), "orders");
            assert_eq!(exported.len(), PARTITIONS as usize, "round {round}: every hosted partition is exported");
        }
        move_away(&m, "orders");
        if round == 0 || round == ROUNDS - 1 {
            let exported = exported_partitions(&scrape(&registry), "orders");
            assert!(exported.is_empty(), "round {round}: moved-away partitions still exported: {exported:?}");
        }
        after_round.push(live());
    }

    // The first rounds fill the slabs and tables; after that, reuse must keep the heap flat.
    let warm = after_round[ROUNDS / 4];
    let last = *after_round.last().unwrap();
    let peak = *after_round[ROUNDS / 4..].iter().max().unwrap();
    let per_partition = |bytes: isize| bytes / PARTITIONS as isize;
    eprintln!(
        "{aggregation:?}: live heap after rounds: 1: {} KiB, {}: {} KiB, {ROUNDS}: {} KiB (peak after warm-up {} KiB, {} B per partition)",
        after_round[0] / 1024,
        ROUNDS / 4,
        warm / 1024,
        last / 1024,
        peak / 1024,
        per_partition(peak),
    );
    // One partition's worth of series per 10 partitions as slack (cache, scrape buffers).
    let slack = warm / 10;
    assert!(peak <= warm + slack, "memory grows under churn: {warm} B after warm-up, peak {peak} B");
}
