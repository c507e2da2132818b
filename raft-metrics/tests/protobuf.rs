//! Prometheus protobuf exposition: the delimited stream decodes with prost into the families,
//! labels, values and buckets that were recorded, hostile label values included; native
//! histograms carry the spans and deltas of their observations.
#![cfg(feature = "protobuf")]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use prost::Message;
use proto::{MetricFamily, MetricType};
use raft_metrics::advanced::parse::parse;
use raft_metrics::advanced::ByLabelLayout;
use raft_metrics::{
    Buckets, ByLabel, Counter, EnumLabel, FamilySpec, FloatGauge, Format, Gauge, MetricInfo, NativeBuckets,
    NativeHistogram, Registry, Unit,
};

const HOSTILE: &[&str] = &["", "plain", "quote\"d", "back\\slash", "new\nline", "\\n", "ünïcødé ✓", "}{,=\"", "\t\r"];

#[derive(Clone, Copy)]
enum Reason {
    StaleTerm,
    LogInconsistency,
}

impl EnumLabel for Reason {
    const VALUES: &'static [&'static str] = &["stale_term", "log_inconsistency"];
    fn index(self) -> usize {
        self as usize
    }
}

/// `io.prometheus.client` as this test reads it, written from `metrics.proto` independently of
/// the crate's own encoder.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct LabelPair {
        #[prost(string, optional, tag = "1")]
        pub(crate) name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub(crate) value: Option<String>,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub(crate) enum MetricType {
        Counter = 0,
        Gauge = 1,
        Summary = 2,
        Untyped = 3,
        Histogram = 4,
        GaugeHistogram = 5,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub(crate) struct Value {
        #[prost(double, optional, tag = "1")]
        pub(crate) value: Option<f64>,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub(crate) struct Bucket {
        #[prost(uint64, optional, tag = "1")]
        pub(crate) cumulative_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub(crate) upper_bound: Option<f64>,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub(crate) struct BucketSpan {
        #[prost(sint32, optional, tag = "1")]
        pub(crate) offset: Option<i32>,
        #[prost(uint32, optional, tag = "2")]
        pub(crate) length: Option<u32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub(crate) sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub(crate) sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub(crate) bucket: Vec<Bucket>,
        #[prost(sint32, optional, tag = "5")]
        pub(crate) schema: Option<i32>,
        #[prost(double, optional, tag = "6")]
        pub(crate) zero_threshold: Option<f64>,
        #[prost(uint64, optional, tag = "7")]
        pub(crate) zero_count: Option<u64>,
        #[prost(message, repeated, tag = "9")]
        pub(crate) negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "10")]
        pub(crate) negative_delta: Vec<i64>,
        #[prost(message, repeated, tag = "12")]
        pub(crate) positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "13")]
        pub(crate) positive_delta: Vec<i64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub(crate) label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        pub(crate) gauge: Option<Value>,
        #[prost(message, optional, tag = "3")]
        pub(crate) counter: Option<Value>,
        #[prost(message, optional, tag = "7")]
        pub(crate) histogram: Option<Histogram>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub(crate) name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub(crate) help: Option<String>,
        #[prost(enumeration = "MetricType", optional, tag = "3")]
        pub(crate) r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub(crate) metric: Vec<Metric>,
        #[prost(string, optional, tag = "5")]
        pub(crate) unit: Option<String>,
    }
}

/// Every family of a delimited stream, in order.
fn decode(mut bytes: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !bytes.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut bytes).expect("a delimited MetricFamily"));
    }
    families
}

fn scrape(registry: &Registry) -> Vec<MetricFamily> {
    let mut out = Vec::new();
    registry.encode(Format::Protobuf, &mut out);
    decode(&out)
}

fn family<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
    families.iter().find(|f| f.name() == name).unwrap_or_else(|| panic!("no family {name}"))
}

fn labels(metric: &proto::Metric) -> Vec<(&str, &str)> {
    metric.label.iter().map(|l| (l.name(), l.value())).collect()
}

#[test]
fn counters_gauges_and_hostile_labels_round_trip() {
    let r = Registry::new();
    let commits = r
        .register_with::<Counter, 2>(
            MetricInfo::new("t_commits_total", "Commits \"quoted\" \\ and\nnewline."),
            ["topic", "partition"],
            (),
        )
        .unwrap();
    let term = r.register_with::<Gauge, 1>(MetricInfo::new("t_term", "Term."), ["topic"], ()).unwrap();
    let lag = r
        .register_with::<FloatGauge, 1>(
            MetricInfo::new("t_lag_seconds", "Lag.").with_unit(Unit::Seconds),
            ["topic"],
            (),
        )
        .unwrap();
    let rejected = r
        .register_with::<ByLabel<Reason, Counter, 2>, 1>(
            MetricInfo::new("t_rejected_total", "Rejections."),
            ["topic"],
            ByLabelLayout::new("reason", ()).unwrap(),
        )
        .unwrap();
    for (i, topic) in HOSTILE.iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        commits.get((*topic, i)).add(u64::from(i) + 1);
        term.get((*topic,)).set(-i64::from(i));
        lag.get((*topic,)).set(f64::from(i) / 4.0);
        rejected.get((*topic,)).get(Reason::LogInconsistency).add(u64::from(i) * 10);
        rejected.get((*topic,)).get(Reason::StaleTerm).add(0);
    }
    let families = scrape(&r);
    assert_eq!(
        families.iter().map(MetricFamily::name).collect::<Vec<_>>(),
        ["t_commits_total", "t_term", "t_lag_seconds", "t_rejected_total", "raft_metrics_dropped_label_sets_total"]
    );
    let dropped = family_values(&families, "raft_metrics_dropped_label_sets_total");
    // The registry's total, from zero; no family has dropped a label set, so no per-family series.
    assert_eq!(dropped, [(vec![], 0.0)]);

    let commits = family(&families, "t_commits_total");
    assert_eq!(commits.r#type(), MetricType::Counter);
    assert_eq!(commits.help(), "Commits \"quoted\" \\ and\nnewline.");
    assert_eq!(commits.unit, None);
    assert_eq!(commits.metric.len(), HOSTILE.len());
    for (i, (metric, topic)) in commits.metric.iter().zip(HOSTILE).enumerate() {
        let partition = i.to_string();
        assert_eq!(labels(metric), [("topic", *topic), ("partition", partition.as_str())]);
        assert_eq!(metric.counter.unwrap().value, Some(i as f64 + 1.0));
        assert!(metric.gauge.is_none() && metric.histogram.is_none());
    }

    let term = family(&families, "t_term");
    assert_eq!(term.r#type(), MetricType::Gauge);
    for (i, (metric, topic)) in term.metric.iter().zip(HOSTILE).enumerate() {
        assert_eq!(labels(metric), [("topic", *topic)]);
        assert_eq!(metric.gauge.unwrap().value, Some(-(i as f64)));
    }

    let lag = family(&families, "t_lag_seconds");
    assert_eq!((lag.r#type(), lag.unit.as_deref()), (MetricType::Gauge, Some("seconds")));
    assert_eq!(lag.metric[3].gauge.unwrap().value, Some(0.75));

    let rejected = family(&families, "t_rejected_total");
    assert_eq!(rejected.metric.len(), 2 * HOSTILE.len());
    for (i, topic) in HOSTILE.iter().enumerate() {
        let [stale, inconsistent] = [&rejected.metric[2 * i], &rejected.metric[2 * i + 1]];
        assert_eq!(labels(stale), [("topic", *topic), ("reason", "stale_term")]);
        assert_eq!(labels(inconsistent), [("topic", *topic), ("reason", "log_inconsistency")]);
        assert_eq!(stale.counter.unwrap().value, Some(0.0));
        assert_eq!(inconsistent.counter.unwrap().value, Some(i as f64 * 10.0));
    }
}

#[test]
fn classic_histograms_carry_cumulative_buckets_and_inf() {
    let r = Registry::new();
    let latency = r
        .histogram::<3, 1>(
            MetricInfo::new("t_latency_seconds", "Latency.").with_unit(Unit::Seconds),
            ["topic"],
            Buckets::new(vec![0.001, 0.01, 0.1]).unwrap(),
        )
        .unwrap();
    let h = latency.get(("a",));
    for v in [0.0005, 0.001, 0.005, 0.05, 0.5, 7.0] {
        h.observe(v);
    }
    let families = scrape(&r);
    let latency = family(&families, "t_latency_seconds");
    assert_eq!((latency.r#type(), latency.unit.as_deref()), (MetricType::Histogram, Some("seconds")));
    let histogram = latency.metric[0].histogram.as_ref().unwrap();
    assert_eq!(histogram.sample_count, Some(6));
    assert!((histogram.sample_sum() - 7.5565).abs() < 1e-9, "{histogram:?}");
    let buckets: Vec<_> = histogram.bucket.iter().map(|b| (b.upper_bound(), b.cumulative_count())).collect();
    assert_eq!(buckets, [(0.001, 2), (0.01, 3), (0.1, 4), (f64::INFINITY, 6)]);
    assert_eq!(histogram.schema, None, "a classic histogram has no native fields");
    assert_eq!(histogram.zero_threshold, None);
}

/// client_golang's bucket index of `v` (away from bucket boundaries, where `log2` is exact enough).
fn index_of(v: f64, schema: u8) -> i32 {
    (v.abs().log2() * f64::from(1u32 << schema)).ceil() as i32
}

/// `index -> count` from spans and deltas, as Prometheus reads them.
fn expand(spans: &[proto::BucketSpan], deltas: &[i64]) -> BTreeMap<i32, u64> {
    let mut buckets = BTreeMap::new();
    let mut deltas = deltas.iter();
    let mut index = 0;
    let mut count = 0i64;
    // The first offset is the first index; later ones count the gap after the previous span.
    for span in spans {
        index += span.offset();
        for _ in 0..span.length() {
            count += deltas.next().expect("a delta per bucket");
            if count != 0 {
                buckets.insert(index, u64::try_from(count).unwrap());
            }
            index += 1;
        }
    }
    assert!(deltas.next().is_none(), "no delta without a bucket");
    buckets
}

#[test]
fn native_histograms_carry_spans_and_deltas() {
    let r = Registry::new();
    let buckets = Arc::new(NativeBuckets::new(3).unwrap().with_negative(true));
    let native_family = r
        .register_with::<NativeHistogram, 1>(
            MetricInfo::new("t_apply_seconds", "Apply latency.").with_unit(Unit::Seconds),
            ["topic"],
            Arc::clone(&buckets),
        )
        .unwrap();
    let observations = [0.0031, 0.0031, 0.0033, 0.0045, 0.0047, 0.009, 0.17, 0.17, 2.5, 300.0, -0.02, -0.021, -7.0];
    let h = native_family.get(("q\"uo\\te\n",));
    let zero = [0.0, 1e-9, -1e-7];
    for v in observations.iter().chain(&zero) {
        h.observe(*v);
    }
    h.observe(f64::NAN); // dropped, not exported
    native_family.get(("empty",));

    let families = scrape(&r);
    let native = family(&families, "t_apply_seconds");
    assert_eq!((native.r#type(), native.unit.as_deref()), (MetricType::Histogram, Some("seconds")));
    assert_eq!(native.metric.len(), 2);
    assert_eq!(labels(&native.metric[0]), [("topic", "q\"uo\\te\n")]);
    let histogram = native.metric[0].histogram.as_ref().unwrap();
    assert_eq!(histogram.schema, Some(3));
    assert_eq!(histogram.zero_threshold, Some(2f64.powi(-20)));
    assert_eq!(histogram.zero_count, Some(3));
    assert_eq!(histogram.sample_count, Some((observations.len() + zero.len()) as u64));
    let sum: f64 = observations.iter().sum();
    assert!(((histogram.sample_sum() - sum) / sum).abs() < 1e-6, "{} vs {sum}", histogram.sample_sum());
    assert!(histogram.bucket.is_empty(), "no classic buckets next to native ones");

    let mut positive = BTreeMap::new();
    let mut negative = BTreeMap::new();
    for v in observations {
        let side = if v > 0.0 { &mut positive } else { &mut negative };
        *side.entry(index_of(v, 3)).or_insert(0u64) += 1;
    }
    assert_eq!(expand(&histogram.positive_span, &histogram.positive_delta), positive);
    assert_eq!(expand(&histogram.negative_span, &histogram.negative_delta), negative);
    // 0.0031 and 0.0033 are one bucket apart: one span, with a zero delta between.
    assert_eq!(index_of(0.0033, 3) - index_of(0.0031, 3), 1);

    // An empty series is still a native histogram: Prometheus tells by the zero threshold.
    let empty = native.metric[1].histogram.as_ref().unwrap();
    assert_eq!((empty.sample_count, empty.zero_count, empty.zero_threshold), (Some(0), Some(0), Some(2f64.powi(-20))));
    assert!(empty.positive_span.is_empty() && empty.positive_delta.is_empty());
}

#[test]
fn native_histograms_are_classic_in_text() {
    let r = Registry::new();
    let apply = r
        .register_with::<NativeHistogram, 0>(
            MetricInfo::new("t_apply_seconds", "Apply latency.").with_unit(Unit::Seconds),
            [],
            Arc::new(NativeBuckets::new(3).unwrap().with_range(-10, 4).unwrap().with_text_step(2).unwrap()),
        )
        .unwrap();
    let h = apply.get(());
    for v in [0.0, -1.0, 0.0005, 0.003, 0.25, 0.25, 1.0, 1.5, 100.0] {
        h.observe(v);
    }
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = r.encode_to_string(format);
        let scrape = parse(&text, format).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let le = |bound: &str| scrape.value("t_apply_seconds_bucket", &[("le", bound)]);
        // Bounds every second power of two from 2^-10 to 2^4; counts are exact at each.
        assert_eq!(le("0.0009765625"), Some(3.0), "{text}"); // 0, -1 (as zero), 0.0005
        assert_eq!(le("0.00390625"), Some(4.0));
        assert_eq!(le("0.25"), Some(6.0), "0.25 is a bucket's inclusive upper bound");
        assert_eq!(le("1.0"), Some(7.0));
        assert_eq!(le("4.0"), Some(8.0));
        assert_eq!(le("16.0"), Some(9.0), "100 is clamped into the last bucket");
        assert_eq!(le("+Inf"), Some(9.0));
        assert_eq!(scrape.value("t_apply_seconds_count", &[]), Some(9.0));
        let sum = scrape.value("t_apply_seconds_sum", &[]).unwrap();
        // -1 is recorded as zero and 0.0005 is in the zero bucket: neither adds to the sum.
        assert!((sum - 103.003).abs() < 1e-4, "{sum}");
        assert_eq!(scrape.lines().filter(|s| s.name == "t_apply_seconds_bucket").count(), 9);
    }
    common::assert_promtool_silent(&r.encode_to_string(Format::Prometheus));
}

#[test]
fn overflow_meta_metric_and_empty_registry() {
    assert!(scrape(&Registry::new()).is_empty());
    let r = Registry::new();
    let hits = r
        .register(
            FamilySpec::<Counter, 1>::new(vec![MetricInfo::new("t_hits_total", "Hits.")], ["k"], ()).max_series(1),
        )
        .unwrap();
    hits.get(("a",)).inc();
    hits.get(("b",)).add(2);
    hits.get(("c",)).add(3);
    let families = scrape(&r);
    let hits = family_values(&families, "t_hits_total");
    assert_eq!(hits, [(vec![("k".into(), "a".into())], 1.0), (vec![("k".into(), "__overflow__".into())], 5.0)]);
    let dropped = family(&families, "raft_metrics_dropped_label_sets_total");
    assert_eq!(dropped.r#type(), MetricType::Counter);
    assert!(!dropped.help().is_empty());
    assert_eq!(
        family_values(&families, "raft_metrics_dropped_label_sets_total"),
        [(vec![], 2.0), (vec![("metric".into(), "t_hits".into())], 2.0)]
    );
}

type Series = (Vec<(String, String)>, f64);

fn family_values(families: &[MetricFamily], name: &str) -> Vec<Series> {
    family(families, name)
        .metric
        .iter()
        .map(|m| {
            let labels = m.label.iter().map(|l| (l.name().to_owned(), l.value().to_owned())).collect();
            (labels, m.counter.map_or(f64::NAN, |c| c.value()))
        })
        .collect()
}

#[test]
fn concurrent_text_and_protobuf_scrapes_do_not_mix() {
    let r = Arc::new(Registry::new());
    let c = r.counter("t_events_total", "Events.").unwrap();
    c.add(7);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                for _ in 0..200 {
                    if t % 2 == 0 {
                        let families = scrape(&r);
                        assert_eq!(families.len(), 1);
                        assert_eq!(families[0].metric[0].counter.unwrap().value, Some(7.0));
                    } else {
                        let text = r.encode_to_string(Format::Prometheus);
                        assert!(text.contains("t_events_total 7\n"), "{text}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(parse("x 1\n", Format::Protobuf).is_err(), "protobuf is not a text format");
    assert_eq!(
        Format::Protobuf.content_type(),
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
}

/// A metric whose encoding panics, to check that a panicking protobuf scrape leaves the thread
/// writing text again.
#[derive(Debug)]
struct Boom;

impl raft_metrics::advanced::Metric for Boom {
    type Layout = ();
    const KIND: raft_metrics::advanced::MetricKind = raft_metrics::advanced::MetricKind::Gauge;

    fn new(_layout: &()) -> Self {
        Boom
    }

    fn reset(&self) {}

    fn encode(&self, _layout: &(), out: &mut raft_metrics::advanced::SeriesWriter<'_>) {
        out.gauge_int(1);
        panic!("boom");
    }
}

#[test]
fn a_panicking_protobuf_scrape_leaves_text_scrapes_intact() {
    let r = Registry::new();
    r.counter("t_events_total", "Events.").unwrap().add(3);
    r.register_with::<Boom, 0>(MetricInfo::new("t_boom", "Panics when scraped."), [], ()).unwrap();
    let mut out = Vec::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.encode(Format::Protobuf, &mut out)));
    assert!(caught.is_err());
    let other = Registry::new();
    other.counter("t_other_total", "Other.").unwrap().inc();
    assert_eq!(
        other.encode_to_string(Format::Prometheus),
        "# HELP t_other_total Other.\n# TYPE t_other_total counter\nt_other_total 1\n"
    );
    let families = scrape(&other);
    assert_eq!(families.len(), 1);
    assert_eq!(families[0].metric[0].counter.unwrap().value, Some(1.0));
}
