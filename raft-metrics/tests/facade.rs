//! The `metrics` facade bridge: macros from the facade land in a registry's scrape, which parses
//! strictly and passes promtool; nothing a facade user writes makes it panic.
#![cfg(feature = "metrics")]

mod common;

use std::sync::Arc;

use raft_metrics::advanced::parse::{parse, Scrape};
use raft_metrics::facade::{Bridge, DEFAULT_HELP, HISTOGRAM_BUCKETS, MAX_LABELS, REJECTED_METRIC};
use raft_metrics::{Buckets, Format, Registry};

fn bridge() -> (Arc<Registry>, Bridge) {
    let registry = Arc::new(Registry::new());
    let bridge = Bridge::builder().registry(Arc::clone(&registry)).build();
    (registry, bridge)
}

/// Both formats parse strictly; returns the Prometheus one.
fn scrape(registry: &Registry) -> Scrape {
    let om = registry.encode_to_string(Format::OpenMetrics);
    parse(&om, Format::OpenMetrics).unwrap_or_else(|e| panic!("OpenMetrics: {e}\n{om}"));
    let text = registry.encode_to_string(Format::Prometheus);
    parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("Prometheus: {e}\n{text}"))
}

fn rejected(scrape: &Scrape, reason: &str) -> Option<f64> {
    scrape.value(&format!("{REJECTED_METRIC}_total"), &[("reason", reason)])
}

#[test]
fn counters_gauges_and_histograms_land_in_the_scrape() {
    let (registry, bridge) = bridge();
    metrics::with_local_recorder(&bridge, || {
        metrics::counter!("requests").increment(2);
        metrics::counter!("requests").increment(3);
        metrics::counter!("sent_total").increment(1);
        metrics::gauge!("queue_depth").set(4.0);
        metrics::gauge!("queue_depth").increment(1.5);
        metrics::gauge!("queue_depth").decrement(0.5);
        let latency = metrics::histogram!("latency_seconds");
        latency.record(0.0007);
        latency.record(0.3);
        latency.record(1000.0);
        metrics::histogram!("latency_seconds").record_many(0.002, 4);
    });
    let s = scrape(&registry);
    assert_eq!(s.value("requests_total", &[]), Some(5.0));
    assert_eq!(s.value("sent_total", &[]), Some(1.0), "`_total` is not doubled");
    assert_eq!(s.value("queue_depth", &[]), Some(5.0));
    assert_eq!(s.family("queue_depth").unwrap().kind, "gauge");
    assert_eq!(s.value("latency_seconds_count", &[]), Some(7.0));
    assert_eq!(s.value("latency_seconds_bucket", &[("le", "0.001")]), Some(1.0));
    assert_eq!(s.value("latency_seconds_bucket", &[("le", "0.002")]), Some(5.0));
    assert_eq!(s.value("latency_seconds_bucket", &[("le", "262.144")]), Some(6.0));
    assert_eq!(s.value("latency_seconds_bucket", &[("le", "+Inf")]), Some(7.0));
    let sum = s.value("latency_seconds_sum", &[]).unwrap();
    assert!((sum - 1000.3087).abs() < 1e-6, "{sum}");
    let buckets = s.lines().filter(|x| x.name == "latency_seconds_bucket").count();
    assert_eq!(buckets, HISTOGRAM_BUCKETS + 1);
    assert_eq!(bridge.rejected(), 0);
    assert!(s.family(&format!("{REJECTED_METRIC}_total")).is_none(), "registered on the first refusal only");
}

#[test]
fn describe_gives_help_and_unit_when_it_comes_first() {
    let (registry, bridge) = bridge();
    metrics::with_local_recorder(&bridge, || {
        metrics::describe_counter!("raft.commits", "Entries \"committed\" \\ by\nthis node.");
        metrics::describe_histogram!("rpc.latency_seconds", metrics::Unit::Seconds, "RPC round trip.");
        metrics::describe_gauge!("log_size", metrics::Unit::Bytes, "Log size; the name lacks _bytes.");
        metrics::describe_gauge!("blank", "   ");
        metrics::counter!("raft.commits").increment(1);
        metrics::histogram!("rpc.latency_seconds").record(0.01);
        metrics::gauge!("log_size").set(1.0);
        metrics::gauge!("blank").set(1.0);
        metrics::gauge!("undescribed").set(1.0);
        metrics::describe_gauge!("undescribed", "Too late: the family exists.");
    });
    let s = scrape(&registry);
    let help = |name: &str| s.family(name).unwrap().help.clone().unwrap();
    assert_eq!(help("raft_commits_total"), "Entries \"committed\" \\ by\nthis node.");
    assert_eq!(help("rpc_latency_seconds"), "RPC round trip.");
    assert_eq!(help("log_size"), "Log size; the name lacks _bytes.");
    assert_eq!(help("blank"), DEFAULT_HELP);
    assert_eq!(help("undescribed"), DEFAULT_HELP);
    let om = parse(&registry.encode_to_string(Format::OpenMetrics), Format::OpenMetrics).unwrap();
    assert_eq!(om.family("rpc_latency_seconds").unwrap().unit.as_deref(), Some("seconds"));
    assert_eq!(om.family("log_size").unwrap().unit, None, "a unit the name lacks is ignored");
    assert_eq!(bridge.rejected(), 0);
}

#[test]
fn labels_bind_series_in_any_order() {
    let (registry, bridge) = bridge();
    metrics::with_local_recorder(&bridge, || {
        metrics::counter!("rpcs", "peer" => "2", "kind" => "append").increment(1);
        metrics::counter!("rpcs", "kind" => "append", "peer" => "2").increment(1);
        metrics::counter!("rpcs", "kind" => "vote", "peer" => "3").increment(5);
        let hostile = "quote\" back\\ new\nline ✓";
        metrics::gauge!("lag_seconds", "peer" => hostile).set(0.25);
        metrics::histogram!("batch", "topic" => "orders", "partition" => "7").record(0.01);
    });
    let s = scrape(&registry);
    assert_eq!(s.value("rpcs_total", &[("peer", "2"), ("kind", "append")]), Some(2.0));
    assert_eq!(s.value("rpcs_total", &[("peer", "3"), ("kind", "vote")]), Some(5.0));
    let labels: Vec<_> = s.family("rpcs_total").unwrap().lines[0].labels.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(labels, ["peer", "kind"], "the first key's order");
    assert_eq!(s.value("lag_seconds", &[("peer", "quote\" back\\ new\nline ✓")]), Some(0.25));
    assert_eq!(s.value("batch_count", &[("topic", "orders"), ("partition", "7")]), Some(1.0));
    assert_eq!(bridge.rejected(), 0);
}

#[test]
fn invalid_names_are_sanitized() {
    let (registry, bridge) = bridge();
    metrics::with_local_recorder(&bridge, || {
        metrics::counter!("http.server-requests", "http.method" => "GET").increment(1);
        metrics::counter!("http_server_requests", "http_method" => "GET").increment(1);
        metrics::gauge!("9lives").set(9.0);
        metrics::gauge!("ünïcode:gauge").set(1.0);
        metrics::histogram!("db.query duration_seconds").record(0.1);
        metrics::counter!("jobs.total").increment(1);
    });
    let s = scrape(&registry);
    assert_eq!(s.value("http_server_requests_total", &[("http_method", "GET")]), Some(2.0), "one name once sanitized");
    assert_eq!(s.value("_lives", &[]), Some(9.0));
    assert_eq!(s.value("_n_code:gauge", &[]), Some(1.0));
    assert_eq!(s.value("db_query_duration_seconds_count", &[]), Some(1.0));
    assert_eq!(s.value("jobs_total", &[]), Some(1.0));
    assert_eq!(bridge.rejected(), 0);
}

#[test]
fn mismatched_label_sets_are_dropped_and_counted() {
    let (registry, bridge) = bridge();
    let late = metrics::with_local_recorder(&bridge, || {
        metrics::counter!("ops", "a" => "1").increment(1);
        metrics::counter!("ops", "b" => "1").increment(10); // other name
        metrics::counter!("ops", "a" => "1", "b" => "2").increment(10); // more labels
        metrics::counter!("ops").increment(10); // none
        metrics::counter!("ops", "a" => "1", "a" => "2").increment(10); // duplicate names
        metrics::counter!("dup", "a" => "1", "a" => "2").increment(10); // registry: duplicate label
        metrics::counter!("ops", "a" => "2").increment(1);
        metrics::counter!("ops", "a" => "3")
    });
    late.increment(4); // a handle keeps working after the recorder's scope
    let s = scrape(&registry);
    assert_eq!(s.value("ops_total", &[("a", "1")]), Some(1.0));
    assert_eq!(s.value("ops_total", &[("a", "2")]), Some(1.0));
    assert_eq!(s.value("ops_total", &[("a", "3")]), Some(4.0));
    assert_eq!(s.family("ops_total").unwrap().lines.len(), 3);
    assert!(s.family("dup_total").is_none());
    assert_eq!(rejected(&s, "labels"), Some(4.0));
    assert_eq!(rejected(&s, "registration"), Some(1.0));
    assert_eq!(bridge.rejected(), 5);
}

#[test]
fn refusals_return_no_op_handles_and_never_panic() {
    let (registry, bridge) = bridge();
    registry.counter("direct_total", "Registered without the facade.").unwrap().add(7);
    let too_many: Vec<metrics::Label> =
        (0..=MAX_LABELS).map(|i| metrics::Label::new(format!("l{i}"), i.to_string())).collect();
    let just_enough = &too_many[..MAX_LABELS];
    metrics::with_local_recorder(&bridge, || {
        metrics::counter!("direct").increment(1); // owned by a non-facade family
        metrics::counter!("").increment(1); // empty
        metrics::counter!("_total").increment(1); // empty once `_total` is stripped
        metrics::histogram!("latency_ms").record(1.0); // non-base unit
        metrics::gauge!("__reserved").set(1.0);
        metrics::gauge!("queue_total").set(1.0); // only counters end in _total
        metrics::histogram!("rpc_count").record(1.0); // histogram sample suffix
        metrics::counter!("by_le", "le" => "1").increment(1); // reserved label
        metrics::counter!("wide", too_many.iter()).increment(1);
        metrics::counter!("wide_ok", just_enough.iter()).increment(1);
        metrics::counter!("shared").increment(1);
        metrics::gauge!("shared").set(1.0); // another kind
        metrics::histogram!("shared").record(1.0);
        metrics::counter!("shared_total").absolute(5); // the same counter
    });
    let s = scrape(&registry);
    assert_eq!(s.value("direct_total", &[]), Some(7.0), "the registry's own family is untouched");
    assert_eq!(s.value("shared_total", &[]), Some(5.0));
    assert_eq!(s.value("wide_ok_total", &[("l7", "7")]), Some(1.0));
    assert_eq!(rejected(&s, "registration"), Some(8.0));
    assert_eq!(rejected(&s, "labels"), Some(1.0));
    assert_eq!(rejected(&s, "kind"), Some(2.0));
    assert_eq!(bridge.rejected(), 11);
    assert!(format!("{bridge:?}").contains("rejected: 11"));
}

#[test]
fn counter_absolute_raises_but_never_lowers() {
    let (registry, bridge) = bridge();
    let c = metrics::with_local_recorder(&bridge, || metrics::counter!("applied"));
    c.absolute(10);
    assert_eq!(scrape(&registry).value("applied_total", &[]), Some(10.0));
    c.absolute(4);
    c.increment(1);
    assert_eq!(scrape(&registry).value("applied_total", &[]), Some(11.0));
    c.absolute(20);
    assert_eq!(scrape(&registry).value("applied_total", &[]), Some(20.0));
}

#[test]
fn histogram_layouts_follow_the_longest_prefix() {
    let registry = Arc::new(Registry::new());
    let bridge = Bridge::builder()
        .registry(Arc::clone(&registry))
        .buckets_for("rpc.", Buckets::linear(0.01, 0.01, HISTOGRAM_BUCKETS).unwrap())
        .unwrap()
        .buckets_for("rpc_slow", Buckets::linear(1.0, 1.0, HISTOGRAM_BUCKETS).unwrap())
        .unwrap()
        .build();
    metrics::with_local_recorder(&bridge, || {
        metrics::histogram!("rpc.latency_seconds").record(0.015);
        metrics::histogram!("rpc_slow_seconds").record(1.5);
        metrics::histogram!("other_seconds").record(0.0004);
    });
    let s = scrape(&registry);
    assert_eq!(s.value("rpc_latency_seconds_bucket", &[("le", "0.02")]), Some(1.0));
    assert_eq!(s.value("rpc_slow_seconds_bucket", &[("le", "2.0")]), Some(1.0));
    assert_eq!(s.value("other_seconds_bucket", &[("le", "0.0005")]), Some(1.0));
    let wrong = Bridge::builder().buckets_for("x", Buckets::exponential(1.0, 2.0, 3).unwrap());
    assert!(wrong.is_err(), "a layout must have HISTOGRAM_BUCKETS bounds");
}

#[test]
fn threads_share_one_family() {
    let (registry, bridge) = bridge();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let bridge = &bridge;
            scope.spawn(move || {
                metrics::with_local_recorder(bridge, || {
                    let peer = (t % 2).to_string();
                    for _ in 0..500 {
                        metrics::counter!("sent", "peer" => peer.clone()).increment(1);
                        metrics::gauge!("inflight").increment(1.0);
                        metrics::histogram!("size_bytes").record(1.0);
                    }
                });
            });
        }
    });
    let s = scrape(&registry);
    assert_eq!(s.value("sent_total", &[("peer", "0")]), Some(1000.0));
    assert_eq!(s.value("sent_total", &[("peer", "1")]), Some(1000.0));
    assert_eq!(s.value("inflight", &[]), Some(2000.0));
    assert_eq!(s.value("size_bytes_count", &[]), Some(2000.0));
}

/// The only test that installs the process-wide recorder; the others use local recorders,
/// which take precedence on their threads.
#[test]
fn install_sets_the_global_recorder_once() {
    let registry: &'static Registry = Box::leak(Box::new(Registry::new()));
    let bridge = Bridge::builder().static_registry(registry).build();
    bridge.clone().install().unwrap();
    let again = Bridge::new().install();
    assert!(again.is_err(), "a second recorder is refused");
    assert_eq!(again.unwrap_err().into_inner().rejected(), 0, "and handed back");
    metrics::counter!("global_events").increment(2);
    assert_eq!(scrape(bridge.registry()).value("global_events_total", &[]), Some(2.0));
    assert!(std::ptr::eq(bridge.registry(), registry));
}

/// A scrape holding everything the facade can produce, refusals included.
fn full_scrape() -> String {
    let (registry, bridge) = bridge();
    registry.counter("direct_total", "Registered directly.").unwrap().inc();
    metrics::with_local_recorder(&bridge, || {
        metrics::describe_counter!("raft.commits", "Committed entries.");
        metrics::describe_histogram!("raft.commit_latency_seconds", metrics::Unit::Seconds, "Proposal to commit.");
        metrics::counter!("raft.commits", "topic" => "orders", "partition" => "7").increment(3);
        metrics::counter!("raft.commits", "partition" => "8", "topic" => "orders\"\n").absolute(4);
        metrics::gauge!("raft.lag_seconds", "peer" => "2").set(-0.5);
        metrics::gauge!("raft.nan").set(f64::NAN);
        metrics::gauge!("raft.inf").set(f64::INFINITY);
        metrics::histogram!("raft.commit_latency_seconds").record(0.003);
        metrics::histogram!("raft.commit_latency_seconds").record(f64::NAN);
        metrics::histogram!("raft.sizes_bytes", "kind" => "append").record(4096.0);
        metrics::counter!("raft.commits", "topic" => "x").increment(1); // labels
        metrics::gauge!("raft.commits").set(1.0); // kind
        metrics::counter!("direct").increment(1); // registration
    });
    assert_eq!(bridge.rejected(), 3);
    registry.encode_to_string(Format::Prometheus)
}

#[test]
fn the_full_scrape_parses_strictly() {
    let text = full_scrape();
    let s = parse(&text, Format::Prometheus).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(s.value("raft_commits_total", &[("topic", "orders\"\n"), ("partition", "8")]), Some(4.0));
    assert_eq!(s.family(&format!("{REJECTED_METRIC}_total")).unwrap().lines.len(), 3);
}

#[test]
fn promtool_accepts_the_full_scrape() {
    common::assert_promtool_silent(&full_scrape());
}
