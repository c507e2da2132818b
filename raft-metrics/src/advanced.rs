//! Building blocks below the everyday API.
//!
//! The crate root has what recording, registering and serving need. This module has what you
//! reach for when you go further:
//!
//! * your own storage: implement [`Metric`] for a cell or [`Group`] for a set of cells sharing
//!   a label set, writing samples through [`SeriesWriter`];
//! * the pieces of a family's lookup: [`LabelValues`], [`Fingerprint`], [`KeyBuilder`];
//! * snapshots of cells ([`HistogramSnapshot`], [`NativeSnapshot`]) and sampling controls;
//! * what a scrape writes of a family ([`Export`], [`Shown`]: selected metrics of the series a
//!   filter keeps, or sums folded at scrape time; `Family::set_export`, `Registry::attach`);
//! * a strict parser of the exposition formats, for tests that assert on a scrape ([`parse`]).

pub use crate::cell::{
    AddCell, HistogramSnapshot, Metric, NativeSnapshot, RandomSampler, SampleControl, SampledLayout, Sampler,
};
pub use crate::encode::{parse, unescape_label_value, LabelPair, SeriesWriter};
pub use crate::family::{Export, Scrape, Shown};
pub use crate::label::{Fingerprint, KeyBuilder, LabelValues};
pub use crate::metric::{ByLabelLayout, Group, LocalFields};
pub use crate::model::MetricKind;
pub use crate::name::{is_valid_label_name, is_valid_metric_name};
