//! Folding: one metric of many series written as a few, summed at scrape time (one series per
//! value of the labels kept), so that a node can show per-node counters and histograms of
//! thousands of partitions without recording anything twice.
//!
//! A family that folds a metric hands each series' cells a [`SeriesWriter`](super::SeriesWriter)
//! that adds into a [`Fold`] instead of writing; the fold then writes its sums through ordinary
//! writers. Counters and classic histograms fold (sums of counts, bucket by bucket, and of sums);
//! gauges and native histograms have no meaningful sum here and are left out.

use super::{Encoder, LabelPair, LabelSet, MetricText};

/// The sums of one metric over the series of a family, by kept label values.
#[derive(Debug)]
pub(crate) struct Fold {
    /// One group per distinct value of the kept labels, in first-seen order.
    groups: Vec<FoldGroup>,
}

#[derive(Debug)]
struct FoldGroup {
    labels: LabelSet,
    /// Per extra label pair (a `ByLabel` value), the sum.
    values: Vec<(Option<LabelPair>, Sum)>,
}

#[derive(Debug)]
enum Sum {
    Counter(u64),
    Histogram { le: Box<[Box<str>]>, counts: Vec<u64>, sum: f64 },
}

impl Fold {
    /// An empty fold with one group per label set of `keys` (the kept labels' values).
    pub(crate) fn new(keys: impl IntoIterator<Item = LabelSet>) -> Self {
        Self { groups: keys.into_iter().map(|labels| FoldGroup { labels, values: Vec::new() }).collect() }
    }

    fn sum(&mut self, key: usize, extra: Option<&LabelPair>) -> Option<&mut Sum> {
        let values = &mut self.groups.get_mut(key)?.values;
        let at = values.iter().position(|(pair, _)| pair.as_ref() == extra);
        Some(&mut values[at?].1)
    }

    pub(super) fn counter(&mut self, key: usize, extra: Option<&LabelPair>, v: u64) {
        match self.sum(key, extra) {
            Some(Sum::Counter(total)) => *total = total.wrapping_add(v),
            Some(Sum::Histogram { .. }) => {}
            None => {
                if let Some(group) = self.groups.get_mut(key) {
                    group.values.push((extra.cloned(), Sum::Counter(v)));
                }
            }
        }
    }

    pub(super) fn histogram(
        &mut self,
        key: usize,
        extra: Option<&LabelPair>,
        le: &[Box<str>],
        counts: &[u64],
        sum: f64,
    ) {
        match self.sum(key, extra) {
            Some(Sum::Histogram { counts: totals, sum: total, .. }) if totals.len() == counts.len() => {
                for (t, c) in totals.iter_mut().zip(counts) {
                    *t = t.wrapping_add(*c);
                }
                *total += sum;
            }
            Some(_) => {}
            None => {
                if let Some(group) = self.groups.get_mut(key) {
                    let folded = Sum::Histogram { le: le.into(), counts: counts.to_vec(), sum };
                    group.values.push((extra.cloned(), folded));
                }
            }
        }
    }

    /// Writes the sums as series of `text` labelled with the kept label `names`, after
    /// `encoder.metric(text)` (which the caller writes when [`Fold::is_empty`] is false).
    pub(crate) fn write(&self, encoder: &mut Encoder<'_>, text: &MetricText, names: &[Box<str>]) {
        for group in &self.groups {
            for (pair, sum) in &group.values {
                let mut writer = encoder.series(text, names, &group.labels);
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
        self.groups.iter().all(|g| g.values.is_empty())
    }
}
