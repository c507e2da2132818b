//! A [`metrics`] facade recorder: `metrics::counter!`, `gauge!` and `histogram!` calls from any
//! crate land in a [`Registry`], next to the families registered directly (feature `metrics`).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use raft_metrics::facade::Bridge;
//! use raft_metrics::{Format, Registry};
//!
//! let registry = Arc::new(Registry::new());
//! let bridge = Bridge::builder().registry(Arc::clone(&registry)).build();
//! // In a program: `bridge.install()?` once at startup, then the macros anywhere.
//! metrics::with_local_recorder(&bridge, || {
//!     metrics::describe_counter!("http.requests", "HTTP requests served.");
//!     metrics::counter!("http.requests", "method" => "GET").increment(3);
//!     metrics::gauge!("queue_depth").set(7.5);
//!     metrics::histogram!("request_duration_seconds").record(0.004);
//! });
//!
//! let scrape = registry.encode_to_string(Format::Prometheus);
//! assert!(scrape.contains("# HELP http_requests_total HTTP requests served.\n"));
//! assert!(scrape.contains("http_requests_total{method=\"GET\"} 3\n"));
//! assert!(scrape.contains("queue_depth 7.5\n"));
//! assert!(scrape.contains("request_duration_seconds_count 1\n"));
//! ```
//!
//! # From facade keys to families
//!
//! * **Names** are sanitized as `metrics-exporter-prometheus` does: a character outside
//!   `[a-zA-Z0-9_:]` (or a leading digit) becomes `_`, so `http.requests` is exported as
//!   `http_requests`. Label names likewise, over `[a-zA-Z0-9_]`. Label values are kept as given
//!   (the encoder escapes them).
//! * **Counters** are [`Counter`]s exported as `<name>_total`; a facade name that already ends in
//!   `_total` is not doubled. **Gauges** are [`FloatGauge`]s. **Histograms** are
//!   [`Histogram<HISTOGRAM_BUCKETS>`] over [`DEFAULT_BUCKETS`] unless [`Builder::buckets_for`]
//!   gave the name's prefix another layout.
//! * **One family per name.** The first `register_*` call for a name registers its family: its
//!   kind, its label names (in that key's order) and its HELP, taken from an earlier `describe_*`
//!   call or else [`DEFAULT_HELP`] (promtool needs a non-empty HELP). Later keys with the same label
//!   names, in any order, bind series of that family.
//! * **Label arity.** A family's label count is a const generic (`Family<G, N>`) while a facade
//!   key's labels are a run-time list. The bridge registers a `Family<G, N>` with `N` set to the
//!   first key's label count (up to [`MAX_LABELS`], chosen by a `match` on the count) and keeps it
//!   behind an object-safe view that binds `[&str; N]` values from a slice. The arity is checked
//!   once, when a handle is registered; recording never looks at labels again.
//!
//! # What is refused, and never panics
//!
//! A `register_*` call that cannot be served returns the facade's no-op handle (it records
//! nothing), adds one to [`Bridge::rejected`] and to the exported counter
//! `raft_metrics_facade_rejected_total{reason}` ([`REJECTED_METRIC`], registered on the first
//! refusal):
//!
//! | `reason` | when |
//! |---|---|
//! | `registration` | the registry refused the family: a name still invalid after sanitizing (empty, a reserved `__` prefix, a non-base unit word such as `_ms`, `_total` on a gauge or histogram, `_bucket`/`_sum`/`_count` on a histogram), a reserved or duplicate label name (`le`, `quantile`, `__x`), or a family of that name registered outside this bridge |
//! | `labels` | the key's label names differ from those of the name's first registration, or there are more than [`MAX_LABELS`] |
//! | `kind` | this bridge already registered the name as another kind |
//!
//! The macros call `register_*` on every invocation, so the count is of refused calls, not of
//! names. A name whose registration was refused is retried on its next call.
//!
//! # Costs
//!
//! | operation | cost |
//! |---|---|
//! | `Counter::increment` on a returned handle | facade's dynamic call + one relaxed `fetch_add` |
//! | `Gauge::set` / `increment` | one relaxed store / a compare-and-swap loop |
//! | `Histogram::record` | bucket search + one relaxed `fetch_add` |
//! | `register_*` (each macro invocation) | the bridge's lock, a map lookup of the name, label matching, a lock-free series lookup (the family lock when the series is new), one allocation |
//!
//! On a hot path, keep the handle a macro returns instead of invoking the macro each time.
//!
//! # Limitations
//!
//! * HELP and unit are fixed when a name's family is registered: a `describe_*` call after the
//!   first `register_*` of its name is ignored. Describe at startup.
//! * Units: only [`metrics::Unit::Seconds`] and [`metrics::Unit::Bytes`] are kept (as
//!   [`Unit::Seconds`] and [`Unit::Bytes`], visible as OpenMetrics `# UNIT` lines), and only when the
//!   exported name (before `_total`) already ends in `_seconds` or `_bytes`; other units are
//!   ignored rather than producing an invalid registration.
//! * `Counter::absolute(n)` raises the counter to at least `n`: it reads the count and adds the
//!   difference, which is not atomic with concurrent writers, so a racing `increment` or
//!   `absolute` can push the count above `n`. It never lowers the count.
//! * Every histogram has exactly [`HISTOGRAM_BUCKETS`] bucket bounds (a const generic); layouts
//!   given to [`Builder::buckets_for`] must have that many.
//! * The facade's [`Metadata`] (level, target, module path) is ignored.
//! * A bridge knows only the families it registered itself: two bridges on one registry refuse
//!   each other's names (`registration`), and only the first exports its refusals.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use metrics::{Key, KeyName, Metadata, SetRecorderError, SharedString};

mod cells;
mod names;

use self::cells::{CounterCell, GaugeCell, HistogramCell};
use self::names::{is_label_char, is_metric_char, sanitize, sanitizes_to, strip_total};
use crate::advanced::Group;
use crate::sync::Mutex;
use crate::{
    Buckets, BucketsError, Counter, Family, FloatGauge, Handle, Histogram, MetricInfo, Registry, RegistryRef, Unit,
};

/// The number of bucket bounds of every facade histogram (the `+Inf` bucket not counted).
pub const HISTOGRAM_BUCKETS: usize = 20;

/// The default histogram layout: `0.0005 · 2^i` for `i` in `0..20`, that is 0.5 ms to 262 s,
/// suited to durations in seconds.
pub const DEFAULT_BUCKETS: [f64; HISTOGRAM_BUCKETS] = {
    let mut bounds = [0.0; HISTOGRAM_BUCKETS];
    let mut i = 0;
    let mut bound = 0.0005;
    while i < HISTOGRAM_BUCKETS {
        bounds[i] = bound;
        bound *= 2.0;
        i += 1;
    }
    bounds
};

/// The most labels one facade key may carry; a key with more is refused (reason `labels`).
pub const MAX_LABELS: usize = 8;

/// The HELP text of a family whose name was not described before its first registration.
pub const DEFAULT_HELP: &str = "Metric registered through the metrics facade without a description.";

/// The counter family (exported as `raft_metrics_facade_rejected_total`, one series per
/// `reason`) that counts `register_*` calls the bridge answered with a no-op handle.
pub const REJECTED_METRIC: &str = "raft_metrics_facade_rejected";

const REJECTED_HELP: &str =
    "Registrations through the metrics facade that were refused and got a no-op handle, by reason.";

/// Configures a [`Bridge`]: its registry and histogram layouts.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// use raft_metrics::facade::{Bridge, HISTOGRAM_BUCKETS};
/// use raft_metrics::{Buckets, Format, Registry};
///
/// let registry = Arc::new(Registry::new());
/// let bridge = Bridge::builder()
///     .registry(Arc::clone(&registry))
///     // Histograms whose exported name starts with `rpc_` (say `rpc.latency_seconds`).
///     .buckets_for("rpc.", Buckets::linear(0.001, 0.001, HISTOGRAM_BUCKETS)?)?
///     .build();
/// metrics::with_local_recorder(&bridge, || metrics::histogram!("rpc.latency_seconds").record(0.0015));
///
/// let scrape = registry.encode_to_string(Format::Prometheus);
/// assert!(scrape.contains("rpc_latency_seconds_bucket{le=\"0.002\"} 1\n"));
/// # Ok::<(), raft_metrics::BucketsError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    registry: RegistryRef,
    /// Sanitized prefix → layout, longest prefix first; always ends with the `""` default.
    buckets: Vec<(String, Arc<Buckets>)>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder for a bridge into [`Registry::global`] with [`DEFAULT_BUCKETS`].
    pub fn new() -> Self {
        Self { registry: RegistryRef::default(), buckets: vec![(String::new(), default_buckets())] }
    }

    /// Registers into `registry` instead of [`Registry::global`].
    pub fn registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = RegistryRef::from(registry);
        self
    }

    /// Registers into a `'static` registry instead of [`Registry::global`].
    pub fn static_registry(mut self, registry: &'static Registry) -> Self {
        self.registry = RegistryRef::from(registry);
        self
    }

    /// Uses `buckets` for the histograms whose exported name starts with `prefix`.
    ///
    /// The prefix is sanitized like names (`rpc.` matches `rpc.latency`, exported `rpc_latency`);
    /// the longest matching prefix wins, and the prefix `""` replaces [`DEFAULT_BUCKETS`]. Giving a
    /// prefix again replaces its layout.
    ///
    /// # Errors
    ///
    /// [`BucketsError::InvalidParameters`] unless `buckets` has exactly [`HISTOGRAM_BUCKETS`] bounds.
    pub fn buckets_for(mut self, prefix: &str, buckets: Buckets) -> Result<Self, BucketsError> {
        if buckets.bounds().len() != HISTOGRAM_BUCKETS {
            return Err(BucketsError::InvalidParameters(
                "facade histograms have exactly HISTOGRAM_BUCKETS (20) bucket bounds",
            ));
        }
        let prefix = sanitize(prefix, is_metric_char).into_owned();
        let buckets = Arc::new(buckets);
        match self.buckets.iter_mut().find(|(p, _)| *p == prefix) {
            Some(rule) => rule.1 = buckets,
            None => self.buckets.push((prefix, buckets)),
        }
        // Longest first, so the first match is the longest; `""` stays last.
        self.buckets.sort_by_key(|(prefix, _)| core::cmp::Reverse(prefix.len()));
        Ok(self)
    }

    /// The bridge. Nothing is registered until the facade registers a metric.
    pub fn build(self) -> Bridge {
        Bridge {
            inner: Arc::new(Inner {
                registry: self.registry,
                buckets: self.buckets,
                state: Mutex::new(State::default()),
            }),
        }
    }
}

/// The [`metrics::Recorder`] that registers facade metrics as families of a [`Registry`].
///
/// See the [module docs](self) for how keys map to families and what is refused. Clones share
/// everything: install one clone and keep another to read [`Bridge::rejected`].
///
/// # Examples
///
/// ```
/// use raft_metrics::facade::Bridge;
/// use raft_metrics::{Format, Registry};
///
/// // Once, at startup: the facade's macros now record into `Registry::global()`.
/// let bridge = Bridge::new();
/// bridge.clone().install().expect("no other metrics recorder is installed");
///
/// metrics::counter!("raft.elections", "outcome" => "won").increment(1);
/// let scrape = Registry::global().encode_to_string(Format::Prometheus);
/// assert!(scrape.contains("raft_elections_total{outcome=\"won\"} 1\n"));
/// assert_eq!(bridge.rejected(), 0);
/// ```
#[derive(Clone)]
#[must_use = "a bridge records nothing until it is installed or used as a local recorder"]
pub struct Bridge {
    inner: Arc<Inner>,
}

impl Default for Bridge {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = self.inner.state.lock();
        f.debug_struct("Bridge")
            .field("registry", self.inner.registry.get())
            .field("families", &state.entries.len())
            .field("rejected", &state.rejected)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// A bridge into [`Registry::global`] with [`DEFAULT_BUCKETS`].
    pub fn new() -> Self {
        Builder::new().build()
    }

    /// A [`Builder`] to choose the registry and histogram layouts.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Sets this bridge as the process-wide recorder of the `metrics` facade.
    ///
    /// # Errors
    ///
    /// When a recorder is already installed (the facade allows one per process); the error hands
    /// the bridge back ([`SetRecorderError::into_inner`]).
    pub fn install(self) -> Result<(), SetRecorderError<Self>> {
        metrics::set_global_recorder(self)
    }

    /// The registry this bridge registers into.
    pub fn registry(&self) -> &Registry {
        self.inner.registry.get()
    }

    /// How many `register_*` calls were refused and got a no-op handle (see the
    /// [module docs](self#what-is-refused-and-never-panics)).
    pub fn rejected(&self) -> u64 {
        self.inner.state.lock().rejected
    }
}

impl metrics::Recorder for Bridge {
    fn describe_counter(&self, key: KeyName, unit: Option<metrics::Unit>, description: SharedString) {
        self.inner.describe::<Counter>(key.as_str(), unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<metrics::Unit>, description: SharedString) {
        self.inner.describe::<FloatGauge>(key.as_str(), unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<metrics::Unit>, description: SharedString) {
        self.inner.describe::<Histogram<HISTOGRAM_BUCKETS>>(key.as_str(), unit, &description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> metrics::Counter {
        match self.inner.register::<Counter>(key) {
            Some(handle) => metrics::Counter::from_arc(Arc::new(CounterCell(handle))),
            None => metrics::Counter::noop(),
        }
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> metrics::Gauge {
        match self.inner.register::<FloatGauge>(key) {
            Some(handle) => metrics::Gauge::from_arc(Arc::new(GaugeCell(handle))),
            None => metrics::Gauge::noop(),
        }
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> metrics::Histogram {
        match self.inner.register::<Histogram<HISTOGRAM_BUCKETS>>(key) {
            Some(handle) => metrics::Histogram::from_arc(Arc::new(HistogramCell(handle))),
            None => metrics::Histogram::noop(),
        }
    }
}

struct Inner {
    registry: RegistryRef,
    /// As in [`Builder`]: longest prefix first, `""` last.
    buckets: Vec<(String, Arc<Buckets>)>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Canonical name (sanitized; counters without `_total`) → its family.
    entries: HashMap<String, Entry>,
    /// Canonical name → the last `describe_*` given for it.
    descriptions: HashMap<String, Description>,
    rejected: u64,
    /// Registered on the first refusal; `None` after that only if the registry refused it.
    rejected_family: Option<Family<Counter, 1>>,
    rejected_family_tried: bool,
}

struct Description {
    help: String,
    unit: Option<metrics::Unit>,
}

/// Why a `register_*` call got a no-op handle: the `reason` label of [`REJECTED_METRIC`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Registration,
    Labels,
    Kind,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Labels => "labels",
            Self::Kind => "kind",
        }
    }
}

/// One facade name's family, of whichever kind registered it first.
enum Entry {
    Counter(Slot<Counter>),
    Gauge(Slot<FloatGauge>),
    Histogram(Slot<Histogram<HISTOGRAM_BUCKETS>>),
}

/// A family with its (sanitized) label names in family order.
struct Slot<G: Group> {
    labels: Box<[String]>,
    family: Box<dyn Bind<G>>,
}

/// A `Family<G, N>` of any arity `N`, binding label values given as a slice.
trait Bind<G: Group>: Send + Sync {
    /// The handle for `values` (in family order); `None` when their count is not `N`.
    fn bind(&self, values: &[&str]) -> Option<Handle<G>>;
}

impl<G: Group, const N: usize> Bind<G> for Family<G, N> {
    fn bind(&self, values: &[&str]) -> Option<Handle<G>> {
        let values: [&str; N] = values.try_into().ok()?;
        Some(Family::bind(self, values))
    }
}

impl<G: Group> Slot<G> {
    /// The handle for `key`'s label values, which must carry exactly this family's label names
    /// (in any order).
    fn bind(&self, key: &Key) -> Option<Handle<G>> {
        if key.labels().len() != self.labels.len() {
            return None;
        }
        let mut values = [""; MAX_LABELS];
        // Each family name matches a distinct key label (family names are distinct), and the
        // counts are equal, so every key label is used exactly once.
        for (value, name) in values.iter_mut().zip(&*self.labels) {
            *value = key.labels().find(|label| sanitizes_to(label.key(), name, is_label_char))?.value();
        }
        self.family.bind(values.get(..self.labels.len())?)
    }
}

/// What differs between counters, gauges and histograms on registration.
trait Kind: Group {
    /// The name this kind's family is keyed by: sanitized, and for counters without `_total`.
    fn canonical(name: &str) -> Cow<'_, str> {
        sanitize(name, is_metric_char)
    }
    fn slot(entry: &Entry) -> Option<&Slot<Self>>;
    fn entry(slot: Slot<Self>) -> Entry;
    fn layout(inner: &Inner, name: &str) -> Self::Layout;
}

impl Kind for Counter {
    fn canonical(name: &str) -> Cow<'_, str> {
        match sanitize(name, is_metric_char) {
            Cow::Borrowed(name) => Cow::Borrowed(strip_total(name)),
            Cow::Owned(name) => Cow::Owned(strip_total(&name).to_owned()),
        }
    }

    fn slot(entry: &Entry) -> Option<&Slot<Self>> {
        match entry {
            Entry::Counter(slot) => Some(slot),
            _ => None,
        }
    }

    fn entry(slot: Slot<Self>) -> Entry {
        Entry::Counter(slot)
    }

    fn layout(_inner: &Inner, _name: &str) {}
}

impl Kind for FloatGauge {
    fn slot(entry: &Entry) -> Option<&Slot<Self>> {
        match entry {
            Entry::Gauge(slot) => Some(slot),
            _ => None,
        }
    }

    fn entry(slot: Slot<Self>) -> Entry {
        Entry::Gauge(slot)
    }

    fn layout(_inner: &Inner, _name: &str) {}
}

impl Kind for Histogram<HISTOGRAM_BUCKETS> {
    fn slot(entry: &Entry) -> Option<&Slot<Self>> {
        match entry {
            Entry::Histogram(slot) => Some(slot),
            _ => None,
        }
    }

    fn entry(slot: Slot<Self>) -> Entry {
        Entry::Histogram(slot)
    }

    fn layout(inner: &Inner, name: &str) -> Arc<Buckets> {
        let rule = inner.buckets.iter().find(|(prefix, _)| name.starts_with(prefix.as_str()));
        // The `""` rule matches every name, so the fallback is never taken.
        rule.map_or_else(default_buckets, |(_, buckets)| Arc::clone(buckets))
    }
}

impl Inner {
    fn describe<K: Kind>(&self, name: &str, unit: Option<metrics::Unit>, help: &str) {
        let name = K::canonical(name).into_owned();
        self.state.lock().descriptions.insert(name, Description { help: help.to_owned(), unit });
    }

    /// The handle for `key`, registering its family on the name's first use; `None` (counted)
    /// when refused.
    fn register<K: Kind>(&self, key: &Key) -> Option<Handle<K>> {
        let name = K::canonical(key.name());
        // Lock order: this lock, then the registry's or a family's (registration, new series).
        // Neither of those ever waits for this one, and recording takes none of them.
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let bound = match state.entries.get(&*name) {
            Some(entry) => match K::slot(entry) {
                Some(slot) => slot.bind(key).ok_or(Reason::Labels),
                None => Err(Reason::Kind),
            },
            None => self.create::<K>(state, &name, key),
        };
        match bound {
            Ok(handle) => Some(handle),
            Err(reason) => {
                state.reject(self.registry.get(), reason);
                None
            }
        }
    }

    fn create<K: Kind>(&self, state: &mut State, name: &str, key: &Key) -> Result<Handle<K>, Reason> {
        let labels: Box<[String]> = key.labels().map(|l| sanitize(l.key(), is_label_char).into_owned()).collect();
        let info = match state.descriptions.get(name) {
            Some(description) => description.info(name),
            None => MetricInfo::new(name, DEFAULT_HELP),
        };
        let family = register_family::<K>(self.registry.get(), info, &labels, K::layout(self, name))?;
        let slot = Slot { labels, family };
        let handle = slot.bind(key).ok_or(Reason::Labels)?;
        state.entries.insert(name.to_owned(), K::entry(slot));
        Ok(handle)
    }
}

impl State {
    fn reject(&mut self, registry: &Registry, reason: Reason) {
        self.rejected += 1;
        if !self.rejected_family_tried {
            self.rejected_family_tried = true;
            let info = MetricInfo::new(REJECTED_METRIC, REJECTED_HELP);
            self.rejected_family = registry.register_with::<Counter, 1>(info, ["reason"], ()).ok();
        }
        if let Some(family) = &self.rejected_family {
            family.get([reason.as_str()]).inc();
        }
    }
}

impl Description {
    fn info(&self, name: &str) -> MetricInfo {
        let help = if self.help.trim().is_empty() { DEFAULT_HELP } else { &self.help };
        let info = MetricInfo::new(name, help);
        match self.unit.and_then(|unit| unit_for(unit, name)) {
            Some(unit) => info.with_unit(unit),
            None => info,
        }
    }
}

/// The registry unit for a facade unit, when `name` (a canonical name) already ends in it.
fn unit_for(unit: metrics::Unit, name: &str) -> Option<Unit> {
    let unit = match unit {
        metrics::Unit::Seconds => Unit::Seconds,
        metrics::Unit::Bytes => Unit::Bytes,
        _ => return None,
    };
    let base = name.strip_suffix(unit.as_str())?;
    base.ends_with('_').then_some(unit)
}

/// Registers a `Family<G, N>` with `N = labels.len()`, behind the arity-erased [`Bind`] view.
fn register_family<G: Group>(
    registry: &Registry,
    info: MetricInfo,
    labels: &[String],
    layout: G::Layout,
) -> Result<Box<dyn Bind<G>>, Reason> {
    fn with<G: Group, const N: usize>(
        registry: &Registry,
        info: MetricInfo,
        labels: &[String],
        layout: G::Layout,
    ) -> Result<Box<dyn Bind<G>>, Reason> {
        let names: [&str; N] = core::array::from_fn(|i| labels.get(i).map_or("", String::as_str));
        match registry.register_with::<G, N>(info, names, layout) {
            Ok(family) => Ok(Box::new(family)),
            Err(_) => Err(Reason::Registration),
        }
    }
    // Keep the arms in step with `MAX_LABELS`.
    match labels.len() {
        0 => with::<G, 0>(registry, info, labels, layout),
        1 => with::<G, 1>(registry, info, labels, layout),
        2 => with::<G, 2>(registry, info, labels, layout),
        3 => with::<G, 3>(registry, info, labels, layout),
        4 => with::<G, 4>(registry, info, labels, layout),
        5 => with::<G, 5>(registry, info, labels, layout),
        6 => with::<G, 6>(registry, info, labels, layout),
        7 => with::<G, 7>(registry, info, labels, layout),
        8 => with::<G, 8>(registry, info, labels, layout),
        _ => Err(Reason::Labels),
    }
}

fn default_buckets() -> Arc<Buckets> {
    // The bounds are finite and increasing, so `Buckets::new` cannot refuse them.
    Arc::new(Buckets::new(DEFAULT_BUCKETS.to_vec()).expect("the default buckets are valid"))
}

/// Strips every trailing `_total`: the registry adds one back. A name that was only `_total`s
/// becomes empty, which the registry refuses.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sanitizing_known_cases() {
        let cases = [
            ("foo_bar", "foo_bar"),
            ("foo.bar-baz", "foo_bar_baz"),
            ("1foo", "_foo"),
            ("a:b", "a:b"),
            ("*", "_"),
            ("ünï", "_n_"),
            ("", ""),
        ];
        for (raw, expected) in cases {
            assert_eq!(sanitize(raw, is_metric_char), expected, "{raw:?}");
            assert!(sanitizes_to(raw, expected, is_metric_char), "{raw:?}");
        }
        assert!(matches!(sanitize("already_fine", is_metric_char), Cow::Borrowed(_)));
        assert_eq!(sanitize("a:b", is_label_char), "a_b");
        assert!(!sanitizes_to("ab", "a", is_label_char));
    }

    #[test]
    fn counter_names_lose_every_total() {
        assert_eq!(Counter::canonical("requests"), "requests");
        assert_eq!(Counter::canonical("requests_total"), "requests");
        assert_eq!(Counter::canonical("requests.total_total"), "requests");
        assert_eq!(Counter::canonical("_total"), "");
        assert_eq!(FloatGauge::canonical("x.total"), "x_total");
    }

    #[test]
    fn units_are_kept_only_on_names_that_end_in_them() {
        assert_eq!(unit_for(metrics::Unit::Seconds, "rpc_latency_seconds"), Some(Unit::Seconds));
        assert_eq!(unit_for(metrics::Unit::Bytes, "sent_bytes"), Some(Unit::Bytes));
        assert_eq!(unit_for(metrics::Unit::Seconds, "rpc_latency"), None);
        assert_eq!(unit_for(metrics::Unit::Seconds, "seconds"), None);
        assert_eq!(unit_for(metrics::Unit::Milliseconds, "rpc_latency_milliseconds"), None);
    }

    #[test]
    fn default_buckets_double_from_half_a_millisecond() {
        let buckets = default_buckets();
        assert_eq!(buckets.bounds().len(), HISTOGRAM_BUCKETS);
        assert!((buckets.bounds()[0] - 0.0005).abs() < f64::EPSILON);
        assert!((buckets.bounds()[HISTOGRAM_BUCKETS - 1] - 262.144).abs() < 1e-9);
    }

    #[test]
    fn the_arity_dispatch_covers_max_labels() {
        let registry = Registry::new();
        let names: Vec<String> = (0..=MAX_LABELS).map(|i| format!("l{i}")).collect();
        for n in 0..=MAX_LABELS {
            let info = MetricInfo::new(format!("m{n}"), "Help.");
            let family = register_family::<Counter>(&registry, info, &names[..n], ()).ok().unwrap();
            let values = vec!["v"; n + 1];
            assert!(family.bind(&values[..n]).is_some(), "{n}");
            assert!(family.bind(&values).is_none(), "{n}");
        }
        let info = MetricInfo::new("too_many", "Help.");
        let refused = register_family::<Counter>(&registry, info, &names, ());
        assert!(matches!(refused, Err(Reason::Labels)));
    }
}
