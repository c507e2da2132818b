//! The hot path never allocates: after a label set's first call, repeated guide calls, bound
//! handles, single-writer views and sampled timers allocate nothing. A counting global allocator
//! proves it; this file is its own test binary, so no other test's allocations interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use raft_metrics::raft::RaftMetrics;
use raft_metrics::Registry;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measured thread counts: the test harness allocates on its own threads.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(std::cell::Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; we only count.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is process-wide: the tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn every_hot_call(m: &RaftMetrics, partition: u32) {
    let (t, p) = ("orders", partition);
    m.set_current_term(t, p, 5);
    m.set_commit_index(t, p, 100);
    m.set_last_applied(t, p, 99);
    m.set_follower_lag_entries(t, p, "node-2", 3);
    m.set_follower_lag_ms(t, p, "node-2", 1.5);
    m.update_last_heartbeat(t, p, "node-2", 1_700_000_000_000u64);
    m.record_commit_latency(t, p, 2.0, 8);
    m.record_append_entries_sent(t, p, "node-2", 512);
    m.record_append_entries_received(t, p, "node-1");
    m.record_append_entries_rejected(t, p, "stale_term");
    m.record_rpc_call("append_entries", "node-2", true, 0.4);
    m.set_log_size(t, p, 10, 1024);
    m.record_election(t, p, true, 120.0);
}

#[test]
fn repeated_calls_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let registry = Registry::new();
    let m = RaftMetrics::with_registry(&registry).unwrap();
    // First calls create series (and may allocate); later ones must not.
    for partition in 0..8 {
        every_hot_call(&m, partition);
    }
    let bound = m.partition("orders", 0);
    let peer = m.peer("orders", 0, "node-2");
    let owned = m.claim_partition("orders", 9).unwrap();
    let cached = allocations_during(|| {
        for round in 0..1000 {
            every_hot_call(&m, round % 8);
            bound.commit_latency.observe(0.002);
            bound.proposals_committed.inc();
            peer.follower_lag_entries.set(1);
            owned.fields().commit_index.set(i64::from(round));
            owned.fields().commit_latency.observe(0.001);
        }
    });
    assert_eq!(cached, 0, "the hot path allocated {cached} times");
}

#[test]
fn scrapes_allocate_in_proportion_to_families_not_series() {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let registry = Registry::new();
    let m = RaftMetrics::with_registry(&registry).unwrap();
    for partition in 0..100 {
        every_hot_call(&m, partition);
    }
    let mut out = Vec::with_capacity(1 << 20);
    registry.encode(raft_metrics::Format::Prometheus, &mut out);
    out.clear();
    let scrape = allocations_during(|| registry.encode(raft_metrics::Format::Prometheus, &mut out));
    // A handful per family (the copied series list), none per sample line.
    assert!(scrape < 200, "a scrape of 100 partitions allocated {scrape} times");
}
