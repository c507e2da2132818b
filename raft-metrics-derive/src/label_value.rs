//! `#[derive(LabelValue)]` on a fieldless enum: implements `EnumLabel`, so the enum indexes an
//! array of cells and needs no hashing.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ctxt::Ctxt;
use crate::symbol::{CRATE, LABEL, RENAME, RENAME_ALL};

pub(crate) fn derive(input: &syn::DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let mut rename_all = None;
    let mut krate: syn::Path = syn::parse_quote!(::raft_metrics);
    for attr in input.attrs.iter().filter(|a| a.path() == LABEL) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path == RENAME_ALL {
                let value: syn::LitStr = meta.value()?.parse()?;
                if !matches!(value.value().as_str(), "snake_case" | "lowercase" | "SCREAMING_SNAKE_CASE" | "kebab-case")
                {
                    cx.error_spanned_by(
                        &value,
                        "rename_all takes \"snake_case\", \"lowercase\", \"kebab-case\" or \"SCREAMING_SNAKE_CASE\"",
                    );
                }
                rename_all = Some(value.value());
            } else if meta.path == CRATE {
                krate = meta.value()?.call(syn::Path::parse_mod_style)?;
            } else {
                return Err(meta.error("unknown label attribute; expected `rename_all` or `crate`"));
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    let mut values = Vec::new();
    let mut variants = Vec::new();
    match &input.data {
        syn::Data::Enum(data) => {
            for variant in &data.variants {
                if !matches!(variant.fields, syn::Fields::Unit) {
                    cx.error_spanned_by(variant, "a label value enum has only unit variants");
                }
                let mut value = convert(&variant.ident.to_string(), rename_all.as_deref());
                for attr in variant.attrs.iter().filter(|a| a.path() == LABEL) {
                    let result = attr.parse_nested_meta(|meta| {
                        if meta.path == RENAME {
                            value = meta.value()?.parse::<syn::LitStr>()?.value();
                            Ok(())
                        } else {
                            Err(meta.error("unknown label attribute; expected `rename`"))
                        }
                    });
                    if let Err(e) = result {
                        cx.syn_error(e);
                    }
                }
                values.push(value);
                variants.push(&variant.ident);
            }
            if data.variants.is_empty() {
                cx.error_spanned_by(&input.ident, "a label value enum needs at least one variant");
            }
        }
        _ => cx.error_spanned_by(&input.ident, "#[derive(LabelValue)] applies to fieldless enums"),
    }
    if let Err(errors) = cx.check() {
        return errors.into_compile_error();
    }
    let ident = &input.ident;
    let indices = 0..variants.len();
    quote! {
        #[automatically_derived]
        impl #krate::__private::EnumLabel for #ident {
            const VALUES: &'static [&'static str] = &[ #( #values ),* ];
            #[inline]
            fn index(self) -> usize {
                match self { #( Self::#variants => #indices, )* }
            }
        }
    }
}

fn convert(ident: &str, rule: Option<&str>) -> String {
    let snake = || {
        let mut out = String::new();
        for (i, c) in ident.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        }
        out
    };
    match rule {
        Some("snake_case") => snake(),
        Some("SCREAMING_SNAKE_CASE") => snake().to_uppercase(),
        Some("kebab-case") => snake().replace('_', "-"),
        Some("lowercase") => ident.to_lowercase(),
        _ => ident.to_owned(),
    }
}
