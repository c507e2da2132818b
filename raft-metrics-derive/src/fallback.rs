//! What the derive emits when the input has errors: the errors, plus the items other code names
//! (the family type and `register`), so a mistake reports once instead of cascading.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub(crate) fn expand(input: &syn::DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let ident = &input.ident;
    let vis = &input.vis;
    let family = format_ident!("{}Family", ident);
    quote! {
        #errors

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
