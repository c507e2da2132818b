//! Arbitrary values and label values → a fresh `Registry` → both text formats and protobuf → the
//! strict parser or a prost decoder → the same values back.
//!
//! A reference model follows every operation: which label sets exist (in creation order, bounded
//! by `max_series`), which lookups were refused into the overflow series, and what each series
//! holds. After the operations, each format's scrape must parse strictly (text) or decode as
//! length-delimited `MetricFamily` messages to the last byte (protobuf), and agree with the model
//! series by series: every accepted label value comes back byte for byte, counter and gauge
//! values are equal (NaN-aware), histogram buckets match a reference `le` count, and the sum is
//! the histogram's own sum, exactly.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use raft_metrics::advanced::parse::{parse, Scrape};
use raft_metrics::{
    Buckets, Counter, FamilySpec, FloatGauge, Format, Gauge, MetricInfo, Registry, Unit, MAX_LABEL_VALUE_LEN,
    OVERFLOW_LABEL_VALUE, OVERFLOW_METRIC,
};

/// The capped family's bound, small enough that inputs reach it.
const CAPPED_MAX: usize = 3;
const DEFAULT_BOUNDS: [f64; 3] = [0.001, 0.01, 0.1];

/// A label value: mostly a plain arbitrary string, sometimes one built to sit on a boundary.
#[derive(Debug, Arbitrary)]
enum Label {
    Text(String),
    /// `text` repeated `1 + times % 2048` times: values far beyond `MAX_LABEL_VALUE_LEN`.
    Repeat(String, u16),
    /// A value of `MAX_LABEL_VALUE_LEN - 3 + delta % 8` bytes ending in `last` (multi-byte chars
    /// straddle the bound).
    NearLimit(u8, char),
    /// The reserved overflow value itself, which must be refused.
    Overflow,
}

impl Label {
    fn value(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Repeat(s, times) => s.repeat(1 + usize::from(*times) % 2048),
            Self::NearLimit(delta, last) => {
                let len = (MAX_LABEL_VALUE_LEN - 3 + usize::from(*delta) % 8).saturating_sub(last.len_utf8());
                let mut s = "v".repeat(len);
                s.push(*last);
                s
            }
            Self::Overflow => OVERFLOW_LABEL_VALUE.to_owned(),
        }
    }
}

/// How a lookup reaches the series.
#[derive(Debug, Arbitrary, Clone, Copy)]
enum Via {
    Get,
    Bind,
    /// `Family::claim` and a single-writer `Local` view.
    Claim,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Commits { topic: Label, peer: Label, n: u64, via: Via },
    RemoveCommits { topic: Label, peer: Label },
    Capped { topic: Label, partition: u32, n: u64, via: Via },
    TermSet { topic: Label, v: i64, via: Via },
    TermAdd { topic: Label, v: i64 },
    LagSet { topic: Label, v: f64 },
    LagAdd { topic: Label, v: f64, via: Via },
    Observe { topic: Label, v: f64, via: Via },
    Plain { counter: u64, gauge: i64, float: f64 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// HELP text of the gauge family; an empty (refused) one falls back to a fixed text.
    help: String,
    /// Histogram bounds (sorted first); invalid ones fall back to `DEFAULT_BOUNDS`.
    bounds: [f64; 3],
    ops: Vec<Op>,
}

/// What one family should hold.
struct Model<V> {
    /// Accepted label sets in creation order with their values.
    series: Vec<(Vec<String>, V)>,
    max: usize,
    /// The overflow series, once a lookup was refused.
    overflow: Option<V>,
    refused: u64,
}

enum Slot {
    Series(usize),
    Overflow,
}

impl<V: Default> Model<V> {
    fn new(max: usize) -> Self {
        Self { series: Vec::new(), max, overflow: None, refused: 0 }
    }

    /// Mirrors `FamilyInner::resolve_in`: existing series, else create if every value fits and
    /// the family has room, else the overflow series (counted).
    fn resolve(&mut self, labels: &[String]) -> Slot {
        if let Some(i) = self.series.iter().position(|(l, _)| l == labels) {
            return Slot::Series(i);
        }
        let fits = labels.iter().all(|v| v.len() <= MAX_LABEL_VALUE_LEN && v != OVERFLOW_LABEL_VALUE);
        if fits && self.series.len() < self.max {
            self.series.push((labels.to_vec(), V::default()));
            return Slot::Series(self.series.len() - 1);
        }
        self.refused += 1;
        self.overflow.get_or_insert_with(V::default);
        Slot::Overflow
    }

    fn value(&mut self, slot: &Slot) -> &mut V {
        match slot {
            Slot::Series(i) => &mut self.series[*i].1,
            Slot::Overflow => self.overflow.as_mut().expect("resolved to overflow"),
        }
    }

    fn remove(&mut self, labels: &[String]) -> bool {
        let at = self.series.iter().position(|(l, _)| l == labels);
        at.map(|i| self.series.remove(i)).is_some()
    }

    /// Every exported series: accepted ones, then the overflow series under `__overflow__`.
    fn exported(&self, n_labels: usize) -> Vec<(Vec<String>, &V)> {
        let mut all: Vec<_> = self.series.iter().map(|(l, v)| (l.clone(), v)).collect();
        if let Some(v) = &self.overflow {
            all.push((vec![OVERFLOW_LABEL_VALUE.to_owned(); n_labels], v));
        }
        all
    }
}

fn same_float(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn shorten(text: &str) -> &str {
    let mut end = text.len().min(4000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fuzz_target!(|input: Input| run(input));

fn run(input: Input) {
    let registry = Registry::new();
    let commits = registry
        .register_with::<Counter, 2>(MetricInfo::new("fz_commits_total", "Commits."), ["topic", "peer"], ())
        .expect("register commits");
    let capped = registry
        .register::<Counter, 2>(
            FamilySpec::new(vec![MetricInfo::new("fz_capped_total", "Capped.")], ["topic", "partition"], ())
                .max_series(CAPPED_MAX),
        )
        .expect("register capped");
    let (term, help) = match registry.register_with::<Gauge, 1>(MetricInfo::new("fz_term", &*input.help), ["topic"], ())
    {
        Ok(family) => (family, input.help.clone()),
        Err(_) => {
            let help = "Term.".to_owned();
            (registry.register_with::<Gauge, 1>(MetricInfo::new("fz_term", &*help), ["topic"], ()).expect("term"), help)
        }
    };
    let lag = registry
        .register_with::<FloatGauge, 1>(
            MetricInfo::new("fz_lag_seconds", "Lag.").with_unit(Unit::Seconds),
            ["topic"],
            (),
        )
        .expect("register lag");
    let mut bounds = input.bounds;
    bounds.sort_by(f64::total_cmp);
    // A trailing +Inf is dropped, leaving fewer than three bounds: use the defaults then too.
    let buckets = Buckets::new(bounds.to_vec())
        .ok()
        .filter(|b| b.bounds().len() == 3)
        .unwrap_or_else(|| Buckets::new(DEFAULT_BOUNDS.to_vec()).expect("bounds"));
    let bounds: Vec<f64> = buckets.bounds().to_vec();
    let latency = registry
        .histogram::<3, 1>(
            MetricInfo::new("fz_latency_seconds", "Latency.").with_unit(Unit::Seconds),
            ["topic"],
            buckets,
        )
        .expect("register latency");
    let plain_counter = registry.counter("fz_plain_total", "Plain counter.").expect("plain counter");
    let plain_gauge = registry.gauge("fz_plain_gauge", "Plain gauge.").expect("plain gauge");
    let plain_float = registry.float_gauge("fz_plain_float", "Plain float.").expect("plain float");

    let mut m_commits = Model::<u64>::new(usize::MAX);
    let mut m_capped = Model::<u64>::new(CAPPED_MAX);
    let mut m_term = Model::<i64>::new(usize::MAX);
    let mut m_lag = Model::<f64>::new(usize::MAX);
    // Per series: the observations, in order.
    let mut m_latency = Model::<Vec<f64>>::new(usize::MAX);
    let (mut p_counter, mut p_gauge, mut p_float) = (0u64, 0i64, 0f64);

    for op in input.ops.iter().take(256) {
        match op {
            Op::Commits { topic, peer, n, via } => {
                let labels = [topic.value(), peer.value()];
                let slot = m_commits.resolve(&labels);
                let recorded = match via {
                    Via::Get => {
                        commits.get((&labels[0], &labels[1])).add(*n);
                        true
                    }
                    Via::Bind => {
                        commits.bind((&labels[0], &labels[1])).add(*n);
                        true
                    }
                    // Refused label sets cannot be claimed (the overflow series is shared), and the
                    // model holds no other `Exclusive`, so a claim fails exactly then.
                    Via::Claim => match commits.claim((&labels[0], &labels[1])) {
                        Ok(exclusive) => {
                            assert!(matches!(slot, Slot::Series(_)), "claimed the overflow series");
                            exclusive.local().add(*n);
                            true
                        }
                        Err(e) => {
                            assert!(matches!(slot, Slot::Overflow), "claim of a fresh series failed: {e}");
                            false
                        }
                    },
                };
                if recorded {
                    let v = m_commits.value(&slot);
                    *v = v.wrapping_add(*n);
                }
            }
            Op::RemoveCommits { topic, peer } => {
                let labels = [topic.value(), peer.value()];
                let expected = m_commits.remove(&labels);
                assert_eq!(commits.remove((&labels[0], &labels[1])), expected, "remove {labels:?}");
            }
            Op::Capped { topic, partition, n, via } => {
                let labels = [topic.value(), partition.to_string()];
                let slot = m_capped.resolve(&labels);
                match via {
                    Via::Get | Via::Claim => capped.get((&labels[0], *partition)).add(*n),
                    Via::Bind => capped.bind((&labels[0], *partition)).add(*n),
                }
                let v = m_capped.value(&slot);
                *v = v.wrapping_add(*n);
            }
            Op::TermSet { topic, v, via } => {
                let labels = [topic.value()];
                let slot = m_term.resolve(&labels);
                match via {
                    Via::Get => term.get((&labels[0],)).set(*v),
                    Via::Bind => term.bind((&labels[0],)).set(*v),
                    Via::Claim => match term.claim((&labels[0],)) {
                        Ok(exclusive) => exclusive.local().set(*v),
                        Err(_) => {
                            assert!(matches!(slot, Slot::Overflow), "claim of a fresh series failed");
                            continue;
                        }
                    },
                }
                *m_term.value(&slot) = *v;
            }
            Op::TermAdd { topic, v } => {
                let labels = [topic.value()];
                let slot = m_term.resolve(&labels);
                term.get((&labels[0],)).add(*v);
                let cur = m_term.value(&slot);
                *cur = cur.wrapping_add(*v);
            }
            Op::LagSet { topic, v } => {
                let labels = [topic.value()];
                let slot = m_lag.resolve(&labels);
                lag.get((&labels[0],)).set(*v);
                *m_lag.value(&slot) = *v;
            }
            Op::LagAdd { topic, v, via } => {
                let labels = [topic.value()];
                let slot = m_lag.resolve(&labels);
                match via {
                    Via::Get => lag.get((&labels[0],)).add(*v),
                    Via::Bind => lag.bind((&labels[0],)).add(*v),
                    Via::Claim => match lag.claim((&labels[0],)) {
                        Ok(exclusive) => exclusive.local().add(*v),
                        Err(_) => {
                            assert!(matches!(slot, Slot::Overflow), "claim of a fresh series failed");
                            continue;
                        }
                    },
                }
                let cur = m_lag.value(&slot);
                *cur += *v;
            }
            Op::Observe { topic, v, via } => {
                let labels = [topic.value()];
                let slot = m_latency.resolve(&labels);
                match via {
                    Via::Get => latency.get((&labels[0],)).observe(*v),
                    Via::Bind => latency.bind((&labels[0],)).observe(*v),
                    Via::Claim => match latency.claim((&labels[0],)) {
                        Ok(exclusive) => exclusive.local().observe(*v),
                        Err(_) => {
                            assert!(matches!(slot, Slot::Overflow), "claim of a fresh series failed");
                            continue;
                        }
                    },
                }
                m_latency.value(&slot).push(*v);
            }
            Op::Plain { counter, gauge, float } => {
                plain_counter.add(*counter);
                p_counter = p_counter.wrapping_add(*counter);
                plain_gauge.set(*gauge);
                p_gauge = *gauge;
                plain_float.set(*float);
                p_float = *float;
            }
        }
    }

    assert_eq!(commits.len(), m_commits.series.len());
    assert_eq!(capped.len(), m_capped.series.len());
    assert_eq!(commits.overflowed(), m_commits.refused);
    assert_eq!(capped.overflowed(), m_capped.refused);

    let sum_of = |topic: &str| latency.get((topic,)).sum();
    let model = Models {
        commits: &m_commits,
        capped: &m_capped,
        term: &m_term,
        lag: &m_lag,
        latency: &m_latency,
        help: &help,
        bounds: &bounds,
        plain: (p_counter, p_gauge, p_float),
    };
    check_protobuf(&registry, &model, &sum_of);

    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode_to_string(format);
        let scrape =
            parse(&text, format).unwrap_or_else(|e| panic!("{format:?} does not parse: {e}\n{}", shorten(&text)));
        let check = Check { scrape: &scrape, format, text: &text };

        check.counters("fz_commits", &["topic", "peer"], &m_commits);
        check.counters("fz_capped", &["topic", "partition"], &m_capped);
        check.dropped_total();
        check.family_len("fz_term", "fz_term", m_term.exported(1).len());
        for (labels, v) in m_term.exported(1) {
            #[allow(clippy::cast_precision_loss)]
            check.value("fz_term", &[("topic", &labels[0])], *v as f64);
        }
        check.family_len("fz_lag_seconds", "fz_lag_seconds", m_lag.exported(1).len());
        for (labels, v) in m_lag.exported(1) {
            check.value("fz_lag_seconds", &[("topic", &labels[0])], *v);
        }
        // A family without series writes nothing, not even its HELP.
        if let Some(family) = scrape.family("fz_term") {
            if family.help.as_deref() != Some(help.as_str()) {
                check.fail(format!("HELP {help:?} came back as {:?}", family.help));
            }
        } else if !m_term.exported(1).is_empty() {
            check.fail("fz_term is missing".into());
        }
        check.histograms(&bounds, &m_latency, &sum_of);

        #[allow(clippy::cast_precision_loss)]
        {
            check.value("fz_plain_total", &[], p_counter as f64);
            check.value("fz_plain_gauge", &[], p_gauge as f64);
        }
        check.value("fz_plain_float", &[], p_float);
    }
}

struct Check<'a> {
    scrape: &'a Scrape,
    format: Format,
    text: &'a str,
}

impl Check<'_> {
    fn fail(&self, what: String) -> ! {
        panic!("{:?}: {what}\n{}", self.format, shorten(self.text))
    }

    /// The one sample `name` whose labels include `labels` has value `expected`.
    fn value(&self, name: &str, labels: &[(&str, &str)], expected: f64) {
        match self.scrape.value(name, labels) {
            Some(v) if same_float(v, expected) => {}
            got => self.fail(format!("{name}{labels:?}: expected {expected}, got {got:?}")),
        }
    }

    /// The family named `family` (the `# TYPE` name) has exactly `n` samples named `sample`.
    fn family_len(&self, family: &str, sample: &str, n: usize) {
        let Some(parsed) = self.scrape.family(family) else {
            if n == 0 {
                return;
            }
            self.fail(format!("family {family} is missing"));
        };
        let got = parsed.lines.iter().filter(|s| s.name == sample).count();
        if got != n {
            self.fail(format!("{family}: expected {n} {sample} samples, got {got}"));
        }
    }

    fn counters(&self, name: &str, label_names: &[&str; 2], model: &Model<u64>) {
        let total = format!("{name}_total");
        let family = match self.format {
            Format::OpenMetrics => name.to_owned(),
            _ => total.clone(),
        };
        let exported = model.exported(2);
        self.family_len(&family, &total, exported.len());
        for (labels, v) in exported {
            let pairs = [(label_names[0], labels[0].as_str()), (label_names[1], labels[1].as_str())];
            #[allow(clippy::cast_precision_loss)]
            self.value(&total, &pairs, *v as f64);
        }
        // A family's dropped-label-sets series exists only once it has dropped one.
        let dropped = format!("{OVERFLOW_METRIC}_total");
        if model.refused == 0 {
            if let Some(got) = self.scrape.value(&dropped, &[("metric", name)]) {
                self.fail(format!("{dropped}{{metric={name:?}}}: dropped nothing, yet exported {got}"));
            }
        } else {
            #[allow(clippy::cast_precision_loss)]
            self.value(&dropped, &[("metric", name)], model.refused as f64);
        }
    }

    /// The registry's total of dropped label sets: one series without labels, the sum of the
    /// families' series (every family's own count is checked exactly elsewhere).
    fn dropped_total(&self) {
        let dropped = format!("{OVERFLOW_METRIC}_total");
        let lines = || self.scrape.lines().filter(|l| l.name == dropped);
        let totals: Vec<f64> = lines().filter(|l| l.labels.is_empty()).map(|l| l.value).collect();
        let sum: f64 = lines().filter(|l| !l.labels.is_empty()).map(|l| l.value).sum();
        if totals != [sum] {
            self.fail(format!("{dropped}: expected one total of {sum}, got {totals:?}"));
        }
    }

    fn histograms(&self, bounds: &[f64], model: &Model<Vec<f64>>, sum_of: &dyn Fn(&str) -> f64) {
        let name = "fz_latency_seconds";
        let exported = model.exported(1);
        self.family_len(name, &format!("{name}_count"), exported.len());
        self.family_len(name, &format!("{name}_bucket"), exported.len() * (bounds.len() + 1));
        for (labels, observations) in exported {
            let topic = labels[0].as_str();
            #[allow(clippy::cast_precision_loss)]
            let count = observations.len() as f64;
            self.value(&format!("{name}_count"), &[("topic", topic)], count);
            let buckets: Vec<_> = self
                .scrape
                .lines()
                .filter(|s| s.name == format!("{name}_bucket") && s.label("topic") == Some(topic))
                .collect();
            if buckets.len() != bounds.len() + 1 {
                self.fail(format!("{name}{{topic={topic:?}}}: {} buckets", buckets.len()));
            }
            for (i, sample) in buckets.iter().enumerate() {
                let le = sample.label("le").unwrap_or_default();
                let bound = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                let parsed = if le == "+Inf" { Some(f64::INFINITY) } else { le.parse::<f64>().ok() };
                if parsed != Some(bound) {
                    self.fail(format!("bucket {i}: le {le:?} is not the bound {bound}"));
                }
                // `le` semantics: NaN only in +Inf, -inf in every bucket.
                let expected = observations.iter().filter(|v| **v <= bound || bound == f64::INFINITY).count();
                #[allow(clippy::cast_precision_loss)]
                if sample.value != expected as f64 {
                    self.fail(format!("{name}{{topic={topic:?},le={le}}}: expected {expected}, got {}", sample.value));
                }
            }
            // Only the overflow series has a topic that `get` cannot reach again; its sum is
            // checked through the count and buckets above.
            if topic != OVERFLOW_LABEL_VALUE {
                self.value(&format!("{name}_sum"), &[("topic", topic)], sum_of(topic));
            }
        }
    }
}

/// Everything the scrape must show.
struct Models<'a> {
    commits: &'a Model<u64>,
    capped: &'a Model<u64>,
    term: &'a Model<i64>,
    lag: &'a Model<f64>,
    latency: &'a Model<Vec<f64>>,
    help: &'a str,
    bounds: &'a [f64],
    /// The unlabelled counter, gauge and float gauge.
    plain: (u64, i64, f64),
}

/// `io.prometheus.client` as this target reads it, declared from `metrics.proto` apart from the
/// crate's own (private) encoder messages, so that both sides cannot share a mistake.
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Bucket {
        #[prost(uint64, optional, tag = "1")]
        pub cumulative_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub upper_bound: Option<f64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        #[prost(sint32, optional, tag = "5")]
        pub schema: Option<i32>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        pub gauge: Option<Value>,
        #[prost(message, optional, tag = "3")]
        pub counter: Option<Value>,
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        /// 0 counter, 1 gauge, 4 histogram.
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
        #[prost(string, optional, tag = "5")]
        pub unit: Option<String>,
    }
}

const COUNTER: i32 = 0;
const GAUGE: i32 = 1;
const HISTOGRAM: i32 = 4;

/// One decoded protobuf scrape, checked against the models.
struct ProtoCheck {
    families: Vec<proto::MetricFamily>,
}

fn check_protobuf(registry: &Registry, model: &Models<'_>, sum_of: &dyn Fn(&str) -> f64) {
    use prost::Message;

    let mut bytes = Vec::new();
    registry.encode(Format::Protobuf, &mut bytes);
    let mut rest = bytes.as_slice();
    let mut families = Vec::new();
    while !rest.is_empty() {
        match proto::MetricFamily::decode_length_delimited(&mut rest) {
            Ok(family) => families.push(family),
            Err(e) => panic!("protobuf: family {} does not decode: {e}", families.len()),
        }
    }
    let check = ProtoCheck { families };
    let mut names: Vec<_> = check.families.iter().map(|f| f.name.clone().unwrap_or_default()).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        check.fail(format!("a family is written twice: {names:?}"));
    }

    check.counters("fz_commits", &["topic", "peer"], model.commits);
    check.counters("fz_capped", &["topic", "partition"], model.capped);
    check.dropped_total();
    #[allow(clippy::cast_precision_loss)]
    check.values("fz_term", GAUGE, None, &["topic"], &model.term.exported(1), |v| Some(*v as f64), |m| m.gauge);
    check.values(
        "fz_lag_seconds",
        GAUGE,
        Some("seconds"),
        &["topic"],
        &model.lag.exported(1),
        |v| Some(*v),
        |m| m.gauge,
    );
    if let Some(term) = check.family("fz_term") {
        if term.help.as_deref() != Some(model.help) {
            check.fail(format!("HELP {:?} came back as {:?}", model.help, term.help));
        }
    }
    check.histograms(model.bounds, model.latency, sum_of);

    let (counter, gauge, float) = model.plain;
    #[allow(clippy::cast_precision_loss)]
    {
        check.values("fz_plain_total", COUNTER, None, &[], &[(vec![], &counter)], |v| Some(*v as f64), |m| m.counter);
        check.values("fz_plain_gauge", GAUGE, None, &[], &[(vec![], &gauge)], |v| Some(*v as f64), |m| m.gauge);
    }
    check.values("fz_plain_float", GAUGE, None, &[], &[(vec![], &float)], |v| Some(*v), |m| m.gauge);
}

impl ProtoCheck {
    fn fail(&self, what: String) -> ! {
        let names: Vec<_> = self.families.iter().map(|f| (f.name(), f.metric.len())).collect();
        panic!("Protobuf: {what}\nfamilies (name, series): {names:?}")
    }

    fn family(&self, name: &str) -> Option<&proto::MetricFamily> {
        self.families.iter().find(|f| f.name() == name)
    }

    /// The series of `name` whose labels are exactly `names` = `values`, in order.
    fn series<'a>(&self, family: &'a proto::MetricFamily, names: &[&str], values: &[String]) -> &'a proto::Metric {
        let found: Vec<_> = family
            .metric
            .iter()
            .filter(|m| {
                m.label.len() == names.len()
                    && m.label.iter().zip(names.iter().zip(values)).all(|(l, (n, v))| l.name() == *n && l.value() == v)
            })
            .collect();
        match found.as_slice() {
            [one] => one,
            _ => self.fail(format!("{}{values:?}: {} series with these labels", family.name(), found.len())),
        }
    }

    /// `name` holds exactly the series of `exported`, of type `kind` and unit `unit`, each with
    /// `expected(value)` in the field `read` picks.
    #[allow(clippy::too_many_arguments)]
    fn values<V>(
        &self,
        name: &str,
        kind: i32,
        unit: Option<&str>,
        label_names: &[&str],
        exported: &[(Vec<String>, &V)],
        expected: impl Fn(&V) -> Option<f64>,
        read: impl Fn(&proto::Metric) -> Option<proto::Value>,
    ) {
        let Some(family) = self.family(name) else {
            if exported.is_empty() {
                return;
            }
            self.fail(format!("family {name} is missing"));
        };
        if family.r#type != Some(kind) || family.unit.as_deref() != unit {
            self.fail(format!("{name}: type {:?} unit {:?}", family.r#type, family.unit));
        }
        if family.metric.len() != exported.len() {
            self.fail(format!("{name}: expected {} series, got {}", exported.len(), family.metric.len()));
        }
        for (labels, v) in exported {
            let metric = self.series(family, label_names, labels);
            let got = read(metric).and_then(|value| value.value);
            let want = expected(v);
            if !matches!((got, want), (Some(g), Some(w)) if same_float(g, w)) {
                self.fail(format!("{name}{labels:?}: expected {want:?}, got {got:?}"));
            }
        }
    }

    fn counters(&self, name: &str, label_names: &[&str; 2], model: &Model<u64>) {
        #[allow(clippy::cast_precision_loss)]
        let as_f64 = |v: &u64| Some(*v as f64);
        let total = format!("{name}_total");
        self.values(&total, COUNTER, None, label_names, &model.exported(2), as_f64, |m| m.counter);
        // The overflow counter has one series per family that refused a label set, plus the
        // registry's total without labels.
        let Some(dropped) = self.family(&format!("{OVERFLOW_METRIC}_total")) else {
            self.fail("the dropped-label-sets counter is missing".into());
        };
        if model.refused == 0 {
            if dropped.metric.iter().any(|m| m.label.iter().any(|l| l.name() == "metric" && l.value() == name)) {
                self.fail(format!("{OVERFLOW_METRIC}_total{{metric={name:?}}}: dropped nothing, yet exported"));
            }
            return;
        }
        let metric = self.series(dropped, &["metric"], &[name.to_owned()]);
        let got = metric.counter.and_then(|c| c.value);
        if got != as_f64(&model.refused) {
            self.fail(format!("{OVERFLOW_METRIC}_total{{metric={name:?}}}: expected {}, got {got:?}", model.refused));
        }
    }

    /// The registry's total: the sum of the families' series.
    fn dropped_total(&self) {
        let Some(dropped) = self.family(&format!("{OVERFLOW_METRIC}_total")) else {
            self.fail("the dropped-label-sets counter is missing".into());
        };
        let value = |m: &proto::Metric| m.counter.and_then(|c| c.value).unwrap_or(f64::NAN);
        let sum: f64 = dropped.metric.iter().filter(|m| !m.label.is_empty()).map(value).sum();
        let total = self.series(dropped, &[], &[]);
        if value(total) != sum {
            self.fail(format!("{OVERFLOW_METRIC}_total: expected a total of {sum}, got {total:?}"));
        }
    }

    fn histograms(&self, bounds: &[f64], model: &Model<Vec<f64>>, sum_of: &dyn Fn(&str) -> f64) {
        let name = "fz_latency_seconds";
        let exported = model.exported(1);
        let Some(family) = self.family(name) else {
            if exported.is_empty() {
                return;
            }
            self.fail(format!("family {name} is missing"));
        };
        if family.r#type != Some(HISTOGRAM) || family.unit.as_deref() != Some("seconds") {
            self.fail(format!("{name}: type {:?} unit {:?}", family.r#type, family.unit));
        }
        if family.metric.len() != exported.len() {
            self.fail(format!("{name}: expected {} series, got {}", exported.len(), family.metric.len()));
        }
        for (labels, observations) in exported {
            let metric = self.series(family, &["topic"], &labels);
            let Some(histogram) = &metric.histogram else {
                self.fail(format!("{name}{labels:?}: no histogram"));
            };
            if histogram.schema.is_some() {
                self.fail(format!("{name}{labels:?}: a classic histogram with a native schema"));
            }
            if histogram.sample_count != Some(observations.len() as u64) {
                self.fail(format!("{name}{labels:?}: count {:?} of {}", histogram.sample_count, observations.len()));
            }
            // The crate writes the +Inf bucket too.
            if histogram.bucket.len() != bounds.len() + 1 {
                self.fail(format!("{name}{labels:?}: {} buckets", histogram.bucket.len()));
            }
            for (i, bucket) in histogram.bucket.iter().enumerate() {
                let bound = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                let expected = observations.iter().filter(|v| **v <= bound || bound == f64::INFINITY).count();
                if bucket.upper_bound != Some(bound) || bucket.cumulative_count != Some(expected as u64) {
                    self.fail(format!("{name}{labels:?} bucket {i}: expected ({bound}, {expected}), got {bucket:?}"));
                }
            }
            if labels[0] != OVERFLOW_LABEL_VALUE {
                let (got, want) = (histogram.sample_sum.unwrap_or(f64::NAN), sum_of(&labels[0]));
                if !same_float(got, want) {
                    self.fail(format!("{name}{labels:?}: sum {got} vs the histogram's {want}"));
                }
            }
        }
    }
}
