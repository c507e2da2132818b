// Found by the `derive` fuzz target (input: base64 in `derive-keyword-label`; replay with
// `base64 -d fuzz/regressions/derive-keyword-label > /tmp/in && cargo fuzz run --sanitizer none derive /tmp/in`).
//
// `attr::LabelDecl` parses label names with `Ident::parse_any`, so `labels(type: u8)`,
// `labels(const: &str)` or `labels(self: u8)` are accepted, and expand.rs then emits the name as a
// parameter: `pub fn bind(&self, type: u8) -> ...`. The expansion is not valid Rust; rustc reports
// "expected identifier, found keyword `type`" inside macro output instead of a spanned error on the
// attribute. Either reject keywords in valid.rs (spanned at the name) or name the generated
// parameters `__label_0`, ... (or raw identifiers where allowed; `self`/`crate`/`super` cannot be raw).
// A unit test for raft-metrics-derive/src/expand.rs `mod tests`:
#[test]
fn keyword_label_names_expand_to_valid_rust_or_an_error() {
    for source in [
        "#[raft_metrics(labels(type: u8))] struct S { /// d\n #[metric(counter)] c: Counter }",
        "#[raft_metrics(labels(self: u8))] struct S { /// d\n #[metric(counter)] c: Counter }",
    ] {
        let input: syn::DeriveInput = syn::parse_str(source).unwrap();
        let output = super::derive(&input);
        // fails: "expected identifier" (the parameter list of `bind`)
        syn::parse2::<syn::File>(output).unwrap_or_else(|e| panic!("{source}: {e}"));
    }
}
