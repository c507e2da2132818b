// Found by the `derive` fuzz target in its first 10-minute run (input: base64 in
// `derive-trait-object-label`; replay with
// `base64 -d fuzz/regressions/derive-trait-object-label > /tmp/in && cargo fuzz run --sanitizer none derive /tmp/in`).
//
// `#[metric(counter, label(reason: Re+ectRe+son+))]`: syn reads the label type as a bare trait
// object with a trailing `+`, and expand.rs wrote it into `<Re + ectRe + son + as EnumLabel>`;
// after the trailing `+` the parser takes `as` for another bound ("expected identifier, found
// keyword `as`"), so the expansion was not Rust and rustc would report that inside macro output.
// Field types with bounds went into `<T as Metric>` the same way. Fix: expand.rs `qself`
// parenthesizes trait-object and `impl` types in qualified paths; rustc then rejects the type
// itself, at the user's tokens. The unit test is `expand::tests::types_with_bounds_expand_to_items`:
#[test]
fn types_with_bounds_expand_to_items() {
    for source in [
        "struct S { /// d\n #[metric(counter, label(reason: Re+son+))] c: ByLabel<R, Counter, 2> }",
        "struct S { /// d\n #[metric(counter)] c: Counter + Send + }",
    ] {
        let input: syn::DeriveInput = syn::parse_str(source).unwrap();
        let output = super::derive(&input);
        // failed: "expected identifier, found keyword `as`"
        syn::parse2::<syn::File>(output).unwrap_or_else(|e| panic!("{source}: {e}"));
    }
}
