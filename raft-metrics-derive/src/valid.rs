//! Rules across fields, or between a field's attributes and its type. Only reads the model.
//!
//! The name grammar, the reserved `__` prefix, non-base units and reserved label names are not
//! here: they live once in the runtime's `name` module (`const fn`s), and the expansion checks
//! every name against them at compile time (`expand::name_checks`). What stays are the rules
//! only the derive can check: duplicate names across fields, suffixes reserved for another kind,
//! and label names that must be Rust identifiers.

use std::collections::HashMap;

use crate::ast::{Container, Field, TypeLayers};
use crate::attr::{Bounds, Kind};
use crate::ctxt::Ctxt;

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
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

fn check_field(cx: &Ctxt, field: &Field<'_>) {
    if field.help.is_empty() {
        cx.error_spanned_by(
            field.ident,
            "missing doc comment: a metric's `///` doc comment is its HELP text (promtool rejects metrics without one)",
        );
    }
    let name = &field.name;
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
            "a histogram needs `buckets = exponential(start, factor, count)`, `linear(start, width, count)`, `[bounds…]` or `SOME_CONST`",
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
    // `None` for `buckets = SOME_CONST`: the expansion checks its length against the type.
    let buckets = field.buckets.as_ref().map_or(Some(0), |b| match &b.bounds {
        Bounds::Literal(bounds) => Some(bounds.len()),
        Bounds::Const(_) => None,
    });
    let cell = if field.kind == Kind::Histogram && field.native.is_none() {
        buckets.map_or_else(|| "Histogram<N>".to_owned(), |n| format!("Histogram<{n}>"))
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
    if let (Some(n), Some(buckets)) = (layers.buckets_literal, buckets) {
        if field.kind == Kind::Histogram && field.native.is_none() && n != buckets {
            cx.error_spanned_by(
                field.ty,
                format!("the buckets declare {buckets} bounds: declare the field as `{expected}`"),
            );
        }
    }
}

/// A label name becomes a parameter of `bind(…)`, so it must be a Rust identifier; the Prometheus
/// rules on it are checked by the expansion.
fn check_label_name(cx: &Ctxt, name: &syn::Ident) {
    let text = name.to_string();
    // A keyword (`type`, `self`) cannot be a parameter name.
    if syn::parse_str::<syn::Ident>(&text).is_err() {
        cx.error_spanned_by(
            name,
            format!("`{text}` is a Rust keyword; label names become `bind` parameters: choose another name"),
        );
    }
}

fn sample_names(name: &str, kind: Kind) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        Kind::Counter => &["", "_total", "_created"],
        Kind::Gauge => &[""],
        Kind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}
