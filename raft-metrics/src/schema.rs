//! The `const` description of a derived metric group: names, kinds, HELP, units, labels,
//! buckets and sampling, readable by code, docs and tests (a metric reference, dashboard checks).

use crate::model::MetricKind;

/// A metric group as declared with `#[derive(RaftMetrics)]`.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The Rust type name.
    pub type_name: &'static str,
    /// The default namespace (prefix), possibly empty.
    pub namespace: &'static str,
    /// Names of the runtime labels, in `bind` order.
    pub labels: &'static [&'static str],
    /// One entry per metric, in export order.
    pub metrics: &'static [MetricSchema],
}

/// One metric of a [`Schema`].
#[derive(Debug, Clone, Copy)]
pub struct MetricSchema {
    /// The family name without namespace, with its unit suffix (`commit_latency_seconds`).
    pub name: &'static str,
    /// The kind.
    pub kind: MetricKind,
    /// The HELP text (the field's doc comment).
    pub help: &'static str,
    /// The unit (`seconds`, `bytes`, `ratio`).
    pub unit: Option<&'static str>,
    /// A fixed-cardinality label: its name and values.
    pub enum_label: Option<EnumLabelSchema>,
    /// Histogram bucket bounds (empty otherwise).
    pub buckets: &'static [f64],
    /// `Some(n)` when declared `sample = n`.
    pub sample: Option<u32>,
}

/// A fixed-cardinality label of a [`MetricSchema`].
#[derive(Debug, Clone, Copy)]
pub struct EnumLabelSchema {
    /// The label name.
    pub name: &'static str,
    /// Every value, in index order.
    pub values: &'static [&'static str],
}

impl Schema {
    /// The exported family names under `namespace` (counters without `_total`).
    pub fn family_names(&self, namespace: &str) -> Vec<String> {
        self.metrics.iter().map(|m| m.family_name(namespace)).collect()
    }

    /// Every sample name a scrape can contain under `namespace`: `x_total` for counters,
    /// `x_bucket`/`x_sum`/`x_count` for histograms, `x` for gauges.
    pub fn sample_names(&self, namespace: &str) -> Vec<String> {
        self.metrics
            .iter()
            .flat_map(|m| {
                let name = m.family_name(namespace);
                let suffixes: &[&str] = match m.kind {
                    MetricKind::Counter => &["_total"],
                    MetricKind::Gauge => &[""],
                    MetricKind::Histogram => &["_bucket", "_sum", "_count"],
                };
                suffixes.iter().map(move |s| format!("{name}{s}"))
            })
            .collect()
    }
}

impl MetricSchema {
    /// The family name under `namespace`.
    pub fn family_name(&self, namespace: &str) -> String {
        if namespace.is_empty() {
            self.name.to_owned()
        } else {
            format!("{namespace}_{}", self.name)
        }
    }
}
