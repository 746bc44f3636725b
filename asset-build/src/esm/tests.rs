//! Unit tests of the registry bundle: the code it makes for small module trees.

use std::collections::BTreeSet;

use crate::config::Config;

/// The bundle of `main.mjs` in a tree of `files` (not minified), or its error.
fn bundled(files: &[(&str, &str)]) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(p, _)| (*p).to_owned())
        .filter(|p| !p.ends_with(".json"))
        .collect();
    let config = Config::new(dir.path(), dir.path().join("out"));
    super::bundle("bundle.mjs", "main.mjs", &modules, &config)
        .map(|b| b.code)
        .map_err(|p| {
            p.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
}

#[test]
fn a_typescript_enum_is_no_side_effect_before_a_bare_import() {
    let code = bundled(&[
        (
            "main.mjs",
            "import { Color } from \"./paint.ts\";\nimport \"lib\";\nconsole.log(Color);\n",
        ),
        ("paint.ts", "export enum Color { Red, Green = 5 }\n"),
    ])
    .unwrap();
    assert!(code.starts_with("import \"lib\";"), "{code}");
}

#[test]
fn a_bare_import_after_a_module_with_side_effects_is_refused_at_the_import() {
    let err = bundled(&[
        (
            "main.mjs",
            "import \"./log.mjs\";\nimport { x } from \"lib\";\nx();\n",
        ),
        ("log.mjs", "console.log(1);\n"),
    ])
    .unwrap_err();
    assert!(
        err.starts_with("main.mjs:2:19: `lib` would run before `log.mjs`"),
        "{err}"
    );
}

#[test]
fn licence_comments_of_every_module_survive() {
    let code = bundled(&[
        (
            "main.mjs",
            "/*! main licence */\nimport { x } from \"./dep.mjs\";\nconsole.log(x);\n",
        ),
        ("dep.mjs", "/*! dep licence */\nexport const x = 1;\n"),
    ])
    .unwrap();
    assert!(
        code.starts_with("/*! main licence */\n/*! dep licence */\n"),
        "{code}"
    );
    // And the minifier, which the bundle goes through next, keeps them.
    let config = Config::new(".", "out");
    let min = crate::js::transform("bundle.mjs", code.as_bytes(), Some(true), &config).unwrap();
    assert!(
        min.code
            .starts_with("/*! main licence *//*! dep licence */")
            || min
                .code
                .starts_with("/*! main licence */\n/*! dep licence */"),
        "{}",
        min.code
    );
}

#[test]
fn a_bundle_of_a_lone_module_is_that_module() {
    let code = bundled(&[("main.mjs", "export const a = 1;\n")]).unwrap();
    assert_eq!(code, "export { a as a };\nconst a = 1;\n");
}

#[test]
fn json_module_mistakes_name_file_line_and_column() {
    let json = "import d from \"./d.json\" with { type: \"json\" };\nconsole.log(d);\n";
    let err = bundled(&[("main.mjs", json), ("d.json", "{\n  \"a\": 1,\n}\n")]).unwrap_err();
    assert!(err.starts_with("d.json:3:1: not JSON: "), "{err}");
    let named = "import { a } from \"./d.json\" with { type: \"json\" };\nconsole.log(a);\n";
    let err = bundled(&[("main.mjs", named), ("d.json", "{\"a\": 1}")]).unwrap_err();
    assert!(
        err.starts_with("main.mjs:1:10: a JSON module has only a default export, not `a`"),
        "{err}"
    );
    let err = bundled(&[("main.mjs", json)]).unwrap_err();
    assert_eq!(
        err,
        "main.mjs:1:15: import `./d.json` names no file in the asset directory"
    );
}

#[test]
fn the_jsx_runtime_import_counts_in_the_evaluation_order() {
    let err = bundled(&[
        (
            "main.mjs",
            "import \"./log.mjs\";\nimport { v } from \"./v.jsx\";\nv();\n",
        ),
        ("log.mjs", "console.log(1);\n"),
        ("v.jsx", "export const v = () => <b />;\n"),
    ])
    .unwrap_err();
    assert!(
        err.starts_with("v.jsx:1:1: `react/jsx-runtime` (imported for this module's JSX) would run before `log.mjs`"),
        "{err}"
    );
}

#[test]
fn bare_imports_of_modules_move_to_the_top_each_binding_its_own() {
    let code = bundled(&[
        (
            "main.mjs",
            "import { a } from \"./a.mjs\";\nimport { b } from \"./b.mjs\";\nconsole.log(a, b);\n",
        ),
        (
            "a.mjs",
            "import { x as v } from \"lib\";\nexport const a = () => v();\n",
        ),
        (
            "b.mjs",
            "import v from \"pkg/d.json\" with { type: \"json\" };\nexport const b = () => v;\n",
        ),
    ])
    .unwrap();
    assert!(
        code.starts_with(concat!(
            "import \"lib\";\n",
            "import \"pkg/d.json\" with {\n    type: \"json\"\n};\n",
            "import { x as v } from \"lib\";\n",
            "import v1 from \"pkg/d.json\" with {\n    type: \"json\"\n};\n",
        )),
        "{code}"
    );
    assert!(
        code.contains("const a = ()=>v();") && code.contains("const b = ()=>v1;"),
        "{code}"
    );
}

#[test]
fn the_entry_has_its_own_import_meta_when_the_bundle_is_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("js")).unwrap();
    let text = "console.log(new URL(\"./x.png\", import.meta.url).href);\n";
    std::fs::write(dir.path().join("js/app.ts"), text).unwrap();
    let modules = BTreeSet::from(["js/app.ts".to_owned()]);
    let config = Config::new(dir.path(), dir.path().join("out"));
    let elsewhere = super::bundle("dist/app.js", "js/app.ts", &modules, &config).unwrap();
    assert!(
        elsewhere.code.contains("__m(\"../js/app.js\")"),
        "{}",
        elsewhere.code
    );
    let beside = super::bundle("js/app.bundle.js", "js/app.ts", &modules, &config).unwrap();
    assert_eq!(beside.code, text);
}
