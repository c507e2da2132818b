//! Implementation detail of `raft-metrics`: see `raft_metrics::RaftMetrics` for the documentation.
//!
//! Data flows one way: attribute syntax (`attr`) → validated model (`ast`, `valid`) →
//! tokens (`expand`). Errors are collected (`ctxt`) so one build reports all of them.

#![forbid(unsafe_code)]
#![allow(clippy::module_name_repetitions, clippy::too_many_lines, clippy::needless_pass_by_value)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod label_value;
mod symbol;
mod valid;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// See `raft_metrics::RaftMetrics`.
#[proc_macro_derive(RaftMetrics, attributes(raft_metrics, metric))]
pub fn derive_raft_metrics(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// See `raft_metrics::LabelValue`.
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    label_value::derive(&input).into()
}
