//! Exposition: Prometheus text 0.0.4, OpenMetrics 1.0 text and (feature `protobuf`) Prometheus
//! protobuf.
//!
//! Everything that can be rendered ahead of time is: `# HELP`/`# TYPE`/`# UNIT` lines (and the
//! protobuf `MetricFamily` header) at registration, a series' `name="value"` pairs when the series
//! is created, `le` values with the buckets. A text scrape copies those bytes and formats numbers
//! (itoa for integers, ryu for floats).
//!
//! A scrape is one [`Encoder`], created with the output buffer and the format; families write
//! metric after metric into it, and cells write each series through the [`SeriesWriter`] it hands
//! them. The format travels as a value: a text scrape pays one predictable branch per sample for
//! the protobuf case.

mod encoder;
mod escape;
mod fold;
mod labels;
pub mod parse;
#[cfg(feature = "protobuf")]
pub(crate) mod proto;

pub(crate) use encoder::Encoder;
pub use escape::unescape_label_value;
pub(crate) use fold::{Extra, Fold};
pub use labels::LabelPair;
pub(crate) use labels::LabelSet;

use crate::model::{MetricInfo, MetricKind};

/// An exposition format.
///
/// Non-exhaustive: `Format::Protobuf` exists only with the `protobuf` feature, and enabling a
/// feature must not break a `match` elsewhere in the dependency graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// Prometheus text format 0.0.4: what every Prometheus scrapes.
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 text: `# UNIT` lines, counter families without `_total`, `# EOF`.
    OpenMetrics,
    /// Prometheus protobuf: varint-length-delimited `io.prometheus.client.MetricFamily` messages
    /// (`prometheus/client_model`'s `metrics.proto`), what Prometheus scrapes native histograms
    /// with. Feature `protobuf`.
    ///
    /// Counters, gauges and classic histograms are written as client_golang writes them, except
    /// that classic histograms also carry their `+Inf` bucket (Prometheus accepts both). Integer
    /// values are sent as `double`s, exact up to 2^53.
    /// [`NativeHistogram`](crate::NativeHistogram)s are written as native histograms.
    #[cfg(feature = "protobuf")]
    Protobuf,
}

impl Format {
    /// The `Content-Type` to serve this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            #[cfg(feature = "protobuf")]
            Self::Protobuf => proto::CONTENT_TYPE,
        }
    }
}

/// Formats a float the way both text formats spell it: `NaN`, `+Inf`, `-Inf` or ryu's shortest
/// round-tripping form.
pub(crate) fn format_float(v: f64) -> String {
    let mut out = Vec::new();
    write_float(&mut out, v);
    // ryu and the special spellings are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

fn write_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

/// The names and pre-rendered header lines of one metric.
#[derive(Debug)]
pub(crate) struct MetricText {
    name: Box<str>,
    /// `x_total` for counters, `x` otherwise.
    primary: Box<str>,
    bucket: Box<str>,
    sum: Box<str>,
    count: Box<str>,
    prometheus_header: Box<str>,
    openmetrics_header: Box<str>,
    /// The `MetricFamily` fields other than its series, encoded.
    #[cfg(feature = "protobuf")]
    proto_header: Box<[u8]>,
}

impl MetricText {
    /// `info.name` is the family name: without `_total` for counters, validated.
    pub(crate) fn new(info: &MetricInfo, kind: MetricKind) -> Self {
        let name = info.name();
        let primary = match kind {
            MetricKind::Counter => format!("{name}_total"),
            _ => name.to_owned(),
        };
        let mut prometheus_header = String::new();
        for (line, family) in [("HELP", primary.as_str()), ("TYPE", primary.as_str())] {
            prometheus_header.push_str("# ");
            prometheus_header.push_str(line);
            prometheus_header.push(' ');
            prometheus_header.push_str(family);
            prometheus_header.push(' ');
            if line == "HELP" {
                escape::help(&mut prometheus_header, info.help(), false);
            } else {
                prometheus_header.push_str(kind.as_str());
            }
            prometheus_header.push('\n');
        }
        let mut openmetrics_header = format!("# TYPE {name} {}\n", kind.as_str());
        if let Some(unit) = info.unit() {
            openmetrics_header.push_str(&format!("# UNIT {name} {}\n", unit.as_str()));
        }
        openmetrics_header.push_str(&format!("# HELP {name} "));
        escape::help(&mut openmetrics_header, info.help(), true);
        openmetrics_header.push('\n');
        Self {
            #[cfg(feature = "protobuf")]
            proto_header: proto::header(&primary, info.help(), kind, info.unit().map(crate::model::Unit::as_str)),
            name: name.into(),
            primary: primary.into(),
            bucket: format!("{name}_bucket").into(),
            sum: format!("{name}_sum").into(),
            count: format!("{name}_count").into(),
            prometheus_header: prometheus_header.into(),
            openmetrics_header: openmetrics_header.into(),
        }
    }

    pub(crate) fn family_name(&self) -> &str {
        &self.name
    }

    /// The header to write before the metric's samples: text lines, or the protobuf
    /// `MetricFamily` fields other than its series.
    pub(crate) fn header(&self, format: Format) -> &[u8] {
        match format {
            Format::Prometheus => self.prometheus_header.as_bytes(),
            Format::OpenMetrics => self.openmetrics_header.as_bytes(),
            #[cfg(feature = "protobuf")]
            Format::Protobuf => &self.proto_header,
        }
    }
}

/// One native histogram, as a cell hands it to [`SeriesWriter::native_histogram`].
#[derive(Debug)]
// The native-only fields are read by the protobuf sink alone.
#[cfg_attr(not(feature = "protobuf"), allow(dead_code))]
pub(crate) struct NativeValue<'a> {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) zero_count: u64,
    /// The Prometheus bucket index of `positive[0]` and of `negative[0]`.
    pub(crate) first_index: i32,
    /// Positive bucket counts by increasing index.
    pub(crate) positive: &'a [u64],
    /// Negative bucket counts by increasing index (increasing magnitude); may be empty.
    pub(crate) negative: &'a [u64],
    pub(crate) count: u64,
    pub(crate) sum: f64,
    /// Text exposition: rendered `le` values, the last one `+Inf`.
    pub(crate) le: &'a [Box<str>],
    /// Text exposition: for each finite `le`, how many positive buckets lie at or below it.
    pub(crate) le_positive: &'a [usize],
}

/// Writes the samples of one metric for one series. Cells call it from
/// [`Metric::encode`](crate::advanced::Metric::encode); it owns every byte of the exposition, in the
/// scrape's format.
#[derive(Debug)]
pub struct SeriesWriter<'a> {
    out: &'a mut Vec<u8>,
    text: &'a MetricText,
    names: &'a [Box<str>],
    labels: &'a LabelSet,
    extra: Option<&'a LabelPair>,
    /// Whether `extra` is a family layout's own pair, alive for the whole scrape (a fold then
    /// finds its sum by address, see [`Fold`]).
    extra_lasting: bool,
    sink: Sink,
    /// Adds into a fold (with the series' group) instead of writing.
    fold: Option<(&'a mut Fold, usize)>,
}

/// Where a [`SeriesWriter`] writes. Without the `protobuf` feature there is one choice and the
/// dispatch compiles away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// Text lines, Prometheus 0.0.4 and OpenMetrics alike (they differ only in headers).
    Text,
    /// One `io.prometheus.client.Metric` per sample (see [`proto`]).
    #[cfg(feature = "protobuf")]
    Protobuf,
}

impl<'a> SeriesWriter<'a> {
    /// A writer for one series (`labels` under `names`) of the metric `text`, in `format`.
    #[inline]
    fn new(
        out: &'a mut Vec<u8>,
        format: Format,
        text: &'a MetricText,
        names: &'a [Box<str>],
        labels: &'a LabelSet,
    ) -> Self {
        let sink = match format {
            Format::Prometheus | Format::OpenMetrics => Sink::Text,
            #[cfg(feature = "protobuf")]
            Format::Protobuf => Sink::Protobuf,
        };
        Self { out, text, names, labels, extra: None, extra_lasting: false, sink, fold: None }
    }

    /// A writer that adds the series' counters and histograms into `fold`'s group `key` and
    /// writes nothing (`scratch` stays empty).
    pub(crate) fn folding(
        scratch: &'a mut Vec<u8>,
        text: &'a MetricText,
        names: &'a [Box<str>],
        labels: &'a LabelSet,
        fold: &'a mut Fold,
        key: usize,
    ) -> Self {
        Self {
            out: scratch,
            text,
            names,
            labels,
            extra: None,
            extra_lasting: false,
            sink: Sink::Text,
            fold: Some((fold, key)),
        }
    }

    /// Writes a counter sample.
    #[allow(clippy::cast_precision_loss)] // documented on `Format::Protobuf`
    pub fn counter(&mut self, v: u64) {
        if let Some((fold, key)) = &mut self.fold {
            fold.counter(*key, Extra::new(self.extra, self.extra_lasting), v);
            return;
        }
        self.integer(v, v as f64, true);
    }

    /// Writes an integer gauge sample.
    #[allow(clippy::cast_precision_loss)] // documented on `Format::Protobuf`
    pub fn gauge_int(&mut self, v: i64) {
        if self.fold.is_some() {
            return;
        }
        self.integer(v, v as f64, false);
    }

    /// An integer sample: exact digits in text, a `double` in protobuf (`approx`).
    #[cfg_attr(not(feature = "protobuf"), allow(unused_variables))] // `approx`, `counter`: protobuf only
    fn integer(&mut self, v: impl itoa::Integer, approx: f64, counter: bool) {
        match self.sink {
            Sink::Text => {
                self.start(&self.text.primary, None);
                self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                self.out.push(b'\n');
            }
            #[cfg(feature = "protobuf")]
            Sink::Protobuf if counter => {
                self.proto_metric(|m| m.counter = Some(proto::Counter { value: Some(approx) }));
            }
            #[cfg(feature = "protobuf")]
            Sink::Protobuf => self.proto_metric(|m| m.gauge = Some(proto::Gauge { value: Some(approx) })),
        }
    }

    /// Writes a float gauge sample.
    pub fn gauge_float(&mut self, v: f64) {
        if self.fold.is_some() {
            return;
        }
        match self.sink {
            Sink::Text => {
                self.start(&self.text.primary, None);
                write_float(self.out, v);
                self.out.push(b'\n');
            }
            #[cfg(feature = "protobuf")]
            Sink::Protobuf => self.proto_metric(|m| m.gauge = Some(proto::Gauge { value: Some(v) })),
        }
    }

    /// Writes a histogram: cumulative `_bucket` lines, `_sum` and `_count`.
    /// `counts` holds one non-cumulative count per entry of `le` (the `+Inf` bucket last).
    pub(crate) fn histogram(&mut self, le: &[Box<str>], counts: &[u64], sum: f64) {
        if let Some((fold, key)) = &mut self.fold {
            fold.histogram(*key, Extra::new(self.extra, self.extra_lasting), le, counts, sum);
            return;
        }
        match self.sink {
            Sink::Text => {
                let mut cumulative = 0u64;
                for (le, count) in le.iter().zip(counts) {
                    cumulative = cumulative.wrapping_add(*count);
                    self.bucket_line(le, cumulative);
                }
                self.sum_and_count_lines(sum, cumulative);
            }
            #[cfg(feature = "protobuf")]
            Sink::Protobuf => {
                let mut cumulative = 0u64;
                let bucket = le
                    .iter()
                    .zip(counts)
                    .map(|(le, count)| {
                        cumulative = cumulative.wrapping_add(*count);
                        proto::Bucket { cumulative_count: Some(cumulative), upper_bound: Some(parse_le(le)) }
                    })
                    .collect();
                let histogram = proto::Histogram {
                    sample_count: Some(cumulative),
                    sample_sum: Some(sum),
                    bucket,
                    ..Default::default()
                };
                self.proto_metric(|m| m.histogram = Some(histogram));
            }
        }
    }

    /// Writes a native histogram: in text, as a classic histogram over the sample's coarse `le`
    /// bounds (exact cumulative counts: every bound is a native bucket boundary); in protobuf,
    /// as a native histogram.
    pub(crate) fn native_histogram(&mut self, h: &NativeValue<'_>) {
        if self.fold.is_some() {
            return;
        }
        match self.sink {
            Sink::Text => {
                let below = h.negative.iter().fold(h.zero_count, |a, c| a.wrapping_add(*c));
                let mut cumulative = below;
                let mut taken = 0;
                for (k, le) in h.le.iter().enumerate() {
                    match h.le_positive.get(k) {
                        Some(&upto) => {
                            let upto = upto.clamp(taken, h.positive.len());
                            cumulative = h.positive[taken..upto].iter().fold(cumulative, |a, c| a.wrapping_add(*c));
                            taken = upto;
                        }
                        None => cumulative = h.count,
                    }
                    self.bucket_line(le, cumulative);
                }
                self.sum_and_count_lines(h.sum, h.count);
            }
            #[cfg(feature = "protobuf")]
            Sink::Protobuf => {
                let (positive_span, positive_delta) = proto::spans(h.first_index, h.positive);
                let (negative_span, negative_delta) = proto::spans(h.first_index, h.negative);
                let histogram = proto::Histogram {
                    sample_count: Some(h.count),
                    sample_sum: Some(h.sum),
                    bucket: Vec::new(),
                    schema: Some(h.schema),
                    zero_threshold: Some(h.zero_threshold),
                    zero_count: Some(h.zero_count),
                    negative_span,
                    negative_delta,
                    positive_span,
                    positive_delta,
                };
                self.proto_metric(|m| m.histogram = Some(histogram));
            }
        }
    }

    /// Runs `f` with one more label pair on every sample it writes (replacing any extra pair
    /// this writer already adds).
    pub fn with_extra_label(&mut self, pair: &LabelPair, f: impl FnOnce(&mut SeriesWriter<'_>)) {
        self.with_extra(pair, false, f);
    }

    /// [`with_extra_label`](Self::with_extra_label) with a pair of the family's layout, which
    /// outlives the scrape.
    pub(crate) fn with_layout_label(&mut self, pair: &LabelPair, f: impl FnOnce(&mut SeriesWriter<'_>)) {
        self.with_extra(pair, true, f);
    }

    fn with_extra(&mut self, pair: &LabelPair, lasting: bool, f: impl FnOnce(&mut SeriesWriter<'_>)) {
        let mut inner = SeriesWriter {
            out: &mut *self.out,
            text: self.text,
            names: self.names,
            labels: self.labels,
            extra: Some(pair),
            extra_lasting: lasting,
            sink: self.sink,
            fold: self.fold.as_mut().map(|(fold, key)| (&mut **fold, *key)),
        };
        f(&mut inner);
    }

    fn bucket_line(&mut self, le: &str, cumulative: u64) {
        self.start(&self.text.bucket, Some(le));
        self.out.extend_from_slice(itoa::Buffer::new().format(cumulative).as_bytes());
        self.out.push(b'\n');
    }

    fn sum_and_count_lines(&mut self, sum: f64, count: u64) {
        self.start(&self.text.sum, None);
        write_float(self.out, sum);
        self.out.push(b'\n');
        self.start(&self.text.count, None);
        self.out.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
        self.out.push(b'\n');
    }

    /// Appends one `Metric` with this series' labels, filled in by `fill`.
    #[cfg(feature = "protobuf")]
    fn proto_metric(&mut self, fill: impl FnOnce(&mut proto::Metric)) {
        let pairs = self.names.iter().map(|n| &**n).zip(self.labels.values());
        let extra = self.extra.map(|pair| (pair.name(), pair.value()));
        let mut metric = proto::Metric { label: proto::labels(pairs.chain(extra)), ..Default::default() };
        fill(&mut metric);
        proto::write_metric(self.out, &metric);
    }

    fn start(&mut self, name: &str, le: Option<&str>) {
        let out = &mut *self.out;
        out.extend_from_slice(name.as_bytes());
        if !self.labels.text().is_empty() || self.extra.is_some() || le.is_some() {
            out.push(b'{');
            let mut first = true;
            for part in [self.labels.text(), self.extra.map_or("", LabelPair::rendered)] {
                if !part.is_empty() {
                    if !first {
                        out.push(b',');
                    }
                    out.extend_from_slice(part.as_bytes());
                    first = false;
                }
            }
            if let Some(le) = le {
                if !first {
                    out.push(b',');
                }
                out.extend_from_slice(b"le=\"");
                out.extend_from_slice(le.as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
        }
        out.push(b' ');
    }
}

/// A rendered `le` value back as a number: ryu's output round-trips exactly.
#[cfg(feature = "protobuf")]
fn parse_le(le: &str) -> f64 {
    if le == "+Inf" {
        f64::INFINITY
    } else {
        le.parse().unwrap_or(f64::NAN)
    }
}
