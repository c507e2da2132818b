//! Folding: one metric of many series written as a few, summed at scrape time (one series per
//! value of the labels kept), so that a node can show per-node counters and histograms of
//! thousands of partitions without recording anything twice.
//!
//! A family that folds a metric hands each series' cells a [`SeriesWriter`](super::SeriesWriter)
//! that adds into a [`Fold`] instead of writing; the fold then writes its sums through ordinary
//! writers. Counters and classic histograms fold (sums of counts, bucket by bucket, and of sums);
//! gauges and native histograms have no meaningful sum here and are left out.

use super::{Encoder, LabelPair, LabelSet, MetricText};

/// The sums of one metric over the series of a family, by kept label values: group `key` is
/// the `key`-th distinct value, as the family's scrape numbers them (first seen first).
#[derive(Debug, Default)]
pub(crate) struct Fold {
    /// Per group, per extra label pair (a `ByLabel` value), the sum; groups are added as
    /// series of them are folded.
    groups: Vec<Vec<Value>>,
}

/// The sum of one extra label pair's samples in a group.
#[derive(Debug)]
struct Value {
    pair: Option<LabelPair>,
    /// See [`Extra`]: the address of the pair the first series wrote it with, 0 if it may not
    /// last.
    origin: usize,
    sum: Sum,
}

#[derive(Debug)]
enum Sum {
    Counter(u64),
    Histogram { le: Box<[Box<str>]>, counts: Vec<u64>, sum: f64 },
}

/// The extra label pair (a `ByLabel` value) of the samples being folded. Every series of a
/// family writes its layout's pairs, which last as long as the family: those are found by
/// address, where comparing the strings, for every sample of thousands of series, took a tenth
/// of a large scrape. A pair that may not last (a custom metric's, perhaps a temporary whose
/// address a different pair takes next) is found by its text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extra<'a> {
    pair: Option<&'a LabelPair>,
    origin: usize,
}

impl<'a> Extra<'a> {
    /// `pair`, which lasts as long as the family when `lasting`.
    pub(crate) fn new(pair: Option<&'a LabelPair>, lasting: bool) -> Self {
        let origin = match pair {
            Some(pair) if lasting => core::ptr::from_ref(pair) as usize,
            _ => 0,
        };
        Self { pair, origin }
    }

    /// Where this pair's sum is among `values`: by address if it lasts, else by text.
    fn find(&self, values: &[Value]) -> Option<usize> {
        if self.origin != 0 {
            if let Some(at) = values.iter().position(|value| value.origin == self.origin) {
                return Some(at);
            }
        }
        values.iter().position(|value| value.pair.as_ref() == self.pair)
    }

    fn value(self, sum: Sum) -> Value {
        Value { pair: self.pair.cloned(), origin: self.origin, sum }
    }
}

impl Fold {
    /// An empty fold.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The sums of group `key`, which starts empty.
    fn group(&mut self, key: usize) -> &mut Vec<Value> {
        if self.groups.len() <= key {
            self.groups.resize_with(key + 1, Vec::new);
        }
        &mut self.groups[key]
    }

    fn sum(&mut self, key: usize, extra: Extra<'_>) -> Option<&mut Sum> {
        let values = self.groups.get_mut(key)?;
        let at = extra.find(values)?;
        Some(&mut values[at].sum)
    }

    pub(super) fn counter(&mut self, key: usize, extra: Extra<'_>, v: u64) {
        match self.sum(key, extra) {
            Some(Sum::Counter(total)) => *total = total.wrapping_add(v),
            Some(Sum::Histogram { .. }) => {}
            None => self.group(key).push(extra.value(Sum::Counter(v))),
        }
    }

    pub(super) fn histogram(&mut self, key: usize, extra: Extra<'_>, le: &[Box<str>], counts: &[u64], sum: f64) {
        match self.sum(key, extra) {
            Some(Sum::Histogram { counts: totals, sum: total, .. }) if totals.len() == counts.len() => {
                for (t, c) in totals.iter_mut().zip(counts) {
                    *t = t.wrapping_add(*c);
                }
                *total += sum;
            }
            Some(_) => {}
            None => {
                let sum = Sum::Histogram { le: le.into(), counts: counts.to_vec(), sum };
                self.group(key).push(extra.value(sum));
            }
        }
    }

    /// Writes the sums as series of `text`, group `key` labelled `labels[key]` with the kept
    /// label `names`, after `encoder.metric(text)` (which the caller writes when
    /// [`Fold::is_empty`] is false).
    pub(crate) fn write(&self, encoder: &mut Encoder<'_>, text: &MetricText, names: &[Box<str>], labels: &[LabelSet]) {
        for (values, labels) in self.groups.iter().zip(labels) {
            for Value { pair, sum, .. } in values {
                let mut writer = encoder.series(text, names, labels);
                let write = |w: &mut super::SeriesWriter<'_>| match sum {
                    Sum::Counter(v) => w.counter(*v),
                    Sum::Histogram { le, counts, sum } => w.histogram(le, counts, *sum),
                };
                match pair {
                    Some(pair) => writer.with_extra_label(pair, write),
                    None => write(&mut writer),
                }
            }
        }
    }

    /// Whether no series wrote anything foldable.
    pub(crate) fn is_empty(&self) -> bool {
        self.groups.iter().all(Vec::is_empty)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::encode::SeriesWriter;
    use crate::model::{MetricInfo, MetricKind};
    use crate::Format;

    /// A custom metric's pairs may be temporaries, one taking the address of the one before: they
    /// are told apart by their text, and one equal to a layout's (lasting) pair adds to its sum.
    #[test]
    fn pairs_that_may_not_last_are_folded_by_their_text() {
        let text = MetricText::new(&MetricInfo::new("requests", "Requests."), MetricKind::Counter);
        let names: [Box<str>; 0] = [];
        let labels = LabelSet::new(&names, std::iter::empty::<&str>());
        let lasting = LabelPair::new("kind", "a");
        let mut fold = Fold::new();
        let mut scratch = Vec::new();
        for _series in 0..3 {
            let mut writer = SeriesWriter::folding(&mut scratch, &text, &names, &labels, &mut fold, 0);
            for value in ["a", "b"] {
                let pair = LabelPair::new("kind", value);
                writer.with_extra_label(&pair, |w| w.counter(1));
            }
            writer.with_layout_label(&lasting, |w| w.counter(10));
        }
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, Format::Prometheus);
        encoder.metric(&text);
        fold.write(&mut encoder, &text, &names, &[labels]);
        encoder.finish();
        let out = String::from_utf8(out).expect("text");
        let samples: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples, ["requests_total{kind=\"a\"} 33", "requests_total{kind=\"b\"} 3"]);
    }
}
