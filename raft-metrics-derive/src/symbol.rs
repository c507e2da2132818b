//! Attribute keywords, compared as `meta.path == BUCKETS`.

use core::fmt;

use syn::{Ident, Path};

#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

pub(crate) const RAFT_METRICS: Symbol = Symbol("raft_metrics");
pub(crate) const METRIC: Symbol = Symbol("metric");
pub(crate) const LABEL: Symbol = Symbol("label");
pub(crate) const LABELS: Symbol = Symbol("labels");
pub(crate) const NAMESPACE: Symbol = Symbol("namespace");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const MAX_SERIES: Symbol = Symbol("max_series");
pub(crate) const KIND: Symbol = Symbol("kind");
pub(crate) const COUNTER: Symbol = Symbol("counter");
pub(crate) const GAUGE: Symbol = Symbol("gauge");
pub(crate) const HISTOGRAM: Symbol = Symbol("histogram");
pub(crate) const UNIT: Symbol = Symbol("unit");
pub(crate) const BUCKETS: Symbol = Symbol("buckets");
pub(crate) const SAMPLE: Symbol = Symbol("sample");
pub(crate) const NATIVE: Symbol = Symbol("native");
pub(crate) const SCHEMA: Symbol = Symbol("schema");
pub(crate) const MIN_EXP: Symbol = Symbol("min_exp");
pub(crate) const MAX_EXP: Symbol = Symbol("max_exp");
pub(crate) const NAME: Symbol = Symbol("name");
pub(crate) const SUM_RESOLUTION: Symbol = Symbol("sum_resolution");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
