//! Prometheus protobuf exposition: `io.prometheus.client.MetricFamily` messages, each preceded by
//! its length as a varint (`encoding=delimited`), as Prometheus scrapes native histograms.
//!
//! The messages are hand-written [`prost`] structs (proto2 field numbers and optionality of
//! `prometheus/client_model`'s `metrics.proto`), so no `protoc` and no build script are needed.
//! Only the messages this crate writes are declared; a decoder skips fields it does not know.
//! They are private: public `Metric`, `Counter`, `Gauge` and `Histogram` types here would make
//! rustc print longer paths for ours in users' error messages.
//!
//! The [`Encoder`](super::Encoder) writes each family's pre-encoded header, then one `Metric`
//! (field 4) per sample, then inserts the family's length in front ([`prefix_length`]). Label
//! pairs come from the series' raw values, kept beside their rendered text.

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
pub(crate) fn header(name: &str, help: &str, kind: crate::model::MetricKind, unit: Option<&str>) -> Box<[u8]> {
    let r#type = match kind {
        crate::model::MetricKind::Counter => MetricType::Counter,
        crate::model::MetricKind::Gauge => MetricType::Gauge,
        crate::model::MetricKind::Histogram => MetricType::Histogram,
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

/// Inserts the varint length of `out[start..]` at `start`: ends one length-delimited message.
pub(crate) fn prefix_length(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    let mut prefix = Vec::with_capacity(prost::length_delimiter_len(len));
    // Writing into a Vec cannot fail for lack of space.
    let _ = prost::encode_length_delimiter(len, &mut prefix);
    out.splice(start..start, prefix);
}

/// Appends one `Metric` (field 4 of the open `MetricFamily`).
pub(crate) fn write_metric(out: &mut Vec<u8>, metric: &Metric) {
    prost::encoding::message::encode(4, metric, out);
}

/// The label pairs of a sample, from raw names and values.
pub(crate) fn labels<'l>(pairs: impl Iterator<Item = (&'l str, &'l str)>) -> Vec<LabelPair> {
    pairs.map(|(name, value)| LabelPair { name: Some(name.to_owned()), value: Some(value.to_owned()) }).collect()
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
    fn spans_merge_small_gaps() {
        let (spans, deltas) = spans(-3, &[0, 2, 0, 0, 1, 0, 0, 0, 5, 5]);
        let spans: Vec<_> = spans.iter().map(|s| (s.offset.unwrap(), s.length.unwrap())).collect();
        assert_eq!(spans, vec![(-2, 4), (3, 2)]);
        assert_eq!(deltas, vec![2, -2, 0, 1, 4, 0]);
        assert_eq!(super::spans(0, &[0, 0]), (Vec::new(), Vec::new()));
    }
}
