//! The validated model the expansion reads: attribute values resolved into names, HELP text,
//! layers of the field type. Keeps the original syntax for spans.

use proc_macro2::Span;
use syn::{Ident, Type, Visibility};

use crate::attr::{self, Kind, LabelDecl};
use crate::ctxt::Ctxt;

pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) krate: syn::Path,
    pub(crate) namespace: String,
    pub(crate) namespace_span: Span,
    pub(crate) labels: Vec<LabelDecl>,
    pub(crate) max_series: Option<syn::LitInt>,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) ty: &'a Type,
    pub(crate) kind: Kind,
    /// Without namespace, with unit suffix, without `_total`.
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    pub(crate) buckets: Option<attr::BucketsAttr>,
    pub(crate) native: Option<attr::NativeAttr>,
    pub(crate) sum_resolution: Option<f64>,
    pub(crate) label: Option<LabelDecl>,
    pub(crate) sample: Option<(u32, Span)>,
}

impl<'a> Container<'a> {
    /// `None` when the input is not a struct with named fields (an error is recorded).
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_ast(cx, input);
        let syn::Data::Struct(data) = &input.data else {
            cx.error_spanned_by(&input.ident, "#[derive(RaftMetrics)] needs a struct whose fields are metrics");
            return None;
        };
        let syn::Fields::Named(named) = &data.fields else {
            cx.error_spanned_by(
                &input.ident,
                "#[derive(RaftMetrics)] needs named fields: the field name is the metric name",
            );
            return None;
        };
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(&input.generics, "#[derive(RaftMetrics)] does not support generic structs");
        }
        if named.named.is_empty() {
            cx.error_spanned_by(&input.ident, "a RaftMetrics struct needs at least one #[metric] field");
        }
        let fields = named.named.iter().filter_map(|field| Field::from_ast(cx, field)).collect();
        let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::raft_metrics));
        let (namespace, namespace_span) =
            attrs.namespace.as_ref().map_or((String::new(), input.ident.span()), |n| (n.value(), n.span()));
        Some(Self {
            ident: &input.ident,
            vis: &input.vis,
            krate,
            namespace,
            namespace_span,
            labels: attrs.labels,
            max_series: attrs.max_series,
            fields,
        })
    }
}

impl<'a> Field<'a> {
    fn from_ast(cx: &Ctxt, field: &'a syn::Field) -> Option<Self> {
        let attrs = attr::Field::from_ast(cx, field);
        let ident = field.ident.as_ref()?;
        if !attrs.present {
            cx.error_spanned_by(ident, "every field of a RaftMetrics struct is a metric: add #[metric(counter)], #[metric(gauge)] or #[metric(histogram, buckets = ...)]");
            return None;
        }
        let Some((kind, _)) = attrs.kind else {
            cx.error_spanned_by(
                ident,
                "missing metric kind: write #[metric(counter)], #[metric(gauge)] or #[metric(histogram, ...)]",
            );
            return None;
        };
        if attrs.reported {
            // The attribute's error is already reported; checks built on it would only echo it.
            return None;
        }
        let help = doc_comment(field);
        let (base, name_span) =
            attrs.name.as_ref().map_or_else(|| (ident.to_string(), ident.span()), |n| (n.value(), n.span()));
        let base = base.strip_prefix("r#").map_or(base.clone(), str::to_owned);
        let unit = attrs.unit.as_ref().map(syn::LitStr::value);
        let mut name = match kind {
            Kind::Counter => base.strip_suffix("_total").map_or(base.clone(), str::to_owned),
            _ => base,
        };
        if let Some(unit) = &unit {
            if !name.ends_with(&format!("_{unit}")) {
                name = format!("{name}_{unit}");
            }
        }
        Some(Self {
            ident,
            vis: &field.vis,
            ty: &field.ty,
            kind,
            name,
            name_span,
            help,
            unit,
            buckets: attrs.buckets,
            native: attrs.native,
            sum_resolution: attrs.sum_resolution,
            label: attrs.label,
            sample: attrs.sample,
        })
    }
}

/// The `///` lines, trimmed and joined with spaces: the HELP text.
fn doc_comment(field: &syn::Field) -> String {
    let lines: Vec<String> = field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    lines.join(" ")
}

/// The layers of a field's type: `ByLabel<E, Sampled<Cell>, K>` from the outside in.
pub(crate) struct TypeLayers<'a> {
    pub(crate) by_label: Option<(&'a Type, &'a syn::GenericArgument)>,
    pub(crate) sampled: bool,
    pub(crate) cell: Option<&'a Ident>,
    /// The histogram's bucket count when written as a literal.
    pub(crate) buckets_literal: Option<usize>,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn generic_args(segment: &syn::PathSegment) -> Vec<&syn::GenericArgument> {
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(a) => a.args.iter().collect(),
        _ => Vec::new(),
    }
}

impl<'a> TypeLayers<'a> {
    pub(crate) fn of(ty: &'a Type) -> Self {
        let mut layers = Self { by_label: None, sampled: false, cell: None, buckets_literal: None };
        let mut current = ty;
        if let Some(segment) = last_segment(current).filter(|s| s.ident == "ByLabel") {
            if let [syn::GenericArgument::Type(e), syn::GenericArgument::Type(inner), k] = generic_args(segment)[..] {
                layers.by_label = Some((e, k));
                current = inner;
            }
        }
        if let Some(segment) = last_segment(current).filter(|s| s.ident == "Sampled") {
            if let [syn::GenericArgument::Type(inner)] = generic_args(segment)[..] {
                layers.sampled = true;
                current = inner;
            }
        }
        if let Some(segment) = last_segment(current) {
            layers.cell = Some(&segment.ident);
            if let [syn::GenericArgument::Const(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(n), .. }))] =
                generic_args(segment)[..]
            {
                layers.buckets_literal = n.base10_parse().ok();
            }
        }
        layers
    }
}
