//! What a scrape writes of a family: every metric of every series (the default), or a selection.
//!
//! A node with thousands of partitions cannot send every partition's series to Prometheus, but
//! its operators still need the partitions that are in trouble by name. An [`Export`] lets a
//! family keep recording every series as usual while a scrape writes only the metrics it selects
//! of the series it accepts right now. The choice is made at scrape time from the series' own
//! values, so recording pays nothing for it and a series moves in and out of the scrape without
//! any allocation or lock on the recording side.

use core::fmt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::series::Series;
use super::FamilyInner;
use crate::encode::{Encoder, Fold, LabelSet, SeriesWriter};
use crate::metric::Group;

/// How a scrape shows one metric of a family under an [`Export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// One series per label set the export keeps.
    Series,
    /// Summed over every series (kept or not) into one series per value of the labels the
    /// export folds by: counters and classic histograms; gauges and native histograms write
    /// nothing folded.
    Folded,
    /// Not at all.
    Hidden,
}

/// Which metrics of which series a scrape writes (see [`Family::set_export`](super::Family::set_export)).
///
/// A series left out of a scrape is absent from it, as if removed: Prometheus marks it stale, so
/// an alert on it resolves, and it returns with its current values when accepted again.
pub struct Export<G> {
    metrics: Box<[Shown]>,
    fold_by: Box<[Box<str>]>,
    keep: Box<Keep<G>>,
}

/// Whether a series is in the scrape.
type Keep<G> = dyn Fn(&G, &Scrape) -> bool + Send + Sync;

/// One scrape of a family, as the keep predicate of [`Export::with_scrape`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Scrape {
    at: SystemTime,
    kept: usize,
}

impl Scrape {
    /// When the scrape started (read once per scrape of the family rather than once per series:
    /// a node's thousands of partitions are judged against the same instant).
    pub fn at(&self) -> SystemTime {
        self.at
    }

    /// How many series this scrape kept so far (series are judged in a stable order: the order
    /// they were created in, slots of removed series reused).
    pub fn kept(&self) -> usize {
        self.kept
    }
}

impl<G: Group> Export<G> {
    /// Writes the group's metrics for which `metric(index)` is true (indexes in the group's
    /// declaration order, as in its `SCHEMA`), of the series for which `keep` is true at the
    /// time of the scrape. `keep` runs once per series per scrape, under no lock, and must not
    /// record into the family.
    pub fn new(metric: impl Fn(usize) -> bool, keep: impl Fn(&G) -> bool + Send + Sync + 'static) -> Self {
        Self::with_scrape(metric, move |series, _| keep(series))
    }

    /// As [`Export::new`], with `keep` also given the [`Scrape`]: when it started, how many
    /// series it kept so far (to bound what one scrape shows).
    pub fn with_scrape(
        metric: impl Fn(usize) -> bool,
        keep: impl Fn(&G, &Scrape) -> bool + Send + Sync + 'static,
    ) -> Self {
        let metrics = (0..G::KINDS.len()).map(|i| if metric(i) { Shown::Series } else { Shown::Hidden }).collect();
        Self { metrics, fold_by: Box::new([]), keep: Box::new(keep) }
    }

    /// Writes the selected metrics of every series.
    pub fn metrics(metric: impl Fn(usize) -> bool) -> Self {
        Self::new(metric, |_| true)
    }

    /// Also writes the metrics for which `metric(index)` is true folded: summed over every
    /// series into one per value of the family's labels named in `by` (none: one series).
    #[must_use]
    pub fn fold(mut self, metric: impl Fn(usize) -> bool, by: &[&str]) -> Self {
        for (i, shown) in self.metrics.iter_mut().enumerate() {
            if metric(i) {
                *shown = Shown::Folded;
            }
        }
        self.fold_by = by.iter().map(|l| (*l).into()).collect();
        self
    }

    /// How the scrape shows the group's metric `index`.
    pub fn shows(&self, index: usize) -> Shown {
        self.metrics.get(index).copied().unwrap_or(Shown::Hidden)
    }

    pub(crate) fn writes_metric(&self, index: usize) -> bool {
        self.shows(index) != Shown::Hidden
    }

    /// The labels folded metrics keep.
    pub(crate) fn fold_by(&self) -> &[Box<str>] {
        &self.fold_by
    }

    pub(super) fn keeps(&self, series: &G, scrape: &Scrape) -> bool {
        (self.keep)(series, scrape)
    }
}

impl<G> fmt::Debug for Export<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Export").field("metrics", &self.metrics).field("fold_by", &self.fold_by).finish_non_exhaustive()
    }
}

/// Writes `snapshot` (every live series of `family`) as `export` shows it.
pub(super) fn encode<G: Group>(
    family: &FamilyInner<G>,
    export: &Export<G>,
    snapshot: Vec<(&Series<G>, Arc<LabelSet>)>,
    encoder: &mut Encoder<'_>,
) {
    let folds = (0..family.texts.len()).any(|m| export.shows(m) == Shown::Folded);
    // Each series' group among the values of the labels folded by, computed once per scrape.
    let (groups, keys) = if folds { fold_groups(family, export, &snapshot) } else { (Vec::new(), Vec::new()) };
    let by: Vec<Box<str>> = export.fold_by().iter().filter(|l| family.label_names.contains(l)).cloned().collect();
    let mut folds: Vec<Option<Fold>> = (0..family.texts.len())
        .map(|m| (export.shows(m) == Shown::Folded).then(|| Fold::new(groups.iter().cloned())))
        .collect();
    // One pass over the series: whether each is kept, then every folded metric of it, so each
    // series' cells are read while in cache (a node's thousands of partitions do not fit; metric
    // by metric, or a pass to choose and one to fold, would bring each in several times).
    let mut scrape = Scrape { at: SystemTime::now(), kept: 0 };
    let mut kept: Vec<&(&Series<G>, Arc<LabelSet>)> = Vec::new();
    let mut scratch = Vec::new();
    for (i, entry) in snapshot.iter().enumerate() {
        let (series, labels) = entry;
        if export.keeps(&series.cells, &scrape) {
            kept.push(entry);
            scrape.kept += 1;
        }
        let Some(&key) = keys.get(i) else { continue };
        for ((metric, text), fold) in family.texts.iter().enumerate().zip(&mut folds) {
            if let Some(fold) = fold {
                let mut writer = SeriesWriter::folding(&mut scratch, text, &family.label_names, labels, fold, key);
                series.cells.encode(&family.layout, metric, &mut writer);
            }
        }
    }
    for ((metric, text), fold) in family.texts.iter().enumerate().zip(&folds) {
        match (export.shows(metric), fold) {
            (Shown::Series, _) if !kept.is_empty() => {
                encoder.metric(text);
                for (series, labels) in &kept {
                    let mut writer = encoder.series(text, &family.label_names, labels);
                    series.cells.encode(&family.layout, metric, &mut writer);
                }
            }
            (Shown::Folded, Some(fold)) if !fold.is_empty() => {
                encoder.metric(text);
                fold.write(encoder, text, &by);
            }
            _ => {}
        }
    }
}

/// The distinct values of the labels `export` folds by (as label sets over those labels), and
/// each series' index among them.
fn fold_groups<G: Group>(
    family: &FamilyInner<G>,
    export: &Export<G>,
    snapshot: &[(&Series<G>, Arc<LabelSet>)],
) -> (Vec<LabelSet>, Vec<usize>) {
    let positions: Vec<usize> =
        export.fold_by().iter().filter_map(|l| family.label_names.iter().position(|n| n == l)).collect();
    let names: Vec<Box<str>> = positions.iter().map(|&i| family.label_names[i].clone()).collect();
    if positions.is_empty() {
        // Folded into one series (per node): no label to read per series.
        return (vec![LabelSet::new(&names, std::iter::empty::<&str>())], vec![0; snapshot.len()]);
    }
    let mut index: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut groups = Vec::new();
    let keys = snapshot
        .iter()
        .map(|(_, labels)| {
            let values: Vec<&str> = labels.values().collect();
            let key: Vec<&str> = positions.iter().filter_map(|&i| values.get(i).copied()).collect();
            *index.entry(key).or_insert_with_key(|key| {
                groups.push(LabelSet::new(&names, key.iter().copied()));
                groups.len() - 1
            })
        })
        .collect();
    (groups, keys)
}
