//! The facade's handle traits over our cells: what a `metrics::counter!` call returns.

use super::HISTOGRAM_BUCKETS;
use crate::{Counter, FloatGauge, Handle, Histogram};

pub(super) struct CounterCell(pub(super) Handle<Counter>);

impl metrics::CounterFn for CounterCell {
    fn increment(&self, value: u64) {
        self.0.add(value);
    }

    /// Raises the count to at least `value`; see the module's limitations.
    fn absolute(&self, value: u64) {
        let current = self.0.get();
        if value > current {
            self.0.add(value - current);
        }
    }
}

pub(super) struct GaugeCell(pub(super) Handle<FloatGauge>);

impl metrics::GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

pub(super) struct HistogramCell(pub(super) Handle<Histogram<HISTOGRAM_BUCKETS>>);

impl metrics::HistogramFn for HistogramCell {
    fn record(&self, value: f64) {
        self.0.observe(value);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.0.observe_n(value, u64::try_from(count).unwrap_or(u64::MAX));
    }
}
