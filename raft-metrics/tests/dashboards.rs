//! The Grafana dashboard and the Prometheus rules in `docs/` name only metrics the schema
//! exports, every alert is unit-tested both ways, and promtool accepts the rules and their tests.
//!
//! Names are checked against the sample names of `raft_metrics::raft::SCHEMAS` (so `_total`,
//! `_bucket`, `_sum` and `_count` must be right), plus the registry's overflow counter, plus (in
//! the rule files only) the recording rules the rule file defines. A renamed or removed metric
//! fails here before it silently empties a panel or disarms an alert.
//!
//! The dashboard is read with `serde_json`, the rule files with `yaml_serde` into the fields
//! promtool reads, and every query is parsed with `promql-parser`: metric names come from the
//! selectors of its syntax tree, never from scanning text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use promql_parser::label::{MatchOp, Matcher, METRIC_NAME};
use promql_parser::parser::{Expr, VectorSelector};
use raft_metrics::raft::{NAMESPACE, SCHEMAS};
use raft_metrics::OVERFLOW_METRIC;
use serde::Deserialize;

const DASHBOARD: &str = "docs/grafana/chronik_raft_dashboard.json";
const RULES: &str = "docs/alerts/chronik_raft_alerts.yml";
const RULE_TESTS: &str = "docs/alerts/chronik_raft_alerts_test.yml";

fn workspace_file(path: &str) -> (PathBuf, String) {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()));
    (full, text)
}

/// Every sample name a scrape of the Raft schema can contain, plus the overflow counter.
fn exported_names() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = SCHEMAS.iter().flat_map(|schema| schema.sample_names(NAMESPACE)).collect();
    names.insert(format!("{OVERFLOW_METRIC}_total"));
    names
}

// ---- JSON --------------------------------------------------------------------------------------

/// Every PromQL query of the dashboard: panel targets and template-variable queries.
fn dashboard_queries() -> Vec<String> {
    let (_, text) = workspace_file(DASHBOARD);
    let dashboard: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"));
    let mut queries = Vec::new();
    string_members(&dashboard, &["expr", "query", "definition"], &mut queries);
    queries.retain(|value| value != "prometheus"); // the datasource variable's plugin id
    assert!(queries.len() > 20, "found only {} queries in {DASHBOARD}", queries.len());
    queries
}

/// The string values of every member named one of `keys`, at any depth.
fn string_members(value: &serde_json::Value, keys: &[&str], found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(members) => {
            for (key, value) in members {
                match value {
                    serde_json::Value::String(s) if keys.contains(&key.as_str()) => found.push(s.clone()),
                    _ => string_members(value, keys, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| string_members(item, keys, found)),
        _ => {}
    }
}

// ---- YAML --------------------------------------------------------------------------------------

/// `docs/alerts/chronik_raft_alerts.yml`: the fields of promtool's rule files these tests read.
#[derive(Debug, Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
struct RuleGroup {
    rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alerting rule (`alert`).
#[derive(Debug, Deserialize)]
struct Rule {
    record: Option<String>,
    alert: Option<String>,
    expr: Option<String>,
    #[serde(rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Rule {
    /// `alert NAME` or `record NAME`, for messages.
    fn place(&self) -> String {
        match (&self.alert, &self.record) {
            (Some(alert), _) => format!("{RULES}: alert {alert}"),
            (None, Some(record)) => format!("{RULES}: record {record}"),
            (None, None) => format!("{RULES}: a rule with neither alert nor record"),
        }
    }
}

/// `docs/alerts/chronik_raft_alerts_test.yml`: the fields of promtool's rule tests these tests read.
#[derive(Debug, Deserialize)]
struct RuleTestFile {
    tests: Vec<RuleTest>,
}

#[derive(Debug, Deserialize)]
struct RuleTest {
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
}

#[derive(Debug, Deserialize)]
struct InputSeries {
    series: String,
}

#[derive(Debug, Deserialize)]
struct ExprTest {
    expr: String,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Deserialize)]
struct ExpSample {
    labels: String,
}

#[derive(Debug, Deserialize)]
struct AlertTest {
    alertname: String,
    /// `[]`: the alert stays silent at `eval_time`. A case without the field counts neither way.
    exp_alerts: Option<Vec<yaml_serde::Value>>,
}

fn rule_file() -> RuleFile {
    let (_, text) = workspace_file(RULES);
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{RULES}: {e}"))
}

fn rule_test_file() -> RuleTestFile {
    let (_, text) = workspace_file(RULE_TESTS);
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{RULE_TESTS}: {e}"))
}

fn rules(file: &RuleFile) -> impl Iterator<Item = &Rule> {
    file.groups.iter().flat_map(|group| &group.rules)
}

// ---- PromQL ------------------------------------------------------------------------------------

/// A dashboard query as plain PromQL: Grafana's interval variables become a fixed window, and a
/// `label_values(selector, label)` variable query becomes its selector (`None` for the
/// selector-less `label_values(label)`). `$topic` and friends stay inside their label-matcher
/// strings.
fn grafana_to_promql(query: &str) -> Option<String> {
    let query = query.replace("$__rate_interval", "5m").replace("$__interval", "5m").replace("$__range", "5m");
    match query.trim().strip_prefix("label_values(").and_then(|args| args.strip_suffix(')')) {
        Some(args) => args.rsplit_once(',').map(|(selector, _label)| selector.trim().to_owned()),
        None => Some(query),
    }
}

/// Names of ours: `chronik_raft…`, `raft_metrics_…` and recording-rule names (with a `:`).
/// Anything else (`up`, another exporter's metric) is not this crate's to check.
fn is_ours(name: &str) -> bool {
    name.starts_with("chronik_raft") || name.starts_with("raft_metrics_") || name.contains(':')
}

/// Our metric names in a PromQL expression (Grafana variables allowed, see
/// [`grafana_to_promql`]): the names of its vector and range selectors, written before the
/// braces or as a `__name__` equality matcher. Panics where the query does not parse.
fn metric_names(expr: &str) -> Vec<String> {
    let Some(promql) = grafana_to_promql(expr) else { return Vec::new() };
    let ast = promql_parser::parser::parse(&promql).unwrap_or_else(|e| panic!("not PromQL: {expr}\n{e}"));
    let mut names = Vec::new();
    selector_names(&ast, &mut names);
    names.retain(|name| is_ours(name));
    names
}

/// The metric names of every selector in `expr`, in the order they are written.
fn selector_names(expr: &Expr, names: &mut Vec<String>) {
    fn selector(vs: &VectorSelector, names: &mut Vec<String>) {
        let mut own: Vec<&String> = vs.name.iter().collect();
        for Matcher { op, name, value } in vs.matchers.matchers.iter().chain(vs.matchers.or_matchers.iter().flatten()) {
            if name == METRIC_NAME && matches!(op, MatchOp::Equal) && !own.contains(&value) {
                own.push(value);
            }
        }
        names.extend(own.into_iter().cloned());
    }
    match expr {
        Expr::VectorSelector(vs) => selector(vs, names),
        Expr::MatrixSelector(ms) => selector(&ms.vs, names),
        Expr::Aggregate(aggregate) => {
            if let Some(param) = &aggregate.param {
                selector_names(param, names);
            }
            selector_names(&aggregate.expr, names);
        }
        Expr::Binary(binary) => {
            selector_names(&binary.lhs, names);
            selector_names(&binary.rhs, names);
        }
        Expr::Unary(unary) => selector_names(&unary.expr, names),
        Expr::Paren(paren) => selector_names(&paren.expr, names),
        Expr::Subquery(subquery) => selector_names(&subquery.expr, names),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| selector_names(arg, names)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// `(where, name)` for every name in `queries` not in `allowed`.
fn unknown_names<'a>(
    queries: impl IntoIterator<Item = (String, &'a str)>,
    allowed: &BTreeSet<String>,
) -> Vec<(String, String)> {
    let mut unknown = Vec::new();
    for (place, query) in queries {
        for name in metric_names(query) {
            if !allowed.contains(&name) {
                unknown.push((place.clone(), name));
            }
        }
    }
    unknown
}

fn recording_rules() -> BTreeSet<String> {
    rules(&rule_file()).filter_map(|rule| rule.record.clone()).collect()
}

fn report(unknown: &[(String, String)]) -> String {
    unknown.iter().map(|(place, name)| format!("  {place}: {name}\n")).collect()
}

// ---- tests -------------------------------------------------------------------------------------

#[test]
fn metric_names_come_from_selectors_only() {
    let expr = r#"histogram_quantile(0.99, sum without (topic, chronik_raft_label) (rate(chronik_raft_x_bucket{chronik_raft_y="chronik_raft_z", le=~"$le"}[$__rate_interval])))
        / on (instance) group_left (chronik_raft_other) chronik_raft:recorded:p99_5m
        + sum(raft_metrics_dropped_label_sets_total offset 5m) by (metric) # chronik_raft_comment
        - max_over_time(chronik_raft_q[30m:1m]) * label_replace(vector(1e-9), "chronik_raft_dst", "$1", "", "")"#;
    assert_eq!(
        metric_names(expr),
        [
            "chronik_raft_x_bucket",
            "chronik_raft:recorded:p99_5m",
            "raft_metrics_dropped_label_sets_total",
            "chronik_raft_q"
        ]
    );
    assert_eq!(
        metric_names(r#"label_values(chronik_raft_has_leader{topic=~"$topic"}, partition)"#),
        ["chronik_raft_has_leader"]
    );
    // Written as a matcher, in topk's parameter, or not ours.
    assert_eq!(
        metric_names(r#"topk(scalar(chronik_raft_a), {__name__="chronik_raft_b", topic="t"}) or up or chronik_raft_a"#),
        ["chronik_raft_a", "chronik_raft_b", "chronik_raft_a"]
    );
    assert!(metric_names("label_values(topic)").is_empty());
}

#[test]
fn the_check_rejects_wrong_suffixes_and_unknown_names() {
    let allowed = exported_names();
    let bad = [
        "rate(chronik_raft_commit_latency_seconds[5m])", // histogram without _bucket/_sum/_count
        "chronik_raft_has_leader_total",                 // gauge with _total
        "rate(chronik_raft_leader_changes_seen[5m])",    // counter without _total
        "chronik_raft_no_such_metric",
        "chronik_raft:not_recorded:sum",
    ];
    for query in bad {
        assert_eq!(unknown_names([(String::new(), query)], &allowed).len(), 1, "{query} passed the check");
    }
    let good = "rate(chronik_raft_commit_latency_seconds_bucket[5m]) + chronik_raft_has_leader \
                + rate(chronik_raft_leader_changes_seen_total[5m]) + raft_metrics_dropped_label_sets_total";
    assert!(unknown_names([(String::new(), good)], &allowed).is_empty());
}

#[test]
fn the_dashboard_names_only_exported_metrics() {
    let queries = dashboard_queries();
    let unknown = unknown_names(queries.iter().map(|q| (q.clone(), q.as_str())), &exported_names());
    assert!(unknown.is_empty(), "{DASHBOARD} queries metrics the schema does not export:\n{}", report(&unknown));
}

#[test]
fn the_rules_name_only_exported_metrics_and_their_own_recording_rules() {
    let mut allowed = exported_names();
    let recorded = recording_rules();
    for name in &recorded {
        assert!(name.starts_with("chronik_raft:") && name.matches(':').count() == 2, "recording rule {name}");
        assert!(!allowed.contains(name), "recording rule {name} shadows an exported metric");
    }
    allowed.extend(recorded);
    let file = rule_file();
    let exprs: Vec<(String, &str)> =
        rules(&file).filter_map(|rule| Some((rule.place(), rule.expr.as_deref()?))).collect();
    assert!(exprs.len() > 20, "found only {} expressions in {RULES}", exprs.len());
    let unknown = unknown_names(exprs, &allowed);
    assert!(unknown.is_empty(), "rules use names the schema does not export:\n{}", report(&unknown));

    // The unit tests feed and expect real names too, or they prove nothing.
    let tests = rule_test_file();
    let mut values: Vec<(String, &str)> = Vec::new();
    for (t, test) in tests.tests.iter().enumerate() {
        for (i, input) in test.input_series.iter().enumerate() {
            values.push((format!("{RULE_TESTS}: tests[{t}].input_series[{i}]"), &input.series));
        }
        for (i, case) in test.promql_expr_test.iter().enumerate() {
            values.push((format!("{RULE_TESTS}: tests[{t}].promql_expr_test[{i}]"), &case.expr));
            for (j, sample) in case.exp_samples.iter().enumerate() {
                values
                    .push((format!("{RULE_TESTS}: tests[{t}].promql_expr_test[{i}].exp_samples[{j}]"), &sample.labels));
            }
        }
    }
    assert!(values.len() > 20, "found only {} series and expressions in {RULE_TESTS}", values.len());
    let unknown = unknown_names(values, &allowed);
    assert!(unknown.is_empty(), "rule tests use names the schema does not export:\n{}", report(&unknown));
}

#[test]
fn every_alert_is_complete_and_tested_firing_and_silent() {
    let file = rule_file();
    let mut alerts = BTreeSet::new();
    for rule in rules(&file) {
        let Some(name) = &rule.alert else { continue };
        let fields = [
            ("expr", rule.expr.is_some()),
            ("for", rule.for_.is_some()),
            ("severity", rule.labels.contains_key("severity")),
            ("summary", rule.annotations.contains_key("summary")),
            ("description", rule.annotations.contains_key("description")),
        ];
        for (field, present) in fields {
            assert!(present, "alert {name} has no `{field}`");
        }
        alerts.insert(name.clone());
    }
    assert!(alerts.len() >= 13, "only {} alerts in {RULES}", alerts.len());

    // alertname -> (has a firing case, has a silent case), from the alert_rule_test cases.
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for case in rule_test_file().tests.iter().flat_map(|test| &test.alert_rule_test) {
        let Some(expected) = &case.exp_alerts else { continue };
        let seen = cases.entry(case.alertname.clone()).or_default();
        if expected.is_empty() {
            seen.1 = true;
        } else {
            seen.0 = true;
        }
    }

    let mut missing = Vec::new();
    for alert in &alerts {
        let (fires, silent) = cases.get(alert).copied().unwrap_or_default();
        if !fires {
            missing.push(format!("{alert}: no case where it fires"));
        }
        if !silent {
            missing.push(format!("{alert}: no case where it stays silent"));
        }
    }
    for tested in cases.keys() {
        if !alerts.contains(tested) {
            missing.push(format!("{tested}: tested but not defined"));
        }
    }
    assert!(missing.is_empty(), "{RULE_TESTS}:\n  {}", missing.join("\n  "));
}

/// Where promtool is missing this test says so; in CI (`CI` set) a missing promtool fails it.
#[test]
fn promtool_accepts_the_rules_and_their_tests() {
    let (rules, _) = workspace_file(RULES);
    let (tests, _) = workspace_file(RULE_TESTS);
    for (command, file) in [("check", rules), ("test", tests)] {
        let output = match Command::new("promtool").args([command, "rules"]).arg(&file).output() {
            Ok(output) => output,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!("promtool not found ({e}); install it with `apt-get install prometheus` to run this check");
                return;
            }
            Err(e) => panic!("promtool is required in CI: {e}"),
        };
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "promtool {command} rules {} failed:\n{said}", file.display());
    }
}
