//! Exposition: byte-exact golden files, strict round trips of hostile label values in both
//! formats, and `promtool check metrics` on a full scrape.
//!
//! Golden files are rewritten only with `UPDATE_GOLDEN=1`; review the diff before committing.

mod common;

use raft_metrics::advanced::parse::parse;
use raft_metrics::advanced::ByLabelLayout;
use raft_metrics::{
    Buckets, ByLabel, Counter, EnumLabel, FloatGauge, Format, Gauge, MetricInfo, Registry, ShardedCounter, Unit,
};

#[derive(Clone, Copy)]
enum Reason {
    StaleTerm,
    LogInconsistency,
}

impl EnumLabel for Reason {
    const VALUES: &'static [&'static str] = &["stale_term", "log_inconsistency"];
    fn index(self) -> usize {
        self as usize
    }
}

const HOSTILE: &[&str] = &["", "plain", "quote\"d", "back\\slash", "new\nline", "\\n", "ünïcødé ✓", "}{,=\"", "\t\r"];

/// A registry holding every metric kind, with hostile label values.
fn full_registry() -> Registry {
    let r = Registry::new();
    let counter = r
        .register_with::<Counter, 2>(
            MetricInfo::new("t_commits_total", "Commits \"quoted\" \\ and\nnewline."),
            ["topic", "partition"],
            (),
        )
        .unwrap();
    let gauge = r.register_with::<Gauge, 1>(MetricInfo::new("t_term", "Term."), ["topic"], ()).unwrap();
    let float = r
        .register_with::<FloatGauge, 1>(
            MetricInfo::new("t_lag_seconds", "Lag.").with_unit(Unit::Seconds),
            ["topic"],
            (),
        )
        .unwrap();
    let histogram = r
        .histogram::<3, 1>(
            MetricInfo::new("t_latency_seconds", "Latency.").with_unit(Unit::Seconds),
            ["topic"],
            Buckets::new(vec![0.001, 0.01, 0.1]).unwrap(),
        )
        .unwrap();
    let by_reason = r
        .register_with::<ByLabel<Reason, Counter, 2>, 1>(
            MetricInfo::new("t_rejected_total", "Rejections."),
            ["topic"],
            ByLabelLayout::new("reason", ()).unwrap(),
        )
        .unwrap();
    let sharded = r.register_with::<ShardedCounter, 0>(MetricInfo::new("t_rpcs_total", "RPCs."), [], ()).unwrap();
    let bytes = r.counter("t_sent_bytes_total", "Bytes.").unwrap();
    for (i, topic) in HOSTILE.iter().enumerate() {
        let i = u32::try_from(i).unwrap();
        counter.get((*topic, i)).add(u64::from(i));
        gauge.get((*topic,)).set(-i64::from(i));
        float.get((*topic,)).set(f64::from(i) / 4.0);
        let h = histogram.bind((*topic,));
        for v in [0.0005, 0.005, 0.05, 0.5, f64::NAN] {
            h.observe(v);
        }
        by_reason.get((*topic,)).get(Reason::StaleTerm).inc();
        by_reason.get((*topic,)).get(Reason::LogInconsistency).add(2);
    }
    float.get(("inf",)).set(f64::INFINITY);
    float.get(("-inf",)).set(f64::NEG_INFINITY);
    float.get(("nan",)).set(f64::NAN);
    sharded.bind(()).add(12);
    bytes.add(u64::MAX);
    r
}

fn check_golden(file: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(expected == actual, "{file} changed; rerun with UPDATE_GOLDEN=1 and review the diff");
}

#[test]
fn golden_prometheus_text() {
    check_golden("full.prom", &full_registry().encode_to_string(Format::Prometheus));
}

#[test]
fn golden_openmetrics_text() {
    check_golden("full.om", &full_registry().encode_to_string(Format::OpenMetrics));
}

#[test]
fn hostile_label_values_round_trip_in_both_formats() {
    let r = full_registry();
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = r.encode_to_string(format);
        let scrape = parse(&text, format).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        for (i, topic) in HOSTILE.iter().enumerate() {
            let partition = i.to_string();
            let labels = [("topic", *topic), ("partition", partition.as_str())];
            assert_eq!(scrape.value("t_commits_total", &labels), Some(i as f64), "{format:?} {topic:?}");
            assert_eq!(scrape.value("t_latency_seconds_count", &[("topic", topic)]), Some(5.0));
            assert_eq!(scrape.value("t_latency_seconds_bucket", &[("topic", topic), ("le", "+Inf")]), Some(5.0));
            assert_eq!(
                scrape.value("t_rejected_total", &[("topic", topic), ("reason", "log_inconsistency")]),
                Some(2.0)
            );
        }
        assert_eq!(scrape.value("t_lag_seconds", &[("topic", "inf")]), Some(f64::INFINITY));
        assert!(scrape.value("t_lag_seconds", &[("topic", "nan")]).unwrap().is_nan());
        assert_eq!(scrape.value("t_sent_bytes_total", &[]), Some(u64::MAX as f64));
        assert_eq!(scrape.value("t_rpcs_total", &[]), Some(12.0));
        let help = scrape.families.iter().find(|f| f.name.starts_with("t_commits")).unwrap().help.clone();
        assert_eq!(help.as_deref(), Some("Commits \"quoted\" \\ and\nnewline."));
    }
}

#[test]
fn openmetrics_shape() {
    let text = full_registry().encode_to_string(Format::OpenMetrics);
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE t_commits counter\n"), "OpenMetrics counter families drop _total");
    assert!(text.contains("# UNIT t_latency_seconds seconds\n"));
    let scrape = parse(&text, Format::OpenMetrics).unwrap();
    assert_eq!(scrape.family("t_latency_seconds").unwrap().unit.as_deref(), Some("seconds"));
}

#[test]
fn the_parser_rejects_what_it_should() {
    let bad = [
        "x 1\n",                                                                          // sample before TYPE
        "# TYPE x gauge\nx{a=\"b\" 1\n",                                                  // unterminated labels
        "# TYPE x gauge\nx{a=\"\\q\"} 1\n",                                               // invalid escape
        "# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",                                         // duplicate label
        "# TYPE x gauge\nx 1\nx 2\n",                                                     // duplicate series
        "# TYPE x gauge\nx one\n",                                                        // bad value
        "# TYPE x gauge\nx 1",                                                            // no final newline
        "# TYPE x gauge\ny 1\n",                                                          // sample outside its family
        "# TYPE x_total counter\nx_total_bucket 1\n",                                     // wrong suffix
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", // not cumulative
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n",                       // +Inf != count
    ];
    for text in bad {
        assert!(parse(text, Format::Prometheus).is_err(), "{text:?}");
    }
    assert!(parse("# TYPE x gauge\nx 1\n", Format::OpenMetrics).is_err(), "no # EOF");
}

#[test]
fn promtool_accepts_a_full_scrape() {
    common::assert_promtool_silent(&full_registry().encode_to_string(Format::Prometheus));
}
