//! The scrape/memory workload: `n` partitions × (10 gauges + 10 counters + 2 histograms of 12
//! buckets), labelled `topic` and `partition`, each series written once with a non-zero value.

use std::sync::Arc;

use measured::label::LabelGroupSet;
use measured::metric::group::Encoding;
use measured::metric::histogram::Thresholds;
use measured::metric::name::MetricName;
use measured::metric::MetricFamilyEncoding;
use prometheus::Encoder;
use raft_metrics::{Buckets, FamilySpec, Format, MetricInfo, Unit};

use crate::labels::{
    dense_set, sparse_set, DenseLabels, DenseSet, PartitionNo, PcLabels, PcOwnedLabels, RaftPartition, SparseLabels,
    SparseSet,
};
use crate::{
    bucket_bounds, counter_value, gauge_value, hist_value, names, BUCKETS, COUNTERS, GAUGES, HISTOGRAMS, TOPIC,
};

/// The implementations compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// raft-metrics, the 22 metrics as one `Group` family.
    RaftMetrics,
    /// prometheus 0.14: 22 `*Vec`s, `TextEncoder` over `gather()`.
    Prometheus,
    /// prometheus-client: 22 `Family`s keyed by `{topic: &'static str, partition: u32}`.
    PrometheusClient,
    /// prometheus-client keyed by `{topic: String, partition: u32}` (memory only).
    PrometheusClientOwned,
    /// metrics + metrics-exporter-prometheus (recorder without HTTP listener).
    MetricsExporter,
    /// measured with a fixed topic set: dense vecs.
    MeasuredDense,
    /// measured with a dynamic (interned) topic: sparse vecs.
    MeasuredSparse,
}

impl Impl {
    /// Every implementation, in report order.
    pub const ALL: [Impl; 7] = [
        Impl::RaftMetrics,
        Impl::Prometheus,
        Impl::PrometheusClient,
        Impl::PrometheusClientOwned,
        Impl::MetricsExporter,
        Impl::MeasuredDense,
        Impl::MeasuredSparse,
    ];

    /// The implementations of the scrape bench (the owned-key prometheus-client variant encodes
    /// the same way as the borrowed one, so it is left out there).
    pub const SCRAPE: [Impl; 6] = [
        Impl::RaftMetrics,
        Impl::Prometheus,
        Impl::PrometheusClient,
        Impl::MetricsExporter,
        Impl::MeasuredDense,
        Impl::MeasuredSparse,
    ];

    /// Short name, used as criterion function id and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Impl::RaftMetrics => "raft_metrics",
            Impl::Prometheus => "prometheus",
            Impl::PrometheusClient => "prometheus_client",
            Impl::PrometheusClientOwned => "prometheus_client_owned_topic",
            Impl::MetricsExporter => "metrics_exporter_prometheus",
            Impl::MeasuredDense => "measured_dense",
            Impl::MeasuredSparse => "measured_sparse",
        }
    }

    /// The implementation called `name`.
    pub fn from_name(name: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Builds a registry with `partitions` partitions, every series written once.
    pub fn build(self, partitions: u32) -> Box<dyn Scrape> {
        match self {
            Impl::RaftMetrics => Box::new(RaftSetup::new(partitions)),
            Impl::Prometheus => Box::new(PromSetup::new(partitions)),
            Impl::PrometheusClient => {
                Box::new(PcSetup::<PcLabels>::new(partitions, |p| PcLabels { topic: TOPIC, partition: p }))
            }
            Impl::PrometheusClientOwned => Box::new(PcSetup::<PcOwnedLabels>::new(partitions, |p| PcOwnedLabels {
                topic: TOPIC.to_owned(),
                partition: p,
            })),
            Impl::MetricsExporter => Box::new(MetricsSetup::new(partitions)),
            Impl::MeasuredDense => Box::new(MeasuredSetup::<Arc<DenseSet>>::new(
                dense_set(&[TOPIC], partitions),
                partitions,
                |topic, p| DenseLabels { topic, partition: PartitionNo(p) },
            )),
            Impl::MeasuredSparse => {
                Box::new(MeasuredSetup::<Arc<SparseSet>>::new(sparse_set(partitions), partitions, |topic, p| {
                    SparseLabels { topic, partition: PartitionNo(p) }
                }))
            }
        }
    }
}

/// A built registry that can write its full Prometheus text exposition.
pub trait Scrape {
    /// Clears the reused buffer, encodes everything into it and returns the bytes.
    fn scrape(&mut self) -> &[u8];

    /// Frees the reused buffer (for memory accounting).
    fn free_buffer(&mut self);
}

// ---------------------------------------------------------------------------------------------

struct RaftSetup {
    registry: raft_metrics::Registry,
    buf: Vec<u8>,
}

impl RaftSetup {
    fn new(partitions: u32) -> Self {
        let n = names();
        let mut infos = Vec::with_capacity(crate::METRICS);
        for i in 0..GAUGES {
            infos.push(MetricInfo::new(n.gauges[i], n.gauge_help[i]));
        }
        for i in 0..COUNTERS {
            infos.push(MetricInfo::new(n.counters[i], n.counter_help[i]));
        }
        for i in 0..HISTOGRAMS {
            infos.push(MetricInfo::new(n.hists[i], n.hist_help[i]).with_unit(Unit::Seconds));
        }
        let buckets = Arc::new(Buckets::new(bucket_bounds().to_vec()).expect("valid buckets"));
        let registry = raft_metrics::Registry::new();
        let family = registry
            .register(FamilySpec::<RaftPartition, 2>::new(infos, ["topic", "partition"], buckets))
            .expect("register the partition group");
        for p in 0..partitions {
            let series = family.get((TOPIC, p));
            for (i, g) in series.gauges.iter().enumerate() {
                g.set(gauge_value(p, i));
            }
            for (i, c) in series.counters.iter().enumerate() {
                c.add(counter_value(p, i));
            }
            for (i, h) in series.hists.iter().enumerate() {
                h.observe(hist_value(p, i));
            }
        }
        Self { registry, buf: Vec::new() }
    }
}

impl Scrape for RaftSetup {
    fn scrape(&mut self) -> &[u8] {
        self.buf.clear();
        self.registry.encode(Format::Prometheus, &mut self.buf);
        &self.buf
    }

    fn free_buffer(&mut self) {
        self.buf = Vec::new();
    }
}

// ---------------------------------------------------------------------------------------------

struct PromSetup {
    registry: prometheus::Registry,
    encoder: prometheus::TextEncoder,
    buf: Vec<u8>,
}

impl PromSetup {
    fn new(partitions: u32) -> Self {
        let n = names();
        let labels = ["topic", "partition"];
        let registry = prometheus::Registry::new();
        let gauges: Vec<prometheus::IntGaugeVec> = (0..GAUGES)
            .map(|i| {
                let v = prometheus::IntGaugeVec::new(prometheus::Opts::new(n.gauges[i], n.gauge_help[i]), &labels)
                    .expect("gauge vec");
                registry.register(Box::new(v.clone())).expect("register");
                v
            })
            .collect();
        let counters: Vec<prometheus::IntCounterVec> = (0..COUNTERS)
            .map(|i| {
                let v =
                    prometheus::IntCounterVec::new(prometheus::Opts::new(n.counters[i], n.counter_help[i]), &labels)
                        .expect("counter vec");
                registry.register(Box::new(v.clone())).expect("register");
                v
            })
            .collect();
        let hists: Vec<prometheus::HistogramVec> = (0..HISTOGRAMS)
            .map(|i| {
                let v = prometheus::HistogramVec::new(
                    prometheus::HistogramOpts::new(n.hists[i], n.hist_help[i]).buckets(bucket_bounds().to_vec()),
                    &labels,
                )
                .expect("histogram vec");
                registry.register(Box::new(v.clone())).expect("register");
                v
            })
            .collect();
        let mut itoa = itoa::Buffer::new();
        for p in 0..partitions {
            let values = [TOPIC, itoa.format(p)];
            for (i, g) in gauges.iter().enumerate() {
                g.with_label_values(&values).set(gauge_value(p, i));
            }
            for (i, c) in counters.iter().enumerate() {
                c.with_label_values(&values).inc_by(counter_value(p, i));
            }
            for (i, h) in hists.iter().enumerate() {
                h.with_label_values(&values).observe(hist_value(p, i));
            }
        }
        // The vecs live on inside the registry (they are `Arc`s).
        Self { registry, encoder: prometheus::TextEncoder::new(), buf: Vec::new() }
    }
}

impl Scrape for PromSetup {
    fn scrape(&mut self) -> &[u8] {
        self.buf.clear();
        self.encoder.encode(&self.registry.gather(), &mut self.buf).expect("encode");
        &self.buf
    }

    fn free_buffer(&mut self) {
        self.buf = Vec::new();
    }
}

// ---------------------------------------------------------------------------------------------

type PcHistogramFamily<L> =
    prometheus_client::metrics::family::Family<L, prometheus_client::metrics::histogram::Histogram>;

fn pc_histogram() -> prometheus_client::metrics::histogram::Histogram {
    prometheus_client::metrics::histogram::Histogram::new(bucket_bounds())
}

struct PcSetup<L> {
    registry: prometheus_client::registry::Registry,
    buf: String,
    _labels: core::marker::PhantomData<L>,
}

impl<L> PcSetup<L>
where
    L: prometheus_client::encoding::EncodeLabelSet
        + Clone
        + Eq
        + core::hash::Hash
        + core::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn new(partitions: u32, labels: impl Fn(u32) -> L) -> Self {
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::gauge::Gauge;

        let n = names();
        let mut registry = prometheus_client::registry::Registry::default();
        let gauges: Vec<Family<L, Gauge>> = (0..GAUGES)
            .map(|i| {
                let f = Family::<L, Gauge>::default();
                registry.register(n.gauges[i], n.gauge_help[i], f.clone());
                f
            })
            .collect();
        let counters: Vec<Family<L, Counter>> = (0..COUNTERS)
            .map(|i| {
                let f = Family::<L, Counter>::default();
                // prometheus-client appends `_total` to counters itself.
                registry.register(n.counter_bases[i], n.counter_help[i], f.clone());
                f
            })
            .collect();
        let hists: Vec<PcHistogramFamily<L>> = (0..HISTOGRAMS)
            .map(|i| {
                let f = PcHistogramFamily::<L>::new_with_constructor(pc_histogram);
                registry.register(n.hists[i], n.hist_help[i], f.clone());
                f
            })
            .collect();
        for p in 0..partitions {
            let key = labels(p);
            for (i, g) in gauges.iter().enumerate() {
                g.get_or_create(&key).set(gauge_value(p, i));
            }
            for (i, c) in counters.iter().enumerate() {
                c.get_or_create(&key).inc_by(counter_value(p, i));
            }
            for (i, h) in hists.iter().enumerate() {
                h.get_or_create(&key).observe(hist_value(p, i));
            }
        }
        Self { registry, buf: String::new(), _labels: core::marker::PhantomData }
    }
}

impl<L> Scrape for PcSetup<L> {
    fn scrape(&mut self) -> &[u8] {
        self.buf.clear();
        prometheus_client::encoding::text::encode(&mut self.buf, &self.registry).expect("encode");
        self.buf.as_bytes()
    }

    fn free_buffer(&mut self) {
        self.buf = String::new();
    }
}

// ---------------------------------------------------------------------------------------------

/// A metrics-exporter-prometheus recorder (no HTTP listener) that renders real histograms with
/// the shared bucket bounds.
pub fn metrics_recorder() -> metrics_exporter_prometheus::PrometheusRecorder {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&bucket_bounds())
        .expect("buckets")
        .build_recorder()
}

struct MetricsSetup {
    // Keeps the registry alive; the handle renders it.
    _recorder: metrics_exporter_prometheus::PrometheusRecorder,
    handle: metrics_exporter_prometheus::PrometheusHandle,
    buf: Vec<u8>,
}

impl MetricsSetup {
    fn new(partitions: u32) -> Self {
        let recorder = metrics_recorder();
        let handle = recorder.handle();
        let n = names();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..GAUGES {
                metrics::describe_gauge!(n.gauges[i], n.gauge_help[i]);
            }
            for i in 0..COUNTERS {
                metrics::describe_counter!(n.counters[i], n.counter_help[i]);
            }
            for i in 0..HISTOGRAMS {
                metrics::describe_histogram!(n.hists[i], n.hist_help[i]);
            }
            let mut itoa = itoa::Buffer::new();
            for p in 0..partitions {
                let partition = itoa.format(p);
                for i in 0..GAUGES {
                    #[allow(clippy::cast_precision_loss)]
                    metrics::gauge!(n.gauges[i], "topic" => TOPIC, "partition" => partition.to_owned())
                        .set(gauge_value(p, i) as f64);
                }
                for i in 0..COUNTERS {
                    metrics::counter!(n.counters[i], "topic" => TOPIC, "partition" => partition.to_owned())
                        .increment(counter_value(p, i));
                }
                for i in 0..HISTOGRAMS {
                    metrics::histogram!(n.hists[i], "topic" => TOPIC, "partition" => partition.to_owned())
                        .record(hist_value(p, i));
                }
            }
        });
        Self { _recorder: recorder, handle, buf: Vec::new() }
    }
}

impl Scrape for MetricsSetup {
    fn scrape(&mut self) -> &[u8] {
        self.buf.clear();
        self.handle.render_to_write(&mut self.buf).expect("render");
        &self.buf
    }

    fn free_buffer(&mut self) {
        self.buf = Vec::new();
    }
}

// ---------------------------------------------------------------------------------------------

struct MeasuredSetup<L: LabelGroupSet> {
    gauges: Vec<measured::GaugeVec<L>>,
    counters: Vec<measured::CounterVec<L>>,
    hists: Vec<measured::HistogramVec<L, BUCKETS>>,
    gauge_names: Vec<&'static MetricName>,
    counter_names: Vec<&'static MetricName>,
    hist_names: Vec<&'static MetricName>,
    buf: Vec<u8>,
}

fn metric_name(name: &'static str) -> &'static MetricName {
    MetricName::try_from_str(name).expect("valid metric name")
}

impl<L: LabelGroupSet + Clone> MeasuredSetup<L> {
    fn new(set: L, partitions: u32, labels: impl for<'a> Fn(&'a str, u32) -> L::Group<'a>) -> Self {
        let n = names();
        let thresholds = || Thresholds::<BUCKETS>::with_buckets(bucket_bounds());
        let gauges: Vec<measured::GaugeVec<L>> =
            (0..GAUGES).map(|_| measured::GaugeVec::with_label_set(set.clone())).collect();
        let counters: Vec<measured::CounterVec<L>> =
            (0..COUNTERS).map(|_| measured::CounterVec::with_label_set(set.clone())).collect();
        let hists: Vec<measured::HistogramVec<L, BUCKETS>> = (0..HISTOGRAMS)
            .map(|_| measured::HistogramVec::with_label_set_and_metadata(set.clone(), thresholds()))
            .collect();
        for p in 0..partitions {
            for (i, g) in gauges.iter().enumerate() {
                g.set(labels(TOPIC, p), gauge_value(p, i));
            }
            for (i, c) in counters.iter().enumerate() {
                c.inc_by(labels(TOPIC, p), counter_value(p, i));
            }
            for (i, h) in hists.iter().enumerate() {
                h.observe(labels(TOPIC, p), hist_value(p, i));
            }
        }
        Self {
            gauges,
            counters,
            hists,
            gauge_names: n.gauges.iter().map(|s| metric_name(s)).collect(),
            counter_names: n.counters.iter().map(|s| metric_name(s)).collect(),
            hist_names: n.hists.iter().map(|s| metric_name(s)).collect(),
            buf: Vec::new(),
        }
    }
}

impl<L: LabelGroupSet> Scrape for MeasuredSetup<L> {
    fn scrape(&mut self) -> &[u8] {
        self.buf.clear();
        let n = names();
        let mut enc = measured::text::TextEncoder::new(&mut self.buf);
        for (i, (v, name)) in self.gauges.iter().zip(&self.gauge_names).enumerate() {
            enc.write_help(name, n.gauge_help[i]).expect("help");
            v.collect_family_into(name, &mut enc).expect("encode");
        }
        for (i, (v, name)) in self.counters.iter().zip(&self.counter_names).enumerate() {
            enc.write_help(name, n.counter_help[i]).expect("help");
            v.collect_family_into(name, &mut enc).expect("encode");
        }
        for (i, (v, name)) in self.hists.iter().zip(&self.hist_names).enumerate() {
            enc.write_help(name, n.hist_help[i]).expect("help");
            v.collect_family_into(name, &mut enc).expect("encode");
        }
        enc.flush().expect("flush");
        &self.buf
    }

    fn free_buffer(&mut self) {
        self.buf = Vec::new();
    }
}
