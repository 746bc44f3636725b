//! Built output means what its source means: cases a review found where a build succeeded
//! (or failed) and the shipped file did not do what its source does. Invalid CSS dropped as
//! browsers drop it; a transform cache keyed by everything that decides an output.

use std::path::Path;

use asset_build::{Config, InvalidCss, Output};
use tests::write_file;

fn build(config: Config) -> Output {
    asset_build::run(&config).unwrap_or_else(|e| panic!("{e}"))
}

fn shipped(out: &Path, o: &Output, logical: &str) -> String {
    let entry = o.manifest.assets.get(logical).unwrap_or_else(|| {
        panic!(
            "{logical} not in {:?}",
            o.manifest.assets.keys().collect::<Vec<_>>()
        )
    });
    std::fs::read_to_string(out.join(&entry.path)).unwrap()
}

/// Foundation 6.9's IE hack (a media query no browser matches, kept as one) and Semantic UI
/// 2.5's selector after a pseudo-element, which browsers (and esbuild) drop: so does the
/// build, with a warning at its line.
const REAL_WORLD_HACKS: &str = "\
.grid { display: flex; }
@media screen and (min-width:0\\0) { .grid { display: block; } }
[data-tooltip]:after .header { color: blue; }
.cell { flex: 1; }
";

#[test]
fn css_rules_browsers_drop_are_dropped_with_a_warning_and_the_rest_ships() {
    let site = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_file(site.path(), "css/vendor.css", REAL_WORLD_HACKS);
    write_file(
        site.path(),
        "css/theme.scss",
        &format!("$x: 1;\n{REAL_WORLD_HACKS}"),
    );
    let o = build(Config::new(site.path(), out.path()));
    for logical in ["css/vendor.css", "css/theme.scss"] {
        let css = shipped(out.path(), &o, logical);
        assert!(css.contains(".grid{display:flex}"), "{logical}: {css}");
        assert!(css.contains(".cell{flex:1}"), "{logical}: {css}");
        assert!(!css.contains("header"), "{logical}: {css}");
    }
    let warnings: Vec<String> = o
        .warnings
        .iter()
        .map(|w| {
            w.to_string()
                .replace(&format!("{}/", site.path().display()), "")
        })
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("css/vendor.css:3:")
                && w.contains("dropped, as browsers drop it")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("css/theme.scss: line ") && w.contains("compiled CSS")),
        "{warnings:?}"
    );
    // A cached rebuild says it again.
    let again = build(Config::new(site.path(), out.path()));
    assert_eq!(again.warnings.len(), o.warnings.len());

    // The setting that makes them errors.
    let e = asset_build::run(&Config::new(site.path(), out.path()).invalid_css(InvalidCss::Error))
        .unwrap_err()
        .to_string();
    assert!(e.contains("css/vendor.css:"), "{e}");
    assert!(e.contains("invalid-css = \"error\""), "{e}");
}

#[test]
fn two_trees_sharing_a_cache_get_their_own_outputs() {
    let cache = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    for color in ["red", "green"] {
        let site = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        // The same entry bytes, a different partial and a different imported module.
        write_file(
            site.path(),
            "css/app.scss",
            "@use \"vars\";\na { color: vars.$c; }\n",
        );
        write_file(site.path(), "css/_vars.scss", &format!("$c: {color};\n"));
        write_file(
            site.path(),
            "js/main.mjs",
            "import { c } from \"./c.mjs\";\nconsole.log(c);\n",
        );
        write_file(
            site.path(),
            "js/c.mjs",
            &format!("export const c = \"{color}\";\n"),
        );
        let o = build(
            Config::new(site.path(), out.path())
                .cache_dir(cache.path())
                .bundle("js/main.bundle.mjs", ["js/main.mjs"]),
        );
        built.push((
            shipped(out.path(), &o, "css/app.scss"),
            shipped(out.path(), &o, "js/main.bundle.mjs"),
        ));
    }
    assert!(
        built[0].0.contains("red") && built[1].0.contains("green"),
        "{built:?}"
    );
    assert!(
        built[0].1.contains("red") && built[1].1.contains("green"),
        "{built:?}"
    );
}

#[test]
fn a_file_that_would_now_be_found_first_rebuilds_what_looked_for_it() {
    let cache = tempfile::tempdir().unwrap();
    let site = tempfile::tempdir().unwrap();
    let vendor = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_file(vendor.path(), "_variables.scss", "$c: red;\n");
    write_file(
        site.path(),
        "css/app.scss",
        "@use \"variables\" as v;\na { color: v.$c; }\n",
    );
    write_file(
        site.path(),
        "js/main.mjs",
        "import { c } from \"./x.js\";\nconsole.log(c);\n",
    );
    write_file(
        site.path(),
        "js/x.ts",
        "export const c: string = \"from-ts\";\n",
    );
    let config = || {
        Config::new(site.path(), out.path())
            .cache_dir(cache.path())
            .load_paths([vendor.path()])
            .bundle("js/main.bundle.mjs", ["js/main.mjs"])
    };
    let o = build(config());
    assert!(shipped(out.path(), &o, "css/app.scss").contains("red"));
    assert!(shipped(out.path(), &o, "js/main.bundle.mjs").contains("from-ts"));
    // The usual way to override a library's variables: a partial beside the entry, which
    // Sass finds before the load path's.
    write_file(site.path(), "css/_variables.scss", "$c: green;\n");
    // `./x.js` now names a file of its own, which wins over `x.ts`.
    write_file(site.path(), "js/x.js", "export const c = \"from-js\";\n");
    let o = build(config());
    assert!(
        shipped(out.path(), &o, "css/app.scss").contains("green"),
        "the shadowing partial"
    );
    assert!(
        shipped(out.path(), &o, "js/main.bundle.mjs").contains("from-js"),
        "the script found first"
    );
}

#[test]
fn typescript_s_commonjs_forms_are_refused_in_files_and_bundles() {
    let site = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_file(
        site.path(),
        "js/main.ts",
        "import { y } from \"./y\";\nconsole.log(y);\n",
    );
    write_file(site.path(), "js/y.ts", "const y = 1;\nexport = y;\n");
    for config in [
        Config::new(site.path(), out.path()),
        Config::new(site.path(), out.path()).bundle("js/main.bundle.js", ["js/main.ts"]),
    ] {
        let e = asset_build::run(&config).unwrap_err().to_string();
        assert!(e.contains("js/y.ts:2:1: `export = …` is CommonJS"), "{e}");
    }
}

#[test]
fn a_strict_part_whose_global_is_a_var_in_a_block_is_not_wrapped_away() {
    let site = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_file(
        site.path(),
        "js/strict.js",
        "\"use strict\";\nif (typeof window === \"undefined\") { var shared = 1; }\n",
    );
    write_file(site.path(), "js/sloppy.js", "console.log(shared);\n");
    let config =
        Config::new(site.path(), out.path()).bundle("js/all.js", ["js/strict.js", "js/sloppy.js"]);
    let e = asset_build::run(&config).unwrap_err().to_string();
    assert!(
        e.contains("`js/strict.js` is in strict mode and declares globals"),
        "{e}"
    );
}

#[test]
fn joined_scripts_warn_where_a_part_would_see_a_later_part_s_hoisted_names() {
    let site = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_file(
        site.path(),
        "js/a.js",
        "if (typeof later === \"function\") later(\"too early\");\nfunction ready() { later(\"fine: runs after both\"); }\n",
    );
    write_file(
        site.path(),
        "js/b.js",
        "function later(m) { console.log(m); }\nready();\n",
    );
    let o = build(Config::new(site.path(), out.path()).bundle("js/all.js", ["js/a.js", "js/b.js"]));
    let warnings: Vec<String> = o
        .warnings
        .iter()
        .map(|w| {
            w.to_string()
                .replace(&format!("{}/", site.path().display()), "")
        })
        .collect();
    assert_eq!(
        warnings,
        [
            "js/a.js: reads `later` while it loads, and the later part `js/b.js` declares it: joined into one script, `later` is hoisted (undefined, or the function) where separate scripts would not find it yet"
        ]
    );
    // The other order: now `b.js` calls `ready` of the later `a.js` while it loads.
    let o = build(Config::new(site.path(), out.path()).bundle("js/all.js", ["js/b.js", "js/a.js"]));
    let w: Vec<String> = o.warnings.iter().map(ToString::to_string).collect();
    assert!(
        w.len() == 1 && w[0].contains("js/b.js: reads `ready`") && w[0].contains("part `js/a.js`"),
        "{w:?}"
    );
    // Parts that only call each other from functions that run later have nothing to say.
    write_file(
        site.path(),
        "js/b.js",
        "function later(m) { console.log(m); }
",
    );
    write_file(
        site.path(),
        "js/a.js",
        "function ready() { later(\"fine\"); }\n",
    );
    let o = build(Config::new(site.path(), out.path()).bundle("js/all.js", ["js/a.js", "js/b.js"]));
    assert!(o.warnings.is_empty(), "{:?}", o.warnings);
}

#[test]
fn a_css_bundle_refuses_to_move_a_later_part_s_remote_import_ahead_of_earlier_rules() {
    let site = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_file(site.path(), "css/base.css", "h1 { font-family: serif; }\n");
    write_file(
        site.path(),
        "css/fonts.css",
        "@import url(\"https://fonts.example.com/css?family=Inter\");\nh1 { font-weight: 700; }\n",
    );
    let inline = |parts: [&str; 2]| {
        Config::new(site.path(), out.path())
            .css_imports(asset_build::CssImports::Inline)
            .bundle("css/all.css", parts)
    };
    let e = asset_build::run(&inline(["css/base.css", "css/fonts.css"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("part `css/fonts.css` keeps `@import") && e.contains("reverse the cascade"),
        "{e}"
    );
    // First, it keeps its place: nothing comes before it.
    let o = build(inline(["css/fonts.css", "css/base.css"]));
    let css = shipped(out.path(), &o, "css/all.css");
    assert!(css.starts_with("@import"), "{css}");
    assert!(
        css.find("font-weight").unwrap() < css.find("serif").unwrap(),
        "{css}"
    );
}
