//! Tokens from the validated model only.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ast::{Container, Field};
use crate::attr::{Bounds, Kind};
use crate::ctxt::Ctxt;

/// Entry point of `#[derive(RaftMetrics)]`.
pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let container = Container::from_ast(&cx, input);
    if let Some(container) = &container {
        crate::valid::check(&cx, container);
    }
    match (cx.check(), container) {
        (Ok(()), Some(container)) => expand(&container),
        // The names are checked in the fallback too, so one build reports every mistake.
        (Err(errors), Some(container)) => crate::fallback::expand(input, errors, name_checks(&container)),
        (Err(errors), None) => crate::fallback::expand(input, errors, TokenStream::new()),
        (Ok(()), None) => {
            crate::fallback::expand(input, syn::Error::new(Span::call_site(), "unsupported input"), TokenStream::new())
        }
    }
}

/// Compile-time checks of every name against the runtime's rules (`raft_metrics::name`, through
/// `__private::assert_*_name`), each spanned at the tokens that wrote the name: the rules live
/// once, in `const fn`s, and a bad name fails to compile at its attribute.
fn name_checks(c: &Container<'_>) -> TokenStream {
    let krate = &c.krate;
    let mut checks = TokenStream::new();
    if !c.namespace.is_empty() {
        let namespace = &c.namespace;
        let check = quote!(const _: () = #krate::__private::assert_metric_name(#namespace););
        checks.extend(respan(check, c.namespace_span));
    }
    let labels = c.labels.iter().chain(c.fields.iter().filter_map(|f| f.label.as_ref()));
    for label in labels {
        let name = unraw(&label.name);
        let check = quote!(const _: () = #krate::__private::assert_label_name(#name););
        checks.extend(respan(check, label.name.span()));
    }
    for field in &c.fields {
        let name = &field.name;
        let check = quote!(const _: () = #krate::__private::assert_metric_name(#name););
        checks.extend(respan(check, field.name_span));
    }
    checks
}

/// `tokens` with every span set to `span`. A const-eval panic is reported at the caller of a
/// `#[track_caller]` const fn, and rustc takes the macro call site when a call's tokens mix
/// spans; re-spanned, the call (crate path included) sits at the user's attribute.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                tree = TokenTree::Group(respanned);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

fn expand(c: &Container<'_>) -> TokenStream {
    let krate = &c.krate;
    let ident = c.ident;
    let vis = c.vis;
    let family = format_ident!("{}Family", ident);
    let local = format_ident!("{}Local", ident);
    let n_labels = c.labels.len();
    let n_fields = c.fields.len();
    let namespace = &c.namespace;
    let type_name = ident.to_string();

    let tys: Vec<_> = c.fields.iter().map(|f| f.ty).collect();
    // `<T as Metric>` spanned at each field's type, so a type that is not a metric is reported there.
    let spanned = |f: &Field<'_>, item: TokenStream| {
        let ty = qself(f.ty);
        quote_spanned!(f.ty.span()=> <#ty as #krate::__private::Metric>::#item)
    };
    let layout_tys: Vec<_> = c.fields.iter().map(|f| spanned(f, quote!(Layout))).collect();
    let kinds: Vec<_> = c.fields.iter().map(|f| spanned(f, quote!(KIND))).collect();
    let check_fns: Vec<_> = c.fields.iter().map(|f| spanned(f, quote!(check))).collect();
    let new_fns: Vec<_> = c.fields.iter().map(|f| spanned(f, quote!(new))).collect();
    let sample_fns: Vec<_> = c.fields.iter().map(|f| spanned(f, quote!(sample_control))).collect();
    let fields: Vec<_> = c.fields.iter().map(|f| f.ident).collect();
    let indices: Vec<_> = (0..c.fields.len()).map(syn::Index::from).collect();
    let layouts: Vec<_> = c.fields.iter().map(|f| layout(krate, f)).collect();
    let infos: Vec<_> = c.fields.iter().map(|f| info(krate, f)).collect();
    let schemas: Vec<_> = c.fields.iter().map(|f| schema(krate, f)).collect();
    let checks: Vec<_> = c.fields.iter().map(|f| type_checks(krate, f)).collect();
    let name_checks = name_checks(c);
    let label_checks = c.labels.iter().map(|l| {
        let ty = &l.ty;
        quote_spanned!(ty.span()=> const _: () = #krate::__private::assert_label_value::<#ty>();)
    });
    let label_names: Vec<_> = c.labels.iter().map(|l| unraw(&l.name)).collect();
    let labels_shape = labels_shape(c);
    let bind_doc = format!(
        "A handle on the series for {labels_shape}, taken as `Family::bind` takes them: records with no lookup."
    );
    let get_doc = format!(
        "The series for {labels_shape}, resolved on every call (no lock when it exists), pinned to its label set while the guard lives."
    );
    let claim_doc = format!(
        "The single-writer handle on the series for {labels_shape}; its `fields()` record without locked instructions."
    );
    let remove_doc =
        format!("Removes the series for {labels_shape} (say, a partition moved away); its handles stay valid.");
    let max_series = c.max_series.as_ref().map(|m| quote!(.max_series(#m)));
    let field_vis: Vec<_> = c.fields.iter().map(|f| f.vis).collect();
    let label_list = label_names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let family_doc = format!("The registered family of [`{ident}`]: binds label values ({label_list}) to series.");
    let local_doc =
        format!("Single-writer view of one [`{ident}`] series: every field records without locked instructions.");

    quote! {
        #[doc = #family_doc]
        #[derive(Clone, Debug)]
        #vis struct #family {
            family: #krate::__private::Family<#ident, #n_labels>,
        }

        #[doc = #local_doc]
        #[allow(missing_debug_implementations)]
        #vis struct #local<'a> {
            #( #[allow(missing_docs)] #field_vis #fields: #krate::__private::Local<'a, #tys>, )*
        }

        #[allow(unused_qualifications, clippy::all, clippy::pedantic)]
        const _: () = {
            #( #label_checks )*
            #name_checks
            #( #checks )*

            #[automatically_derived]
            impl #krate::__private::Group for #ident {
                type Layout = ( #( #layout_tys, )* );
                const KINDS: &'static [#krate::__private::MetricKind] = &[ #( #kinds ),* ];

                fn check(layout: &Self::Layout) -> #krate::__private::Result<(), #krate::__private::RegistrationError> {
                    #( #check_fns(&layout.#indices)?; )*
                    #krate::__private::Ok(())
                }

                fn new(layout: &Self::Layout) -> Self {
                    Self { #( #fields: #new_fns(&layout.#indices), )* }
                }

                fn reset(&self) {
                    #( #krate::__private::Metric::reset(&self.#fields); )*
                }

                fn encode(&self, layout: &Self::Layout, metric: usize, out: &mut #krate::__private::SeriesWriter<'_>) {
                    match metric {
                        #( #indices => #krate::__private::Metric::encode(&self.#fields, &layout.#indices, out), )*
                        _ => {}
                    }
                }

                fn sample_control(
                    layout: &Self::Layout,
                    metric: usize,
                ) -> #krate::__private::Option<&#krate::__private::Arc<#krate::__private::SampleControl>> {
                    match metric {
                        #( #indices => #sample_fns(&layout.#indices), )*
                        _ => #krate::__private::None,
                    }
                }
            }

            #[automatically_derived]
            impl #krate::__private::LocalFields for #ident {
                type Fields<'a> = #local<'a>;

                // Inline: a caller using one field of the view then builds only that field.
                #[inline]
                fn fields(local: #krate::__private::Local<'_, Self>) -> #local<'_> {
                    #local { #( #fields: local.project(|group| &group.#fields), )* }
                }
            }

            #[automatically_derived]
            impl #ident {
                /// The declared schema: names, kinds, HELP, units, labels, buckets, sampling.
                pub const SCHEMA: #krate::__private::Schema = #krate::__private::Schema {
                    type_name: #type_name,
                    namespace: #namespace,
                    labels: &[ #( #label_names ),* ],
                    metrics: &[ #( #schemas ),* ],
                };

                /// Registers every metric of this struct on `registry` under the default namespace.
                ///
                /// # Errors
                ///
                /// When a name is already registered there.
                #vis fn register(registry: &#krate::__private::Registry) -> #krate::__private::Result<#family, #krate::__private::RegistrationError> {
                    Self::register_with_namespace(registry, #namespace)
                }

                /// Registers every metric on the process-wide default registry.
                ///
                /// # Errors
                ///
                /// When a name is already registered there.
                #vis fn register_global() -> #krate::__private::Result<#family, #krate::__private::RegistrationError> {
                    Self::register(#krate::__private::Registry::global())
                }

                /// Registers every metric on `registry`, prefixed with `namespace` (empty: no prefix).
                ///
                /// # Errors
                ///
                /// When `namespace` makes an invalid name, or a name is already registered.
                #vis fn register_with_namespace(
                    registry: &#krate::__private::Registry,
                    namespace: &str,
                ) -> #krate::__private::Result<#family, #krate::__private::RegistrationError> {
                    let layout: <Self as #krate::__private::Group>::Layout = ( #( #layouts, )* );
                    let mut infos = #krate::__private::Vec::with_capacity(#n_fields);
                    #( infos.push(#infos); )*
                    let spec = #krate::__private::FamilySpec::<Self, #n_labels>::new(infos, [ #( #label_names ),* ], layout) #max_series;
                    #krate::__private::Ok(#family { family: registry.register(spec)? })
                }
            }

            #[automatically_derived]
            impl #family {
                #[doc = #bind_doc]
                #[inline]
                #vis fn bind(&self, labels: impl #krate::__private::LabelValues<#n_labels>) -> #krate::__private::Handle<#ident> {
                    self.family.bind(labels)
                }

                #[doc = #get_doc]
                #[inline]
                #vis fn get(&self, labels: impl #krate::__private::LabelValues<#n_labels>) -> #krate::Pinned<'_, #ident> {
                    self.family.get(labels)
                }

                #[doc = #claim_doc]
                ///
                /// # Errors
                ///
                /// When another single-writer handle owns the series, or the family is full.
                #vis fn claim(&self, labels: impl #krate::__private::LabelValues<#n_labels>) -> #krate::__private::Result<#krate::__private::Exclusive<#ident>, #krate::__private::ClaimError> {
                    self.family.claim(labels)
                }

                #[doc = #remove_doc]
                #vis fn remove(&self, labels: impl #krate::__private::LabelValues<#n_labels>) -> bool {
                    self.family.remove(labels)
                }

                /// The underlying family.
                #vis fn family(&self) -> &#krate::__private::Family<#ident, #n_labels> {
                    &self.family
                }
            }
        };
    }
}

/// How the family's methods take the label values, for their docs: `(topic, partition)` with
/// the declared types, a bare value for one label, `()` for none.
fn labels_shape(c: &Container<'_>) -> String {
    let typed: Vec<_> = c
        .labels
        .iter()
        .map(|l| {
            let ty = &l.ty;
            let ty = quote!(#ty).to_string();
            let ty = ty.replace("& ", "&").replace(" <", "<").replace("< ", "<").replace(" >", ">");
            format!("{}: {ty}", unraw(&l.name))
        })
        .collect();
    match typed.as_slice() {
        [] => "the one label set, `()`".to_owned(),
        [one] => format!("a label value (`{one}`, bare or as a 1-tuple)"),
        many => format!("the label values `({})`", many.join(", ")),
    }
}

fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map_or(text.clone(), str::to_owned)
}

/// The layout expression of one field: cell layout, then `Sampled`, then `ByLabel`.
fn layout(krate: &syn::Path, field: &Field<'_>) -> TokenStream {
    let p = quote!(#krate::__private);
    let mut layout = match (&field.buckets, field.kind) {
        (Some(buckets), Kind::Histogram) => {
            let bounds = bounds(&buckets.bounds);
            let resolution = match field.sum_resolution {
                Some(r) => {
                    let r = float(r);
                    quote!(#p::Some(#r))
                }
                None => quote!(#p::None),
            };
            quote!(#p::buckets(#bounds, #resolution)?)
        }
        _ => match &field.native {
            Some(native) => {
                let option = |v: Option<TokenStream>| v.map_or_else(|| quote!(#p::None), |v| quote!(#p::Some(#v)));
                let schema = option(native.schema.map(|v| quote!(#v)));
                let min = option(native.min_exp.map(|v| quote!(#v)));
                let max = option(native.max_exp.map(|v| quote!(#v)));
                quote!(#p::native_buckets(#schema, #min, #max)?)
            }
            None => quote!(()),
        },
    };
    if let Some((n, _)) = field.sample {
        let sampling = if n == 1 {
            quote!(#p::Sampling::All)
        } else {
            quote!(#p::NonZeroU32::new(#n).map_or(#p::Sampling::All, #p::Sampling::OneIn))
        };
        layout = quote!(#p::SampledLayout::new(#layout, #sampling));
    }
    if let Some(label) = &field.label {
        let name = unraw(&label.name);
        let ty = &label.ty;
        layout = quote!(#p::ByLabelLayout::<#ty, _>::new(#name, #layout)?);
    }
    layout
}

/// A `&[f64]` expression of the bounds: literals, or a reference to the user's const (a
/// `&[f64; N]` or `&&[f64]` that coerces).
fn bounds(bounds: &Bounds) -> TokenStream {
    match bounds {
        Bounds::Literal(bounds) => {
            let bounds = bounds.iter().map(|b| float(*b));
            quote!(&[ #( #bounds ),* ])
        }
        Bounds::Const(path) => quote!(&#path),
    }
}

/// An exact float literal: its bits, so no rounding happens between the macro and the binary.
fn float(v: f64) -> TokenStream {
    let bits = v.to_bits();
    quote!(f64::from_bits(#bits))
}

fn info(krate: &syn::Path, field: &Field<'_>) -> TokenStream {
    let p = quote!(#krate::__private);
    let name = &field.name;
    let help = &field.help;
    let unit = match field.unit.as_deref() {
        Some("seconds") => quote!(.with_unit(#p::Unit::Seconds)),
        Some("bytes") => quote!(.with_unit(#p::Unit::Bytes)),
        Some("ratio") => quote!(.with_unit(#p::Unit::Ratio)),
        _ => quote!(),
    };
    quote!(#p::MetricInfo::new(#p::metric_name(namespace, #name), #help) #unit)
}

fn schema(krate: &syn::Path, field: &Field<'_>) -> TokenStream {
    let p = quote!(#krate::__private);
    let name = &field.name;
    let help = &field.help;
    let kind = match field.kind {
        Kind::Counter => quote!(#p::MetricKind::Counter),
        Kind::Gauge => quote!(#p::MetricKind::Gauge),
        Kind::Histogram => quote!(#p::MetricKind::Histogram),
    };
    let unit = match &field.unit {
        Some(u) => quote!(#p::Some(#u)),
        None => quote!(#p::None),
    };
    let enum_label = match &field.label {
        Some(label) => {
            let name = unraw(&label.name);
            let ty = qself(&label.ty);
            quote!(#p::Some(#p::EnumLabelSchema { name: #name, values: <#ty as #p::EnumLabel>::VALUES }))
        }
        None => quote!(#p::None),
    };
    let buckets = field.buckets.as_ref().map_or_else(|| quote!(&[]), |b| bounds(&b.bounds));
    let sample = match field.sample {
        Some((n, _)) => quote!(#p::Some(#n)),
        None => quote!(#p::None),
    };
    quote! {
        #p::MetricSchema {
            name: #name,
            kind: #kind,
            help: #help,
            unit: #unit,
            enum_label: #enum_label,
            buckets: #buckets,
            sample: #sample,
        }
    }
}

/// Compile-time checks the type system can make better than the macro: label traits and the
/// sizes written in the field type, spanned at the field.
fn type_checks(krate: &syn::Path, field: &Field<'_>) -> TokenStream {
    let p = quote!(#krate::__private);
    let span = field.ty.span();
    let ty = qself(field.ty);
    let mut checks = TokenStream::new();
    match field.buckets.as_ref().map(|b| (&b.bounds, b.span)) {
        Some((Bounds::Literal(bounds), _)) => {
            let n = bounds.len();
            let message = format!("the field type's bucket count must equal the {n} bounds in `buckets`");
            checks.extend(
                quote_spanned!(span=> const _: () = ::core::assert!(<#ty as #p::Shape>::BUCKETS == #n, #message);),
            );
        }
        // The macro cannot see a const's values: the expansion checks length, finiteness and
        // order where the compiler can, spanned at the path in the attribute.
        Some((Bounds::Const(path), path_span)) => {
            let check = quote!(const _: () = #p::assert_bucket_bounds(&#path, <#ty as #p::Shape>::BUCKETS););
            checks.extend(respan(check, path_span));
        }
        None => {}
    }
    if let Some(label) = &field.label {
        let label_ty = &label.ty;
        let label_qself = qself(label_ty);
        let message = "the `ByLabel` size N must equal the number of values of the label type";
        checks.extend(quote_spanned!(label_ty.span()=> const _: () = #p::assert_enum_label::<#label_ty>();));
        checks.extend(quote_spanned!(span=>
            const _: () = ::core::assert!(<#ty as #p::Shape>::LABEL_VALUES == <#label_qself as #p::EnumLabel>::VALUES.len(), #message);
        ));
    }
    checks
}

/// `ty` for `<ty as Trait>`. Bounds (`A + B +`, a bare trait object, or `impl`/`dyn` types) are
/// parenthesized: after a trailing `+` a parser takes `as` for the next bound, and the expansion
/// would not parse. rustc then reports the type itself, at the user's tokens.
fn qself(ty: &syn::Type) -> TokenStream {
    match ty {
        syn::Type::TraitObject(_) | syn::Type::ImplTrait(_) => quote!((#ty)),
        _ => quote!(#ty),
    }
}

#[cfg(test)]
mod tests {
    /// The expansion of a representative struct, kept as a reviewed golden file. Rewrite it with
    /// `UPDATE_GOLDEN=1 cargo test -p raft-metrics-derive` and review the diff.
    #[test]
    fn golden_expansion() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let input = std::fs::read_to_string(dir.join("partition.input.rs")).unwrap();
        let input: syn::DeriveInput = syn::parse_str(&input).unwrap();
        let file: syn::File = syn::parse2(super::derive(&input)).unwrap();
        let actual = prettyplease::unparse(&file);
        let path = dir.join("partition.expanded.rs");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(expected == actual, "the expansion changed; rerun with UPDATE_GOLDEN=1 and review the diff");
    }

    /// Found by the `derive` fuzz target (`fuzz/regressions/derive-trait-object-label`): a label or
    /// field type with bounds (`Re+son+`) went into `<T as Trait>` unparenthesized, and the
    /// trailing `+` made the parser read `as` as a bound. The expansion must parse; rustc then
    /// rejects the type itself.
    #[test]
    fn types_with_bounds_expand_to_items() {
        for source in [
            "struct S { /// d\n #[metric(counter, label(reason: Re+son+))] c: ByLabel<R, Counter, 2> }",
            "struct S { /// d\n #[metric(counter, label(reason: dyn Re + Send))] c: ByLabel<R, Counter, 2> }",
            "struct S { /// d\n #[metric(counter)] c: Counter + Send + }",
            "struct S { /// d\n #[metric(histogram, buckets = [1.0])] h: impl Histogram + }",
        ] {
            let input: syn::DeriveInput = syn::parse_str(source).unwrap();
            let output = super::derive(&input);
            syn::parse2::<syn::File>(output).unwrap_or_else(|e| panic!("{source}: {e}"));
        }
    }

    /// Input that is not a RaftMetrics struct yields compile errors, never a panic.
    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        for source in [
            "enum E { A }",
            "struct S;",
            "struct S(u32);",
            "struct S<T> { #[metric(counter)] x: T }",
            "struct S { #[metric] x: Counter }",
            "struct S { #[metric(counter(nested))] x: Counter }",
            "struct S { #[metric(histogram, buckets = exponential(1.0, 0.5, 3))] x: Histogram<3> }",
            "struct S { #[metric(histogram, buckets = linear(1.0, 1.0, 100000))] x: Histogram<3> }",
            "#[raft_metrics(labels(x))] struct S { #[metric(counter)] x: Counter }",
            "#[raft_metrics(max_series = 0)] struct S { /// d\n #[metric(counter)] x: Counter }",
            "#[raft_metrics(labels(type: u8))] struct S { /// d\n #[metric(counter)] x: Counter }",
            "#[raft_metrics(labels(self: u8))] struct S { /// d\n #[metric(counter)] x: Counter }",
            "struct S { /// d\n #[metric(gauge, buckets = BOUNDS)] x: Gauge }",
            "struct S { /// d\n #[metric(histogram, native, buckets = BOUNDS)] x: NativeHistogram }",
            "struct S { /// d\n #[metric(histogram, buckets = BOUNDS(1))] x: Histogram<1> }",
        ] {
            let input: syn::DeriveInput = syn::parse_str(source).unwrap();
            let output = super::derive(&input).to_string();
            assert!(output.contains("compile_error"), "{source}: {output}");
        }
    }
}
