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
use crate::prefetch;

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
    let mut grouping = Grouping::new(family, export);
    let mut folds: Vec<Option<Fold>> =
        (0..family.texts.len()).map(|m| (export.shows(m) == Shown::Folded).then(Fold::new)).collect();
    let folding = folds.iter().any(Option::is_some);
    // One pass over the series: whether each is kept, then every folded metric of it, so each
    // series' cells are read once, while in cache. A node's thousands of partitions do not fit
    // in it: a fold prefetches the series a few places ahead (every cell, which it reads, and
    // the labels it groups by), where the pass otherwise waited on memory at each series, most
    // of a large scrape's time (`benches/notes/scrape.md`).
    let labelled = folding && grouping.reads_labels();
    let mut scrape = Scrape { at: SystemTime::now(), kept: 0 };
    let mut kept: Vec<&(&Series<G>, Arc<LabelSet>)> = Vec::new();
    let mut scratch = Vec::new();
    for (i, entry) in snapshot.iter().enumerate() {
        if folding {
            prefetch_ahead(&snapshot, i, labelled);
        }
        let (series, labels) = entry;
        if export.keeps(&series.cells, &scrape) {
            kept.push(entry);
            scrape.kept += 1;
        }
        if !folding {
            continue;
        }
        let key = grouping.key(labels);
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
                fold.write(encoder, text, &grouping.names, &grouping.groups);
            }
            _ => {}
        }
    }
}

/// How many series ahead of the one folded the pass prefetches: the cells of a series of the
/// Raft schema are about 60 cache lines, and two to four series ahead measured alike.
const AHEAD: usize = 4;

/// Before folding series `i` of `snapshot`: prefetches the cells of the series [`AHEAD`], and
/// when the fold groups by label (`labelled`), that series' label set and, closer, the text the
/// label set points to.
fn prefetch_ahead<G>(snapshot: &[(&Series<G>, Arc<LabelSet>)], i: usize, labelled: bool) {
    if let Some((series, labels)) = snapshot.get(i + AHEAD) {
        prefetch::value(*series);
        if labelled {
            prefetch::value(&**labels);
        }
    }
    if let Some((_, labels)) = snapshot.get(i + AHEAD / 2).filter(|_| labelled) {
        labels.prefetch();
    }
}

/// The groups folded metrics sum into: the distinct values of the labels an export folds by,
/// numbered as first seen, as label sets over those labels.
struct Grouping {
    /// Where the labels folded by are among the family's, in the export's order.
    positions: Vec<usize>,
    /// Their names.
    names: Vec<Box<str>>,
    /// The groups seen, each labelled with its values.
    groups: Vec<LabelSet>,
    /// A group's number by its values joined into one key (see [`Grouping::key`]).
    index: HashMap<Box<[u8]>, usize>,
    /// The key being built, reused: a scrape of thousands of series allocates nothing per
    /// series here.
    key: Vec<u8>,
}

impl Grouping {
    fn new<G: Group>(family: &FamilyInner<G>, export: &Export<G>) -> Self {
        let positions: Vec<usize> =
            export.fold_by().iter().filter_map(|l| family.label_names.iter().position(|n| n == l)).collect();
        let names: Vec<Box<str>> = positions.iter().map(|&i| family.label_names[i].clone()).collect();
        // Folded by no label (into one series per node): the one group, and no label read per
        // series.
        let groups =
            if positions.is_empty() { vec![LabelSet::new(&names, std::iter::empty::<&str>())] } else { Vec::new() };
        Self { positions, names, groups, index: HashMap::new(), key: Vec::new() }
    }

    /// Whether a series' group depends on its labels.
    fn reads_labels(&self) -> bool {
        !self.positions.is_empty()
    }

    /// The number of the group of a series labelled `labels`.
    fn key(&mut self, labels: &LabelSet) -> usize {
        if !self.reads_labels() {
            return 0;
        }
        let Self { positions, names, groups, index, key } = self;
        let values = || positions.iter().map(|&i| labels.value(i).unwrap_or_default());
        key.clear();
        for value in values() {
            // 0xFF is in no UTF-8 text: values joined with it are told apart.
            key.extend_from_slice(value.as_bytes());
            key.push(0xFF);
        }
        if let Some(&group) = index.get(key.as_slice()) {
            return group;
        }
        groups.push(LabelSet::new(names, values()));
        index.insert(key.as_slice().into(), groups.len() - 1);
        groups.len() - 1
    }
}
