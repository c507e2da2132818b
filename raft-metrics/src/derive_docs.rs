/// Declares a group of metrics sharing one label set, as a struct whose fields are cells.
///
/// ```
/// use raft_metrics::{ByLabel, Counter, Format, Gauge, Histogram, LabelValue, RaftMetrics, Registry, Sampled};
///
/// #[derive(Clone, Copy, LabelValue)]
/// #[label(rename_all = "snake_case")]
/// pub enum RejectReason { StaleTerm, LogInconsistency }
///
/// /// Per-partition Raft metrics.
/// #[derive(RaftMetrics)]
/// #[raft_metrics(namespace = "chronik_raft", labels(topic: &str, partition: u32))]
/// pub struct PartitionMetrics {
///     /// Current Raft term.
///     #[metric(gauge)]
///     pub current_term: Gauge,
///     /// Time from proposal to commit.
///     #[metric(histogram, unit = "seconds", buckets = exponential(0.0005, 2.0, 14))]
///     pub commit_latency: Histogram<14>,
///     /// AppendEntries requests this follower rejected.
///     #[metric(counter, label(reason: RejectReason))]
///     pub append_entries_rejected: ByLabel<RejectReason, Counter, 2>,
///     /// Round trip of outgoing RPCs, sampled one in 16.
///     #[metric(histogram, unit = "seconds", buckets = [0.001, 0.01, 0.1], sample = 16)]
///     pub rpc_round_trip: Sampled<Histogram<3>>,
/// }
///
/// let registry = Registry::new();
/// let partitions = PartitionMetrics::register(&registry)?;
/// let p = partitions.bind(("orders", 7)); // one lookup, then none
/// p.current_term.set(3);
/// p.commit_latency.observe_ms(2.5);
/// p.append_entries_rejected.get(RejectReason::StaleTerm).inc();
/// p.append_entries_rejected.get(RejectReason::LogInconsistency).add(0);
/// let timer = p.rpc_round_trip.start_timer(); // reads the clock only if sampled
/// drop(timer);
///
/// // The single-writer flavour for state one Raft loop owns: no locked instructions.
/// let owned = partitions.claim(("orders", 8))?;
/// let view = owned.fields();
/// view.current_term.set(4);
/// view.commit_latency.observe(0.004);
///
/// let text = registry.encode_to_string(Format::Prometheus);
/// assert!(text.contains(r#"chronik_raft_current_term{topic="orders",partition="7"} 3"#));
/// assert!(text.contains(r#"chronik_raft_append_entries_rejected_total{topic="orders",partition="7",reason="stale_term"} 1"#));
/// assert_eq!(PartitionMetrics::SCHEMA.metrics[1].name, "commit_latency_seconds");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Container attribute `#[raft_metrics(...)]`
///
/// | key | meaning |
/// |---|---|
/// | `namespace = "x"` | prefix of every name (`x_field`); `register_with_namespace` overrides it at run time |
/// | `labels(name: Type, …)` | runtime labels, in `bind` order; types implement [`LabelValue`](trait@crate::LabelValue) (`&str`, integers, enums) |
/// | `max_series = N` | cardinality bound (default [`DEFAULT_MAX_SERIES`](crate::DEFAULT_MAX_SERIES)) |
/// | `crate = path` | where `raft_metrics` is, for re-exports |
///
/// # Field attribute `#[metric(...)]`
///
/// | key | meaning |
/// |---|---|
/// | `counter` / `gauge` / `histogram` | the kind; the field type must store it: `Counter` or `ShardedCounter`; `Gauge` or `FloatGauge`; `Histogram<N>` |
/// | `unit = "seconds"` | base unit (`seconds`, `bytes`, `ratio`); appended to the name |
/// | `buckets = …` | `exponential(start, factor, count)`, `linear(start, width, count)`, `[bounds…]`, or the path of a `const` of type `[f64; N]` or `&[f64]` (see [below](#shared-buckets)); all checked at compile time |
/// | `native` / `native(schema = 3, min_exp = -20, max_exp = 20)` | a native (sparse exponential) histogram; the type is [`NativeHistogram`](crate::NativeHistogram) |
/// | `label(name: Enum)` | one cell per enum value; the type is `ByLabel<Enum, Cell, N>` |
/// | `sample = N` | record one event in N with weight N; the type is `Sampled<Cell>` |
/// | `name = "x"` | the metric name instead of the field name |
/// | `sum_resolution = r` | precision of a histogram's `_sum` |
///
/// The field's `///` doc comment is its HELP text; a field without one does not compile.
/// Counters are exported with `_total`.
///
/// Names are checked at compile time by the rules registration applies
/// ([`is_valid_metric_name`](crate::advanced::is_valid_metric_name), the reserved `__` prefix, base units,
/// reserved label names `le` and `quantile`): a bad namespace, metric name or label name fails to
/// build, with the error at the attribute that wrote it.
///
/// # Shared buckets
///
/// `buckets = PATH` takes a `const` holding the bounds, so several histograms (in one struct or
/// many) share one layout. The macro cannot read a const's value, so the expansion checks it with
/// `const` assertions: its length must equal the field type's `N`, and its bounds must be finite
/// and strictly increasing. A mistake fails to compile at the path, for instance
/// "the bounds in the `buckets` const must increase strictly".
///
/// ```
/// use raft_metrics::{Histogram, RaftMetrics, Registry};
///
/// /// Commit and apply latencies share one layout, in seconds.
/// pub const LATENCY_BUCKETS: [f64; 5] = [0.0005, 0.001, 0.005, 0.025, 0.1];
///
/// /// Per-node latencies.
/// #[derive(RaftMetrics)]
/// #[raft_metrics(namespace = "raft")]
/// pub struct Latencies {
///     /// Time from proposal to commit.
///     #[metric(histogram, unit = "seconds", buckets = LATENCY_BUCKETS)]
///     pub commit_latency: Histogram<5>,
///     /// Time from commit to apply.
///     #[metric(histogram, unit = "seconds", buckets = LATENCY_BUCKETS)]
///     pub apply_latency: Histogram<5>,
/// }
///
/// let registry = Registry::new();
/// let node = Latencies::register(&registry)?;
/// node.get(()).commit_latency.observe(0.002);
/// assert_eq!(Latencies::SCHEMA.metrics[1].buckets, &LATENCY_BUCKETS);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Bounds out of order, or a length other than the type's `N`, do not compile:
///
/// ```compile_fail
/// # use raft_metrics::{Histogram, RaftMetrics};
/// const LATENCY_BUCKETS: &[f64] = &[0.001, 0.1, 0.01];
///
/// #[derive(RaftMetrics)]
/// struct Latencies {
///     /// Time from proposal to commit.
///     #[metric(histogram, unit = "seconds", buckets = LATENCY_BUCKETS)]
///     commit_latency: Histogram<3>,
/// }
/// ```
///
/// # Outputs
///
/// * `impl Group for T`: one allocation per label set holding every field.
/// * `T::SCHEMA`: a `const` [`Schema`](crate::schema::Schema) of names, kinds, HELP, units, labels,
///   buckets and sampling.
/// * `T::register(&registry)`, `T::register_global()`, `T::register_with_namespace(&registry, ns)`
///   returning `TFamily`, whose `bind(labels…)`, `get(labels…)`, `claim(labels…)` and
///   `remove(labels…)` take the declared label types.
/// * `TLocal<'a>`: the single-writer view returned by `Exclusive::view`.
pub use raft_metrics_derive::RaftMetrics;

/// Derives [`EnumLabel`](crate::EnumLabel) for a fieldless enum, so it can index `ByLabel` cells
/// or serve as a runtime label value.
///
/// `#[label(rename_all = "snake_case")]` on the enum (also `lowercase`, `kebab-case`,
/// `SCREAMING_SNAKE_CASE`); `#[label(rename = "x")]` on a variant.
///
/// ```
/// use raft_metrics::{EnumLabel, LabelValue};
///
/// #[derive(Clone, Copy, LabelValue)]
/// #[label(rename_all = "snake_case")]
/// pub enum Method { AppendEntries, #[label(rename = "vote")] RequestVote }
///
/// assert_eq!(Method::VALUES, &["append_entries", "vote"]);
/// assert_eq!(Method::RequestVote.index(), 1);
/// assert_eq!(Method::AppendEntries.index(), 0);
/// ```
pub use raft_metrics_derive::LabelValue;
