//! Exposition: Prometheus text 0.0.4 and OpenMetrics 1.0 text.
//!
//! Everything that can be rendered ahead of time is: `# HELP`/`# TYPE`/`# UNIT` lines at
//! registration, a series' `name="value"` pairs when the series is created, `le` values with the
//! buckets. A scrape copies those bytes and formats numbers (itoa for integers, ryu for floats).

mod escape;
pub mod parse;

pub use escape::unescape_label_value;

use crate::metric::MetricKind;
use crate::registry::MetricInfo;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Prometheus text format 0.0.4: what every Prometheus scrapes.
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 text: `# UNIT` lines, counter families without `_total`, `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` to serve this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
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

/// Appends `name="escaped value"`.
pub(crate) fn write_label_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    escape::label_value(out, value);
    out.push('"');
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
        if let Some(unit) = info.unit_of() {
            openmetrics_header.push_str(&format!("# UNIT {name} {}\n", unit.as_str()));
        }
        openmetrics_header.push_str(&format!("# HELP {name} "));
        escape::help(&mut openmetrics_header, info.help(), true);
        openmetrics_header.push('\n');
        Self {
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

    pub(crate) fn header(&self, format: Format) -> &str {
        match format {
            Format::Prometheus => &self.prometheus_header,
            Format::OpenMetrics => &self.openmetrics_header,
        }
    }
}

/// Writes the samples of one metric for one series. Cells call it from
/// [`Metric::encode`](crate::Metric::encode); it owns every byte of the sample lines.
#[derive(Debug)]
pub struct SampleWriter<'a> {
    out: &'a mut Vec<u8>,
    text: &'a MetricText,
    labels: &'a str,
    extra: &'a str,
}

impl<'a> SampleWriter<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>, text: &'a MetricText, labels: &'a str) -> Self {
        Self { out, text, labels, extra: "" }
    }

    /// Writes a counter sample.
    pub fn counter(&mut self, v: u64) {
        self.start(&self.text.primary, None);
        self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.out.push(b'\n');
    }

    /// Writes an integer gauge sample.
    pub fn gauge_int(&mut self, v: i64) {
        self.start(&self.text.primary, None);
        self.out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.out.push(b'\n');
    }

    /// Writes a float gauge sample.
    pub fn gauge_float(&mut self, v: f64) {
        self.start(&self.text.primary, None);
        write_float(self.out, v);
        self.out.push(b'\n');
    }

    /// Writes a histogram: cumulative `_bucket` lines, `_sum` and `_count`.
    /// `counts` holds one non-cumulative count per entry of `le` (the `+Inf` bucket last).
    pub(crate) fn histogram(&mut self, le: &[Box<str>], counts: &[u64], sum: f64) {
        let mut cumulative = 0u64;
        for (le, count) in le.iter().zip(counts) {
            cumulative = cumulative.wrapping_add(*count);
            self.start(&self.text.bucket, Some(le));
            self.out.extend_from_slice(itoa::Buffer::new().format(cumulative).as_bytes());
            self.out.push(b'\n');
        }
        self.start(&self.text.sum, None);
        write_float(self.out, sum);
        self.out.push(b'\n');
        self.start(&self.text.count, None);
        self.out.extend_from_slice(itoa::Buffer::new().format(cumulative).as_bytes());
        self.out.push(b'\n');
    }

    /// Runs `f` with one more pre-rendered `name="value"` pair on every sample it writes.
    pub fn with_extra_label(&mut self, pair: &str, f: impl FnOnce(&mut SampleWriter<'_>)) {
        let mut inner = SampleWriter { out: &mut *self.out, text: self.text, labels: self.labels, extra: pair };
        f(&mut inner);
    }

    fn start(&mut self, name: &str, le: Option<&str>) {
        let out = &mut *self.out;
        out.extend_from_slice(name.as_bytes());
        if !self.labels.is_empty() || !self.extra.is_empty() || le.is_some() {
            out.push(b'{');
            let mut first = true;
            for part in [self.labels, self.extra] {
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
