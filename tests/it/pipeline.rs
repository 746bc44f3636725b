//! The build pipeline over the fixture site and the bad-input fixtures.

use std::path::Path;

use asset_build::{Config, CssImports, Error, Missing};
use tests::{copy_tree, fixture, read_tree};

fn build(source: &Path, out: &Path, adjust: impl FnOnce(Config) -> Config) -> asset_build::Output {
    asset_build::run(&adjust(Config::new(source, out))).unwrap_or_else(|e| panic!("{e}"))
}

fn problems(name: &str, adjust: impl FnOnce(Config) -> Config) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    let source = fixture(&format!("bad/{name}"));
    match asset_build::run(&adjust(Config::new(&source, out.path()))) {
        Ok(_) => panic!("{name} built without an error"),
        Err(Error::Assets(p)) => {
            let prefix = format!("{}/", source.display());
            p.iter()
                .map(|p| p.to_string().replace(&prefix, ""))
                .collect()
        }
        Err(e) => panic!("{name}: not an asset error: {e}"),
    }
}

fn text_outputs(out: &Path) -> Vec<(String, String)> {
    read_tree(out)
        .into_iter()
        .filter(|(p, _)| {
            [".css", ".js", ".mjs", ".map"]
                .iter()
                .any(|e| p.ends_with(e))
        })
        .map(|(p, b)| (p, String::from_utf8(b).unwrap()))
        .collect()
}

#[test]
fn site_manifest_code_and_outputs_snapshot() {
    let out = tempfile::tempdir().unwrap();
    let output = build(&fixture("site"), out.path(), |c| c);
    insta::assert_snapshot!(
        "site_manifest",
        String::from_utf8(output.manifest.to_json()).unwrap()
    );
    insta::assert_snapshot!(
        "site_generated_code",
        asset_build::generate_code(&output.manifest, true)
    );
    for (path, text) in text_outputs(out.path()) {
        // Names without the hash, so a change shows as a diff rather than a new snapshot.
        let logical = output
            .manifest
            .assets
            .iter()
            .find(|(_, e)| e.path == path)
            .map(|(l, _)| l.clone())
            .unwrap();
        insta::assert_snapshot!(format!("site_out__{}", logical.replace('/', "__")), text);
    }
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn inlined_imports_rebase_their_urls() {
    let out = tempfile::tempdir().unwrap();
    let output = build(&fixture("site"), out.path(), |c| {
        c.css_imports(CssImports::Inline)
    });
    let app = &output.manifest.assets["css/app.css"];
    let text = std::fs::read_to_string(out.path().join(&app.path)).unwrap();
    let logo = &output.manifest.assets["img/logo.png"].path;
    let card_rule = format!(".card{{background:url(../{logo})");
    assert!(
        text.contains(&card_rule),
        "card.css inlined with its url rebased: {text}"
    );
    assert!(
        text.starts_with("@import \"https://fonts.example.com/remote.css\";"),
        "remote @import kept first: {text}"
    );
    assert!(
        text.contains("@media print{"),
        "conditional import wrapped: {text}"
    );
    assert!(
        !text.contains("@import \"./"),
        "no local @import left: {text}"
    );
    insta::assert_snapshot!("site_inline_app_css", text);
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn builds_are_byte_identical_across_paths_threads_and_cache() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let moved = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    copy_tree(&fixture("site"), &moved.path().join("elsewhere"));
    build(&fixture("site"), a.path(), |c| c.jobs(1));
    build(&moved.path().join("elsewhere"), b.path(), |c| {
        c.jobs(4).cache_dir(cache.path())
    });
    let first = read_tree(a.path());
    assert_eq!(first, read_tree(b.path()));
    // And again from the cache.
    let c = tempfile::tempdir().unwrap();
    build(&fixture("site"), c.path(), |c| c.cache_dir(cache.path()));
    assert_eq!(first, read_tree(c.path()));
}

#[test]
fn an_unchanged_tree_is_neither_minified_nor_compressed_again() {
    let cache = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    copy_tree(&fixture("site"), site.path());
    settle();
    let out = tempfile::tempdir().unwrap();
    let cold = build(site.path(), out.path(), |c| c.cache_dir(cache.path()));
    assert!(cold.stats.transformed > 0 && cold.stats.compressed > 0);
    assert_eq!(
        (cold.stats.transform_cached, cold.stats.compress_cached),
        (0, 0)
    );

    let warm = build(site.path(), out.path(), |c| c.cache_dir(cache.path()));
    assert_eq!((warm.stats.transformed, warm.stats.compressed), (0, 0));
    assert_eq!(
        warm.stats.reused, warm.stats.files,
        "unchanged files are not even read"
    );
    assert_eq!(warm.manifest, cold.manifest);

    // With the run state gone, the content cache still saves every minify and compress.
    std::fs::remove_dir_all(cache.path().join("state")).unwrap();
    let warm = build(site.path(), out.path(), |c| c.cache_dir(cache.path()));
    assert_eq!((warm.stats.transformed, warm.stats.compressed), (0, 0));
    assert_eq!(warm.stats.transform_cached, cold.stats.transformed);

    // One changed file: it alone is transformed; it and what refers to it are compressed.
    std::fs::write(site.path().join("js/util.mjs"), "export const VERSION = \"2.0\";\nexport function greet(n) { return n; }\nexport function shout(t) { return t; }\n").unwrap();
    let one = build(site.path(), out.path(), |c| c.cache_dir(cache.path()));
    assert_eq!(one.stats.transformed, 1);
    assert!(
        one.stats.compressed <= 4,
        "util.mjs and app.mjs, br and gzip: {:?}",
        one.stats
    );
    assert_ne!(
        one.manifest.assets["js/app.mjs"].path, cold.manifest.assets["js/app.mjs"].path,
        "the importer's hash follows"
    );
    assert_eq!(
        one.manifest.assets["css/app.css"].path,
        cold.manifest.assets["css/app.css"].path
    );
    // The old files are gone from the output tree.
    assert!(
        !out.path()
            .join(&cold.manifest.assets["js/util.mjs"].path)
            .exists()
    );
}

/// Waits out the clock tick of file times, so that files written just now count as
/// settled when the next build starts (younger ones are always re-read).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(60));
}

#[test]
fn incremental_builds_match_full_builds() {
    let cache = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    copy_tree(&fixture("site"), site.path());
    let out = tempfile::tempdir().unwrap();
    let with_maps = |c: Config| c.source_maps(true);
    let incremental = || {
        build(site.path(), out.path(), |c| {
            with_maps(c).cache_dir(cache.path())
        })
    };
    // The same source tree built from nothing, without cache or state.
    let full = || {
        let fresh = tempfile::tempdir().unwrap();
        build(site.path(), fresh.path(), with_maps);
        read_tree(fresh.path())
    };
    settle();
    incremental();
    let p = site.path();
    type Edit<'a> = (&'static str, Box<dyn Fn() + 'a>);
    let edits: Vec<Edit> = vec![
        (
            "an image a stylesheet uses",
            Box::new(|| {
                std::fs::write(
                    p.join("img/logo.png"),
                    b"\x89PNG\r\n\x1a\nnot the same image",
                )
                .unwrap()
            }),
        ),
        (
            "a module in an import cycle",
            Box::new(|| {
                let f = p.join("js/cycle-b.mjs");
                let mut text = std::fs::read_to_string(&f).unwrap();
                text.push_str("\nexport const added = 42;\n");
                std::fs::write(f, text).unwrap();
            }),
        ),
        (
            "an @imported stylesheet",
            Box::new(|| {
                let f = p.join("css/components/card.css");
                let mut text = std::fs::read_to_string(&f).unwrap();
                text.push_str("\n.card-extra { color: #123456; }\n");
                std::fs::write(f, text).unwrap();
            }),
        ),
        (
            "a module, back as it was",
            Box::new(|| {
                std::fs::copy(fixture("site/js/cycle-b.mjs"), p.join("js/cycle-b.mjs")).unwrap();
            }),
        ),
        (
            "a new file",
            Box::new(|| std::fs::write(p.join("img/new.svg"), "<svg/>").unwrap()),
        ),
        (
            "a removed file",
            Box::new(|| std::fs::remove_file(p.join("img/new.svg")).unwrap()),
        ),
        (
            "an output file deleted",
            Box::new(|| {
                let m = asset_build::Manifest::from_json(
                    &std::fs::read(out.path().join("manifest.json")).unwrap(),
                )
                .unwrap();
                std::fs::remove_file(out.path().join(&m.assets["img/bg.svg"].path)).unwrap();
            }),
        ),
    ];
    for (k, (what, edit)) in edits.into_iter().enumerate() {
        edit();
        let o = incremental();
        assert_eq!(read_tree(out.path()), full(), "after changing {what}");
        // Edits to existing sources redo only their part; the others are whole runs.
        assert_eq!(o.stats.reused > 0, k < 4, "{what}: {:?}", o.stats);
        assert!(
            o.stats.reused < o.stats.files,
            "{what}: something was redone"
        );
        settle();
        let again = incremental();
        assert_eq!(
            (again.stats.reused, again.stats.files),
            (again.stats.files, o.stats.files),
            "{what}: the run after it reuses everything"
        );
        assert_eq!(again.manifest, o.manifest, "{what}");
    }
}

#[test]
fn es_module_cycles_share_one_hash() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("site"), out.path(), |c| c).manifest;
    let hash = |p: &str| m.assets[p].path.split('.').nth(1).unwrap().to_owned();
    assert_eq!(hash("js/cycle-a.mjs"), hash("js/cycle-b.mjs"));
    assert_ne!(hash("js/cycle-a.mjs"), hash("js/util.mjs"));
}

#[test]
fn precompressed_variants_only_where_smaller_and_for_text() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("site"), out.path(), |c| c).manifest;
    assert!(
        m.assets["img/logo.png"].encodings.is_empty(),
        "png is not compressed"
    );
    assert!(
        m.assets["fonts/site.woff2"].encodings.is_empty(),
        "woff2 is not compressed"
    );
    for (path, e) in &m.assets {
        for (tok, v) in &e.encodings {
            assert!(v.size < e.size, "{path} {tok} is smaller");
        }
    }
    assert!(
        m.assets["css/app.css"]
            .encodings
            .contains_key(&asset_build::Encoding::Br)
    );
}

#[test]
fn minification_off_ships_files_as_written_with_rewritten_references() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("site"), out.path(), |c| c.minify(false)).manifest;
    let util = std::fs::read(out.path().join(&m.assets["js/util.mjs"].path)).unwrap();
    assert_eq!(util, std::fs::read(fixture("site/js/util.mjs")).unwrap());
    let app = std::fs::read_to_string(out.path().join(&m.assets["js/app.mjs"].path)).unwrap();
    assert!(app.contains("// This comment is not a licence"), "{app}");
    assert!(
        app.contains(&format!(
            "from \"./{}\"",
            m.assets["js/util.mjs"].path.trim_start_matches("js/")
        )),
        "{app}"
    );
}

#[test]
fn source_map_references_point_at_the_hashed_map() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("site"), out.path(), |c| c).manifest;
    let lib =
        std::fs::read_to_string(out.path().join(&m.assets["vendor/lib.min.js"].path)).unwrap();
    let map = m.assets["vendor/lib.min.js.map"]
        .path
        .trim_start_matches("vendor/");
    assert!(
        lib.ends_with(&format!("//# sourceMappingURL=./{map}\n")),
        "{lib}"
    );
}

#[test]
fn malformed_js_names_file_line_and_column() {
    assert_eq!(
        problems("malformed-js", |c| c),
        ["js/broken.js:4:3: cannot use a reserved word as a shorthand property"]
    );
}

#[test]
fn missing_url_target_names_both_files() {
    assert_eq!(
        problems("missing-target", |c| c),
        [
            "css/app.css:3:19: url() `../img/missing.png` points at `img/missing.png`, which is not an asset"
        ]
    );
}

#[test]
fn missing_url_target_can_be_a_warning() {
    let out = tempfile::tempdir().unwrap();
    let output = build(&fixture("bad/missing-target"), out.path(), |c| {
        c.missing(Missing::Warn)
    });
    assert_eq!(output.warnings.len(), 1);
    let css = std::fs::read_to_string(out.path().join(&output.manifest.assets["css/app.css"].path))
        .unwrap();
    assert!(
        css.contains("url(../img/missing.png)"),
        "left as written: {css}"
    );
}

#[test]
fn import_cycle_is_an_error_naming_the_cycle() {
    assert_eq!(
        problems("import-cycle", |c| c),
        ["css/a.css: @import cycle: css/a.css -> css/b.css -> css/c.css -> css/a.css"]
    );
}

#[test]
fn symlink_leaving_the_root_is_refused() {
    let p = problems("symlink-escape", |c| c);
    assert_eq!(p.len(), 1);
    assert!(
        p[0].starts_with("css/outside.css: symbolic link to ")
            && p[0].ends_with("leaves the asset directory"),
        "{p:?}"
    );
}

#[test]
fn reference_leaving_the_root_is_refused() {
    assert_eq!(
        problems("escapes-root", |c| c),
        ["css/app.css:1:22: url() `../../outside.png` leaves the asset directory"]
    );
}

#[test]
fn empty_file_is_an_error_unless_allowed() {
    assert_eq!(
        problems("empty-file", |c| c),
        ["css/empty.css:1:1: empty file (set allow-empty to ship empty files)"]
    );
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("bad/empty-file"), out.path(), |c| {
        c.allow_empty(true)
    })
    .manifest;
    assert_eq!(m.assets["css/empty.css"].size, 0);
}

#[test]
fn non_utf8_css_names_the_first_bad_byte() {
    assert_eq!(
        problems("non-utf8-css", |c| c),
        ["css/latin1.css:2:19: not valid UTF-8 (save the file as UTF-8)"]
    );
}

#[test]
fn every_broken_file_is_reported_in_one_run() {
    assert_eq!(
        problems("many-errors", |c| c),
        [
            "css/one.css:2:22: url() `nope.png` points at `css/nope.png`, which is not an asset",
            "css/two.css:1:11: unexpected end of input",
            "js/three.js:1:9: expression expected",
        ]
    );
}

#[test]
fn odd_file_names_resolve_and_are_encoded() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("bad/odd-names"), out.path(), |c| c).manifest;
    let css = std::fs::read_to_string(out.path().join(&m.assets["css/app.css"].path)).unwrap();
    for (logical, encoded) in [
        ("img/sp ace.png", "sp%20ace"),
        ("img/über.png", "%C3%BCber"),
        ("img/hash#tag.png", "hash%23tag"),
        ("img/what?now.png", "what%3Fnow"),
    ] {
        assert!(m.assets.contains_key(logical), "{logical}");
        assert!(
            css.contains(&format!("url(../img/{encoded}.")),
            "{encoded} in {css}"
        );
    }
    assert!(
        css.contains(".png#frag)") && css.contains(".png?q=1)"),
        "{css}"
    );
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn writing_into_a_foreign_directory_is_refused() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("precious.txt"), "keep").unwrap();
    let e = asset_build::run(&Config::new(fixture("site"), out.path())).unwrap_err();
    assert!(e.to_string().contains("refusing to write"), "{e}");
    assert!(out.path().join("precious.txt").exists());
}

/// `asset-runtime/tests/generated/site.rs` is what codegen makes of the fixture site (without
/// embedding): the runtime's compile tests include it. Rewritten when it differs, and then
/// this test fails so the change is seen and committed.
#[test]
fn runtime_test_fixture_code_is_current() {
    let out = tempfile::tempdir().unwrap();
    let output = build(&fixture("site"), out.path(), |c| c.embed(false));
    let code = asset_build::generate_code(&output.manifest, false);
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../asset-runtime/tests/generated/site.rs");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(code.as_str()) {
        std::fs::write(&path, &code).unwrap();
        panic!(
            "{} was out of date and has been rewritten: review and commit it",
            path.display()
        );
    }
}

#[test]
fn source_maps_are_their_own_hashed_assets_and_survive_the_rewriting() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("site"), out.path(), |c| c.source_maps(true)).manifest;
    for logical in ["js/app.mjs", "css/app.css"] {
        let code = std::fs::read_to_string(out.path().join(&m.assets[logical].path)).unwrap();
        let map_entry = &m.assets[&format!("{logical}.map")];
        let name = map_entry.path.rsplit('/').next().unwrap();
        assert!(
            code.ends_with(&format!("sourceMappingURL=./{name}"))
                || code.ends_with(&format!("sourceMappingURL=./{name} */")),
            "{code}"
        );
        let map: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join(&map_entry.path)).unwrap())
                .unwrap();
        assert_eq!(map["sources"][0], logical.rsplit('/').next().unwrap());
        assert!(map["sourcesContent"][0].as_str().unwrap().len() > 100);
        assert!(map.get("file").is_none());
    }
    // `"world"` comes after three rewritten import specifiers on the one minified line: its
    // mapping must still lead back to line 8 of the source, where it is written.
    let code = std::fs::read_to_string(out.path().join(&m.assets["js/app.mjs"].path)).unwrap();
    let map: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join(&m.assets["js/app.mjs.map"].path)).unwrap(),
    )
    .unwrap();
    let col = code.find("\"world\"").unwrap() as i64;
    let segments = tests::decode_mappings(map["mappings"].as_str().unwrap());
    let hit = segments
        .iter()
        .find(|s| s.0 == 0 && s.1 == col)
        .unwrap_or_else(|| panic!("a mapping at column {col}: {segments:?}"));
    let source = std::fs::read_to_string(fixture("site/js/app.mjs")).unwrap();
    let (line, text) = source
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("\"world\""))
        .unwrap();
    assert_eq!(
        (hit.2, hit.3),
        (line as i64, text.find("\"world\"").unwrap() as i64)
    );
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

/// A stylesheet with relative url()s in custom properties, `@property` and an unknown at-rule,
/// and another that `@import`s it from a different directory.
fn custom_property_site() -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| tests::write_file(site.path(), p, text);
    w(
        "css/images/close.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    );
    w(
        "css/icons.css",
        ":root {\n  --icon: url(images/close.svg);\n  --mark: url(\"./images/close.svg?v=2#x\");\n  --shadow: linear-gradient(red, blue), url(images/close.svg);\n}\n.close { background: var(--icon); }\n@property --bg { syntax: \"<url>\"; inherits: false; initial-value: url(images/close.svg); }\n",
    );
    w(
        "app.css",
        "@import \"css/icons.css\";\nbody { color: red; }\n",
    );
    site
}

#[test]
fn urls_in_custom_properties_keep_their_path_and_get_the_hashed_name() {
    let site = custom_property_site();
    let out = tempfile::tempdir().unwrap();
    let output = build(site.path(), out.path(), |c| c);
    let svg = &output.manifest.assets["css/images/close.svg"].path;
    let name = svg.rsplit('/').next().unwrap();
    let icons = &output.manifest.assets["css/icons.css"].path;
    let text = std::fs::read_to_string(out.path().join(icons)).unwrap();
    // Only the name changes: the path resolves as before wherever the var() is used.
    assert!(
        text.contains(&format!("--icon:url(images/{name})")),
        "{text}"
    );
    assert!(
        text.contains(&format!("--mark:url(./images/{name}?v=2#x)")),
        "{text}"
    );
    assert!(text.contains(&format!("url(images/{name})}}")), "{text}");
    assert!(
        text.contains(&format!("initial-value:url(./images/{name})")),
        "{text}"
    );
    assert!(output.warnings.is_empty(), "{:?}", output.warnings);
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn inlining_a_custom_property_url_rewrites_it_for_its_new_place_with_a_warning() {
    let site = custom_property_site();
    let out = tempfile::tempdir().unwrap();
    let output = build(site.path(), out.path(), |c| {
        c.css_imports(CssImports::Inline)
    });
    let svg = &output.manifest.assets["css/images/close.svg"].path;
    let app = &output.manifest.assets["app.css"].path;
    let text = std::fs::read_to_string(out.path().join(app)).unwrap();
    assert!(text.contains(&format!("--icon:url(./{svg})")), "{text}");
    let prefix = format!("{}/", site.path().display());
    let warnings: Vec<String> = output
        .warnings
        .iter()
        .map(|w| w.to_string().replace(&prefix, ""))
        .collect();
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings[0].starts_with(
            "css/icons.css:2:15: url() `images/close.svg` in a custom property is inlined"
        ),
        "{warnings:#?}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_reported_at_once() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("css/deeper")).unwrap();
    std::fs::write(site.path().join("css/app.css"), "a{color:red}").unwrap();
    std::os::unix::fs::symlink("..", site.path().join("css/deeper/up")).unwrap();
    std::os::unix::fs::symlink(".", site.path().join("css/self")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let e = asset_build::run(&Config::new(site.path(), out.path())).unwrap_err();
    let prefix = format!("{}/", site.path().display());
    let Error::Assets(p) = e else { panic!("{e}") };
    let p: Vec<String> = p
        .iter()
        .map(|p| p.to_string().replace(&prefix, ""))
        .collect();
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(
        p[0].starts_with("css/deeper/up: symbolic link loop: points at "),
        "{p:#?}"
    );
    assert!(p[1].starts_with("css/self: symbolic link loop"), "{p:#?}");
}

/// Every asset's name and integrity describe the bytes served under it.
fn assert_names_are_hashes_of_bytes(out: &Path, m: &asset_build::Manifest) {
    use base64::Engine as _;
    use sha2::Digest as _;
    for (logical, e) in &m.assets {
        let bytes = std::fs::read(out.join(&e.path)).unwrap();
        let sha = sha2::Sha384::digest(&bytes);
        let integrity = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(sha)
        );
        assert_eq!(e.integrity, integrity, "{logical}");
        assert_eq!(bytes.len() as u64, e.size, "{logical}");
    }
    assert_eq!(asset_build::check_tree(out).unwrap(), Vec::<String>::new());
}

#[test]
fn a_comment_only_edit_in_a_module_cycle_with_source_maps_renames_the_cycle() {
    let site = tempfile::tempdir().unwrap();
    copy_tree(&fixture("site"), site.path());
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let with_maps = |c: Config| c.source_maps(true).cache_dir(cache.path());
    let before = build(site.path(), out.path(), with_maps).manifest;
    let b = site.path().join("js/cycle-b.mjs");
    let text = std::fs::read_to_string(&b).unwrap();
    std::fs::write(&b, format!("// a comment, nothing else\n{text}")).unwrap();
    settle();
    let after = build(site.path(), out.path(), with_maps).manifest;
    for logical in ["js/cycle-a.mjs", "js/cycle-b.mjs"] {
        assert_ne!(
            before.assets[logical].path, after.assets[logical].path,
            "{logical}: its bytes changed (the map it names), so must its name"
        );
    }
    assert_names_are_hashes_of_bytes(out.path(), &after);
    // And a build from scratch gives the same tree.
    let fresh = tempfile::tempdir().unwrap();
    let again = build(site.path(), fresh.path(), |c| c.source_maps(true)).manifest;
    assert_eq!(again, after);
}

#[test]
fn inlined_imports_keep_their_layer_and_the_cascade_order() {
    let site = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| tests::write_file(site.path(), p, text);
    w("css/base.css", "a { color: red }\n");
    w("css/theme.css", "b { color: blue }\n");
    w(
        "layers.css",
        "@import \"css/base.css\" layer(base);\n@import url(css/theme.css) layer;\nc { color: green }\n",
    );
    w(
        "order.css",
        "@import \"css/base.css\";\n@import \"https://cdn.example.com/x.css\";\n@import \"css/theme.css\";\nd { color: black }\n",
    );
    let out = tempfile::tempdir().unwrap();
    let m = build(site.path(), out.path(), |c| {
        c.css_imports(CssImports::Inline)
    })
    .manifest;
    let read =
        |logical: &str| std::fs::read_to_string(out.path().join(&m.assets[logical].path)).unwrap();
    assert_eq!(
        read("layers.css"),
        "@layer base{a{color:red}}@layer{b{color:#00f}}c{color:green}"
    );
    // base.css comes before a remote import that must stay an @import: inlining it would
    // move it after that import. It stays an @import; theme.css, after it, is inlined.
    let base = &m.assets["css/base.css"].path;
    assert_eq!(
        read("order.css"),
        format!(
            "@import \"./{base}\";@import \"https://cdn.example.com/x.css\";b{{color:#00f}}d{{color:#000}}"
        )
    );
}

#[test]
fn escapes_print_without_their_spare_space_and_the_map_stays_true() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("css")).unwrap();
    std::fs::write(
        site.path().join("css/e.css"),
        ".\\32xl\\:p-4 { padding: 1rem }\n.\\31 0 { margin: 0 }\n.b { color: red }\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let m = build(site.path(), out.path(), |c| c.source_maps(true)).manifest;
    let code = std::fs::read_to_string(out.path().join(&m.assets["css/e.css"].path)).unwrap();
    assert!(
        code.starts_with(".\\32xl\\:p-4{padding:1rem}.\\31 0{margin:0}"),
        "{code}"
    );
    let map: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join(&m.assets["css/e.css.map"].path)).unwrap(),
    )
    .unwrap();
    let segments = tests::decode_mappings(map["mappings"].as_str().unwrap());
    for (rule, line) in [(".\\31 0{", 1), (".b{", 2)] {
        let col = code.find(rule).unwrap() as i64;
        let hit = segments.iter().find(|s| s.0 == 0 && s.1 == col);
        assert_eq!(
            hit.map(|s| (s.2, s.3)),
            Some((line, 0)),
            "`{rule}` at column {col}: {segments:?} in {code}"
        );
    }
}

#[test]
fn css_source_map_columns_count_utf16_units_after_non_ascii_text() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("css")).unwrap();
    std::fs::write(
        site.path().join("css/u.css"),
        ".a::before { content: \"éèê — 🙂\" }\n.b { color: red }\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let m = build(site.path(), out.path(), |c| c.source_maps(true)).manifest;
    let code = std::fs::read_to_string(out.path().join(&m.assets["css/u.css"].path)).unwrap();
    let map: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join(&m.assets["css/u.css.map"].path)).unwrap(),
    )
    .unwrap();
    let byte = code.find(".b{").unwrap();
    let col = code[..byte].encode_utf16().count() as i64;
    let segments = tests::decode_mappings(map["mappings"].as_str().unwrap());
    let hit = segments.iter().find(|s| s.0 == 0 && s.1 == col);
    assert_eq!(
        hit.map(|s| (s.2, s.3)),
        Some((1, 0)),
        "`.b` at UTF-16 column {col} maps to line 2, column 1: {segments:?} in {code}"
    );
}

/// What `asset_build`'s brotli makes at `quality`: mbrotli, the window sized to the input.
fn brotli_len(bytes: &[u8], quality: u8) -> u64 {
    let mut bits = 10;
    while bits < 24 && (1usize << bits) - 16 < bytes.len() {
        bits += 1;
    }
    let config = mbrotli::EncoderConfig::default()
        .with_quality(mbrotli::Quality::try_from(quality).unwrap())
        .with_window(mbrotli::Window::standard(bits).unwrap());
    let out = mbrotli::Compressor::new(config)
        .unwrap()
        .compress(bytes)
        .unwrap();
    out.len() as u64
}

#[test]
fn variants_decode_with_node_at_every_quality_the_pipeline_picks() {
    let site = tempfile::tempdir().unwrap();
    let root = site.path();
    // Over 128 KiB after minifying (quality 10), a large font (9), a small stylesheet (11).
    let words: Vec<String> = (0..20000)
        .map(|i| format!("\"w{}-{}\"", i * 7919 % 10007, i % 13))
        .collect();
    let js = format!("window.words = [{}];\n", words.join(","));
    std::fs::create_dir_all(root.join("js")).unwrap();
    std::fs::write(root.join("js/big.js"), &js).unwrap();
    let mut seed = 0x2545_f491_u64;
    let mut font = Vec::new();
    while font.len() < 200_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let glyph = (seed >> 33).to_le_bytes();
        font.extend_from_slice(&glyph[..(seed % 5) as usize]);
        font.extend_from_slice(b"\0\x01glyf\0\0");
    }
    std::fs::create_dir_all(root.join("fonts")).unwrap();
    std::fs::write(root.join("fonts/icons.ttf"), &font).unwrap();
    let css: String = (0..80)
        .map(|i| {
            format!(
                ".c{i} {{ margin: {i}px auto; color: #{:06x} }}\n",
                i * 40503
            )
        })
        .collect();
    tests::write_file(root, "css/small.css", &css);
    let out = tempfile::tempdir().unwrap();
    let m = build(root, out.path(), |c| c).manifest;

    let built = |logical: &str| std::fs::read(out.path().join(&m.assets[logical].path)).unwrap();
    let br = |logical: &str| {
        m.assets[logical]
            .encodings
            .get(&asset_build::Encoding::Br)
            .unwrap_or_else(|| panic!("{logical}: {:?}", m.assets[logical]))
            .size
    };
    let js_out = built("js/big.js");
    assert!(js_out.len() > 128 * 1024, "{} bytes", js_out.len());
    assert_eq!(
        br("js/big.js"),
        brotli_len(&js_out, 10),
        "large text: quality 10"
    );
    assert_ne!(brotli_len(&js_out, 10), brotli_len(&js_out, 11));
    assert_eq!(
        br("fonts/icons.ttf"),
        brotli_len(&font, 9),
        "large font: 9, never 10"
    );
    assert_ne!(brotli_len(&font, 9), brotli_len(&font, 10));
    let css_out = built("css/small.css");
    assert_eq!(
        br("css/small.css"),
        brotli_len(&css_out, 11),
        "small: quality 11"
    );

    // Google's decoders (node's zlib) give back every file byte for byte.
    let mut checks = Vec::new();
    for e in m.assets.values() {
        for v in e.encodings.values() {
            checks.push(serde_json::json!([v.path, e.sha256]));
        }
    }
    assert_eq!(checks.len(), 6, "br and gzip of each: {checks:?}");
    let script = format!(
        "const fs = require('fs'), z = require('zlib'), c = require('crypto');
         for (const [p, want] of {}) {{
           const packed = fs.readFileSync(p);
           const bytes = p.endsWith('.br') ? z.brotliDecompressSync(packed) : z.gunzipSync(packed);
           const got = c.createHash('sha256').update(bytes).digest('hex');
           if (got !== want) throw new Error(p + ' decodes to ' + got + ', not ' + want);
         }}
         console.log('ok');",
        serde_json::Value::from(checks)
    );
    assert_eq!(tests::node(out.path(), &["-e", &script]).trim(), "ok");
}
