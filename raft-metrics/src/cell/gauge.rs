use super::Metric;
use crate::encode::SeriesWriter;
use crate::model::MetricKind;
use crate::sync::{AtomicI64, AtomicU64, Ordering};

use super::Local;

/// An integer value that goes up and down: a term, an index, a queue depth.
///
/// `set` is one relaxed store; `add` is one relaxed `fetch_add` and wraps at the `i64` range.
/// Unsigned quantities (indices, counts) go through [`Gauge::set_u64`], which saturates: a value
/// above `i64::MAX` is stored and exported as `i64::MAX` (9223372036854775807), never as a
/// negative number. No Raft log reaches 2^63 entries.
///
/// # Examples
///
/// ```
/// use raft_metrics::Gauge;
///
/// let term = Gauge::default();
/// term.set(7);
/// term.inc();
/// assert_eq!(term.get(), 8);
/// ```
#[derive(Default)]
pub struct Gauge {
    value: AtomicI64,
}

impl Gauge {
    /// Replaces the value.
    #[inline]
    pub fn set(&self, v: i64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::gauge();
        // Relaxed: a gauge sample publishes no other memory.
        self.value.store(v, Ordering::Relaxed);
    }

    /// Replaces the value with an unsigned quantity, saturating at `i64::MAX`.
    #[inline]
    pub fn set_u64(&self, v: u64) {
        self.set(i64::try_from(v).unwrap_or(i64::MAX));
    }

    /// Replaces the value and returns the one it replaced, in one atomic step: a state flag
    /// whose changes another gauge counts (set from several threads, each change is seen once).
    #[inline]
    pub fn swap(&self, v: i64) -> i64 {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::gauge();
        self.value.swap(v, Ordering::Relaxed)
    }

    /// Adds `n` (which may be negative), wrapping at the `i64` range.
    #[inline]
    pub fn add(&self, n: i64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::gauge();
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }

    /// The single-writer view of a gauge this code owns outright.
    pub fn local(&mut self) -> Local<'_, Self> {
        Local::new(self)
    }
}

impl Local<'_, Gauge> {
    /// Replaces the value.
    #[inline]
    pub fn set(&self, v: i64) {
        self.cell().set(v);
    }

    /// Replaces the value with an unsigned quantity, saturating at `i64::MAX`.
    #[inline]
    pub fn set_u64(&self, v: u64) {
        self.cell().set_u64(v);
    }

    /// Adds `n` with a relaxed load and store: no locked instruction.
    #[inline]
    pub fn add(&self, n: i64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::gauge();
        let cell = &self.cell().value;
        cell.store(cell.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> i64 {
        self.cell().get()
    }
}

impl Metric for Gauge {
    type Layout = ();
    const KIND: MetricKind = MetricKind::Gauge;

    fn new(_layout: &()) -> Self {
        Self::default()
    }

    fn reset(&self) {
        self.set(0);
    }

    fn encode(&self, _layout: &(), out: &mut SeriesWriter<'_>) {
        out.gauge_int(self.get());
    }
}

impl core::fmt::Debug for Gauge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Gauge").field("value", &self.get()).finish()
    }
}

/// A floating-point value that goes up and down: a ratio, a lag in seconds.
///
/// `set` is one relaxed store of the bit pattern. `add` is a compare-and-swap loop (there is no
/// atomic float add); it is lock-free but not wait-free, so prefer `set` on hot paths.
/// NaN and infinities are stored as given and exported as `NaN`, `+Inf` and `-Inf`.
#[derive(Default)]
pub struct FloatGauge {
    bits: AtomicU64,
}

impl FloatGauge {
    /// Replaces the value.
    #[inline]
    pub fn set(&self, v: f64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::gauge();
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds `v` with a compare-and-swap loop.
    pub fn add(&self, v: f64) {
        #[cfg(raft_metrics_op_count)]
        crate::op_count::gauge();
        let mut current = self.bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + v).to_bits();
            match self.bits.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    /// The single-writer view of a gauge this code owns outright.
    pub fn local(&mut self) -> Local<'_, Self> {
        Local::new(self)
    }
}

impl Local<'_, FloatGauge> {
    /// Replaces the value.
    #[inline]
    pub fn set(&self, v: f64) {
        self.cell().set(v);
    }

    /// Adds `v` with a relaxed load and store: no compare-and-swap loop.
    #[inline]
    pub fn add(&self, v: f64) {
        self.cell().set(self.cell().get() + v);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> f64 {
        self.cell().get()
    }
}

impl Metric for FloatGauge {
    type Layout = ();
    const KIND: MetricKind = MetricKind::Gauge;

    fn new(_layout: &()) -> Self {
        Self::default()
    }

    fn reset(&self) {
        self.set(0.0);
    }

    fn encode(&self, _layout: &(), out: &mut SeriesWriter<'_>) {
        out.gauge_float(self.get());
    }
}

impl core::fmt::Debug for FloatGauge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FloatGauge").field("value", &self.get()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn integer_gauge_saturates_unsigned_and_wraps_adds() {
        let g = Gauge::default();
        g.set_u64(u64::MAX);
        assert_eq!(g.get(), i64::MAX);
        g.add(1);
        assert_eq!(g.get(), i64::MIN);
        let mut owned = Gauge::default();
        owned.local().dec();
        assert_eq!(owned.get(), -1);
    }

    /// The type's docs promise saturation for unsigned values, in the cell and in the export.
    /// Threads racing to set a flag: exactly one sees the change (what `set_hibernating` counts).
    #[test]
    fn swap_sees_each_change_once() {
        let flag = Gauge::default();
        let changes = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        if flag.swap(1) == 0 {
                            changes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(changes.load(Ordering::Relaxed), 1);
        assert_eq!(flag.swap(0), 1);
        assert_eq!(flag.get(), 0);
    }

    #[test]
    fn unsigned_values_above_i64_max_saturate_and_export_positive() {
        let g = Gauge::default();
        for v in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX - 1, u64::MAX] {
            g.set_u64(v);
            assert_eq!(g.get(), i64::MAX, "{v}");
        }
        g.set_u64(42);
        assert_eq!(g.get(), 42);
        let mut owned = Gauge::default();
        owned.local().set_u64(1 << 63);
        assert_eq!(owned.get(), i64::MAX);

        let registry = crate::Registry::new();
        let gauge = registry.gauge("big_index", "An index past i64::MAX.").unwrap();
        gauge.set_u64(u64::MAX);
        let text = registry.encode_to_string(crate::Format::Prometheus);
        assert!(text.contains("big_index 9223372036854775807\n"), "{text}");
        assert!(!text.contains("big_index -"), "{text}");
    }

    #[test]
    fn float_gauge_keeps_special_values() {
        let g = FloatGauge::default();
        g.set(f64::NAN);
        assert!(g.get().is_nan());
        g.set(1.5);
        g.add(f64::INFINITY);
        assert_eq!(g.get(), f64::INFINITY);
        let mut owned = FloatGauge::default();
        owned.local().add(0.25);
        owned.local().add(0.25);
        assert!((owned.get() - 0.5).abs() < f64::EPSILON);
    }
}
