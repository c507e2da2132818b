//! How many recording operations of each kind the process performed: compiled in only with
//! `RUSTFLAGS="--cfg raft_metrics_op_count"`, never in a normal build.
//!
//! It exists for one measurement: `benches/src/bin/op_mix.rs` counts the operations the raft-rs
//! adapter performs per proposal, so that the overhead benches can replay exactly that mix through
//! other metrics libraries ("what would the same instrumentation cost elsewhere").

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);
static GAUGE: AtomicU64 = AtomicU64::new(0);
static HISTOGRAM: AtomicU64 = AtomicU64::new(0);

/// Operations so far, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Counter increments and adds (shared or single-writer).
    pub counter: u64,
    /// Gauge sets and adds, integer and float.
    pub gauge: u64,
    /// Histogram observations (each weighted observation counts once).
    pub histogram: u64,
}

/// The operations counted so far in this process, on every thread.
pub fn snapshot() -> OpCounts {
    OpCounts {
        counter: COUNTER.load(Ordering::Relaxed),
        gauge: GAUGE.load(Ordering::Relaxed),
        histogram: HISTOGRAM.load(Ordering::Relaxed),
    }
}

pub(crate) fn counter() {
    COUNTER.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn gauge() {
    GAUGE.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn histogram() {
    HISTOGRAM.fetch_add(1, Ordering::Relaxed);
}
