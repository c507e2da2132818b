//! Rules across fields, or between a field's attributes and its type. Only reads the model.

use std::collections::HashMap;

use crate::ast::{Container, Field, TypeLayers};
use crate::attr::Kind;
use crate::ctxt::Ctxt;

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    check_namespace(cx, container);
    let mut label_names: HashMap<String, &syn::Ident> = HashMap::new();
    for label in &container.labels {
        check_label_name(cx, &label.name);
        if label_names.insert(label.name.to_string(), &label.name).is_some() {
            cx.error_spanned_by(&label.name, format!("duplicate label `{}`", label.name));
        }
    }
    let mut samples: HashMap<String, &syn::Ident> = HashMap::new();
    for field in &container.fields {
        check_field(cx, field);
        if let Some(label) = &field.label {
            check_label_name(cx, &label.name);
            if label_names.contains_key(&label.name.to_string()) {
                cx.error_spanned_by(&label.name, format!("label `{}` is already a label of the struct", label.name));
            }
        }
        for sample in sample_names(&field.name, field.kind) {
            if let Some(first) = samples.insert(sample.clone(), field.ident) {
                cx.error_spanned_by(
                    field.ident,
                    format!("duplicate metric name: field `{first}` already exports `{sample}`; rename one with `name = \"…\"`"),
                );
                break;
            }
        }
    }
}

fn check_namespace(cx: &Ctxt, container: &Container<'_>) {
    let ns = &container.namespace;
    if !ns.is_empty() && (!is_metric_name(ns) || ns.starts_with("__")) {
        cx.syn_error(syn::Error::new(
            container.namespace_span,
            format!("invalid namespace `{ns}`: names match [a-zA-Z_:][a-zA-Z0-9_:]* and do not start with __"),
        ));
    }
}

fn check_field(cx: &Ctxt, field: &Field<'_>) {
    if field.help.is_empty() {
        cx.error_spanned_by(
            field.ident,
            "missing doc comment: a metric's `///` doc comment is its HELP text (promtool rejects metrics without one)",
        );
    }
    let name = &field.name;
    if !is_metric_name(name) || name.starts_with("__") {
        cx.syn_error(syn::Error::new(
            field.name_span,
            format!("invalid metric name `{name}`: names match [a-zA-Z_:][a-zA-Z0-9_:]* and do not start with __"),
        ));
    }
    if let Some(word) = name.split('_').find(|w| NON_BASE_UNITS.contains(w)) {
        cx.syn_error(syn::Error::new(
            field.name_span,
            format!("`{name}` names the unit `{word}`: Prometheus names use base units; rename it and set `unit = \"seconds\"` or `unit = \"bytes\"`"),
        ));
    }
    if field.kind != Kind::Counter && name.ends_with("_total") {
        cx.syn_error(syn::Error::new(field.name_span, "only counters end in `_total`"));
    }
    if field.kind == Kind::Histogram && ["_bucket", "_sum", "_count"].iter().any(|s| name.ends_with(s)) {
        cx.syn_error(syn::Error::new(
            field.name_span,
            "a histogram's name cannot end in `_bucket`, `_sum` or `_count`",
        ));
    }
    if name.ends_with("_created") {
        cx.syn_error(syn::Error::new(field.name_span, "`_created` is reserved by OpenMetrics"));
    }
    match (field.kind, &field.buckets) {
        (Kind::Histogram, Some(buckets)) if field.native.is_some() => {
            cx.syn_error(syn::Error::new(buckets.span, "a native histogram has exponential buckets of its own: drop `buckets`"));
        }
        (Kind::Counter | Kind::Gauge, _) if field.native.is_some() => {
            cx.error_spanned_by(field.ident, "`native` applies to histograms only");
        }
        (Kind::Histogram, None) if field.native.is_some() && field.sample.is_some() => {
            cx.error_spanned_by(field.ident, "sampling a native histogram is not supported");
        }
        (Kind::Histogram, None) if field.native.is_some() => {}
        (Kind::Histogram, None) => cx.error_spanned_by(
            field.ident,
            "a histogram needs `buckets = exponential(start, factor, count)`, `linear(start, width, count)` or `[bounds…]`",
        ),
        (Kind::Counter | Kind::Gauge, Some(buckets)) => {
            cx.syn_error(syn::Error::new(buckets.span, "`buckets` applies to histograms only"));
        }
        _ => {}
    }
    if let (Kind::Gauge, Some((_, span))) = (field.kind, field.sample) {
        cx.syn_error(syn::Error::new(
            span,
            "`sample` applies to counters and histograms: a gauge's last value cannot be weighted",
        ));
    }
    check_type(cx, field);
}

/// The field's type must be the storage its attributes describe.
fn check_type(cx: &Ctxt, field: &Field<'_>) {
    let layers = TypeLayers::of(field.ty);
    let (allowed, example): (&[&str], &str) = match field.kind {
        Kind::Counter => (&["Counter", "ShardedCounter"], "Counter"),
        Kind::Gauge => (&["Gauge", "FloatGauge"], "Gauge"),
        Kind::Histogram if field.native.is_some() => (&["NativeHistogram"], "NativeHistogram"),
        Kind::Histogram => (&["Histogram"], "Histogram<N>"),
    };
    let buckets = field.buckets.as_ref().map_or(0, |b| b.bounds.len());
    let cell = if field.kind == Kind::Histogram && field.native.is_none() {
        format!("Histogram<{buckets}>")
    } else {
        example.to_owned()
    };
    let sampled = if field.sample.is_some() { format!("Sampled<{cell}>") } else { cell.clone() };
    let expected = match &field.label {
        Some(label) => {
            let ty = &label.ty;
            format!("ByLabel<{}, {sampled}, N>", quote::quote!(#ty).to_string().replace(' ', ""))
        }
        None => sampled.clone(),
    };
    let kind = field.kind.as_str();
    match (&field.label, layers.by_label) {
        (Some(label), None) => {
            cx.error_spanned_by(field.ty, format!("a metric with `label({}: …)` keeps one cell per label value: declare the field as `{expected}`, N being the number of values", label.name));
            return;
        }
        (None, Some(_)) => {
            cx.error_spanned_by(
                field.ty,
                "a `ByLabel` field needs its label in the attribute: `label(name: EnumType)`",
            );
            return;
        }
        _ => {}
    }
    if field.sample.is_some() != layers.sampled {
        let message = if layers.sampled {
            "a `Sampled` field needs `sample = N` in its attribute".to_owned()
        } else {
            format!("a sampled metric records through `Sampled`: declare the field as `{expected}`")
        };
        cx.error_spanned_by(field.ty, message);
        return;
    }
    match layers.cell {
        Some(cell) if allowed.iter().any(|a| cell == a) => {}
        Some(cell) => {
            cx.error_spanned_by(
                field.ty,
                format!(
                    "a `{kind}` metric is stored in {}, not `{cell}`: declare the field as `{expected}`",
                    allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(" or ")
                ),
            );
            return;
        }
        None => {
            cx.error_spanned_by(field.ty, format!("a `{kind}` metric is declared as `{expected}`"));
            return;
        }
    }
    if let Some(n) = layers.buckets_literal {
        if field.kind == Kind::Histogram && field.native.is_none() && n != buckets {
            cx.error_spanned_by(
                field.ty,
                format!("the buckets declare {buckets} bounds: declare the field as `{expected}`"),
            );
        }
    }
}

fn check_label_name(cx: &Ctxt, name: &syn::Ident) {
    let text = name.to_string();
    // Labels become parameter names of `bind(…)`, so a keyword (`type`, `self`) cannot be one.
    if syn::parse_str::<syn::Ident>(&text).is_err() {
        cx.error_spanned_by(
            name,
            format!("`{text}` is a Rust keyword; label names become `bind` parameters: choose another name"),
        );
        return;
    }
    let text = text.strip_prefix("r#").unwrap_or(&text);
    if text.starts_with("__") || text == "le" || text == "quantile" {
        cx.error_spanned_by(name, format!("`{text}` is a reserved label name (`le`, `quantile` and names starting with `__` belong to Prometheus)"));
    }
}

/// Words that name a unit other than a base unit.
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

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn sample_names(name: &str, kind: Kind) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        Kind::Counter => &["", "_total", "_created"],
        Kind::Gauge => &[""],
        Kind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}
