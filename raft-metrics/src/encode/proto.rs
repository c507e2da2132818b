//! Prometheus protobuf exposition: `io.prometheus.client.MetricFamily` messages, each preceded by
//! its length as a varint (`encoding=delimited`), as Prometheus scrapes native histograms.
//!
//! The messages are hand-written [`prost`] structs (proto2 field numbers and optionality of
//! `prometheus/client_model`'s `metrics.proto`), so no `protoc` and no build script are needed.
//! Only the messages this crate writes are declared; a decoder skips fields it does not know.
//! They are private: public `Metric`, `Counter`, `Gauge` and `Histogram` types here would make
//! rustc print longer paths for ours in users' error messages.
//!
//! # How a scrape is written
//!
//! Families and cells write through [`SampleWriter`](crate::SampleWriter), which is handed only
//! the output buffer, the metric's pre-rendered text and its series' rendered labels. For a
//! protobuf scrape, [`Registry::encode`](crate::Registry::encode) marks the scraping thread (a
//! thread-local, reset by a guard even on panic); each writer created on a marked thread writes
//! protobuf instead of text:
//!
//! 1. The first writer of a metric appends that metric's `MetricFamily` header (name, HELP, type,
//!    unit), pre-encoded at registration.
//! 2. Every sample appends one `Metric` (field 4). Protobuf concatenates repeated fields, so the
//!    bytes so far always form one valid `MetricFamily`.
//! 3. When the next metric starts, or the family ends, its length is inserted before its header.
//!
//! Label pairs are recovered from the series' rendered `name="escaped value",…` string, whose
//! format is ours and strict (see [`label_pairs`]).

use core::cell::Cell;

use prost::Message;

/// `Content-Type` of the delimited protobuf exposition.
pub(crate) const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// A label's name and value.
#[derive(Clone, PartialEq, Eq, Hash, Message)]
pub(crate) struct LabelPair {
    /// The label name.
    #[prost(string, optional, tag = "1")]
    pub(crate) name: Option<String>,
    /// The label value, unescaped.
    #[prost(string, optional, tag = "2")]
    pub(crate) value: Option<String>,
}

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum MetricType {
    /// Uses [`Metric::counter`].
    Counter = 0,
    /// Uses [`Metric::gauge`].
    Gauge = 1,
    /// A summary (not written by this crate).
    Summary = 2,
    /// An untyped value (not written by this crate).
    Untyped = 3,
    /// Uses [`Metric::histogram`].
    Histogram = 4,
    /// A gauge histogram (not written by this crate).
    GaugeHistogram = 5,
}

/// A gauge sample.
#[derive(Clone, Copy, PartialEq, Message)]
pub(crate) struct Gauge {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub(crate) value: Option<f64>,
}

/// A counter sample.
#[derive(Clone, Copy, PartialEq, Message)]
pub(crate) struct Counter {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub(crate) value: Option<f64>,
}

/// A classic histogram bucket.
#[derive(Clone, Copy, PartialEq, Message)]
pub(crate) struct Bucket {
    /// Observations at or below `upper_bound`.
    #[prost(uint64, optional, tag = "1")]
    pub(crate) cumulative_count: Option<u64>,
    /// The inclusive upper bound.
    #[prost(double, optional, tag = "2")]
    pub(crate) upper_bound: Option<f64>,
}

/// A run of consecutive native-histogram buckets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Message)]
pub(crate) struct BucketSpan {
    /// Gap to the previous span, or the index of the first bucket for the first span.
    #[prost(sint32, optional, tag = "1")]
    pub(crate) offset: Option<i32>,
    /// Number of consecutive buckets.
    #[prost(uint32, optional, tag = "2")]
    pub(crate) length: Option<u32>,
}

/// A histogram sample: classic buckets, or native (sparse exponential) buckets.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Histogram {
    /// Number of observations.
    #[prost(uint64, optional, tag = "1")]
    pub(crate) sample_count: Option<u64>,
    /// Sum of observations.
    #[prost(double, optional, tag = "2")]
    pub(crate) sample_sum: Option<f64>,
    /// Classic buckets, by increasing upper bound. This crate writes the `+Inf` bucket too.
    #[prost(message, repeated, tag = "3")]
    pub(crate) bucket: Vec<Bucket>,
    /// Native: each power of two is split into `2^schema` buckets.
    #[prost(sint32, optional, tag = "5")]
    pub(crate) schema: Option<i32>,
    /// Native: observations with `|v| <= zero_threshold` are in the zero bucket.
    #[prost(double, optional, tag = "6")]
    pub(crate) zero_threshold: Option<f64>,
    /// Native: count of the zero bucket.
    #[prost(uint64, optional, tag = "7")]
    pub(crate) zero_count: Option<u64>,
    /// Native: spans of negative buckets (by magnitude).
    #[prost(message, repeated, tag = "9")]
    pub(crate) negative_span: Vec<BucketSpan>,
    /// Native: negative bucket counts, each as the difference from the previous bucket's.
    #[prost(sint64, repeated, tag = "10")]
    pub(crate) negative_delta: Vec<i64>,
    /// Native: spans of positive buckets.
    #[prost(message, repeated, tag = "12")]
    pub(crate) positive_span: Vec<BucketSpan>,
    /// Native: positive bucket counts, each as the difference from the previous bucket's.
    #[prost(sint64, repeated, tag = "13")]
    pub(crate) positive_delta: Vec<i64>,
}

/// One series of a family: its labels and one sample.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Metric {
    /// The series' labels, in registration order.
    #[prost(message, repeated, tag = "1")]
    pub(crate) label: Vec<LabelPair>,
    /// Set for gauges.
    #[prost(message, optional, tag = "2")]
    pub(crate) gauge: Option<Gauge>,
    /// Set for counters.
    #[prost(message, optional, tag = "3")]
    pub(crate) counter: Option<Counter>,
    /// Set for histograms.
    #[prost(message, optional, tag = "7")]
    pub(crate) histogram: Option<Histogram>,
}

/// One metric: name, HELP, type, unit and its series.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct MetricFamily {
    /// The name; counters keep their `_total`.
    #[prost(string, optional, tag = "1")]
    pub(crate) name: Option<String>,
    /// The HELP text, unescaped.
    #[prost(string, optional, tag = "2")]
    pub(crate) help: Option<String>,
    /// The type.
    #[prost(enumeration = "MetricType", optional, tag = "3")]
    pub(crate) r#type: Option<i32>,
    /// The series.
    #[prost(message, repeated, tag = "4")]
    pub(crate) metric: Vec<Metric>,
    /// The unit (`seconds`, `bytes`, `ratio`), when declared.
    #[prost(string, optional, tag = "5")]
    pub(crate) unit: Option<String>,
}

/// The pre-encoded fields of a `MetricFamily` without its series.
pub(crate) fn header(name: &str, help: &str, kind: crate::MetricKind, unit: Option<&str>) -> Box<[u8]> {
    let r#type = match kind {
        crate::MetricKind::Counter => MetricType::Counter,
        crate::MetricKind::Gauge => MetricType::Gauge,
        crate::MetricKind::Histogram => MetricType::Histogram,
    };
    MetricFamily {
        name: Some(name.to_owned()),
        help: Some(help.to_owned()),
        r#type: Some(r#type as i32),
        metric: Vec::new(),
        unit: unit.map(str::to_owned),
    }
    .encode_to_vec()
    .into_boxed_slice()
}

/// What this thread's protobuf scrape has written so far.
#[derive(Clone, Copy)]
struct Scrape {
    active: bool,
    /// The family being written: the address of its `MetricText` and where its bytes start.
    open: Option<(usize, usize)>,
}

const IDLE: Scrape = Scrape { active: false, open: None };

thread_local! {
    static SCRAPE: Cell<Scrape> = const { Cell::new(IDLE) };
}

/// Marks this thread as writing a protobuf scrape until dropped.
pub(crate) struct ScrapeGuard {
    _not_send: core::marker::PhantomData<*const ()>,
}

impl ScrapeGuard {
    pub(crate) fn begin() -> Self {
        SCRAPE.with(|s| s.set(Scrape { active: true, open: None }));
        Self { _not_send: core::marker::PhantomData }
    }

    /// Ends the family being written, inserting its length before it.
    pub(crate) fn close_family(&self, out: &mut Vec<u8>) {
        close(out);
    }
}

impl Drop for ScrapeGuard {
    fn drop(&mut self) {
        SCRAPE.with(|s| s.set(IDLE));
    }
}

/// Whether this thread is writing a protobuf scrape.
#[inline]
pub(crate) fn is_active() -> bool {
    SCRAPE.with(|s| s.get().active)
}

/// Starts the family of `text` unless it is the one being written.
pub(crate) fn enter(out: &mut Vec<u8>, text: usize, header: &[u8]) {
    let scrape = SCRAPE.with(Cell::get);
    if scrape.open.is_some_and(|(open, _)| open == text) {
        return;
    }
    close(out);
    let start = out.len();
    out.extend_from_slice(header);
    SCRAPE.with(|s| s.set(Scrape { active: true, open: Some((text, start)) }));
}

fn close(out: &mut Vec<u8>) {
    let scrape = SCRAPE.with(Cell::get);
    if let Some((_, start)) = scrape.open {
        let len = out.len() - start;
        let mut prefix = Vec::with_capacity(prost::length_delimiter_len(len));
        // Writing into a Vec cannot fail for lack of space.
        let _ = prost::encode_length_delimiter(len, &mut prefix);
        out.splice(start..start, prefix);
        SCRAPE.with(|s| s.set(Scrape { active: scrape.active, open: None }));
    }
}

/// Appends one `Metric` (field 4 of the open `MetricFamily`).
pub(crate) fn write_metric(out: &mut Vec<u8>, metric: &Metric) {
    prost::encoding::message::encode(4, metric, out);
}

/// The label pairs of rendered `name="escaped",…` strings (series labels, then extra pairs).
pub(crate) fn labels(parts: [&str; 2]) -> Vec<LabelPair> {
    let mut pairs = Vec::new();
    for part in parts {
        label_pairs(part, &mut pairs);
    }
    pairs
}

/// Parses `name="escaped value",…` as written by `write_label_pair`: names never contain `=`
/// or `"`, values escape exactly `\\`, `\"` and `\n`, so the first `="` ends a name and the first
/// unescaped `"` ends a value.
pub(crate) fn label_pairs(rendered: &str, pairs: &mut Vec<LabelPair>) {
    let mut rest = rendered;
    while let Some(eq) = rest.find("=\"") {
        let name = &rest[..eq];
        let body = &rest[eq + 2..];
        let bytes = body.as_bytes();
        let mut end = 0;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let escaped = body.get(..end).unwrap_or(body);
        let value = super::unescape_label_value(escaped).unwrap_or_else(|| escaped.to_owned());
        pairs.push(LabelPair { name: Some(name.to_owned()), value: Some(value) });
        rest = body.get(end + 1..).unwrap_or_default();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Spans and deltas of native buckets: `counts[p]` is bucket index `first_index + p`.
///
/// Runs of up to two empty buckets stay inside a span (two zero deltas cost no more than a new
/// span's two varints), as client_golang does.
pub(crate) fn spans(first_index: i32, counts: &[u64]) -> (Vec<BucketSpan>, Vec<i64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::new();
    let mut previous = 0u64;
    let mut last: Option<usize> = None;
    for (position, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        match last {
            Some(last) if position - last <= 3 => {
                for _ in last + 1..position {
                    deltas.push(delta(0, previous));
                    previous = 0;
                }
                if let Some(span) = spans.last_mut() {
                    span.length = Some(span.length.unwrap_or(0) + u32::try_from(position - last).unwrap_or(0));
                }
            }
            _ => {
                let offset = match last {
                    Some(last) => i64::try_from(position - last - 1),
                    None => i64::try_from(position).map(|p| i64::from(first_index) + p),
                };
                let offset = offset.ok().and_then(|o| i32::try_from(o).ok()).unwrap_or(i32::MAX);
                spans.push(BucketSpan { offset: Some(offset), length: Some(1) });
            }
        }
        deltas.push(delta(count, previous));
        previous = count;
        last = Some(position);
    }
    (spans, deltas)
}

/// `count - previous` as a wrapping two's-complement delta: a decoder that adds the deltas back
/// up in 64-bit arithmetic recovers every count exactly.
#[allow(clippy::cast_possible_wrap)] // intended: wrapping differences
fn delta(count: u64, previous: u64) -> i64 {
    count.wrapping_sub(previous) as i64
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn rendered_labels_parse_back() {
        let mut rendered = String::new();
        for (name, value) in [("a", ""), ("b", "q\"uo\\te\nnl"), ("c", "ünï,=\"")] {
            if !rendered.is_empty() {
                rendered.push(',');
            }
            crate::encode::write_label_pair(&mut rendered, name, value);
        }
        let pairs = labels([&rendered, "d=\"x\""]);
        let got: Vec<_> = pairs.iter().map(|p| (p.name.clone().unwrap(), p.value.clone().unwrap())).collect::<Vec<_>>();
        let want = [("a", ""), ("b", "q\"uo\\te\nnl"), ("c", "ünï,=\""), ("d", "x")]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .to_vec();
        assert_eq!(got, want);
        assert!(labels(["", ""]).is_empty());
    }

    #[test]
    fn spans_merge_small_gaps() {
        let (spans, deltas) = spans(-3, &[0, 2, 0, 0, 1, 0, 0, 0, 5, 5]);
        let spans: Vec<_> = spans.iter().map(|s| (s.offset.unwrap(), s.length.unwrap())).collect();
        assert_eq!(spans, vec![(-2, 4), (3, 2)]);
        assert_eq!(deltas, vec![2, -2, 0, 1, 4, 0]);
        assert_eq!(super::spans(0, &[0, 0]), (Vec::new(), Vec::new()));
    }
}
