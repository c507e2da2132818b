//! The Grafana dashboard and the Prometheus rules in `docs/` name only metrics the schema
//! exports, every alert is unit-tested both ways, and promtool accepts the rules and their tests.
//!
//! Names are checked against the sample names of `raft_metrics::raft::SCHEMAS` (so `_total`,
//! `_bucket`, `_sum` and `_count` must be right), plus the registry's overflow counter, plus (in
//! the rule files only) the recording rules the rule file defines. A renamed or removed metric
//! fails here before it silently empties a panel or disarms an alert.
//!
//! JSON and YAML are read with small hand-written scanners (no dependencies): enough for these
//! files, not general parsers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use raft_metrics::raft::{NAMESPACE, SCHEMAS};
use raft_metrics::OVERFLOW_METRIC;

#[path = "support/json.rs"]
mod json;
use json::json_string_members;

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

/// Every PromQL query of the dashboard: panel targets and template-variable queries.
fn dashboard_queries() -> Vec<String> {
    let (_, text) = workspace_file(DASHBOARD);
    let queries: Vec<String> = json_string_members(&text, &["expr", "query", "definition"])
        .into_iter()
        .map(|(_, value)| value)
        .filter(|value| value != "prometheus") // the datasource variable's plugin id
        .collect();
    assert!(queries.len() > 20, "found only {} queries in {DASHBOARD}: is the scanner broken?", queries.len());
    queries
}

// ---- YAML --------------------------------------------------------------------------------------

/// A value of `key` in a line-oriented YAML file, with the 1-based line it starts on.
#[derive(Debug)]
struct YamlValue {
    line: usize,
    value: String,
}

/// The scalar values of every mapping entry named `key` (plain, quoted or block scalars).
fn yaml_values(text: &str, key: &str) -> Vec<YamlValue> {
    let lines: Vec<&str> = text.lines().collect();
    let prefix = format!("{key}:");
    let mut found = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        let Some(rest) = item.strip_prefix(&prefix) else { continue };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            continue; // a longer key with the same prefix
        }
        let column = line.len() - item.len();
        let rest = rest.trim();
        // Lines indented deeper than the key continue its value.
        let continuation: Vec<&str> = lines[n + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > column)
            .copied()
            .collect();
        let value = if rest.starts_with('|') || rest.starts_with('>') {
            continuation.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n")
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            quoted
                .strip_suffix('\'')
                .unwrap_or_else(|| panic!("line {}: multi-line quoted scalar", n + 1))
                .replace("''", "'")
        } else if let Some(quoted) = rest.strip_prefix('"') {
            let inner = quoted.strip_suffix('"').unwrap_or_else(|| panic!("line {}: multi-line quoted scalar", n + 1));
            inner.replace("\\\"", "\"").replace("\\\\", "\\")
        } else {
            std::iter::once(rest).chain(continuation.iter().map(|l| l.trim())).collect::<Vec<_>>().join(" ")
        };
        found.push(YamlValue { line: n + 1, value: value.trim().to_owned() });
    }
    found
}

// ---- PromQL ------------------------------------------------------------------------------------

/// Index just past the bracket matching the opener at `start`, skipping string literals.
fn skip_group(chars: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = skip_string(chars, i) - 1,
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// Index just past the string literal whose quote is at `start`.
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// Metric names in a PromQL expression: identifiers starting with `chronik_raft` or
/// `raft_metrics_`, and recording-rule names (identifiers with a `:`). Label matchers `{...}`,
/// ranges and subqueries `[...]`, string literals, comments and the label lists of `by`,
/// `without`, `on`, `ignoring`, `group_left` and `group_right` are skipped.
fn metric_names(expr: &str) -> Vec<String> {
    const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_group(&chars, i, '{', '}');
        } else if c == '[' {
            i = skip_group(&chars, i, '[', ']');
        } else if c == '#' {
            i = chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |p| i + p);
        } else if c.is_ascii_digit() {
            // A number or a duration (`1e-9`, `5m`): not an identifier.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':' | '$')) {
                i += 1;
            }
            let ident: String = chars[start..i].iter().collect();
            if LABEL_LISTS.contains(&ident.to_ascii_lowercase().as_str()) {
                let open = i + chars[i..].iter().take_while(|c| c.is_whitespace()).count();
                if chars.get(open) == Some(&'(') {
                    i = skip_group(&chars, open, '(', ')');
                }
            } else if ident.starts_with("chronik_raft") || ident.starts_with("raft_metrics_") || ident.contains(':') {
                names.push(ident);
            }
        } else {
            i += 1;
        }
    }
    names
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
    let (_, rules) = workspace_file(RULES);
    yaml_values(&rules, "record").into_iter().map(|v| v.value).collect()
}

fn report(unknown: &[(String, String)]) -> String {
    unknown.iter().map(|(place, name)| format!("  {place}: {name}\n")).collect()
}

// ---- tests -------------------------------------------------------------------------------------

#[test]
fn the_promql_scanner_finds_metric_names_only() {
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
    let (_, rules) = workspace_file(RULES);
    let exprs = yaml_values(&rules, "expr");
    assert!(exprs.len() > 20, "found only {} expressions in {RULES}", exprs.len());
    let unknown = unknown_names(exprs.iter().map(|v| (format!("{RULES}:{}", v.line), v.value.as_str())), &allowed);
    assert!(unknown.is_empty(), "rules use names the schema does not export:\n{}", report(&unknown));

    // The unit tests feed and expect real names too, or they prove nothing.
    let (_, tests) = workspace_file(RULE_TESTS);
    let mut values = yaml_values(&tests, "expr");
    values.extend(yaml_values(&tests, "series"));
    values.extend(yaml_values(&tests, "labels"));
    assert!(values.len() > 20, "found only {} series and expressions in {RULE_TESTS}", values.len());
    let unknown =
        unknown_names(values.iter().map(|v| (format!("{RULE_TESTS}:{}", v.line), v.value.as_str())), &allowed);
    assert!(unknown.is_empty(), "rule tests use names the schema does not export:\n{}", report(&unknown));
}

#[test]
fn every_alert_is_complete_and_tested_firing_and_silent() {
    let (_, rules) = workspace_file(RULES);
    // Split the rules into entries at `- alert:` / `- record:` and check each alert's fields.
    let mut alerts = BTreeSet::new();
    let mut entry: Vec<&str> = Vec::new();
    let mut check = |entry: &[&str]| {
        let Some(name) = entry.first().and_then(|l| l.trim().strip_prefix("- alert:")) else { return };
        let name = name.trim().to_owned();
        for field in ["expr:", "for:", "severity:", "summary:", "description:"] {
            assert!(entry.iter().any(|l| l.trim_start().starts_with(field)), "alert {name} has no `{field}`");
        }
        alerts.insert(name);
    };
    for line in rules.lines() {
        let t = line.trim_start();
        if t.starts_with("- alert:") || t.starts_with("- record:") || t.starts_with("- name:") {
            check(&entry);
            entry.clear();
        }
        entry.push(line);
    }
    check(&entry);
    assert!(alerts.len() >= 13, "only {} alerts in {RULES}", alerts.len());

    // alertname -> (has a firing case, has a silent case), from the alert_rule_test cases.
    let (_, tests) = workspace_file(RULE_TESTS);
    let mut cases: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    let (mut alertname, mut firing): (Option<String>, Option<bool>) = (None, None);
    let mut close = |alertname: &mut Option<String>, firing: &mut Option<bool>| {
        if let (Some(name), Some(fires)) = (alertname.take(), firing.take()) {
            let case = cases.entry(name).or_default();
            if fires {
                case.0 = true;
            } else {
                case.1 = true;
            }
        }
    };
    for line in tests.lines() {
        let t = line.trim_start();
        if t.starts_with("- eval_time:") || t.starts_with("- alertname:") || t.starts_with("- name:") {
            close(&mut alertname, &mut firing);
        }
        let t = t.strip_prefix("- ").unwrap_or(t);
        if let Some(name) = t.strip_prefix("alertname:") {
            alertname = Some(name.trim().to_owned());
        } else if let Some(rest) = t.strip_prefix("exp_alerts:") {
            firing = Some(rest.trim() != "[]");
        }
    }
    close(&mut alertname, &mut firing);

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
