//! What the derive emits when the input has errors: the errors, the compile-time name checks
//! (so a bad name is reported in the same build), plus the items other code names (the family
//! type and `register`), so a mistake reports once instead of cascading.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub(crate) fn expand(input: &syn::DeriveInput, errors: syn::Error, name_checks: TokenStream) -> TokenStream {
    let errors = errors.into_compile_error();
    let ident = &input.ident;
    let vis = &input.vis;
    let family = format_ident!("{}Family", ident);
    let name_checks = (!name_checks.is_empty()).then(|| {
        quote! {
            #[allow(unused_qualifications)]
            const _: () = { #name_checks };
        }
    });
    quote! {
        #errors

        #name_checks

        #[allow(missing_docs, missing_debug_implementations, dead_code)]
        #vis struct #family;

        #[allow(dead_code)]
        impl #ident {
            #vis fn register<R>(_registry: &R) -> ::core::result::Result<#family, ::core::convert::Infallible> {
                ::core::result::Result::Ok(#family)
            }
        }
    }
}
