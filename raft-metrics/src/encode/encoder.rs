//! One scrape being written: the output, its format and, for protobuf, the `MetricFamily` whose
//! length prefix is still to be inserted.

use super::{Format, LabelSet, MetricText, SeriesWriter};

/// Writes one scrape, metric after metric, in one [`Format`].
///
/// A metric starts with [`Encoder::metric`] (its header: `# HELP`/`# TYPE` lines, or the
/// pre-encoded protobuf `MetricFamily` fields) and takes its series through
/// [`Encoder::series`]. Protobuf repeats a field by concatenation, so a family's bytes form one
/// valid `MetricFamily` at every point; its varint length is inserted in front when the next metric
/// starts or the scrape [finishes](Encoder::finish).
#[derive(Debug)]
pub(crate) struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    format: Format,
    /// Protobuf: where the open `MetricFamily` starts.
    #[cfg(feature = "protobuf")]
    open: Option<usize>,
}

impl<'a> Encoder<'a> {
    /// A scrape in `format`, appended to `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>, format: Format) -> Self {
        Self {
            out,
            format,
            #[cfg(feature = "protobuf")]
            open: None,
        }
    }

    /// Starts the metric `text`.
    pub(crate) fn metric(&mut self, text: &MetricText) {
        self.close();
        #[cfg(feature = "protobuf")]
        if self.format == Format::Protobuf {
            self.open = Some(self.out.len());
        }
        self.out.extend_from_slice(text.header(self.format));
    }

    /// A writer for one series of the metric started last: `labels` under `names`.
    #[inline]
    pub(crate) fn series<'s>(
        &'s mut self,
        text: &'s MetricText,
        names: &'s [Box<str>],
        labels: &'s LabelSet,
    ) -> SeriesWriter<'s> {
        SeriesWriter::new(self.out, self.format, text, names, labels)
    }

    /// Ends the scrape: the last family's length, and OpenMetrics' `# EOF`.
    pub(crate) fn finish(mut self) {
        self.close();
        if self.format == Format::OpenMetrics {
            self.out.extend_from_slice(b"# EOF\n");
        }
    }

    /// Inserts the open protobuf family's length before it.
    fn close(&mut self) {
        #[cfg(feature = "protobuf")]
        if let Some(start) = self.open.take() {
            super::proto::prefix_length(self.out, start);
        }
    }
}
