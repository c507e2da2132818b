//! The registry: owns families, refuses duplicates and bad names, and writes scrapes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use crate::cell::{Buckets, Counter, FloatGauge, Gauge, Histogram, SampleControl, Sampling};
use crate::encode::{Encoder, Format, LabelSet, MetricText};
use crate::family::{Export, Family, FamilyInner, Handle, DEFAULT_MAX_SERIES};
use crate::metric::Group;
use crate::model::{MetricInfo, MetricKind, RegistrationError};
use crate::sync::Mutex;

/// No sampled metric has this name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMetric(pub String);

impl core::fmt::Display for UnknownMetric {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "no sampled metric named `{}` in this registry", self.0)
    }
}

impl std::error::Error for UnknownMetric {}

/// Everything needed to register a family: one [`MetricInfo`] per metric of the group, the
/// label names, the group's layout and the cardinality bound.
#[derive(Debug)]
pub struct FamilySpec<G: Group, const N: usize> {
    metrics: Vec<MetricInfo>,
    labels: [String; N],
    layout: G::Layout,
    max_series: usize,
}

impl<G: Group, const N: usize> FamilySpec<G, N> {
    /// A spec with the default cardinality bound ([`DEFAULT_MAX_SERIES`]).
    pub fn new(metrics: Vec<MetricInfo>, labels: [&str; N], layout: G::Layout) -> Self {
        Self { metrics, labels: labels.map(str::to_owned), layout, max_series: DEFAULT_MAX_SERIES }
    }

    /// Bounds the number of label sets; past it, new label sets share one overflow series.
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }
}

/// Object-safe view of a family for the registry.
trait Collect: Send + Sync {
    fn encode(&self, encoder: &mut Encoder<'_>);
    /// `(first metric name, overflow count)` for families that have labels.
    fn overflow(&self) -> Option<(&str, u64)>;
}

impl<G: Group> Collect for FamilyInner<G> {
    fn encode(&self, encoder: &mut Encoder<'_>) {
        FamilyInner::encode(self, encoder);
    }

    fn overflow(&self) -> Option<(&str, u64)> {
        self.has_labels().then(|| (self.first_name(), self.overflowed()))
    }
}

struct State {
    families: Vec<Arc<dyn Collect>>,
    /// Run-time sampling controls by family name.
    sampling: HashMap<String, Arc<SampleControl>>,
    /// Every family and sample name in use, to refuse collisions.
    names: HashSet<String>,
}

/// The name of the registry's own metric counting label sets routed to overflow series.
pub const OVERFLOW_METRIC: &str = "raft_metrics_dropped_label_sets";

/// Owns families and writes scrapes.
///
/// Registration and scraping take the registry lock; recording never does.
pub struct Registry {
    state: Mutex<State>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registry").field("families", &self.state.lock().families.len()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        let names = [OVERFLOW_METRIC, &format!("{OVERFLOW_METRIC}_total")].map(str::to_owned).into();
        Self { state: Mutex::new(State { families: Vec::new(), sampling: HashMap::new(), names }) }
    }

    /// The process-wide default registry.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// Registers a family.
    ///
    /// # Errors
    ///
    /// [`RegistrationError`] for an invalid or duplicate name, a bad label name, a layout that
    /// does not fit the group, or the wrong number of metric infos.
    pub fn register<G: Group, const N: usize>(
        &self,
        spec: FamilySpec<G, N>,
    ) -> Result<Family<G, N>, RegistrationError> {
        if spec.metrics.len() != G::KINDS.len() {
            return Err(RegistrationError::MetricCount { expected: G::KINDS.len(), found: spec.metrics.len() });
        }
        G::check(&spec.layout)?;
        let mut labels = HashSet::new();
        for label in &spec.labels {
            crate::name::check_label_name(label)?;
            if !labels.insert(label.as_str()) {
                return Err(RegistrationError::DuplicateLabel(label.clone()));
            }
        }
        let mut infos = Vec::with_capacity(spec.metrics.len());
        let mut claimed = Vec::new();
        for (info, kind) in spec.metrics.into_iter().zip(G::KINDS) {
            let info = normalize(info, *kind)?;
            claimed.extend(sample_names(info.name(), *kind));
            infos.push((info, *kind));
        }
        let mut state = self.state.lock();
        let mut unique = HashSet::new();
        if let Some(taken) = claimed.iter().find(|name| state.names.contains(*name) || !unique.insert(*name)) {
            return Err(RegistrationError::Duplicate(taken.clone()));
        }
        let texts = infos.iter().map(|(info, kind)| MetricText::new(info, *kind)).collect();
        let label_names = spec.labels.iter().map(|l| l.as_str().into()).collect();
        let inner = Arc::new(FamilyInner::new(texts, label_names, spec.layout, spec.max_series));
        if N == 0 {
            // An unlabelled family has exactly one series: create it now so it exports a zero.
            Family::<G, 0>::new(Arc::clone(&inner)).get(());
        }
        for (metric, (info, _)) in infos.iter().enumerate() {
            if let Some(control) = G::sample_control(&inner.layout, metric) {
                state.sampling.insert(info.name().to_owned(), Arc::clone(control));
            }
        }
        state.names.extend(claimed);
        state.families.push(Arc::clone(&inner) as Arc<dyn Collect>);
        Ok(Family::new(inner))
    }

    /// Also writes `family`, registered in another registry, into this registry's scrapes, as
    /// `export` selects (which then applies to every registry that writes the family). Claims
    /// only the names `export` writes, so a family whose other metrics share names with this
    /// registry's can still show the rest here: the Raft schema's
    /// [`Aggregation::Unhealthy`](crate::raft::Aggregation::Unhealthy) shows the per-partition
    /// gauges beside node-wide counters and histograms of the same names.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::Duplicate`] when a name `export` writes is taken here.
    pub fn attach<G: Group, const N: usize>(
        &self,
        family: &Family<G, N>,
        export: Export<G>,
    ) -> Result<(), RegistrationError> {
        let inner = &family.inner;
        let claimed: Vec<String> = (0..G::KINDS.len())
            .filter(|&metric| export.writes_metric(metric))
            .flat_map(|metric| sample_names(inner.metric_name(metric), G::KINDS[metric]))
            .collect();
        let mut state = self.state.lock();
        if let Some(taken) = claimed.iter().find(|name| state.names.contains(*name)) {
            return Err(RegistrationError::Duplicate(taken.clone()));
        }
        inner.set_export(Some(export));
        state.names.extend(claimed);
        state.families.push(Arc::clone(inner) as Arc<dyn Collect>);
        Ok(())
    }

    /// Registers a single-metric family (or any group of one) from one [`MetricInfo`].
    ///
    /// # Errors
    ///
    /// As [`Registry::register`].
    pub fn register_with<G: Group, const N: usize>(
        &self,
        info: MetricInfo,
        labels: [&str; N],
        layout: G::Layout,
    ) -> Result<Family<G, N>, RegistrationError> {
        self.register(FamilySpec::new(vec![info], labels, layout))
    }

    /// Registers an unlabelled counter and returns its handle.
    ///
    /// # Errors
    ///
    /// As [`Registry::register`].
    pub fn counter(&self, name: &str, help: &str) -> Result<Handle<Counter>, RegistrationError> {
        Ok(self.register_with::<Counter, 0>(MetricInfo::new(name, help), [], ())?.bind(()))
    }

    /// Registers an unlabelled integer gauge and returns its handle.
    ///
    /// # Errors
    ///
    /// As [`Registry::register`].
    pub fn gauge(&self, name: &str, help: &str) -> Result<Handle<Gauge>, RegistrationError> {
        Ok(self.register_with::<Gauge, 0>(MetricInfo::new(name, help), [], ())?.bind(()))
    }

    /// Registers an unlabelled float gauge and returns its handle.
    ///
    /// # Errors
    ///
    /// As [`Registry::register`].
    pub fn float_gauge(&self, name: &str, help: &str) -> Result<Handle<FloatGauge>, RegistrationError> {
        Ok(self.register_with::<FloatGauge, 0>(MetricInfo::new(name, help), [], ())?.bind(()))
    }

    /// Registers a histogram family with `N` bucket bounds and `L` labels.
    ///
    /// # Errors
    ///
    /// As [`Registry::register`]; also when `buckets` does not hold exactly `N` bounds.
    pub fn histogram<const N: usize, const L: usize>(
        &self,
        info: MetricInfo,
        labels: [&str; L],
        buckets: Buckets,
    ) -> Result<Family<Histogram<N>, L>, RegistrationError> {
        self.register_with(info, labels, Arc::new(buckets))
    }

    /// Changes the sampling of the metric family `name` (for counters, the name without `_total`)
    /// at run time; bound handles see it on their next event.
    ///
    /// # Errors
    ///
    /// [`UnknownMetric`] when no sampled metric has that name in this registry.
    pub fn set_sampling(&self, name: &str, sampling: Sampling) -> Result<(), UnknownMetric> {
        let state = self.state.lock();
        let control = state.sampling.get(name).ok_or_else(|| UnknownMetric(name.to_owned()))?;
        control.set(sampling);
        Ok(())
    }

    /// The current sampling of the metric family `name`, if it is sampled.
    pub fn sampling(&self, name: &str) -> Option<Sampling> {
        self.state.lock().sampling.get(name).map(|c| c.get())
    }

    /// Writes every family in `format` into `out` (appending).
    ///
    /// The registry lock is held only to copy the family list; each family then holds its own
    /// lock only to copy its series list. Recording never waits.
    ///
    /// With `Format::Protobuf` (feature `protobuf`) every metric is one length-delimited
    /// `MetricFamily`; a metric without series writes nothing, as in text.
    pub fn encode(&self, format: Format, out: &mut Vec<u8>) {
        let families = self.state.lock().families.clone();
        let mut encoder = Encoder::new(out, format);
        let (mut labelled, mut overflowed) = (false, Vec::new());
        for family in &families {
            family.encode(&mut encoder);
            if let Some((name, count)) = family.overflow() {
                labelled = true;
                if count > 0 {
                    overflowed.push((name.to_owned(), count));
                }
            }
        }
        // Only a labelled family can drop label sets.
        if labelled {
            encode_overflow(&mut encoder, &overflowed);
        }
        encoder.finish();
    }

    /// [`Registry::encode`] into a new `String`.
    pub fn encode_to_string(&self, format: Format) -> String {
        let mut out = Vec::new();
        self.encode(format, &mut out);
        // Every byte written is ASCII or copied from `&str`s.
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The registry's total of dropped label sets, always exported (from zero, so that `increase()`
/// sees its first step), then one series per family that has dropped any.
fn encode_overflow(encoder: &mut Encoder<'_>, overflowed: &[(String, u64)]) {
    let info = MetricInfo::new(
        OVERFLOW_METRIC,
        "Label-set lookups that found their family full (or a label value too long) and were recorded in the family's overflow series: the registry's total (no labels) and, once it drops any, each family's count (label metric).",
    );
    let text = MetricText::new(&info, MetricKind::Counter);
    let total = overflowed.iter().fold(0u64, |sum, (_, count)| sum.wrapping_add(*count));
    encoder.metric(&text);
    encoder.series(&text, &[], &LabelSet::new(&[], [])).counter(total);
    let names: [Box<str>; 1] = ["metric".into()];
    for (name, count) in overflowed {
        let labels = LabelSet::new(&names, [name.as_str()]);
        encoder.series(&text, &names, &labels).counter(*count);
    }
}

/// Validates `info` for `kind` and strips a counter's `_total`.
fn normalize(mut info: MetricInfo, kind: MetricKind) -> Result<MetricInfo, RegistrationError> {
    let invalid = |name: &str, reason| RegistrationError::InvalidMetricName { name: name.to_owned(), reason };
    crate::name::check_metric_name(&info.name)?;
    if kind == MetricKind::Counter {
        if let Some(base) = info.name.strip_suffix("_total") {
            if base.is_empty() {
                return Err(invalid(&info.name, "a counter needs a name before _total"));
            }
            info.name = base.to_owned();
        }
    } else if info.name.ends_with("_total") {
        return Err(invalid(&info.name, "only counters end in _total"));
    }
    if ["_bucket", "_sum", "_count"].iter().any(|s| info.name.ends_with(s)) {
        return Err(invalid(
            &info.name,
            "_bucket, _sum and _count belong to histogram samples; promtool rejects them elsewhere",
        ));
    }
    if info.name.ends_with("_created") {
        return Err(invalid(&info.name, "_created is reserved by OpenMetrics"));
    }
    if let Some(unit) = info.unit {
        if !info.name.ends_with(&format!("_{}", unit.as_str())) {
            return Err(invalid(&info.name, "a metric with a unit must end with _<unit> (say, _seconds)"));
        }
    }
    if info.help.trim().is_empty() {
        return Err(RegistrationError::MissingHelp(info.name));
    }
    Ok(info)
}

fn sample_names(name: &str, kind: MetricKind) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        MetricKind::Counter => &["", "_total", "_created"],
        MetricKind::Gauge => &[""],
        MetricKind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    };
    suffixes.iter().map(|suffix| format!("{name}{suffix}")).collect()
}

/// A registry held either way a program keeps one: a `&'static Registry` (such as
/// [`Registry::global`], the default) or an `Arc<Registry>`. The `/metrics` server scrapes one,
/// the `metrics` facade bridge registers into one.
#[derive(Debug, Clone)]
pub struct RegistryRef(Source);

#[derive(Debug, Clone)]
enum Source {
    Static(&'static Registry),
    Shared(Arc<Registry>),
}

impl RegistryRef {
    /// The registry.
    pub fn get(&self) -> &Registry {
        match &self.0 {
            Source::Static(registry) => registry,
            Source::Shared(registry) => registry,
        }
    }
}

impl Default for RegistryRef {
    /// [`Registry::global`].
    fn default() -> Self {
        Self(Source::Static(Registry::global()))
    }
}

impl From<&'static Registry> for RegistryRef {
    fn from(registry: &'static Registry) -> Self {
        Self(Source::Static(registry))
    }
}

impl From<Arc<Registry>> for RegistryRef {
    fn from(registry: Arc<Registry>) -> Self {
        Self(Source::Shared(registry))
    }
}
