//! A series' labels, kept in both shapes a scrape needs: rendered once as `name="escaped",…` text
//! (copied as is into every text line) and as raw values (protobuf label pairs), so that no
//! format has to parse what another rendered.

use super::escape;

/// The labels of one series: the rendered text and the raw values, in one allocation.
///
/// Names are not stored: every series of a family shares the family's label names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSet {
    /// The rendered text followed by each raw value.
    bytes: Box<str>,
    /// Where the text ends, then where each raw value ends, as offsets into `bytes`.
    ends: Box<[usize]>,
}

impl LabelSet {
    /// Renders `values` under `names` (paired in order; extra values are ignored).
    pub(crate) fn new<'v>(names: &[Box<str>], values: impl IntoIterator<Item = &'v str> + Clone) -> Self {
        let mut bytes = String::new();
        for (name, value) in names.iter().zip(values.clone()) {
            if !bytes.is_empty() {
                bytes.push(',');
            }
            write_pair(&mut bytes, name, value);
        }
        let mut ends = Vec::with_capacity(names.len() + 1);
        ends.push(bytes.len());
        for value in values.into_iter().take(names.len()) {
            bytes.push_str(value);
            ends.push(bytes.len());
        }
        Self { bytes: bytes.into(), ends: ends.into() }
    }

    /// The rendered `name="escaped value",…` text.
    pub(crate) fn text(&self) -> &str {
        &self.bytes[..self.ends[0]]
    }

    /// The raw values, in label order.
    #[cfg_attr(not(feature = "protobuf"), allow(dead_code))] // protobuf's label pairs
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        self.ends.windows(2).map(|w| &self.bytes[w[0]..w[1]])
    }

    /// Prefetches the text and the value offsets (see [`crate::prefetch`]): a scrape that reads
    /// the values of thousands of series asks for them a few series ahead.
    pub(crate) fn prefetch(&self) {
        crate::prefetch::value(&*self.bytes);
        crate::prefetch::value(&*self.ends);
    }

    /// The raw value of label `index`, if there is one.
    pub(crate) fn value(&self, index: usize) -> Option<&str> {
        let (&from, &to) = (self.ends.get(index)?, self.ends.get(index + 1)?);
        self.bytes.get(from..to)
    }
}

/// One more label on every sample a metric writes: the pair [`ByLabel`](crate::ByLabel) adds for
/// each value of its enum. Rendered once, at registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPair {
    rendered: Box<str>,
    name: Box<str>,
    value: Box<str>,
}

impl LabelPair {
    /// The pair `name="value"`. The name is not checked here: registration checks it.
    pub fn new(name: &str, value: &str) -> Self {
        let mut rendered = String::new();
        write_pair(&mut rendered, name, value);
        Self { rendered: rendered.into(), name: name.into(), value: value.into() }
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw label value.
    pub fn value(&self) -> &str {
        &self.value
    }

    pub(crate) fn rendered(&self) -> &str {
        &self.rendered
    }
}

/// Appends `name="escaped value"`.
pub(crate) fn write_pair(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    escape::label_value(out, value);
    out.push('"');
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn text_and_values_round_trip() {
        let names: Vec<Box<str>> = vec!["a".into(), "b".into(), "c".into()];
        let set = LabelSet::new(&names, ["", "q\"uo\\te\nnl", "ünï,=\""]);
        assert_eq!(set.text(), r#"a="",b="q\"uo\\te\nnl",c="ünï,=\"""#);
        assert_eq!(set.values().collect::<Vec<_>>(), ["", "q\"uo\\te\nnl", "ünï,=\""]);
        let empty = LabelSet::new(&[], []);
        assert_eq!((empty.text(), empty.values().count()), ("", 0));
    }

    #[test]
    fn a_pair_keeps_its_raw_value() {
        let pair = LabelPair::new("reason", "a\"b");
        assert_eq!((pair.rendered(), pair.name(), pair.value()), (r#"reason="a\"b""#, "reason", "a\"b"));
    }
}
