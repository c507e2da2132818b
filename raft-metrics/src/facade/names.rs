//! Facade names to Prometheus names: what `metrics-exporter-prometheus` does, so that a name
//! exported by either looks the same (`http.requests` becomes `http_requests`).

use std::borrow::Cow;

pub(super) fn strip_total(mut name: &str) -> &str {
    while let Some(base) = name.strip_suffix("_total") {
        name = base;
    }
    name
}

pub(super) fn is_metric_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

pub(super) fn is_label_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || (!first && c.is_ascii_digit())
}

/// Each character of `name` that `valid` refuses replaced by `_` (one `_` per `char`, as
/// `metrics-exporter-prometheus` does); borrowed when nothing changes.
pub(super) fn sanitize(name: &str, valid: fn(char, bool) -> bool) -> Cow<'_, str> {
    if name.chars().enumerate().all(|(i, c)| valid(c, i == 0)) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(sanitized(name, valid).collect())
}

fn sanitized(name: &str, valid: fn(char, bool) -> bool) -> impl Iterator<Item = char> + '_ {
    name.chars().enumerate().map(move |(i, c)| if valid(c, i == 0) { c } else { '_' })
}

/// Whether `raw` sanitizes to `sanitized`, without allocating.
pub(super) fn sanitizes_to(raw: &str, sanitized_name: &str, valid: fn(char, bool) -> bool) -> bool {
    sanitized(raw, valid).eq(sanitized_name.chars())
}
