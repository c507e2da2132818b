//! Metric and label name rules, checked once at registration.

use crate::model::RegistrationError;

/// Whether `name` matches the Prometheus metric name grammar `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// `const`, so a name can be checked at compile time: `const _: () = assert!(is_valid_metric_name("x"));`.
pub const fn is_valid_metric_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `name` matches the label name grammar `[a-zA-Z_][a-zA-Z0-9_]*`.
pub const fn is_valid_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let ok = b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit());
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Words that name a unit other than the Prometheus base unit; promtool rejects them.
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

pub(crate) fn check_metric_name(name: &str) -> Result<(), RegistrationError> {
    let invalid = |reason: &'static str| RegistrationError::InvalidMetricName { name: name.to_owned(), reason };
    if !is_valid_metric_name(name) {
        return Err(invalid("metric names match [a-zA-Z_:][a-zA-Z0-9_:]*"));
    }
    if name.starts_with("__") {
        return Err(invalid("names starting with __ are reserved for Prometheus"));
    }
    if let Some(word) = name.split('_').find(|word| NON_BASE_UNITS.contains(&word.to_ascii_lowercase().as_str())) {
        let _ = word;
        return Err(invalid("use base units in names: _seconds and _bytes, not milliseconds or kilobytes"));
    }
    Ok(())
}

pub(crate) fn check_label_name(name: &str) -> Result<(), RegistrationError> {
    let invalid = |reason: &'static str| RegistrationError::InvalidLabelName { name: name.to_owned(), reason };
    if !is_valid_label_name(name) {
        return Err(invalid("label names match [a-zA-Z_][a-zA-Z0-9_]*"));
    }
    if name.starts_with("__") {
        return Err(invalid("label names starting with __ are reserved for Prometheus"));
    }
    if name == "le" || name == "quantile" {
        return Err(invalid("`le` and `quantile` are reserved for histogram and summary buckets"));
    }
    Ok(())
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
    }
}
