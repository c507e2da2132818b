//! Every schema mistake is a compile error with a precise span and a message that says how to fix
//! it. Each file in tests/ui makes one mistake; its .stderr is reviewed. Regenerate with
//! `TRYBUILD=overwrite cargo test --test compiletest` on the pinned toolchain and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
