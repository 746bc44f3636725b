//! Compiled sources and bundles: Sass (partials, `@use` with namespaces, load paths, errors),
//! TypeScript and JSX (enums, type-only imports, parameter properties, the import forms
//! TypeScript allows, run in node after the build) and named bundles (classic scripts joined
//! safely, CSS parts from different folders), over `fixtures/sources`.

use std::path::Path;

use asset_build::{Config, Error, Jsx, Manifest};
use tests::{copy_tree, fixture, read_tree};

/// The settings the fixture is built with: the vendor load path, JSX with `h`, two bundles.
fn settings(source: &Path, out: &Path) -> Config {
    Config::new(source, out)
        .load_paths([fixture("sources-vendor/scss")])
        .jsx(Jsx::Classic {
            pragma: "h".into(),
            pragma_frag: "Fragment".into(),
        })
        .bundle(
            "js/site.js",
            [
                "js/vendor/greeting.js",
                "js/shout.js",
                "js/strict.js",
                "js/sloppy.js",
            ],
        )
        .bundle(
            "css/site.css",
            ["css/reset.css", "css/vendor/widgets.css", "css/app.scss"],
        )
        .bundle("js/main.bundle.js", ["js/main.ts"])
}

fn build(source: &Path, out: &Path, adjust: impl FnOnce(Config) -> Config) -> Manifest {
    asset_build::run(&adjust(settings(source, out)))
        .unwrap_or_else(|e| panic!("{e}"))
        .manifest
}

fn text(out: &Path, m: &Manifest, logical: &str) -> String {
    std::fs::read_to_string(out.join(&m.assets[logical].path)).unwrap()
}

/// Imports the built module `logical` in node (the output tree as an ES-module package) and
/// gives `expr` as JSON; `expr` sees the module as `m` and may `await`.
fn node_import(out: &Path, m: &Manifest, logical: &str, expr: &str) -> serde_json::Value {
    std::fs::write(out.join("package.json"), r#"{"type":"module"}"#).unwrap();
    let entry = format!("./{}", m.assets[logical].path);
    let script = format!("import * as m from {entry:?}; console.log(JSON.stringify({expr}));");
    let printed = tests::node(out, &["--input-type=module", "-e", &script]);
    serde_json::from_str(printed.trim()).unwrap()
}

/// The problems a run that must fail reports, with `root/` taken out of the paths.
fn failures(config: &Config, root: &Path, what: &str) -> Vec<String> {
    match asset_build::run(config) {
        Err(Error::Assets(p)) => p
            .iter()
            .map(|p| p.to_string().replace(&format!("{}/", root.display()), ""))
            .collect(),
        Ok(_) => panic!("{what} built"),
        Err(e) => panic!("{what}: not an asset error: {e}"),
    }
}

/// The file name an asset ships under.
fn shipped_name(m: &Manifest, logical: &str) -> String {
    let path = &m.assets[logical].path;
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

#[test]
fn compiled_sources_and_bundles_snapshot() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c);
    insta::assert_snapshot!("sources_manifest", String::from_utf8(m.to_json()).unwrap());
    for (logical, e) in &m.assets {
        if [".css", ".js", ".mjs"].iter().any(|x| e.path.ends_with(x)) {
            let name = format!("sources_out__{}", logical.replace('/', "__"));
            insta::assert_snapshot!(name, text(out.path(), &m, logical));
        }
    }
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn sass_entries_ship_as_css_under_their_source_name_and_partials_do_not_ship() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c);
    let app = &m.assets["css/app.scss"];
    assert!(
        app.path.starts_with("css/app.") && app.path.ends_with(".css"),
        "{}",
        app.path
    );
    assert_eq!(app.content_type, "text/css; charset=utf-8");
    assert!(
        m.assets.keys().all(|k| !k.contains("/_")),
        "partials shipped"
    );
    let css = text(out.path(), &m, "css/app.scss");
    // `@use` with a namespace, a mixin, math.div, a load-path partial, darken().
    for want in [
        "color:#1b2a3a",
        "border-radius:4px",
        "padding:6px",
        ".row{",
        ".card:hover{color:#131d29}",
    ] {
        assert!(css.contains(want), "{want} in {css}");
    }
    let dot = &m.assets["img/dot.svg"].path;
    assert!(css.contains(&format!("url(../{dot})")), "{css}");
    let legacy = text(out.path(), &m, "css/legacy.sass");
    assert!(
        legacy.contains(".notice{border:2px solid red}") && legacy.contains(".notice a{"),
        "{legacy}"
    );
}

#[test]
fn a_sass_error_names_the_partial_with_line_and_column() {
    let site = tempfile::tempdir().unwrap();
    copy_tree(&fixture("sources/css"), &site.path().join("css"));
    copy_tree(&fixture("sources/img"), &site.path().join("img"));
    std::fs::write(
        site.path().join("css/_theme.scss"),
        "$ink: #000;\n$gap: $nowhere * 2;\n",
    )
    .unwrap();
    std::fs::write(site.path().join("css/broken.scss"), "a { color: red\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let config = Config::new(site.path(), out.path()).load_paths([fixture("sources-vendor/scss")]);
    let shown = failures(&config, site.path(), "the broken partial");
    assert!(
        shown.contains(&"css/_theme.scss:2:7: undefined variable".to_owned()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"css/broken.scss:1:15: expected \"}\"".to_owned()),
        "every broken entry is reported: {shown:?}"
    );
    assert!(
        read_tree(out.path()).is_empty(),
        "nothing written on failure"
    );
}

#[test]
fn changing_a_partial_rebuilds_the_entries_that_use_it() {
    let site = tempfile::tempdir().unwrap();
    copy_tree(&fixture("sources"), site.path());
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = || {
        asset_build::run(&settings(site.path(), out.path()).cache_dir(cache.path()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let first = run();
    let again = run();
    assert_eq!(again.stats.transformed, 0, "{:?}", again.stats);
    assert_eq!(first.manifest.id, again.manifest.id);
    let theme = site.path().join("css/_theme.scss");
    let edited = std::fs::read_to_string(&theme)
        .unwrap()
        .replace("#1b2a3a", "#0000aa");
    std::fs::write(&theme, edited).unwrap();
    let after = run();
    assert_eq!(
        after.stats.transformed, 1,
        "only app.scss uses the partial: {:?}",
        after.stats
    );
    let css = text(out.path(), &after.manifest, "css/app.scss");
    assert!(css.contains("color:#00a"), "{css}");
    let site_css = text(out.path(), &after.manifest, "css/site.css");
    assert!(
        site_css.contains("color:#00a"),
        "the bundle follows: {site_css}"
    );
    assert_ne!(
        first.manifest.assets["css/app.scss"].path,
        after.manifest.assets["css/app.scss"].path
    );
}

#[test]
fn typescript_and_jsx_run_in_node_after_the_build() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c);
    for (logical, ext) in [
        ("js/main.ts", ".js"),
        ("js/view.tsx", ".js"),
        ("js/button.jsx", ".js"),
    ] {
        assert!(m.assets[logical].path.ends_with(ext), "{logical}");
        assert_eq!(
            m.assets[logical].content_type,
            "text/javascript; charset=utf-8"
        );
    }
    assert!(
        !m.assets.contains_key("js/types.ts.map"),
        "no maps unless asked for"
    );
    assert!(
        !m.assets.contains_key("js/globals.d.ts"),
        "declaration files are not shipped"
    );
    let main = text(out.path(), &m, "js/main.ts");
    assert!(!main.contains("types"), "type-only import left: {main}");
    for dep in [
        "js/geometry.ts",
        "js/paint.ts",
        "js/view.tsx",
        "js/button.jsx",
    ] {
        let name = shipped_name(&m, dep);
        assert!(
            main.contains(&format!("./{name}")),
            "{dep} as {name}: {main}"
        );
    }
    let report = node_import(out.path(), &m, "js/main.ts", "m.report");
    assert_eq!(report["area"], 24, "parameter properties: {report}");
    assert_eq!(report["kind"], "box");
    assert_eq!(report["color"], "Blue=6", "the enum: {report}");
    assert_eq!(
        report["badge"],
        serde_json::json!({"tag": "fragment", "props": null, "children": [
            {"tag": "span", "props": {"class": "badge"}, "children": ["crate"]},
            {"tag": "b", "props": null, "children": [2]}
        ]}),
        "JSX with the classic pragma: {report}"
    );
    assert_eq!(report["button"]["tag"], "button");
}

#[test]
fn a_bundle_of_one_module_holds_its_static_imports_and_leaves_dynamic_ones_separate() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c);
    let bundle = text(out.path(), &m, "js/main.bundle.js");
    assert!(
        !bundle.contains("import{"),
        "static imports inlined: {bundle}"
    );
    let lazy = shipped_name(&m, "js/lazy.ts");
    assert!(
        bundle.contains(&format!("import(\"./{lazy}\")")),
        "{bundle}"
    );
    let got = node_import(
        out.path(),
        &m,
        "js/main.bundle.js",
        "[m.report, (await m.load()).later]",
    );
    assert_eq!(got[0]["area"], 24, "{got}");
    assert_eq!(got[0]["color"], "Blue=6", "{got}");
    assert_eq!(got[0]["badge"]["children"][0]["tag"], "span", "{got}");
    assert_eq!(got[1], "loaded later");
}

#[test]
fn a_module_bundle_keeps_bare_imports_and_follows_edits_of_any_module() {
    let site = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| tests::write_file(site.path(), p, text);
    w(
        "js/app.mjs",
        "import { render } from \"preact\";\nimport { y } from \"./lib/y.mjs\";\nrender(y);\n",
    );
    w("js/lib/y.mjs", "export const y = \"why\";\n");
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = || {
        let c = Config::new(site.path(), out.path())
            .cache_dir(cache.path())
            .bundle("js/app.bundle.mjs", ["js/app.mjs"]);
        asset_build::run(&c)
            .unwrap_or_else(|e| panic!("{e}"))
            .manifest
    };
    let m = run();
    let bundle = text(out.path(), &m, "js/app.bundle.mjs");
    assert!(bundle.contains("from\"preact\""), "{bundle}");
    assert!(
        bundle.contains("\"why\"") && !bundle.contains("./lib/"),
        "{bundle}"
    );
    w("js/lib/y.mjs", "export const y = \"because\";\n");
    let m = run();
    let bundle = text(out.path(), &m, "js/app.bundle.mjs");
    assert!(
        bundle.contains("\"because\""),
        "an imported module's edit reaches the bundle: {bundle}"
    );
    w("js/app.mjs", "import { z } from \"./nope.mjs\";\nz();\n");
    let c = Config::new(site.path(), out.path()).bundle("js/app.bundle.mjs", ["js/app.mjs"]);
    let shown = failures(&c, site.path(), "a missing import");
    assert!(
        shown.iter().any(|p| p.ends_with(
            "js/app.mjs:1:19: import `./nope.mjs` names no script in the asset directory"
        )),
        "{shown:?}"
    );
}

#[test]
fn the_automatic_jsx_runtime_imports_from_its_source() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| {
        c.jsx(Jsx::Automatic {
            import_source: "preact".into(),
        })
    });
    let view = text(out.path(), &m, "js/view.tsx");
    assert!(view.contains("\"preact/jsx-runtime\""), "{view}");
    assert!(!view.contains("h("), "{view}");
}

#[test]
fn typescript_source_maps_lead_back_to_the_typescript() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c.source_maps(true));
    let code = text(out.path(), &m, "js/paint.ts");
    let map: serde_json::Value =
        serde_json::from_str(&text(out.path(), &m, "js/paint.ts.map")).unwrap();
    assert_eq!(map["sources"][0], "paint.ts");
    let source = std::fs::read_to_string(fixture("sources/js/paint.ts")).unwrap();
    assert_eq!(map["sourcesContent"][0], source.as_str());
    let col = code.find("=${").expect("the template literal") as i64;
    let segments = tests::decode_mappings(map["mappings"].as_str().unwrap());
    let hit = segments
        .iter()
        .filter(|s| s.0 == 0 && s.1 <= col)
        .max_by_key(|s| s.1)
        .unwrap();
    let line = source.lines().position(|l| l.contains("return `")).unwrap();
    assert_eq!(hit.2, line as i64, "{code}\n{segments:?}");
}

#[test]
fn imports_name_typescript_files_the_ways_typescript_allows_and_ambiguity_is_an_error() {
    let site = tempfile::tempdir().unwrap();
    let w = |p: &str, text: &str| tests::write_file(site.path(), p, text);
    w("a.ts", "export const a = 1;\n");
    w("a.js", "export const a = 2;\n");
    w("b.ts", "export const b = 1;\n");
    w("lib/index.ts", "export const c = 1;\n");
    w(
        "main.ts",
        "import { a } from './a';\nimport { b } from './b.js';\nimport { c } from './lib';\nconsole.log(a, b, c);\n",
    );
    let out = tempfile::tempdir().unwrap();
    let shown = failures(
        &Config::new(site.path(), out.path()),
        site.path(),
        "an ambiguous import",
    );
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].ends_with(
            "main.ts:1:19: import `./a` could name `a.ts` or `a.js`: write the file's extension"
        ),
        "{shown:?}"
    );
    w(
        "main.ts",
        "import { a } from './a.js';\nimport { b } from './b.js';\nimport { c } from './lib';\nconsole.log(a, b, c);\n",
    );
    let m = asset_build::run(&Config::new(site.path(), out.path()))
        .unwrap_or_else(|e| panic!("{e}"))
        .manifest;
    let main = text(out.path(), &m, "main.ts");
    for dep in ["a.js", "b.ts", "lib/index.ts"] {
        assert!(
            main.contains(&format!("./{}", m.assets[dep].path)),
            "{dep}: {main}"
        );
    }
}

#[test]
fn a_bundle_of_classic_scripts_keeps_each_part_s_meaning() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c);
    let path = out.path().join(&m.assets["js/site.js"].path);
    let script = format!(
        "const vm = require('vm'); const window = {{}}; const ctx = vm.createContext({{ window }}); vm.runInContext(require('fs').readFileSync({:?}, 'utf8'), ctx); console.log(JSON.stringify(window));",
        path.display().to_string()
    );
    let printed = tests::node(out.path(), &["-e", &script]);
    let window: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(
        window,
        serde_json::json!({"result": "HELLO!", "strictHere": true, "sloppyHere": true}),
        "the first part lacks its semicolon; the strict part stays strict, the sloppy one sloppy"
    );
}

#[test]
fn a_css_bundle_points_every_url_at_the_right_file_from_its_own_place() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| {
        c.ship_bundle_parts(false)
    });
    let css = text(out.path(), &m, "css/site.css");
    let dot = &m.assets["img/dot.svg"].path;
    assert_eq!(
        css.matches(&format!("url(../{dot})")).count(),
        3,
        "reset.css, vendor/widgets.css and app.scss: {css}"
    );
    let reset = css.find("box-sizing").unwrap();
    let widget = css.find(".widget").unwrap();
    let app = css.find(".card").unwrap();
    assert!(reset < widget && widget < app, "parts in order: {css}");
    for part in [
        "css/reset.css",
        "css/vendor/widgets.css",
        "css/app.scss",
        "js/strict.js",
    ] {
        assert!(!m.assets.contains_key(part), "{part} shipped alone");
    }
    assert_eq!(
        asset_build::check_tree(out.path()).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_bundle_has_one_source_map_across_its_parts() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c.source_maps(true));
    let map: serde_json::Value =
        serde_json::from_str(&text(out.path(), &m, "js/site.js.map")).unwrap();
    assert_eq!(
        map["sources"],
        serde_json::json!(["vendor/greeting.js", "shout.js", "strict.js", "sloppy.js"])
    );
    let code = text(out.path(), &m, "js/site.js");
    let (line, text_line) = code
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("toUpperCase"))
        .unwrap();
    let col = text_line.find("toUpperCase").unwrap() as i64;
    let segments = tests::decode_mappings(map["mappings"].as_str().unwrap());
    let hit = segments
        .iter()
        .filter(|s| s.0 as usize == line && s.1 <= col)
        .max_by_key(|s| s.1)
        .unwrap();
    // (generated line, column, source line, source column): shout.js's line 2.
    assert_eq!(hit.2, 1, "{segments:?}");
    let css_map: serde_json::Value =
        serde_json::from_str(&text(out.path(), &m, "css/site.css.map")).unwrap();
    assert_eq!(
        css_map["sources"],
        serde_json::json!(["reset.css", "vendor/widgets.css", "app.scss"])
    );
}

#[test]
fn bundle_mistakes_are_errors_naming_the_bundle() {
    let out = tempfile::tempdir().unwrap();
    let source = fixture("sources");
    let run = |c: Config| match asset_build::run(&c) {
        Err(Error::Assets(p)) => p.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let shown =
        run(settings(&source, out.path()).bundle("js/all.js", ["js/shout.js", "js/nope.js"]));
    assert_eq!(
        shown,
        ["bundle `js/all.js`: part `js/nope.js` is not an asset"]
    );
    let shown =
        run(settings(&source, out.path()).bundle("js/mixed.js", ["js/shout.js", "css/reset.css"]));
    assert!(
        shown[0].starts_with("bundle `js/mixed.js`: part `css/reset.css` is not like the others"),
        "{shown:?}"
    );
    let shown =
        run(settings(&source, out.path()).bundle("js/mods.js", ["js/paint.ts", "js/shout.js"]));
    assert!(
        shown[0].starts_with("bundle `js/mods.js`: part `js/paint.ts` is an ES module"),
        "{shown:?}"
    );
    let shown = run(settings(&source, out.path()).bundle("../out.js", ["js/shout.js"]));
    assert!(shown[0].starts_with("bundle `../out.js`: "), "{shown:?}");
    assert!(read_tree(out.path()).is_empty());
}

#[test]
fn a_typescript_syntax_error_names_file_line_and_column() {
    let site = tempfile::tempdir().unwrap();
    tests::write_file(site.path(), "js/ok.ts", "export const ok: number = 1;\n");
    tests::write_file(
        site.path(),
        "js/bad.ts",
        "export function f(a: number): number {\n  return a +;\n}\n",
    );
    let out = tempfile::tempdir().unwrap();
    let shown = failures(
        &Config::new(site.path(), out.path()),
        site.path(),
        "a broken module",
    );
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(shown[0].starts_with("js/bad.ts:2:"), "{shown:?}");
}

#[test]
fn charset_rules_never_land_inside_a_bundle_and_a_part_may_be_in_two_bundles() {
    let site = tempfile::tempdir().unwrap();
    tests::write_file(
        site.path(),
        "a.css",
        "@charset \"utf-8\";\na { color: red }\n",
    );
    tests::write_file(
        site.path(),
        "b.css",
        "@charset \"utf-8\";\nb::after { content: \"é\" }\n",
    );
    let out = tempfile::tempdir().unwrap();
    let c = Config::new(site.path(), out.path())
        .bundle("one.css", ["a.css", "b.css"])
        .bundle("two.css", ["b.css"]);
    let m = asset_build::run(&c)
        .unwrap_or_else(|e| panic!("{e}"))
        .manifest;
    let one = text(out.path(), &m, "one.css");
    assert!(!one.contains("@charset"), "{one}");
    assert!(
        one.contains("a{color:red}") && one.contains("b:after"),
        "{one}"
    );
    assert!(text(out.path(), &m, "two.css").contains("b:after"));
}

#[test]
fn a_reference_to_a_part_that_ships_only_in_its_bundle_is_an_error() {
    let site = tempfile::tempdir().unwrap();
    tests::write_file(site.path(), "css/reset.css", "* { margin: 0 }\n");
    tests::write_file(
        site.path(),
        "css/print.css",
        "@import \"reset.css\";\np { color: #000 }\n",
    );
    let out = tempfile::tempdir().unwrap();
    let c = Config::new(site.path(), out.path())
        .bundle("css/site.css", ["css/reset.css"])
        .ship_bundle_parts(false);
    let shown = failures(&c, site.path(), "a dangling reference");
    assert_eq!(
        shown,
        [
            "css/print.css:1:9: @import `reset.css` names `css/reset.css`, which ships only inside its bundle (refer to the bundle, or set ship-bundle-parts = true)"
        ]
    );
}

#[test]
fn unminified_typescript_still_imports_the_hashed_files() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c.minify(false));
    let main = text(out.path(), &m, "js/main.ts");
    let paint = shipped_name(&m, "js/paint.ts");
    assert!(main.contains(&format!("\"./{paint}\"")), "{main}");
    assert!(
        main.contains("const box = Object.assign"),
        "readable, types gone: {main}"
    );
    assert_eq!(
        node_import(out.path(), &m, "js/main.ts", "m.report.color"),
        "Blue=6"
    );
}

#[test]
fn a_module_bundle_s_source_map_leads_back_to_each_module() {
    let out = tempfile::tempdir().unwrap();
    let m = build(&fixture("sources"), out.path(), |c| c.source_maps(true));
    let code = text(out.path(), &m, "js/main.bundle.js");
    let map: serde_json::Value =
        serde_json::from_str(&text(out.path(), &m, "js/main.bundle.js.map")).unwrap();
    let sources: Vec<&str> = map["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for module in ["paint.ts", "geometry.ts", "main.ts", "view.tsx"] {
        assert!(
            sources.iter().any(|s| s.ends_with(module)),
            "{module}: {sources:?}"
        );
    }
    // `area(){` is written in geometry.ts, line 8.
    let col = code.find("area(){").expect("the method") as i64;
    let segments = tests::decode_mappings(map["mappings"].as_str().unwrap());
    let hit = segments
        .iter()
        .filter(|s| s.0 == 0 && s.1 <= col)
        .max_by_key(|s| s.1)
        .unwrap();
    let source = std::fs::read_to_string(fixture("sources/js/geometry.ts")).unwrap();
    let line = source
        .lines()
        .position(|l| l.contains("area(): number"))
        .unwrap();
    assert_eq!((hit.2, hit.3), (line as i64, 2), "{segments:?}");
}
