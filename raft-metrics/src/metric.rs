//! What a series stores: one metric ([`Metric`]) or a group of them sharing a label set ([`Group`]).

use std::sync::Arc;

use crate::cell::{Metric, SampleControl};
use crate::encode::{LabelPair, SeriesWriter};
use crate::label::EnumLabel;
use crate::model::{MetricKind, RegistrationError};

/// Everything recorded for one label set: one or more metrics laid out in one allocation.
///
/// Every [`Metric`] is a group of one. `#[derive(RaftMetrics)]` implements it for structs whose
/// fields are metrics, so a partition's metrics share one interned label set, one rendered label
/// string and one allocation.
pub trait Group: Send + Sync + Sized + 'static {
    /// Configuration shared by every series of a family.
    type Layout: Send + Sync + 'static;
    /// The kinds of the metrics in this group, in export order.
    const KINDS: &'static [MetricKind];

    /// Checks a layout at registration.
    ///
    /// # Errors
    ///
    /// When the layout does not fit this group.
    fn check(layout: &Self::Layout) -> Result<(), RegistrationError>;

    /// Fresh, zeroed storage.
    fn new(layout: &Self::Layout) -> Self;

    /// Zeroes the storage.
    fn reset(&self);

    /// Writes the samples of metric number `metric` (an index into [`Group::KINDS`]).
    fn encode(&self, layout: &Self::Layout, metric: usize, out: &mut SeriesWriter<'_>);

    /// The run-time sampling control of metric number `metric`, if it is sampled.
    fn sample_control(layout: &Self::Layout, metric: usize) -> Option<&Arc<SampleControl>> {
        let _ = (layout, metric);
        None
    }
}

impl<M: Metric> Group for M {
    type Layout = M::Layout;
    const KINDS: &'static [MetricKind] = &[M::KIND];

    fn check(layout: &Self::Layout) -> Result<(), RegistrationError> {
        M::check(layout)
    }

    fn new(layout: &Self::Layout) -> Self {
        M::new(layout)
    }

    fn reset(&self) {
        M::reset(self);
    }

    fn encode(&self, layout: &Self::Layout, _metric: usize, out: &mut SeriesWriter<'_>) {
        M::encode(self, layout, out);
    }

    fn sample_control(layout: &Self::Layout, _metric: usize) -> Option<&Arc<SampleControl>> {
        M::sample_control(layout)
    }
}

/// A group with a single-writer view: `#[derive(RaftMetrics)]` generates a struct of
/// [`Local`](crate::Local) fields, reached through [`Exclusive::fields`](crate::Exclusive::fields).
pub trait LocalFields: Group {
    /// The view: one single-writer handle per field.
    type Fields<'a>;
    /// Splits a single-writer view of the group into its fields.
    fn fields(local: crate::Local<'_, Self>) -> Self::Fields<'_>;
}

/// One cell per value of a fixed-cardinality label: the label value indexes an array, no hashing.
///
/// `K` must equal the number of values of `E` ([`EnumLabel::VALUES`]); registration checks it.
///
/// # Examples
///
/// ```
/// use raft_metrics::{ByLabel, Counter, EnumLabel, Registry};
///
/// #[derive(Clone, Copy)]
/// enum Reject { StaleTerm, LogInconsistency }
/// impl EnumLabel for Reject {
///     const VALUES: &'static [&'static str] = &["stale_term", "log_inconsistency"];
///     fn index(self) -> usize { self as usize }
/// }
///
/// let registry = Registry::new();
/// let rejected = registry
///     .register_with::<ByLabel<Reject, Counter, 2>, 0>(
///         raft_metrics::MetricInfo::new("raft_append_rejected", "Rejected appends."),
///         [],
///         raft_metrics::advanced::ByLabelLayout::new("reason", ())?,
///     )?
///     .bind(());
/// rejected.get(Reject::StaleTerm).inc();
/// rejected.get(Reject::LogInconsistency).add(2);
/// assert!(registry.encode_to_string(raft_metrics::Format::Prometheus)
///     .contains("raft_append_rejected_total{reason=\"stale_term\"} 1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ByLabel<E, C, const K: usize> {
    cells: [C; K],
    _label: core::marker::PhantomData<fn(E)>,
}

/// The layout of a [`ByLabel`]: the label's name and each value's `name="value"` pair.
pub struct ByLabelLayout<E, L> {
    name: Box<str>,
    pairs: Box<[LabelPair]>,
    inner: L,
    _label: core::marker::PhantomData<fn(E)>,
}

impl<E: EnumLabel, L> ByLabelLayout<E, L> {
    /// The layout for label `name` around the inner cells' layout.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::InvalidLabelName`] when `name` is not a valid, unreserved label name.
    pub fn new(name: &str, inner: L) -> Result<Self, RegistrationError> {
        crate::name::check_label_name(name)?;
        let pairs = E::VALUES.iter().map(|value| LabelPair::new(name, value)).collect();
        Ok(Self { name: name.into(), pairs, inner, _label: core::marker::PhantomData })
    }

    /// The label's name.
    pub fn label_name(&self) -> &str {
        &self.name
    }
}

impl<E, L: core::fmt::Debug> core::fmt::Debug for ByLabelLayout<E, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ByLabelLayout").field("name", &self.name).field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<E: EnumLabel, C: Metric, const K: usize> ByLabel<E, C, K> {
    /// The cell for one label value.
    #[inline]
    pub fn get(&self, value: E) -> &C {
        // `index` is below `E::VALUES.len()`, which registration checked equals `K`; a wrong
        // `EnumLabel` impl panics here rather than writing out of bounds.
        &self.cells[value.index()]
    }
}

impl<'a, E: EnumLabel, C: Metric, const K: usize> crate::Local<'a, ByLabel<E, C, K>> {
    /// The single-writer view of the cell for one label value.
    #[inline]
    pub fn get(&self, value: E) -> crate::Local<'a, C> {
        self.project(|by_label| by_label.get(value))
    }
}

impl<E: EnumLabel, C: Metric, const K: usize> Metric for ByLabel<E, C, K> {
    type Layout = ByLabelLayout<E, C::Layout>;
    const KIND: MetricKind = C::KIND;

    fn check(layout: &Self::Layout) -> Result<(), RegistrationError> {
        if E::VALUES.len() != K || layout.pairs.len() != K {
            return Err(RegistrationError::LabelCardinality { expected: K, found: E::VALUES.len() });
        }
        C::check(&layout.inner)
    }

    fn new(layout: &Self::Layout) -> Self {
        Self { cells: core::array::from_fn(|_| C::new(&layout.inner)), _label: core::marker::PhantomData }
    }

    fn reset(&self) {
        self.cells.iter().for_each(C::reset);
    }

    fn encode(&self, layout: &Self::Layout, out: &mut SeriesWriter<'_>) {
        for (cell, pair) in self.cells.iter().zip(&*layout.pairs) {
            out.with_layout_label(pair, |out| cell.encode(&layout.inner, out));
        }
    }

    fn sample_control(layout: &Self::Layout) -> Option<&Arc<SampleControl>> {
        C::sample_control(&layout.inner)
    }
}

impl<E, C: core::fmt::Debug, const K: usize> core::fmt::Debug for ByLabel<E, C, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(&self.cells).finish()
    }
}
