//! The vocabulary every other module shares: what kind a metric is, its name, HELP and unit, and
//! why registration can fail. A leaf: it imports nothing from the crate, so storage (`cell`),
//! exposition (`encode`), families and the registry can all use it without importing each other.

/// The Prometheus type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic count, exported with a `_total` suffix.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Bucketed distribution with `_bucket`, `_sum` and `_count` samples.
    Histogram,
}

impl MetricKind {
    /// The word used on `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// A Prometheus base unit. A metric with a unit must end its name with `_<unit>`; OpenMetrics
/// exposition adds a `# UNIT` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// Durations.
    Seconds,
    /// Sizes.
    Bytes,
    /// Dimensionless fractions (0–1).
    Ratio,
}

impl Unit {
    /// The unit as it appears in names and `# UNIT` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "seconds",
            Self::Bytes => "bytes",
            Self::Ratio => "ratio",
        }
    }
}

/// Name, HELP text and unit of one metric, as given at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricInfo {
    // Crate-visible: registration normalizes the name (a counter loses `_total`).
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: Option<Unit>,
}

impl MetricInfo {
    /// A metric called `name` (counters may include or omit `_total`) described by `help`.
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Self {
        Self { name: name.into(), help: help.into(), unit: None }
    }

    /// Declares the unit; the name must end with `_<unit>` (before `_total` for counters).
    #[must_use]
    pub fn with_unit(mut self, unit: Unit) -> Self {
        self.unit = Some(unit);
        self
    }

    /// The family name (counters: without `_total`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HELP text.
    pub fn help(&self) -> &str {
        &self.help
    }

    /// The declared unit.
    pub fn unit(&self) -> Option<Unit> {
        self.unit
    }
}

/// Why a family could not be registered. Registration never panics.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The metric name breaks the grammar or a convention.
    InvalidMetricName {
        /// The offending name.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// A label name breaks the grammar or is reserved.
    InvalidLabelName {
        /// The offending name.
        name: String,
        /// What rule it breaks.
        reason: &'static str,
    },
    /// The same label name appears twice in one family.
    DuplicateLabel(String),
    /// A metric (or one of its `_total`/`_bucket`/`_sum`/`_count` samples) is already registered.
    Duplicate(String),
    /// The HELP text is empty; promtool rejects metrics without it.
    MissingHelp(String),
    /// Bad histogram buckets.
    InvalidBuckets(BucketsError),
    /// A group got the wrong number of [`MetricInfo`]s.
    MetricCount {
        /// What the group declares.
        expected: usize,
        /// What was given.
        found: usize,
    },
    /// Sampling applies to counters and histograms; a gauge's last value cannot be weighted.
    SampledGauge,
    /// An enum label's value count does not match its array size.
    LabelCardinality {
        /// The array size.
        expected: usize,
        /// The enum's value count.
        found: usize,
    },
}

impl core::fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::InvalidMetricName { name, reason } => {
                write!(f, "invalid metric name `{name}`: {reason}")
            }
            Self::InvalidLabelName { name, reason } => {
                write!(f, "invalid label name `{name}`: {reason}")
            }
            Self::DuplicateLabel(name) => write!(f, "label `{name}` appears twice in one family"),
            Self::Duplicate(name) => write!(f, "metric `{name}` is already registered"),
            Self::MissingHelp(name) => write!(f, "metric `{name}` needs a non-empty HELP text"),
            Self::InvalidBuckets(e) => write!(f, "invalid histogram buckets: {e}"),
            Self::MetricCount { expected, found } => {
                write!(f, "the group exports {expected} metrics but {found} names were given")
            }
            Self::SampledGauge => f.write_str("sampling applies to counters and histograms, not gauges"),
            Self::LabelCardinality { expected, found } => {
                write!(f, "the enum label has {found} values but its array holds {expected}")
            }
        }
    }
}

impl std::error::Error for RegistrationError {}

impl From<BucketsError> for RegistrationError {
    fn from(e: BucketsError) -> Self {
        Self::InvalidBuckets(e)
    }
}

/// Why a set of bucket bounds was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BucketsError {
    /// No bounds were given.
    Empty,
    /// A bound is NaN or infinite (the `+Inf` bucket is implicit).
    NotFinite {
        /// Position of the bound.
        index: usize,
    },
    /// A bound is not greater than the one before it.
    NotIncreasing {
        /// Position of the bound.
        index: usize,
    },
    /// A helper's parameters cannot produce valid bounds.
    InvalidParameters(&'static str),
}

impl core::fmt::Display for BucketsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Empty => f.write_str("a histogram needs at least one bucket bound"),
            Self::NotFinite { index } => {
                write!(f, "bucket bound {index} is not finite; the +Inf bucket is implicit")
            }
            Self::NotIncreasing { index } => {
                write!(f, "bucket bound {index} is not greater than the bound before it")
            }
            Self::InvalidParameters(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for BucketsError {}
