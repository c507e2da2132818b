//! Metric and label name rules, checked once at registration.

use crate::model::RegistrationError;

/// Whether `name` matches the Prometheus metric name grammar `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// `const`, so a name can be checked at compile time: `const _: () = assert!(is_valid_metric_name("x"));`.
pub const fn is_valid_metric_name(name: &str) -> bool {
    matches_grammar(name, true)
}

/// Whether `name` matches the label name grammar `[a-zA-Z_][a-zA-Z0-9_]*`.
pub const fn is_valid_label_name(name: &str) -> bool {
    matches_grammar(name, false)
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, with `:` allowed anywhere when `colon` (metric names).
const fn matches_grammar(name: &str, colon: bool) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = b.is_ascii_alphabetic() || b == b'_' || (colon && b == b':') || (i > 0 && b.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Words that name a unit other than the Prometheus base unit; promtool rejects them. Compared
/// case-insensitively with each `_`-separated word of a name.
const NON_BASE_UNITS: &[&str] = &[
    "ms",
    "msec",
    "millis",
    "milliseconds",
    "us",
    "usec",
    "micros",
    "microseconds",
    "ns",
    "nanoseconds",
    "minutes",
    "hours",
    "days",
    "kb",
    "kib",
    "kilobytes",
    "mb",
    "mib",
    "megabytes",
    "gb",
    "gib",
    "gigabytes",
    "percent",
];

/// Why `name` cannot name a metric, or `None` when it can: the grammar, the reserved `__` prefix
/// and base units. Registration and the derive's compile-time checks both ask this function, so
/// the rules live here only. Suffixes that depend on the kind (`_total`, `_bucket`, …) are checked
/// by whoever knows the kind.
///
/// `const`, so a name can be checked at compile time:
/// `const _: () = assert!(metric_name_error("x").is_none());`.
pub(crate) const fn metric_name_error(name: &str) -> Option<&'static str> {
    if !is_valid_metric_name(name) {
        return Some("metric names and namespaces match [a-zA-Z_:][a-zA-Z0-9_:]*");
    }
    if starts_with_dunder(name) {
        return Some("names starting with __ are reserved for Prometheus");
    }
    if names_non_base_unit(name) {
        return Some(
            "names use base units (_seconds, _bytes), not ms, milliseconds or kilobytes: record \
             seconds or bytes and name the unit (the derive's `unit = \"seconds\"` appends it)",
        );
    }
    None
}

/// Why `name` cannot name a label, or `None` when it can: the grammar and the names Prometheus
/// reserves (`__…`, `le`, `quantile`). `const` for the same reason as [`metric_name_error`].
pub(crate) const fn label_name_error(name: &str) -> Option<&'static str> {
    if !is_valid_label_name(name) {
        return Some("label names match [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if starts_with_dunder(name) {
        return Some("label names starting with __ are reserved for Prometheus");
    }
    if bytes_eq(name.as_bytes(), b"le") || bytes_eq(name.as_bytes(), b"quantile") {
        return Some("`le` and `quantile` are reserved for histogram and summary buckets");
    }
    None
}

pub(crate) fn check_metric_name(name: &str) -> Result<(), RegistrationError> {
    match metric_name_error(name) {
        Some(reason) => Err(RegistrationError::InvalidMetricName { name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

pub(crate) fn check_label_name(name: &str) -> Result<(), RegistrationError> {
    match label_name_error(name) {
        Some(reason) => Err(RegistrationError::InvalidLabelName { name: name.to_owned(), reason }),
        None => Ok(()),
    }
}

const fn starts_with_dunder(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2 && bytes[0] == b'_' && bytes[1] == b'_'
}

/// Whether one `_`-separated word of `name` is in [`NON_BASE_UNITS`], ignoring ASCII case.
const fn names_non_base_unit(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut start = 0;
    while start <= bytes.len() {
        let mut end = start;
        while end < bytes.len() && bytes[end] != b'_' {
            end += 1;
        }
        let mut unit = 0;
        while unit < NON_BASE_UNITS.len() {
            if word_eq_ignore_case(bytes, start, end, NON_BASE_UNITS[unit].as_bytes()) {
                return true;
            }
            unit += 1;
        }
        start = end + 1;
    }
    false
}

/// `bytes[start..end]` equals the lower-case `word`, ignoring ASCII case.
const fn word_eq_ignore_case(bytes: &[u8], start: usize, end: usize, word: &[u8]) -> bool {
    if end - start != word.len() {
        return false;
    }
    let mut i = 0;
    while i < word.len() {
        if bytes[start + i].to_ascii_lowercase() != word[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in ["a", "_a", "a:b", "raft_commit_index", "A9"] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a b", "ä", "a\n"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
        assert!(!is_valid_label_name("a:b"));
        assert!(is_valid_label_name("topic"));
        const _: () = assert!(is_valid_metric_name("checked_at_compile_time"));
    }

    #[test]
    fn reserved_and_non_base_names_are_refused() {
        assert!(check_metric_name("__x").is_err());
        assert!(check_metric_name("raft_commit_latency_ms").is_err());
        assert!(check_metric_name("raft_log_kilobytes").is_err());
        assert!(check_metric_name("raft_commit_latency_seconds").is_ok());
        for bad in ["le", "quantile", "__name__", "a-b", ""] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
        for ok in ["LE", "leader", "reason", "_a"] {
            assert!(check_label_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn unit_words_are_whole_words_in_any_case() {
        for bad in ["lag_ms", "ms", "Lag_MS_x", "a__kb", "size_KiB", "_ms"] {
            assert!(metric_name_error(bad).is_some(), "{bad}");
        }
        for ok in ["msgs_total", "items", "mbox", "a_", "_", "lag_seconds", "s_ms2"] {
            assert!(metric_name_error(ok).is_none(), "{ok}");
        }
        const _: () = assert!(metric_name_error("raft_follower_lag_ms").is_some());
        const _: () = assert!(label_name_error("le").is_some());
    }
}
