//! Attribute syntax → typed values. A rule about one attribute is checked here, where its span is.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token, Type, UnOp};

use crate::ctxt::Ctxt;
use crate::symbol::{
    Symbol, BUCKETS, COUNTER, CRATE, GAUGE, HISTOGRAM, KIND, LABEL, LABELS, MAX_EXP, MAX_SERIES, METRIC, MIN_EXP, NAME,
    NAMESPACE, NATIVE, RAFT_METRICS, SAMPLE, SCHEMA, SUM_RESOLUTION, UNIT,
};

/// A value that may be set once; a second setting is an error at its own span.
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Self { cx, name, value: None }
    }

    fn set(&mut self, span: &ParseNestedMeta<'_>, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(&span.path, format!("duplicate `{}` in this attribute", self.name));
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// `name: Type` inside `labels(...)` or `label(...)`.
pub(crate) struct LabelDecl {
    pub(crate) name: Ident,
    pub(crate) ty: Type,
}

impl syn::parse::Parse for LabelDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = input.call(Ident::parse_any_label)?;
        input.parse::<Token![:]>()?;
        Ok(Self { name, ty: input.parse()? })
    }
}

trait ParseAnyLabel {
    fn parse_any_label(input: ParseStream<'_>) -> syn::Result<Ident>;
}

impl ParseAnyLabel for Ident {
    fn parse_any_label(input: ParseStream<'_>) -> syn::Result<Ident> {
        use syn::ext::IdentExt;
        Ident::parse_any(input)
    }
}

/// `#[raft_metrics(...)]` on the struct.
pub(crate) struct Container {
    pub(crate) namespace: Option<LitStr>,
    pub(crate) labels: Vec<LabelDecl>,
    pub(crate) krate: Option<syn::Path>,
    pub(crate) max_series: Option<syn::LitInt>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, input: &syn::DeriveInput) -> Self {
        let mut namespace = Attr::none(cx, NAMESPACE);
        let mut labels = Attr::none(cx, LABELS);
        let mut krate = Attr::none(cx, CRATE);
        let mut max_series = Attr::none(cx, MAX_SERIES);
        for attr in input.attrs.iter().filter(|a| a.path() == RAFT_METRICS) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == NAMESPACE {
                    let value: LitStr = meta.value()?.parse()?;
                    namespace.set(&meta, value);
                } else if meta.path == LABELS {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let decls = Punctuated::<LabelDecl, Token![,]>::parse_terminated(&content)?;
                    labels.set(&meta, decls.into_iter().collect());
                } else if meta.path == CRATE {
                    let value: syn::Path = meta.value()?.call(syn::Path::parse_mod_style)?;
                    krate.set(&meta, value);
                } else if meta.path == MAX_SERIES {
                    let value: syn::LitInt = meta.value()?.parse()?;
                    if value.base10_parse::<usize>().map_or(true, |n| n == 0) {
                        cx.error_spanned_by(&value, "max_series must be a positive integer");
                    }
                    max_series.set(&meta, value);
                } else {
                    let key = meta.path.get_ident().map_or_else(String::new, ToString::to_string);
                    return Err(meta.error(format!(
                        "unknown raft_metrics attribute `{key}`; expected `namespace`, `labels`, `max_series` or `crate`"
                    )));
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        Self {
            namespace: namespace.get(),
            labels: labels.get().unwrap_or_default(),
            krate: krate.get(),
            max_series: max_series.get(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// Bucket bounds, with the tokens they came from.
pub(crate) struct BucketsAttr {
    pub(crate) bounds: Bounds,
    pub(crate) span: Span,
}

/// Where a histogram's bounds come from.
pub(crate) enum Bounds {
    /// `[…]`, `exponential(…)` or `linear(…)`: evaluated and checked by the macro.
    Literal(Vec<f64>),
    /// `buckets = SOME_CONST`: a `[f64; N]` or `&[f64]` const the macro cannot see into; the
    /// expansion checks it at compile time (`__private::assert_bucket_bounds`).
    Const(syn::ExprPath),
}

/// `native` or `native(schema = 3, min_exp = -20, max_exp = 20)`: a native histogram's layout.
#[derive(Default)]
pub(crate) struct NativeAttr {
    pub(crate) schema: Option<u8>,
    pub(crate) min_exp: Option<i32>,
    pub(crate) max_exp: Option<i32>,
}

/// `#[metric(...)]` on a field.
pub(crate) struct Field {
    pub(crate) native: Option<NativeAttr>,
    pub(crate) kind: Option<(Kind, Span)>,
    pub(crate) unit: Option<LitStr>,
    pub(crate) buckets: Option<BucketsAttr>,
    pub(crate) label: Option<LabelDecl>,
    pub(crate) sample: Option<(u32, Span)>,
    pub(crate) name: Option<LitStr>,
    pub(crate) sum_resolution: Option<f64>,
    /// Whether the field had any `#[metric]` attribute.
    pub(crate) present: bool,
    /// An attribute value was present but already reported as invalid: later checks that would
    /// only repeat the problem stay quiet.
    pub(crate) reported: bool,
}

/// Units Prometheus names as base units.
pub(crate) const BASE_UNITS: &[&str] = &["seconds", "bytes", "ratio"];

impl Field {
    pub(crate) fn from_ast(cx: &Ctxt, field: &syn::Field) -> Self {
        let mut kind = Attr::none(cx, KIND);
        let mut unit = Attr::none(cx, UNIT);
        let mut buckets = Attr::none(cx, BUCKETS);
        let mut label = Attr::none(cx, LABEL);
        let mut sample = Attr::none(cx, SAMPLE);
        let mut name = Attr::none(cx, NAME);
        let mut sum_resolution = Attr::none(cx, SUM_RESOLUTION);
        let mut native = Attr::none(cx, NATIVE);
        let mut present = false;
        let mut reported = false;
        for attr in field.attrs.iter().filter(|a| a.path() == METRIC) {
            present = true;
            let result = attr.parse_nested_meta(|meta| {
                if meta.path == COUNTER || meta.path == GAUGE || meta.path == HISTOGRAM {
                    let k = if meta.path == COUNTER {
                        Kind::Counter
                    } else if meta.path == GAUGE {
                        Kind::Gauge
                    } else {
                        Kind::Histogram
                    };
                    if kind.value.is_some() {
                        cx.error_spanned_by(&meta.path, "a metric has one kind: `counter`, `gauge` or `histogram`");
                    } else {
                        kind.set(&meta, (k, span_of(&meta.path)));
                    }
                } else if meta.path == UNIT {
                    let value: LitStr = meta.value()?.parse()?;
                    if check_unit(cx, &value) {
                        unit.set(&meta, value);
                    } else {
                        reported = true;
                    }
                } else if meta.path == BUCKETS {
                    let expr: Expr = meta.value()?.parse()?;
                    if let Some(bounds) = parse_buckets(cx, &expr) {
                        buckets.set(&meta, BucketsAttr { bounds, span: span_of(&expr) });
                    } else {
                        reported = true;
                    }
                } else if meta.path == LABEL {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    let decl: LabelDecl = content.parse()?;
                    if !content.is_empty() {
                        return Err(content.error("one fixed-cardinality label per metric: `label(name: EnumType)`"));
                    }
                    label.set(&meta, decl);
                } else if meta.path == SAMPLE {
                    let value: syn::LitInt = meta.value()?.parse()?;
                    match value.base10_parse::<u32>() {
                        Ok(0) => {
                            reported = true;
                            cx.error_spanned_by(&value, "`sample = 0` would record nothing; use 1 to record every event, or N ≥ 2 for one in N");
                        }
                        Ok(n) => sample.set(&meta, (n, value.span())),
                        Err(_) => {
                            reported = true;
                            cx.error_spanned_by(&value, "`sample` takes a positive integer N (record one event in N)");
                        }
                    }
                } else if meta.path == NATIVE {
                    let mut layout = NativeAttr::default();
                    if meta.input.peek(syn::token::Paren) {
                        meta.parse_nested_meta(|inner| {
                            let value: syn::LitInt = inner.value()?.parse()?;
                            if inner.path == SCHEMA {
                                match value.base10_parse::<u8>() {
                                    Ok(n) if n <= 4 => layout.schema = Some(n),
                                    _ => return Err(syn::Error::new(value.span(), "native histograms support schemas 0 to 4")),
                                }
                            } else if inner.path == MIN_EXP {
                                layout.min_exp = Some(value.base10_parse()?);
                            } else if inner.path == MAX_EXP {
                                layout.max_exp = Some(value.base10_parse()?);
                            } else {
                                return Err(inner.error("expected `schema`, `min_exp` or `max_exp`"));
                            }
                            Ok(())
                        })?;
                    }
                    native.set(&meta, layout);
                } else if meta.path == NAME {
                    let value: LitStr = meta.value()?.parse()?;
                    name.set(&meta, value);
                } else if meta.path == SUM_RESOLUTION {
                    let expr: Expr = meta.value()?.parse()?;
                    match number(&expr) {
                        Some(r) if r > 0.0 && r.is_finite() => sum_resolution.set(&meta, r),
                        _ => cx.error_spanned_by(&expr, "`sum_resolution` takes a positive number"),
                    }
                } else {
                    let key = meta.path.get_ident().map_or_else(String::new, ToString::to_string);
                    return Err(meta.error(format!(
                        "unknown metric attribute `{key}`; expected `counter`, `gauge`, `histogram`, `unit`, `buckets`, `native`, `label`, `sample`, `name` or `sum_resolution`"
                    )));
                }
                Ok(())
            });
            if let Err(e) = result {
                cx.syn_error(e);
            }
        }
        Self {
            native: native.get(),
            kind: kind.get(),
            unit: unit.get(),
            buckets: buckets.get(),
            label: label.get(),
            sample: sample.get(),
            name: name.get(),
            sum_resolution: sum_resolution.get(),
            present,
            reported,
        }
    }
}

fn span_of<T: quote::ToTokens>(tokens: &T) -> Span {
    syn::spanned::Spanned::span(tokens)
}

/// Whether `unit` is a base unit; reports it otherwise.
fn check_unit(cx: &Ctxt, unit: &LitStr) -> bool {
    let value = unit.value();
    if BASE_UNITS.contains(&value.as_str()) {
        true
    } else {
        let hint = match value.as_str() {
            "ms" | "millis" | "milliseconds" | "us" | "microseconds" | "ns" | "nanoseconds" | "minutes" | "hours" => {
                "; record durations in `seconds` (`observe_ms` converts milliseconds)"
            }
            "kb" | "kilobytes" | "mb" | "megabytes" | "kib" | "mib" | "bits" => "; record sizes in `bytes`",
            "percent" => "; record fractions as `ratio` (0 to 1)",
            _ => "",
        };
        cx.error_spanned_by(
            unit,
            format!("`{value}` is not a Prometheus base unit: use `seconds`, `bytes` or `ratio`{hint}"),
        );
        false
    }
}

/// A numeric literal, possibly negated.
fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Float(f), .. }) => f.base10_parse().ok(),
        Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<f64>().ok(),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => number(&u.expr).map(|v| -v),
        Expr::Paren(p) => number(&p.expr),
        // `f64::NAN` and friends parse, so that validation can say why they are refused.
        Expr::Path(p) => match p.path.segments.last().map(|s| s.ident.to_string()).as_deref() {
            Some("NAN") => Some(f64::NAN),
            Some("INFINITY") => Some(f64::INFINITY),
            Some("NEG_INFINITY") => Some(f64::NEG_INFINITY),
            _ => None,
        },
        Expr::Group(g) => number(&g.expr),
        _ => None,
    }
}

const BUCKET_FORMS: &str =
    "expected `exponential(start, factor, count)`, `linear(start, width, count)`, `[bounds…]` or the path of a const";

/// `[a, b, c]`, `exponential(start, factor, count)` or `linear(start, width, count)`, evaluated
/// and checked (non-empty, finite, strictly increasing); or the path of a const, kept for the
/// expansion to check.
fn parse_buckets(cx: &Ctxt, expr: &Expr) -> Option<Bounds> {
    let bounds = match expr {
        Expr::Group(group) => return parse_buckets(cx, &group.expr),
        Expr::Paren(paren) => return parse_buckets(cx, &paren.expr),
        Expr::Path(path) => return Some(Bounds::Const(path.clone())),
        Expr::Array(array) => {
            let mut bounds = Vec::new();
            for element in &array.elems {
                match number(element) {
                    Some(v) => bounds.push(v),
                    None => {
                        cx.error_spanned_by(element, "bucket bounds must be number literals");
                        return None;
                    }
                }
            }
            bounds
        }
        Expr::Call(call) => {
            let helper = match &*call.func {
                Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
                _ => None,
            };
            let args: Vec<_> = call.args.iter().map(number).collect();
            let (Some(helper), [Some(a), Some(b), Some(count)]) = (helper.as_deref(), args.as_slice()) else {
                cx.error_spanned_by(expr, BUCKET_FORMS);
                return None;
            };
            if count.fract() != 0.0 || *count < 1.0 || *count > 1024.0 {
                cx.error_spanned_by(&call.args[2], "the bucket count must be an integer from 1 to 1024");
                return None;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = *count as usize;
            match helper {
                "exponential" => {
                    if *a <= 0.0 || *b <= 1.0 {
                        cx.error_spanned_by(expr, "exponential buckets need start > 0 and factor > 1");
                        return None;
                    }
                    let mut bound = *a;
                    (0..count)
                        .map(|_| {
                            let b0 = bound;
                            bound *= *b;
                            b0
                        })
                        .collect()
                }
                "linear" => {
                    if *b <= 0.0 {
                        cx.error_spanned_by(expr, "linear buckets need a positive width");
                        return None;
                    }
                    #[allow(clippy::cast_precision_loss)]
                    (0..count).map(|i| *a + *b * i as f64).collect()
                }
                _ => {
                    cx.error_spanned_by(&call.func, "expected `exponential` or `linear`");
                    return None;
                }
            }
        }
        _ => {
            cx.error_spanned_by(expr, BUCKET_FORMS);
            return None;
        }
    };
    if bounds.is_empty() {
        cx.error_spanned_by(expr, "a histogram needs at least one bucket bound");
        return None;
    }
    if let Some(i) = bounds.iter().position(|b| !b.is_finite()) {
        cx.error_spanned_by(expr, format!("bucket bound {i} is not finite; the +Inf bucket is implicit"));
        return None;
    }
    if let Some(i) = bounds.windows(2).position(|w| w[0] >= w[1]) {
        cx.error_spanned_by(
            expr,
            format!("bucket bounds must increase strictly: bound {} is not above bound {i}", i + 1),
        );
        return None;
    }
    Some(Bounds::Literal(bounds))
}
