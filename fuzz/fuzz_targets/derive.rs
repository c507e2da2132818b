//! Arbitrary bytes → UTF-8 → `syn::DeriveInput` → both derives' expansions, which must not panic:
//! whatever the input, the output is tokens (possibly a `compile_error!`).
//!
//! A proc-macro crate's functions cannot be called from another crate, so its modules are compiled
//! into this binary, at the crate root so that their `crate::` paths resolve. Only `lib.rs` (the
//! `proc_macro` entry points) is left out; every other module works on `proc_macro2` tokens, which
//! outside a compiler run use their own implementation.

#![no_main]
// The modules are written for the derive crate; what it uses through lib.rs only is unused here.
#![allow(dead_code, unused_imports, unused_qualifications, unreachable_pub)]

#[path = "../../raft-metrics-derive/src/ast.rs"]
mod ast;
#[path = "../../raft-metrics-derive/src/attr.rs"]
mod attr;
#[path = "../../raft-metrics-derive/src/ctxt.rs"]
mod ctxt;
#[path = "../../raft-metrics-derive/src/expand.rs"]
mod expand;
#[path = "../../raft-metrics-derive/src/fallback.rs"]
mod fallback;
#[path = "../../raft-metrics-derive/src/label_value.rs"]
mod label_value;
#[path = "../../raft-metrics-derive/src/symbol.rs"]
mod symbol;
#[path = "../../raft-metrics-derive/src/valid.rs"]
mod valid;

use libfuzzer_sys::fuzz_target;

/// Deeper bracket nesting than this is left out: syn parses nested groups recursively, and a
/// stack overflow there (rustc limits nesting long before) says nothing about the derive.
const MAX_NESTING: usize = 128;

fn nesting(source: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for c in source.chars() {
        match c {
            '(' | '[' | '{' | '<' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' | '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    if nesting(source) > MAX_NESTING {
        return;
    }
    let Ok(input) = syn::parse_str::<syn::DeriveInput>(source) else { return };
    let raft_metrics = expand::derive(&input);
    let label_value = label_value::derive(&input);
    // The output must be items the compiler can read back: render, re-lex and parse it.
    for (derive, tokens) in [("RaftMetrics", raft_metrics), ("LabelValue", label_value)] {
        let text = tokens.to_string();
        let relexed: proc_macro2::TokenStream =
            text.parse().unwrap_or_else(|e| panic!("{derive}: the expansion does not re-lex: {e}\n{text}"));
        if let Err(e) = syn::parse2::<syn::File>(relexed) {
            panic!("{derive}: the expansion is not a list of items: {e}\n{source}\n=>\n{text}");
        }
    }
});
