//! `asset!` with a path that is not an asset does not compile, and the error names the
//! closest asset paths. The UI cases include `generated/site.rs`: the code asset-build
//! generates for the fixture site (kept current by the `tests` crate).

#[test]
fn unknown_asset_paths_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
